/* api: bits of strings, SETBIT and GETBIT (Redis's bitmaps; BITCOUNT, BITPOS,
 * BITOP and BITFIELD are not in Keel yet). SETBIT is its own codec kind
 * (store/codec.h): the byte it changes is read and written in apply, so two
 * SETBITs on one byte never lose each other. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/server/commands/commands.h"

/* Redis's bit offset: an integer in 0 .. 2^32-1 (a bit of a 512 MB
 * string), else "bit offset is not an integer or out of range". */
static bool bit_offset(struct slot *s, uint32_t i, long long *off)
{
    char buf[32], *end;
    if (s->argv[i].n == 0 || s->argv[i].n >= sizeof buf) goto bad;
    memcpy(buf, s->argv[i].p, s->argv[i].n);
    buf[s->argv[i].n] = 0;
    if (buf[0] == '-' || buf[0] == '+' || buf[0] == ' ') goto bad;
    *off = strtoll(buf, &end, 10);
    if (*end == 0 && *off >= 0 && *off <= KEEL_SETBIT_MAX_OFFSET) return true;
bad:
    srv_reply_error(&s->out, KEEL_EINVAL, "bit offset is not an integer or out of range");
    return false;
}

/* SETBIT key offset 0|1: replies the bit it replaced. */
CMD_DECL_ENCODE(cmd_setbit)
{
    long long off;
    if (!srv_check_key(s, s->argv[1]) || !bit_offset(s, 2, &off)) return -1;
    struct keel_slice v = s->argv[3];
    if (v.n != 1 || (v.p[0] != '0' && v.p[0] != '1')) {
        srv_reply_error(&s->out, KEEL_EINVAL, "bit is not an integer or out of range");
        return -1;
    }
    keel_enc_setbit(e, s->argv[1], off, v.p[0] == '1');
    return 1;
}

/* GETBIT key offset: 0 past the end of the string or for a missing key. */
CMD_DECL_READ(cmd_getbit)
{
    long long off;
    struct keel_record rec;
    if (!bit_offset(s, 2, &off)) return 0;
    int rc = keel_read_get(rd, s->argv[1], &rec);
    if (rc == KEEL_ENOTFOUND) {
        resp_int(&s->out, 0);
        return 0;
    }
    if (rc != 0) return rc;
    if (rec.type != KEEL_TYPE_STRING) {
        srv_reply_error(&s->out, KEEL_EWRONGTYPE, NULL);
        return 0;
    }
    size_t byte = (size_t)(off >> 3);
    resp_int(&s->out, byte < rec.len && (rec.val[byte] & (0x80u >> (off & 7))) != 0);
    return 0;
}
