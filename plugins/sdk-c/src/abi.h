/* The canonical ABI of streamplug:plugin@0.2.0 as the world glue needs it:
 * written by hand (the worlds are small), checked by wit-component when
 * `streamplug-guest-tools componentize` makes the component. */
#ifndef STREAMPLUG_ABI_H
#define STREAMPLUG_ABI_H

#include <stdint.h>
#include <stdlib.h>

#include "streamplug.h"

#define SP_EXPORT(name) __attribute__((export_name(name)))

/* A canonical `string` or `list<u8>` as the host lowers it. */
typedef struct sp_abi_list {
    uint8_t *ptr;
    size_t len;
} sp_abi_list;

/* `config`: a list of (string, string), each 16 bytes. */
typedef struct sp_abi_entry {
    sp_abi_list key;
    sp_abi_list value;
} sp_abi_entry;

/* Converts (and frees) the host's config list. The result lives for good:
 * plugins keep pointers into it. */
sp_config sp_abi_config(sp_abi_entry *entries, size_t len);

/* The return area of a `result<_, string>` (or `result<list<..>, string>`). */
typedef struct sp_abi_result {
    uint8_t tag; /* 0 ok, 1 err */
    uint8_t _pad[3];
    void *ptr;
    size_t len;
} sp_abi_result;

/* Fills `ret` with an error: the message is copied to the heap and freed by post-return. */
void sp_abi_err(sp_abi_result *ret, const sp_error *err);

#endif
