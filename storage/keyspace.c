/* storage: the keyspace (key -> record) and its expiry index. Keys are
 * stored at their positions (storage.h): short ones under themselves, long
 * ones under a hash, with the name in the record (record.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/env.h"
#include "storage/record.h"

static int check_key(struct keel_storage *s, struct keel_slice key, bool put)
{
    if (key.n == 0 || key.n > KEEL_MAX_KEY) {
        snprintf(s->errmsg, sizeof s->errmsg, "key length %zu outside 1..%d", key.n,
                 KEEL_MAX_KEY);
        return KEEL_ETOOBIG;
    }
    /* A short key shaped like a long key's position would take its place. */
    if (put && key.n <= KEEL_KEY_INLINE && storage_pos_is_long(key.p, key.n)) {
        snprintf(s->errmsg, sizeof s->errmsg, "keys starting with the long keys' prefix are reserved");
        return KEEL_EINVAL;
    }
    return 0;
}

/* Look key up at its position (into pos, KEEL_KEY_INLINE bytes; *posn its
 * size): 0 and its record, KEEL_ENOTFOUND, or KEEL_EEXISTS when another key
 * holds the position (a long key with the same hash, or key is short and
 * shaped like a long key's position). */
static int find(struct keel_txn *txn, struct keel_slice key, uint8_t *pos, size_t *posn,
                struct keel_record *rec)
{
    struct keel_storage *s = txn->s;
    struct keel_slice name;
    *posn = storage_key_pos(key, pos);
    MDB_val k = {*posn, pos}, v;
    int rc = mdb_get(txn->mdb, s->data, &k, &v);
    if (rc == MDB_NOTFOUND) return KEEL_ENOTFOUND;
    if (rc != 0) return storage_error(s, rc, "get");
    if (record_decode(v.mv_data, v.mv_size, rec, &name) != 0) {
        snprintf(s->errmsg, sizeof s->errmsg, "record of %zu bytes is not a record", v.mv_size);
        return KEEL_ECORRUPT;
    }
    if (key.n <= KEEL_KEY_INLINE) return name.n == 0 ? 0 : KEEL_EEXISTS;
    return name.n == key.n && memcmp(name.p, key.p, key.n) == 0 ? 0 : KEEL_EEXISTS;
}

int storage_get(struct keel_txn *txn, struct keel_slice key, struct keel_record *rec)
{
    uint8_t pos[KEEL_KEY_INLINE];
    size_t posn;
    int rc = check_key(txn->s, key, false);
    if (rc != 0) return rc == KEEL_ETOOBIG ? KEEL_ENOTFOUND : rc;
    rc = find(txn, key, pos, &posn, rec);
    return rc == KEEL_EEXISTS ? KEEL_ENOTFOUND : rc;
}

static int exp_del(struct keel_txn *txn, struct keel_slice key, int64_t expire_at)
{
    uint8_t buf[EXPKEY_MAX];
    MDB_val k = {record_expkey(key, expire_at, buf, NULL), buf};
    int rc = mdb_del(txn->mdb, txn->s->exp, &k, NULL);
    if (rc == MDB_NOTFOUND) {
        snprintf(txn->s->errmsg, sizeof txn->s->errmsg, "expiry index lacks a key's entry");
        return KEEL_ECORRUPT;
    }
    return rc == 0 ? 0 : storage_error(txn->s, rc, "expiry del");
}

static int exp_put(struct keel_txn *txn, struct keel_slice key, int64_t expire_at)
{
    uint8_t buf[EXPKEY_MAX];
    bool named;
    MDB_val k = {record_expkey(key, expire_at, buf, &named), buf}, v = {0, NULL};
    if (named) v = (MDB_val){key.n, (void *)key.p}; /* the entry names its key */
    int rc = mdb_put(txn->mdb, txn->s->exp, &k, &v, 0);
    return rc == 0 ? 0 : storage_error(txn->s, rc, "expiry put");
}

/* Keys may point into the map (a cursor's page, another record), which the
 * writes below can move: work on a copy, on the heap for a long key. */
struct key_copy
{
    uint8_t *heap;
    uint8_t buf[KEEL_KEY_INLINE];
};

static int copy_key(struct key_copy *kc, struct keel_slice *key)
{
    uint8_t *to = kc->buf;
    kc->heap = NULL;
    if (key->n > sizeof kc->buf && (to = kc->heap = malloc(key->n)) == NULL) return KEEL_ENOMEM;
    memcpy(to, key->p, key->n);
    key->p = to;
    return 0;
}

/* The old record `old` is going (replaced by `rec`, or deleted: rec NULL):
 * if it is a collection whose id the new record does not carry on, its
 * sub-keys go too. */
static int release(struct keel_txn *txn, const struct keel_record *old,
                   const struct keel_record *rec)
{
    struct keel_coll oc, nc;
    if (!storage_is_coll(old->type)) return 0;
    if (storage_coll_decode(old, &oc) != 0) {
        snprintf(txn->s->errmsg, sizeof txn->s->errmsg, "a collection record is malformed");
        return KEEL_ECORRUPT;
    }
    if (rec != NULL && storage_is_coll(rec->type) && storage_coll_decode(rec, &nc) == 0 &&
        nc.id == oc.id)
        return 0;
    return storage_coll_drop(txn, oc.id);
}

static int put_at(struct keel_txn *txn, struct keel_slice key, const struct keel_record *rec,
                  uint8_t **buf, struct keel_record *old)
{
    struct keel_storage *s = txn->s;
    uint8_t pos[KEEL_KEY_INLINE];
    size_t posn;
    int rc = find(txn, key, pos, &posn, old);
    if (rc == KEEL_EEXISTS) {
        snprintf(s->errmsg, sizeof s->errmsg, "two keys of %zu bytes share a 128-bit hash", key.n);
        return rc;
    }
    if (rc != 0 && rc != KEEL_ENOTFOUND) return rc;
    int64_t old_exp = rc == 0 ? old->expire_at : 0;
    if (rc == 0 && (rc = release(txn, old, rec)) != 0) return rc;
    if (old_exp != rec->expire_at) {
        if (old_exp != 0 && (rc = exp_del(txn, key, old_exp)) != 0) return rc;
        if (rec->expire_at != 0 && (rc = exp_put(txn, key, rec->expire_at)) != 0) return rc;
    }
    size_t hn = record_header_size(key);
    MDB_val k = {posn, pos}, v = {hn + rec->len, NULL};
    rc = mdb_put(txn->mdb, s->data, &k, &v, MDB_RESERVE);
    if (rc != 0) return storage_error(s, rc, "put");
    uint8_t *space = (uint8_t *)v.mv_data + record_encode_header(rec, key, v.mv_data);
    if (rec->val != NULL && rec->len > 0) memcpy(space, rec->val, rec->len);
    if (buf != NULL) *buf = space;
    return 0;
}

int storage_put(struct keel_txn *txn, struct keel_slice key, const struct keel_record *rec,
                uint8_t **buf)
{
    struct keel_storage *s = txn->s;
    struct keel_record old;
    struct key_copy kc;
    int rc = check_key(s, key, true);
    if (rc != 0) return rc;
    if ((rec->type != KEEL_TYPE_STRING && rec->type != KEEL_TYPE_HASH && !storage_is_coll(rec->type)) ||
        rec->expire_at < 0 || (storage_is_coll(rec->type) && rec->val == NULL)) {
        snprintf(s->errmsg, sizeof s->errmsg, "record of type %u expiring at %lld is invalid",
                 rec->type, (long long)rec->expire_at);
        return KEEL_EINVAL;
    }
    if (rec->len > KEEL_MAX_VALUE) {
        snprintf(s->errmsg, sizeof s->errmsg, "value of %zu bytes over the %u limit", rec->len,
                 KEEL_MAX_VALUE);
        return KEEL_ETOOBIG;
    }
    if ((rc = copy_key(&kc, &key)) != 0) return rc;
    rc = put_at(txn, key, rec, buf, &old);
    free(kc.heap);
    return rc;
}

/* Delete key's record `old` and its expiry entry; with drop, a
 * collection's sub-keys too. key must not point into the map. */
static int remove_record(struct keel_txn *txn, struct keel_slice key, const struct keel_record *old,
                         bool drop)
{
    int rc;
    if (drop && (rc = release(txn, old, NULL)) != 0) return rc;
    if (old->expire_at != 0 && (rc = exp_del(txn, key, old->expire_at)) != 0) return rc;
    uint8_t pos[KEEL_KEY_INLINE];
    MDB_val k = {storage_key_pos(key, pos), pos};
    rc = mdb_del(txn->mdb, txn->s->data, &k, NULL);
    return rc == 0 ? 0 : storage_error(txn->s, rc, "del");
}

int storage_del(struct keel_txn *txn, struct keel_slice key)
{
    struct keel_record old;
    struct key_copy kc;
    int rc = storage_get(txn, key, &old);
    if (rc != 0) return rc;
    if ((rc = copy_key(&kc, &key)) != 0) return rc;
    rc = remove_record(txn, key, &old, true);
    free(kc.heap);
    return rc;
}

int storage_move(struct keel_txn *txn, struct keel_slice src, struct keel_slice dst,
                 uint64_t version)
{
    struct keel_record old;
    struct key_copy kc;
    int rc = storage_get(txn, src, &old);
    if (rc != 0) return rc;
    if ((rc = copy_key(&kc, &src)) != 0) return rc;
    uint8_t *val = malloc(old.len ? old.len : 1);
    if (val == NULL) {
        free(kc.heap);
        return KEEL_ENOMEM;
    }
    memcpy(val, old.val, old.len);
    struct keel_record rec = {old.type, old.expire_at, version, val, old.len};
    /* The record leaves src without its sub-keys (dst carries the id on). */
    rc = remove_record(txn, src, &old, false);
    if (rc == 0) rc = storage_put(txn, dst, &rec, NULL);
    free(val);
    free(kc.heap);
    return rc;
}

int storage_copy(struct keel_txn *txn, struct keel_slice src, struct keel_slice dst,
                 uint64_t version)
{
    struct keel_record old;
    struct keel_coll coll;
    int rc = storage_get(txn, src, &old);
    if (rc != 0) return rc;
    uint8_t *val = malloc(old.len ? old.len : 1);
    if (val == NULL) return KEEL_ENOMEM;
    memcpy(val, old.val, old.len);
    struct keel_record rec = {old.type, old.expire_at, version, val, old.len};
    if (storage_is_coll(old.type)) {
        uint64_t from;
        rc = storage_coll_decode(&rec, &coll);
        if (rc != 0) snprintf(txn->s->errmsg, sizeof txn->s->errmsg, "a collection record is malformed");
        from = coll.id;
        if (rc == 0) rc = storage_coll_new_id(txn, &coll.id);
        if (rc == 0) rc = storage_coll_clone(txn, from, coll.id);
        storage_coll_encode(&coll, val);
    }
    if (rc == 0) rc = storage_put(txn, dst, &rec, NULL);
    free(val);
    return rc;
}

int storage_expired_first(struct keel_txn *txn, int64_t at, struct keel_slice *key,
                          int64_t *expire_at)
{
    MDB_cursor *c;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn->mdb, txn->s->exp, &c);
    if (rc != 0) return storage_error(txn->s, rc, "cursor");
    rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND) return KEEL_ENOTFOUND;
    if (rc != 0) return storage_error(txn->s, rc, "expiry first");
    if (k.mv_size < 9) {
        snprintf(txn->s->errmsg, sizeof txn->s->errmsg, "expiry key of %zu bytes", k.mv_size);
        return KEEL_ECORRUPT;
    }
    int64_t when = (int64_t)be64_load(k.mv_data);
    if (when > at) return KEEL_ENOTFOUND;
    if (v.mv_size > 0) { /* a long key's entry names it (record.h) */
        key->p = v.mv_data;
        key->n = v.mv_size;
    } else {
        key->p = (const uint8_t *)k.mv_data + 8;
        key->n = k.mv_size - 8;
    }
    *expire_at = when;
    return 0;
}

int storage_scan(struct keel_txn *txn, struct keel_slice start, storage_scan_cb cb, void *arg)
{
    MDB_cursor *c;
    uint8_t pos[KEEL_KEY_INLINE];
    MDB_val k = {storage_key_pos(start, pos), pos}, v;
    struct keel_record rec;
    struct keel_slice name;
    int rc = mdb_cursor_open(txn->mdb, txn->s->data, &c);
    if (rc != 0) return storage_error(txn->s, rc, "cursor");
    rc = mdb_cursor_get(c, &k, &v, k.mv_size > 0 ? MDB_SET_RANGE : MDB_FIRST);
    while (rc == 0) {
        if (record_decode(v.mv_data, v.mv_size, &rec, &name) != 0) {
            mdb_cursor_close(c);
            snprintf(txn->s->errmsg, sizeof txn->s->errmsg, "scan: a value is not a record");
            return KEEL_ECORRUPT;
        }
        if (name.n == 0) name = (struct keel_slice){k.mv_data, k.mv_size};
        int stop = cb(arg, name, &rec);
        if (stop != 0) {
            mdb_cursor_close(c);
            return stop;
        }
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND) return 0;
    return storage_error(txn->s, rc, "scan");
}
