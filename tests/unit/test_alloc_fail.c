/* tests: the allocation-failure hook itself (alloc_fail.h): that the Nth
 * allocation fails and only it (or every later one, persistent), that every
 * wrapped function is wrapped, that other threads are left alone, and, in
 * the Sanitize build, that the allocations which succeed are still ASan's
 * (so LeakSanitizer sees what an error path forgets to free). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "unit/alloc_fail.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif
#ifdef HAVE_ASAN
/* <sanitizer/allocator_interface.h> (clang's; gcc ships the symbol only). */
int __sanitizer_get_ownership(const volatile void *p);
#endif

/* The compiler may drop a malloc whose result is unused: keep them. */
static void *volatile sink;

static void one_shot_fails_only_the_nth(void **state)
{
    (void)state;
    alloc_fail_arm(2);
    void *a = malloc(16);
    errno = 0;
    void *b = malloc(16);
    int err = errno;
    void *c = malloc(16);
    alloc_fail_disarm();
    assert_non_null(a);
    assert_null(b);
    assert_int_equal(err, ENOMEM);
    assert_non_null(c);
    assert_int_equal(alloc_fail_calls(), 3);
    assert_int_equal(alloc_fail_hits(), 1);
    free(a);
    free(c);
    /* Disarmed: nothing fails and nothing is counted. */
    sink = malloc(8);
    assert_non_null(sink);
    free(sink);
    assert_int_equal(alloc_fail_calls(), 3);
}

static void persistent_fails_from_the_nth_on(void **state)
{
    (void)state;
    alloc_fail_arm_persist(2);
    void *a = malloc(16);
    void *b = calloc(1, 16);
    void *c = malloc(16);
    alloc_fail_disarm();
    assert_non_null(a);
    assert_null(b);
    assert_null(c);
    assert_int_equal(alloc_fail_hits(), 2);
    free(a);
}

static void every_function_is_wrapped(void **state)
{
    (void)state;
    char *p = malloc(4);
    assert_non_null(p);
    memcpy(p, "abc", 4);
    alloc_fail_arm(1);
    sink = malloc(1);
    assert_null(sink);
    alloc_fail_arm(1);
    sink = calloc(2, 8);
    assert_null(sink);
    alloc_fail_arm(1);
    char *q = realloc(p, 4096);
    assert_null(q);
    if (q != NULL) p = q; /* (not reached; tells gcc's -Wuse-after-free p lives) */
    assert_string_equal(p, "abc"); /* a failed realloc keeps the block */
    alloc_fail_arm(1);
    sink = strdup(p);
    assert_null(sink);
    alloc_fail_arm(1);
    sink = strndup(p, 2);
    assert_null(sink);
    alloc_fail_disarm();
    assert_int_equal(alloc_fail_hits(), 1);
    free(p);
}

static void *other_thread(void *arg)
{
    (void)arg;
    void *p = malloc(32);
    return p;
}

static void other_threads_are_left_alone(void **state)
{
    (void)state;
    pthread_t t;
    void *got = NULL;
    alloc_fail_arm_persist(1);
    /* pthread_create allocates inside libc (not wrapped); the thread's own
     * malloc goes through the wrapper but is not this thread's to fail. */
    int rc = pthread_create(&t, NULL, other_thread, NULL);
    if (rc == 0) pthread_join(t, &got);
    alloc_fail_disarm();
    assert_int_equal(rc, 0);
    assert_non_null(got);
    assert_int_equal(alloc_fail_calls(), 0);
    free(got);
}

/* What the loop driver does, on an op that makes three allocations and
 * frees them all on every path. */
struct three
{
    void *p[3];
    unsigned long runs;
};

static int three_op(void *arg)
{
    struct three *t = arg;
    for (int i = 0; i < 3; i++) {
        t->p[i] = malloc(8);
        if (t->p[i] == NULL) return -1;
    }
    return 0;
}

static void three_check(void *arg, int rc, unsigned long n, bool hit)
{
    struct three *t = arg;
    t->runs++;
    assert_int_equal(rc, hit ? -1 : 0);
    assert_int_equal(hit, n <= 3);
    for (int i = 0; i < 3; i++) {
        free(t->p[i]);
        t->p[i] = NULL;
    }
}

static void loop_stops_at_the_first_clean_run(void **state)
{
    (void)state;
    struct three t = {{NULL}, 0};
    assert_int_equal(alloc_fail_loop("three mallocs", false, 10, three_op, three_check, &t), 4);
    assert_int_equal(t.runs, 4);
}

static void asan_still_owns_the_allocations(void **state)
{
    (void)state;
#ifdef HAVE_ASAN
    /* __real_malloc is the executable's reference to `malloc`, bound at run
     * time to ASan's interceptor: the block is ASan's, so LeakSanitizer
     * tracks it. A wrapper that called libc's allocator directly would
     * fail this (and make every leak on a failure path invisible). */
    alloc_fail_arm(100);
    void *p = malloc(24);
    char *s = strdup("x");
    void *r = realloc(NULL, 24);
    alloc_fail_disarm();
    assert_true(__sanitizer_get_ownership(p));
    assert_true(__sanitizer_get_ownership(s));
    assert_true(__sanitizer_get_ownership(r));
    free(p);
    free(s);
    free(r);
#else
    skip();
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_shot_fails_only_the_nth),
        cmocka_unit_test(persistent_fails_from_the_nth_on),
        cmocka_unit_test(every_function_is_wrapped),
        cmocka_unit_test(other_threads_are_left_alone),
        cmocka_unit_test(loop_stops_at_the_first_clean_run),
        cmocka_unit_test(asan_still_owns_the_allocations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
