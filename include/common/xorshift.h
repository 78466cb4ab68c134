/* common/xorshift.h: Marsaglia's xorshift64 (shifts 13, 7, 17), written once.
 *
 * For jitter and for deterministic garbage, never for secrets: libkeel's
 * retry backoff, jepsen's relay delays, storage's crafted damaged images and
 * the tests (tests/lib/rng.c) all draw from it. The state is the caller's
 * and must not be 0 (0 stays 0). Header only, libc only. */
#ifndef KEEL_COMMON_XORSHIFT_H
#define KEEL_COMMON_XORSHIFT_H

#include <stdint.h>

/* Advance *state and return its new value. */
static inline uint64_t xorshift64(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

#endif /* KEEL_COMMON_XORSHIFT_H */
