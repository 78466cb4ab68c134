/* jepsen: the queue checker (see jcheck_queue() in check.h). Each key is a
 * list used as a queue: values go in with enqueue (LPUSH) and come out with
 * dequeue (BRPOP/RPOP); the runner ends with a drain, dequeues on a healed
 * cluster until one returns empty. Order is not judged (several clients and
 * several nodes race), only that every value goes out exactly once.
 *
 * The rules, per key:
 *   duplicate   a value returned by two ok dequeues: invalid.
 *   unexpected  a value an ok dequeue returned that no enqueue could have
 *               put there: none of that value whose outcome is not fail and
 *               that was invoked before the dequeue completed. A value whose
 *               only enqueue failed definitely is unexpected: invalid.
 *   unseen      an ok enqueue that completed before the last empty ok
 *               dequeue (the drain's end) was invoked, and that no ok
 *               dequeue returned. An uncertain dequeue (info, or never
 *               completed) may have taken one value that nobody then saw,
 *               so with U uncertain dequeues on the key, up to U unseen
 *               values are "possibly lost by an uncertain dequeue" and the
 *               key stays valid; more than U unseen are lost: invalid. (As
 *               Jepsen's total-queue checker, which counts a value as lost
 *               only when it cannot have gone out by an indeterminate
 *               dequeue; we count them instead of naming which.)
 *   undrained   an unseen ok enqueue that completed after the last empty ok
 *               dequeue was invoked (or with no empty dequeue at all) may
 *               still be queued: the key is unknown (unless it is invalid).
 * Info enqueues may or may not come out ("recovered" counts those that did). */
#include <stdlib.h>
#include <string.h>

#include "jepsen/checker/check_internal.h"

struct queue_stats
{
    size_t enqueues, ok, dequeued, lost, possibly_lost, unexpected, duplicates, recovered,
        uncertain_dequeues, undrained;
};

struct qval
{
    const char *s; /* borrowed from a json_t kept alive by the caller */
    const struct jpair *p;
};

static int qval_cmp(const void *a, const void *b)
{
    const struct qval *x = a, *y = b;
    int c = strcmp(x->s, y->s);
    return c != 0 ? c : x->p < y->p ? -1 : x->p > y->p;
}

/* The first index in sorted v[0..n) whose string is s, else n. */
static size_t find(const struct qval *v, size_t n, const char *s)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(v[mid].s, s) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && strcmp(v[lo].s, s) == 0 ? lo : n;
}

/* Judge one queue: enq and deq (the ok dequeues that returned a value) are
 * sorted by value; drain is the last ok empty dequeue or NULL. */
static void queue_judge(struct queue_stats *st, const struct jhist *h, const struct qval *enq,
                        size_t ne, const struct qval *deq, size_t nd, const struct jpair *drain,
                        size_t uncertain, bool *bad, bool *undecided, FILE *rep)
{
    size_t dups = 0, unexpected = 0, unseen = 0, pending = 0;
    for (size_t i = 0; i < nd; i++) {
        if (i > 0 && strcmp(deq[i - 1].s, deq[i].s) == 0) {
            if (dups++ == 0) fprintf(rep, "duplicate (dequeued twice):\n");
            if (dups <= CHECK_SHOW) describe(rep, h, deq[i - 1].p), describe(rep, h, deq[i].p);
            continue;
        }
        bool explained = false;
        for (size_t k = find(enq, ne, deq[i].s); k < ne && strcmp(enq[k].s, deq[i].s) == 0; k++)
            explained |= enq[k].p->outcome != JOP_FAIL && enq[k].p->t_inv <= deq[i].p->t_ret;
        if (explained) continue;
        if (unexpected++ == 0) fprintf(rep, "unexpected (no enqueue could have put it there):\n");
        if (unexpected <= CHECK_SHOW) describe(rep, h, deq[i].p);
    }
    for (size_t i = 0; i < ne; i++) {
        const struct jpair *p = enq[i].p;
        bool seen = find(deq, nd, enq[i].s) < nd;
        st->ok += p->outcome == JOP_OK;
        st->recovered += p->outcome == JOP_INFO && seen;
        if (p->outcome != JOP_OK || seen) continue;
        if (drain == NULL || p->t_ret >= drain->t_inv) {
            if (pending++ == 0) fprintf(rep, "undrained (acknowledged after the last empty dequeue):\n");
            if (pending <= CHECK_SHOW) describe(rep, h, p);
        } else {
            if (unseen++ == 0) fprintf(rep, "unseen (acknowledged, never dequeued):\n");
            if (unseen <= CHECK_SHOW) describe(rep, h, p);
        }
    }
    if (drain != NULL) {
        fprintf(rep, "drained (last empty dequeue):\n");
        describe(rep, h, drain);
    }
    size_t lost = unseen > uncertain ? unseen : 0;
    if (unseen > 0 && unseen <= uncertain)
        fprintf(rep, "%zu unseen, possibly taken by %zu uncertain dequeues\n", unseen, uncertain);
    if (lost > 0)
        fprintf(rep, "%zu unseen, more than the %zu uncertain dequeues could have taken: lost\n",
                unseen, uncertain);
    if (pending > 0) fprintf(rep, "undecided: %zu acknowledged values no drain covers\n", pending);
    st->dequeued += nd;
    st->duplicates += dups;
    st->unexpected += unexpected;
    st->lost += lost;
    st->possibly_lost += lost == 0 ? unseen : 0;
    st->undrained += pending;
    st->uncertain_dequeues += uncertain;
    *bad = dups > 0 || unexpected > 0 || lost > 0;
    *undecided = !*bad && pending > 0;
}

static int queue_key(void *stats, const struct jhist *h, const struct jpair *p, size_t n,
                     const struct jbudget *b, bool *bad, bool *undecided, FILE *rep,
                     char *errmsg, size_t size)
{
    struct queue_stats *st = stats;
    const struct jpair *drain = NULL;
    struct qval *enq = malloc((n + 1) * sizeof *enq), *deq = malloc((n + 1) * sizeof *deq);
    json_t **vals = calloc(2 * n + 1, sizeof *vals);
    size_t ne = 0, nd = 0, nv = 0, uncertain = 0;
    int rv = 0;
    if (enq == NULL || deq == NULL || vals == NULL) rv = KEEL_ENOMEM;
    for (size_t i = 0; i < n && rv == 0; i++) {
        const struct jop *inv = inv_of(h, &p[i]);
        json_t *v;
        if (inv->f == JF_DEQUEUE) {
            if (p[i].outcome == JOP_INFO) uncertain++;
            if (p[i].outcome != JOP_OK) continue;
            if (result_of(h, &p[i]) == NULL) {
                drain = drain == NULL || p[i].t_inv > drain->t_inv ? &p[i] : drain;
                continue;
            }
            if ((v = vals[nv++] = load(result_of(h, &p[i]))) == NULL || !json_is_string(v)) {
                rv = malformed(errmsg, size, &p[i], "a dequeue returns a string or null");
            } else {
                deq[nd].s = json_string_value(v);
                deq[nd++].p = &p[i];
            }
        } else if (inv->f != JF_ENQUEUE) {
            rv = malformed(errmsg, size, &p[i], "not a queue operation (enqueue or dequeue)");
        } else if ((v = vals[nv++] = load(inv->value)) == NULL || !json_is_string(v)) {
            rv = malformed(errmsg, size, &p[i], "an enqueued value must be a string");
        } else {
            enq[ne].s = json_string_value(v);
            enq[ne++].p = &p[i];
        }
    }
    st->enqueues += ne;
    if (rv == 0) {
        qsort(enq, ne, sizeof *enq, qval_cmp);
        qsort(deq, nd, sizeof *deq, qval_cmp);
        queue_judge(st, h, enq, ne, deq, nd, drain, uncertain, bad, undecided, rep);
    }
    for (size_t i = 0; vals != NULL && i < nv; i++) json_decref(vals[i]);
    free(vals);
    free(enq);
    free(deq);
    (void)b;
    return rv;
}

static void queue_summary(const void *stats, FILE *f)
{
    const struct queue_stats *s = stats;
    fprintf(f, "%zu enqueues, %zu ok, %zu dequeued, %zu lost, %zu possibly lost by %zu "
               "uncertain dequeues, %zu unexpected, %zu duplicates, %zu recovered (info, dequeued), "
               "%zu undrained",
            s->enqueues, s->ok, s->dequeued, s->lost, s->possibly_lost, s->uncertain_dequeues,
            s->unexpected, s->duplicates, s->recovered, s->undrained);
}

int jcheck_queue(const struct jhist *h, const struct jbudget *b, struct jresult *out)
{
    struct queue_stats st = {0};
    return check_keys("queue", queue_key, queue_summary, &st, h, b, out);
}
