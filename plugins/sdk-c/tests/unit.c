/* Unit tests of the C SDK's encoding and config, run natively by
 * plugins/sdk-c/test.sh: the example bytes of wit/ENCODING.md and the shared
 * vectors of wit/test-vectors (made by the host's Rust codec). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "streamplug.h"

static int failures = 0;

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);          \
            fprintf(stderr, __VA_ARGS__);                                 \
            fprintf(stderr, "\n");                                        \
            failures++;                                                   \
        }                                                                 \
    } while (0)

/* Not provided natively: the wasm build takes it from the host. */
void sp_log(sp_level level, const char *fmt, ...) { (void)level, (void)fmt; }

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) abort();
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* A growing string. */
typedef struct text {
    char *s;
    size_t len, cap;
} text;

static void add(text *t, const char *s, size_t n) {
    if (t->cap - t->len < n + 1) {
        t->cap = (t->cap + n + 1) * 2;
        t->s = realloc(t->s, t->cap);
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
}

static void adds(text *t, const char *s) { add(t, s, strlen(s)); }

static void hex(text *t, sp_bytes b) {
    if (!b.present) {
        adds(t, "null");
        return;
    }
    char two[3];
    for (size_t i = 0; i < b.len; i++) {
        snprintf(two, sizeof two, "%02x", b.ptr[i]);
        add(t, two, 2);
    }
}

/* The line format of wit/test-vectors/README.md. */
static void describe(text *t, const sp_record *r) {
    char num[32];
    adds(t, "key=");
    hex(t, r->key);
    adds(t, " value=");
    hex(t, r->value);
    adds(t, " timestamp=");
    if (r->has_timestamp) {
        snprintf(num, sizeof num, "%lld", (long long)r->timestamp);
        adds(t, num);
    } else {
        adds(t, "none");
    }
    adds(t, " partition=");
    if (r->has_partition) {
        snprintf(num, sizeof num, "%d", r->partition);
        adds(t, num);
    } else {
        adds(t, "none");
    }
    adds(t, " topic=");
    hex(t, r->topic);
    adds(t, " headers=[");
    sp_header h;
    bool first = true;
    for (sp_header_iter it = sp_headers(r); sp_header_next(&it, &h);) {
        if (!first) adds(t, ",");
        first = false;
        hex(t, h.name);
        adds(t, "=");
        hex(t, h.value);
    }
    adds(t, "]\n");
}

/* Decodes, describes, re-encodes from fields and by push; compares all three. */
static void check_valid(const char *dir, const char *name) {
    char path[1024];
    size_t len, txt_len;
    snprintf(path, sizeof path, "%s/%s.bin", dir, name);
    uint8_t *bin = (uint8_t *)read_file(path, &len);
    snprintf(path, sizeof path, "%s/%s.txt", dir, name);
    char *expected = read_file(path, &txt_len);
    CHECK(bin && expected, "%s: cannot read the vector", name);
    if (!bin || !expected) return;

    sp_reader r;
    sp_error err;
    sp_record rec;
    text got = {0};
    sp_writer by_fields, by_push;
    sp_writer_init(&by_fields, 0);
    sp_writer_init(&by_push, 16);
    CHECK(sp_reader_init(&r, bin, len, &err) == 0, "%s: %s", name, err.message);
    int rc;
    while ((rc = sp_reader_next(&r, &rec, &err)) == 1) {
        describe(&got, &rec);
        sp_record_out out = {.key = rec.key, .value = rec.value, .has_timestamp = rec.has_timestamp,
                             .timestamp = rec.timestamp, .has_partition = rec.has_partition,
                             .partition = rec.partition, .topic = rec.topic};
        sp_writer_record(&by_fields, &out);
        sp_header h;
        for (sp_header_iter it = sp_headers(&rec); sp_header_next(&it, &h);) {
            sp_writer_header(&by_fields, h.name, h.value);
        }
        sp_writer_push(&by_push, &rec);
    }
    CHECK(rc == 0, "%s: %s", name, err.message);
    CHECK(got.s ? strcmp(got.s, expected) == 0 : txt_len == 0, "%s: decoded\n%s\nexpected\n%s", name,
          got.s ? got.s : "", expected);
    sp_writer_seal(&by_fields);
    sp_writer_seal(&by_push);
    CHECK(by_fields.len == len && memcmp(by_fields.buf, bin, len) == 0,
          "%s: re-encoded from fields differs from the Rust codec's bytes", name);
    CHECK(by_push.len == len && memcmp(by_push.buf, bin, len) == 0,
          "%s: re-encoded by push differs from the Rust codec's bytes", name);
    sp_writer_free(&by_fields);
    sp_writer_free(&by_push);
    free(got.s);
    free(bin);
    free(expected);
}

static void check_invalid(const char *dir, const char *name) {
    char path[1024];
    size_t len, err_len;
    snprintf(path, sizeof path, "%s/%s.bin", dir, name);
    uint8_t *bin = (uint8_t *)read_file(path, &len);
    snprintf(path, sizeof path, "%s/%s.err", dir, name);
    char *expected = read_file(path, &err_len);
    CHECK(bin && expected, "%s: cannot read the vector", name);
    if (!bin || !expected) return;
    if (err_len && expected[err_len - 1] == '\n') expected[err_len - 1] = '\0';
    sp_reader r;
    sp_error err = {{0}};
    sp_record rec;
    int rc = sp_reader_init(&r, bin, len, &err);
    if (rc == 0) {
        while ((rc = sp_reader_next(&r, &rec, &err)) == 1) {
        }
    }
    CHECK(rc == -1, "%s: an invalid batch was accepted", name);
    CHECK(strcmp(err.message, expected) == 0, "%s: message\n  %s\nexpected\n  %s", name, err.message,
          expected);
    free(bin);
    free(expected);
}

static void vectors(const char *dir) {
    DIR *d = opendir(dir);
    CHECK(d != NULL, "cannot open %s", dir);
    if (!d) return;
    int valid = 0, invalid = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".bin") != 0) continue;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(n - 4), e->d_name);
        if (strncmp(name, "bad-", 4) == 0) {
            check_invalid(dir, name);
            invalid++;
        } else {
            check_valid(dir, name);
            valid++;
        }
    }
    closedir(d);
    CHECK(valid >= 4 && invalid >= 5, "too few vectors in %s (%d valid, %d invalid)", dir, valid,
          invalid);
    printf("vectors: %d valid, %d invalid\n", valid, invalid);
}

/* The example of wit/ENCODING.md, byte for byte. */
static void encoding_md_example(void) {
    static const uint8_t example[] = {0x01, 0x01, 0, 0, 0, 0x07, 0x01, 0, 0, 0, 'k', 0x02, 0, 0, 0,
                                      'v', '1', 0xe8, 0x03, 0, 0, 0, 0, 0, 0, 0x01, 0, 0x03, 0,
                                      's', 'e', 'q', 0x01, 0, 0, 0, '7'};
    sp_writer w;
    sp_writer_init(&w, 0);
    sp_record_out r = {.key = sp_str("k"), .value = sp_str("v1"), .has_timestamp = true,
                       .timestamp = 1000};
    sp_writer_record(&w, &r);
    sp_writer_header(&w, sp_str("seq"), sp_str("7"));
    sp_writer_seal(&w);
    CHECK(w.len == sizeof example && memcmp(w.buf, example, w.len) == 0, "writer != ENCODING.md example");
    sp_writer_free(&w);

    sp_reader rd;
    sp_record rec;
    sp_error err;
    CHECK(sp_reader_init(&rd, example, sizeof example, &err) == 0, "%s", err.message);
    CHECK(sp_reader_next(&rd, &rec, &err) == 1, "%s", err.message);
    CHECK(sp_bytes_eq(rec.key, "k") && sp_bytes_eq(rec.value, "v1"), "key/value");
    CHECK(rec.has_timestamp && rec.timestamp == 1000 && !rec.has_partition && !rec.topic.present,
          "timestamp/partition/topic");
    CHECK(sp_bytes_eq(sp_header_get(&rec, "seq"), "7"), "header seq");
    CHECK(!sp_header_get(&rec, "nope").present, "absent header");
    /* No copies: the record points into the batch. */
    CHECK(rec.value.ptr == example + 15, "value does not point into the batch");
    CHECK(sp_reader_next(&rd, &rec, &err) == 0, "one record only");
}

static void budget(void) {
    sp_writer w;
    sp_writer_init(&w, 0);
    w.max_records = 3;
    w.max_bytes = 20;
    CHECK(!sp_writer_full(&w), "empty writer full");
    sp_record_out big = {.value = sp_bytes_of("0123456789012345678901234567890", 30)};
    sp_writer_record(&w, &big);
    CHECK(sp_writer_full(&w), "over the byte budget but not full");
    sp_writer_free(&w);
    sp_writer_init(&w, 0);
    w.max_records = 2;
    sp_record_out small = {0};
    sp_writer_record(&w, &small);
    CHECK(!sp_writer_full(&w), "full after 1 of 2");
    sp_writer_record(&w, &small);
    CHECK(sp_writer_full(&w), "not full after 2 of 2");
    sp_writer_free(&w);
}

static void config(void) {
    const char *keys[] = {"count", "ratio", "on", "name", "neg"};
    const char *values[] = {"42", "0.5", "true", "x", "-3"};
    sp_config c = {.len = 5, .keys = keys, .values = values};
    sp_error err;
    int64_t i;
    uint64_t u;
    double d;
    bool b;
    const char *s;
    CHECK(sp_config_i64(&c, "count", 0, &i, &err) == 0 && i == 42, "i64");
    CHECK(sp_config_i64(&c, "missing", 7, &i, &err) == 0 && i == 7, "i64 fallback");
    CHECK(sp_config_u64(&c, "neg", 0, &u, &err) == -1, "u64 of -3 accepted");
    CHECK(strcmp(err.message, "config `neg`: not a non-negative integer (got \"-3\")") == 0, "%s",
          err.message);
    CHECK(sp_config_i64(&c, "name", 0, &i, &err) == -1 &&
              strcmp(err.message, "config `name`: not an integer (got \"x\")") == 0,
          "%s", err.message);
    CHECK(sp_config_f64(&c, "ratio", 0, &d, &err) == 0 && d == 0.5, "f64");
    CHECK(sp_config_bool(&c, "on", false, &b, &err) == 0 && b, "bool");
    CHECK(sp_config_bool(&c, "name", false, &b, &err) == -1, "bool of x accepted");
    CHECK(sp_config_require(&c, "name", &s, &err) == 0 && strcmp(s, "x") == 0, "require");
    CHECK(sp_config_require(&c, "topic", &s, &err) == -1 &&
              strcmp(err.message, "config `topic` is required") == 0,
          "%s", err.message);
    const char *known[] = {"count", "ratio", "on", "name", NULL};
    CHECK(sp_config_deny_unknown(&c, known, &err) == -1 &&
              strcmp(err.message,
                     "config `neg` is not a known setting (known: count, ratio, on, name)") == 0,
          "%s", err.message);
    const char *all[] = {"count", "ratio", "on", "name", "neg", NULL};
    CHECK(sp_config_deny_unknown(&c, all, &err) == 0, "all known");
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s WIT_TEST_VECTORS_DIR\n", argv[0]);
        return 2;
    }
    encoding_md_example();
    vectors(argv[1]);
    budget();
    config();
    if (failures) {
        fprintf(stderr, "%d failures\n", failures);
        return 1;
    }
    printf("sdk-c unit tests: ok\n");
    return 0;
}
