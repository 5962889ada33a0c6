/* Test plugin: a pass-through transform that calls abort() on the `n`th
 * `process` call of each instance (config `n`, default 3). The host restarts
 * it and gives the new instance the same batch, which it passes (its count
 * starts again at 1), so every record still arrives, exactly once. */
#include <stdlib.h>

#include "streamplug.h"

static uint64_t n;
static uint64_t calls;

int sp_transform_setup(const sp_config *config, sp_error *err) {
    static const char *const known[] = {"n", NULL};
    calls = 0;
    if (sp_config_deny_unknown(config, known, err)) return -1;
    return sp_config_u64(config, "n", 3, &n, err);
}

int sp_transform_process(sp_reader *in, sp_writer *out, sp_error *err) {
    if (++calls == n) {
        sp_log(SP_WARN, "abort-on-call: call %llu, aborting as configured", (unsigned long long)calls);
        abort();
    }
    sp_record r;
    int rc;
    while ((rc = sp_reader_next(in, &r, err)) == 1) sp_writer_push(out, &r);
    return rc;
}
