/* __NAME__: a streamplug transform. This example drops records whose value
 * contains `drop_if`, adds a `tagged-by` header to the others, and passes
 * tombstones through. The API is in streamplug.h (plugins/sdk-c). */
#include <string.h>

#include "streamplug.h"

static const char *drop_if;
static const char *tag;

/* Called once per instance. An error stops the plugin with its message. */
int sp_transform_setup(const sp_config *config, sp_error *err) {
    static const char *const known[] = {"drop_if", "tag", NULL};
    if (sp_config_deny_unknown(config, known, err)) return -1; /* a typo is an error */
    drop_if = sp_config_get(config, "drop_if");
    tag = sp_config_str(config, "tag", "__NAME__");
    return 0;
}

static bool contains(sp_bytes hay, const char *needle) {
    size_t n = strlen(needle);
    if (n == 0) return true;
    for (size_t i = 0; i + n <= hay.len; i++) {
        if (memcmp(hay.ptr + i, needle, n) == 0) return true;
    }
    return false;
}

/* Reads `in` (records point into the host's batch) and writes to `out`. */
int sp_transform_process(sp_reader *in, sp_writer *out, sp_error *err) {
    sp_record r;
    int rc;
    while ((rc = sp_reader_next(in, &r, err)) == 1) {
        if (!r.value.present) {
            sp_writer_push(out, &r);
            continue;
        }
        if (drop_if && contains(r.value, drop_if)) continue;
        sp_writer_push(out, &r);
        sp_writer_header(out, sp_str("tagged-by"), sp_str(tag));
    }
    return rc;
}
