/* store: building commands on the leader. See codec.h for the layout. */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/le.h"
#include "store/codec.h"
#include "store/enc_private.h"

static uint8_t *grow(struct keel_enc *e, size_t n)
{
    if (e->err) return NULL;
    if (e->len + n > KEEL_MAX_ENTRY) {
        e->err = KEEL_ETOOBIG;
        return NULL;
    }
    uint8_t *p = grow_room(&e->buf, &e->cap, e->len, n);
    if (p == NULL) {
        e->err = KEEL_ENOMEM;
        return NULL;
    }
    e->len += n;
    return p;
}

static void w_u32(struct keel_enc *e, uint32_t v)
{
    uint8_t *p = grow(e, 4);
    if (p) le32_store(p, v);
}

void store_enc_u64(struct keel_enc *e, uint64_t v)
{
    uint8_t *p = grow(e, 8);
    if (p) le64_store(p, v);
}

static void w_str(struct keel_enc *e, struct keel_slice s)
{
    if (s.n > UINT32_MAX) {
        e->err = KEEL_ETOOBIG;
        return;
    }
    uint8_t *p = grow(e, 4 + s.n);
    if (p == NULL) return;
    le32_store(p, s.n);
    if (s.n) memcpy(p + 4, s.p, s.n);
}

void keel_enc_init(struct keel_enc *e, int64_t ts, uint64_t client, uint64_t seq)
{
    memset(e, 0, sizeof *e);
    uint8_t *h = grow(e, STORE_CMD_HEADER);
    if (h == NULL) return;
    memset(h, 0, STORE_CMD_HEADER);
    h[0] = KEEL_CODEC_MAGIC;
    h[1] = KEEL_CODEC_VERSION;
    le64_store(h + 8, (uint64_t)ts);
    le64_store(h + 16, client);
    le64_store(h + 24, seq);
}

void keel_enc_close(struct keel_enc *e)
{
    free(e->buf);
    memset(e, 0, sizeof *e);
}

/* Start a command; returns the offset of a sub-command's length slot (or 0). */
size_t store_enc_begin(struct keel_enc *e, uint8_t type, unsigned flags)
{
    if (e->err) return 0;
    if (!e->batch) {
        if (type == STORE_CMD_READ || e->cmds++ > 0) {
            e->err = KEEL_EINVAL; /* one command per entry; a read only in a batch */
            return 0;
        }
        e->buf[2] = type;
        e->buf[3] = (uint8_t)flags;
        return 0;
    }
    if (type == STORE_CMD_NOOP || type == STORE_CMD_SWEEP || type == STORE_CMD_HASH) {
        e->err = KEEL_EINVAL; /* not allowed inside a batch (decode refuses them) */
        return 0;
    }
    if (!e->batch_cmds) {
        e->batch_cmds = true;
        e->ncmd_off = e->len;
        w_u32(e, 0);
    }
    if (e->ncmd >= KEEL_MAX_BATCH) {
        e->err = KEEL_ETOOBIG; /* decode refuses more */
        return 0;
    }
    e->ncmd++;
    uint8_t *p = grow(e, 8);
    if (p == NULL) return 0;
    p[0] = type;
    p[1] = (uint8_t)flags;
    p[2] = p[3] = 0;
    le32_store(p + 4, 0);
    return e->len;
}

void store_enc_end(struct keel_enc *e, size_t body_start)
{
    if (e->err || !e->batch) return;
    le32_store(e->buf + body_start - 4, e->len - body_start);
}

void keel_enc_noop(struct keel_enc *e)
{
    store_enc_end(e, store_enc_begin(e, STORE_CMD_NOOP, 0));
}

void keel_enc_set(struct keel_enc *e, struct keel_slice key, struct keel_slice value,
                  int64_t expire_at, unsigned flags)
{
    size_t b = store_enc_begin(e, STORE_CMD_SET, flags);
    w_str(e, key);
    w_str(e, value);
    store_enc_u64(e, (uint64_t)expire_at);
    store_enc_end(e, b);
}

void keel_enc_del(struct keel_enc *e, const struct keel_slice *keys, uint32_t n)
{
    size_t b = store_enc_begin(e, STORE_CMD_DEL, 0);
    w_u32(e, n);
    for (uint32_t i = 0; i < n; i++) w_str(e, keys[i]);
    store_enc_end(e, b);
}

static void key_num(struct keel_enc *e, uint8_t type, unsigned flags, struct keel_slice key,
                    int64_t num)
{
    size_t b = store_enc_begin(e, type, flags);
    w_str(e, key);
    store_enc_u64(e, (uint64_t)num);
    store_enc_end(e, b);
}

void keel_enc_incrby(struct keel_enc *e, struct keel_slice key, int64_t delta)
{
    key_num(e, STORE_CMD_INCRBY, 0, key, delta);
}

void keel_enc_expire(struct keel_enc *e, struct keel_slice key, int64_t expire_at, unsigned flags)
{
    key_num(e, STORE_CMD_EXPIRE, flags, key, expire_at);
}

void keel_enc_persist(struct keel_enc *e, struct keel_slice key)
{
    size_t b = store_enc_begin(e, STORE_CMD_PERSIST, 0);
    w_str(e, key);
    store_enc_end(e, b);
}

static void key_list(struct keel_enc *e, uint8_t type, unsigned flags, struct keel_slice key,
                     const struct keel_slice *items, uint32_t n, uint32_t per)
{
    size_t b = store_enc_begin(e, type, flags);
    w_str(e, key);
    w_u32(e, n);
    for (uint32_t i = 0; i < n * per; i++) w_str(e, items[i]);
    store_enc_end(e, b);
}

void keel_enc_hset(struct keel_enc *e, struct keel_slice key, const struct keel_slice *pairs,
                   uint32_t n)
{
    key_list(e, STORE_CMD_HSET, 0, key, pairs, n, 2);
}

void keel_enc_hsetnx(struct keel_enc *e, struct keel_slice key, struct keel_slice field,
                     struct keel_slice value)
{
    struct keel_slice pair[2] = {field, value};
    key_list(e, STORE_CMD_HSET, KEEL_HSET_NX, key, pair, 1, 2);
}

void keel_enc_hdel(struct keel_enc *e, struct keel_slice key, const struct keel_slice *fields,
                   uint32_t n)
{
    key_list(e, STORE_CMD_HDEL, 0, key, fields, n, 1);
}

void keel_enc_hincrby(struct keel_enc *e, struct keel_slice key, struct keel_slice field,
                      int64_t delta)
{
    size_t b = store_enc_begin(e, STORE_CMD_HINCRBY, 0);
    w_str(e, key);
    w_str(e, field);
    store_enc_u64(e, (uint64_t)delta);
    store_enc_end(e, b);
}

void keel_enc_cas(struct keel_enc *e, struct keel_slice key, unsigned flags, uint64_t version,
                  struct keel_slice expected, struct keel_slice value, int64_t expire_at)
{
    size_t b = store_enc_begin(e, STORE_CMD_CAS, flags);
    w_str(e, key);
    store_enc_u64(e, version);
    w_str(e, expected);
    w_str(e, value);
    store_enc_u64(e, (uint64_t)expire_at);
    store_enc_end(e, b);
}

void keel_enc_sweep(struct keel_enc *e, int64_t max)
{
    size_t b = store_enc_begin(e, STORE_CMD_SWEEP, 0);
    store_enc_u64(e, (uint64_t)max);
    store_enc_end(e, b);
}

void keel_enc_hash(struct keel_enc *e)
{
    store_enc_end(e, store_enc_begin(e, STORE_CMD_HASH, 0));
}

void keel_enc_check(struct keel_enc *e)
{
    store_enc_end(e, store_enc_begin(e, STORE_CMD_HASH, KEEL_HASH_CHECK));
}

void keel_enc_verdict(struct keel_enc *e, uint64_t index, uint64_t digest)
{
    size_t b = store_enc_begin(e, STORE_CMD_HASH, KEEL_HASH_VERDICT);
    store_enc_u64(e, index);
    store_enc_u64(e, digest);
    store_enc_end(e, b);
}

void keel_enc_batch_begin(struct keel_enc *e)
{
    if (e->err) return;
    if (e->batch || e->cmds > 0) {
        e->err = KEEL_EINVAL;
        return;
    }
    e->buf[2] = STORE_CMD_BATCH;
    e->batch = true;
    e->cmds = 1;
    w_u32(e, 0); /* watch count, patched in finish */
}

void keel_enc_watch(struct keel_enc *e, struct keel_slice key, uint64_t version)
{
    if (e->err) return;
    if (!e->batch || e->batch_cmds) {
        e->err = KEEL_EINVAL; /* watches come before the commands */
        return;
    }
    if (e->nwatch >= KEEL_MAX_BATCH) {
        e->err = KEEL_ETOOBIG;
        return;
    }
    e->nwatch++;
    w_str(e, key);
    store_enc_u64(e, version);
}

int keel_enc_finish(struct keel_enc *e, uint8_t **buf, size_t *len)
{
    if (e->err == 0 && e->cmds == 0) e->err = KEEL_EINVAL;
    if (e->err == 0 && e->batch) {
        if (!e->batch_cmds) {
            e->ncmd_off = e->len;
            w_u32(e, 0);
        }
        if (e->err == 0) {
            le32_store(e->buf + STORE_CMD_HEADER, e->nwatch);
            le32_store(e->buf + e->ncmd_off, e->ncmd);
        }
    }
    if (e->err != 0) return e->err;
    size_t body = e->len - STORE_CMD_HEADER;
    size_t pad = (8 - e->len % 8) % 8;
    uint8_t *p = grow(e, pad);
    if (pad && p == NULL) return e->err;
    if (pad) memset(p, 0, pad);
    le32_store(e->buf + 4, body);
    *buf = e->buf;
    *len = e->len;
    e->buf = NULL;
    e->len = e->cap = 0;
    return 0;
}

void keel_enc_append(struct keel_enc *e, struct keel_slice key, struct keel_slice value)
{
    size_t b = store_enc_begin(e, STORE_CMD_APPEND, 0);
    w_str(e, key);
    w_str(e, value);
    store_enc_end(e, b);
}

void keel_enc_getdel(struct keel_enc *e, struct keel_slice key)
{
    size_t b = store_enc_begin(e, STORE_CMD_GETDEL, 0);
    w_str(e, key);
    store_enc_end(e, b);
}

void keel_enc_getex(struct keel_enc *e, struct keel_slice key, int64_t expire_at, unsigned flags)
{
    key_num(e, STORE_CMD_GETEX, flags, key, expire_at);
}

void keel_enc_acl(struct keel_enc *e, struct keel_slice name, uint64_t base,
                  struct keel_slice rules, unsigned flags)
{
    size_t b = store_enc_begin(e, STORE_CMD_ACL, flags);
    w_str(e, name);
    store_enc_u64(e, base);
    w_str(e, rules);
    store_enc_end(e, b);
}

static void two_keys(struct keel_enc *e, uint8_t type, struct keel_slice a, struct keel_slice b,
                     unsigned flags)
{
    size_t at = store_enc_begin(e, type, flags);
    w_str(e, a);
    w_str(e, b);
    store_enc_end(e, at);
}

void keel_enc_rename(struct keel_enc *e, struct keel_slice src, struct keel_slice dst,
                     unsigned flags)
{
    two_keys(e, STORE_CMD_RENAME, src, dst, flags);
}

void keel_enc_copy(struct keel_enc *e, struct keel_slice src, struct keel_slice dst,
                   unsigned flags)
{
    two_keys(e, STORE_CMD_COPY, src, dst, flags);
}

void keel_enc_flush(struct keel_enc *e)
{
    store_enc_end(e, store_enc_begin(e, STORE_CMD_FLUSH, 0));
}

void keel_enc_setrange(struct keel_enc *e, struct keel_slice key, int64_t offset,
                       struct keel_slice value)
{
    size_t b = store_enc_begin(e, STORE_CMD_SETRANGE, 0);
    w_str(e, key);
    store_enc_u64(e, (uint64_t)offset);
    w_str(e, value);
    store_enc_end(e, b);
}

void keel_enc_setbit(struct keel_enc *e, struct keel_slice key, int64_t offset, bool one)
{
    size_t b = store_enc_begin(e, STORE_CMD_SETBIT, one ? KEEL_SETBIT_ONE : 0);
    w_str(e, key);
    store_enc_u64(e, (uint64_t)offset);
    store_enc_end(e, b);
}

static void msetnx(struct keel_enc *e, const struct keel_slice *pairs, uint32_t n, unsigned flags)
{
    size_t b = store_enc_begin(e, STORE_CMD_MSETNX, flags);
    w_u32(e, n);
    for (uint32_t i = 0; i < 2 * n; i++) w_str(e, pairs[i]);
    store_enc_end(e, b);
}

void keel_enc_msetnx(struct keel_enc *e, const struct keel_slice *pairs, uint32_t n)
{
    msetnx(e, pairs, n, 0);
}

void keel_enc_mset(struct keel_enc *e, const struct keel_slice *pairs, uint32_t n)
{
    msetnx(e, pairs, n, KEEL_MSETNX_ALL);
}

void keel_enc_read(struct keel_enc *e, const struct keel_slice *argv, uint32_t argc,
                   unsigned flags)
{
    size_t b = store_enc_begin(e, STORE_CMD_READ, flags);
    w_u32(e, argc);
    for (uint32_t i = 0; i < argc; i++) w_str(e, argv[i]);
    store_enc_end(e, b);
}

void keel_enc_setfloat(struct keel_enc *e, struct keel_slice key, struct keel_slice field,
                       uint64_t base, struct keel_slice value, unsigned flags)
{
    size_t b = store_enc_begin(e, STORE_CMD_SETFLOAT, flags);
    w_str(e, key);
    w_str(e, field);
    store_enc_u64(e, base);
    w_str(e, value);
    store_enc_end(e, b);
}

void keel_enc_sadd(struct keel_enc *e, struct keel_slice key, const struct keel_slice *members,
                   uint32_t n)
{
    key_list(e, STORE_CMD_SADD, 0, key, members, n, 1);
}

void keel_enc_srem(struct keel_enc *e, struct keel_slice key, const struct keel_slice *members,
                   uint32_t n)
{
    key_list(e, STORE_CMD_SREM, 0, key, members, n, 1);
}

void keel_enc_zadd(struct keel_enc *e, struct keel_slice key, const double *scores,
                   const struct keel_slice *members, uint32_t n, unsigned flags)
{
    size_t b = store_enc_begin(e, STORE_CMD_ZADD, flags);
    w_str(e, key);
    w_u32(e, n);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t sb[8];
        uint64_t bits;
        memcpy(&bits, &scores[i], sizeof bits);
        le64_store(sb, bits);
        w_str(e, (struct keel_slice){sb, sizeof sb});
        w_str(e, members[i]);
    }
    store_enc_end(e, b);
}

void keel_enc_zrem(struct keel_enc *e, struct keel_slice key, const struct keel_slice *members,
                   uint32_t n)
{
    key_list(e, STORE_CMD_ZREM, 0, key, members, n, 1);
}

void keel_enc_zremrange(struct keel_enc *e, struct keel_slice key, unsigned flags, int64_t a, int64_t b,
                        double smin, double smax, struct keel_slice lmin, struct keel_slice lmax)
{
    unsigned op = flags & KEEL_ZREM_OP;
    size_t at = store_enc_begin(e, STORE_CMD_ZREMRANGE, flags);
    w_str(e, key);
    if (op <= KEEL_ZREM_RANK) {
        store_enc_u64(e, (uint64_t)a);
        if (op == KEEL_ZREM_RANK) store_enc_u64(e, (uint64_t)b);
    } else if (op == KEEL_ZREM_SCORE) {
        uint8_t sb[2][8];
        uint64_t bits;
        memcpy(&bits, &smin, sizeof bits);
        le64_store(sb[0], bits);
        memcpy(&bits, &smax, sizeof bits);
        le64_store(sb[1], bits);
        w_str(e, (struct keel_slice){sb[0], 8});
        w_str(e, (struct keel_slice){sb[1], 8});
    } else {
        w_str(e, lmin);
        w_str(e, lmax);
    }
    store_enc_end(e, at);
}

void keel_enc_zstore(struct keel_enc *e, unsigned flags, struct keel_slice dst,
                     const struct keel_slice *keys, const double *weights, uint32_t n)
{
    size_t b = store_enc_begin(e, STORE_CMD_ZSTORE, flags);
    w_str(e, dst);
    w_u32(e, n);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t wb[8];
        uint64_t bits;
        memcpy(&bits, &weights[i], sizeof bits);
        le64_store(wb, bits);
        w_str(e, keys[i]);
        w_str(e, (struct keel_slice){wb, sizeof wb});
    }
    store_enc_end(e, b);
}

void keel_enc_zrangestore(struct keel_enc *e, struct keel_slice dst, struct keel_slice src, unsigned flags,
                          int64_t a, int64_t b, double smin, double smax, struct keel_slice lmin,
                          struct keel_slice lmax)
{
    unsigned by = flags & KEEL_ZRS_BY;
    uint8_t sb[2][8];
    uint64_t bits;
    size_t at = store_enc_begin(e, STORE_CMD_ZRANGESTORE, flags);
    w_str(e, dst);
    w_str(e, src);
    store_enc_u64(e, (uint64_t)a);
    store_enc_u64(e, (uint64_t)b);
    if (by == 1) {
        memcpy(&bits, &smin, sizeof bits);
        le64_store(sb[0], bits);
        memcpy(&bits, &smax, sizeof bits);
        le64_store(sb[1], bits);
        lmin = (struct keel_slice){sb[0], 8};
        lmax = (struct keel_slice){sb[1], 8};
    } else if (by == 0) {
        lmin = lmax = (struct keel_slice){NULL, 0};
    }
    w_str(e, lmin);
    w_str(e, lmax);
    store_enc_end(e, at);
}

void keel_enc_spop(struct keel_enc *e, struct keel_slice key, uint64_t base,
                   const struct keel_slice *members, uint32_t n, unsigned flags)
{
    size_t b = store_enc_begin(e, STORE_CMD_SPOP, flags);
    w_str(e, key);
    store_enc_u64(e, base);
    w_u32(e, n);
    for (uint32_t i = 0; i < n; i++) w_str(e, members[i]);
    store_enc_end(e, b);
}

void keel_enc_smove(struct keel_enc *e, struct keel_slice src, struct keel_slice dst,
                    struct keel_slice member)
{
    size_t b = store_enc_begin(e, STORE_CMD_SMOVE, 0);
    w_str(e, src);
    w_str(e, dst);
    w_str(e, member);
    store_enc_end(e, b);
}

void keel_enc_sstore(struct keel_enc *e, unsigned op, struct keel_slice dst,
                     const struct keel_slice *keys, uint32_t n)
{
    key_list(e, STORE_CMD_SSTORE, op, dst, keys, n, 1);
}

void keel_enc_lpush(struct keel_enc *e, struct keel_slice key, const struct keel_slice *elems,
                    uint32_t n, unsigned flags)
{
    key_list(e, STORE_CMD_LPUSH, flags, key, elems, n, 1);
}

void keel_enc_lpop(struct keel_enc *e, struct keel_slice key, uint64_t count, unsigned flags)
{
    key_num(e, STORE_CMD_LPOP, flags, key, (int64_t)count);
}

void keel_enc_mpop(struct keel_enc *e, const struct keel_slice *keys, uint32_t n, uint64_t count,
                   unsigned flags)
{
    size_t b = store_enc_begin(e, STORE_CMD_MPOP, flags);
    w_u32(e, n);
    for (uint32_t i = 0; i < n; i++) w_str(e, keys[i]);
    store_enc_u64(e, count);
    store_enc_end(e, b);
}

void keel_enc_lset(struct keel_enc *e, struct keel_slice key, struct keel_slice index,
                   struct keel_slice elem)
{
    size_t b = store_enc_begin(e, STORE_CMD_LSET, 0);
    w_str(e, key);
    w_str(e, index);
    w_str(e, elem);
    store_enc_end(e, b);
}

void keel_enc_lrem(struct keel_enc *e, struct keel_slice key, int64_t count, struct keel_slice elem)
{
    size_t b = store_enc_begin(e, STORE_CMD_LREM, 0);
    w_str(e, key);
    store_enc_u64(e, (uint64_t)count);
    w_str(e, elem);
    store_enc_end(e, b);
}

void keel_enc_ltrim(struct keel_enc *e, struct keel_slice key, int64_t start, int64_t stop)
{
    size_t b = store_enc_begin(e, STORE_CMD_LTRIM, 0);
    w_str(e, key);
    store_enc_u64(e, (uint64_t)start);
    store_enc_u64(e, (uint64_t)stop);
    store_enc_end(e, b);
}

void keel_enc_linsert(struct keel_enc *e, struct keel_slice key, struct keel_slice pivot,
                      struct keel_slice elem, unsigned flags)
{
    size_t b = store_enc_begin(e, STORE_CMD_LINSERT, flags);
    w_str(e, key);
    w_str(e, pivot);
    w_str(e, elem);
    store_enc_end(e, b);
}

void keel_enc_lmove(struct keel_enc *e, struct keel_slice src, struct keel_slice dst, unsigned flags)
{
    size_t b = store_enc_begin(e, STORE_CMD_LMOVE, flags);
    w_str(e, src);
    w_str(e, dst);
    store_enc_end(e, b);
}
