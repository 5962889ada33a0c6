/* Typed access to the plugin's config table, with the Rust SDK's messages. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "streamplug.h"

const char *sp_config_get(const sp_config *c, const char *key) {
    for (size_t i = 0; i < c->len; i++) {
        if (strcmp(c->keys[i], key) == 0) return c->values[i];
    }
    return NULL;
}

const char *sp_config_str(const sp_config *c, const char *key, const char *fallback) {
    const char *v = sp_config_get(c, key);
    return v ? v : fallback;
}

int sp_config_require(const sp_config *c, const char *key, const char **out, sp_error *err) {
    const char *v = sp_config_get(c, key);
    if (!v) return sp_fail(err, "config `%s` is required", key);
    *out = v;
    return 0;
}

static int invalid(sp_error *err, const char *key, const char *what, const char *value) {
    return sp_fail(err, "config `%s`: %s (got \"%s\")", key, what, value);
}

int sp_config_i64(const sp_config *c, const char *key, int64_t fallback, int64_t *out,
                  sp_error *err) {
    const char *v = sp_config_get(c, key);
    if (!v) {
        *out = fallback;
        return 0;
    }
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (*v == '\0' || *end != '\0' || *v == ' ') return invalid(err, key, "not an integer", v);
    if (errno == ERANGE) return invalid(err, key, "out of range for a 64-bit integer", v);
    *out = n;
    return 0;
}

int sp_config_u64(const sp_config *c, const char *key, uint64_t fallback, uint64_t *out,
                  sp_error *err) {
    const char *v = sp_config_get(c, key);
    if (!v) {
        *out = fallback;
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    /* strtoull accepts "-1" (and wraps): refuse any sign but '+'. */
    if (*v == '\0' || *end != '\0' || *v == '-' || *v == ' ')
        return invalid(err, key, "not a non-negative integer", v);
    if (errno == ERANGE) return invalid(err, key, "out of range for a 64-bit integer", v);
    *out = n;
    return 0;
}

int sp_config_f64(const sp_config *c, const char *key, double fallback, double *out,
                  sp_error *err) {
    const char *v = sp_config_get(c, key);
    if (!v) {
        *out = fallback;
        return 0;
    }
    char *end;
    double d = strtod(v, &end);
    if (*v == '\0' || *end != '\0' || *v == ' ' || isnan(d)) return invalid(err, key, "not a number", v);
    *out = d;
    return 0;
}

int sp_config_bool(const sp_config *c, const char *key, bool fallback, bool *out, sp_error *err) {
    const char *v = sp_config_get(c, key);
    if (!v) {
        *out = fallback;
    } else if (strcmp(v, "true") == 0) {
        *out = true;
    } else if (strcmp(v, "false") == 0) {
        *out = false;
    } else {
        return invalid(err, key, "not `true` or `false`", v);
    }
    return 0;
}

int sp_config_deny_unknown(const sp_config *c, const char *const *known, sp_error *err) {
    for (size_t i = 0; i < c->len; i++) {
        bool found = false;
        for (const char *const *k = known; *k; k++) {
            if (strcmp(*k, c->keys[i]) == 0) found = true;
        }
        if (found) continue;
        char list[384] = "";
        size_t used = 0;
        for (const char *const *k = known; *k && used < sizeof list - 1; k++) {
            size_t n = strlen(*k);
            if (used + n + 3 > sizeof list) break;
            if (used) {
                memcpy(list + used, ", ", 2);
                used += 2;
            }
            memcpy(list + used, *k, n);
            used += n;
            list[used] = '\0';
        }
        return sp_fail(err, "config `%s` is not a known setting (known: %s)", c->keys[i], list);
    }
    return 0;
}
