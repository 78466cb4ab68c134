/* storage: the keyspace (key -> record) and its expiry index. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/env.h"
#include "storage/record.h"

static int check_key(struct keel_storage *s, struct keel_slice key)
{
    if (key.n == 0 || key.n > KEEL_MAX_KEY) {
        snprintf(s->errmsg, sizeof s->errmsg, "key length %zu outside 1..%d", key.n,
                 KEEL_MAX_KEY);
        return KEEL_ETOOBIG;
    }
    return 0;
}

int storage_get(struct keel_txn *txn, struct keel_slice key, struct keel_record *rec)
{
    struct keel_storage *s = txn->s;
    MDB_val k = {key.n, (void *)key.p}, v;
    int rc = check_key(s, key);
    if (rc != 0) return rc == KEEL_ETOOBIG ? KEEL_ENOTFOUND : rc;
    rc = mdb_get(txn->mdb, s->data, &k, &v);
    if (rc == MDB_NOTFOUND) return KEEL_ENOTFOUND;
    if (rc != 0) return storage_error(s, rc, "get");
    if (record_decode(v.mv_data, v.mv_size, rec) != 0) {
        snprintf(s->errmsg, sizeof s->errmsg, "record of %zu bytes is not a record", v.mv_size);
        return KEEL_ECORRUPT;
    }
    return 0;
}

static int exp_del(struct keel_txn *txn, struct keel_slice key, int64_t expire_at)
{
    uint8_t buf[EXPKEY_MAX];
    MDB_val k = {record_expkey(key, expire_at, buf), buf};
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
    MDB_val k = {record_expkey(key, expire_at, buf), buf}, v = {0, NULL};
    int rc = mdb_put(txn->mdb, txn->s->exp, &k, &v, 0);
    return rc == 0 ? 0 : storage_error(txn->s, rc, "expiry put");
}

/* Keys may point into the map (a cursor's page, another record), which the
 * writes below can move: work on a copy. */
#define COPY_KEY(key, kbuf)                   \
    do {                                      \
        memcpy(kbuf, (key).p, (key).n);       \
        (key).p = kbuf;                       \
    } while (0)

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

int storage_put(struct keel_txn *txn, struct keel_slice key, const struct keel_record *rec,
                uint8_t **buf)
{
    struct keel_storage *s = txn->s;
    struct keel_record old;
    uint8_t kbuf[KEEL_MAX_KEY];
    int rc = check_key(s, key);
    if (rc != 0) return rc;
    COPY_KEY(key, kbuf);
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
    rc = storage_get(txn, key, &old);
    if (rc != 0 && rc != KEEL_ENOTFOUND) return rc;
    int64_t old_exp = rc == 0 ? old.expire_at : 0;
    if (rc == 0 && (rc = release(txn, &old, rec)) != 0) return rc;
    if (old_exp != rec->expire_at) {
        if (old_exp != 0 && (rc = exp_del(txn, key, old_exp)) != 0) return rc;
        if (rec->expire_at != 0 && (rc = exp_put(txn, key, rec->expire_at)) != 0) return rc;
    }
    MDB_val k = {key.n, (void *)key.p}, v = {RECORD_HEADER + rec->len, NULL};
    rc = mdb_put(txn->mdb, s->data, &k, &v, MDB_RESERVE);
    if (rc != 0) return storage_error(s, rc, "put");
    record_encode_header(rec, v.mv_data);
    uint8_t *space = (uint8_t *)v.mv_data + RECORD_HEADER;
    if (rec->val != NULL && rec->len > 0) memcpy(space, rec->val, rec->len);
    if (buf != NULL) *buf = space;
    return 0;
}

/* Delete key's record `old` and its expiry entry; with drop, a
 * collection's sub-keys too. key must not point into the map. */
static int remove_record(struct keel_txn *txn, struct keel_slice key, const struct keel_record *old,
                         bool drop)
{
    int rc;
    if (drop && (rc = release(txn, old, NULL)) != 0) return rc;
    if (old->expire_at != 0 && (rc = exp_del(txn, key, old->expire_at)) != 0) return rc;
    MDB_val k = {key.n, (void *)key.p};
    rc = mdb_del(txn->mdb, txn->s->data, &k, NULL);
    return rc == 0 ? 0 : storage_error(txn->s, rc, "del");
}

int storage_del(struct keel_txn *txn, struct keel_slice key)
{
    struct keel_record old;
    uint8_t kbuf[KEEL_MAX_KEY];
    int rc = storage_get(txn, key, &old);
    if (rc != 0) return rc;
    COPY_KEY(key, kbuf);
    return remove_record(txn, key, &old, true);
}

int storage_move(struct keel_txn *txn, struct keel_slice src, struct keel_slice dst,
                 uint64_t version)
{
    struct keel_record old;
    uint8_t kbuf[KEEL_MAX_KEY];
    int rc = storage_get(txn, src, &old);
    if (rc != 0) return rc;
    COPY_KEY(src, kbuf);
    uint8_t *val = malloc(old.len ? old.len : 1);
    if (val == NULL) return KEEL_ENOMEM;
    memcpy(val, old.val, old.len);
    struct keel_record rec = {old.type, old.expire_at, version, val, old.len};
    /* The record leaves src without its sub-keys (dst carries the id on). */
    rc = remove_record(txn, src, &old, false);
    if (rc == 0) rc = storage_put(txn, dst, &rec, NULL);
    free(val);
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
    key->p = (const uint8_t *)k.mv_data + 8;
    key->n = k.mv_size - 8;
    *expire_at = when;
    return 0;
}

int storage_scan(struct keel_txn *txn, struct keel_slice start, storage_scan_cb cb, void *arg)
{
    MDB_cursor *c;
    MDB_val k = {start.n, (void *)start.p}, v;
    struct keel_record rec;
    int rc = mdb_cursor_open(txn->mdb, txn->s->data, &c);
    if (rc != 0) return storage_error(txn->s, rc, "cursor");
    rc = mdb_cursor_get(c, &k, &v, start.n > 0 ? MDB_SET_RANGE : MDB_FIRST);
    while (rc == 0) {
        if (record_decode(v.mv_data, v.mv_size, &rec) != 0) {
            mdb_cursor_close(c);
            snprintf(txn->s->errmsg, sizeof txn->s->errmsg, "scan: a value is not a record");
            return KEEL_ECORRUPT;
        }
        int stop = cb(arg, (struct keel_slice){k.mv_data, k.mv_size}, &rec);
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
