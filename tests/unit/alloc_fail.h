/* tests: make the Nth allocation of the code under test fail, as SQLite's
 * fault-injection loops do (arm N = 1, 2, 3, ... until the operation runs
 * to the end without meeting the failure; every run must end in a clean
 * error or the right result).
 *
 * How: a test executable that links alloc_fail.c is linked with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=strndup
 * (keel_alloc_test in tests/unit/CMakeLists.txt). The linker then sends
 * every call to those functions made from an object of that link -- the
 * test itself and Keel's static libraries (keel_storage, keel_store,
 * keel_raft, keel_server, libkeel's static archive) -- to __wrap_malloc
 * and so on below; calls made inside shared libraries (libc, libuv, LMDB,
 * libraft, hiredis, cmocka) are resolved by the dynamic linker and are not
 * seen, so those keep working and are not what a loop tests. A missing
 * --wrap fails the link (__real_malloc undefined), it cannot pass silently.
 *
 * With ASan (the Sanitize build) __real_malloc is the executable's
 * reference to the symbol `malloc`, which the dynamic linker binds to
 * ASan's interceptor (libasan comes first in the link), so every
 * allocation that does not fail is still ASan's and LeakSanitizer sees
 * what a failing path leaks. test_alloc_fail checks that this holds.
 *
 * Threads: the counter is per thread. Only allocations made by the thread
 * that armed it count and fail, so a helper thread (a fake server, libuv's
 * pool) neither shifts N nor fails by surprise. Not re-entrant across
 * threads in any other way: arm, run, disarm on one thread. */
#ifndef KEEL_TESTS_ALLOC_FAIL_H
#define KEEL_TESTS_ALLOC_FAIL_H

#include <stdbool.h>

/* From now on, on this thread: allocations 1 .. n-1 succeed, allocation n
 * fails (returns NULL, errno ENOMEM), and so do all later ones if persist,
 * else they succeed again (one-shot). n >= 1. Resets the counts. */
void alloc_fail_arm(unsigned long n);
void alloc_fail_arm_persist(unsigned long n);
/* Stop failing; the counts stay readable until the next arm. */
void alloc_fail_disarm(void);
/* How many allocations failed since the last arm. */
unsigned long alloc_fail_hits(void);
/* How many allocations were asked for since the last arm (failed or not). */
unsigned long alloc_fail_calls(void);

/* One SQLite-style loop: for N = 1, 2, ..., arm N (one-shot, or persistent),
 * run op(arg), disarm, then check(arg, rc, n, hit) where rc is op's result
 * and hit says whether the armed failure was met. Stops after the first N
 * whose run met no failure (op ran to its end) and returns that N, which is
 * one more than the number of allocations op makes. Fails the test past
 * max_n. check does the asserting and the cleaning up of a run. */
unsigned long alloc_fail_loop(const char *what, bool persist, unsigned long max_n, int (*op)(void *arg),
                              void (*check)(void *arg, int rc, unsigned long n, bool hit), void *arg);

#endif /* KEEL_TESTS_ALLOC_FAIL_H */
