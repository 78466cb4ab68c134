/* api: INCRBYFLOAT and HINCRBYFLOAT. The leader parses, adds and formats
 * (Redis's string2ld and ld2string rules, long double), and proposes the
 * resulting text as a SETFLOAT entry tied to the version of the key it read:
 * apply never does float arithmetic or formatting, so replicas cannot
 * format a value differently. If the key moved on before the entry applied
 * (another write in between), apply refuses it with BUSY and the reply hook
 * has the command built again from the new state, up to FLOAT_REDOS times.
 * Queued in MULTI, the result is computed when EXEC is encoded, from the
 * key as the leader has it then: cmd_tx.c refuses a transaction where an
 * earlier command writes the same key (the leader cannot know its value
 * there), and a BUSY batch is built again whole (cmd_keel_tx_reply). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/server/commands/commands.h"


/* Redis's string2ld: the whole text a number (a NUL inside ends it early:
 * refused), no leading space, no NaN, no overflow to infinity or underflow
 * to zero (the text "inf" is accepted). */
static bool parse_ld(const uint8_t *p, size_t n, long double *out)
{
    char buf[KEEL_SETFLOAT_MAX];
    char *end;
    if (n == 0 || n >= sizeof buf) return false;
    memcpy(buf, p, n);
    buf[n] = 0;
    errno = 0;
    long double v = strtold(buf, &end);
    if (isspace((unsigned char)buf[0]) || end[0] != 0 || (size_t)(end - buf) != n ||
        (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || fpclassify(v) == FP_ZERO)) || isnan(v))
        return false;
    *out = v;
    return true;
}

/* Redis's ld2string in its human mode: 17 decimals, trailing zeros (and a
 * bare '.') dropped, "-0" as "0". v is finite here. */
static size_t format_ld(long double v, char *buf, size_t size)
{
    int l = snprintf(buf, size, "%.17Lf", v);
    if (l < 0 || (size_t)l + 1 > size) return 0;
    if (strchr(buf, '.') != NULL) {
        while (buf[l - 1] == '0') l--;
        if (buf[l - 1] == '.') l--;
    }
    if (l == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        l = 1;
    }
    buf[l] = 0;
    return (size_t)l;
}

/* Add the increment to the current value (0 if none) and encode the result. */
static int propose(struct slot *s, struct keel_enc *e, const uint8_t *cur, size_t n, bool have,
                   long double incr, uint64_t base, struct keel_slice field, unsigned flags,
                   const char *notfloat)
{
    long double v = 0;
    char buf[KEEL_SETFLOAT_MAX];
    if (have && !parse_ld(cur, n, &v)) {
        srv_reply_error(&s->out, KEEL_EINVAL, notfloat);
        return -1;
    }
    v += incr;
    if (isnan(v) || isinf(v)) {
        srv_reply_error(&s->out, KEEL_EINVAL, "increment would produce NaN or Infinity");
        return -1;
    }
    size_t len = format_ld(v, buf, sizeof buf);
    if (len == 0) {
        srv_reply_error(&s->out, KEEL_EINVAL, "increment would produce NaN or Infinity");
        return -1;
    }
    keel_enc_setfloat(e, s->argv[1], field, base, (struct keel_slice){(uint8_t *)buf, len}, flags);
    return 1;
}

/* INCRBYFLOAT key increment (Redis's order of checks: the key's type, its
 * value, then the increment). */
CMD_DECL_ENCODE(cmd_incrbyfloat)
{
    struct keel_read rd;
    struct keel_record rec;
    long double incr;
    if (!srv_check_key(s, s->argv[1])) return -1;
    int rc = keel_read_begin(s->srv->store, s->now, &rd);
    if (rc != 0) {
        srv_reply_error(&s->out, rc, NULL);
        return -1;
    }
    rc = keel_read_get(&rd, s->argv[1], &rec);
    int out = -1;
    if (rc != 0 && rc != KEEL_ENOTFOUND) {
        srv_reply_error(&s->out, rc, NULL);
    } else if (rc == 0 && rec.type != KEEL_TYPE_STRING) {
        srv_reply_error(&s->out, KEEL_EWRONGTYPE, NULL);
    } else if (rc == 0 && !parse_ld(rec.val, rec.len, &incr)) {
        srv_reply_error(&s->out, KEEL_EINVAL, "value is not a valid float");
    } else if (!parse_ld(s->argv[2].p, s->argv[2].n, &incr)) {
        srv_reply_error(&s->out, KEEL_EINVAL, "value is not a valid float");
    } else {
        out = propose(s, e, rec.val, rec.len, rc == 0, incr, rc == 0 ? rec.version : 0,
                      (struct keel_slice){NULL, 0}, 0, "value is not a valid float");
    }
    keel_read_end(&rd);
    return out;
}

/* HINCRBYFLOAT key field increment (Redis's order: the increment first). */
CMD_DECL_ENCODE(cmd_hincrbyfloat)
{
    struct keel_read rd;
    struct keel_record rec;
    const struct keel_hash *h = NULL;
    long double incr;
    if (!srv_check_key(s, s->argv[1])) return -1;
    if (!parse_ld(s->argv[3].p, s->argv[3].n, &incr)) {
        srv_reply_error(&s->out, KEEL_EINVAL, "value is not a valid float");
        return -1;
    }
    if (isnan(incr) || isinf(incr)) {
        srv_reply_error(&s->out, KEEL_EINVAL, "value is NaN or Infinity");
        return -1;
    }
    int rc = keel_read_begin(s->srv->store, s->now, &rd);
    if (rc != 0) {
        srv_reply_error(&s->out, rc, NULL);
        return -1;
    }
    rc = keel_read_get(&rd, s->argv[1], &rec);
    int out = -1;
    if (rc == 0) rc = keel_read_hash(&rd, &rec, &h);
    if (rc == KEEL_EWRONGTYPE) {
        srv_reply_error(&s->out, KEEL_EWRONGTYPE, NULL);
    } else if (rc != 0 && rc != KEEL_ENOTFOUND) {
        srv_reply_error(&s->out, rc, NULL);
    } else {
        const struct hash_field *f = rc == 0 ? hash_find(h, s->argv[2]) : NULL;
        out = propose(s, e, f ? f->v.p : NULL, f ? f->v.n : 0, f != NULL, incr,
                      rc == 0 ? rec.version : 0, s->argv[2], KEEL_SETFLOAT_HASH,
                      "hash value is not a float");
    }
    keel_read_end(&rd);
    return out;
}

/* BUSY from apply: the key moved on after the leader read it; build again. */
CMD_DECL_REPLY(cmd_float_reply)
{
    struct keel_reply_reader peek = *rd;
    struct keel_reply_item it;
    (void)nsub;
    if (keel_reply_next(&peek, &it) == 0 && it.kind == KEEL_REPLY_ERROR && it.integer == KEEL_EBUSY &&
        s->float_redos < SRV_FLOAT_REDOS) {
        s->float_redos++;
        s->redo = true;
        return;
    }
    srv_reply_to_resp(&s->out, s->proto, rd);
}
