/* Test plugin: a source counting from 0 to `count` (config), `per_poll`
 * records per poll, then one poll idle for `idle_ms` (records and idle do not
 * go together: a poll that wrote records is answered at once). Its checkpoint is the next number
 * (8 bytes, little-endian); after a restart it continues from the one it is
 * given. Every record: key none, value the number in decimal, headers `seq`
 * (the number), `resumed-from` (the checkpoint this instance started from,
 * or `none`) and `committed` (the newest committed checkpoint it was told of
 * by delivery feedback, or `none`). */
#include <stdio.h>
#include <string.h>

#include "streamplug.h"

static uint64_t count, per_poll, idle_ms;
static uint64_t next;
static bool resting;
static char resumed_from[24];
static char committed[24];
static uint8_t checkpoint[8];

static uint64_t decode(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

int sp_source_setup(const sp_config *config, sp_bytes resume, sp_error *err) {
    static const char *const known[] = {"count", "per_poll", "idle_ms", NULL};
    if (sp_config_deny_unknown(config, known, err) ||
        sp_config_u64(config, "count", 1000, &count, err) ||
        sp_config_u64(config, "per_poll", 100, &per_poll, err) ||
        sp_config_u64(config, "idle_ms", 0, &idle_ms, err))
        return -1;
    next = 0;
    resting = false;
    strcpy(resumed_from, "none");
    strcpy(committed, "none");
    if (resume.present) {
        if (resume.len != 8)
            return sp_fail(err, "cannot resume from a %zu-byte checkpoint (expected 8)", resume.len);
        next = decode(resume.ptr);
        snprintf(resumed_from, sizeof resumed_from, "%llu", (unsigned long long)next);
        sp_log(SP_INFO, "counter: resuming at %llu", (unsigned long long)next);
    }
    return 0;
}

int sp_source_poll(sp_poll *poll, sp_error *err) {
    (void)err;
    if (resting && next < count) {
        resting = false;
        poll->status = SP_IDLE;
        poll->idle_ms = (uint32_t)idle_ms;
        return 0;
    }
    resting = true;
    for (uint64_t i = 0; i < per_poll && next < count && !sp_writer_full(poll->out); i++, next++) {
        char digits[24];
        int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)next);
        sp_record_out r = {.value = sp_bytes_of(digits, (size_t)n)};
        sp_writer_record(poll->out, &r);
        sp_writer_header(poll->out, sp_str("seq"), sp_bytes_of(digits, (size_t)n));
        sp_writer_header(poll->out, sp_str("resumed-from"), sp_str(resumed_from));
        sp_writer_header(poll->out, sp_str("committed"), sp_str(committed));
        if (next > 0 && next % 500 == 0) sp_log(SP_INFO, "counter: at %llu", (unsigned long long)next);
    }
    for (int i = 0; i < 8; i++) checkpoint[i] = (uint8_t)(next >> (8 * i));
    poll->checkpoint = checkpoint;
    poll->checkpoint_len = sizeof checkpoint;
    if (next >= count) poll->status = SP_FINISHED;
    return 0;
}

void sp_source_delivered(const sp_delivery *report) {
    if (report->committed.present && report->committed.len == 8) {
        snprintf(committed, sizeof committed, "%llu",
                 (unsigned long long)decode(report->committed.ptr));
    }
}
