/* common/slice.h: a borrowed byte range, the one vocabulary type every layer
 * passes around (the RESP parser's arguments, the codec's fields, storage's
 * keys and values). It lives in include/common/ so that the RESP library can
 * name it without reaching into storage/.
 *
 * Not part of libkeel's installed interface (include/keel/): the client
 * speaks in (pointer, length) pairs of its own. */
#ifndef KEEL_COMMON_SLICE_H
#define KEEL_COMMON_SLICE_H

#include <stddef.h>
#include <stdint.h>

/* A borrowed byte range. Never owns its memory. */
struct keel_slice
{
    const uint8_t *p;
    size_t n;
};

#endif /* KEEL_COMMON_SLICE_H */
