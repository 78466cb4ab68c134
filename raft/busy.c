/* raft: the loop's long-step marker. See busy.h. */
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include "raft/busy.h"

static _Atomic(const char *) busy_what;
static _Atomic uint64_t busy_since;

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

const char *keel_busy_begin(const char *what)
{
    atomic_store(&busy_since, mono_ms());
    return atomic_exchange(&busy_what, what);
}

void keel_busy_end(const char *previous)
{
    atomic_store(&busy_what, previous);
}

const char *keel_busy_now(uint64_t *since_ms)
{
    const char *what = atomic_load(&busy_what);
    if (since_ms != NULL) *since_ms = atomic_load(&busy_since);
    return what;
}
