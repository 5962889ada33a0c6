/* The exports of the `partitioner` world. */
#include <string.h>

#include "abi.h"

static sp_abi_result ret;
static bool ready;

SP_EXPORT("setup")
sp_abi_result *sp_export_setup(sp_abi_entry *entries, size_t len) {
    static sp_config config;
    config = sp_abi_config(entries, len);
    sp_error err = {{0}};
    memset(&ret, 0, sizeof ret);
    ready = false;
    if (sp_partitioner_setup(&config, &err)) {
        sp_abi_err(&ret, &err);
    } else {
        ready = true;
    }
    return &ret;
}

SP_EXPORT("cabi_post_setup")
void sp_post_setup(sp_abi_result *r) { free(r->tag ? r->ptr : NULL); }

SP_EXPORT("partition")
sp_abi_result *sp_export_partition(uint8_t *topic, size_t topic_len, uint32_t partition_count,
                                   uint8_t *batch, size_t len) {
    memset(&ret, 0, sizeof ret);
    sp_error err = {{0}};
    sp_reader in;
    uint32_t *out = NULL;
    if (!ready) {
        sp_fail(&err, "streamplug C SDK: partition called before a successful setup");
        goto fail;
    }
    if (sp_reader_init(&in, batch, len, &err)) goto fail;
    out = malloc(in.count ? in.count * sizeof *out : 1);
    if (!out) abort();
    sp_record record;
    size_t n = 0;
    int rc;
    while ((rc = sp_reader_next(&in, &record, &err)) == 1) {
        if (sp_partition(sp_bytes_of(topic, topic_len), partition_count, &record, &out[n], &err))
            goto fail;
        n++;
    }
    if (rc) goto fail;
    ret.ptr = out;
    ret.len = n;
    free(topic);
    free(batch);
    return &ret;
fail:
    free(out);
    free(topic);
    free(batch);
    sp_abi_err(&ret, &err);
    return &ret;
}

SP_EXPORT("cabi_post_partition")
void sp_post_partition(sp_abi_result *r) { free(r->ptr); }
