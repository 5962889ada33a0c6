/* The exports of the `source` world. */
#include <string.h>

#include "abi.h"

static sp_abi_result setup_ret;
static bool ready;
static bool finished;
static size_t capacity_hint;

SP_EXPORT("setup")
sp_abi_result *sp_export_setup(sp_abi_entry *entries, size_t len, int32_t has_resume,
                               uint8_t *resume, size_t resume_len) {
    static sp_config config;
    config = sp_abi_config(entries, len);
    sp_error err = {{0}};
    memset(&setup_ret, 0, sizeof setup_ret);
    ready = false;
    finished = false;
    sp_bytes from = has_resume ? sp_bytes_of(resume, resume_len) : (sp_bytes){0};
    if (sp_source_setup(&config, from, &err)) {
        sp_abi_err(&setup_ret, &err);
    } else {
        ready = true;
    }
    if (has_resume) free(resume);
    return &setup_ret;
}

SP_EXPORT("cabi_post_setup")
void sp_post_setup(sp_abi_result *r) { free(r->tag ? r->ptr : NULL); }

/* result<poll-result, string> (28 bytes, align 4). */
typedef struct poll_ret {
    uint8_t tag; /* 0 ok, 1 err */
    uint8_t _pad0[3];
    union {
        struct {
            uint8_t kind; /* 0 records, 1 idle, 2 finished */
            uint8_t _pad1[3];
            union {
                struct {
                    uint8_t *records;
                    size_t records_len;
                    uint8_t has_checkpoint;
                    uint8_t _pad2[3];
                    uint8_t *checkpoint;
                    size_t checkpoint_len;
                } polled;
                uint32_t idle_ms;
            };
        } ok;
        struct {
            char *ptr;
            size_t len;
        } err;
    };
} poll_ret;

_Static_assert(sizeof(poll_ret) == 28, "result<poll-result, string> is 28 bytes");

static poll_ret ret;
/* What post-return frees. */
static void *owned[2];

static poll_ret *poll_err(const sp_error *err) {
    sp_abi_result r;
    sp_abi_err(&r, err);
    ret.tag = 1;
    ret.err.ptr = r.ptr;
    ret.err.len = r.len;
    owned[0] = r.ptr;
    return &ret;
}

SP_EXPORT("poll-records")
poll_ret *sp_export_poll(uint32_t max_records, uint64_t max_bytes) {
    memset(&ret, 0, sizeof ret);
    owned[0] = owned[1] = NULL;
    sp_error err = {{0}};
    if (!ready) {
        sp_fail(&err, "streamplug C SDK: poll-records called before a successful setup");
        return poll_err(&err);
    }
    if (finished) {
        ret.ok.kind = 2;
        return &ret;
    }
    sp_writer out;
    size_t capacity = capacity_hint < max_bytes ? capacity_hint : (size_t)max_bytes;
    sp_writer_init(&out, capacity);
    out.max_records = max_records;
    out.max_bytes = max_bytes;
    sp_poll poll = {.out = &out, .status = SP_READY};
    if (sp_source_poll(&poll, &err)) {
        sp_writer_free(&out);
        return poll_err(&err);
    }
    finished = poll.status == SP_FINISHED;
    if (out.count == 0) {
        sp_writer_free(&out);
        ret.ok.kind = poll.status == SP_FINISHED ? 2 : 1;
        ret.ok.idle_ms = poll.status == SP_IDLE ? poll.idle_ms : 0;
        return &ret;
    }
    if (out.count > max_records) {
        sp_writer_free(&out);
        sp_fail(&err, "poll wrote %u records, more than the %u asked for", out.count, max_records);
        return poll_err(&err);
    }
    if (out.count > 1 && (uint64_t)out.last_start >= max_bytes) {
        sp_fail(&err,
                "poll wrote %zu bytes in %u records, over the budget of %llu bytes by more than "
                "one record: stop writing once sp_writer_full",
                out.len, out.count, (unsigned long long)max_bytes);
        sp_writer_free(&out);
        return poll_err(&err);
    }
    sp_writer_seal(&out);
    capacity_hint = out.len;
    ret.ok.polled.records = out.buf;
    ret.ok.polled.records_len = out.len;
    owned[0] = out.buf;
    if (poll.checkpoint) {
        uint8_t *copy = malloc(poll.checkpoint_len ? poll.checkpoint_len : 1);
        if (!copy) abort();
        if (poll.checkpoint_len) memcpy(copy, poll.checkpoint, poll.checkpoint_len);
        ret.ok.polled.has_checkpoint = 1;
        ret.ok.polled.checkpoint = copy;
        ret.ok.polled.checkpoint_len = poll.checkpoint_len;
        owned[1] = copy;
    }
    return &ret;
}

SP_EXPORT("cabi_post_poll-records")
void sp_post_poll(poll_ret *r) {
    (void)r;
    free(owned[0]);
    free(owned[1]);
    owned[0] = owned[1] = NULL;
}

typedef struct failure {
    sp_abi_list cause;
    uint64_t count;
} failure;

_Static_assert(sizeof(failure) == 16, "tuple<string, u64> is 16 bytes");

__attribute__((weak)) void sp_source_delivered(const sp_delivery *report) { (void)report; }

SP_EXPORT("on-delivery")
void sp_export_on_delivery(int32_t has_committed, uint8_t *committed, size_t committed_len,
                           failure *failed, size_t failed_len) {
    sp_delivery_failure *list = calloc(failed_len ? failed_len : 1, sizeof *list);
    if (!list) abort();
    for (size_t i = 0; i < failed_len; i++) {
        list[i].cause = sp_bytes_of(failed[i].cause.ptr, failed[i].cause.len);
        list[i].count = failed[i].count;
    }
    sp_delivery report = {
        .committed = has_committed ? sp_bytes_of(committed, committed_len) : (sp_bytes){0},
        .failed_len = failed_len,
        .failed = list,
    };
    if (ready) sp_source_delivered(&report);
    for (size_t i = 0; i < failed_len; i++) free(failed[i].cause.ptr);
    free(list);
    free(failed);
    if (has_committed) free(committed);
}
