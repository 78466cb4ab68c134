/* tests: small helpers shared by the cmocka tests (scratch directories). */
#ifndef KEEL_TESTS_TESTUTIL_H
#define KEEL_TESTS_TESTUTIL_H

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int testutil_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Make a fresh scratch directory; returns a malloc'd path. */
static inline char *test_mkdtemp(const char *tag)
{
    const char *base = getenv("KEEL_TEST_TMP");
    char tmpl[PATH_MAX];
    if (base == NULL || base[0] == 0) base = "/tmp";
    mkdir(base, 0700);
    snprintf(tmpl, sizeof tmpl, "%s/%s-XXXXXX", base, tag);
    char *dir = mkdtemp(tmpl);
    return dir ? strdup(dir) : NULL;
}

/* rm -rf dir and free the path. */
static inline void test_rmdtemp(char *dir)
{
    if (dir == NULL) return;
    nftw(dir, testutil_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

#endif /* KEEL_TESTS_TESTUTIL_H */
