/* store: applying RENAME (RENAMENX, MOVE), COPY, SETRANGE, SETBIT, MSETNX and the
 * string side of SETFLOAT (INCRBYFLOAT's result). See codec.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/le.h"
#include "store/internal.h"

static bool same_key(struct keel_slice a, struct keel_slice b)
{
    return a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
}

/* RENAME src dst: the record moves whole, expiry included (Redis's
 * renameGenericCommand). Replies OK, or with NX 1 / 0. */
int apply_rename(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_record src, dst;
    bool exists, taken;
    bool nx = cmd->flags & KEEL_RENAME_NX, move = cmd->flags & KEEL_RENAME_MOVE;
    LOOKUP(c, cmd->key, &src, exists);
    if (!exists) {
        if (move) keel_reply_int(r, 0); /* Redis's MOVE of an absent key */
        else keel_reply_error(r, KEEL_EINVAL, "no such key");
        return 0;
    }
    if (same_key(cmd->key, cmd->value)) {
        if (nx) keel_reply_int(r, 0);
        else keel_reply_ok(r);
        return 0;
    }
    LOOKUP(c, cmd->value, &dst, taken);
    if (taken && nx) {
        keel_reply_int(r, 0);
        return 0;
    }
    /* storage_move keeps a collection's elements under its id (O(1)). */
    int rc = storage_move(c->txn, cmd->key, cmd->value, c->index);
    if (rc != 0) return rc;
    /* Redis deletes a taken destination and adds the key anew: "new"
     * either way, before the pair. */
    store_event(c, KEEL_EV_NEW, cmd->value);
    store_event(c, move ? KEEL_EV_MOVE_FROM : KEEL_EV_RENAME_FROM, cmd->key);
    store_event(c, move ? KEEL_EV_MOVE_TO : KEEL_EV_RENAME_TO, cmd->value);
    if (nx) keel_reply_int(r, 1);
    else keel_reply_ok(r);
    return 0;
}

/* COPY src dst [REPLACE]: 1 copied, 0 not (no source, or dst taken). */
int apply_copy(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_record src, dst;
    bool exists, taken;
    if (same_key(cmd->key, cmd->value)) {
        keel_reply_error(r, KEEL_EINVAL, "source and destination objects are the same");
        return 0;
    }
    LOOKUP(c, cmd->key, &src, exists);
    if (!exists) {
        keel_reply_int(r, 0);
        return 0;
    }
    LOOKUP(c, cmd->value, &dst, taken);
    if (taken && !(cmd->flags & KEEL_COPY_REPLACE)) {
        keel_reply_int(r, 0);
        return 0;
    }
    /* storage_copy gives a collection's copy its own elements, new id. */
    int rc = storage_copy(c->txn, cmd->key, cmd->value, c->index);
    if (rc != 0) return rc;
    store_event(c, KEEL_EV_NEW, cmd->value); /* as RENAME's destination */
    store_event(c, KEEL_EV_COPY_TO, cmd->value);
    keel_reply_int(r, 1);
    return 0;
}

/* SETRANGE key offset value (Redis's setrangeCommand; Keel's value limit
 * instead of proto-max-bulk-len). Replies the new length. */
int apply_setrange(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_record old;
    bool exists;
    LOOKUP(c, cmd->key, &old, exists);
    if (exists && old.type != KEEL_TYPE_STRING) {
        keel_reply_error(r, KEEL_EWRONGTYPE, NULL);
        return 0;
    }
    size_t have = exists ? old.len : 0;
    if (cmd->value.n == 0) {
        keel_reply_int(r, (int64_t)have);
        return 0;
    }
    if ((uint64_t)cmd->num > KEEL_MAX_VALUE - cmd->value.n) {
        char msg[96];
        snprintf(msg, sizeof msg, "string exceeds maximum allowed size (Keel's value limit, %u bytes)",
                 KEEL_MAX_VALUE);
        keel_reply_error(r, KEEL_ETOOBIG, msg);
        return 0;
    }
    size_t off = (size_t)cmd->num, end = off + cmd->value.n;
    size_t len = end > have ? end : have;
    uint8_t *buf = store_scratch(c->st, len);
    if (buf == NULL) return KEEL_ENOMEM;
    if (have > 0) memcpy(buf, old.val, have);
    if (off > have) memset(buf + have, 0, off - have);
    memcpy(buf + off, cmd->value.p, cmd->value.n);
    struct keel_record rec = {KEEL_TYPE_STRING, exists ? old.expire_at : 0, c->index, buf, len};
    int rc = storage_put(c->txn, cmd->key, &rec, NULL);
    if (rc != 0) return rc;
    if (!exists) store_event(c, KEEL_EV_NEW, cmd->key);
    store_event(c, KEEL_EV_SETRANGE, cmd->key);
    keel_reply_int(r, (int64_t)len);
    return 0;
}

/* SETBIT key offset 0|1 (Redis's setbitCommand): the string grows with
 * zero bytes to hold the bit, bit 0 being the most significant of byte 0.
 * Replies the bit that was there. The size limit is Keel's value limit. */
int apply_setbit(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_record old;
    bool exists;
    LOOKUP(c, cmd->key, &old, exists);
    if (exists && old.type != KEEL_TYPE_STRING) {
        keel_reply_error(r, KEEL_EWRONGTYPE, NULL);
        return 0;
    }
    size_t byte = (size_t)((uint64_t)cmd->num >> 3), have = exists ? old.len : 0;
    if (byte >= KEEL_MAX_VALUE) {
        char msg[96];
        snprintf(msg, sizeof msg, "string exceeds maximum allowed size (Keel's value limit, %u bytes)",
                 KEEL_MAX_VALUE);
        keel_reply_error(r, KEEL_ETOOBIG, msg);
        return 0;
    }
    size_t len = byte + 1 > have ? byte + 1 : have;
    uint8_t *buf = store_scratch(c->st, len);
    if (buf == NULL) return KEEL_ENOMEM;
    if (have > 0) memcpy(buf, old.val, have);
    if (len > have) memset(buf + have, 0, len - have);
    uint8_t mask = (uint8_t)(0x80u >> (cmd->num & 7));
    int was = (buf[byte] & mask) != 0;
    if (cmd->flags & KEEL_SETBIT_ONE) buf[byte] |= mask;
    else buf[byte] &= (uint8_t)~mask;
    struct keel_record rec = {KEEL_TYPE_STRING, exists ? old.expire_at : 0, c->index, buf, len};
    int rc = storage_put(c->txn, cmd->key, &rec, NULL);
    if (rc != 0) return rc;
    store_event(c, KEEL_EV_SETBIT, cmd->key);
    keel_reply_int(r, was);
    return 0;
}

/* MSETNX k v [k v ...]: all set (1) if none exists, else nothing (0).
 * With KEEL_MSETNX_ALL it is MSET: every pair set, +OK. */
int apply_msetnx(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_iter it;
    struct keel_slice k, v;
    struct keel_record rec;
    bool exists;
    bool all = cmd->flags & KEEL_MSETNX_ALL; /* MSET */
    keel_iter_init(&it, cmd->list);
    while (keel_iter_str(&it, &k) && keel_iter_str(&it, &v)) {
        /* MSETNX looks for an existing key; MSET drops expired ones (an
         * "expired" event, as Redis's lookup for a write gives). */
        LOOKUP(c, k, &rec, exists);
        if (exists && !all) {
            keel_reply_int(r, 0);
            return 0;
        }
    }
    keel_iter_init(&it, cmd->list);
    while (keel_iter_str(&it, &k) && keel_iter_str(&it, &v)) {
        /* "new" unless the key exists or came earlier in this command (the
         * first pass left no expired one). */
        if (c->st->events.on && storage_get(c->txn, k, &rec) == KEEL_ENOTFOUND)
            store_event(c, KEEL_EV_NEW, k);
        struct keel_record put = {KEEL_TYPE_STRING, 0, c->index, v.p, v.n};
        int rc = storage_put(c->txn, k, &put, NULL);
        if (rc != 0) return rc;
        store_event(c, KEEL_EV_SET, k);
    }
    if (all) keel_reply_ok(r);
    else keel_reply_int(r, 1);
    return 0;
}

/* SETFLOAT: the leader's INCRBYFLOAT/HINCRBYFLOAT result, written only if
 * the key is still at the version the leader computed it from. */
int apply_setfloat(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_record old;
    bool exists;
    LOOKUP(c, cmd->key, &old, exists);
    if ((exists ? old.version : 0) != cmd->version) {
        keel_reply_error(r, KEEL_EBUSY, "the key changed while its increment was replicated");
        c->forget = true;
        return 0;
    }
    if (cmd->flags & KEEL_SETFLOAT_HASH) return apply_hsetfloat(c, cmd, r);
    if (exists && old.type != KEEL_TYPE_STRING) {
        keel_reply_error(r, KEEL_EWRONGTYPE, NULL);
        return 0;
    }
    struct keel_record rec = {KEEL_TYPE_STRING, exists ? old.expire_at : 0, c->index,
                              cmd->value.p, cmd->value.n};
    int rc = storage_put(c->txn, cmd->key, &rec, NULL);
    if (rc != 0) return rc;
    if (!exists) store_event(c, KEEL_EV_NEW, cmd->key);
    store_event(c, KEEL_EV_INCRBYFLOAT, cmd->key);
    keel_reply_bulk(r, cmd->value.p, cmd->value.n);
    return 0;
}
