/* store: applying committed entries: the dispatcher, string commands, CAS,
 * batches, sweeps and the dedupe table. See store.h for the contract. */
#include <stdio.h>
#include <string.h>

#include "store/internal.h"

/* Put a string record, building it from v. */
static int put_string(struct apply_ctx *c, struct keel_slice key, struct keel_slice v,
                      int64_t expire_at)
{
    struct keel_record rec = {KEEL_TYPE_STRING, expire_at, c->index, v.p, v.n};
    return storage_put(c->txn, key, &rec, NULL);
}

/* Rewrite a record's expiry. Its value is in the map, which the put may
 * reuse, so it is copied out first. */
static int retime(struct apply_ctx *c, struct keel_slice key, const struct keel_record *old,
                  int64_t expire_at)
{
    uint8_t *buf = store_scratch(c->st, old->len);
    if (buf == NULL && old->len > 0) return KEEL_ENOMEM;
    if (old->len > 0) memcpy(buf, old->val, old->len);
    struct keel_record rec = {old->type, expire_at, c->index, buf, old->len};
    return storage_put(c->txn, key, &rec, NULL);
}

/* Look up, deleting the record if it is present but expired: the caller
 * then sees the key as absent, as Redis's lazy expiry does. */
int apply_live(struct apply_ctx *c, struct keel_slice key, struct keel_record *rec)
{
    int rc = storage_get(c->txn, key, rec);
    if (rc != 0) return rc;
    if (rec->expire_at != 0 && rec->expire_at <= c->ts) {
        /* Redis reports a lazily expired key as "expired" too. */
        store_event(c, KEEL_EV_EXPIRED, key);
        rc = storage_del(c->txn, key);
        return rc == 0 ? KEEL_ENOTFOUND : rc;
    }
    return 0;
}

static int apply_set(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_record old;
    bool exists;
    LOOKUP(c, cmd->key, &old, exists);
    bool get = cmd->flags & KEEL_SET_GET;
    if (get && exists && old.type != KEEL_TYPE_STRING) {
        keel_reply_error(r, KEEL_EWRONGTYPE, NULL);
        return 0;
    }
    if (((cmd->flags & KEEL_SET_NX) && exists) || ((cmd->flags & KEEL_SET_XX) && !exists)) {
        if (get && exists) keel_reply_bulk(r, old.val, old.len);
        else keel_reply_nil(r);
        return 0;
    }
    /* The reply copies the old value before the put may overwrite it. */
    if (get) {
        if (exists) keel_reply_bulk(r, old.val, old.len);
        else keel_reply_nil(r);
    } else {
        keel_reply_ok(r);
    }
    int64_t expire = cmd->num;
    if ((cmd->flags & KEEL_SET_KEEPTTL) && exists) expire = old.expire_at;
    /* Like Redis: "new" for a created key, "set", then "expire" when the
     * command gave a time. */
    if (!exists) store_event(c, KEEL_EV_NEW, cmd->key);
    store_event(c, KEEL_EV_SET, cmd->key);
    if (cmd->num != 0 && !(cmd->flags & KEEL_SET_KEEPTTL)) store_event(c, KEEL_EV_EXPIRE, cmd->key);
    if (expire != 0 && expire <= c->ts) {
        /* Already expired (EXAT/PXAT in the past): Redis keeps the key until
         * its next lookup or its expiry cycle deletes it as "expired"; here
         * it goes at once, with the same events in the same order. */
        store_event(c, KEEL_EV_EXPIRED, cmd->key);
        return exists ? storage_del(c->txn, cmd->key) : 0;
    }
    return put_string(c, cmd->key, cmd->value, expire);
}

static int apply_del(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_iter it;
    struct keel_slice key;
    struct keel_record rec;
    int64_t n = 0;
    keel_iter_init(&it, cmd->list);
    while (keel_iter_str(&it, &key)) {
        bool exists;
        LOOKUP(c, key, &rec, exists);
        if (!exists) continue;
        store_event(c, KEEL_EV_DEL, key);
        int rc = storage_del(c->txn, key);
        if (rc != 0) return rc;
        n++;
    }
    keel_reply_int(r, n);
    return 0;
}

static int apply_incrby(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_record old;
    bool exists;
    int64_t v = 0;
    char buf[24];
    LOOKUP(c, cmd->key, &old, exists);
    if (exists && old.type != KEEL_TYPE_STRING) {
        keel_reply_error(r, KEEL_EWRONGTYPE, NULL);
        return 0;
    }
    if (exists && !store_parse_int(old.val, old.len, &v)) {
        keel_reply_error(r, KEEL_ENOTINT, NULL);
        return 0;
    }
    if (store_add_overflows(v, cmd->num, &v)) {
        keel_reply_error(r, KEEL_EOVERFLOW, NULL);
        return 0;
    }
    size_t n = store_format_int(v, buf);
    keel_reply_int(r, v);
    if (!exists) store_event(c, KEEL_EV_NEW, cmd->key);
    store_event(c, KEEL_EV_INCRBY, cmd->key);
    return put_string(c, cmd->key, (struct keel_slice){(uint8_t *)buf, n},
                      exists ? old.expire_at : 0);
}

static int apply_expire(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_record old;
    bool exists;
    LOOKUP(c, cmd->key, &old, exists);
    if (!exists) {
        keel_reply_int(r, 0);
        return 0;
    }
    /* No expiry counts as infinite, as in Redis 7. */
    int64_t cur = old.expire_at, at = cmd->num;
    unsigned f = cmd->flags;
    if (((f & KEEL_EXPIRE_NX) && cur != 0) || ((f & KEEL_EXPIRE_XX) && cur == 0) ||
        ((f & KEEL_EXPIRE_GT) && (cur == 0 || at <= cur)) ||
        ((f & KEEL_EXPIRE_LT) && cur != 0 && at >= cur)) {
        keel_reply_int(r, 0);
        return 0;
    }
    keel_reply_int(r, 1);
    store_event(c, at <= c->ts ? KEEL_EV_DEL : KEEL_EV_EXPIRE, cmd->key);
    if (at <= c->ts) return storage_del(c->txn, cmd->key);
    return retime(c, cmd->key, &old, at);
}

static int apply_persist(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_record old;
    bool exists;
    LOOKUP(c, cmd->key, &old, exists);
    if (!exists || old.expire_at == 0) {
        keel_reply_int(r, 0);
        return 0;
    }
    keel_reply_int(r, 1);
    store_event(c, KEEL_EV_PERSIST, cmd->key);
    return retime(c, cmd->key, &old, 0);
}

static int apply_cas(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_record old;
    bool exists, match;
    LOOKUP(c, cmd->key, &old, exists);
    if (cmd->flags & KEEL_CAS_VERSION) {
        match = cmd->version == (exists ? old.version : 0);
    } else if (cmd->flags & KEEL_CAS_ABSENT) {
        match = !exists;
    } else {
        if (exists && old.type != KEEL_TYPE_STRING) {
            keel_reply_error(r, KEEL_EWRONGTYPE, NULL);
            return 0;
        }
        match = exists && old.len == cmd->expect.n &&
                (old.len == 0 || memcmp(old.val, cmd->expect.p, old.len) == 0);
    }
    keel_reply_int(r, match);
    if (!match) return 0;
    if ((cmd->flags & KEEL_CAS_DELETE) || (cmd->num != 0 && cmd->num <= c->ts)) {
        if (!exists) return 0;
        store_event(c, KEEL_EV_DEL, cmd->key);
        return storage_del(c->txn, cmd->key);
    }
    if (!exists) store_event(c, KEEL_EV_NEW, cmd->key);
    store_event(c, KEEL_EV_SET, cmd->key);
    if (cmd->num != 0) store_event(c, KEEL_EV_EXPIRE, cmd->key);
    return put_string(c, cmd->key, cmd->value, cmd->num);
}

static int apply_append(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_record old;
    bool exists;
    LOOKUP(c, cmd->key, &old, exists);
    if (exists && old.type != KEEL_TYPE_STRING) {
        keel_reply_error(r, KEEL_EWRONGTYPE, NULL);
        return 0;
    }
    size_t len = (exists ? old.len : 0) + cmd->value.n;
    if (len > KEEL_MAX_VALUE) {
        keel_reply_error(r, KEEL_ETOOBIG, "string exceeds the value size limit");
        return 0;
    }
    /* Built in scratch: the old value lives in a page the put may reuse. */
    uint8_t *buf = store_scratch(c->st, len);
    if (buf == NULL && len > 0) return KEEL_ENOMEM;
    if (exists && old.len > 0) memcpy(buf, old.val, old.len);
    if (cmd->value.n > 0) memcpy(buf + (exists ? old.len : 0), cmd->value.p, cmd->value.n);
    keel_reply_int(r, (int64_t)len);
    if (!exists) store_event(c, KEEL_EV_NEW, cmd->key);
    store_event(c, KEEL_EV_APPEND, cmd->key);
    return put_string(c, cmd->key, (struct keel_slice){buf, len}, exists ? old.expire_at : 0);
}

/* GETDEL and GETEX: reply with the string's value, then delete or retime. */
static int apply_getx(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_record old;
    bool exists;
    LOOKUP(c, cmd->key, &old, exists);
    if (!exists) {
        keel_reply_nil(r);
        return 0;
    }
    if (old.type != KEEL_TYPE_STRING) {
        keel_reply_error(r, KEEL_EWRONGTYPE, NULL);
        return 0;
    }
    keel_reply_bulk(r, old.val, old.len);
    if (cmd->type == STORE_CMD_GETDEL || (cmd->num != 0 && cmd->num <= c->ts &&
                                         !(cmd->flags & KEEL_GETEX_PERSIST))) {
        store_event(c, KEEL_EV_DEL, cmd->key);
        return storage_del(c->txn, cmd->key);
    }
    if (cmd->flags & KEEL_GETEX_PERSIST) {
        if (old.expire_at == 0) return 0;
        store_event(c, KEEL_EV_PERSIST, cmd->key);
        return retime(c, cmd->key, &old, 0);
    }
    if (cmd->num == 0) return 0;
    store_event(c, KEEL_EV_EXPIRE, cmd->key);
    return retime(c, cmd->key, &old, cmd->num);
}

/* HASH: digest this txn's view, i.e. the state every replica holds as of
 * this entry. Scans the whole keyspace: an operator's check, not a hot path.
 * Kept in memory for KEEL.HASHKV.LAST; the reply carries the index and the
 * digest as 16 hex digits. */
static int apply_hash_check(struct apply_ctx *c, struct keel_reply *r)
{
    uint64_t digest;
    int rc = storage_digest_txn(c->txn, &digest);
    if (rc != 0) return rc;
    c->st->hash_index = c->index;
    c->st->hash_digest = digest;
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)digest);
    keel_reply_array(r, 2);
    keel_reply_int(r, (int64_t)c->index);
    keel_reply_bulk(r, hex, 16);
    return 0;
}

/* HASH CHECK and VERDICT: the replicated state sees only the index and the
 * clock move, like any entry. What they ask of this replica (digest the
 * state now; compare with the majority's digest) is done by the node, off
 * the loop and outside apply, from this note: nothing it finds can change
 * what apply does, so replicas cannot diverge over it. */
static int apply_check(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_check_note *n = &c->st->check_note;
    if (cmd->flags & KEEL_HASH_CHECK) {
        n->kind = KEEL_CHECK_ROUND;
        n->index = c->index;
        n->digest = 0;
        keel_reply_int(r, (int64_t)c->index);
    } else {
        n->kind = KEEL_CHECK_VERDICT;
        n->index = (uint64_t)cmd->num;
        n->digest = cmd->version;
        keel_reply_ok(r);
    }
    return 0;
}

static int apply_one(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);

static int apply_batch(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_iter it;
    struct keel_slice key;
    struct keel_record rec;
    uint64_t version;
    keel_iter_init(&it, cmd->watches);
    while (keel_iter_watch(&it, &key, &version)) {
        int rc = store_lookup(c->txn, key, c->ts, &rec);
        if (rc != 0 && rc != KEEL_ENOTFOUND) return rc;
        if ((rc == 0 ? rec.version : 0) != version) {
            keel_reply_nil(r); /* a watched key changed: EXEC aborts */
            return 0;
        }
    }
    /* A SETFLOAT (INCRBYFLOAT queued in MULTI) or SPOP was computed by the
     * leader from its key as of a version; no earlier command of the batch
     * writes that key (the leader refuses such a batch), so the version it
     * has now is the one it will have at its place. If another write moved
     * it on, the whole batch is refused with BUSY, before it changes
     * anything, and the leader builds it again. */
    struct store_cmd sub;
    keel_iter_init(&it, cmd->list);
    while (store_iter_cmd(&it, cmd, &sub)) {
        if (sub.type != STORE_CMD_SETFLOAT && sub.type != STORE_CMD_SPOP) continue;
        int rc = store_lookup(c->txn, sub.key, c->ts, &rec);
        if (rc != 0 && rc != KEEL_ENOTFOUND) return rc;
        if ((rc == 0 ? rec.version : 0) != sub.version) {
            keel_reply_error(r, KEEL_EBUSY, "a key changed while its increment was replicated");
            c->forget = true;
            return 0;
        }
    }
    keel_reply_array(r, cmd->count);
    keel_iter_init(&it, cmd->list);
    for (uint32_t i = 0; i < cmd->count; i++) {
        if (!store_iter_cmd(&it, cmd, &sub)) {
            keel_reply_error(r, KEEL_EMALFORMED, "bad sub-command");
            continue;
        }
        int rc = apply_one(c, &sub, r);
        if (rc != 0) return rc;
    }
    return 0;
}

static int apply_sweep(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_slice key;
    int64_t at;
    uint32_t n = 0;
    size_t mark = keel_reply_array_begin(r);
    while ((int64_t)n < cmd->num) {
        int rc = storage_expired_first(c->txn, c->ts, &key, &at);
        if (rc == KEEL_ENOTFOUND) break;
        if (rc != 0) return rc;
        keel_reply_bulk(r, key.p, key.n); /* copy the key before deleting it */
        store_event(c, KEEL_EV_EXPIRED, key);
        rc = storage_del(c->txn, key);
        if (rc != 0) return rc;
        n++;
    }
    keel_reply_array_end(r, mark, n);
    c->st->stats.expired += n;
    return 0;
}

static int apply_one(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    switch (cmd->type) {
        case STORE_CMD_NOOP:
            keel_reply_ok(r);
            return 0;
        case STORE_CMD_SET:
            return apply_set(c, cmd, r);
        case STORE_CMD_DEL:
            return apply_del(c, cmd, r);
        case STORE_CMD_INCRBY:
            return apply_incrby(c, cmd, r);
        case STORE_CMD_EXPIRE:
            return apply_expire(c, cmd, r);
        case STORE_CMD_PERSIST:
            return apply_persist(c, cmd, r);
        case STORE_CMD_HSET:
            return apply_hset(c, cmd, r);
        case STORE_CMD_HDEL:
            return apply_hdel(c, cmd, r);
        case STORE_CMD_HINCRBY:
            return apply_hincrby(c, cmd, r);
        case STORE_CMD_CAS:
            return apply_cas(c, cmd, r);
        case STORE_CMD_BATCH:
            return apply_batch(c, cmd, r);
        case STORE_CMD_SWEEP:
            return apply_sweep(c, cmd, r);
        case STORE_CMD_APPEND:
            return apply_append(c, cmd, r);
        case STORE_CMD_GETDEL:
        case STORE_CMD_GETEX:
            return apply_getx(c, cmd, r);
        case STORE_CMD_ACL:
            return apply_acl(c, cmd, r);
        case STORE_CMD_RENAME:
            return apply_rename(c, cmd, r);
        case STORE_CMD_COPY:
            return apply_copy(c, cmd, r);
        case STORE_CMD_FLUSH:
        case STORE_CMD_FLUSHDB:
            return apply_flush(c, cmd, r);
        case STORE_CMD_SWAPDB:
            return apply_swapdb(c, cmd, r);
        case STORE_CMD_SETRANGE:
            return apply_setrange(c, cmd, r);
        case STORE_CMD_SETBIT:
            return apply_setbit(c, cmd, r);
        case STORE_CMD_MSETNX:
            return apply_msetnx(c, cmd, r);
        case STORE_CMD_SETFLOAT:
            return apply_setfloat(c, cmd, r);
        case STORE_CMD_SADD:
            return apply_sadd(c, cmd, r);
        case STORE_CMD_ZADD:
            return apply_zadd(c, cmd, r);
        case STORE_CMD_ZREM:
            return apply_zrem(c, cmd, r);
        case STORE_CMD_ZREMRANGE:
            return apply_zremrange(c, cmd, r);
        case STORE_CMD_ZSTORE:
            return apply_zstore(c, cmd, r);
        case STORE_CMD_ZRANGESTORE:
            return apply_zrangestore(c, cmd, r);
        case STORE_CMD_SREM:
            return apply_srem(c, cmd, r);
        case STORE_CMD_SPOP:
            return apply_spop(c, cmd, r);
        case STORE_CMD_SMOVE:
            return apply_smove(c, cmd, r);
        case STORE_CMD_SSTORE:
            return apply_sstore(c, cmd, r);
        case STORE_CMD_READ:
            return apply_read(c, cmd, r);
        case STORE_CMD_LPUSH:
            return apply_lpush(c, cmd, r);
        case STORE_CMD_LPOP:
            return apply_lpop(c, cmd, r);
        case STORE_CMD_LSET:
            return apply_lset(c, cmd, r);
        case STORE_CMD_LREM:
            return apply_lrem(c, cmd, r);
        case STORE_CMD_LTRIM:
            return apply_ltrim(c, cmd, r);
        case STORE_CMD_LINSERT:
            return apply_linsert(c, cmd, r);
        case STORE_CMD_LMOVE:
            return apply_lmove(c, cmd, r);
        case STORE_CMD_MPOP:
            return apply_mpop(c, cmd, r);
        case STORE_CMD_HASH:
            if (cmd->flags & (KEEL_HASH_CHECK | KEEL_HASH_VERDICT)) return apply_check(c, cmd, r);
            return apply_hash_check(c, r);
    }
    keel_reply_error(r, KEEL_EMALFORMED, "unknown command"); /* decode rules this out */
    return 0;
}

/* The dedupe table's part of an apply: bounded eviction, then either the
 * remembered reply of a retry or a fresh apply whose reply is remembered. */
static int apply_deduped(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_slice old;
    int rc = storage_dedupe_evict(c->txn, c->ts - KEEL_DEDUPE_TTL_MS, KEEL_DEDUPE_MAX,
                                  KEEL_DEDUPE_EVICT_BUDGET);
    if (rc != 0 || cmd->client == 0) return rc != 0 ? rc : apply_one(c, cmd, r);
    rc = storage_dedupe_get(c->txn, cmd->client, cmd->seq, &old);
    if (rc == 0) {
        c->st->stats.deduped++;
        keel_reply_raw(r, old.p, old.n);
        return 0;
    }
    if (rc != KEEL_ENOTFOUND) return rc;
    rc = apply_one(c, cmd, r);
    if (rc != 0 || c->forget) return rc;
    if (c->empty_pop && (cmd->type == STORE_CMD_MPOP || cmd->type == STORE_CMD_LMOVE)) return 0;
    if (r->lost) return KEEL_ENOMEM; /* local, so fatal: replicas must not differ */
    struct keel_slice keep = {r->buf, r->len};
    if (r->len > KEEL_DEDUPE_MAX_REPLY || c->read) {
        /* Too big to keep, or holding reads (their replies are the node's,
         * not replicated state): remembered as applied-without-reply.
         * Deterministic, since a reply's size is when it has no reads, and
         * whether it has is the entry's. */
        struct keel_reply lost;
        keel_reply_init(&lost);
        keel_reply_error(&lost, KEEL_EREPLYLOST, NULL);
        bool oom = lost.lost;
        keep = (struct keel_slice){lost.buf, lost.len};
        rc = oom ? KEEL_ENOMEM
                 : storage_dedupe_put(c->txn, cmd->client, cmd->seq, c->ts, keep);
        keel_reply_close(&lost);
        return rc;
    }
    return storage_dedupe_put(c->txn, cmd->client, cmd->seq, c->ts, keep);
}

static int apply_txn(struct keel_store *st, uint64_t index, const void *buf, size_t len,
                     struct keel_reply *reply)
{
    struct keel_txn txn;
    struct store_cmd cmd;
    const char *why = NULL;
    uint64_t clock;
    char clash[KEEL_ERRMSG_SIZE] = "";
    const struct keel_store_stats before = st->stats;
again:
    events_reset(&st->events, index); /* a retry after growing the map starts over */
    int rc = storage_txn_begin(st->storage, true, &txn);
    if (rc != 0) return rc;
    struct apply_ctx c = {st, &txn, 0, index, false, false, false};
    if (clash[0] != 0) {
        /* Storage refused a key or element whose 128-bit hash another one
         * holds (storage.h): the entry is rejected, alike on every replica,
         * and commits as a no-op. */
        keel_reply_error(reply, KEEL_EEXISTS, clash);
        st->stats.rejected++;
        goto commit;
    }
    rc = store_cmd_decode(buf, len, &cmd, &why);
    if (rc != 0) {
        /* Commits as a no-op: the index still advances on every replica. */
        char msg[96];
        snprintf(msg, sizeof msg, "rejected entry: %s", why ? why : keel_strerror(rc));
        keel_reply_error(reply, rc, msg);
        st->stats.rejected++;
        goto commit;
    }
    rc = storage_meta_get(&txn, "clock", &clock);
    if (rc != 0) goto abort;
    c.ts = cmd.ts > (int64_t)clock ? cmd.ts : (int64_t)clock;
    if (c.ts != (int64_t)clock && (rc = storage_meta_put(&txn, "clock", (uint64_t)c.ts)) != 0)
        goto abort;
    rc = apply_deduped(&c, &cmd, reply);
    if (rc == KEEL_EEXISTS) {
        snprintf(clash, sizeof clash, "%s", keel_storage_errmsg(st->storage));
        if (clash[0] == 0) snprintf(clash, sizeof clash, "a hash collision");
        storage_txn_abort(&txn);
        st->stats = before; /* the attempt rolled back counts nothing */
        memset(&st->check_note, 0, sizeof st->check_note);
        keel_reply_reset(reply);
        goto again;
    }
    if (rc != 0) goto abort;
commit:
    rc = storage_set_applied(&txn, index);
    if (rc != 0) goto abort;
    rc = storage_txn_commit(&txn);
    if (rc == 0 && c.ts != 0) st->last_ts = c.ts; /* an output for the node's clock */
    return rc;
abort:
    storage_txn_abort(&txn);
    return rc;
}

int keel_store_apply(struct keel_store *st, uint64_t index, const void *buf, size_t len,
                     struct keel_reply *reply)
{
    keel_reply_reset(reply);
    events_reset(&st->events, index);
    memset(&st->check_note, 0, sizeof st->check_note);
    if (index <= keel_storage_applied(st->storage)) {
        st->stats.skipped++;
        st->events.index = 0; /* says "skipped" to whoever reads the events */
        keel_reply_error(reply, KEEL_EEXISTS, "entry already applied");
        return 0;
    }
    for (;;) {
        struct keel_store_stats before = st->stats;
        int rc = apply_txn(st, index, buf, len, reply);
        if (rc == 0) {
            st->stats.applied++;
            events_finish(&st->events);
            return 0;
        }
        st->stats = before; /* rolled back: the attempt counts nothing */
        memset(&st->check_note, 0, sizeof st->check_note);
        keel_reply_reset(reply);
        if (rc == KEEL_EMAPFULL) {
            /* Everything was rolled back; make room and apply again. */
            rc = storage_grow(st->storage);
            if (rc == 0) {
                st->stats.map_grows++;
                continue;
            }
        }
        if (rc == KEEL_ENOSPACE && keel_storage_reclaim(st->storage)) {
            /* The disk filled: the released reserve gives the same entry
             * room (the leader refuses new writes from now on). */
            st->stats.disk_reclaims++;
            continue;
        }
        events_reset(&st->events, index);
        snprintf(st->errmsg, sizeof st->errmsg, "apply index %llu: %s",
                 (unsigned long long)index, keel_storage_errmsg(st->storage));
        return rc;
    }
}
