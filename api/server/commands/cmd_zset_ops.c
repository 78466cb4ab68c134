/* api: the sorted-set algebra ZUNION ZINTER ZDIFF ZINTERCARD (reads) and
 * ZUNIONSTORE ZINTERSTORE ZDIFFSTORE (writes, computed in apply: codec.h
 * ZSTORE), as Redis 7.2's zunionInterDiffGenericCommand: the same parsing,
 * errors in its order, the same replies. A read checks its keys' types
 * before reading the options, as Redis; a *STORE form parses its options
 * on the leader and apply checks the types, so a command wrong in both
 * ways answers the option's error where Redis answers WRONGTYPE. */
#include <stdlib.h>
#include <string.h>

#include "api/server/commands/commands.h"
#include "store/score.h"

/* Redis's numkeys checks: an integer, at least 1, no more than the
 * arguments after it. False after writing the error. */
static bool numkeys(struct slot *s, uint32_t at, const char *name, long long *n)
{
    if (!srv_arg_int(s, at, n)) return false;
    if (*n < 1) {
        srv_reply_errorf(&s->out, KEEL_EINVAL, "at least 1 input key is needed for '%s' command", name);
        return false;
    }
    if (*n > (long long)s->argc - (long long)(at + 1)) {
        srv_syntax_error(s);
        return false;
    }
    return true;
}

struct zopts
{
    unsigned flags; /* the operation and the aggregate, KEEL_ZSTORE_* */
    bool withscores;
    long long limit;
    double *weights; /* n of them, 1 unless WEIGHTS */
};

/* The options from argv[j] on, as Redis's loop reads them (WEIGHTS and
 * AGGREGATE not for DIFF or ZINTERCARD, WITHSCORES only for the reads
 * that reply members, LIMIT only for ZINTERCARD). */
static bool options(struct slot *s, uint32_t j, size_t n, bool store, bool card, struct zopts *o)
{
    bool diff = (o->flags & KEEL_ZSTORE_OP) == KEEL_SSTORE_DIFF;
    while (j < s->argc) {
        size_t left = s->argc - j;
        if (!diff && !card && left >= n + 1 && slot_arg_is(s, j, "weights")) {
            j++;
            for (size_t i = 0; i < n; i++, j++) {
                if (!keel_score_parse(s->argv[j].p, s->argv[j].n, &o->weights[i])) {
                    srv_reply_error(&s->out, KEEL_EINVAL, "weight value is not a float");
                    return false;
                }
            }
        } else if (!diff && !card && left >= 2 && slot_arg_is(s, j, "aggregate")) {
            o->flags &= KEEL_ZSTORE_OP;
            if (slot_arg_is(s, j + 1, "min")) {
                o->flags |= KEEL_ZSTORE_MIN;
            } else if (slot_arg_is(s, j + 1, "max")) {
                o->flags |= KEEL_ZSTORE_MAX;
            } else if (!slot_arg_is(s, j + 1, "sum")) {
                srv_syntax_error(s);
                return false;
            }
            j += 2;
        } else if (!store && !card && slot_arg_is(s, j, "withscores")) {
            o->withscores = true;
            j++;
        } else if (card && left >= 2 && slot_arg_is(s, j, "limit")) {
            int64_t l;
            if (!store_parse_int(s->argv[j + 1].p, s->argv[j + 1].n, &l) || l < 0) {
                srv_reply_error(&s->out, KEEL_EINVAL, "LIMIT can't be negative");
                return false;
            }
            o->limit = l;
            j += 2;
        } else {
            srv_syntax_error(s);
            return false;
        }
    }
    return true;
}

/* ZUNION / ZINTER / ZDIFF numkeys key... [options], and ZINTERCARD (card). */
static int zsetop(struct slot *s, struct keel_read *rd, unsigned op, bool card, const char *name)
{
    struct zopts o = {op, false, 0, NULL};
    struct keel_zsrc *src;
    struct keel_zres res;
    long long n;
    uint64_t count = 0;
    if (!numkeys(s, 1, name, &n)) return 0;
    src = calloc((size_t)n, sizeof *src);
    o.weights = calloc((size_t)n, sizeof *o.weights);
    int rc = src == NULL || o.weights == NULL ? KEEL_ENOMEM : 0;
    for (long long i = 0; rc == 0 && i < n; i++) {
        rc = keel_read_zsrc(rd, s->argv[2 + i], &src[i]);
        o.weights[i] = 1.0;
    }
    if (rc == KEEL_EWRONGTYPE) {
        srv_reply_error(&s->out, KEEL_EWRONGTYPE, NULL);
        rc = 0;
        goto out;
    }
    if (rc != 0 || !options(s, 2 + (uint32_t)n, (size_t)n, false, card, &o)) goto out;
    for (long long i = 0; i < n; i++) src[i].weight = o.weights[i];
    keel_zres_init(&res);
    rc = keel_read_zsetop(rd, o.flags, src, (size_t)n, (uint64_t)o.limit, card ? &count : NULL, &res);
    if (rc == 0 && card) resp_int(&s->out, (int64_t)count);
    else if (rc == 0) zset_reply_zres(s, &res, o.withscores);
    keel_zres_close(&res);
out:
    free(src);
    free(o.weights);
    return rc;
}

CMD_DECL_READ(cmd_zunion)
{
    return zsetop(s, rd, KEEL_SSTORE_UNION, false, "zunion");
}

CMD_DECL_READ(cmd_zinter)
{
    return zsetop(s, rd, KEEL_SSTORE_INTER, false, "zinter");
}

CMD_DECL_READ(cmd_zdiff)
{
    return zsetop(s, rd, KEEL_SSTORE_DIFF, false, "zdiff");
}

CMD_DECL_READ(cmd_zintercard)
{
    return zsetop(s, rd, KEEL_SSTORE_INTER, true, "zintercard");
}

/* ZUNIONSTORE / ZINTERSTORE / ZDIFFSTORE dst numkeys key... [options]. */
static int zstore(struct slot *s, struct keel_enc *e, unsigned op, const char *name)
{
    struct zopts o = {op, false, 0, NULL};
    long long n;
    if (!numkeys(s, 2, name, &n)) return -1;
    o.weights = malloc((size_t)n * sizeof *o.weights);
    if (o.weights == NULL) {
        srv_reply_error(&s->out, KEEL_ENOMEM, NULL);
        return -1;
    }
    for (long long i = 0; i < n; i++) o.weights[i] = 1.0;
    int out = options(s, 3 + (uint32_t)n, (size_t)n, true, false, &o) ? 1 : -1;
    for (uint32_t i = 1; out == 1 && i < 3 + (uint32_t)n; i++)
        if (i != 2 && !srv_check_key(s, s->argv[i])) out = -1;
    if (out == 1) keel_enc_zstore(e, o.flags, s->argv[1], s->argv + 3, o.weights, (uint32_t)n);
    free(o.weights);
    return out;
}

CMD_DECL_ENCODE(cmd_zunionstore)
{
    return zstore(s, e, KEEL_SSTORE_UNION, "zunionstore");
}

CMD_DECL_ENCODE(cmd_zinterstore)
{
    return zstore(s, e, KEEL_SSTORE_INTER, "zinterstore");
}

CMD_DECL_ENCODE(cmd_zdiffstore)
{
    return zstore(s, e, KEEL_SSTORE_DIFF, "zdiffstore");
}

/* ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]:
 * parsed here as ZRANGE (no WITHSCORES), selected in apply. */
CMD_DECL_ENCODE(cmd_zrangestore)
{
    struct keel_zsel sel;
    bool withscores;
    if (!zset_parse_zrange(s, 2, true, ZBY_AUTO, ZDIR_AUTO, &sel, &withscores)) return -1;
    /* The raw lex items travel: min is argv[4] under REV, else argv[3]. */
    struct keel_slice lmin = s->argv[sel.rev ? 4 : 3], lmax = s->argv[sel.rev ? 3 : 4];
    if (sel.by == KEEL_ZSEL_LEX && (lmin.n > KEEL_MAX_MEMBER + 1 || lmax.n > KEEL_MAX_MEMBER + 1)) {
        srv_reply_error(&s->out, KEEL_EINVAL, "min or max not valid string range item");
        return -1;
    }
    if (!srv_check_key(s, s->argv[1]) || !srv_check_key(s, s->argv[2])) return -1;
    unsigned flags = (unsigned)sel.by | (sel.rev ? KEEL_ZRS_REV : 0) | (sel.z.minex ? KEEL_ZRS_MINEX : 0) |
                     (sel.z.maxex ? KEEL_ZRS_MAXEX : 0);
    bool rank = sel.by == KEEL_ZSEL_RANK;
    keel_enc_zrangestore(e, s->argv[1], s->argv[2], flags, rank ? sel.start : sel.offset,
                         rank ? sel.end : sel.limit, sel.z.min, sel.z.max, lmin, lmax);
    return 1;
}
