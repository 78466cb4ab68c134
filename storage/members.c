/* storage: collections' elements as sub-keys of the "members" database, and
 * the collection record's payload. The layout is in storage.h. */
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "storage/env.h"
#include "storage/record.h"

#define PREFIX 9 /* be64 id, u8 tag */
#define HASHED_KEY (PREFIX + 16)

int storage_coll_decode(const struct keel_record *rec, struct keel_coll *coll)
{
    if (!storage_is_coll(rec->type) || rec->len != KEEL_COLL_SIZE) return KEEL_ECORRUPT;
    coll->id = le64_load(rec->val);
    coll->count = le64_load(rec->val + 8);
    coll->aux[0] = le64_load(rec->val + 16);
    coll->aux[1] = le64_load(rec->val + 24);
    return coll->id == 0 || coll->count == 0 ? KEEL_ECORRUPT : 0;
}

void storage_coll_encode(const struct keel_coll *coll, uint8_t *out)
{
    le64_store(out, coll->id);
    le64_store(out + 8, coll->count);
    le64_store(out + 16, coll->aux[0]);
    le64_store(out + 24, coll->aux[1]);
}

int storage_coll_new_id(struct keel_txn *txn, uint64_t *id)
{
    uint64_t next;
    int rc = storage_meta_get(txn, "coll_next", &next);
    if (rc != 0) return rc;
    if (next == 0) next = 1; /* 0 is never an id */
    *id = next;
    return storage_meta_put(txn, "coll_next", next + 1);
}

/* The sub-key of (id, tag, member) into out (HASHED_KEY + KEEL_MEMBER_INLINE
 * bytes at most); *hashed when the member is too long to be the key. */
static size_t subkey(uint64_t id, uint8_t tag, struct keel_slice m, uint8_t *out, bool *hashed)
{
    be64_store(out, id);
    *hashed = m.n > KEEL_MEMBER_INLINE;
    if (!*hashed) {
        out[8] = tag;
        if (m.n > 0) memcpy(out + PREFIX, m.p, m.n);
        return PREFIX + m.n;
    }
    XXH128_hash_t h = XXH3_128bits(m.p, m.n);
    out[8] = tag | KEEL_TAG_HASHED;
    be64_store(out + PREFIX, h.high64);
    be64_store(out + PREFIX + 8, h.low64);
    return HASHED_KEY;
}

static int check_member(struct keel_storage *s, struct keel_slice m, uint8_t tag)
{
    if (m.n > KEEL_MAX_MEMBER) {
        snprintf(s->errmsg, sizeof s->errmsg, "element of %zu bytes over the %u limit", m.n,
                 KEEL_MAX_MEMBER);
        return KEEL_ETOOBIG;
    }
    if (tag & KEEL_TAG_HASHED || tag == 0) {
        snprintf(s->errmsg, sizeof s->errmsg, "sub-key tag %u is reserved", tag);
        return KEEL_EINVAL;
    }
    return 0;
}

/* A hashed sub-key's value: le32 n, member, data. Whether it holds m, and
 * its data. KEEL_ECORRUPT if it cannot be such a value. */
static int hashed_value(struct keel_storage *s, const MDB_val *v, struct keel_slice m, bool *same,
                        struct keel_slice *data)
{
    if (v->mv_size < 4 || le32_load(v->mv_data) > v->mv_size - 4) {
        snprintf(s->errmsg, sizeof s->errmsg, "a long element's sub-key value of %zu bytes is malformed",
                 v->mv_size);
        return KEEL_ECORRUPT;
    }
    const uint8_t *p = v->mv_data;
    size_t n = le32_load(p);
    *same = n == m.n && memcmp(p + 4, m.p, n) == 0;
    if (data != NULL) *data = (struct keel_slice){p + 4 + n, v->mv_size - 4 - n};
    return 0;
}

int storage_member_get(struct keel_txn *txn, uint64_t id, uint8_t tag, struct keel_slice member,
                       struct keel_slice *data)
{
    struct keel_storage *s = txn->s;
    uint8_t kb[PREFIX + KEEL_MEMBER_INLINE];
    bool hashed, same;
    if (member.n > KEEL_MAX_MEMBER) return KEEL_ENOTFOUND;
    MDB_val k = {subkey(id, tag, member, kb, &hashed), kb}, v;
    int rc = mdb_get(txn->mdb, s->members, &k, &v);
    if (rc == MDB_NOTFOUND) return KEEL_ENOTFOUND;
    if (rc != 0) return storage_error(s, rc, "member get");
    if (!hashed) {
        if (data != NULL) *data = (struct keel_slice){v.mv_data, v.mv_size};
        return 0;
    }
    rc = hashed_value(s, &v, member, &same, data);
    if (rc != 0) return rc;
    return same ? 0 : KEEL_ENOTFOUND;
}

int storage_member_put(struct keel_txn *txn, uint64_t id, uint8_t tag, struct keel_slice member,
                       struct keel_slice data, bool *added)
{
    struct keel_storage *s = txn->s;
    uint8_t kb[PREFIX + KEEL_MEMBER_INLINE];
    bool hashed, same = true;
    int rc = check_member(s, member, tag);
    if (rc != 0) return rc;
    MDB_val k = {subkey(id, tag, member, kb, &hashed), kb}, v;
    rc = mdb_get(txn->mdb, s->members, &k, &v);
    if (rc != 0 && rc != MDB_NOTFOUND) return storage_error(s, rc, "member get");
    bool had = rc == 0;
    if (had && hashed && (rc = hashed_value(s, &v, member, &same, NULL)) != 0) return rc;
    if (!same) {
        snprintf(s->errmsg, sizeof s->errmsg, "two long elements share a 128-bit hash");
        return KEEL_EEXISTS;
    }
    if (added != NULL) *added = !had;
    /* The element and data may point into the map: build the value in
     * reserved space only after the lookup, copying from the caller. */
    size_t vn = hashed ? 4 + member.n + data.n : data.n;
    v = (MDB_val){vn, NULL};
    rc = mdb_put(txn->mdb, s->members, &k, &v, MDB_RESERVE);
    if (rc != 0) return storage_error(s, rc, "member put");
    uint8_t *p = v.mv_data;
    if (hashed) {
        le32_store(p, (uint32_t)member.n);
        memcpy(p + 4, member.p, member.n);
        p += 4 + member.n;
    }
    if (data.n > 0) memcpy(p, data.p, data.n);
    return 0;
}

int storage_member_del(struct keel_txn *txn, uint64_t id, uint8_t tag, struct keel_slice member,
                       bool *removed)
{
    struct keel_storage *s = txn->s;
    uint8_t kb[PREFIX + KEEL_MEMBER_INLINE];
    bool hashed;
    if (removed != NULL) *removed = false;
    int rc = storage_member_get(txn, id, tag, member, NULL);
    if (rc == KEEL_ENOTFOUND) return 0;
    if (rc != 0) return rc;
    MDB_val k = {subkey(id, tag, member, kb, &hashed), kb};
    rc = mdb_del(txn->mdb, s->members, &k, NULL);
    if (rc != 0) return storage_error(s, rc, "member del");
    if (removed != NULL) *removed = true;
    return 0;
}

/* Walk the sub-keys of (id, tag) exactly, from the first at or after the
 * short element `from` (empty: the first). */
static int scan_tag(struct keel_txn *txn, uint64_t id, uint8_t tag, struct keel_slice from,
                    storage_member_cb cb, void *arg)
{
    struct keel_storage *s = txn->s;
    uint8_t start[PREFIX + KEEL_MEMBER_INLINE];
    MDB_cursor *c;
    be64_store(start, id);
    start[8] = tag;
    if (from.n > 0) memcpy(start + PREFIX, from.p, from.n);
    MDB_val k = {PREFIX + from.n, start}, v;
    int rc = mdb_cursor_open(txn->mdb, s->members, &c);
    if (rc != 0) return storage_error(s, rc, "cursor");
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    int stop = 0;
    while (rc == 0 && stop == 0 && k.mv_size >= PREFIX && memcmp(k.mv_data, start, PREFIX) == 0) {
        struct keel_slice m = {(const uint8_t *)k.mv_data + PREFIX, k.mv_size - PREFIX};
        struct keel_slice d = {v.mv_data, v.mv_size};
        if (tag & KEEL_TAG_HASHED) {
            bool same;
            if (k.mv_size != HASHED_KEY || hashed_value(s, &v, m, &same, &d) != 0) {
                mdb_cursor_close(c);
                snprintf(s->errmsg, sizeof s->errmsg, "a long element's sub-key is malformed");
                return KEEL_ECORRUPT;
            }
            m = (struct keel_slice){(const uint8_t *)v.mv_data + 4, le32_load(v.mv_data)};
        }
        stop = cb(arg, m, d);
        if (stop == 0) rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (stop != 0) return stop;
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : storage_error(s, rc, "member scan");
}

int storage_member_scan(struct keel_txn *txn, uint64_t id, uint8_t tag, storage_member_cb cb,
                        void *arg)
{
    static const struct keel_slice first = {NULL, 0};
    int rc = scan_tag(txn, id, tag, first, cb, arg);
    return rc != 0 ? rc : scan_tag(txn, id, tag | KEEL_TAG_HASHED, first, cb, arg);
}

int storage_member_scan_from(struct keel_txn *txn, uint64_t id, uint8_t tag, struct keel_slice from,
                             storage_member_cb cb, void *arg)
{
    if (from.n > KEEL_MEMBER_INLINE) return KEEL_EINVAL;
    return scan_tag(txn, id, tag, from, cb, arg);
}

int storage_coll_drop(struct keel_txn *txn, uint64_t id)
{
    struct keel_storage *s = txn->s;
    uint8_t start[8];
    MDB_cursor *c;
    be64_store(start, id);
    MDB_val k = {8, start}, v;
    int rc = mdb_cursor_open(txn->mdb, s->members, &c);
    if (rc != 0) return storage_error(s, rc, "cursor");
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size >= 8 && memcmp(k.mv_data, start, 8) == 0) {
        /* Seek again after each delete rather than trust where LMDB leaves
         * the cursor at a page's end. */
        rc = mdb_cursor_del(c, 0);
        k = (MDB_val){8, start};
        if (rc == 0) rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    }
    mdb_cursor_close(c);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : storage_error(s, rc, "drop");
}

/* Copy every sub-key of collection from to collection to (storage_copy). A
 * cursor cannot walk a tree that the walk writes to, so the copy goes in
 * rounds: each re-seeks past the last key copied. */
int storage_coll_clone(struct keel_txn *txn, uint64_t from, uint64_t to)
{
    struct keel_storage *s = txn->s;
    uint8_t kb[HASHED_KEY + KEEL_MEMBER_INLINE], nk[HASHED_KEY + KEEL_MEMBER_INLINE];
    size_t kn = 8;
    be64_store(kb, from);
    for (bool first = true;; first = false) {
        MDB_cursor *c;
        MDB_val k = {kn, kb}, v;
        int rc = mdb_cursor_open(txn->mdb, s->members, &c);
        if (rc != 0) return storage_error(s, rc, "cursor");
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        if (rc == 0 && !first && k.mv_size == kn && memcmp(k.mv_data, kb, kn) == 0)
            rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        mdb_cursor_close(c);
        if (rc == MDB_NOTFOUND) return 0;
        if (rc != 0) return storage_error(s, rc, "clone");
        if (k.mv_size < PREFIX || k.mv_size > sizeof kb || be64_load(k.mv_data) != from) return 0;
        kn = k.mv_size;
        memcpy(kb, k.mv_data, kn);
        memcpy(nk, kb, kn);
        be64_store(nk, to);
        MDB_val dk = {kn, nk}, dv = {v.mv_size, NULL};
        size_t sn = v.mv_size;
        /* The put may split the page the source value sits on: reserve the
         * space first, then look the source up again and copy. */
        rc = mdb_put(txn->mdb, s->members, &dk, &dv, MDB_RESERVE);
        if (rc != 0) return storage_error(s, rc, "clone put");
        MDB_val sk = {kn, kb}, sv;
        rc = mdb_get(txn->mdb, s->members, &sk, &sv);
        if (rc != 0 || sv.mv_size != sn) return storage_error(s, rc ? rc : MDB_CORRUPTED, "clone get");
        memcpy(dv.mv_data, sv.mv_data, sn);
    }
}
