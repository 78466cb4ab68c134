/* storage: the rank index of sorted sets, an order-statistic skip list kept
 * as sub-keys beside the score index (layout in storage.h), so that a rank
 * and the entry at a rank are found in O(log n) cursor steps instead of a
 * walk from an end. Every change goes in the write txn of the index change
 * it follows, and an entry's level comes from its own bytes only, so every
 * replica holds the same sub-keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "storage/env.h"
#include "storage/record.h"

#define PREFIX 9 /* be64 id, u8 tag */
#define SUFFIX_MAX (8 + KEEL_ZINDEX_INLINE)

int storage_zrank_level(const uint8_t *suffix, size_t n)
{
    uint64_t h = XXH3_64bits(suffix, n);
    int l = h == 0 ? 16 : __builtin_clzll(h) / 4;
    return l > KEEL_ZRANK_LEVELS ? KEEL_ZRANK_LEVELS : l;
}

/* One position on a level: its head (n == 0; a suffix is never empty) or
 * a tower; the rank it starts at and the entries it counts. */
struct pos
{
    uint8_t s[SUFFIX_MAX];
    size_t n;
    uint64_t start, count;
};

struct path
{
    struct pos at[KEEL_ZRANK_LEVELS + 1]; /* [l] for l >= 1 */
};

static size_t rkey(uint64_t id, int l, const uint8_t *s, size_t n, uint8_t *out)
{
    be64_store(out, id);
    out[8] = (uint8_t)(KEEL_TAG_RANK + l);
    if (n > 0) memcpy(out + PREFIX, s, n);
    return PREFIX + n;
}

/* Byte order as LMDB's default: memcmp, then the shorter first. */
static int cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c != 0 ? c : an < bn ? -1 : an > bn;
}

static int count_of(struct keel_storage *s, const MDB_val *v, uint64_t *n)
{
    if (v->mv_size != 8) {
        snprintf(s->errmsg, sizeof s->errmsg, "a rank count of %zu bytes", v->mv_size);
        return KEEL_ECORRUPT;
    }
    *n = le64_load(v->mv_data);
    return 0;
}

/* From the top level's head down: on each level the last position before
 * the target (by key: t; or by rank: r), into path. With level0, the walk
 * goes on over the score index: *rank gets the number of entries before t
 * (by key), or c is left on the entry of rank r (KEEL_ENOTFOUND if none). */
static int descend(struct keel_txn *txn, MDB_cursor *c, uint64_t id, const uint8_t *t, size_t tn,
                   bool by_key, uint64_t r, bool level0, struct path *path, uint64_t *rank)
{
    struct keel_storage *s = txn->s;
    uint8_t kb[PREFIX + SUFFIX_MAX];
    struct pos cur = {.n = 0, .start = 0};
    MDB_val k, v;
    int rc;
    for (int l = KEEL_ZRANK_LEVELS; l >= 1; l--) {
        k = (MDB_val){rkey(id, l, cur.s, cur.n, kb), kb};
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY);
        if (rc == MDB_NOTFOUND) {
            snprintf(s->errmsg, sizeof s->errmsg, "sorted set %llu lacks a rank tower at level %d",
                     (unsigned long long)id, l);
            return KEEL_ECORRUPT;
        }
        if (rc != 0) return storage_error(s, rc, "rank seek");
        if ((rc = count_of(s, &v, &cur.count)) != 0) return rc;
        while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
            const uint8_t *p = k.mv_data;
            if (k.mv_size <= PREFIX || k.mv_size > PREFIX + SUFFIX_MAX || memcmp(p, kb, PREFIX) != 0) break;
            if (by_key ? cmp(p + PREFIX, k.mv_size - PREFIX, t, tn) >= 0 : cur.start + cur.count > r) break;
            cur.start += cur.count;
            cur.n = k.mv_size - PREFIX;
            memcpy(cur.s, p + PREFIX, cur.n);
            if ((rc = count_of(s, &v, &cur.count)) != 0) return rc;
        }
        if (rc != 0 && rc != MDB_NOTFOUND) return storage_error(s, rc, "rank step");
        if (path != NULL) path->at[l] = cur;
    }
    if (!level0) return 0;
    /* The score index from the last tower (its entry is at cur.start). */
    be64_store(kb, id);
    kb[8] = KEEL_TAG_INDEX;
    memcpy(kb + PREFIX, cur.s, cur.n);
    k = (MDB_val){PREFIX + cur.n, kb};
    uint64_t i = cur.start;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0) {
        const uint8_t *p = k.mv_data;
        if (k.mv_size <= PREFIX || memcmp(p, kb, PREFIX) != 0) {
            rc = MDB_NOTFOUND;
            break;
        }
        if (by_key ? cmp(p + PREFIX, k.mv_size - PREFIX, t, tn) >= 0 : i == r) break;
        i++;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (rc != 0 && rc != MDB_NOTFOUND) return storage_error(s, rc, "rank walk");
    if (rank != NULL) *rank = i;
    return !by_key && rc == MDB_NOTFOUND ? KEEL_ENOTFOUND : 0;
}

static int put_count(struct keel_txn *txn, uint64_t id, int l, const uint8_t *sfx, size_t n,
                     uint64_t count)
{
    uint8_t kb[PREFIX + SUFFIX_MAX], vb[8];
    le64_store(vb, count);
    MDB_val k = {rkey(id, l, sfx, n, kb), kb}, v = {8, vb};
    int rc = mdb_put(txn->mdb, txn->s->members, &k, &v, 0);
    return rc == 0 ? 0 : storage_error(txn->s, rc, "rank put");
}

/* The heads of a new sorted set (counting nothing). */
static int ensure_heads(struct keel_txn *txn, uint64_t id)
{
    uint8_t kb[PREFIX];
    MDB_val k = {rkey(id, KEEL_ZRANK_LEVELS, NULL, 0, kb), kb}, v;
    int rc = mdb_get(txn->mdb, txn->s->members, &k, &v);
    if (rc == 0) return 0;
    if (rc != MDB_NOTFOUND) return storage_error(txn->s, rc, "rank head");
    rc = 0;
    for (int l = 1; l <= KEEL_ZRANK_LEVELS && rc == 0; l++) rc = put_count(txn, id, l, NULL, 0, 0);
    return rc;
}

static int with_cursor(struct keel_txn *txn, MDB_cursor **c)
{
    int rc = mdb_cursor_open(txn->mdb, txn->s->members, c);
    return rc == 0 ? 0 : storage_error(txn->s, rc, "cursor");
}

int storage_zrank_insert(struct keel_txn *txn, uint64_t id, const uint8_t *sfx, size_t n)
{
    struct path *path = malloc(sizeof *path);
    MDB_cursor *c = NULL;
    uint64_t r = 0;
    if (path == NULL) return KEEL_ENOMEM;
    int rc = ensure_heads(txn, id);
    if (rc == 0) rc = with_cursor(txn, &c);
    /* The entry is in the score index already; counting what lies before
     * it leaves it out. */
    if (rc == 0) rc = descend(txn, c, id, sfx, n, true, 0, true, path, &r);
    if (c != NULL) mdb_cursor_close(c);
    int top = storage_zrank_level(sfx, n);
    for (int l = 1; rc == 0 && l <= KEEL_ZRANK_LEVELS; l++) {
        const struct pos *p = &path->at[l];
        uint64_t d = r - p->start;
        if (l > top) {
            rc = put_count(txn, id, l, p->s, p->n, p->count + 1);
        } else {
            rc = put_count(txn, id, l, p->s, p->n, d);
            if (rc == 0) rc = put_count(txn, id, l, sfx, n, p->count - d + 1);
        }
    }
    free(path);
    return rc;
}

int storage_zrank_delete(struct keel_txn *txn, uint64_t id, const uint8_t *sfx, size_t n)
{
    struct keel_storage *s = txn->s;
    struct path *path = malloc(sizeof *path);
    MDB_cursor *c = NULL;
    uint8_t kb[PREFIX + SUFFIX_MAX];
    if (path == NULL) return KEEL_ENOMEM;
    int rc = with_cursor(txn, &c);
    if (rc == 0) rc = descend(txn, c, id, sfx, n, true, 0, false, path, NULL);
    if (c != NULL) mdb_cursor_close(c);
    int top = storage_zrank_level(sfx, n);
    for (int l = 1; rc == 0 && l <= KEEL_ZRANK_LEVELS; l++) {
        const struct pos *p = &path->at[l];
        uint64_t mine = 0; /* a tower's count goes to its predecessor */
        if (l <= top) {
            MDB_val k = {rkey(id, l, sfx, n, kb), kb}, v;
            rc = mdb_get(txn->mdb, s->members, &k, &v);
            if (rc == MDB_NOTFOUND) {
                snprintf(s->errmsg, sizeof s->errmsg, "sorted set %llu lacks an entry's rank tower",
                         (unsigned long long)id);
                rc = KEEL_ECORRUPT;
                break;
            }
            if (rc != 0) {
                rc = storage_error(s, rc, "rank get");
                break;
            }
            if ((rc = count_of(s, &v, &mine)) != 0) break;
            rc = mdb_del(txn->mdb, s->members, &k, NULL);
            if (rc != 0) {
                rc = storage_error(s, rc, "rank del");
                break;
            }
        }
        if (p->count + mine < 1) {
            rc = KEEL_ECORRUPT;
            break;
        }
        rc = put_count(txn, id, l, p->s, p->n, p->count + mine - 1);
    }
    free(path);
    return rc;
}

int storage_zrank_of(struct keel_txn *txn, uint64_t id, const uint8_t *sfx, size_t n, uint64_t *rank)
{
    MDB_cursor *c;
    int rc = with_cursor(txn, &c);
    if (rc != 0) return rc;
    rc = descend(txn, c, id, sfx, n, true, 0, true, NULL, rank);
    mdb_cursor_close(c);
    return rc;
}

int storage_zrank_seek(struct keel_txn *txn, MDB_cursor *c, uint64_t id, uint64_t rank)
{
    return descend(txn, c, id, NULL, 0, false, rank, true, NULL, NULL);
}

/* Build the rank index of collection id from its score index, entry by
 * entry in order (each insert then counts only those before it). The walk
 * re-seeks past the last entry every round, as a cursor does not survive
 * the writes of the insert. */
int storage_zrank_build(struct keel_txn *txn, uint64_t id)
{
    struct keel_storage *s = txn->s;
    uint8_t kb[PREFIX + SUFFIX_MAX];
    size_t kn = PREFIX;
    be64_store(kb, id);
    kb[8] = KEEL_TAG_INDEX;
    for (bool first = true;; first = false) {
        MDB_cursor *c;
        MDB_val k = {kn, kb}, v;
        int rc = with_cursor(txn, &c);
        if (rc != 0) return rc;
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        if (rc == 0 && !first && k.mv_size == kn && memcmp(k.mv_data, kb, kn) == 0)
            rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        if (rc == 0 && (k.mv_size <= PREFIX || k.mv_size > sizeof kb || memcmp(k.mv_data, kb, PREFIX) != 0))
            rc = MDB_NOTFOUND;
        if (rc == 0) {
            kn = k.mv_size;
            memcpy(kb, k.mv_data, kn);
        }
        mdb_cursor_close(c);
        if (rc == MDB_NOTFOUND) return 0;
        if (rc != 0) return storage_error(s, rc, "rank build");
        if ((rc = storage_zrank_insert(txn, id, kb + PREFIX, kn - PREFIX)) != 0) return rc;
    }
}

/* Every sorted set's rank index (an env of format 3 or older): each
 * collection id with score-index entries, found by seeking id by id. */
int storage_zrank_build_all(struct keel_txn *txn)
{
    uint8_t kb[PREFIX];
    uint64_t id = 0;
    for (;;) {
        MDB_cursor *c;
        be64_store(kb, id);
        kb[8] = KEEL_TAG_INDEX;
        MDB_val k = {PREFIX, kb}, v;
        int rc = with_cursor(txn, &c);
        if (rc != 0) return rc;
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        uint64_t at = rc == 0 && k.mv_size >= PREFIX ? be64_load(k.mv_data) : 0;
        bool indexed = rc == 0 && k.mv_size > PREFIX && at == id && ((uint8_t *)k.mv_data)[8] == KEEL_TAG_INDEX;
        mdb_cursor_close(c);
        if (rc == MDB_NOTFOUND) return 0;
        if (rc != 0) return storage_error(txn->s, rc, "rank build");
        if (at != id) { /* the next collection: look at its index */
            id = at;
            continue;
        }
        if (indexed && (rc = storage_zrank_build(txn, id)) != 0) return rc;
        if (id == UINT64_MAX) return 0;
        id++;
    }
}
