/* tests/lib: the tests' random numbers, deterministic. See testlib.h. */
#include "common/xorshift.h"
#include "tests/lib/testlib.h"

uint64_t test_xorshift64(uint64_t *state)
{
    return xorshift64(state);
}

uint64_t test_xorshift64s(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}
