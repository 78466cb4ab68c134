/* storage: the score index of sorted sets, sub-keys under KEEL_TAG_INDEX
 * (layout in storage.h). Each entry's key sorts by (score, member bytes), so
 * a range by score is a seek and a walk. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "storage/env.h"
#include "storage/record.h"

#define PREFIX 9 /* be64 id, u8 tag */
#define HEAD (PREFIX + 8)

/* The score's bits as a big-endian key whose byte order is numeric order. */
static uint64_t sortable(double d)
{
    uint64_t b;
    if (d == 0) d = 0; /* -0 sorts (and is found) as 0 */
    memcpy(&b, &d, sizeof b);
    return b >> 63 ? ~b : b | (1ull << 63);
}

uint64_t storage_zscore_sortable(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return sortable(d);
}

static double unsortable(uint64_t b)
{
    double d;
    b = b >> 63 ? b & ~(1ull << 63) : ~b;
    memcpy(&d, &b, sizeof d);
    return d;
}

/* The index key of (score, member) into out; its length. */
static size_t zkey(uint64_t id, double score, struct keel_slice m, uint8_t *out)
{
    be64_store(out, id);
    out[8] = KEEL_TAG_INDEX;
    be64_store(out + PREFIX, sortable(score));
    if (m.n <= KEEL_ZINDEX_INLINE) {
        if (m.n > 0) memcpy(out + HEAD, m.p, m.n);
        return HEAD + m.n;
    }
    XXH128_hash_t h = XXH3_128bits(m.p, m.n);
    memcpy(out + HEAD, m.p, KEEL_ZINDEX_PREFIX);
    be64_store(out + HEAD + KEEL_ZINDEX_PREFIX, h.high64);
    be64_store(out + HEAD + KEEL_ZINDEX_PREFIX + 8, h.low64);
    return HEAD + KEEL_ZINDEX_INLINE;
}

int storage_zindex_put(struct keel_txn *txn, uint64_t id, double score, struct keel_slice member)
{
    struct keel_storage *s = txn->s;
    uint8_t kb[HEAD + KEEL_ZINDEX_INLINE];
    if (member.n > KEEL_MAX_MEMBER || isnan(score)) {
        snprintf(s->errmsg, sizeof s->errmsg, "index entry of %zu bytes or NaN score", member.n);
        return KEEL_EINVAL;
    }
    bool long_member = member.n > KEEL_ZINDEX_INLINE;
    size_t kn = zkey(id, score, member, kb);
    MDB_val k = {kn, kb}, v = {long_member ? member.n : 0, NULL};
    /* An entry already there is rewritten in place and counted once. */
    int rc = mdb_put(txn->mdb, s->members, &k, &v, MDB_RESERVE | MDB_NOOVERWRITE);
    bool fresh = rc == 0;
    if (rc == MDB_KEYEXIST) {
        v = (MDB_val){long_member ? member.n : 0, NULL};
        rc = mdb_put(txn->mdb, s->members, &k, &v, MDB_RESERVE);
    }
    if (rc != 0) return storage_error(s, rc, "index put");
    /* The member may point into the map: copy only after the reserve. */
    if (long_member) memcpy(v.mv_data, member.p, member.n);
    return fresh ? storage_zrank_insert(txn, id, kb + PREFIX, kn - PREFIX) : 0;
}

int storage_zindex_del(struct keel_txn *txn, uint64_t id, double score, struct keel_slice member)
{
    struct keel_storage *s = txn->s;
    uint8_t kb[HEAD + KEEL_ZINDEX_INLINE];
    if (member.n > KEEL_MAX_MEMBER) return KEEL_ENOTFOUND;
    size_t kn = zkey(id, score, member, kb);
    MDB_val k = {kn, kb};
    int rc = mdb_del(txn->mdb, s->members, &k, NULL);
    if (rc == MDB_NOTFOUND) return KEEL_ENOTFOUND;
    if (rc != 0) return storage_error(s, rc, "index del");
    return storage_zrank_delete(txn, id, kb + PREFIX, kn - PREFIX);
}

int storage_zindex_rank(struct keel_txn *txn, uint64_t id, double score, struct keel_slice member,
                        uint64_t *rank)
{
    uint8_t kb[HEAD + KEEL_ZINDEX_INLINE];
    if (member.n > KEEL_MAX_MEMBER || isnan(score)) return KEEL_EINVAL;
    size_t kn = zkey(id, score, member, kb);
    return storage_zrank_of(txn, id, kb + PREFIX, kn - PREFIX, rank);
}

int storage_zindex_below(struct keel_txn *txn, uint64_t id, double score, bool inclusive,
                         uint64_t *n)
{
    uint8_t kb[8];
    uint64_t b = sortable(score);
    /* Every key of a score is longer than its 8 bytes: the bare score sorts
     * before them, and the next score's bytes after them (+inf is not all
     * ones, NaN never indexed). */
    if (isnan(score)) return KEEL_EINVAL;
    be64_store(kb, inclusive ? b + 1 : b);
    return storage_zrank_of(txn, id, kb, sizeof kb, n);
}

/* Position c on the first entry to visit; MDB_NOTFOUND if none. */
static int seek(MDB_cursor *c, const uint8_t *prefix, double from, bool reverse, MDB_val *k,
                MDB_val *v)
{
    uint8_t kb[HEAD];
    memcpy(kb, prefix, PREFIX);
    uint64_t b = sortable(from);
    if (!reverse) {
        be64_store(kb + PREFIX, b);
        *k = (MDB_val){HEAD, kb};
        return mdb_cursor_get(c, k, v, MDB_SET_RANGE);
    }
    /* The last entry at or below `from`: the one before the first key
     * past every key of that score (or before the next tag's first). */
    size_t n = HEAD;
    if (b == UINT64_MAX) {
        kb[8]++; /* tag + 1: every score of this tag lies below */
        n = PREFIX;
    } else {
        be64_store(kb + PREFIX, b + 1);
    }
    *k = (MDB_val){n, kb};
    int rc = mdb_cursor_get(c, k, v, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND) return mdb_cursor_get(c, k, v, MDB_LAST);
    return rc == 0 ? mdb_cursor_get(c, k, v, MDB_PREV) : rc;
}

/* From the entry c is on (rc its positioning), each entry to cb. */
static int walk_on(struct keel_txn *txn, MDB_cursor *c, const uint8_t *prefix, int rc, MDB_val k,
                   MDB_val v, bool reverse, storage_zindex_cb cb, void *arg)
{
    int stop = 0;
    while (rc == 0 && stop == 0 && k.mv_size >= HEAD && memcmp(k.mv_data, prefix, PREFIX) == 0) {
        const uint8_t *p = k.mv_data;
        struct keel_slice m = {p + HEAD, k.mv_size - HEAD};
        if (v.mv_size > 0) m = (struct keel_slice){v.mv_data, v.mv_size};
        stop = cb(arg, unsortable(be64_load(p + PREFIX)), m);
        if (stop == 0) rc = mdb_cursor_get(c, &k, &v, reverse ? MDB_PREV : MDB_NEXT);
    }
    if (stop != 0) return stop;
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : storage_error(txn->s, rc, "index walk");
}

int storage_zindex_walk(struct keel_txn *txn, uint64_t id, double from, bool reverse,
                        storage_zindex_cb cb, void *arg)
{
    uint8_t prefix[PREFIX];
    MDB_cursor *c;
    MDB_val k = {0, NULL}, v = {0, NULL};
    be64_store(prefix, id);
    prefix[8] = KEEL_TAG_INDEX;
    int rc = mdb_cursor_open(txn->mdb, txn->s->members, &c);
    if (rc != 0) return storage_error(txn->s, rc, "cursor");
    rc = seek(c, prefix, from, reverse, &k, &v);
    rc = walk_on(txn, c, prefix, rc, k, v, reverse, cb, arg);
    mdb_cursor_close(c);
    return rc;
}

int storage_zindex_walk_rank(struct keel_txn *txn, uint64_t id, uint64_t rank, bool reverse,
                             storage_zindex_cb cb, void *arg)
{
    uint8_t prefix[PREFIX];
    MDB_cursor *c;
    MDB_val k = {0, NULL}, v = {0, NULL};
    be64_store(prefix, id);
    prefix[8] = KEEL_TAG_INDEX;
    int rc = mdb_cursor_open(txn->mdb, txn->s->members, &c);
    if (rc != 0) return storage_error(txn->s, rc, "cursor");
    rc = storage_zrank_seek(txn, c, id, rank);
    if (rc == 0) {
        rc = mdb_cursor_get(c, &k, &v, MDB_GET_CURRENT);
        rc = walk_on(txn, c, prefix, rc, k, v, reverse, cb, arg);
    } else if (rc == KEEL_ENOTFOUND) {
        rc = 0; /* past the end: nothing */
    }
    mdb_cursor_close(c);
    return rc;
}
