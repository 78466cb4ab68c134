/* jepsen: the counter checker (see jcheck_counter() in check.h). Each key is
 * a counter; every ok read is bounded by prefix sums of the adds certainly
 * and possibly applied before it. */
#include <inttypes.h>
#include <stdlib.h>

#include "jepsen/checker/check_internal.h"

struct counter_stats
{
    size_t reads, bad_reads, ok_adds, info_adds;
};

/* Prefix sums over sorted adds: all[j] covers the first j of them. */
struct sums
{
    int64_t all, pos, neg;
};

static int sums_build(struct sums *s, const struct tv *a, size_t n)
{
    s[0] = (struct sums){0, 0, 0};
    for (size_t j = 0; j < n; j++) {
        int64_t d = a[j].v;
        s[j + 1] = s[j];
        if (__builtin_add_overflow(s[j].all, d, &s[j + 1].all) ||
            __builtin_add_overflow(d > 0 ? s[j].pos : s[j].neg, d,
                                   d > 0 ? &s[j + 1].pos : &s[j + 1].neg))
            return KEEL_EOVERFLOW;
    }
    return 0;
}

static int counter_key(void *stats, const struct jhist *h, const struct jpair *p, size_t n,
                       const struct jbudget *b, bool *bad, bool *undecided, FILE *rep,
                       char *errmsg, size_t size)
{
    struct counter_stats *st = stats;
    struct tv *done = malloc((n + 1) * sizeof *done), *all = malloc((n + 1) * sizeof *all);
    struct sums *sd = malloc((n + 2) * sizeof *sd), *sa = malloc((n + 2) * sizeof *sa);
    size_t nd = 0, na = 0, reads = 0, badr = 0;
    int rv = 0;
    if (!done || !all || !sd || !sa) rv = KEEL_ENOMEM;
    for (size_t i = 0; i < n && rv == 0; i++) {
        const struct jop *inv = inv_of(h, &p[i]);
        json_t *v;
        int64_t d;
        if (inv->f == JF_READ) continue;
        if (inv->f != JF_ADD) {
            rv = malformed(errmsg, size, &p[i], "not a counter operation (add or read)");
            break;
        }
        v = load(inv->value);
        if (!json_is_integer(v)) {
            json_decref(v);
            rv = malformed(errmsg, size, &p[i], "delta not an integer");
            break;
        }
        d = json_integer_value(v);
        json_decref(v);
        /* certain once acknowledged; possible from the invoke on, unless failed */
        if (p[i].outcome == JOP_OK) done[nd++] = (struct tv){p[i].t_ret, d, i};
        if (p[i].outcome != JOP_FAIL) all[na++] = (struct tv){p[i].t_inv, d, i};
        st->ok_adds += p[i].outcome == JOP_OK;
        st->info_adds += p[i].outcome == JOP_INFO;
    }
    if (rv == 0) {
        qsort(done, nd, sizeof *done, check_tv_cmp);
        qsort(all, na, sizeof *all, check_tv_cmp);
        if (sums_build(sd, done, nd) != 0 || sums_build(sa, all, na) != 0)
            rv = malformed(errmsg, size, &p[0], "the sums of this key's deltas overflow");
    }
    for (size_t i = 0; i < n && rv == 0; i++) {
        const struct jpair *r = &p[i];
        struct sums c, a;
        int64_t got = 0, lo, hi;
        json_t *v;
        if (inv_of(h, r)->f != JF_READ || r->outcome != JOP_OK) continue;
        v = load(result_of(h, r));
        if (json_is_integer(v)) {
            got = json_integer_value(v);
        } else if (!json_is_null(v)) { /* null: the counter does not exist yet */
            rv = malformed(errmsg, size, r, "a counter read must return an integer or null");
        }
        json_decref(v);
        if (rv != 0) break;
        reads++;
        c = sd[check_count_before(done, nd, r->t_inv, false)];
        a = sa[check_count_before(all, na, r->t_ret, true)];
        /* Adds certainly applied are a subset of those possibly applied. */
        lo = c.all + (a.neg - c.neg);
        hi = c.all + (a.pos - c.pos);
        if (got >= lo && got <= hi) continue;
        if (badr++ < CHECK_SHOW) {
            fprintf(rep, "read %" PRId64 ", outside [%" PRId64 ", %" PRId64 "] (%" PRId64
                         " certainly added before it):\n",
                    got, lo, hi, c.all);
            describe(rep, h, r);
        }
    }
    st->reads += reads;
    st->bad_reads += badr;
    *bad = badr > 0;
    if (rv == 0 && reads == 0) {
        fprintf(rep, "undecided: no ok read of this counter\n");
        *undecided = true;
    }
    free(done);
    free(all);
    free(sd);
    free(sa);
    (void)b;
    return rv;
}

static void counter_summary(const void *stats, FILE *f)
{
    const struct counter_stats *s = stats;
    fprintf(f, "%zu reads, %zu out of bounds; %zu ok adds, %zu info adds", s->reads,
            s->bad_reads, s->ok_adds, s->info_adds);
}

int jcheck_counter(const struct jhist *h, const struct jbudget *b, struct jresult *out)
{
    struct counter_stats st = {0};
    return check_keys("counter", counter_key, counter_summary, &st, h, b, out);
}
