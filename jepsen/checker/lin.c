/* jepsen: register linearizability, Wing & Gong's search with Lowe's memo.
 *
 * The history is split by key (P-compositionality) and each key is checked
 * alone. The model is a register that starts absent:
 *   read ok v      legal iff the register holds v (null: absent)
 *   write v        sets v;  del sets absent
 *   cas [e, n] ok  legal iff the register holds e (null: absent); sets n
 * A fail op certainly did not happen and is dropped; so is a read that did not
 * complete ok, as it constrains nothing. Any other op whose outcome is info
 * (or that never completed) may take effect at any point after its invoke, or
 * never: its return is placed at +infinity (as Knossos does). "Never" needs no
 * special case, because such an op can always be linearized after every op
 * that completed, where nobody observes it; an info cas therefore applies iff
 * its precondition holds wherever it is placed.
 *
 * Two prunings keep crashed clients from making the search exponential:
 *   - an info write, del or cas whose written value no ok read returns and no
 *     cas expects is dropped: moving it to the end changes no observation;
 *   - a read (or ok cas) of a value that no write ever wrote is reported at
 *     once, with no search.
 *
 * The search is Lowe's refinement of Wing & Gong (as in Porcupine): calls
 * and returns sorted by time in a doubly linked list (calls before returns at
 * equal times, so touching intervals count as concurrent); repeatedly
 * linearize the first call whose op is legal in the current state, lift it
 * and its return out of the list, and backtrack when a return is reached
 * whose op is not linearized. A memo of every configuration (set of
 * linearized ops, register value) visited prunes revisits.
 *
 * The set is stored compactly: its lowest unset bit, its highest set bit and
 * the words in between. Ops are numbered by invoke time and the search keeps
 * every op before the window linearized, so the window is about as wide as
 * the history is concurrent, not as long as it is.
 *
 * This file is the driver, one key and one history at a time; the rest is in
 * lin_model.c, lin_search.c and lin_report.c (lin_internal.h). */
#include <stdlib.h>
#include <string.h>

#include "jepsen/checker/check_internal.h"
#include "jepsen/checker/lin_internal.h"

/* ---- checking a key and a history --------------------------------------- */

/* check_finish()'s summary line for jcheck_register(). */
struct register_head
{
    size_t states; /* configurations the searches remembered, all keys */
    double t0;     /* when the check began, lin_now_s() */
};

static void write_head(FILE *f, const struct jresult *out, const void *ctx)
{
    const struct register_head *x = ctx;
    fprintf(f, "register: %zu keys, %zu ops: %zu not linearizable, %zu undecided "
               "(%zu configurations, %.3f s)\n",
            out->keys, out->ops_checked, out->bad_keys, out->unknown_keys, x->states,
            lin_now_s() - x->t0);
}

/* Judge one key: *verdict is S_VALID, S_INVALID, S_TIME or S_STATES, with a
 * report (malloc'd) for all but S_VALID. */
static int key_check(struct key *k, const struct limits *lim, int *verdict, char **report,
                     size_t *states, char *errmsg, size_t size)
{
    struct search s;
    size_t checked = 0;
    int rv = 0;
    *verdict = S_VALID;
    *report = NULL;
    if ((k->all = calloc(k->np, sizeof *k->all)) == NULL) return KEEL_ENOMEM;
    for (size_t i = 0; i < k->np && rv == 0; i++) rv = lin_op_load(k, i, errmsg, size);
    if (rv != 0 || (rv = lin_key_intern(k)) != 0) return rv;
    if ((rv = lin_search_init(&s, k)) != 0) goto out;
    for (size_t i = 0; i < k->np; i++) {
        if (k->all[i].kind == L_DROP) continue;
        checked++;
        if (k->all[i].never && *verdict == S_VALID) *verdict = S_INVALID;
    }
    if (*verdict == S_VALID) *verdict = lin_search_run(&s, lim);
    *states += s.memo.n;
    if (*verdict == S_NOMEM) rv = KEEL_ENOMEM;
    if (rv != 0 || *verdict == S_VALID) goto out;
    rv = lin_report(k, &s, *verdict, checked, report);
out:
    lin_search_free(&s);
    if (rv == KEEL_ENOMEM) snprintf(errmsg, size, "key \"%s\": out of memory", k->p[0].key);
    return rv;
}

int jcheck_register(const struct jhist *h, const struct jbudget *b, struct jresult *out)
{
    struct jbudget bud = b != NULL ? *b : JBUDGET_DEFAULT;
    struct limits lim = {bud.seconds > 0 ? lin_now_s() + bud.seconds : 0, bud.max_states};
    struct jpair *pairs;
    char *first = NULL, *rep;
    size_t np, states = 0;
    int rv;
    struct register_head head = {0, lin_now_s()};
    memset(out, 0, sizeof *out);
    out->verdict = JV_UNKNOWN;
    if ((rv = jhist_pairs(h, &pairs, &np, out->errmsg, sizeof out->errmsg)) != 0) return rv;
    for (size_t g = 0, end; g < np && rv == 0; g = end) {
        struct key k = {.h = h, .p = &pairs[g]};
        int verdict = S_TIME;
        for (end = g; end < np && strcmp(pairs[end].key, pairs[g].key) == 0; end++) {
        }
        k.np = end - g;
        out->keys++;
        out->ops_checked += k.np;
        rep = NULL;
        if (lim.deadline == 0 || lin_now_s() < lim.deadline) {
            rv = key_check(&k, &lim, &verdict, &rep, &states, out->errmsg, sizeof out->errmsg);
        }
        lin_key_free(&k);
        if (rv != 0) {
            free(rep);
            break;
        }
        if (verdict == S_VALID) {
            free(rep);
            continue;
        }
        if (verdict == S_INVALID) out->bad_keys++;
        if (verdict != S_INVALID) out->unknown_keys++;
        /* Keep the first invalid key's report, else the first undecided one. */
        if (first == NULL || (verdict == S_INVALID && out->bad_keys == 1)) {
            free(first);
            free(out->bad_key);
            out->bad_key = strdup(k.p[0].key);
            first = rep != NULL ? rep : lin_report_skipped(k.p[0].key);
            if (first == NULL || out->bad_key == NULL) rv = KEEL_ENOMEM;
        } else {
            free(rep);
        }
    }
    free(pairs);
    head.states = states;
    return check_finish(out, rv, first, write_head, &head);
}
