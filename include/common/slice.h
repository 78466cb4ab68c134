/* keel/slice.h: a borrowed byte range, the one vocabulary type every layer
 * passes around (the RESP parser's arguments, the codec's fields, storage's
 * keys and values). It lives beside keel/error.h, the other shared leaf, so
 * that the RESP library can name it without reaching into storage/.
 *
 * Not part of libkeel's installed interface: the client speaks in
 * (pointer, length) pairs of its own. */
#ifndef KEEL_SLICE_H
#define KEEL_SLICE_H

#include <stddef.h>
#include <stdint.h>

/* A borrowed byte range. Never owns its memory. */
struct keel_slice
{
    const uint8_t *p;
    size_t n;
};

#endif /* KEEL_SLICE_H */
