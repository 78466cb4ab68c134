/* tests: the allocation-failure hook (see alloc_fail.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit/alloc_fail.h"

/* The linker's names for the real functions (-Wl,--wrap=...). */
void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
/* And ours, which the wrapped calls reach. */
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static _Thread_local struct
{
    bool armed;
    bool persist;
    unsigned long fail_at; /* 1-based */
    unsigned long calls;
    unsigned long hits;
} af;

static void arm(unsigned long n, bool persist)
{
    assert_true(n >= 1);
    af.fail_at = n;
    af.persist = persist;
    af.calls = 0;
    af.hits = 0;
    af.armed = true;
}

void alloc_fail_arm(unsigned long n)
{
    arm(n, false);
}

void alloc_fail_arm_persist(unsigned long n)
{
    arm(n, true);
}

void alloc_fail_disarm(void)
{
    af.armed = false;
}

unsigned long alloc_fail_hits(void)
{
    return af.hits;
}

unsigned long alloc_fail_calls(void)
{
    return af.calls;
}

/* Whether this allocation is the one (or one of those) to fail. */
static bool fail_now(void)
{
    if (!af.armed) return false;
    unsigned long k = ++af.calls;
    if (k == af.fail_at || (af.persist && k > af.fail_at)) {
        af.hits++;
        errno = ENOMEM;
        return true;
    }
    return false;
}

void *__wrap_malloc(size_t size)
{
    return fail_now() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return fail_now() ? NULL : __real_calloc(n, size);
}

/* A failed realloc leaves p allocated, as the real one does. */
void *__wrap_realloc(void *p, size_t size)
{
    return fail_now() ? NULL : __real_realloc(p, size);
}

char *__wrap_strdup(const char *s)
{
    return fail_now() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
    return fail_now() ? NULL : __real_strndup(s, n);
}

unsigned long alloc_fail_loop(const char *what, bool persist, unsigned long max_n, int (*op)(void *arg),
                              void (*check)(void *arg, int rc, unsigned long n, bool hit), void *arg)
{
    for (unsigned long n = 1; n <= max_n; n++) {
        arm(n, persist);
        int rc = op(arg);
        alloc_fail_disarm();
        bool hit = af.hits > 0;
        check(arg, rc, n, hit);
        if (!hit) {
            if (n == 1) printf("alloc_fail_loop: %s: no allocation\n", what);
            else
                printf("alloc_fail_loop: %s: %s failure of allocation 1..%lu handled, ran clean at N = %lu\n",
                       what, persist ? "persistent" : "one-shot", n - 1, n);
            return n;
        }
    }
    fail_msg("alloc_fail_loop: %s still meets the failure at N = %lu: raise max_n?", what, max_n);
    return 0;
}
