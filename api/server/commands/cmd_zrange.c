/* api: the sorted-set range reads: ZRANGE (BYSCORE BYLEX REV LIMIT
 * WITHSCORES), ZREVRANGE, Z[REV]RANGEBYSCORE, Z[REV]RANGEBYLEX, ZRANK and
 * ZREVRANK, as Redis 7.2's zrangeGenericCommand and zrankGenericCommand:
 * the same option parsing, errors in the same order, the same replies.
 * Ranges by score seek the score index; ranks and offsets are found on the
 * rank index in O(log n) (storage.h). */
#include <stdlib.h>
#include <string.h>

#include "api/resp/resp_glob.h"
#include "api/server/commands/commands.h"
#include "store/score.h"


void zset_reply_zres(struct slot *s, const struct keel_zres *res, bool withscores)
{
    bool pairs = withscores && s->proto >= 3;
    resp_array(&s->out, withscores && !pairs ? 2 * res->ms.n : res->ms.n);
    for (size_t i = 0; i < res->ms.n; i++) {
        struct keel_slice m = keel_members_at(&res->ms, i);
        if (pairs) resp_array(&s->out, 2);
        resp_bulk(&s->out, m.p, m.n);
        if (withscores) zset_reply_score(&s->out, s->proto, res->sc[i]);
    }
}

bool zset_parse_zrange(struct slot *s, uint32_t at, bool store, int by, int dir, struct keel_zsel *sel,
                       bool *withscores)
{
    long long offset = 0, limit = -1, start = 0, end = 0;
    *withscores = false;
    for (uint32_t i = at + 3; i < s->argc; i++) {
        if (!store && slot_arg_is(s, i, "withscores")) {
            *withscores = true;
        } else if (slot_arg_is(s, i, "limit") && s->argc - i - 1 >= 2) {
            if (!srv_arg_int(s, i + 1, &offset) || !srv_arg_int(s, i + 2, &limit)) return false;
            i += 2;
        } else if (dir == ZDIR_AUTO && slot_arg_is(s, i, "rev")) {
            dir = ZDIR_REV;
        } else if (by == ZBY_AUTO && slot_arg_is(s, i, "bylex")) {
            by = ZBY_LEX;
        } else if (by == ZBY_AUTO && slot_arg_is(s, i, "byscore")) {
            by = ZBY_SCORE;
        } else {
            srv_syntax_error(s);
            return false;
        }
    }
    if (dir == ZDIR_AUTO) dir = ZDIR_FWD;
    if (by == ZBY_AUTO) by = ZBY_RANK;
    bool rev = dir == ZDIR_REV;
    if (limit != -1 && by == ZBY_RANK) {
        srv_reply_error(&s->out, KEEL_EINVAL,
                        "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
        return false;
    }
    if (*withscores && by == ZBY_LEX) {
        srv_reply_error(&s->out, KEEL_EINVAL, "syntax error, WITHSCORES not supported in combination with BYLEX");
        return false;
    }
    uint32_t lo = rev && by != ZBY_RANK ? at + 2 : at + 1, hi = lo == at + 1 ? at + 2 : at + 1;
    memset(sel, 0, sizeof *sel);
    sel->rev = rev;
    sel->offset = offset;
    sel->limit = limit;
    if (by == ZBY_RANK) {
        sel->by = KEEL_ZSEL_RANK;
        if (!srv_arg_int(s, lo, &start) || !srv_arg_int(s, hi, &end)) return false;
        sel->start = start;
        sel->end = end;
    } else if (by == ZBY_SCORE) {
        sel->by = KEEL_ZSEL_SCORE;
        if (!zset_parse_range(s, lo, hi, &sel->z)) return false;
    } else {
        sel->by = KEEL_ZSEL_LEX;
        if (!keel_lex_parse(s->argv[lo].p, s->argv[lo].n, &sel->lmin) ||
            !keel_lex_parse(s->argv[hi].p, s->argv[hi].n, &sel->lmax)) {
            srv_reply_error(&s->out, KEEL_EINVAL, "min or max not valid string range item");
            return false;
        }
    }
    return true;
}

/* zrangeGenericCommand: argv[1] key, argv[2] argv[3] the range. */
static int zrange(struct slot *s, struct keel_read *rd, int by, int dir)
{
    struct keel_coll coll;
    struct keel_zsel sel;
    struct keel_zres res;
    bool wrong, withscores;
    if (!zset_parse_zrange(s, 1, false, by, dir, &sel, &withscores)) return 0;
    int rc = zset_load(s, rd, &coll, &wrong);
    if (rc != 0 || wrong) return rc;
    keel_zres_init(&res);
    rc = keel_read_zselect(rd, &coll, &sel, &res);
    if (rc == 0) zset_reply_zres(s, &res, withscores);
    keel_zres_close(&res);
    return rc;
}

CMD_DECL_READ(cmd_zrange)
{
    return zrange(s, rd, ZBY_AUTO, ZDIR_AUTO);
}

CMD_DECL_READ(cmd_zrevrange)
{
    return zrange(s, rd, ZBY_RANK, ZDIR_REV);
}

CMD_DECL_READ(cmd_zrangebyscore)
{
    return zrange(s, rd, ZBY_SCORE, ZDIR_FWD);
}

CMD_DECL_READ(cmd_zrevrangebyscore)
{
    return zrange(s, rd, ZBY_SCORE, ZDIR_REV);
}

CMD_DECL_READ(cmd_zrangebylex)
{
    return zrange(s, rd, ZBY_LEX, ZDIR_FWD);
}

CMD_DECL_READ(cmd_zrevrangebylex)
{
    return zrange(s, rd, ZBY_LEX, ZDIR_REV);
}

static int zrank(struct slot *s, struct keel_read *rd, bool rev, const char *name)
{
    struct keel_coll coll;
    uint64_t rank = 0;
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
    if (rc == 0) rc = keel_read_zrank(rd, &coll, score, s->argv[2], rev, &rank);
    if (rc != 0) return rc;
    if (withscore) resp_array(&s->out, 2);
    resp_int(&s->out, (long long)rank);
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
    static const struct keel_zsel all = {.by = KEEL_ZSEL_RANK, .start = 0, .end = -1};
    struct keel_coll coll;
    struct keel_zres f;
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
    keel_zres_init(&f);
    rc = keel_read_zselect(rd, &coll, &all, &f);
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
    keel_zres_close(&f);
    return rc;
}
