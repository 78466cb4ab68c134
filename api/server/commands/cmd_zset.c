/* api: sorted-set commands: ZADD ZINCRBY ZREM ZPOPMIN ZPOPMAX ZREMRANGEBYRANK
 * ZREMRANGEBYSCORE ZREMRANGEBYLEX (writes), ZSCORE ZMSCORE ZCARD ZCOUNT ZLEXCOUNT
 * (reads); the range reads are in cmd_zrange.c. Replies as Redis 7.2's
 * t_zset.c; scores are parsed here, on the leader, and travel as doubles
 * (codec.h ZADD), and are formatted as Redis's d2string (store/score.h). */
#include <stdlib.h>
#include <string.h>

#include "api/server/commands/commands.h"
#include "store/score.h"

void zset_reply_score(struct buf *b, int proto, double d)
{
    char t[KEEL_SCORE_MAX];
    size_t n = keel_score_format(d, t);
    if (proto < 3) {
        resp_bulk(b, t, n);
        return;
    }
    buf_append(b, ",", 1);
    buf_append(b, t, n);
    buf_append(b, "\r\n", 2);
}

/* ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member ...; ZINCRBY is ZADD
 * INCR (Redis's zaddGenericCommand, its checks in its order). */
static int zadd(struct slot *s, struct keel_enc *e, unsigned flags)
{
    uint32_t i = 2;
    for (; i < s->argc; i++) {
        if (slot_arg_is(s, i, "nx")) flags |= KEEL_ZADD_NX;
        else if (slot_arg_is(s, i, "xx")) flags |= KEEL_ZADD_XX;
        else if (slot_arg_is(s, i, "ch")) flags |= KEEL_ZADD_CH;
        else if (slot_arg_is(s, i, "incr")) flags |= KEEL_ZADD_INCR;
        else if (slot_arg_is(s, i, "gt")) flags |= KEEL_ZADD_GT;
        else if (slot_arg_is(s, i, "lt")) flags |= KEEL_ZADD_LT;
        else break;
    }
    uint32_t n = s->argc - i;
    if (n == 0 || n % 2) {
        srv_syntax_error(s);
        return -1;
    }
    n /= 2;
    if ((flags & KEEL_ZADD_NX) && (flags & KEEL_ZADD_XX)) {
        srv_reply_error(&s->out, KEEL_EINVAL, "XX and NX options at the same time are not compatible");
        return -1;
    }
    if (((flags & KEEL_ZADD_NX) && (flags & (KEEL_ZADD_GT | KEEL_ZADD_LT))) ||
        ((flags & KEEL_ZADD_GT) && (flags & KEEL_ZADD_LT))) {
        srv_reply_error(&s->out, KEEL_EINVAL, "GT, LT, and/or NX options at the same time are not compatible");
        return -1;
    }
    if ((flags & KEEL_ZADD_INCR) && n > 1) {
        srv_reply_error(&s->out, KEEL_EINVAL, "INCR option supports a single increment-element pair");
        return -1;
    }
    double *scores = malloc(n * sizeof *scores);
    struct keel_slice *members = malloc(n * sizeof *members);
    int out = 1;
    if (scores == NULL || members == NULL) {
        srv_reply_error(&s->out, KEEL_ENOMEM, NULL);
        out = -1;
    }
    for (uint32_t j = 0; out == 1 && j < n; j++) {
        const struct keel_slice *a = &s->argv[i + 2 * j];
        if (!keel_score_parse(a->p, a->n, &scores[j])) {
            srv_reply_error(&s->out, KEEL_EINVAL, "value is not a valid float");
            out = -1;
        } else if (a[1].n > KEEL_MAX_MEMBER) {
            srv_reply_errorf(&s->out, KEEL_ETOOBIG, "sorted set member of %zu bytes is over Keel's limit of %u",
                             a[1].n, KEEL_MAX_MEMBER);
            out = -1;
        }
        members[j] = a[1];
    }
    if (out == 1 && !srv_check_key(s, s->argv[1])) out = -1;
    if (out == 1) keel_enc_zadd(e, s->argv[1], scores, members, n, flags);
    free(scores);
    free(members);
    return out;
}

CMD_DECL_ENCODE(cmd_zadd)
{
    return zadd(s, e, 0);
}

CMD_DECL_ENCODE(cmd_zincrby)
{
    return zadd(s, e, KEEL_ZADD_INCR);
}

CMD_DECL_ENCODE(cmd_zrem)
{
    if (!srv_check_key(s, s->argv[1])) return -1;
    keel_enc_zrem(e, s->argv[1], s->argv + 2, s->argc - 2);
    return 1;
}

/* ZADD INCR's and ZINCRBY's score, formatted in apply, is RESP3's double. */
CMD_DECL_REPLY(cmd_zadd_reply)
{
    struct keel_reply_reader peek = *rd;
    struct keel_reply_item it;
    (void)nsub;
    if (s->proto >= 3 && keel_reply_next(&peek, &it) == 0 && it.kind == KEEL_REPLY_BULK) {
        *rd = peek;
        buf_append(&s->out, ",", 1);
        buf_append(&s->out, it.p, it.n);
        buf_append(&s->out, "\r\n", 2);
        return;
    }
    srv_reply_to_resp(&s->out, s->proto, rd);
}

int zset_load(struct slot *s, struct keel_read *rd, struct keel_coll *coll, bool *wrong)
{
    *wrong = false;
    int rc = keel_read_zset(rd, s->argv[1], coll);
    if (rc == KEEL_ENOTFOUND || rc == KEEL_EWRONGTYPE) memset(coll, 0, sizeof *coll);
    if (rc == KEEL_ENOTFOUND) return 0;
    if (rc == KEEL_EWRONGTYPE) {
        srv_reply_error(&s->out, KEEL_EWRONGTYPE, NULL);
        *wrong = true;
        return 0;
    }
    return rc;
}

CMD_DECL_READ(cmd_zscore)
{
    struct keel_coll coll;
    bool wrong;
    double d;
    int rc = zset_load(s, rd, &coll, &wrong);
    if (rc != 0 || wrong) return rc;
    rc = keel_read_zscore(rd, &coll, s->argv[2], &d);
    if (rc == KEEL_ENOTFOUND) resp_null(&s->out, s->proto);
    else if (rc == 0) zset_reply_score(&s->out, s->proto, d);
    return rc == KEEL_ENOTFOUND ? 0 : rc;
}

CMD_DECL_READ(cmd_zmscore)
{
    struct keel_coll coll;
    bool wrong;
    double d;
    int rc = zset_load(s, rd, &coll, &wrong);
    if (rc != 0 || wrong) return rc;
    resp_array(&s->out, s->argc - 2);
    for (uint32_t i = 2; i < s->argc; i++) {
        rc = keel_read_zscore(rd, &coll, s->argv[i], &d);
        if (rc == KEEL_ENOTFOUND) resp_null(&s->out, s->proto);
        else if (rc == 0) zset_reply_score(&s->out, s->proto, d);
        else return rc;
    }
    return 0;
}

CMD_DECL_READ(cmd_zcard)
{
    struct keel_coll coll;
    bool wrong;
    int rc = zset_load(s, rd, &coll, &wrong);
    if (rc != 0 || wrong) return rc;
    resp_int(&s->out, (int64_t)coll.count);
    return 0;
}

bool zset_parse_range(struct slot *s, uint32_t i, uint32_t j, struct keel_zrange *z)
{
    if (keel_score_bound(s->argv[i].p, s->argv[i].n, &z->min, &z->minex) &&
        keel_score_bound(s->argv[j].p, s->argv[j].n, &z->max, &z->maxex))
        return true;
    srv_reply_error(&s->out, KEEL_EINVAL, "min or max is not a float");
    return false;
}

/* ZCOUNT: the difference of two ranks on the rank index, O(log n) as
 * Redis's. */
CMD_DECL_READ(cmd_zcount)
{
    struct keel_coll coll;
    struct keel_zrange z;
    bool wrong;
    uint64_t n = 0;
    if (!zset_parse_range(s, 2, 3, &z)) return 0;
    int rc = zset_load(s, rd, &coll, &wrong);
    if (rc != 0 || wrong) return rc;
    rc = keel_read_zcount(rd, &coll, &z, &n);
    if (rc == 0) resp_int(&s->out, (long long)n);
    return rc;
}

/* ZPOPMIN / ZPOPMAX key [count] (Redis's zpopMinMaxCommand): which members
 * go is decided in apply, from the index (nothing random). */
static int zpop(struct slot *s, struct keel_enc *e, unsigned op)
{
    long long count = 1;
    unsigned flags = op;
    if (s->argc > 3) {
        srv_syntax_error(s);
        return -1;
    }
    if (s->argc == 3) {
        if (!srv_arg_int(s, 2, &count)) return -1;
        if (count < 0) {
            srv_reply_error(&s->out, KEEL_EINVAL, "value is out of range, must be positive");
            return -1;
        }
        flags |= KEEL_ZREM_COUNT;
    }
    if (!srv_check_key(s, s->argv[1])) return -1;
    keel_enc_zremrange(e, s->argv[1], flags, count, 0, 0, 0, s->argv[1], s->argv[1]);
    return 1;
}

CMD_DECL_ENCODE(cmd_zpopmin)
{
    return zpop(s, e, KEEL_ZREM_POPMIN);
}

CMD_DECL_ENCODE(cmd_zpopmax)
{
    return zpop(s, e, KEEL_ZREM_POPMAX);
}

/* The pops' reply: apply's has pairs when a count was given (else one flat
 * member and score) and scores as text. RESP2: one flat array of bulk
 * strings; RESP3: the pairs as they are, scores as doubles. */
CMD_DECL_REPLY(cmd_zpop_reply)
{
    struct keel_reply_reader peek = *rd;
    struct keel_reply_item it, first, m, sc;
    (void)nsub;
    if (keel_reply_next(&peek, &it) != 0 || it.kind != KEEL_REPLY_ARRAY) {
        srv_reply_to_resp(&s->out, s->proto, rd);
        return;
    }
    struct keel_reply_reader look = peek;
    bool pairs = it.integer > 0 && keel_reply_next(&look, &first) == 0 && first.kind == KEEL_REPLY_ARRAY;
    size_t n = pairs ? (size_t)it.integer : (size_t)it.integer / 2;
    *rd = peek;
    resp_array(&s->out, pairs && s->proto >= 3 ? n : 2 * n);
    for (size_t i = 0; i < n; i++) {
        if ((pairs && keel_reply_next(rd, &first) != 0) || keel_reply_next(rd, &m) != 0 ||
            keel_reply_next(rd, &sc) != 0)
            return;
        if (pairs && s->proto >= 3) resp_array(&s->out, 2);
        resp_bulk(&s->out, m.p, m.n);
        if (s->proto < 3) {
            resp_bulk(&s->out, sc.p, sc.n);
            continue;
        }
        buf_append(&s->out, ",", 1);
        buf_append(&s->out, sc.p, sc.n);
        buf_append(&s->out, "\r\n", 2);
    }
}

CMD_DECL_ENCODE(cmd_zremrangebyrank)
{
    long long start, end;
    if (!srv_arg_int(s, 2, &start) || !srv_arg_int(s, 3, &end) || !srv_check_key(s, s->argv[1])) return -1;
    keel_enc_zremrange(e, s->argv[1], KEEL_ZREM_RANK, start, end, 0, 0, s->argv[1], s->argv[1]);
    return 1;
}

CMD_DECL_ENCODE(cmd_zremrangebyscore)
{
    struct keel_zrange z;
    if (!zset_parse_range(s, 2, 3, &z) || !srv_check_key(s, s->argv[1])) return -1;
    unsigned flags = KEEL_ZREM_SCORE | (z.minex ? KEEL_ZREM_MINEX : 0) | (z.maxex ? KEEL_ZREM_MAXEX : 0);
    keel_enc_zremrange(e, s->argv[1], flags, 0, 0, z.min, z.max, s->argv[1], s->argv[1]);
    return 1;
}

CMD_DECL_ENCODE(cmd_zremrangebylex)
{
    struct keel_lex_end a, b;
    if (!keel_lex_parse(s->argv[2].p, s->argv[2].n, &a) || !keel_lex_parse(s->argv[3].p, s->argv[3].n, &b) ||
        s->argv[2].n > KEEL_MAX_MEMBER + 1 || s->argv[3].n > KEEL_MAX_MEMBER + 1) {
        srv_reply_error(&s->out, KEEL_EINVAL, "min or max not valid string range item");
        return -1;
    }
    if (!srv_check_key(s, s->argv[1])) return -1;
    keel_enc_zremrange(e, s->argv[1], KEEL_ZREM_LEX, 0, 0, 0, 0, s->argv[2], s->argv[3]);
    return 1;
}

/* ZLEXCOUNT key min max (Redis's zlexcountCommand): the range is checked
 * first, an absent key counts 0. */
CMD_DECL_READ(cmd_zlexcount)
{
    struct keel_coll coll;
    struct keel_zsel sel = {.by = KEEL_ZSEL_LEX, .limit = -1};
    struct keel_zres res;
    bool wrong;
    if (!keel_lex_parse(s->argv[2].p, s->argv[2].n, &sel.lmin) ||
        !keel_lex_parse(s->argv[3].p, s->argv[3].n, &sel.lmax)) {
        srv_reply_error(&s->out, KEEL_EINVAL, "min or max not valid string range item");
        return 0;
    }
    int rc = zset_load(s, rd, &coll, &wrong);
    if (rc != 0 || wrong) return rc;
    keel_zres_init(&res);
    rc = keel_read_zselect(rd, &coll, &sel, &res);
    if (rc == 0) resp_int(&s->out, (int64_t)res.ms.n);
    keel_zres_close(&res);
    return rc;
}
