/* store: applying the set commands SADD SREM SPOP SMOVE and the
 * SINTERSTORE/SUNIONSTORE/SDIFFSTORE family (codec.h). A set is a
 * collection record and one sub-key per member (storage.h); every command
 * keeps the record's count in step with the members it adds or removes, and
 * deletes the key when the set is left empty, as Redis does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"

static const struct keel_slice none = {NULL, 0};

/* A looked-up record as a set: coll (id 0 when absent). Returns a storage
 * error, or 0 with *ok false after writing WRONGTYPE. */
static int as_set(struct apply_ctx *c, const struct keel_record *rec, bool exists,
                  struct keel_coll *coll, bool *ok, struct keel_reply *r)
{
    *ok = true;
    memset(coll, 0, sizeof *coll);
    if (!exists) return 0;
    if (rec->type != KEEL_TYPE_SET) {
        keel_reply_error(r, KEEL_EWRONGTYPE, NULL);
        *ok = false;
        return 0;
    }
    if (storage_coll_decode(rec, coll) != 0) {
        snprintf(c->st->errmsg, sizeof c->st->errmsg, "set record corrupt");
        return KEEL_ECORRUPT;
    }
    return 0;
}

/* The live set at key: *exists, and as_set's coll and *ok. */
static int load(struct apply_ctx *c, struct keel_slice key, struct keel_record *rec,
                struct keel_coll *coll, bool *exists, bool *ok, struct keel_reply *r)
{
    LOOKUP(c, key, rec, *exists);
    return as_set(c, rec, *exists, coll, ok, r);
}

/* Write the set's record back (expiry kept, version bumped), or delete the
 * key once the set is empty. */
static int store_back(struct apply_ctx *c, struct keel_slice key, int64_t expire_at,
                      const struct keel_coll *coll)
{
    uint8_t buf[KEEL_COLL_SIZE];
    if (coll->count == 0) {
        int rc = storage_del(c->txn, key);
        return rc == KEEL_ENOTFOUND ? 0 : rc;
    }
    storage_coll_encode(coll, buf);
    struct keel_record rec = {KEEL_TYPE_SET, expire_at, c->index, buf, sizeof buf};
    return storage_put(c->txn, key, &rec, NULL);
}

/* Add member to the set coll (allocating its id if new). A long member whose
 * hash another one holds is a reply error, the same on every replica. */
static int add(struct apply_ctx *c, struct keel_coll *coll, struct keel_slice m, bool *added,
               struct keel_reply *r)
{
    int rc = coll->id == 0 ? storage_coll_new_id(c->txn, &coll->id) : 0;
    if (rc == 0) rc = storage_member_put(c->txn, coll->id, KEEL_TAG_MEMBER, m, none, added);
    if (rc == KEEL_EEXISTS) {
        keel_reply_error(r, KEEL_EEXISTS, "a member with the same 128-bit hash is already stored");
        *added = false;
        return -1;
    }
    if (rc == 0 && *added) coll->count++;
    return rc;
}

int apply_sadd(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_record old;
    struct keel_coll coll;
    struct keel_iter it;
    struct keel_slice m;
    bool exists, ok, added;
    int64_t n = 0;
    int rc = load(c, cmd->key, &old, &coll, &exists, &ok, r);
    if (rc != 0 || !ok) return rc;
    int64_t expire_at = exists ? old.expire_at : 0;
    keel_iter_init(&it, cmd->list);
    while (rc == 0 && keel_iter_str(&it, &m)) {
        rc = add(c, &coll, m, &added, r);
        n += added;
    }
    if (rc > 0) return rc;
    if (n > 0) {
        int wrc = store_back(c, cmd->key, expire_at, &coll);
        if (wrc != 0) return wrc;
        if (!exists) store_event(c, KEEL_EV_NEW, cmd->key); /* Redis's dbAdd, first */
        store_event(c, KEEL_EV_SADD, cmd->key);
    }
    if (rc == 0) keel_reply_int(r, n);
    return 0;
}

/* Remove the members of list from the set; *n how many were there. */
static int remove_all(struct apply_ctx *c, struct keel_coll *coll, struct keel_slice list,
                      int64_t *n)
{
    struct keel_iter it;
    struct keel_slice m;
    bool removed;
    *n = 0;
    keel_iter_init(&it, list);
    while (keel_iter_str(&it, &m)) {
        int rc = storage_member_del(c->txn, coll->id, KEEL_TAG_MEMBER, m, &removed);
        if (rc != 0) return rc;
        *n += removed;
        coll->count -= removed;
    }
    return 0;
}

int apply_srem(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_record old;
    struct keel_coll coll;
    bool exists, ok;
    int64_t n = 0;
    int rc = load(c, cmd->key, &old, &coll, &exists, &ok, r);
    if (rc != 0 || !ok) return rc;
    if (exists && (rc = remove_all(c, &coll, cmd->list, &n)) != 0) return rc;
    keel_reply_int(r, n);
    if (n == 0) return 0;
    /* Like Redis: "srem", then "del" when the set is left empty. */
    store_event(c, KEEL_EV_SREM, cmd->key);
    if (coll.count == 0) store_event(c, KEEL_EV_DEL, cmd->key);
    return store_back(c, cmd->key, old.expire_at, &coll);
}

/* SPOP: the leader's pick, applied only on the version it was picked from. */
int apply_spop(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_record old;
    struct keel_coll coll;
    struct keel_iter it;
    struct keel_slice m;
    bool exists, ok;
    int64_t n = 0;
    LOOKUP(c, cmd->key, &old, exists);
    if ((exists ? old.version : 0) != cmd->version) {
        keel_reply_error(r, KEEL_EBUSY, "the set changed while its members were picked");
        c->forget = true;
        return 0;
    }
    int rc = load(c, cmd->key, &old, &coll, &exists, &ok, r);
    if (rc != 0 || !ok) return rc;
    bool one = cmd->flags & KEEL_SPOP_ONE;
    if (!exists || cmd->count == 0) {
        if (one) keel_reply_nil(r);
        else keel_reply_array(r, 0);
        return 0;
    }
    /* The version matched, so every picked member is there. */
    if ((rc = remove_all(c, &coll, cmd->list, &n)) != 0) return rc;
    if (!one) keel_reply_array(r, cmd->count);
    keel_iter_init(&it, cmd->list);
    while (keel_iter_str(&it, &m)) keel_reply_bulk(r, m.p, m.n);
    store_event(c, KEEL_EV_SPOP, cmd->key);
    if (coll.count == 0) store_event(c, KEEL_EV_DEL, cmd->key);
    return store_back(c, cmd->key, old.expire_at, &coll);
}

int apply_smove(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_record src, dst;
    struct keel_coll sc, dc;
    bool sx, dx, ok, removed, added;
    /* Redis's order: a missing source answers 0 before any type check. */
    LOOKUP(c, cmd->key, &src, sx);
    if (!sx) {
        keel_reply_int(r, 0);
        return 0;
    }
    int rc = as_set(c, &src, sx, &sc, &ok, r);
    if (rc != 0 || !ok) return rc;
    int64_t src_exp = src.expire_at;
    rc = load(c, cmd->value, &dst, &dc, &dx, &ok, r);
    if (rc != 0 || !ok) return rc;
    int64_t dst_exp = dx ? dst.expire_at : 0;
    if (sc.id == dc.id) {
        rc = storage_member_get(c->txn, sc.id, KEEL_TAG_MEMBER, cmd->field, NULL);
        if (rc != 0 && rc != KEEL_ENOTFOUND) return rc;
        keel_reply_int(r, rc == 0);
        return 0;
    }
    rc = storage_member_del(c->txn, sc.id, KEEL_TAG_MEMBER, cmd->field, &removed);
    if (rc != 0) return rc;
    if (!removed) {
        keel_reply_int(r, 0);
        return 0;
    }
    sc.count--;
    store_event(c, KEEL_EV_SREM, cmd->key);
    if (sc.count == 0) store_event(c, KEEL_EV_DEL, cmd->key);
    if ((rc = store_back(c, cmd->key, src_exp, &sc)) != 0) return rc;
    rc = add(c, &dc, cmd->field, &added, r);
    if (rc > 0) return rc;
    if (added) {
        if ((rc = store_back(c, cmd->value, dst_exp, &dc)) != 0) return rc;
        if (!dx) store_event(c, KEEL_EV_NEW, cmd->value);
        store_event(c, KEEL_EV_SADD, cmd->value);
    }
    if (rc == 0) keel_reply_int(r, 1);
    return 0;
}

/* SINTERSTORE / SUNIONSTORE / SDIFFSTORE dst key...: the result replaces
 * dst (whatever it held) under a fresh id, or deletes dst when empty. The
 * result is computed whole before dst is touched: dst may be a source. */
int apply_sstore(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    static const unsigned ev[4] = {0, KEEL_EV_SINTERSTORE, KEEL_EV_SUNIONSTORE, KEEL_EV_SDIFFSTORE};
    struct keel_coll *sets = calloc(cmd->count, sizeof *sets), dc = {0};
    struct keel_members out;
    struct keel_record rec;
    struct keel_iter it;
    struct keel_slice k;
    bool exists, ok = true, added;
    int rc = sets == NULL ? KEEL_ENOMEM : 0;
    size_t i = 0;
    keel_members_init(&out);
    keel_iter_init(&it, cmd->list);
    while (rc == 0 && ok && keel_iter_str(&it, &k)) {
        int lrc = apply_live(c, k, &rec);
        if (lrc != 0 && lrc != KEEL_ENOTFOUND) rc = lrc;
        else rc = as_set(c, &rec, lrc == 0, &sets[i++], &ok, r);
    }
    if (rc == 0 && ok) rc = store_setop(c->txn, cmd->flags, sets, cmd->count, 0, &out);
    free(sets);
    if (rc != 0 || !ok) goto out;
    rc = apply_live(c, cmd->key, &rec);
    exists = rc == 0;
    if (rc != 0 && rc != KEEL_ENOTFOUND) goto out;
    rc = 0;
    if (out.n == 0) {
        keel_reply_int(r, 0);
        if (exists) {
            store_event(c, KEEL_EV_DEL, cmd->key);
            rc = storage_del(c->txn, cmd->key);
        }
        goto out;
    }
    for (i = 0; rc == 0 && i < out.n; i++) rc = add(c, &dc, keel_members_at(&out, i), &added, r);
    if (rc < 0) { /* a hash collision: dst is left as it was */
        rc = storage_coll_drop(c->txn, dc.id);
        goto out;
    }
    if (rc == 0) rc = store_back(c, cmd->key, 0, &dc);
    if (rc == 0) {
        keel_reply_int(r, (int64_t)dc.count);
        if (!exists) store_event(c, KEEL_EV_NEW, cmd->key); /* setKey's dbAdd */
        store_event(c, ev[cmd->flags & 3], cmd->key);
    }
out:
    keel_members_close(&out);
    return rc;
}
