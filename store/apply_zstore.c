/* store: applying ZSTORE (ZINTERSTORE ZUNIONSTORE ZDIFFSTORE) and ZRANGESTORE
 * (codec.h): the result is computed here, from this replica's own state, by
 * the code the reads use (zset_ops.c, zset_read.c), so every replica writes
 * the same set. As Redis with a destination: the result replaces the
 * destination whatever it held (its expiry dropped), or deletes it when
 * empty; the reply is the result's cardinality. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/le.h"
#include "store/internal.h"

/* Write res as the sorted set at key under a fresh id (computed whole
 * before: key may have been a source). ev: the command's event. */
int apply_zstore_result(struct apply_ctx *c, struct keel_slice key, const struct keel_zres *res,
                        unsigned ev, struct keel_reply *r)
{
    struct keel_record old;
    struct keel_coll coll = {0};
    bool exists;
    uint8_t buf[KEEL_COLL_SIZE];
    LOOKUP(c, key, &old, exists);
    if (res->ms.n == 0) {
        keel_reply_int(r, 0);
        if (!exists) return 0;
        store_event(c, KEEL_EV_DEL, key);
        return storage_del(c->txn, key);
    }
    int rc = storage_coll_new_id(c->txn, &coll.id);
    for (size_t i = 0; rc == 0 && i < res->ms.n; i++) {
        struct keel_slice m = keel_members_at(&res->ms, i);
        uint8_t sb[8];
        uint64_t bits;
        memcpy(&bits, &res->sc[i], sizeof bits);
        le64_store(sb, bits);
        rc = storage_member_put(c->txn, coll.id, KEEL_TAG_MEMBER, m, (struct keel_slice){sb, 8}, NULL);
        if (rc == 0) rc = storage_zindex_put(c->txn, coll.id, res->sc[i], m);
    }
    if (rc == KEEL_EEXISTS) { /* a long member's hash collision: dst is left as it was */
        rc = storage_coll_drop(c->txn, coll.id);
        if (rc == 0) keel_reply_error(r, KEEL_EEXISTS, "a member with the same 128-bit hash is already stored");
        return rc;
    }
    if (rc != 0) return rc;
    coll.count = res->ms.n;
    storage_coll_encode(&coll, buf);
    struct keel_record rec = {KEEL_TYPE_ZSET, 0, c->index, buf, sizeof buf};
    if ((rc = storage_put(c->txn, key, &rec, NULL)) != 0) return rc;
    keel_reply_int(r, (int64_t)coll.count);
    if (!exists) store_event(c, KEEL_EV_NEW, key); /* Redis's setKey: dbAdd's "new" */
    store_event(c, ev, key);
    return 0;
}

int apply_zstore(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    static const unsigned ev[4] = {0, KEEL_EV_ZINTERSTORE, KEEL_EV_ZUNIONSTORE, KEEL_EV_ZDIFFSTORE};
    struct keel_zsrc *src = calloc(cmd->count, sizeof *src);
    struct keel_zres res;
    struct keel_record rec;
    struct keel_iter it;
    struct keel_slice k, w;
    int rc = src == NULL ? KEEL_ENOMEM : 0;
    size_t n = 0;
    keel_zres_init(&res);
    keel_iter_init(&it, cmd->list);
    /* Every source's type is checked before anything is computed. */
    while (rc == 0 && keel_iter_str(&it, &k) && keel_iter_str(&it, &w)) {
        uint64_t bits = le64_load(w.p);
        rc = apply_live(c, k, &rec);
        if (rc != 0 && rc != KEEL_ENOTFOUND) break;
        rc = store_zsrc(&rec, rc == 0, &src[n]);
        memcpy(&src[n++].weight, &bits, sizeof bits);
    }
    if (rc == KEEL_EWRONGTYPE) {
        keel_reply_error(r, KEEL_EWRONGTYPE, NULL);
        rc = 0;
        goto out;
    }
    if (rc == KEEL_ECORRUPT) snprintf(c->st->errmsg, sizeof c->st->errmsg, "sorted set record corrupt");
    if (rc == 0) rc = store_zsetop(c->txn, cmd->flags, src, n, 0, NULL, &res);
    if (rc == 0) rc = apply_zstore_result(c, cmd->key, &res, ev[cmd->flags & KEEL_ZSTORE_OP], r);
out:
    keel_zres_close(&res);
    free(src);
    return rc;
}

static double double_of(struct keel_slice s)
{
    uint64_t b = le64_load(s.p);
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

/* ZRANGESTORE dst src ...: as Redis's zrangeGenericCommand with a
 * destination: an absent source stores nothing (dst deleted), a source of
 * another type than a sorted set (sets too) is WRONGTYPE. */
int apply_zrangestore(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_zsel sel;
    struct keel_zres res;
    struct keel_record rec;
    struct keel_coll coll = {0};
    bool exists;
    memset(&sel, 0, sizeof sel);
    sel.by = cmd->flags & KEEL_ZRS_BY;
    sel.rev = cmd->flags & KEEL_ZRS_REV;
    if (sel.by == KEEL_ZSEL_RANK) {
        sel.start = cmd->num;
        sel.end = (int64_t)cmd->version;
    } else {
        sel.offset = cmd->num;
        sel.limit = (int64_t)cmd->version;
    }
    if (sel.by == KEEL_ZSEL_SCORE) {
        sel.z.min = double_of(cmd->field);
        sel.z.max = double_of(cmd->expect);
        sel.z.minex = cmd->flags & KEEL_ZRS_MINEX;
        sel.z.maxex = cmd->flags & KEEL_ZRS_MAXEX;
    } else if (sel.by == KEEL_ZSEL_LEX) { /* decode validated the items */
        keel_lex_parse(cmd->field.p, cmd->field.n, &sel.lmin);
        keel_lex_parse(cmd->expect.p, cmd->expect.n, &sel.lmax);
    }
    LOOKUP(c, cmd->value, &rec, exists);
    if (exists && rec.type != KEEL_TYPE_ZSET) {
        keel_reply_error(r, KEEL_EWRONGTYPE, NULL);
        return 0;
    }
    if (exists && storage_coll_decode(&rec, &coll) != 0) {
        snprintf(c->st->errmsg, sizeof c->st->errmsg, "sorted set record corrupt");
        return KEEL_ECORRUPT;
    }
    keel_zres_init(&res);
    int rc = store_zselect(c->txn, &coll, &sel, &res);
    if (rc == 0) rc = apply_zstore_result(c, cmd->key, &res, KEEL_EV_ZRANGESTORE, r);
    keel_zres_close(&res);
    return rc;
}
