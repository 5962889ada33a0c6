/* The exports of the `transform` world. */
#include <string.h>

#include "abi.h"

static sp_abi_result ret;
static bool ready;
/* The last output's size: most transforms write about what they read. */
static size_t capacity_hint;

SP_EXPORT("setup")
sp_abi_result *sp_export_setup(sp_abi_entry *entries, size_t len) {
    static sp_config config;
    config = sp_abi_config(entries, len);
    sp_error err = {{0}};
    memset(&ret, 0, sizeof ret);
    ready = false;
    if (sp_transform_setup(&config, &err)) {
        sp_abi_err(&ret, &err);
    } else {
        ready = true;
    }
    return &ret;
}

SP_EXPORT("cabi_post_setup")
void sp_post_setup(sp_abi_result *r) { free(r->tag ? r->ptr : NULL); }

SP_EXPORT("process")
sp_abi_result *sp_export_process(uint8_t *batch, size_t len) {
    memset(&ret, 0, sizeof ret);
    sp_error err = {{0}};
    if (!ready) {
        free(batch);
        sp_fail(&err, "streamplug C SDK: process called before a successful setup");
        sp_abi_err(&ret, &err);
        return &ret;
    }
    sp_reader in;
    sp_writer out;
    sp_writer_init(&out, capacity_hint > len ? capacity_hint : len);
    if (sp_reader_init(&in, batch, len, &err) || sp_transform_process(&in, &out, &err)) {
        sp_writer_free(&out);
        sp_abi_err(&ret, &err);
    } else {
        sp_writer_seal(&out);
        capacity_hint = out.len;
        ret.ptr = out.buf;
        ret.len = out.len;
    }
    free(batch);
    return &ret;
}

/* Frees the output batch or the error message. */
SP_EXPORT("cabi_post_process")
void sp_post_process(sp_abi_result *r) { free(r->ptr); }
