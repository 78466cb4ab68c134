/* api: list commands that edit or search: LSET LREM LTRIM LINSERT LMOVE
 * RPOPLPUSH (writes) and LPOS (a read). Replies as Redis 7.2's t_list.c;
 * each checks its arguments in Redis's order, before the key (but LSET,
 * whose index Redis parses after finding the key: apply parses it). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/server/commands/commands.h"

static bool element_ok(struct slot *s, uint32_t i)
{
    if (s->argv[i].n <= KEEL_MAX_MEMBER) return true;
    srv_reply_errorf(&s->out, KEEL_ETOOBIG, "list element of %zu bytes is over Keel's limit of %u",
                     s->argv[i].n, KEEL_MAX_MEMBER);
    return false;
}

CMD_DECL_ENCODE(cmd_lset)
{
    if (!srv_check_key(s, s->argv[1]) || !element_ok(s, 2) || !element_ok(s, 3)) return -1;
    keel_enc_lset(e, s->argv[1], s->argv[2], s->argv[3]);
    return 1;
}

CMD_DECL_ENCODE(cmd_lrem)
{
    long long count;
    if (!srv_arg_int(s, 2, &count) || !srv_check_key(s, s->argv[1]) || !element_ok(s, 3)) return -1;
    keel_enc_lrem(e, s->argv[1], count, s->argv[3]);
    return 1;
}

CMD_DECL_ENCODE(cmd_ltrim)
{
    long long start, stop;
    if (!srv_arg_int(s, 2, &start) || !srv_arg_int(s, 3, &stop) || !srv_check_key(s, s->argv[1]))
        return -1;
    keel_enc_ltrim(e, s->argv[1], start, stop);
    return 1;
}

CMD_DECL_ENCODE(cmd_linsert)
{
    unsigned flags;
    if (slot_arg_is(s, 2, "before")) flags = KEEL_LINSERT_BEFORE;
    else if (slot_arg_is(s, 2, "after")) flags = 0;
    else {
        srv_syntax_error(s);
        return -1;
    }
    if (!srv_check_key(s, s->argv[1]) || !element_ok(s, 3) || !element_ok(s, 4)) return -1;
    keel_enc_linsert(e, s->argv[1], s->argv[3], s->argv[4], flags);
    return 1;
}

/* LEFT or RIGHT (any case) into *left; a syntax error otherwise. */
static bool side(struct slot *s, uint32_t i, bool *left)
{
    if (slot_arg_is(s, i, "left")) *left = true;
    else if (slot_arg_is(s, i, "right")) *left = false;
    else {
        srv_syntax_error(s);
        return false;
    }
    return true;
}

CMD_DECL_ENCODE(cmd_lmove)
{
    bool from, to;
    if (!side(s, 3, &from) || !side(s, 4, &to)) return -1;
    if (!srv_check_key(s, s->argv[1]) || !srv_check_key(s, s->argv[2])) return -1;
    keel_enc_lmove(e, s->argv[1], s->argv[2], (from ? KEEL_LIST_LEFT : 0) | (to ? KEEL_LMOVE_TO_LEFT : 0));
    return 1;
}

CMD_DECL_ENCODE(cmd_rpoplpush)
{
    if (!srv_check_key(s, s->argv[1]) || !srv_check_key(s, s->argv[2])) return -1;
    keel_enc_lmove(e, s->argv[1], s->argv[2], KEEL_LMOVE_TO_LEFT);
    return 1;
}

/* Offsets (from the walk's start) of the items equal to want. */
struct matches
{
    struct keel_slice want;
    uint64_t at, *v;
    size_t n, cap;
};

static int match_cb(void *arg, struct keel_slice m, struct keel_slice data)
{
    struct matches *mt = arg;
    (void)m;
    uint64_t at = mt->at++;
    if (data.n != mt->want.n || (data.n && memcmp(data.p, mt->want.p, data.n) != 0)) return 0;
    if (mt->n == mt->cap) {
        size_t cap = mt->cap ? 2 * mt->cap : 16;
        uint64_t *p = realloc(mt->v, cap * sizeof *p);
        if (p == NULL) return KEEL_ENOMEM;
        mt->v = p;
        mt->cap = cap;
    }
    mt->v[mt->n++] = at;
    return 0;
}

/* A non-negative option value; Redis's getPositiveLongFromObjectOrReply
 * with a message answers that message for a non-integer too. */
static bool positive(struct slot *s, uint32_t i, long long *v, const char *msg)
{
    size_t mark = s->out.len;
    if (srv_arg_int(s, i, v) && *v >= 0) return true;
    s->out.len = mark; /* srv_arg_int's own error, if it wrote one */
    srv_reply_error(&s->out, KEEL_EINVAL, msg);
    return false;
}

/* LPOS key element [RANK rank] [COUNT num] [MAXLEN len] */
CMD_DECL_READ(cmd_lpos)
{
    long long rank = 1, count = -1, maxlen = 0;
    for (uint32_t j = 3; j < s->argc; j++) {
        bool more = j + 1 < s->argc;
        if (slot_arg_is(s, j, "rank") && more) {
            if (!srv_arg_int(s, ++j, &rank)) return 0;
            if (rank == INT64_MIN) {
                srv_reply_error(&s->out, KEEL_EINVAL,
                                "value is out of range, value must between -9223372036854775807 and "
                                "9223372036854775807");
                return 0;
            }
            if (rank == 0) {
                srv_reply_error(&s->out, KEEL_EINVAL,
                                "RANK can't be zero: use 1 to start from the first match, 2 from the "
                                "second ... or use negative to start from the end of the list");
                return 0;
            }
        } else if (slot_arg_is(s, j, "count") && more) {
            if (!positive(s, ++j, &count, "COUNT can't be negative")) return 0;
        } else if (slot_arg_is(s, j, "maxlen") && more) {
            if (!positive(s, ++j, &maxlen, "MAXLEN can't be negative")) return 0;
        } else {
            srv_syntax_error(s);
            return 0;
        }
    }
    struct keel_coll l;
    int rc = keel_read_list(rd, s->argv[1], &l);
    if (rc == KEEL_ENOTFOUND) {
        if (count != -1) resp_array(&s->out, 0);
        else resp_null(&s->out, s->proto);
        return 0;
    }
    if (rc == KEEL_EWRONGTYPE) {
        srv_reply_error(&s->out, KEEL_EWRONGTYPE, NULL);
        return 0;
    }
    if (rc != 0) return rc;
    /* The window MAXLEN allows: the first len items, or the last ones
     * when a negative rank searches from the tail. */
    bool back = rank < 0;
    uint64_t len = maxlen == 0 || (uint64_t)maxlen > l.count ? l.count : (uint64_t)maxlen;
    uint64_t from = back ? l.count - len : 0;
    struct matches mt = {s->argv[2], 0, NULL, 0, 0};
    rc = keel_read_list_walk(rd, &l, from, len, match_cb, &mt);
    if (rc == 0) {
        uint64_t skip = (uint64_t)(back ? -rank : rank) - 1, want = count <= 0 ? UINT64_MAX : (uint64_t)count;
        uint64_t n = mt.n > skip ? mt.n - skip : 0;
        if (n > want) n = want;
        if (count == -1 && n > 1) n = 1;
        if (count != -1) resp_array(&s->out, n);
        else if (n == 0) resp_null(&s->out, s->proto);
        for (uint64_t k = 0; k < n; k++) {
            size_t i = back ? mt.n - 1 - (skip + k) : skip + k;
            resp_int(&s->out, (int64_t)(from + mt.v[i]));
        }
    }
    free(mt.v);
    return rc;
}
