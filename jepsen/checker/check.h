/* jepsen: the checkers that judge a history (register, set, counter, session,
 * queue).
 *
 * Every checker has the same shape:
 *
 *   int jcheck_<workload>(const struct jhist *h, const struct jbudget *b,
 *                         struct jresult *out);
 *
 * It returns 0 with a verdict in *out, or an error code when the history
 * itself is malformed or memory runs out: KEEL_EMALFORMED (an event that
 * breaks the pairing rules of history.h, an f the workload does not know,
 * a value of the wrong shape) or KEEL_ENOMEM, with out->errmsg saying which
 * event and why, and out->verdict JV_UNKNOWN. In both cases *out owns memory
 * afterwards: call jresult_free(). h is only read; checkers keep no state, so
 * several may run on different threads.
 *
 * Every checker splits the history by key and judges each key alone. For the
 * register that is P-compositionality (Herlihy & Wing 1990, "locality"): a
 * history is linearizable iff each object's sub-history is. The verdict is
 * JV_INVALID if any key is, else JV_UNKNOWN if any key could not be decided
 * (budget exhausted, no final read), else JV_VALID. The report names the
 * first invalid key in key order and the operations around the violation.
 *
 * Operations are named in reports by jpair_describe() (history.h): "#12" is
 * the event number of the invoke, the line number in a runner-written file. */
#ifndef KEEL_JEPSEN_CHECK_H
#define KEEL_JEPSEN_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "jepsen/checker/history.h"
#include "keel/error.h"

enum jverdict { JV_VALID, JV_INVALID, JV_UNKNOWN };

enum jworkload { JW_REGISTER, JW_SET, JW_COUNTER, JW_SESSION, JW_QUEUE };

/* Limits of a check. Pass NULL for JBUDGET_DEFAULT.
 *   seconds     wall-clock time for the whole check; <= 0: no limit. Only the
 *               register checker can take long; it looks at the clock every
 *               few thousand search steps, so it overruns by milliseconds.
 *   max_states  the most configurations (linearized set, register value) the
 *               register search may remember for one key: the memory bound,
 *               at 45 to 90 bytes each (more when hundreds of ops overlap),
 *               so under 0.5 GB by default; 0: none.
 *   margin_ns   session checker only: slack for clock granularity between
 *               the client's monotonic clock and the server's expiry clock
 *               (ms resolution, different clock sources). A key is required
 *               to exist only until margin_ns before its earliest possible
 *               expiry. Exact clocks would be 0; 50 ms is the default.
 *   late_ns     session only: how long past its latest possible expiry (plus
 *               margin_ns) a key may still be seen: the election timeout
 *               (600 ms, keeld's default), what a leader change may cost.
 *   info_ns     session only: an operation whose outcome is unknown is
 *               assumed to apply within info_ns after the client gave up,
 *               or never, for the "outlived" rule (check_session.c); < 0
 *               assumes nothing (such a setter then bounds nothing). 10 s. */
struct jbudget
{
    double seconds;
    size_t max_states;
    int64_t margin_ns;
    int64_t late_ns;
    int64_t info_ns;
};

#define JBUDGET_DEFAULT ((struct jbudget){60.0, 5000000, 50000000, 600000000, 10000000000})

struct jresult
{
    enum jverdict verdict;
    char *report;     /* owned; human-readable, several lines; never NULL after 0 */
    char *bad_key;    /* owned; the first invalid (else undecided) key, or NULL */
    size_t ops_checked; /* operations (invokes) the verdict covers */
    size_t keys;        /* keys seen */
    size_t bad_keys;    /* keys found invalid */
    size_t unknown_keys; /* keys left undecided */
    char errmsg[KEEL_ERRMSG_SIZE]; /* why a checker returned an error */
};

/* Register linearizability (lin*.c): read, write, cas, del on independent
 * registers that start absent. Wing & Gong's search with Lowe's memoization,
 * as in Porcupine: fail ops are dropped, info ops may take effect at any
 * point after their invoke or never. See lin.c for the model. */
int jcheck_register(const struct jhist *h, const struct jbudget *b, struct jresult *out);

/* Set (check_set.c): f add (value: element), final f read (value: array).
 * Lost: an add acknowledged before the final read was invoked, missing from
 * it. Unexpected: an element no add (ok, info or open) invoked before the
 * read completed could have put there. Recovered: info adds that are present.
 * A key with adds but no ok read is unknown. */
int jcheck_set(const struct jhist *h, const struct jbudget *b, struct jresult *out);

/* Counter (check_counter.c): f add (value: integer delta), f read (integer,
 * null = 0). Every ok read must lie between the sum of the adds certainly
 * applied before it (ok, completed before the read was invoked) plus every
 * possible negative delta, and that sum plus every possible positive delta;
 * possible means ok or info (or open) and invoked before the read completed. */
int jcheck_counter(const struct jhist *h, const struct jbudget *b, struct jresult *out);

/* Session (check_session.c): f write (SET PX ttl_ms), refresh (PEXPIRE
 * ttl_ms, ok value true/false), read. The rules, per key, are in
 * check_session.c: a key never vanishes before its ttl, never outlives it
 * by more than late_ns, never comes back once gone without a new write, and
 * a read only returns a value written and not since overwritten. */
int jcheck_session(const struct jhist *h, const struct jbudget *b, struct jresult *out);

/* Queue (check_queue.c): f enqueue (value: string), dequeue (ok value: the
 * string taken, or null when empty; the last empty one is the drain). No
 * value dequeued twice, none dequeued that no enqueue (ok, info or open,
 * invoked before) could have put there, and every ok enqueue acknowledged
 * before the drain dequeued, except as many as there are uncertain (info)
 * dequeues, which may have taken a value nobody saw. An unseen ok enqueue
 * acknowledged after the last empty dequeue began (no drain covers it):
 * unknown. */
int jcheck_queue(const struct jhist *h, const struct jbudget *b, struct jresult *out);

/* Dispatch on the workload. */
int jcheck(enum jworkload w, const struct jhist *h, const struct jbudget *b,
           struct jresult *out);

/* "register", "set", ...; never NULL. Parse: 0 or KEEL_EINVAL. */
const char *jworkload_name(enum jworkload w);
int jworkload_parse(const char *s, enum jworkload *out);

/* "valid", "invalid", "unknown"; never NULL. */
const char *jverdict_name(enum jverdict v);

/* Free the result's strings and reset it to an empty JV_UNKNOWN result
 * (safe to call twice, and on a zeroed struct). */
void jresult_free(struct jresult *r);

/* Print the result as one JSON line:
 *   {"valid": true|false|"unknown", "workload": "register", "ops": 123,
 *    "keys": 20, "bad_keys": 1, "bad_key": "k3"|null, "report": "..."}
 * Errors: KEEL_ENOMEM, KEEL_EIO. */
int jresult_json(const struct jresult *r, enum jworkload w, FILE *f);

#endif /* KEEL_JEPSEN_CHECK_H */
