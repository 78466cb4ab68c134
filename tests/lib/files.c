/* tests/lib: scratch directories and fixture files. See testlib.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/lib/testlib.h"

char *test_mkdtemp(const char *tag)
{
    const char *base = getenv("KEEL_TEST_TMP");
    char tmpl[PATH_MAX];
    if (base == NULL || base[0] == 0) base = "/tmp";
    mkdir(base, 0700);
    snprintf(tmpl, sizeof tmpl, "%s/%s-XXXXXX", base, tag);
    char *dir = mkdtemp(tmpl);
    return dir ? strdup(dir) : NULL;
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void test_rmdtemp(char *dir)
{
    if (dir == NULL) return;
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

void test_write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}
