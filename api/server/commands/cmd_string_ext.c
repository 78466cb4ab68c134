/* api: the string commands Redis has beside SET and GET, built on the same
 * codec kinds where one fits: SETEX PSETEX SETNX GETSET (a SET with an
 * expiry, NX or GET), GETRANGE (a read), and SETRANGE MSETNX INCRBYFLOAT. */
#include <stdio.h>
#include <string.h>

#include "api/server/commands/commands.h"

/* SETEX key seconds value, PSETEX key milliseconds value: SET ... EX/PX. */
static int setex(struct slot *s, struct keel_enc *e, const char *unit, const char *name)
{
    long long v;
    int64_t at;
    if (!srv_check_key(s, s->argv[1]) || !srv_arg_int(s, 2, &v)) return -1;
    if (!srv_expiry_from(s, unit, v, &at, name)) return -1;
    keel_enc_set(e, s->argv[1], s->argv[3], at, 0);
    return 1;
}

CMD_DECL_ENCODE(cmd_setex)
{
    return setex(s, e, "EX", "setex");
}

CMD_DECL_ENCODE(cmd_psetex)
{
    return setex(s, e, "PX", "psetex");
}

/* SETNX key value: SET NX, whose OK or nil becomes 1 or 0. */
CMD_DECL_ENCODE(cmd_setnx)
{
    if (!srv_check_key(s, s->argv[1])) return -1;
    keel_enc_set(e, s->argv[1], s->argv[2], 0, KEEL_SET_NX);
    return 1;
}

CMD_DECL_REPLY(cmd_setnx_reply)
{
    struct keel_reply_reader peek = *rd;
    struct keel_reply_item it;
    (void)nsub;
    if (keel_reply_next(&peek, &it) == 0 && (it.kind == KEEL_REPLY_STATUS || it.kind == KEEL_REPLY_NIL)) {
        *rd = peek;
        resp_int(&s->out, it.kind == KEEL_REPLY_STATUS);
        return;
    }
    srv_reply_to_resp(&s->out, s->proto, rd);
}

/* GETSET key value: SET GET (the old TTL goes, as in Redis). */
CMD_DECL_ENCODE(cmd_getset)
{
    if (!srv_check_key(s, s->argv[1])) return -1;
    keel_enc_set(e, s->argv[1], s->argv[2], 0, KEEL_SET_GET);
    return 1;
}

/* GETRANGE key start end: Redis's index rules (negative from the end,
 * clamped; an empty string when the range is empty or the key absent). */
CMD_DECL_READ(cmd_getrange)
{
    long long start, end;
    struct keel_record rec;
    if (!srv_arg_int(s, 2, &start) || !srv_arg_int(s, 3, &end)) return 0;
    int rc = keel_read_get(rd, s->argv[1], &rec);
    if (rc == KEEL_ENOTFOUND) {
        resp_bulk(&s->out, "", 0);
        return 0;
    }
    if (rc != 0) return rc;
    if (rec.type != KEEL_TYPE_STRING) {
        srv_reply_error(&s->out, KEEL_EWRONGTYPE, NULL);
        return 0;
    }
    long long len = (long long)rec.len;
    if (start < 0 && end < 0 && start > end) {
        resp_bulk(&s->out, "", 0);
        return 0;
    }
    if (start < 0) start = len + start;
    if (end < 0) end = len + end;
    if (start < 0) start = 0;
    if (end < 0) end = 0;
    if (end >= len) end = len - 1;
    if (start > end || len == 0) resp_bulk(&s->out, "", 0);
    else resp_bulk(&s->out, rec.val + start, (size_t)(end - start + 1));
    return 0;
}

/* SETRANGE key offset value: the limits are applied with the key in hand
 * (Redis checks the type first), so in the store. */
CMD_DECL_ENCODE(cmd_setrange)
{
    long long off;
    if (!srv_check_key(s, s->argv[1]) || !srv_arg_int(s, 2, &off)) return -1;
    if (off < 0) {
        srv_reply_error(&s->out, KEEL_EINVAL, "offset is out of range");
        return -1;
    }
    keel_enc_setrange(e, s->argv[1], off, s->argv[3]);
    return 1;
}

/* MSETNX key value [key value ...]: one MSETNX entry, all or nothing. */
CMD_DECL_ENCODE(cmd_msetnx)
{
    if (s->argc % 2 != 1) {
        srv_reply_error(&s->out, KEEL_EINVAL, "wrong number of arguments for 'msetnx' command");
        return -1;
    }
    for (uint32_t i = 1; i < s->argc; i += 2)
        if (!srv_check_key(s, s->argv[i])) return -1;
    keel_enc_msetnx(e, s->argv + 1, (s->argc - 1) / 2);
    return 1;
}
