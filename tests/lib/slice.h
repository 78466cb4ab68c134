/* tests/lib: building struct keel_slice (storage/storage.h) in tests of the
 * codec, the replies and the RESP parser. Borrowed: a slice never owns the
 * bytes it names. Header-only (they are constructors), separate from
 * testlib.h because only tests that speak keel_slice want storage.h. */
#ifndef KEEL_TESTS_LIB_SLICE_H
#define KEEL_TESTS_LIB_SLICE_H

#include <string.h>

#include "storage/storage.h"

/* n bytes at p. */
static inline struct keel_slice sl(const void *p, size_t n)
{
    return (struct keel_slice){p, n};
}

/* A C string, without its NUL. */
static inline struct keel_slice cstr(const char *s)
{
    return sl(s, strlen(s));
}

/* A string literal, embedded NUL bytes included. */
#define LIT(s) sl((s), sizeof(s) - 1)

#endif /* KEEL_TESTS_LIB_SLICE_H */
