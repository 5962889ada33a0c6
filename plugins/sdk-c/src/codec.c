/* The batch encoding (wit/ENCODING.md), implemented once for the C SDK.
 * Error messages are the host's (plugins/codec) word for word, so a plugin
 * and the host describe a broken batch alike (wit/test-vectors checks it). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "streamplug.h"

enum {
    F_KEY = 0x01,
    F_VALUE = 0x02,
    F_TIMESTAMP = 0x04,
    F_PARTITION = 0x08,
    F_TOPIC = 0x10,
    F_KNOWN = 0x1f,
    HEADER_LEN = 5,
    VERSION = 1,
};

int sp_fail(sp_error *err, const char *fmt, ...) {
    if (err) {
        va_list args;
        va_start(args, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, args);
        va_end(args);
    }
    return -1;
}

sp_bytes sp_bytes_of(const void *ptr, size_t len) {
    return (sp_bytes){.ptr = ptr, .len = len, .present = true};
}

sp_bytes sp_str(const char *s) { return sp_bytes_of(s, strlen(s)); }

bool sp_bytes_eq(sp_bytes a, const char *s) {
    size_t n = strlen(s);
    return a.present && a.len == n && (n == 0 || memcmp(a.ptr, s, n) == 0);
}

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF), as Rust's str. */
static bool valid_utf8(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint8_t lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            if (c == 0xe0) lo = 0xa0;
            if (c == 0xed) hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            if (c == 0xf0) lo = 0x90;
            if (c == 0xf4) hi = 0x8f;
        } else {
            return false;
        }
        if (n - i < len) return false;
        if (s[i + 1] < lo || s[i + 1] > hi) return false;
        for (size_t k = 2; k < len; k++) {
            if (s[i + k] < 0x80 || s[i + k] > 0xbf) return false;
        }
        i += len;
    }
    return true;
}

int sp_reader_init(sp_reader *r, const uint8_t *bytes, size_t len, sp_error *err) {
    memset(r, 0, sizeof *r);
    if (len == 0) {
        return sp_fail(err, "batch header at byte 0: truncated batch header: needs %d bytes, 0 left",
                       HEADER_LEN);
    }
    if (bytes[0] != VERSION) {
        return sp_fail(err,
                       "batch header at byte 0: encoding version %u is not supported (expected %d)",
                       bytes[0], VERSION);
    }
    if (len < HEADER_LEN) {
        return sp_fail(err, "batch header at byte 0: truncated batch header: needs %d bytes, %zu left",
                       HEADER_LEN, len);
    }
    r->bytes = bytes;
    r->len = len;
    r->pos = HEADER_LEN;
    r->count = le32(bytes + 1);
    return 0;
}

/* A cursor over one record; `record` names it in errors. */
typedef struct cursor {
    const uint8_t *bytes;
    size_t len;
    size_t pos;
    uint32_t record;
    sp_error *err;
} cursor;

static int truncated(cursor *c, const char *field, size_t needed) {
    return sp_fail(c->err, "record %u at byte %zu: truncated %s: needs %zu bytes, %zu left", c->record,
                   c->pos, field, needed, c->len - c->pos);
}

static const uint8_t *take(cursor *c, size_t n, const char *field) {
    if (n > c->len - c->pos) {
        truncated(c, field, n);
        return NULL;
    }
    const uint8_t *p = c->bytes + c->pos;
    c->pos += n;
    return p;
}

/* A u32-length-prefixed field. */
static int prefixed32(cursor *c, const char *field, sp_bytes *out) {
    const uint8_t *p = take(c, 4, field);
    if (!p) return -1;
    size_t n = le32(p);
    const uint8_t *data = take(c, n, field);
    if (!data) return -1;
    *out = sp_bytes_of(data, n);
    return 0;
}

/* A u16-length-prefixed UTF-8 field. */
static int utf8_16(cursor *c, const char *len_field, const char *field, sp_bytes *out) {
    const uint8_t *p = take(c, 2, len_field);
    if (!p) return -1;
    size_t n = le16(p);
    size_t at = c->pos;
    const uint8_t *data = take(c, n, field);
    if (!data) return -1;
    if (!valid_utf8(data, n)) {
        return sp_fail(c->err, "record %u at byte %zu: %s is not valid UTF-8", c->record, at, field);
    }
    *out = sp_bytes_of(data, n);
    return 0;
}

static int read_record(sp_reader *r, sp_record *out, sp_error *err) {
    cursor c = {.bytes = r->bytes, .len = r->len, .pos = r->pos, .record = r->read, .err = err};
    memset(out, 0, sizeof *out);
    size_t start = c.pos;
    const uint8_t *p = take(&c, 1, "flags");
    if (!p) return -1;
    uint8_t flags = *p;
    if (flags & ~F_KNOWN) {
        return sp_fail(err, "record %u at byte %zu: reserved flag bits set (flags %#04x)", c.record,
                       c.pos, flags);
    }
    if ((flags & F_KEY) && prefixed32(&c, "key", &out->key)) return -1;
    if ((flags & F_VALUE) && prefixed32(&c, "value", &out->value)) return -1;
    if (flags & F_TIMESTAMP) {
        if (!(p = take(&c, 8, "timestamp"))) return -1;
        out->has_timestamp = true;
        out->timestamp = (int64_t)le64(p);
    }
    if (flags & F_PARTITION) {
        if (!(p = take(&c, 4, "partition"))) return -1;
        out->has_partition = true;
        out->partition = (int32_t)le32(p);
    }
    if ((flags & F_TOPIC) && utf8_16(&c, "topic length", "topic", &out->topic)) return -1;
    if (!(p = take(&c, 2, "header count"))) return -1;
    out->header_count = le16(p);
    size_t headers_start = c.pos;
    for (uint16_t i = 0; i < out->header_count; i++) {
        sp_bytes name, value;
        if (utf8_16(&c, "header name length", "header name", &name)) return -1;
        if (prefixed32(&c, "header value", &value)) return -1;
    }
    out->headers = sp_bytes_of(r->bytes + headers_start, c.pos - headers_start);
    out->encoded = sp_bytes_of(r->bytes + start, c.pos - start);
    r->pos = c.pos;
    return 0;
}

int sp_reader_next(sp_reader *r, sp_record *out, sp_error *err) {
    if (r->failed) return sp_fail(err, "the batch was invalid");
    if (r->read == r->count) {
        if (r->pos == r->len) return 0;
        r->failed = true;
        /* As the host: the last record read names the position. */
        return sp_fail(err, "record %u at byte %zu: %zu bytes follow the last record",
                       r->count == 0 ? 0 : r->read - 1, r->pos, r->len - r->pos);
    }
    if (read_record(r, out, err)) {
        r->failed = true;
        return -1;
    }
    r->read++;
    return 1;
}

sp_header_iter sp_headers(const sp_record *record) {
    return (sp_header_iter){
        .pos = record->headers.ptr,
        .end = record->headers.ptr + record->headers.len,
        .left = record->header_count,
    };
}

/* The headers were validated when the record was read. */
bool sp_header_next(sp_header_iter *it, sp_header *out) {
    if (it->left == 0) return false;
    size_t name_len = le16(it->pos);
    out->name = sp_bytes_of(it->pos + 2, name_len);
    const uint8_t *v = it->pos + 2 + name_len;
    size_t value_len = le32(v);
    out->value = sp_bytes_of(v + 4, value_len);
    it->pos = v + 4 + value_len;
    it->left--;
    return true;
}

sp_bytes sp_header_get(const sp_record *record, const char *name) {
    sp_header h;
    for (sp_header_iter it = sp_headers(record); sp_header_next(&it, &h);) {
        if (sp_bytes_eq(h.name, name)) return h.value;
    }
    return (sp_bytes){0};
}

/* ---- writer ---- */

static void reserve(sp_writer *w, size_t more) {
    if (w->cap - w->len >= more) return;
    size_t cap = w->cap ? w->cap : 64;
    while (cap - w->len < more) cap *= 2;
    uint8_t *buf = realloc(w->buf, cap);
    /* Out of memory under the host's limit: trap, and the host restarts us. */
    if (!buf) abort();
    w->buf = buf;
    w->cap = cap;
}

static void put(sp_writer *w, const void *p, size_t n) {
    reserve(w, n);
    if (n) memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void put16(sp_writer *w, uint16_t v) {
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(w, b, 2);
}

static void put32(sp_writer *w, uint32_t v) {
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(w, b, 4);
}

static void put64(sp_writer *w, uint64_t v) {
    put32(w, (uint32_t)v);
    put32(w, (uint32_t)(v >> 32));
}

void sp_writer_init(sp_writer *w, size_t capacity) {
    memset(w, 0, sizeof *w);
    w->max_records = UINT32_MAX;
    w->max_bytes = UINT64_MAX;
    reserve(w, capacity < HEADER_LEN ? HEADER_LEN : capacity);
    uint8_t header[HEADER_LEN] = {VERSION, 0, 0, 0, 0};
    put(w, header, HEADER_LEN);
    w->last_start = HEADER_LEN;
}

void sp_writer_free(sp_writer *w) {
    free(w->buf);
    memset(w, 0, sizeof *w);
}

/* Lengths past the encoding's fields are a bug in the plugin: trap. */
static uint16_t len16(size_t n) {
    if (n > UINT16_MAX) abort();
    return (uint16_t)n;
}

static uint32_t len32(size_t n) {
    if (n > UINT32_MAX) abort();
    return (uint32_t)n;
}

void sp_writer_record(sp_writer *w, const sp_record_out *r) {
    w->last_start = w->len;
    uint8_t flags = (r->key.present ? F_KEY : 0) | (r->value.present ? F_VALUE : 0) |
                    (r->has_timestamp ? F_TIMESTAMP : 0) | (r->has_partition ? F_PARTITION : 0) |
                    (r->topic.present ? F_TOPIC : 0);
    put(w, &flags, 1);
    if (r->key.present) {
        put32(w, len32(r->key.len));
        put(w, r->key.ptr, r->key.len);
    }
    if (r->value.present) {
        put32(w, len32(r->value.len));
        put(w, r->value.ptr, r->value.len);
    }
    if (r->has_timestamp) put64(w, (uint64_t)r->timestamp);
    if (r->has_partition) put32(w, (uint32_t)r->partition);
    if (r->topic.present) {
        put16(w, len16(r->topic.len));
        put(w, r->topic.ptr, r->topic.len);
    }
    w->header_count_at = w->len;
    put16(w, 0);
    w->count++;
}

void sp_writer_header(sp_writer *w, sp_bytes name, sp_bytes value) {
    if (w->count == 0) abort(); /* no record to add it to */
    put16(w, len16(name.len));
    put(w, name.ptr, name.len);
    put32(w, len32(value.len));
    put(w, value.ptr, value.len);
    uint8_t *at = w->buf + w->header_count_at;
    uint16_t n = le16(at) + 1;
    at[0] = (uint8_t)n;
    at[1] = (uint8_t)(n >> 8);
}

void sp_writer_push(sp_writer *w, const sp_record *r) {
    w->last_start = w->len;
    put(w, r->encoded.ptr, r->encoded.len);
    /* The header count sits just before the encoded headers. */
    w->header_count_at = w->len - r->headers.len - 2;
    w->count++;
}

bool sp_writer_full(const sp_writer *w) {
    return w->count >= w->max_records || (w->count > 0 && (uint64_t)w->len >= w->max_bytes);
}

void sp_writer_seal(sp_writer *w) {
    w->buf[1] = (uint8_t)w->count;
    w->buf[2] = (uint8_t)(w->count >> 8);
    w->buf[3] = (uint8_t)(w->count >> 16);
    w->buf[4] = (uint8_t)(w->count >> 24);
}
