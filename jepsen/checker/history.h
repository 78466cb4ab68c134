/* jepsen: the operation history, its JSON Lines and EDN forms, and pairing.
 *
 * A history is the list of events the runner saw, in the order it saw them.
 * Each operation appears twice: an `invoke` when a client process starts it,
 * then one completion from the same process:
 *
 *   ok    it happened, and the completion carries its result;
 *   fail  it certainly did not happen (the server refused it before applying);
 *   info  unknown: a timeout, -UNCERTAIN, a lost connection. It may have
 *         taken effect at any moment after its invoke, or never.
 *
 * A process has at most one operation outstanding; after an `info` it never
 * issues again (the runner continues under a fresh process id), so the
 * checkers can treat an info operation as open until the end of time.
 * jhist_pairs() enforces both rules.
 *
 * JSON Lines, one event per line, fields in this order:
 *
 *   {"process": 3, "type": "invoke", "f": "write", "key": "k1", "value": "v7",
 *    "time": 123456789}
 *
 *   process  integer            type  "invoke" | "ok" | "fail" | "info"
 *   f        see enum jop_f     key   string: the register, set or counter name
 *   value    any JSON; null when absent (reads carry null on the invoke)
 *   ttl_ms   integer, optional (session workload: SET PX / PEXPIRE argument)
 *   time     integer, monotonic nanoseconds of the client's clock
 *   error    string, optional (why an op failed or is uncertain)
 *
 * Values per workload:
 *   register  read: null on invoke, the value read (string or null) on ok;
 *             write: the string; del: null; cas: [expected, new], expected
 *             null meaning "the key is absent". An ok cas applied; a cas
 *             whose precondition did not hold completes as fail.
 *   set       add: the element (string); read: array of element strings.
 *   counter   add: integer delta; read: integer (null: absent, i.e. 0).
 *   session   write: string, with ttl_ms; refresh: null, with ttl_ms, and on
 *             ok true if the key existed, false if not; read: string or null.
 *   queue     enqueue: the value (string); dequeue: null on invoke, on ok the
 *             value taken (string) or null (the queue was empty).
 * Unknown fields are ignored on reading.
 *
 * Values are kept as canonical JSON text (compact, object keys sorted), so
 * that two equal values have equal text and a checker can compare them with
 * strcmp(). NULL means JSON null. */
#ifndef KEEL_JEPSEN_HISTORY_H
#define KEEL_JEPSEN_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "keel/error.h"

enum jop_type { JOP_INVOKE, JOP_OK, JOP_FAIL, JOP_INFO };

enum jop_f { JF_READ, JF_WRITE, JF_CAS, JF_DEL, JF_ADD, JF_REFRESH, JF_ENQUEUE, JF_DEQUEUE };

/* One event. In a struct jhist every pointer is owned by the history; a jop
 * passed to jhist_add() or jop_write_jsonl() is only borrowed. */
struct jop
{
    int64_t process;
    enum jop_type type;
    enum jop_f f;
    char *key;      /* NULL only on a completion (it inherits its invoke's) */
    char *value;    /* canonical JSON text; NULL for null */
    int64_t ttl_ms; /* -1: field absent */
    int64_t time;   /* monotonic ns */
    char *error;    /* NULL: field absent */
};

struct jhist
{
    struct jop *ops;
    size_t n, cap;
};

/* "invoke", "write", ...; never NULL ("?" for a value out of range). */
const char *jop_type_name(enum jop_type t);
const char *jop_f_name(enum jop_f f);
/* Parse a name; 0 or KEEL_EINVAL. */
int jop_type_parse(const char *s, enum jop_type *out);
int jop_f_parse(const char *s, enum jop_f *out);

/* ---- building values (canonical JSON text, malloc'd, NULL on ENOMEM) ---- */

/* A JSON string, or JSON null when s is NULL. */
char *jval_str(const char *s);
/* The cas pair [expected, new]; either may be NULL for null. */
char *jval_cas(const char *expected, const char *new_value);
char *jval_int(int64_t v);
char *jval_bool(bool v);
/* An array of n strings, in the given order. */
char *jval_str_array(const char *const *v, size_t n);
/* Split a cas pair [expected, new] into canonical texts (NULL for null,
 * else malloc'd, owned by the caller). 0, KEEL_EINVAL (not a two-element
 * array) or KEEL_ENOMEM; on error both outputs are NULL. */
int jval_cas_split(const char *json, char **expected, char **new_value);
/* Canonicalise arbitrary JSON text. 0, KEEL_EINVAL (not JSON) or KEEL_ENOMEM;
 * *out is NULL for JSON null, else malloc'd text owned by the caller. */
int jval_canon(const char *json, char **out);

/* ---- the history -------------------------------------------------------- */

void jhist_init(struct jhist *h);
/* Frees every event's strings and the array; leaves h empty and reusable. */
void jhist_free(struct jhist *h);
/* Append a copy of *op (its strings are duplicated; op->value is copied as
 * given, not re-canonicalised). 0 or KEEL_ENOMEM, after which h is unchanged. */
int jhist_add(struct jhist *h, const struct jop *op);

/* Write one event as one JSON line (with its '\n'), fields in the documented
 * order. The caller flushes: the runner streams events through this. Errors:
 * KEEL_EINVAL if op->value is not JSON, KEEL_ENOMEM, KEEL_EIO. */
int jop_write_jsonl(FILE *f, const struct jop *op);
int jhist_write_jsonl(const struct jhist *h, FILE *f);

/* Append every event of a JSON Lines stream to h. Blank lines are skipped.
 * Errors: KEEL_EMALFORMED ("line 12: ..." in errmsg) for a line that is not
 * a JSON object with valid fields, KEEL_ENOMEM, KEEL_EIO. On error, the
 * events of the lines before the bad one stay in h. */
int jhist_read_jsonl(struct jhist *h, FILE *f, char *errmsg, size_t size);

/* Write the history as Jepsen/Knossos EDN, one map per line:
 *
 *   {:process 3, :type :invoke, :f :write, :value ["k1" "v7"], :time 123456789}
 *
 * Every workload uses Jepsen's `independent` convention: the value is a
 * [key value] tuple, so Knossos's independent checker splits the history by
 * key exactly as ours does (a cas is ["k1" ["v0" "v1"]], a read invoke
 * ["k1" nil]). JSON null is nil, arrays are vectors, objects are maps with
 * string keys. When present, ttl_ms appears as :ttl-ms after :value, and
 * error as :error after :time. Errors: KEEL_EINVAL (a value that is not
 * JSON), KEEL_EIO. */
int jhist_write_edn(const struct jhist *h, FILE *f);

/* ---- operations: an invoke and its completion --------------------------- */

#define JPAIR_NONE ((size_t)-1)

struct jpair
{
    const char *key;        /* the invoke's key, owned by the history */
    size_t inv;             /* index of the invoke event in h->ops */
    size_t done;            /* index of the completion, JPAIR_NONE if none */
    enum jop_type outcome;  /* JOP_OK, JOP_FAIL or JOP_INFO */
    int64_t t_inv;          /* invoke time */
    int64_t t_ret;          /* completion time; INT64_MAX for info */
};

/* Match every invoke with its completion. An invoke still open when the
 * history ends is an info (outcome JOP_INFO, done JPAIR_NONE). The result is
 * sorted by key (strcmp), then invoke time, then event index, so each key's
 * operations are one run. *out is malloc'd, owned by the caller (free());
 * its key pointers stay valid until jhist_free(h).
 * Errors: KEEL_EMALFORMED with errmsg naming the event (1-based, equal to the
 * line number of a runner-written file) for: an invoke without a key, a
 * completion with no open invoke, a second invoke while one is open or after
 * an info, a completion whose f or key differs from its invoke, or whose time
 * is before it; KEEL_ENOMEM. */
int jhist_pairs(const struct jhist *h, struct jpair **out, size_t *n, char *errmsg,
                size_t size);

/* One line describing an operation for reports, without newline:
 *   #12 process 3 cas ["v0","v1"] -> ok  [invoke 1000, ok 2500]
 * (#12 is the 1-based event number of the invoke.) Errors: KEEL_EIO. */
int jpair_describe(FILE *f, const struct jhist *h, const struct jpair *p);

#endif /* KEEL_JEPSEN_HISTORY_H */
