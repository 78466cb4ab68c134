/* api: the sorted-set range reads: ZRANGE (BYSCORE BYLEX REV LIMIT
 * WITHSCORES), ZREVRANGE, Z[REV]RANGEBYSCORE, Z[REV]RANGEBYLEX, ZRANK and
 * ZREVRANK, as Redis 7.2's zrangeGenericCommand and zrankGenericCommand:
 * the same option parsing, errors in the same order, the same replies.
 * Ranges by score seek the score index; ranks walk it from an end, which
 * is O(rank) (docs/keeld.md: rank queries are open). */
#include <stdlib.h>
#include <string.h>

#include "api/resp/resp_glob.h"
#include "api/server/commands/commands.h"
#include "store/score.h"

enum { BY_AUTO, BY_RANK, BY_SCORE, BY_LEX };
enum { DIR_AUTO, DIR_FWD, DIR_REV };

/* The result, copied out of the read before the reply; and for BYLEX, the
 * lex filter with its own offset and limit. */
struct found
{
    struct keel_members ms;
    double *sc;
    size_t cap;
    const struct keel_lex_end *min, *max; /* BYLEX */
    bool rev, started;
    long long skip, left;
};

static int found_cb(void *arg, double score, struct keel_slice m)
{
    struct found *f = arg;
    if (f->min != NULL) {
        /* Redis walks from the first member in range to the last: with
         * equal scores (BYLEX's premise) that is byte order. */
        const struct keel_lex_end *near = f->rev ? f->max : f->min, *far = f->rev ? f->min : f->max;
        bool in_near = f->rev ? keel_lex_lte_max(m.p, m.n, near) : keel_lex_gte_min(m.p, m.n, near);
        if (!f->started && !in_near) return 0;
        f->started = true;
        if (!(f->rev ? keel_lex_gte_min(m.p, m.n, far) : keel_lex_lte_max(m.p, m.n, far))) return -1;
        if (f->skip < 0) return -1; /* a negative offset: nothing, as Redis */
        if (f->skip > 0) {
            f->skip--;
            return 0;
        }
        if (f->left == 0) return -1;
        if (f->left > 0) f->left--;
    }
    if (f->ms.n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 16;
        double *p = realloc(f->sc, cap * sizeof *p);
        if (p == NULL) return KEEL_ENOMEM;
        f->sc = p;
        f->cap = cap;
    }
    f->sc[f->ms.n] = score;
    keel_members_add(&f->ms, m);
    return f->ms.oom ? KEEL_ENOMEM : 0;
}

static void reply_found(struct slot *s, const struct found *f, bool withscores)
{
    bool pairs = withscores && s->proto >= 3;
    resp_array(&s->out, withscores && !pairs ? 2 * f->ms.n : f->ms.n);
    for (size_t i = 0; i < f->ms.n; i++) {
        struct keel_slice m = keel_members_at(&f->ms, i);
        if (pairs) resp_array(&s->out, 2);
        resp_bulk(&s->out, m.p, m.n);
        if (withscores) zset_reply_score(&s->out, s->proto, f->sc[i]);
    }
}

/* zrangeGenericCommand: argv[1] key, argv[2] argv[3] the range. */
static int zrange(struct slot *s, struct keel_read *rd, int by, int dir)
{
    static const struct keel_zrange all = {-1.0 / 0.0, 1.0 / 0.0, false, false};
    struct keel_coll coll;
    struct keel_zrange z;
    struct keel_lex_end lmin, lmax;
    struct found f = {.sc = NULL};
    bool wrong, withscores = false;
    long long offset = 0, limit = -1, start = 0, end = 0;
    for (uint32_t i = 4; i < s->argc; i++) {
        if (slot_arg_is(s, i, "withscores")) {
            withscores = true;
        } else if (slot_arg_is(s, i, "limit") && s->argc - i - 1 >= 2) {
            if (!srv_arg_int(s, i + 1, &offset) || !srv_arg_int(s, i + 2, &limit)) return 0;
            i += 2;
        } else if (dir == DIR_AUTO && slot_arg_is(s, i, "rev")) {
            dir = DIR_REV;
        } else if (by == BY_AUTO && slot_arg_is(s, i, "bylex")) {
            by = BY_LEX;
        } else if (by == BY_AUTO && slot_arg_is(s, i, "byscore")) {
            by = BY_SCORE;
        } else {
            srv_syntax_error(s);
            return 0;
        }
    }
    if (dir == DIR_AUTO) dir = DIR_FWD;
    if (by == BY_AUTO) by = BY_RANK;
    bool rev = dir == DIR_REV;
    if (limit != -1 && by == BY_RANK) {
        srv_reply_error(&s->out, KEEL_EINVAL,
                        "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
        return 0;
    }
    if (withscores && by == BY_LEX) {
        srv_reply_error(&s->out, KEEL_EINVAL, "syntax error, WITHSCORES not supported in combination with BYLEX");
        return 0;
    }
    uint32_t lo = rev && by != BY_RANK ? 3 : 2, hi = lo == 2 ? 3 : 2;
    if (by == BY_RANK && (!srv_arg_int(s, 2, &start) || !srv_arg_int(s, 3, &end))) return 0;
    if (by == BY_SCORE && !zset_parse_range(s, lo, hi, &z)) return 0;
    if (by == BY_LEX && (!keel_lex_parse(s->argv[lo].p, s->argv[lo].n, &lmin) ||
                        !keel_lex_parse(s->argv[hi].p, s->argv[hi].n, &lmax))) {
        srv_reply_error(&s->out, KEEL_EINVAL, "min or max not valid string range item");
        return 0;
    }
    int rc = zset_load(s, rd, &coll, &wrong);
    if (rc != 0 || wrong) return rc;
    keel_members_init(&f.ms);
    f.rev = rev;
    if (by == BY_SCORE) {
        rc = keel_read_zrange_score(rd, &coll, &z, rev, offset, limit, found_cb, &f);
    } else if (by == BY_LEX) {
        f.min = &lmin;
        f.max = &lmax;
        f.skip = offset;
        f.left = limit;
        /* "+" as min or "-" as max: nothing (Redis's zslIsInLexRange). */
        bool empty = keel_lex_empty(&lmin, &lmax) || (offset > 0 && (uint64_t)offset >= coll.count);
        if (!empty) rc = keel_read_zrange_score(rd, &coll, &all, rev, 0, -1, found_cb, &f);
    } else {
        long long n = (long long)coll.count;
        if (start < 0) start += n;
        if (end < 0) end += n;
        if (start < 0) start = 0;
        if (end >= n) end = n - 1;
        if (start <= end && start < n)
            rc = keel_read_zrange_score(rd, &coll, &all, rev, start, end - start + 1, found_cb, &f);
    }
    if (rc == 0) reply_found(s, &f, withscores);
    keel_members_close(&f.ms);
    free(f.sc);
    return rc;
}

CMD_DECL_READ(cmd_zrange)
{
    return zrange(s, rd, BY_AUTO, DIR_AUTO);
}

CMD_DECL_READ(cmd_zrevrange)
{
    return zrange(s, rd, BY_RANK, DIR_REV);
}

CMD_DECL_READ(cmd_zrangebyscore)
{
    return zrange(s, rd, BY_SCORE, DIR_FWD);
}

CMD_DECL_READ(cmd_zrevrangebyscore)
{
    return zrange(s, rd, BY_SCORE, DIR_REV);
}

CMD_DECL_READ(cmd_zrangebylex)
{
    return zrange(s, rd, BY_LEX, DIR_FWD);
}

CMD_DECL_READ(cmd_zrevrangebylex)
{
    return zrange(s, rd, BY_LEX, DIR_REV);
}

/* Counting from an end of the index up to the member. */
struct rank
{
    struct keel_slice m;
    long long n;
};

static int rank_cb(void *arg, double score, struct keel_slice m)
{
    struct rank *r = arg;
    (void)score;
    if (m.n == r->m.n && memcmp(m.p, r->m.p, m.n) == 0) return -1;
    r->n++;
    return 0;
}

static int zrank(struct slot *s, struct keel_read *rd, bool rev, const char *name)
{
    static const struct keel_zrange all = {-1.0 / 0.0, 1.0 / 0.0, false, false};
    struct keel_coll coll;
    struct rank r = {s->argv[2], 0};
    bool wrong, withscore = false;
    double score;
    if (s->argc > 4) {
        srv_reply_errorf(&s->out, KEEL_EINVAL, "wrong number of arguments for '%s' command", name);
        return 0;
    }
    if (s->argc == 4) {
        if (!slot_arg_is(s, 3, "withscore")) {
            srv_syntax_error(s);
            return 0;
        }
        withscore = true;
    }
    int rc = zset_load(s, rd, &coll, &wrong);
    if (rc != 0 || wrong) return rc;
    rc = keel_read_zscore(rd, &coll, s->argv[2], &score);
    if (rc == KEEL_ENOTFOUND) {
        if (withscore) resp_null_array(&s->out, s->proto);
        else resp_null(&s->out, s->proto);
        return 0;
    }
    if (rc == 0) rc = keel_read_zrange_score(rd, &coll, &all, rev, 0, -1, rank_cb, &r);
    if (rc != 0) return rc;
    if (withscore) resp_array(&s->out, 2);
    resp_int(&s->out, r.n);
    if (withscore) zset_reply_score(&s->out, s->proto, score);
    return 0;
}

CMD_DECL_READ(cmd_zrank)
{
    return zrank(s, rd, false, "zrank");
}

CMD_DECL_READ(cmd_zrevrank)
{
    return zrank(s, rd, true, "zrevrank");
}

/* ZSCAN key cursor [MATCH pattern] [COUNT count]: like SSCAN, the first call
 * returns every (matching) member with its score and cursor 0, whatever
 * COUNT (Redis does the same for small sorted sets); scores are bulk
 * strings in RESP3 too, as Redis's scan replies. */
CMD_DECL_READ(cmd_zscan)
{
    static const struct keel_zrange all = {-1.0 / 0.0, 1.0 / 0.0, false, false};
    struct keel_coll coll;
    struct found f = {.sc = NULL};
    const char *pattern = NULL;
    size_t plen = 0;
    if (!srv_scan_cursor(s)) return 0;
    int rc = keel_read_zset(rd, s->argv[1], &coll);
    if (rc == KEEL_EWRONGTYPE) {
        srv_reply_error(&s->out, KEEL_EWRONGTYPE, NULL);
        return 0;
    }
    if (rc == KEEL_ENOTFOUND) { /* Redis answers an absent key before reading the options */
        srv_scan_empty(s);
        return 0;
    }
    if (rc != 0) return rc;
    if (!srv_scan_options(s, &pattern, &plen)) return 0;
    keel_members_init(&f.ms);
    rc = keel_read_zrange_score(rd, &coll, &all, false, 0, -1, found_cb, &f);
    if (rc == 0) {
        size_t n = 0;
        for (size_t i = 0; i < f.ms.n; i++) {
            struct keel_slice m = keel_members_at(&f.ms, i);
            n += pattern == NULL || resp_glob_match(pattern, plen, m.p, m.n);
        }
        resp_array(&s->out, 2);
        resp_bulk_str(&s->out, "0");
        resp_array(&s->out, 2 * n);
        for (size_t i = 0; i < f.ms.n; i++) {
            struct keel_slice m = keel_members_at(&f.ms, i);
            if (pattern != NULL && !resp_glob_match(pattern, plen, m.p, m.n)) continue;
            resp_bulk(&s->out, m.p, m.n);
            zset_reply_score(&s->out, 2, f.sc[i]);
        }
    }
    keel_members_close(&f.ms);
    free(f.sc);
    return rc;
}
