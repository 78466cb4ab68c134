/* jepsen/tests: the checker tests' shared helpers (checker_fixture.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jepsen/checker/check.h"
#include "jepsen/checker/history.h"
#include "tests/lib/testlib.h"
#include "jepsen/tests/checker_fixture.h"

/* ---- building histories ------------------------------------------------- */

void event(struct jhist *h, int64_t proc, enum jop_type t, enum jop_f f, const char *key,
                  const char *value, int64_t ttl_ms, int64_t time)
{
    struct jop op = {proc, t, f, (char *)key, (char *)value, ttl_ms, time, NULL};
    assert_int_equal(jhist_add(h, &op), 0);
}

/* One operation: its invoke at t0 and, unless OPEN, its completion at t1.
 * `in` is the invoke's value; `out` the completion's for reads, refreshes
 * and dequeues (others repeat `in`, as Jepsen does). A process's operations
 * must be added in its order; different processes may interleave freely,
 * since the checkers order by time. */
void op_ttl(struct jhist *h, int64_t proc, enum jop_f f, const char *key, const char *in,
                   int outcome, const char *out, int64_t t0, int64_t t1, int64_t ttl)
{
    bool result = f == JF_READ || f == JF_REFRESH || f == JF_DEQUEUE;
    event(h, proc, JOP_INVOKE, f, key, f == JF_READ || f == JF_DEQUEUE ? NULL : in, ttl, t0);
    if (outcome != OPEN)
        event(h, proc, (enum jop_type)outcome, f, key, result ? out : in, ttl, t1);
}

void op(struct jhist *h, int64_t proc, enum jop_f f, const char *key, const char *in,
               int outcome, const char *out, int64_t t0, int64_t t1)
{
    op_ttl(h, proc, f, key, in, outcome, out, t0, t1, -1);
}

bool verbose(void)
{
    const char *v = getenv("JEPSEN_TEST_VERBOSE");
    return v != NULL && v[0] == '1';
}

/* Check h with budget b (NULL: default), keep the result in *r, free h. */
enum jverdict run(enum jworkload w, struct jhist *h, const struct jbudget *b,
                         struct jresult *r)
{
    int rv = jcheck(w, h, b, r);
    if (rv != 0) fail_msg("jcheck: %d: %s", rv, r->errmsg);
    assert_non_null(r->report);
    if (verbose()) print_message("%s: %s\n", jverdict_name(r->verdict), r->report);
    jhist_free(h);
    return r->verdict;
}

/* Check, free everything, return the verdict. */
enum jverdict verdict(enum jworkload w, struct jhist *h)
{
    struct jresult r;
    enum jverdict v = run(w, h, NULL, &r);
    jresult_free(&r);
    return v;
}


void assert_contains(const char *s, const char *part)
{
    if (s == NULL || strstr(s, part) == NULL)
        fail_msg("expected \"%s\" in:\n%s", part, s ? s : "(null)");
}
