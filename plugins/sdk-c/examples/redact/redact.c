/* redact: masks long digit runs (card and account numbers) in record values.
 *
 * Every run of at least `min_digits` ASCII digits in a value is replaced by
 * `mask` characters of the same length, so values keep their size and shape
 * (JSON stays JSON). A record with something masked gets a header
 * (`header`, default `redacted`) holding the number of runs masked; with
 * `route_topic` it also goes to that topic (which the host must allow). Keys,
 * timestamps and other headers pass unchanged; null values pass as they are. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "streamplug.h"

static uint64_t min_digits;
static char mask;
static const char *header;
static const char *route_topic;
/* The masked value, reused across records and batches. */
static uint8_t *scratch;
static size_t scratch_cap;

int sp_transform_setup(const sp_config *config, sp_error *err) {
    static const char *const known[] = {"min_digits", "mask", "header", "route_topic", NULL};
    if (sp_config_deny_unknown(config, known, err)) return -1;
    if (sp_config_u64(config, "min_digits", 12, &min_digits, err)) return -1;
    if (min_digits == 0) return sp_fail(err, "config `min_digits`: must be at least 1 (got \"0\")");
    const char *m = sp_config_str(config, "mask", "*");
    if (strlen(m) != 1) return sp_fail(err, "config `mask`: one ASCII character (got \"%s\")", m);
    mask = m[0];
    header = sp_config_str(config, "header", "redacted");
    route_topic = sp_config_get(config, "route_topic");
    sp_log(SP_INFO, "masking runs of %llu or more digits with '%c'", (unsigned long long)min_digits,
           mask);
    return 0;
}

/* Masks `value` into `scratch`; returns the number of runs masked. */
static unsigned mask_runs(sp_bytes value) {
    if (value.len > scratch_cap) {
        free(scratch);
        scratch_cap = value.len * 2;
        scratch = malloc(scratch_cap);
        if (!scratch) abort();
    }
    memcpy(scratch, value.ptr, value.len);
    unsigned runs = 0;
    size_t i = 0;
    while (i < value.len) {
        if (value.ptr[i] < '0' || value.ptr[i] > '9') {
            i++;
            continue;
        }
        size_t start = i;
        while (i < value.len && value.ptr[i] >= '0' && value.ptr[i] <= '9') i++;
        if (i - start >= min_digits) {
            memset(scratch + start, mask, i - start);
            runs++;
        }
    }
    return runs;
}

int sp_transform_process(sp_reader *in, sp_writer *out, sp_error *err) {
    sp_record r;
    int rc;
    while ((rc = sp_reader_next(in, &r, err)) == 1) {
        unsigned runs = r.value.present ? mask_runs(r.value) : 0;
        if (runs == 0) {
            sp_writer_push(out, &r); /* unchanged: one copy of its bytes */
            continue;
        }
        sp_record_out o = {
            .key = r.key,
            .value = sp_bytes_of(scratch, r.value.len),
            .has_timestamp = r.has_timestamp,
            .timestamp = r.timestamp,
            .has_partition = r.has_partition,
            .partition = r.partition,
            .topic = route_topic ? sp_str(route_topic) : r.topic,
        };
        sp_writer_record(out, &o);
        sp_header h;
        for (sp_header_iter it = sp_headers(&r); sp_header_next(&it, &h);) {
            sp_writer_header(out, h.name, h.value);
        }
        char count[16];
        int n = snprintf(count, sizeof count, "%u", runs);
        sp_writer_header(out, sp_str(header), sp_bytes_of(count, (size_t)n));
    }
    return rc;
}
