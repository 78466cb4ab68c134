/* store: the sorted-set algebra of Redis 7.2's zunionInterDiffGenericCommand
 * (ZUNION ZINTER ZDIFF ZINTERCARD and the *STORE forms), shared by the API's
 * reads and apply (ZSTORE). Sources are sorted sets or sets (a set member
 * scores 1), each with its weight; the result is ordered by (score, member
 * bytes) as Redis's skiplist. Everything runs against one txn and copies
 * what it reads before looking anything else up, so apply may then write.
 *
 * Floating point: the same operations in the same order as Redis (the
 * weight times the score, NaN turned into 0; sums in the order of the
 * sources sorted by cardinality, a stable sort here so replicas agree). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/le.h"
#include "store/internal.h"

void keel_zres_init(struct keel_zres *z)
{
    memset(z, 0, sizeof *z);
    keel_members_init(&z->ms);
}

void keel_zres_close(struct keel_zres *z)
{
    keel_members_close(&z->ms);
    free(z->sc);
    memset(z, 0, sizeof *z);
}

int keel_zres_add(struct keel_zres *z, struct keel_slice m, double score)
{
    if (z->ms.n == z->cap) {
        size_t cap = z->cap ? 2 * z->cap : 16;
        double *p = realloc(z->sc, cap * sizeof *p);
        if (p == NULL) return KEEL_ENOMEM;
        z->sc = p;
        z->cap = cap;
    }
    z->sc[z->ms.n] = score;
    keel_members_add(&z->ms, m);
    return z->ms.oom ? KEEL_ENOMEM : 0;
}

static double score_of(struct keel_slice data, bool set)
{
    if (set || data.n != 8) return 1.0;
    uint64_t b = le64_load(data.p);
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

/* Redis's zunionInterAggregate. */
static void aggregate(double *target, double val, unsigned flags)
{
    if (flags & KEEL_ZSTORE_MIN) *target = val < *target ? val : *target;
    else if (flags & KEEL_ZSTORE_MAX) *target = val > *target ? val : *target;
    else if (isnan(*target += val)) *target = 0.0; /* inf + -inf: 0, as Redis */
}

struct collect
{
    struct keel_zres *out;
    const struct keel_zsrc *src;
    bool weigh;
};

static int collect_cb(void *arg, struct keel_slice m, struct keel_slice data)
{
    struct collect *c = arg;
    double d = score_of(data, c->src->set);
    if (c->weigh) {
        d *= c->src->weight;
        if (isnan(d)) d = 0;
    }
    return keel_zres_add(c->out, m, d);
}

/* Every member of src with its score (times the weight if weigh), appended. */
static int collect(struct keel_txn *txn, const struct keel_zsrc *src, bool weigh, struct keel_zres *out)
{
    struct collect c = {out, src, weigh};
    if (src->coll.id == 0) return 0;
    return storage_member_scan(txn, src->coll.id, KEEL_TAG_MEMBER, collect_cb, &c);
}

/* m's score in src (*found false if absent). */
static int find(struct keel_txn *txn, const struct keel_zsrc *src, struct keel_slice m, bool *found,
                double *d)
{
    struct keel_slice data;
    *found = false;
    if (src->coll.id == 0) return 0;
    int rc = storage_member_get(txn, src->coll.id, KEEL_TAG_MEMBER, m, &data);
    if (rc == KEEL_ENOTFOUND) return 0;
    if (rc != 0) return rc;
    if (!src->set && data.n != 8) return KEEL_ECORRUPT;
    *found = true;
    *d = score_of(data, src->set);
    return 0;
}

struct ranked
{
    struct keel_zsrc src;
    size_t pos;
};

static int by_count(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    if (x->src.coll.count != y->src.coll.count) return x->src.coll.count < y->src.coll.count ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Smallest first, stable (the order of equal ones is the sum's order, so
 * every replica adds in the same order): 0 or KEEL_ENOMEM. */
static int sort_by_count(struct keel_zsrc *src, size_t n)
{
    struct ranked *r = malloc(n * sizeof *r);
    if (r == NULL) return KEEL_ENOMEM;
    for (size_t i = 0; i < n; i++) r[i] = (struct ranked){src[i], i};
    qsort(r, n, sizeof *r, by_count);
    for (size_t i = 0; i < n; i++) src[i] = r[i].src;
    free(r);
    return 0;
}

struct ent
{
    const uint8_t *p;
    size_t n;
    double sc;
    size_t at; /* insertion order: the aggregate's order */
};

static int by_bytes(const struct ent *x, const struct ent *y)
{
    int c = memcmp(x->p, y->p, x->n < y->n ? x->n : y->n);
    return c != 0 ? c : x->n < y->n ? -1 : x->n > y->n;
}

static int by_member(const void *a, const void *b)
{
    const struct ent *x = a, *y = b;
    int c = by_bytes(x, y);
    return c != 0 ? c : x->at < y->at ? -1 : x->at > y->at;
}

/* Redis's skiplist order: score, then member bytes (-0 equals 0). */
static int by_score(const void *a, const void *b)
{
    const struct ent *x = a, *y = b;
    if (x->sc < y->sc) return -1;
    if (x->sc > y->sc) return 1;
    return by_bytes(x, y);
}

static struct ent *entries(const struct keel_zres *z)
{
    struct ent *v = malloc((z->ms.n ? z->ms.n : 1) * sizeof *v);
    for (size_t i = 0; v != NULL && i < z->ms.n; i++) {
        struct keel_slice m = keel_members_at(&z->ms, i);
        v[i] = (struct ent){m.p, m.n, z->sc[i], i};
    }
    return v;
}

/* The union: every source's members, duplicates folded by the aggregate
 * in source order, into out (unsorted). */
static int unite(struct keel_txn *txn, unsigned flags, const struct keel_zsrc *src, size_t n,
                 struct keel_zres *out)
{
    struct keel_zres all;
    keel_zres_init(&all);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) rc = collect(txn, &src[i], true, &all);
    struct ent *v = rc == 0 ? entries(&all) : NULL;
    if (rc == 0 && v == NULL) rc = KEEL_ENOMEM;
    if (rc == 0) qsort(v, all.ms.n, sizeof *v, by_member);
    for (size_t i = 0; rc == 0 && i < all.ms.n;) {
        double sc = v[i].sc;
        size_t j = i + 1;
        for (; j < all.ms.n && by_bytes(&v[i], &v[j]) == 0; j++) aggregate(&sc, v[j].sc, flags);
        rc = keel_zres_add(out, (struct keel_slice){v[i].p, v[i].n}, sc);
        i = j;
    }
    free(v);
    keel_zres_close(&all);
    return rc;
}

/* The intersection (weighted, aggregated) or the difference from src[0],
 * into out (unsorted); with card, only counted (up to limit, 0: all). */
static int filter(struct keel_txn *txn, unsigned flags, const struct keel_zsrc *src, size_t n,
                  uint64_t limit, uint64_t *card, struct keel_zres *out)
{
    bool inter = (flags & KEEL_ZSTORE_OP) == KEEL_SSTORE_INTER;
    struct keel_zres first;
    keel_zres_init(&first);
    int rc = collect(txn, &src[0], inter, &first);
    for (size_t i = 0; rc == 0 && i < first.ms.n; i++) {
        struct keel_slice m = keel_members_at(&first.ms, i);
        double sc = first.sc[i], d = 0;
        bool keep = true, found;
        for (size_t j = 1; rc == 0 && keep && j < n; j++) {
            rc = find(txn, &src[j], m, &found, &d);
            if (!inter) keep = !found;
            else if (!found) keep = false;
            else aggregate(&sc, d * src[j].weight, flags);
        }
        if (rc != 0 || !keep) continue;
        if (card != NULL) {
            (*card)++;
            if (limit != 0 && *card >= limit) break;
        } else {
            rc = keel_zres_add(out, m, sc);
        }
    }
    keel_zres_close(&first);
    return rc;
}

int store_zsetop(struct keel_txn *txn, unsigned flags, struct keel_zsrc *src, size_t n, uint64_t limit,
                 uint64_t *card, struct keel_zres *out)
{
    unsigned op = flags & KEEL_ZSTORE_OP;
    struct keel_zres raw;
    int rc = 0;
    if (card != NULL) *card = 0;
    if (n == 0) return 0;
    if (op != KEEL_SSTORE_DIFF && (rc = sort_by_count(src, n)) != 0) return rc;
    if (src[0].coll.id == 0 && op != KEEL_SSTORE_UNION) return 0; /* empty from the start */
    keel_zres_init(&raw);
    if (op == KEEL_SSTORE_UNION) rc = unite(txn, flags, src, n, &raw);
    else rc = filter(txn, flags, src, n, limit, card, &raw);
    struct ent *v = rc == 0 && card == NULL ? entries(&raw) : NULL;
    if (rc == 0 && card == NULL && v == NULL) rc = KEEL_ENOMEM;
    if (v != NULL) {
        qsort(v, raw.ms.n, sizeof *v, by_score);
        for (size_t i = 0; rc == 0 && i < raw.ms.n; i++)
            rc = keel_zres_add(out, (struct keel_slice){v[i].p, v[i].n}, v[i].sc);
    }
    free(v);
    keel_zres_close(&raw);
    return rc;
}

int store_zsrc(const struct keel_record *rec, bool exists, struct keel_zsrc *src)
{
    memset(&src->coll, 0, sizeof src->coll);
    src->set = false;
    if (!exists) return 0;
    if (rec->type != KEEL_TYPE_ZSET && rec->type != KEEL_TYPE_SET) return KEEL_EWRONGTYPE;
    src->set = rec->type == KEEL_TYPE_SET;
    return storage_coll_decode(rec, &src->coll) != 0 ? KEEL_ECORRUPT : 0;
}

int keel_read_zsrc(struct keel_read *rd, struct keel_slice key, struct keel_zsrc *src)
{
    struct keel_record rec;
    int rc = keel_read_get(rd, key, &rec);
    if (rc != 0 && rc != KEEL_ENOTFOUND) return rc;
    return store_zsrc(&rec, rc == 0, src);
}

int keel_read_zsetop(struct keel_read *rd, unsigned flags, struct keel_zsrc *src, size_t n,
                     uint64_t limit, uint64_t *card, struct keel_zres *out)
{
    return store_zsetop(&rd->txn, flags, src, n, limit, card, out);
}
