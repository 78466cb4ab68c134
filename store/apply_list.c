/* store: applying the list commands (codec.h LPUSH LPOP ...). A list is a
 * collection record whose items are sub-keys by position (list_ops.c);
 * every command keeps the record's count, head and tail in step with the
 * items it writes, and deletes the key once the list is empty, as Redis
 * does. */
#include <stdio.h>
#include <string.h>

#include "store/internal.h"

/* The first position a new list grows from: the middle of the u64 range,
 * so either end has 2^63 positions to grow into. */
#define MID (UINT64_C(1) << 63)

/* A looked-up record as a list: coll (id 0 when absent). Returns a storage
 * error, or 0 with *ok false after writing WRONGTYPE. */
static int as_list(struct apply_ctx *c, const struct keel_record *rec, bool exists,
                   struct keel_coll *coll, bool *ok, struct keel_reply *r)
{
    *ok = true;
    memset(coll, 0, sizeof *coll);
    if (!exists) return 0;
    if (rec->type != KEEL_TYPE_LIST) {
        keel_reply_error(r, KEEL_EWRONGTYPE, NULL);
        *ok = false;
        return 0;
    }
    if (storage_coll_decode(rec, coll) != 0 || coll->aux[1] < coll->aux[0] ||
        coll->aux[1] - coll->aux[0] != coll->count - 1) {
        snprintf(c->st->errmsg, sizeof c->st->errmsg, "list record corrupt");
        return KEEL_ECORRUPT;
    }
    return 0;
}

int apply_list_load(struct apply_ctx *c, struct keel_slice key, struct keel_record *rec,
                    struct keel_coll *coll, bool *exists, bool *ok, struct keel_reply *r)
{
    LOOKUP(c, key, rec, *exists);
    return as_list(c, rec, *exists, coll, ok, r);
}

int apply_list_store(struct apply_ctx *c, struct keel_slice key, int64_t expire_at,
                     const struct keel_coll *coll)
{
    uint8_t buf[KEEL_COLL_SIZE];
    if (coll->count == 0) {
        int rc = storage_del(c->txn, key);
        return rc == KEEL_ENOTFOUND ? 0 : rc;
    }
    storage_coll_encode(coll, buf);
    struct keel_record rec = {KEEL_TYPE_LIST, expire_at, c->index, buf, sizeof buf};
    return storage_put(c->txn, key, &rec, NULL);
}

bool apply_list_room(const struct keel_coll *coll, bool left, uint64_t n, struct keel_reply *r)
{
    /* 2^63 pushes onto one end: not reachable, but refused alike everywhere
     * and before anything is written. */
    if (coll->id == 0 || (left ? coll->aux[0] >= n : UINT64_MAX - coll->aux[1] >= n)) return true;
    keel_reply_error(r, KEEL_ETOOBIG, "the list cannot grow further at that end");
    return false;
}

int apply_list_push(struct apply_ctx *c, struct keel_coll *coll, bool left, struct keel_slice item)
{
    int rc = 0;
    if (coll->id == 0) {
        if ((rc = storage_coll_new_id(c->txn, &coll->id)) != 0) return rc;
        coll->aux[0] = MID;
        coll->aux[1] = MID - 1; /* empty: tail just before head */
    }
    uint64_t pos = left ? --coll->aux[0] : ++coll->aux[1];
    rc = store_list_put(c->txn, coll->id, pos, item);
    if (rc == 0) coll->count++;
    return rc;
}

int apply_lpush(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_record old;
    struct keel_coll coll;
    struct keel_iter it;
    struct keel_slice m;
    bool exists, ok, left = cmd->flags & KEEL_LIST_LEFT;
    int rc = apply_list_load(c, cmd->key, &old, &coll, &exists, &ok, r);
    if (rc != 0 || !ok) return rc;
    if (!exists && (cmd->flags & KEEL_LPUSH_EXISTS)) {
        keel_reply_int(r, 0);
        return 0;
    }
    if (!apply_list_room(&coll, left, cmd->count, r)) return 0;
    keel_iter_init(&it, cmd->list);
    while (rc == 0 && keel_iter_str(&it, &m)) rc = apply_list_push(c, &coll, left, m);
    if (rc != 0) return rc;
    if ((rc = apply_list_store(c, cmd->key, exists ? old.expire_at : 0, &coll)) != 0) return rc;
    if (!exists) store_event(c, KEEL_EV_NEW, cmd->key);
    store_event(c, left ? KEEL_EV_LPUSH : KEEL_EV_RPUSH, cmd->key);
    keel_reply_int(r, (int64_t)coll.count);
    return 0;
}

int apply_list_pop(struct apply_ctx *c, struct keel_coll *coll, bool left, uint64_t n,
                   struct keel_members *out)
{
    uint64_t off = left ? 0 : coll->count - n;
    int rc = store_list_copy(c->txn, coll, off, n, out);
    for (uint64_t i = 0; rc == 0 && i < n; i++)
        rc = store_list_del(c->txn, coll->id, left ? coll->aux[0]++ : coll->aux[1]--);
    if (rc != 0) return rc;
    coll->count -= n;
    return 0;
}

int apply_lpop(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_record old;
    struct keel_coll coll;
    struct keel_members out;
    bool exists, ok, left = cmd->flags & KEEL_LIST_LEFT, counted = cmd->flags & KEEL_LPOP_COUNT;
    int rc = apply_list_load(c, cmd->key, &old, &coll, &exists, &ok, r);
    if (rc != 0 || !ok) return rc;
    if (!exists) {
        if (counted) keel_reply_nil_array(r);
        else keel_reply_nil(r);
        return 0;
    }
    if (cmd->version == 0) { /* LPOP key 0: Redis answers before popping */
        keel_reply_array(r, 0);
        return 0;
    }
    uint64_t n = cmd->version < coll.count ? cmd->version : coll.count;
    keel_members_init(&out);
    rc = apply_list_pop(c, &coll, left, n, &out);
    if (rc == 0) rc = apply_list_store(c, cmd->key, old.expire_at, &coll);
    if (rc == 0) {
        /* RPOP with a count answers from the tail inwards. */
        if (counted) keel_reply_array(r, (uint32_t)n);
        for (uint64_t i = 0; i < n; i++) {
            struct keel_slice m = keel_members_at(&out, left ? i : n - 1 - i);
            keel_reply_bulk(r, m.p, m.n);
        }
        store_event(c, left ? KEEL_EV_LPOP : KEEL_EV_RPOP, cmd->key);
        if (coll.count == 0) store_event(c, KEEL_EV_DEL, cmd->key);
    }
    keel_members_close(&out);
    return rc;
}
