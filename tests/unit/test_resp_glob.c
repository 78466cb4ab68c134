/* tests: glob matching (api/resp/resp_glob.h), Redis's stringmatchlen:
 * cases, pathological patterns that must stay fast, and a fuzz loop against a
 * reference matcher. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/resp/resp.h"
#include "api/resp/resp_glob.h"
#include "tests/lib/slice.h"
#include "tests/lib/testlib.h"
#include "tests/unit/resp_fixture.h"

/* ---- glob --------------------------------------------------------------- */

static bool gm(const char *pattern, const char *s)
{
    return resp_glob_match(pattern, strlen(pattern), (const uint8_t *)s, strlen(s));
}

static void test_glob(void **state)
{
    (void)state;
    assert_true(gm("*", ""));
    assert_true(gm("*", "anything"));
    assert_true(gm("**", "x"));
    assert_true(gm("", ""));
    assert_false(gm("", "a"));
    assert_false(gm("?", ""));
    assert_true(gm("h?llo", "hello"));
    assert_true(gm("h?llo", "hallo"));
    assert_false(gm("h?llo", "hllo"));
    assert_false(gm("??", "a"));
    assert_true(gm("h*llo", "hllo"));
    assert_true(gm("h*llo", "heeeello"));
    assert_false(gm("h*llo", "hellox"));
    assert_true(gm("*a", "ba"));
    assert_true(gm("a*", "ab"));
    assert_true(gm("*b*", "abc"));
    assert_true(gm("a*b*c", "aXbYc"));
    assert_false(gm("a*b*c", "aXcYb"));
    assert_true(gm("user:*:name", "user:42:name"));
    assert_true(gm("h[ae]llo", "hello"));
    assert_true(gm("h[ae]llo", "hallo"));
    assert_false(gm("h[ae]llo", "hillo"));
    assert_true(gm("h[^e]llo", "hallo"));
    assert_false(gm("h[^e]llo", "hello"));
    assert_true(gm("h[a-b]llo", "hallo"));
    assert_true(gm("h[a-b]llo", "hbllo"));
    assert_false(gm("h[a-b]llo", "hcllo"));
    assert_true(gm("[a-z]", "m"));
    assert_false(gm("[a-z]", "M"));
    assert_true(gm("[z-a]", "m")); /* reversed range */
    assert_false(gm("[z-a]", "M"));
    assert_true(gm("[^a-c]x", "dx"));
    assert_false(gm("[^a-c]x", "bx"));
    assert_true(gm("[a-]", "-"));
    assert_true(gm("[\\]]", "]"));
    assert_true(gm("[\\-]", "-"));
    assert_false(gm("[\\-]", "\\"));
    assert_true(gm("[*?]", "*"));
    assert_false(gm("[*?]", "a"));
    assert_true(gm("h\\*llo", "h*llo"));
    assert_false(gm("h\\*llo", "hello"));
    assert_true(gm("h\\?llo", "h?llo"));
    assert_false(gm("h\\?llo", "hello"));
    assert_true(gm("\\[a]", "[a]"));
    assert_false(gm("\\[a]", "a"));
    assert_true(gm("ab\\", "ab\\")); /* a trailing backslash is literal */
    /* An unterminated '[' is an ordinary character. */
    assert_true(gm("[abc", "[abc"));
    assert_false(gm("[abc", "a"));
    assert_true(gm("a[", "a["));
    assert_true(gm("*[", "xx["));
    assert_false(gm("a[", "ab"));
    assert_true(gm("[^", "[^"));

    /* Binary strings: NUL is an ordinary byte on both sides. */
    assert_true(resp_glob_match("a\0*", 3, (const uint8_t *)"a\0bc", 4));
    assert_false(resp_glob_match("a\0*", 3, (const uint8_t *)"a", 1));
    assert_true(resp_glob_match("a?c", 3, (const uint8_t *)"a\0c", 3));
    assert_false(resp_glob_match("a\0b", 3, (const uint8_t *)"a\0c", 3));
    assert_true(resp_glob_match("[\0-\x02]", 5, (const uint8_t *)"\x01", 1));
    assert_true(resp_glob_match("*\xff", 2, (const uint8_t *)"ab\xff", 3));
    assert_false(resp_glob_match("a", 1, (const uint8_t *)"a\0", 2));
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Patterns that take exponential time in a naive backtracking matcher. */
static void test_glob_pathological(void **state)
{
    (void)state;
    size_t n = 10000;
    uint8_t *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, 'a', n);
    double t0 = seconds();
    static const char p1[] = "a*a*a*a*a*a*a*b";
    assert_false(resp_glob_match(p1, sizeof p1 - 1, s, n));
    static const char p2[] = "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b*";
    assert_false(resp_glob_match(p2, sizeof p2 - 1, s, n));
    static const char p3[] = "*[a]*?*[^b]*a*a*a*a*a*a*a*a*a*a*\\b";
    assert_false(resp_glob_match(p3, sizeof p3 - 1, s, n));
    s[n] = 'b';
    assert_true(resp_glob_match(p1, sizeof p1 - 1, s, n + 1));
    double dt = seconds() - t0;
    if (dt > 2.0) fail_msg("pathological patterns took %.2f s", dt);
    free(s);
}

/* Redis gives up past 1000 nested '*' groups (CVE-2022-36021): such a
 * pattern matches nothing, as keyspace.tcl's "very long nested loops"
 * expects of KEYS; 1000 still match. Stars in a class or escaped are
 * characters, and a trailing '*' opens no level. */
static void test_glob_nesting_limit(void **state)
{
    (void)state;
    size_t n = 50000;
    uint8_t *s = malloc(n);
    char *p = malloc(2 * n + 8);
    assert_non_null(s);
    assert_non_null(p);
    memset(s, 'a', n);
    for (size_t i = 0; i < n; i++) memcpy(p + 2 * i, "*?", 2);
    assert_false(resp_glob_match(p, 2 * n, s, n)); /* Redis's regression test */
    for (size_t k = 999; k <= 1001; k++) {
        for (size_t i = 0; i < k; i++) memcpy(p + 2 * i, "*a", 2);
        assert_true(resp_glob_match(p, 2 * k, s, k) == (k <= 1000));
        p[2 * k] = '*'; /* a trailing '*' changes nothing */
        assert_true(resp_glob_match(p, 2 * k + 1, s, k) == (k <= 1000));
    }
    for (size_t i = 0; i < 1001; i++) memcpy(p + 4 * i, "[*]a", 4);
    uint8_t *t2 = malloc(2 * 1001);
    assert_non_null(t2);
    for (size_t i = 0; i < 1001; i++) memcpy(t2 + 2 * i, "*a", 2);
    assert_true(resp_glob_match(p, 4 * 1001, t2, 2 * 1001));
    for (size_t i = 0; i < 1001; i++) memcpy(p + 3 * i, "\\*a", 3);
    assert_true(resp_glob_match(p, 3 * 1001, t2, 2 * 1001));
    free(t2);
    free(p);
    free(s);
}

/* A direct recursive statement of the same rules, for small inputs. */
static bool ref_class(const char *p, size_t pl, uint8_t c, size_t *used)
{
    size_t i = 1;
    bool neg = i < pl && p[i] == '^', match = false;
    if (neg) i++;
    while (i < pl && p[i] != ']') {
        if (p[i] == '\\' && i + 1 < pl) {
            match |= (uint8_t)p[i + 1] == c;
            i += 2;
        } else if (i + 2 < pl && p[i + 1] == '-' && p[i + 2] != ']') {
            uint8_t a = (uint8_t)p[i], z = (uint8_t)p[i + 2];
            match |= a <= z ? c >= a && c <= z : c >= z && c <= a;
            i += 3;
        } else {
            match |= (uint8_t)p[i] == c;
            i++;
        }
    }
    *used = i < pl ? i + 1 : 0;
    return neg != match;
}

static bool ref_match(const char *p, size_t pl, const uint8_t *s, size_t sl_)
{
    if (pl == 0) return sl_ == 0;
    if (p[0] == '*') return ref_match(p + 1, pl - 1, s, sl_) || (sl_ > 0 && ref_match(p, pl, s + 1, sl_ - 1));
    if (sl_ == 0) return false;
    if (p[0] == '?') return ref_match(p + 1, pl - 1, s + 1, sl_ - 1);
    if (p[0] == '[') {
        size_t used;
        bool m = ref_class(p, pl, s[0], &used);
        if (used == 0) return s[0] == '[' && ref_match(p + 1, pl - 1, s + 1, sl_ - 1);
        return m && ref_match(p + used, pl - used, s + 1, sl_ - 1);
    }
    if (p[0] == '\\' && pl > 1) return (uint8_t)p[1] == s[0] && ref_match(p + 2, pl - 2, s + 1, sl_ - 1);
    return (uint8_t)p[0] == s[0] && ref_match(p + 1, pl - 1, s + 1, sl_ - 1);
}

static void test_glob_fuzz(void **state)
{
    (void)state;
    static const char pchars[] = "ab*?[]^-\\";
    static const char schars[] = "ab[]-\\*";
    char p[10];
    uint8_t s[10];
    rng_seed(6);
    for (int iter = 0; iter < 200000; iter++) {
        size_t pl = rng_below(sizeof p + 1), n = rng_below(sizeof s + 1);
        for (size_t i = 0; i < pl; i++) p[i] = pchars[rng_below(sizeof pchars - 1)];
        for (size_t i = 0; i < n; i++) s[i] = (uint8_t)schars[rng_below(sizeof schars - 1)];
        char *pc = (char *)dup_exact(p, pl);
        uint8_t *sc = dup_exact(s, n);
        bool got = resp_glob_match(pc, pl, sc, n), want = ref_match(p, pl, s, n);
        if (got != want)
            fail_msg("glob \"%.*s\" on \"%.*s\": %d, want %d", (int)pl, p, (int)n, (const char *)s, got, want);
        free(pc);
        free(sc);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glob),
        cmocka_unit_test(test_glob_pathological),
        cmocka_unit_test(test_glob_nesting_limit),
        cmocka_unit_test(test_glob_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
