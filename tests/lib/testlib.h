/* tests/lib: the helpers every test suite shares (tests/unit, tests/cluster,
 * tests/integration, jepsen/tests), written once. keel_testlib links only
 * cmocka: a suite's own harness (tests/integration/kc.h for real keeld
 * processes, tests/cluster/uvnode.h and cluster.h for raft nodes) stays with
 * its suite, beside the dependencies it carries. keel_test() links this
 * library into every test. Helpers that check something fail the running
 * cmocka test (assert_*), so they are called from a test's thread only. */
#ifndef KEEL_TESTS_LIB_TESTLIB_H
#define KEEL_TESTS_LIB_TESTLIB_H

/* ---- scratch files (files.c) --------------------------------------------- */

/* A fresh directory $KEEL_TEST_TMP/<tag>-XXXXXX (/tmp when unset): every
 * test writes below one. Returns a malloc'd path, NULL if it cannot. */
char *test_mkdtemp(const char *tag);
/* rm -rf dir, then free the path; NULL is ignored. */
void test_rmdtemp(char *dir);
/* Create or truncate path and write text to it; the test fails if any of
 * open, write or close does (a fixture that was not written is no fixture). */
void test_write_text(const char *path, const char *text);

#endif /* KEEL_TESTS_LIB_TESTLIB_H */
