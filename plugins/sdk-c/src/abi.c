/* What every world shares: the allocator the host lowers arguments with,
 * host logging, and config conversion. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "abi.h"

/* The host allocates every list and string it passes in with this. */
SP_EXPORT("cabi_realloc")
void *cabi_realloc(void *old, size_t old_size, size_t align, size_t new_size) {
    (void)old_size;
    if (new_size == 0) return (void *)align;
    void *p = realloc(old, new_size);
    /* Refused under the host's memory limit: trap (the host restarts the plugin). */
    if (!p) abort();
    return p;
}

__attribute__((import_module("streamplug:plugin/log@0.2.0"), import_name("log")))
extern void sp_abi_log(int32_t level, const char *ptr, size_t len);

void sp_log(sp_level level, const char *fmt, ...) {
    char line[1024];
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(line, sizeof line, fmt, args);
    va_end(args);
    if (n < 0) return;
    /* A longer line is cut at the buffer (the host shows the start). */
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    sp_abi_log((int32_t)level, line, len);
}

static char *c_string(sp_abi_list s) {
    char *out = malloc(s.len + 1);
    if (!out) abort();
    if (s.len) memcpy(out, s.ptr, s.len);
    out[s.len] = '\0';
    free(s.ptr);
    return out;
}

sp_config sp_abi_config(sp_abi_entry *entries, size_t len) {
    char **keys = calloc(len ? len : 1, sizeof *keys);
    char **values = calloc(len ? len : 1, sizeof *values);
    if (!keys || !values) abort();
    for (size_t i = 0; i < len; i++) {
        keys[i] = c_string(entries[i].key);
        values[i] = c_string(entries[i].value);
    }
    free(entries);
    return (sp_config){.len = len, .keys = (const char *const *)keys,
                       .values = (const char *const *)values};
}

void sp_abi_err(sp_abi_result *ret, const sp_error *err) {
    size_t n = strnlen(err->message, sizeof err->message);
    char *copy = malloc(n ? n : 1);
    if (!copy) abort();
    memcpy(copy, err->message, n);
    ret->tag = 1;
    ret->ptr = copy;
    ret->len = n;
}
