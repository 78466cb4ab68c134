/* store: applying the sorted-set commands ZADD (ZINCRBY), ZREM and ZREMRANGE
 * (ZPOPMIN ZPOPMAX ZREMRANGEBYRANK/SCORE/LEX) (codec.h).
 * A sorted set is a collection record, member -> score sub-keys and one
 * score-index sub-key per member (storage.h): every command changes a member
 * and its index entry together, keeps the record's count in step and deletes
 * the key once the set is empty, as Redis does. Apply compares and adds
 * doubles, which IEEE 754 makes the same on every replica; the one score it
 * formats (the INCR reply) goes through keel_score_format, a pure function. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/le.h"
#include "store/internal.h"
#include "store/score.h"

/* A looked-up record as a sorted set (id 0 when absent). A storage error, or
 * 0 with *ok false after writing WRONGTYPE. */
static int as_zset(struct apply_ctx *c, const struct keel_record *rec, bool exists,
                   struct keel_coll *coll, bool *ok, struct keel_reply *r)
{
    *ok = true;
    memset(coll, 0, sizeof *coll);
    if (!exists) return 0;
    if (rec->type != KEEL_TYPE_ZSET) {
        keel_reply_error(r, KEEL_EWRONGTYPE, NULL);
        *ok = false;
        return 0;
    }
    if (storage_coll_decode(rec, coll) != 0) {
        snprintf(c->st->errmsg, sizeof c->st->errmsg, "sorted set record corrupt");
        return KEEL_ECORRUPT;
    }
    return 0;
}

static int store_back(struct apply_ctx *c, struct keel_slice key, int64_t expire_at,
                      const struct keel_coll *coll)
{
    uint8_t buf[KEEL_COLL_SIZE];
    if (coll->count == 0) {
        int rc = storage_del(c->txn, key);
        return rc == KEEL_ENOTFOUND ? 0 : rc;
    }
    storage_coll_encode(coll, buf);
    struct keel_record rec = {KEEL_TYPE_ZSET, expire_at, c->index, buf, sizeof buf};
    return storage_put(c->txn, key, &rec, NULL);
}

static double score_of(struct keel_slice s)
{
    uint64_t b = le64_load(s.p);
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

/* The member's score: 0 and *d, KEEL_ENOTFOUND, or a storage error. */
int store_zscore(struct keel_txn *txn, uint64_t id, struct keel_slice m, double *d)
{
    struct keel_slice data;
    if (id == 0) return KEEL_ENOTFOUND;
    int rc = storage_member_get(txn, id, KEEL_TAG_MEMBER, m, &data);
    if (rc != 0) return rc;
    if (data.n != 8) return KEEL_ECORRUPT;
    *d = score_of(data);
    return 0;
}

/* Set member m's score to d (old: its current score, if had). */
static int put(struct apply_ctx *c, struct keel_coll *coll, struct keel_slice m, double d,
               bool had, double old)
{
    uint8_t sb[8];
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    le64_store(sb, b);
    int rc = had ? storage_zindex_del(c->txn, coll->id, old, m) : 0;
    if (rc == 0) rc = storage_member_put(c->txn, coll->id, KEEL_TAG_MEMBER, m, (struct keel_slice){sb, 8}, NULL);
    if (rc == 0) rc = storage_zindex_put(c->txn, coll->id, d, m);
    return rc;
}

/* One pair of ZADD (Redis's zsetAdd): *done whether it was processed (not
 * skipped by NX XX GT LT), *out the member's score after it. -1 after
 * replying an error (nothing changed). */
static int zadd_one(struct apply_ctx *c, unsigned fl, struct keel_coll *coll, double sc,
                    struct keel_slice m, int64_t *added, int64_t *updated, bool *done, double *out,
                    struct keel_reply *r)
{
    double cur;
    *done = false;
    int rc = store_zscore(c->txn, coll->id, m, &cur);
    if (rc != 0 && rc != KEEL_ENOTFOUND) return rc;
    if (rc == 0) {
        if (fl & KEEL_ZADD_NX) return 0;
        double d = fl & KEEL_ZADD_INCR ? cur + sc : sc;
        if (isnan(d)) {
            keel_reply_error(r, KEEL_EINVAL, "resulting score is not a number (NaN)");
            return -1;
        }
        if (((fl & KEEL_ZADD_LT) && d >= cur) || ((fl & KEEL_ZADD_GT) && d <= cur)) return 0;
        *done = true;
        *out = d;
        if (d == cur) return 0;
        (*updated)++;
        return put(c, coll, m, d, true, cur);
    }
    if (fl & KEEL_ZADD_XX) return 0;
    rc = coll->id == 0 ? storage_coll_new_id(c->txn, &coll->id) : 0;
    /* A long member whose hash another holds: refused alike everywhere. */
    if (rc == 0) rc = put(c, coll, m, sc, false, 0);
    if (rc == KEEL_EEXISTS) {
        keel_reply_error(r, KEEL_EEXISTS, "a member with the same 128-bit hash is already stored");
        return -1;
    }
    if (rc != 0) return rc;
    coll->count++;
    (*added)++;
    *done = true;
    *out = sc;
    return 0;
}

int apply_zadd(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_record old;
    struct keel_coll coll;
    struct keel_iter it;
    struct keel_slice sb, m;
    bool exists, ok, done = false;
    int64_t added = 0, updated = 0;
    double last = 0;
    unsigned fl = cmd->flags;
    LOOKUP(c, cmd->key, &old, exists);
    int rc = as_zset(c, &old, exists, &coll, &ok, r);
    if (rc != 0 || !ok) return rc;
    if (!exists && (fl & KEEL_ZADD_XX)) {
        if (fl & KEEL_ZADD_INCR) keel_reply_nil(r);
        else keel_reply_int(r, 0);
        return 0;
    }
    keel_iter_init(&it, cmd->list);
    while (rc == 0 && keel_iter_str(&it, &sb) && keel_iter_str(&it, &m))
        rc = zadd_one(c, fl, &coll, score_of(sb), m, &added, &updated, &done, &last, r);
    if (rc > 0) return rc;
    if (added + updated > 0) {
        int wrc = store_back(c, cmd->key, exists ? old.expire_at : 0, &coll);
        if (wrc != 0) return wrc;
        if (!exists) store_event(c, KEEL_EV_NEW, cmd->key);
        store_event(c, fl & KEEL_ZADD_INCR ? KEEL_EV_ZINCR : KEEL_EV_ZADD, cmd->key);
    }
    if (rc != 0) return 0; /* the error is the reply */
    if (fl & KEEL_ZADD_INCR) {
        char buf[KEEL_SCORE_MAX];
        if (done) keel_reply_bulk(r, buf, keel_score_format(last, buf));
        else keel_reply_nil(r);
    } else {
        keel_reply_int(r, fl & KEEL_ZADD_CH ? added + updated : added);
    }
    return 0;
}

int apply_zrem(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_record old;
    struct keel_coll coll;
    struct keel_iter it;
    struct keel_slice m;
    bool exists, ok;
    int64_t n = 0;
    double cur;
    LOOKUP(c, cmd->key, &old, exists);
    int rc = as_zset(c, &old, exists, &coll, &ok, r);
    if (rc != 0 || !ok) return rc;
    keel_iter_init(&it, cmd->list);
    while (exists && keel_iter_str(&it, &m)) {
        rc = store_zscore(c->txn, coll.id, m, &cur);
        if (rc == KEEL_ENOTFOUND) continue;
        if (rc == 0) rc = storage_member_del(c->txn, coll.id, KEEL_TAG_MEMBER, m, NULL);
        if (rc == 0) rc = storage_zindex_del(c->txn, coll.id, cur, m);
        if (rc != 0) return rc;
        coll.count--;
        n++;
    }
    keel_reply_int(r, n);
    if (n == 0) return 0;
    /* Like Redis: "zrem", then "del" when the set is left empty. */
    store_event(c, KEEL_EV_ZREM, cmd->key);
    if (coll.count == 0) store_event(c, KEEL_EV_DEL, cmd->key);
    return store_back(c, cmd->key, old.expire_at, &coll);
}

/* The members ZREMRANGE takes, collected before any is deleted (a cursor
 * cannot walk what the txn is changing); BYLEX filters here. */
struct victims
{
    struct keel_members ms;
    double *sc;
    size_t cap;
    const struct keel_lex_end *min, *max; /* LEX */
    bool started;
};

static int victim_cb(void *arg, double score, struct keel_slice m)
{
    struct victims *v = arg;
    if (v->min != NULL) {
        /* From the first member in range to the first past it, as Redis's
         * zslDeleteRangeByLex walks. */
        if (!v->started && !keel_lex_gte_min(m.p, m.n, v->min)) return 0;
        v->started = true;
        if (!keel_lex_lte_max(m.p, m.n, v->max)) return -1;
    }
    if (v->ms.n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 16;
        double *p = realloc(v->sc, cap * sizeof *p);
        if (p == NULL) return KEEL_ENOMEM;
        v->sc = p;
        v->cap = cap;
    }
    v->sc[v->ms.n] = score;
    keel_members_add(&v->ms, m);
    return v->ms.oom ? KEEL_ENOMEM : 0;
}

/* Which members go: into v, by the operation. */
static int pick(struct apply_ctx *c, const struct store_cmd *cmd, const struct keel_coll *coll,
                struct victims *v, struct keel_lex_end *lmin, struct keel_lex_end *lmax)
{
    struct keel_zrange z = {-INFINITY, INFINITY, false, false};
    unsigned op = cmd->flags & KEEL_ZREM_OP;
    int64_t n = (int64_t)coll->count;
    switch (op) {
        case KEEL_ZREM_POPMIN:
        case KEEL_ZREM_POPMAX:
            return store_zrange_walk(c->txn, coll, &z, op == KEEL_ZREM_POPMAX, 0, cmd->num, victim_cb, v);
        case KEEL_ZREM_RANK: {
            int64_t start = cmd->num, end = (int64_t)cmd->version;
            if (start < 0) start += n;
            if (end < 0) end += n;
            if (start < 0) start = 0;
            if (end >= n) end = n - 1;
            if (start > end || start >= n) return 0;
            return store_zrange_walk(c->txn, coll, &z, false, start, end - start + 1, victim_cb, v);
        }
        case KEEL_ZREM_SCORE:
            z.min = score_of(cmd->field);
            z.max = score_of(cmd->value);
            z.minex = cmd->flags & KEEL_ZREM_MINEX;
            z.maxex = cmd->flags & KEEL_ZREM_MAXEX;
            return store_zrange_walk(c->txn, coll, &z, false, 0, -1, victim_cb, v);
        default: /* LEX: decode validated the items */
            keel_lex_parse(cmd->field.p, cmd->field.n, lmin);
            keel_lex_parse(cmd->value.p, cmd->value.n, lmax);
            if (keel_lex_empty(lmin, lmax)) return 0;
            v->min = lmin;
            v->max = lmax;
            return store_zrange_walk(c->txn, coll, &z, false, 0, -1, victim_cb, v);
    }
}

int apply_zremrange(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    static const unsigned ev[6] = {0, KEEL_EV_ZPOPMIN, KEEL_EV_ZPOPMAX, KEEL_EV_ZREMRANGEBYRANK,
                                   KEEL_EV_ZREMRANGEBYSCORE, KEEL_EV_ZREMRANGEBYLEX};
    struct keel_record old;
    struct keel_coll coll;
    struct keel_lex_end lmin, lmax;
    struct victims v = {.sc = NULL};
    bool exists, ok;
    unsigned op = cmd->flags & KEEL_ZREM_OP;
    bool pop = op <= KEEL_ZREM_POPMAX;
    LOOKUP(c, cmd->key, &old, exists);
    int rc = as_zset(c, &old, exists, &coll, &ok, r);
    if (rc != 0 || !ok) return rc;
    keel_members_init(&v.ms);
    if (exists) rc = pick(c, cmd, &coll, &v, &lmin, &lmax);
    for (size_t i = 0; rc == 0 && i < v.ms.n; i++) {
        struct keel_slice m = keel_members_at(&v.ms, i);
        /* The index keeps -0 as 0: the member's own score is the reply's. */
        if (v.sc[i] == 0) rc = store_zscore(c->txn, coll.id, m, &v.sc[i]);
        if (rc == 0) rc = storage_member_del(c->txn, coll.id, KEEL_TAG_MEMBER, m, NULL);
        if (rc == 0) rc = storage_zindex_del(c->txn, coll.id, v.sc[i], m);
        coll.count--;
    }
    if (rc == 0 && pop) {
        /* With a count, pairs (RESP3's shape; the API flattens them for
         * RESP2), else one flat member and score, as Redis replies. */
        bool pairs = cmd->flags & KEEL_ZREM_COUNT;
        keel_reply_array(r, (uint32_t)(pairs ? v.ms.n : 2 * v.ms.n));
        for (size_t i = 0; i < v.ms.n; i++) {
            struct keel_slice m = keel_members_at(&v.ms, i);
            char buf[KEEL_SCORE_MAX];
            if (pairs) keel_reply_array(r, 2);
            keel_reply_bulk(r, m.p, m.n);
            keel_reply_bulk(r, buf, keel_score_format(v.sc[i], buf));
        }
    } else if (rc == 0) {
        keel_reply_int(r, (int64_t)v.ms.n);
    }
    if (rc == 0 && v.ms.n > 0) {
        store_event(c, ev[op], cmd->key);
        if (coll.count == 0) store_event(c, KEEL_EV_DEL, cmd->key);
        rc = store_back(c, cmd->key, old.expire_at, &coll);
    }
    keel_members_close(&v.ms);
    free(v.sc);
    return rc;
}
