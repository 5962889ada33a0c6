/* __NAME__: a streamplug partitioner. This example places records by a hash
 * of their key (FNV-1a: the same key always goes to the same partition), and
 * records without a key round-robin. The API is in streamplug.h. */
#include "streamplug.h"

static uint32_t next_partition;

int sp_partitioner_setup(const sp_config *config, sp_error *err) {
    static const char *const known[] = {NULL};
    next_partition = 0;
    return sp_config_deny_unknown(config, known, err); /* no settings: any key is a typo */
}

static uint64_t fnv1a(sp_bytes b) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < b.len; i++) h = (h ^ b.ptr[i]) * 0x100000001b3ULL;
    return h;
}

/* The partition of `record`, below `partition_count` (the host checks). */
int sp_partition(sp_bytes topic, uint32_t partition_count, const sp_record *record,
                 uint32_t *partition, sp_error *err) {
    (void)topic;
    if (partition_count == 0) return sp_fail(err, "a topic without partitions");
    if (record->key.present) {
        *partition = (uint32_t)(fnv1a(record->key) % partition_count);
    } else {
        *partition = next_partition++ % partition_count;
    }
    return 0;
}
