/* store: set reads and the set algebra (intersection, union, difference)
 * shared by the read commands (SINTER ...) and apply (SINTERSTORE ...).
 * Everything runs against one txn: what a scan yields points into the map,
 * so results are copied into a keel_members before anyone writes. */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "store/internal.h"

void keel_members_init(struct keel_members *ms)
{
    memset(ms, 0, sizeof *ms);
}

void keel_members_close(struct keel_members *ms)
{
    free(ms->bytes);
    free(ms->off);
    keel_members_init(ms);
}

void keel_members_add(struct keel_members *ms, struct keel_slice m)
{
    if (ms->oom) return;
    if (ms->n + 2 > ms->ncap) {
        size_t cap = ms->ncap ? 2 * ms->ncap : 64;
        size_t *p = realloc(ms->off, cap * sizeof *p);
        if (p == NULL) {
            ms->oom = true;
            return;
        }
        ms->off = p;
        ms->ncap = cap;
    }
    uint8_t *dst = grow_room(&ms->bytes, &ms->cap, ms->len, m.n ? m.n : 1);
    if (dst == NULL) {
        ms->oom = true;
        return;
    }
    if (m.n) memcpy(dst, m.p, m.n);
    if (ms->n == 0) ms->off[0] = ms->len;
    ms->len += m.n;
    ms->n++;
    ms->off[ms->n] = ms->len;
}

static int collect_cb(void *arg, struct keel_slice m, struct keel_slice data)
{
    (void)data;
    keel_members_add(arg, m);
    return 0;
}

int store_set_members(struct keel_txn *txn, uint64_t id, struct keel_members *ms)
{
    if (id == 0) return 0;
    int rc = storage_member_scan(txn, id, KEEL_TAG_MEMBER, collect_cb, ms);
    if (rc == 0 && ms->oom) rc = KEEL_ENOMEM;
    return rc;
}

static int by_count(const void *a, const void *b)
{
    uint64_t x = ((const struct keel_coll *)a)->count, y = ((const struct keel_coll *)b)->count;
    return x < y ? -1 : x > y;
}

/* Keep the members of in that are (want true) or are not in each of the
 * other sets; stop at limit kept (0: none). */
static int filter(struct keel_txn *txn, const struct keel_members *in, const struct keel_coll *others,
                  size_t n, bool want, uint64_t limit, struct keel_members *out)
{
    for (size_t i = 0; i < in->n && (limit == 0 || out->n < limit); i++) {
        struct keel_slice m = keel_members_at(in, i);
        bool keep = true;
        for (size_t j = 0; keep && j < n; j++) {
            if (others[j].id == 0) {
                keep = !want;
                continue;
            }
            int rc = storage_member_get(txn, others[j].id, KEEL_TAG_MEMBER, m, NULL);
            if (rc != 0 && rc != KEEL_ENOTFOUND) return rc;
            keep = (rc == 0) == want;
        }
        if (keep) keel_members_add(out, m);
    }
    return out->oom ? KEEL_ENOMEM : 0;
}

struct span
{
    const uint8_t *p;
    size_t n;
};

static int by_bytes(const void *a, const void *b)
{
    const struct span *x = a, *y = b;
    int c = memcmp(x->p, y->p, x->n < y->n ? x->n : y->n);
    return c != 0 ? c : x->n < y->n ? -1 : x->n > y->n;
}

/* The union: every set's members, sorted, duplicates dropped. */
static int unite(struct keel_txn *txn, const struct keel_coll *sets, size_t n,
                 struct keel_members *out)
{
    struct keel_members all;
    keel_members_init(&all);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) rc = store_set_members(txn, sets[i].id, &all);
    struct span *v = rc == 0 && all.n > 0 ? malloc(all.n * sizeof *v) : NULL;
    if (rc == 0 && all.n > 0 && v == NULL) rc = KEEL_ENOMEM;
    if (rc == 0 && all.n > 0) {
        for (size_t i = 0; i < all.n; i++) {
            struct keel_slice m = keel_members_at(&all, i);
            v[i] = (struct span){m.p, m.n};
        }
        qsort(v, all.n, sizeof *v, by_bytes);
        for (size_t i = 0; i < all.n; i++)
            if (i == 0 || by_bytes(&v[i - 1], &v[i]) != 0)
                keel_members_add(out, (struct keel_slice){v[i].p, v[i].n});
        if (out->oom) rc = KEEL_ENOMEM;
    }
    free(v);
    keel_members_close(&all);
    return rc;
}

int store_setop(struct keel_txn *txn, unsigned op, struct keel_coll *sets, size_t n, uint64_t limit,
                struct keel_members *out)
{
    struct keel_members first;
    int rc;
    if (op == KEEL_SSTORE_UNION) return unite(txn, sets, n, out);
    if (op == KEEL_SSTORE_INTER) {
        for (size_t i = 0; i < n; i++)
            if (sets[i].id == 0) return 0; /* with an empty set: empty */
        /* The smallest set first: fewest members to look up in the rest. */
        qsort(sets, n, sizeof *sets, by_count);
    }
    if (sets[0].id == 0) return 0; /* a difference from nothing */
    keel_members_init(&first);
    rc = store_set_members(txn, sets[0].id, &first);
    if (rc == 0) rc = filter(txn, &first, sets + 1, n - 1, op == KEEL_SSTORE_INTER, limit, out);
    keel_members_close(&first);
    return rc;
}

int keel_read_set(struct keel_read *rd, struct keel_slice key, struct keel_coll *coll)
{
    struct keel_record rec;
    int rc = keel_read_get(rd, key, &rec);
    if (rc != 0) return rc;
    if (rec.type != KEEL_TYPE_SET) return KEEL_EWRONGTYPE;
    return storage_coll_decode(&rec, coll);
}

int keel_read_ismember(struct keel_read *rd, const struct keel_coll *coll, struct keel_slice member)
{
    if (coll->id == 0) return KEEL_ENOTFOUND;
    return storage_member_get(&rd->txn, coll->id, KEEL_TAG_MEMBER, member, NULL);
}

int keel_read_members(struct keel_read *rd, const struct keel_coll *coll, storage_member_cb cb,
                      void *arg)
{
    if (coll->id == 0) return 0;
    return storage_member_scan(&rd->txn, coll->id, KEEL_TAG_MEMBER, cb, arg);
}

int keel_read_members_all(struct keel_read *rd, const struct keel_coll *coll,
                          struct keel_members *ms)
{
    return store_set_members(&rd->txn, coll->id, ms);
}

int keel_read_setop(struct keel_read *rd, unsigned op, const struct keel_slice *keys, size_t n,
                    uint64_t limit, struct keel_members *out)
{
    struct keel_coll *sets = calloc(n ? n : 1, sizeof *sets);
    int rc = sets == NULL ? KEEL_ENOMEM : 0;
    /* Every key's type is checked before any result, as Redis does. */
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = keel_read_set(rd, keys[i], &sets[i]);
        if (rc == KEEL_ENOTFOUND) {
            memset(&sets[i], 0, sizeof sets[i]);
            rc = 0;
        }
    }
    if (rc == 0) rc = store_setop(&rd->txn, op, sets, n, limit, out);
    free(sets);
    return rc;
}
