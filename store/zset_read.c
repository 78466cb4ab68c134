/* store: sorted-set reads for the API's read commands: a member's score, its
 * rank, and ranges by score or rank, walked on the score index (storage.h)
 * from one seek or one rank descent. */
#include <math.h>
#include <string.h>

#include "store/internal.h"

int keel_read_zset(struct keel_read *rd, struct keel_slice key, struct keel_coll *coll)
{
    struct keel_record rec;
    int rc = keel_read_get(rd, key, &rec);
    if (rc != 0) return rc;
    if (rec.type != KEEL_TYPE_ZSET) return KEEL_EWRONGTYPE;
    return storage_coll_decode(&rec, coll);
}

int keel_read_zscore(struct keel_read *rd, const struct keel_coll *coll, struct keel_slice member,
                     double *score)
{
    return store_zscore(&rd->txn, coll->id, member, score);
}

int store_zrank(struct keel_txn *txn, const struct keel_coll *coll, double score,
                struct keel_slice member, bool reverse, uint64_t *rank)
{
    uint64_t r;
    int rc = storage_zindex_rank(txn, coll->id, score, member, &r);
    if (rc != 0) return rc;
    if (r >= coll->count) return KEEL_ECORRUPT;
    *rank = reverse ? coll->count - 1 - r : r;
    return 0;
}

int keel_read_zrank(struct keel_read *rd, const struct keel_coll *coll, double score,
                    struct keel_slice member, bool reverse, uint64_t *rank)
{
    return store_zrank(&rd->txn, coll, score, member, reverse, rank);
}

int keel_read_zcount(struct keel_read *rd, const struct keel_coll *coll, const struct keel_zrange *z,
                     uint64_t *n)
{
    uint64_t lo, hi;
    *n = 0;
    if (coll->id == 0 || keel_zrange_empty(z)) return 0;
    int rc = storage_zindex_below(&rd->txn, coll->id, z->min, z->minex, &lo);
    if (rc == 0) rc = storage_zindex_below(&rd->txn, coll->id, z->max, !z->maxex, &hi);
    if (rc == 0 && hi > lo) *n = hi - lo;
    return rc;
}

bool keel_zrange_empty(const struct keel_zrange *z)
{
    return z->min > z->max || (z->min == z->max && (z->minex || z->maxex));
}

/* The walk's own stop (KEEL_* codes are positive). */
#define STOP (-1)

struct walk
{
    struct keel_txn *txn;
    uint64_t id;
    const struct keel_zrange *z;
    bool reverse;
    int64_t skip;
    int64_t left; /* < 0: no limit */
    storage_zindex_cb cb;
    void *arg;
};

static int walk_cb(void *arg, double score, struct keel_slice m)
{
    struct walk *w = arg;
    const struct keel_zrange *z = w->z;
    /* Past the far end: done. At the near end, an exclusive bound's equal
     * scores are stepped over. */
    if (w->reverse ? (score < z->min || (z->minex && score == z->min))
                   : (score > z->max || (z->maxex && score == z->max)))
        return STOP;
    if (w->reverse ? (z->maxex && score == z->max) : (z->minex && score == z->min)) return 0;
    if (w->skip > 0) {
        w->skip--;
        return 0;
    }
    if (w->left == 0) return STOP;
    if (w->left > 0) w->left--;
    /* The index keeps -0 as 0 (one place in the order); the member's own
     * score says which it was, as Redis replies it. */
    if (score == 0) {
        int zrc = store_zscore(w->txn, w->id, m, &score);
        if (zrc != 0) return zrc == KEEL_ENOTFOUND ? KEEL_ECORRUPT : zrc;
    }
    return w->cb(w->arg, score, m);
}

int keel_read_zrange_score(struct keel_read *rd, const struct keel_coll *coll,
                           const struct keel_zrange *z, bool reverse, int64_t offset,
                           int64_t limit, storage_zindex_cb cb, void *arg)
{
    return store_zrange_walk(&rd->txn, coll, z, reverse, offset, limit, cb, arg);
}

int store_zrange_walk(struct keel_txn *txn, const struct keel_coll *coll, const struct keel_zrange *z,
                      bool reverse, int64_t offset, int64_t limit, storage_zindex_cb cb, void *arg)
{
    if (coll->id == 0 || keel_zrange_empty(z) || offset < 0 || limit == 0) return 0;
    if ((uint64_t)offset >= coll->count) return 0;
    struct walk w = {txn, coll->id, z, reverse, offset, limit < 0 ? -1 : limit, cb, arg};
    int rc;
    if (offset == 0) {
        rc = storage_zindex_walk(txn, coll->id, reverse ? z->max : z->min, reverse, walk_cb, &w);
        return rc == STOP ? 0 : rc;
    }
    /* An offset: the rank of the near end plus the offset is where the walk
     * starts, found in O(log n) instead of stepping over `offset` entries. */
    uint64_t near, at;
    rc = reverse ? storage_zindex_below(txn, coll->id, z->max, !z->maxex, &near)
                 : storage_zindex_below(txn, coll->id, z->min, z->minex, &near);
    if (rc != 0) return rc;
    if (reverse) {
        if (near <= (uint64_t)offset) return 0;
        at = near - 1 - (uint64_t)offset;
    } else {
        at = near + (uint64_t)offset;
    }
    w.skip = 0;
    rc = storage_zindex_walk_rank(txn, coll->id, at, reverse, walk_cb, &w);
    return rc == STOP ? 0 : rc;
}

/* store_zselect's walk: BYLEX filters here with its own offset and limit,
 * as Redis walks from the first member in range to the last (with equal
 * scores, BYLEX's premise, that is byte order). */
struct select
{
    struct keel_zres *out;
    const struct keel_zsel *sel;
    bool started;
    int64_t skip, left;
};

static int select_cb(void *arg, double score, struct keel_slice m)
{
    struct select *f = arg;
    const struct keel_zsel *sel = f->sel;
    if (sel->by == KEEL_ZSEL_LEX) {
        const struct keel_lex_end *near = sel->rev ? &sel->lmax : &sel->lmin;
        const struct keel_lex_end *far = sel->rev ? &sel->lmin : &sel->lmax;
        bool in_near = sel->rev ? keel_lex_lte_max(m.p, m.n, near) : keel_lex_gte_min(m.p, m.n, near);
        if (!f->started && !in_near) return 0;
        f->started = true;
        if (!(sel->rev ? keel_lex_gte_min(m.p, m.n, far) : keel_lex_lte_max(m.p, m.n, far))) return STOP;
        if (f->skip < 0) return STOP; /* a negative offset: nothing, as Redis */
        if (f->skip > 0) {
            f->skip--;
            return 0;
        }
        if (f->left == 0) return STOP;
        if (f->left > 0) f->left--;
    }
    return keel_zres_add(f->out, m, score);
}

int store_zselect(struct keel_txn *txn, const struct keel_coll *coll, const struct keel_zsel *sel,
                  struct keel_zres *out)
{
    static const struct keel_zrange all = {-INFINITY, INFINITY, false, false};
    struct select f = {out, sel, false, sel->offset, sel->limit};
    int64_t n = (int64_t)coll->count, start = sel->start, end = sel->end;
    switch (sel->by) {
        case KEEL_ZSEL_SCORE:
            return store_zrange_walk(txn, coll, &sel->z, sel->rev, sel->offset, sel->limit, select_cb, &f);
        case KEEL_ZSEL_LEX:
            /* "+" as min or "-" as max: nothing (Redis's zslIsInLexRange). */
            if (keel_lex_empty(&sel->lmin, &sel->lmax) || (sel->offset > 0 && sel->offset >= n)) return 0;
            return store_zrange_walk(txn, coll, &all, sel->rev, 0, -1, select_cb, &f);
        default:
            if (start < 0) start += n;
            if (end < 0) end += n;
            if (start < 0) start = 0;
            if (end >= n) end = n - 1;
            if (start > end || start >= n) return 0;
            return store_zrange_walk(txn, coll, &all, sel->rev, start, end - start + 1, select_cb, &f);
    }
}

int keel_read_zselect(struct keel_read *rd, const struct keel_coll *coll, const struct keel_zsel *sel,
                      struct keel_zres *out)
{
    return store_zselect(&rd->txn, coll, sel, out);
}
