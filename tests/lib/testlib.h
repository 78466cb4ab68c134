/* tests/lib: the helpers every test suite shares (tests/unit, tests/cluster,
 * tests/integration, jepsen/tests), written once. keel_testlib links only
 * cmocka: a suite's own harness (tests/integration/kc.h for real keeld
 * processes, tests/cluster/uvnode.h and cluster.h for raft nodes) stays with
 * its suite, beside the dependencies it carries. keel_test() links this
 * library into every test. Helpers that check something fail the running
 * cmocka test (assert_*), so they are called from a test's thread only. */
#ifndef KEEL_TESTS_LIB_TESTLIB_H
#define KEEL_TESTS_LIB_TESTLIB_H

#include <stdint.h>
#include <sys/types.h>

/* ---- scratch files (files.c) --------------------------------------------- */

/* A fresh directory $KEEL_TEST_TMP/<tag>-XXXXXX (/tmp when unset): every
 * test writes below one. Returns a malloc'd path, NULL if it cannot. */
char *test_mkdtemp(const char *tag);
/* rm -rf dir, then free the path; NULL is ignored. */
void test_rmdtemp(char *dir);
/* Create or truncate path and write text to it; the test fails if any of
 * open, write or close does (a fixture that was not written is no fixture). */
void test_write_text(const char *path, const char *text);

/* ---- deterministic random numbers (rng.c) ---------------------------------
 * Seeded by the test, never by the clock, so a failure replays with the
 * same numbers. The state is the caller's and must not be 0. */

/* Marsaglia's xorshift64 (shifts 13, 7, 17): advances *state and returns
 * its new value. */
uint64_t test_xorshift64(uint64_t *state);
/* xorshift64* (shifts 12, 25, 27, then times 0x2545F4914F6CDD1D): better
 * low bits, for picking bytes and sizes. Advances *state, returns the
 * scrambled value. */
uint64_t test_xorshift64s(uint64_t *state);

/* ---- child processes (child.c) -------------------------------------------- */

/* Start prog with argv (argv[0] first, NULL last), its stdout written to
 * out_path, stderr the test's. Returns the child's pid; the test fails if
 * fork does. A child that cannot open out_path or exec prog exits 127. */
pid_t test_spawn(const char *out_path, const char *prog, char *const argv[]);
/* If *pid > 0: SIGKILL it, reap it, set *pid to 0. For teardowns, so that a
 * test that failed half-way leaves no process behind (stopped by pid). */
void test_kill(pid_t *pid);

#endif /* KEEL_TESTS_LIB_TESTLIB_H */
