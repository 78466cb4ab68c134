/* jepsen: what the checkers share, behind check.h's API. Not for the runner
 * or the CLI: they see only check.h.
 *
 *   check_result.c   check_finish(): the end of every checker, register
 *                    (lin.c) included: verdict, summary line, kept report
 *   check_keys.c     check_keys(): the per-key driver of the set, counter
 *                    and session checkers, and their timed-value sweeps
 *   the rest here    one-line helpers on a history's operations
 *
 * Contract of a result under construction: the checker has zeroed *out
 * (verdict JV_UNKNOWN), counted keys and verdicts into it and kept one key's
 * report; check_finish() then owns that report and the final verdict. */
#ifndef KEEL_JEPSEN_CHECK_INTERNAL_H
#define KEEL_JEPSEN_CHECK_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "jepsen/checker/check.h"

#define CHECK_SHOW 10 /* operations or elements listed per kind of violation */

/* ---- finishing a result (check_result.c) -------------------------------- */

/* Writes a checker's summary line (with its '\n') at the top of the report;
 * out already has its verdict and counts. */
typedef void (*check_head_fn)(FILE *f, const struct jresult *out, const void *ctx);

/* The tail every checker shares. rv is the checker's result so far; first
 * is the kept key report (malloc'd or NULL) and is freed here in every case.
 * On rv == 0: set out->verdict from the counts (invalid keys, else undecided
 * keys, else valid) and make out->report the summary line written by
 * head(f, out, ctx) followed by first. On error, or if the report cannot be
 * made (KEEL_ENOMEM): out->verdict is JV_UNKNOWN and out->errmsg says "out of
 * memory" if it was still empty. Returns rv, or that KEEL_ENOMEM. */
int check_finish(struct jresult *out, int rv, char *first, check_head_fn head,
                 const void *ctx);

/* ---- the per-key driver (check_keys.c) ---------------------------------- */

/* A checker for one key: sets *bad (a violation) or *undecided, may write
 * the key's report to rep, adds to its stats, returns 0 or a KEEL_* error
 * with errmsg set. p is the key's operations, sorted by invoke time. */
typedef int (*check_key_fn)(void *stats, const struct jhist *h, const struct jpair *p,
                            size_t n, const struct jbudget *b, bool *bad, bool *undecided,
                            FILE *rep, char *errmsg, size_t size);
/* Prints the checker's own totals (no newline) after the key counts. */
typedef void (*check_stats_fn)(const void *stats, FILE *f);

/* Pair the history, run check on each key's run of operations, keep the
 * first bad key's report (else the first undecided one), and finish *out
 * with the summary line "<name>: N keys, N ops: ...; <summary>". The
 * contract of check.h's jcheck_<workload>(). */
int check_keys(const char *name, check_key_fn check, check_stats_fn summary, void *stats,
               const struct jhist *h, const struct jbudget *b, struct jresult *out);

/* Timed values: sorted by t, then turned into running maxima or minima. */
struct tv
{
    int64_t t, v;
    size_t i; /* the operation the v came from */
};

/* qsort order: by t, then by i. */
int check_tv_cmp(const void *a, const void *b);
/* Sort by t; then v[j] = max (or min) of v over [0, j] (or [j, n)). */
void check_tv_running(struct tv *a, size_t n, bool max);
/* How many of the sorted a have t < x (or t <= x). */
size_t check_count_before(const struct tv *a, size_t n, int64_t x, bool or_equal);

/* ---- operations --------------------------------------------------------- *
 * static inline: each is a line or two, called all over the checkers. */

/* Parse value text (NULL: null); a new reference, NULL if not JSON. */
static inline json_t *load(const char *text)
{
    return text != NULL ? json_loads(text, JSON_DECODE_ANY, NULL) : json_null();
}

static inline int malformed(char *errmsg, size_t size, const struct jpair *p,
                            const char *what)
{
    snprintf(errmsg, size, "event %zu: %s", p->inv + 1, what);
    return KEEL_EMALFORMED;
}

static inline const struct jop *inv_of(const struct jhist *h, const struct jpair *p)
{
    return &h->ops[p->inv];
}

/* The value of an operation's ok completion (NULL for null). */
static inline const char *result_of(const struct jhist *h, const struct jpair *p)
{
    return h->ops[p->done].value;
}

/* One indented report line naming the operation. */
static inline void describe(FILE *f, const struct jhist *h, const struct jpair *p)
{
    fputs("  ", f);
    jpair_describe(f, h, p);
    fputc('\n', f);
}

#endif /* KEEL_JEPSEN_CHECK_INTERNAL_H */
