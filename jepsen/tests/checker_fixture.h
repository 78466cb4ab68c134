/* jepsen/tests: helpers shared by the checker tests (test_checker*.c):
 * building histories one event or one operation at a time, and running a
 * checker on them (JEPSEN_TEST_VERBOSE=1 prints every report). */
#ifndef KEEL_TESTS_CHECKER_FIXTURE_H
#define KEEL_TESTS_CHECKER_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "jepsen/checker/check.h"
#include "jepsen/checker/history.h"

#define Q(s) "\"" s "\"" /* a JSON string literal */
#define OPEN (-1)        /* an op that never completes */
#define MS 1000000LL     /* ns */
void event(struct jhist *h, int64_t proc, enum jop_type t, enum jop_f f, const char *key,
           const char *value, int64_t ttl_ms, int64_t time);
void op_ttl(struct jhist *h, int64_t proc, enum jop_f f, const char *key, const char *in,
            int outcome, const char *out, int64_t t0, int64_t t1, int64_t ttl);
void op(struct jhist *h, int64_t proc, enum jop_f f, const char *key, const char *in,
        int outcome, const char *out, int64_t t0, int64_t t1);
bool verbose(void);
enum jverdict run(enum jworkload w, struct jhist *h, const struct jbudget *b,
                  struct jresult *r);
enum jverdict verdict(enum jworkload w, struct jhist *h);
#define assert_verdict(w, h, want) assert_string_equal(jverdict_name(verdict((w), (h))), \
                                                       jverdict_name(want))
void assert_contains(const char *s, const char *part);

#endif /* KEEL_TESTS_CHECKER_FIXTURE_H */
