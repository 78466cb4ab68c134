/* api: the multi-key and blocking pops: LMPOP ZMPOP BLPOP BRPOP BLMOVE
 * BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX BZMPOP (Redis 7.2's t_list.c and
 * t_zset.c: arguments parsed in Redis's order, with its errors).
 *
 * Each is one write: MPOP (LMOVE for BLMOVE and BRPOPLPUSH), which pops from
 * the first of its keys that exists or answers the null array (codec.h).
 * A blocking one that got the null array on its connection, outside MULTI,
 * waits (block.c) instead of answering; in MULTI, where the encoder runs
 * inside EXEC's batch, it answers at once as Redis's CLIENT_DENY_BLOCKING
 * does. The encoder arms the slot at its first attempt (timeout, keys);
 * later attempts, proposed by block.c when a key changes, encode the same
 * pop again. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/server/block.h"
#include "api/server/commands/commands.h"
#include "raft/membership.h"

#define TIMEOUT_TEXT 5120 /* Redis's MAX_LONG_DOUBLE_CHARS */

/* Redis's getTimeoutFromObjectOrReply in seconds: ms (0: forever), or an
 * error text. */
static const char *timeout_parse(struct keel_slice a, uint64_t *ms)
{
    char buf[TIMEOUT_TEXT], *end;
    if (a.n == 0 || a.n >= sizeof buf) return "timeout is not a float or out of range";
    memcpy(buf, a.p, a.n);
    buf[a.n] = 0;
    if (isspace((unsigned char)buf[0])) return "timeout is not a float or out of range";
    errno = 0;
    long double v = strtold(buf, &end);
    if (*end != 0 || errno == ERANGE || isnan(v)) return "timeout is not a float or out of range";
    v *= 1000.0L;
    if (v > (long double)LLONG_MAX) return "timeout is out of range";
    /* ceill without libm: (-1, 0) rounds up to 0 (for ever), as in Redis. */
    if (v <= -1.0L) return "timeout is negative";
    long long t = v < 0 ? 0 : (long long)v;
    if ((long double)t < v) t++;
    /* Redis adds it to the current Unix time in ms: refused if that overflows. */
    if (t > LLONG_MAX - srv_wall_ms()) return "timeout is out of range";
    *ms = (uint64_t)t;
    return NULL;
}

/* Where the timeout is, by command (0: none). */
static uint32_t timeout_at(const struct slot *s)
{
    const char *n = s->cmd->name;
    if (strcmp(n, "blmove") == 0) return 5;
    if (strcmp(n, "brpoplpush") == 0) return 3;
    if (strcmp(n, "blmpop") == 0 || strcmp(n, "bzmpop") == 0) return 1;
    if (s->cmd->flags & CMD_BLOCKING) return s->argc - 1;
    return 0;
}

bool block_timeout_ms(const struct slot *s, uint64_t *ms)
{
    uint32_t at = s->cmd != NULL ? timeout_at(s) : 0;
    return at != 0 && at < s->argc && timeout_parse(s->argv[at], ms) == NULL;
}

/* Parse the timeout (writing Redis's error) and, for a blocking command
 * outside a batch, arm the slot at its first attempt: keys argv[k0 ..
 * k0+nk). */
static bool arm(struct slot *s, struct keel_enc *e, uint32_t k0, uint32_t nk, bool zset, bool null_bulk)
{
    uint64_t ms;
    const char *err = timeout_parse(s->argv[timeout_at(s)], &ms);
    if (err != NULL) {
        srv_reply_error(&s->out, KEEL_EINVAL, err);
        return false;
    }
    if (keel_enc_in_batch(e) || s->block_armed) return true;
    s->block_armed = true;
    s->block_until = ms ? keel_mono_ms() + ms : 0;
    s->block_key0 = k0;
    s->block_nkeys = nk;
    s->block_zset = zset;
    s->block_null_bulk = null_bulk;
    return true;
}

static bool keys_ok(struct slot *s, uint32_t k0, uint32_t nk)
{
    for (uint32_t i = 0; i < nk; i++)
        if (!srv_check_key(s, s->argv[k0 + i])) return false;
    return true;
}

/* BLPOP BRPOP BZPOPMIN BZPOPMAX key [key ...] timeout */
static int bpop(struct slot *s, struct keel_enc *e, unsigned flags)
{
    uint32_t nk = s->argc - 2;
    if (!arm(s, e, 1, nk, flags & KEEL_MPOP_ZSET, false) || !keys_ok(s, 1, nk)) return -1;
    keel_enc_mpop(e, s->argv + 1, nk, 1, flags);
    return 1;
}

CMD_DECL_ENCODE(cmd_blpop)
{
    return bpop(s, e, KEEL_MPOP_LEFT);
}

CMD_DECL_ENCODE(cmd_brpop)
{
    return bpop(s, e, 0);
}

CMD_DECL_ENCODE(cmd_bzpopmin)
{
    return bpop(s, e, KEEL_MPOP_ZSET | KEEL_MPOP_LEFT);
}

CMD_DECL_ENCODE(cmd_bzpopmax)
{
    return bpop(s, e, KEEL_MPOP_ZSET);
}

/* LEFT or RIGHT (Redis's getListPositionFromObjectOrReply). */
static bool side(struct slot *s, uint32_t i, bool *left)
{
    if (slot_arg_is(s, i, "LEFT")) *left = true;
    else if (slot_arg_is(s, i, "RIGHT")) *left = false;
    else {
        srv_syntax_error(s);
        return false;
    }
    return true;
}

/* BLMOVE src dst LEFT|RIGHT LEFT|RIGHT timeout; BRPOPLPUSH src dst timeout */
static int bmove(struct slot *s, struct keel_enc *e, bool from, bool to)
{
    if (!arm(s, e, 1, 1, false, true) || !keys_ok(s, 1, 2)) return -1;
    keel_enc_lmove(e, s->argv[1], s->argv[2], (from ? KEEL_LIST_LEFT : 0) | (to ? KEEL_LMOVE_TO_LEFT : 0));
    return 1;
}

CMD_DECL_ENCODE(cmd_blmove)
{
    bool from, to;
    if (!side(s, 3, &from) || !side(s, 4, &to)) return -1;
    return bmove(s, e, from, to);
}

CMD_DECL_ENCODE(cmd_brpoplpush)
{
    return bmove(s, e, false, true);
}

/* [B]LMPOP / [B]ZMPOP [timeout] numkeys key [key ...] LEFT|RIGHT (MIN|MAX)
 * [COUNT count], numkeys at argv[at]. */
static int mpop(struct slot *s, struct keel_enc *e, uint32_t at, bool zset)
{
    long long numkeys, count = -1;
    if (!srv_arg_int(s, at, &numkeys) || numkeys < 1) {
        s->out.len = 0;
        srv_reply_error(&s->out, KEEL_EINVAL, "numkeys should be greater than 0");
        return -1;
    }
    if (numkeys >= (long long)s->argc - at - 1) { /* no room for LEFT|RIGHT */
        srv_syntax_error(s);
        return -1;
    }
    uint32_t where = at + (uint32_t)numkeys + 1;
    bool left;
    if (zset) {
        if (slot_arg_is(s, where, "MIN")) left = true;
        else if (slot_arg_is(s, where, "MAX")) left = false;
        else {
            srv_syntax_error(s);
            return -1;
        }
    } else if (!side(s, where, &left)) {
        return -1;
    }
    for (uint32_t j = where + 1; j < s->argc; j++) {
        if (count == -1 && slot_arg_is(s, j, "COUNT") && j + 1 < s->argc) {
            j++;
            if (!srv_arg_int(s, j, &count) || count < 1) {
                s->out.len = 0;
                srv_reply_error(&s->out, KEEL_EINVAL, "count should be greater than 0");
                return -1;
            }
        } else {
            srv_syntax_error(s);
            return -1;
        }
    }
    if (count == -1) count = 1;
    bool blocking = s->cmd->flags & CMD_BLOCKING;
    if (blocking && !arm(s, e, at + 1, (uint32_t)numkeys, zset, false)) return -1;
    if (!keys_ok(s, at + 1, (uint32_t)numkeys)) return -1;
    keel_enc_mpop(e, s->argv + at + 1, (uint32_t)numkeys, (uint64_t)count,
                  (zset ? KEEL_MPOP_ZSET : 0) | (left ? KEEL_MPOP_LEFT : 0));
    return 1;
}

CMD_DECL_ENCODE(cmd_lmpop)
{
    return mpop(s, e, 1, false);
}

CMD_DECL_ENCODE(cmd_blmpop)
{
    return mpop(s, e, 2, false);
}

CMD_DECL_ENCODE(cmd_zmpop)
{
    return mpop(s, e, 1, true);
}

CMD_DECL_ENCODE(cmd_bzmpop)
{
    return mpop(s, e, 2, true);
}

/* ---- replies ------------------------------------------------------------ */

/* The pop found nothing: a blocking command on its own slot (not EXEC's,
 * whose s->cmd is KEEL.TX) waits instead of answering. */
static bool waits(struct slot *s, const struct keel_reply_item *it)
{
    if (it->kind != KEEL_REPLY_NIL_ARRAY && it->kind != KEEL_REPLY_NIL) return false;
    if (s->cmd == NULL || !(s->cmd->flags & CMD_BLOCKING) || s->conn == NULL) return false;
    s->block_wait = true;
    return true;
}

static void score(struct slot *s, const struct keel_reply_item *sc)
{
    if (s->proto < 3) {
        resp_bulk(&s->out, sc->p, sc->n);
        return;
    }
    buf_append(&s->out, ",", 1);
    buf_append(&s->out, sc->p, sc->n);
    buf_append(&s->out, "\r\n", 2);
}

/* MPOP's [key, items] as shape: 0 LMPOP (as it is), 1 BLPOP (key,
 * element), 2 ZMPOP (key, pairs, scores as doubles in RESP3), 3 BZPOPMIN
 * (key, member, score). */
static void mpop_reply(struct slot *s, struct keel_reply_reader *rd, int shape)
{
    struct keel_reply_reader peek = *rd;
    struct keel_reply_item it, key, items, pair, m, sc;
    if (keel_reply_next(&peek, &it) != 0) {
        srv_reply_to_resp(&s->out, s->proto, rd);
        return;
    }
    if (waits(s, &it)) return;
    if (it.kind != KEEL_REPLY_ARRAY || it.integer != 2 || keel_reply_next(&peek, &key) != 0) {
        srv_reply_to_resp(&s->out, s->proto, rd);
        return;
    }
    /* The key as its client named it, without its database's prefix (db.h). */
    struct keel_slice user;
    (void)storage_key_db((struct keel_slice){key.p, key.n}, &user);
    key.p = user.p;
    key.n = user.n;
    struct keel_reply_reader at_items = peek;
    if (keel_reply_next(&peek, &items) != 0 || items.kind != KEEL_REPLY_ARRAY) {
        srv_reply_to_resp(&s->out, s->proto, rd);
        return;
    }
    if (shape == 0) {
        resp_array(&s->out, 2);
        resp_bulk(&s->out, key.p, key.n);
        srv_reply_to_resp(&s->out, s->proto, &at_items);
        *rd = at_items;
        return;
    }
    *rd = peek;
    if (shape == 1) {
        if (keel_reply_next(rd, &m) != 0) return;
        resp_array(&s->out, 2);
        resp_bulk(&s->out, key.p, key.n);
        resp_bulk(&s->out, m.p, m.n);
        return;
    }
    resp_array(&s->out, shape == 3 ? 3 : 2);
    resp_bulk(&s->out, key.p, key.n);
    if (shape == 2) resp_array(&s->out, (size_t)items.integer);
    for (int64_t i = 0; i < items.integer; i++) {
        if (keel_reply_next(rd, &pair) != 0 || keel_reply_next(rd, &m) != 0 || keel_reply_next(rd, &sc) != 0)
            return;
        if (shape == 2) resp_array(&s->out, 2);
        resp_bulk(&s->out, m.p, m.n);
        score(s, &sc);
    }
}

CMD_DECL_REPLY(cmd_lmpop_reply)
{
    (void)nsub;
    mpop_reply(s, rd, 0);
}

CMD_DECL_REPLY(cmd_blpop_reply)
{
    (void)nsub;
    mpop_reply(s, rd, 1);
}

CMD_DECL_REPLY(cmd_zmpop_reply)
{
    (void)nsub;
    mpop_reply(s, rd, 2);
}

CMD_DECL_REPLY(cmd_bzpop_reply)
{
    (void)nsub;
    mpop_reply(s, rd, 3);
}

/* BLMOVE, BRPOPLPUSH: LMOVE's reply, or wait on nil. */
CMD_DECL_REPLY(cmd_blmove_reply)
{
    struct keel_reply_reader peek = *rd;
    struct keel_reply_item it;
    (void)nsub;
    if (keel_reply_next(&peek, &it) == 0 && waits(s, &it)) return;
    srv_reply_to_resp(&s->out, s->proto, rd);
}
