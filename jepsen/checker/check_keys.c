/* jepsen: the per-key driver of the set, counter and session checkers, and
 * the timed-value sweeps they are built from.
 *
 * Each checker judges one key at a time (the key names a set, a counter or a
 * session) through one driver, shaped like the register checker: pair the
 * history, walk each key's run of operations, keep the first bad key's report.
 * All three are sweeps over sorted operations with prefix sums or maxima, so
 * they run in O(n log n) and need no budget.
 *
 * Real-time order is judged conservatively everywhere: A is before B only if
 * A completed strictly before B was invoked (info ops never complete). */
#include <stdlib.h>
#include <string.h>

#include "jepsen/checker/check_internal.h"

/* ---- the driver --------------------------------------------------------- */

/* check_finish()'s summary line for check_keys(). */
struct keys_head
{
    const char *name;
    check_stats_fn summary;
    const void *stats;
};

static void write_head(FILE *f, const struct jresult *out, const void *ctx)
{
    const struct keys_head *x = ctx;
    fprintf(f, "%s: %zu keys, %zu ops: %zu invalid, %zu undecided; ", x->name, out->keys,
            out->ops_checked, out->bad_keys, out->unknown_keys);
    x->summary(x->stats, f);
    fputc('\n', f);
}

int check_keys(const char *name, check_key_fn check, check_stats_fn summary, void *stats,
               const struct jhist *h, const struct jbudget *b, struct jresult *out)
{
    struct jbudget bud = b != NULL ? *b : JBUDGET_DEFAULT;
    struct keys_head head = {name, summary, stats};
    struct jpair *pairs;
    char *first = NULL, *rep;
    size_t np, len;
    FILE *f;
    int rv;
    memset(out, 0, sizeof *out);
    out->verdict = JV_UNKNOWN;
    if ((rv = jhist_pairs(h, &pairs, &np, out->errmsg, sizeof out->errmsg)) != 0) return rv;
    for (size_t g = 0, end; g < np && rv == 0; g = end) {
        bool bad = false, undecided = false;
        for (end = g; end < np && strcmp(pairs[end].key, pairs[g].key) == 0; end++) {
        }
        out->keys++;
        out->ops_checked += end - g;
        if ((f = open_memstream(&rep, &len)) == NULL) {
            rv = KEEL_ENOMEM;
            break;
        }
        fprintf(f, "key \"%s\": %zu ops\n", pairs[g].key, end - g);
        rv = check(stats, h, &pairs[g], end - g, &bud, &bad, &undecided, f, out->errmsg,
                   sizeof out->errmsg);
        if (fclose(f) != 0 && rv == 0) rv = KEEL_ENOMEM;
        out->bad_keys += bad;
        out->unknown_keys += !bad && undecided;
        /* Keep the first invalid key's report, else the first undecided one. */
        if (rv == 0 && (bad || undecided) &&
            (first == NULL || (bad && out->bad_keys == 1))) {
            free(first);
            free(out->bad_key);
            first = rep;
            rep = NULL;
            if ((out->bad_key = strdup(pairs[g].key)) == NULL) rv = KEEL_ENOMEM;
        }
        free(rep);
    }
    free(pairs);
    return check_finish(out, rv, first, write_head, &head);
}

/* ---- timed values ------------------------------------------------------- */

int check_tv_cmp(const void *a, const void *b)
{
    const struct tv *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

void check_tv_running(struct tv *a, size_t n, bool max)
{
    qsort(a, n, sizeof *a, check_tv_cmp);
    for (size_t j = 1; max && j < n; j++) {
        if (a[j - 1].v > a[j].v) {
            a[j].v = a[j - 1].v;
            a[j].i = a[j - 1].i;
        }
    }
    for (size_t j = n; !max && j-- > 1;) {
        if (a[j].v < a[j - 1].v) {
            a[j - 1].v = a[j].v;
            a[j - 1].i = a[j].i;
        }
    }
}

size_t check_count_before(const struct tv *a, size_t n, int64_t x, bool or_equal)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid].t < x || (or_equal && a[mid].t == x)) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}
