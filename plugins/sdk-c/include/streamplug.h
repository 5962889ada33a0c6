/*
 * streamplug C SDK: write streamplug plugins in C.
 *
 * A plugin implements the functions of one world (see the end of this file)
 * and is built with `plugins/sdk-c/build.sh WORLD OUT.wasm FILES...`.
 * Records are read straight from the batch the host passed in (no copies:
 * an sp_record points into it) and written through an sp_writer, which
 * encodes `wit/ENCODING.md`.
 *
 * Errors: a function that can fail returns 0 on success and -1 on failure,
 * with the cause in an sp_error. An error from setup stops the plugin for
 * good; an error from process/poll/partition is logged by the host, which
 * carries on as its policy says. A trap (abort(), a failed allocation, an
 * out-of-bounds access) ends the instance: the host restarts the plugin.
 */
#ifndef STREAMPLUG_H
#define STREAMPLUG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors ---- */

typedef struct sp_error {
    char message[512];
} sp_error;

/* Formats the error's message (printf-style) and returns -1. */
int sp_fail(sp_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- bytes ---- */

/* Borrowed bytes; `present` is false for a null key/value/topic. */
typedef struct sp_bytes {
    const uint8_t *ptr;
    size_t len;
    bool present;
} sp_bytes;

sp_bytes sp_bytes_of(const void *ptr, size_t len);
sp_bytes sp_str(const char *s); /* a NUL-terminated string, without the NUL */
bool sp_bytes_eq(sp_bytes a, const char *s);

/* ---- reading a batch ---- */

/* One record, pointing into the batch it was read from. */
typedef struct sp_record {
    sp_bytes key;   /* present: the record has a key (possibly empty) */
    sp_bytes value; /* absent: a tombstone */
    bool has_timestamp;
    int64_t timestamp; /* ms since the Unix epoch */
    bool has_partition;
    int32_t partition;
    sp_bytes topic; /* absent: the plugin's configured topic */
    uint16_t header_count;
    sp_bytes headers; /* the encoded headers (for sp_header_next) */
    sp_bytes encoded; /* the whole encoded record (for sp_writer_push) */
} sp_record;

typedef struct sp_header {
    sp_bytes name; /* UTF-8 */
    sp_bytes value;
} sp_header;

/* Iterates a record's headers: `for (sp_header_iter it = sp_headers(&r); sp_header_next(&it, &h);)` */
typedef struct sp_header_iter {
    const uint8_t *pos;
    const uint8_t *end;
    uint16_t left;
} sp_header_iter;

sp_header_iter sp_headers(const sp_record *record);
bool sp_header_next(sp_header_iter *it, sp_header *out);
/* The value of the first header named `name`, absent if none. */
sp_bytes sp_header_get(const sp_record *record, const char *name);

typedef struct sp_reader {
    const uint8_t *bytes;
    size_t len;
    size_t pos;
    uint32_t count; /* records the batch announces */
    uint32_t read;
    bool failed;
} sp_reader;

/* Checks the batch header. The batch must outlive the reader and its records. */
int sp_reader_init(sp_reader *r, const uint8_t *bytes, size_t len, sp_error *err);
/* 1: `out` holds the next record; 0: the batch is done; -1: invalid (err says where and why). */
int sp_reader_next(sp_reader *r, sp_record *out, sp_error *err);

/* ---- writing a batch ---- */

typedef struct sp_writer {
    uint8_t *buf;
    size_t len;
    size_t cap;
    uint32_t count;
    size_t last_start;    /* where the last record starts */
    size_t header_count_at; /* where the last record's header count is */
    uint32_t max_records; /* a source's budget (UINT32_MAX if none) */
    uint64_t max_bytes;   /* a source's budget (UINT64_MAX if none) */
} sp_writer;

void sp_writer_init(sp_writer *w, size_t capacity);
void sp_writer_free(sp_writer *w);
/* A record to write: set what the record has; the rest stays zero/absent. */
typedef struct sp_record_out {
    sp_bytes key;
    sp_bytes value;
    bool has_timestamp;
    int64_t timestamp;
    bool has_partition;
    int32_t partition;
    sp_bytes topic;
} sp_record_out;
/* Appends a record without headers; add them with sp_writer_header. */
void sp_writer_record(sp_writer *w, const sp_record_out *record);
/* Appends a header to the last record written or pushed. */
void sp_writer_header(sp_writer *w, sp_bytes name, sp_bytes value);
/* Appends a record read from another batch, headers and all (one copy). */
void sp_writer_push(sp_writer *w, const sp_record *record);
/* True once the batch has its budget's records or reached its byte budget: add no more. */
bool sp_writer_full(const sp_writer *w);
/* Stores the record count into the batch; the bytes are w->buf[0..w->len]. */
void sp_writer_seal(sp_writer *w);

/* ---- config ---- */

/* The plugin's `config` table, as NUL-terminated strings. */
typedef struct sp_config {
    size_t len;
    const char *const *keys;
    const char *const *values;
} sp_config;

/* The value of `key`, or NULL. */
const char *sp_config_get(const sp_config *c, const char *key);
/* The value of `key`, or `fallback` if it is not set. */
const char *sp_config_str(const sp_config *c, const char *key, const char *fallback);
/* Typed values: `fallback` if not set; -1 with "config `key`: ... (got "...")" if unparsable. */
int sp_config_i64(const sp_config *c, const char *key, int64_t fallback, int64_t *out, sp_error *err);
int sp_config_u64(const sp_config *c, const char *key, uint64_t fallback, uint64_t *out, sp_error *err);
int sp_config_f64(const sp_config *c, const char *key, double fallback, double *out, sp_error *err);
int sp_config_bool(const sp_config *c, const char *key, bool fallback, bool *out, sp_error *err);
/* -1 "config `key` is required" if not set. */
int sp_config_require(const sp_config *c, const char *key, const char **out, sp_error *err);
/* -1 on the first key not in `known` (a NULL-terminated list): catches typos. */
int sp_config_deny_unknown(const sp_config *c, const char *const *known, sp_error *err);

/* ---- logging through the host ---- */

typedef enum sp_level { SP_TRACE, SP_DEBUG, SP_INFO, SP_WARN, SP_ERROR } sp_level;
void sp_log(sp_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- the worlds: a plugin defines the functions of exactly one ---- */

/* transform */
int sp_transform_setup(const sp_config *config, sp_error *err);
/* Reads `in` (records point into the host's batch) and writes to `out` (empty). */
int sp_transform_process(sp_reader *in, sp_writer *out, sp_error *err);

/* partitioner */
int sp_partitioner_setup(const sp_config *config, sp_error *err);
/* The partition of `record`, below `partition_count` (the host checks). */
int sp_partition(sp_bytes topic, uint32_t partition_count, const sp_record *record,
                 uint32_t *partition, sp_error *err);

/* source */
typedef enum sp_poll_status {
    SP_READY,   /* the records written are ready (none: the host's default backoff) */
    SP_IDLE,    /* nothing more now: poll again in about `idle_ms` */
    SP_FINISHED /* done; records written by this call are still sent */
} sp_poll_status;

typedef struct sp_poll {
    sp_writer *out;        /* empty, with the host's budget: stop once sp_writer_full */
    sp_poll_status status; /* SP_READY unless set */
    uint32_t idle_ms;
    /* The source's position once these records are made, if it keeps one
     * (plugin memory, copied after the call). The host hands the latest to
     * the next instance's sp_source_setup after a restart. */
    const uint8_t *checkpoint;
    size_t checkpoint_len;
} sp_poll;

/* `resume` is the checkpoint to continue after (absent on a fresh start). */
int sp_source_setup(const sp_config *config, sp_bytes resume, sp_error *err);
int sp_source_poll(sp_poll *poll, sp_error *err);

typedef struct sp_delivery_failure {
    sp_bytes cause;
    uint64_t count;
} sp_delivery_failure;

typedef struct sp_delivery {
    sp_bytes committed; /* the newest checkpoint Kafka (and the store) acknowledged */
    size_t failed_len;
    const sp_delivery_failure *failed;
} sp_delivery;

/* Delivery feedback between polls. Optional: a weak no-op by default. */
void sp_source_delivered(const sp_delivery *report);

#ifdef __cplusplus
}
#endif

#endif
