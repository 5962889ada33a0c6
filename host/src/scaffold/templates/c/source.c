/* __NAME__: a streamplug source. This example makes `count` JSON events and
 * then finishes; replace sp_source_poll with reading from where your records
 * come from. The API is in streamplug.h (plugins/sdk-c). */
#include <stdio.h>
#include <string.h>

#include "streamplug.h"

static uint64_t next_seq, count;
static const char *kind;
static uint8_t checkpoint[8];

/* Called once per instance. `resume` is the checkpoint to continue after
 * (absent on a fresh start). An error stops the plugin with its message. */
int sp_source_setup(const sp_config *config, sp_bytes resume, sp_error *err) {
    static const char *const known[] = {"count", "kind", NULL};
    if (sp_config_deny_unknown(config, known, err)) return -1; /* a typo is an error */
    if (sp_config_u64(config, "count", 10, &count, err)) return -1;
    kind = sp_config_str(config, "kind", "event");
    next_seq = 0;
    if (resume.present) {
        if (resume.len != 8) return sp_fail(err, "a checkpoint of %zu bytes (expected 8)", resume.len);
        for (int i = 7; i >= 0; i--) next_seq = next_seq << 8 | resume.ptr[i];
    }
    return 0;
}

/* Writes records until sp_writer_full (the host's budget). A source with
 * nothing now sets SP_IDLE and idle_ms instead of sleeping. */
int sp_source_poll(sp_poll *poll, sp_error *err) {
    (void)err;
    while (next_seq < count && !sp_writer_full(poll->out)) {
        char seq[24], key[32], value[160];
        int s = snprintf(seq, sizeof seq, "%llu", (unsigned long long)next_seq);
        int k = snprintf(key, sizeof key, "key-%llu", (unsigned long long)(next_seq % 4));
        int v = snprintf(value, sizeof value, "{\"seq\":%s,\"kind\":\"%s\"}", seq, kind);
        sp_record_out r = {.key = sp_bytes_of(key, (size_t)k),
                           .value = sp_bytes_of(value, (size_t)(v < (int)sizeof value ? v : (int)sizeof value - 1))};
        sp_writer_record(poll->out, &r);
        sp_writer_header(poll->out, sp_str("seq"), sp_bytes_of(seq, (size_t)s));
        next_seq++;
    }
    /* Where the source has got to: handed to the instance that takes over. */
    for (int i = 0; i < 8; i++) checkpoint[i] = (uint8_t)(next_seq >> (8 * i));
    poll->checkpoint = checkpoint;
    poll->checkpoint_len = sizeof checkpoint;
    if (next_seq >= count) poll->status = SP_FINISHED;
    return 0;
}
