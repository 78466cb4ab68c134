/* store: decoding and validating replicated commands. See codec.h. */
#include <math.h>
#include <string.h>

#include "common/le.h"
#include "store/acl.h"
#include "store/codec.h"

struct rd
{
    const uint8_t *p;
    const uint8_t *end;
    const char *why;
    int rc;
};

static bool fail(struct rd *r, int rc, const char *why)
{
    if (r->rc == 0) {
        r->rc = rc;
        r->why = why;
    }
    return false;
}

static bool rd_u32(struct rd *r, uint32_t *v)
{
    if (r->end - r->p < 4) return fail(r, KEEL_EMALFORMED, "truncated");
    *v = le32_load(r->p);
    r->p += 4;
    return true;
}

static bool rd_u64(struct rd *r, uint64_t *v)
{
    if (r->end - r->p < 8) return fail(r, KEEL_EMALFORMED, "truncated");
    *v = le64_load(r->p);
    r->p += 8;
    return true;
}

static bool rd_i64(struct rd *r, int64_t *v)
{
    return rd_u64(r, (uint64_t *)v);
}

static bool rd_str(struct rd *r, struct keel_slice *s, size_t max)
{
    uint32_t n;
    if (!rd_u32(r, &n)) return false;
    if (n > max) return fail(r, KEEL_ETOOBIG, "string over its limit");
    if ((size_t)(r->end - r->p) < n) return fail(r, KEEL_EMALFORMED, "string length past the end");
    s->p = r->p;
    s->n = n;
    r->p += n;
    return true;
}

static bool rd_key(struct rd *r, struct keel_slice *s)
{
    if (!rd_str(r, s, KEEL_MAX_KEY)) return false;
    if (s->n == 0) return fail(r, KEEL_EMALFORMED, "empty key");
    return true;
}

static bool rd_count(struct rd *r, uint32_t *n, uint32_t max, size_t min_item)
{
    if (!rd_u32(r, n)) return false;
    if (*n > max) return fail(r, KEEL_ETOOBIG, "too many items");
    if ((size_t)(r->end - r->p) / min_item < *n) return fail(r, KEEL_EMALFORMED, "count past the end");
    return true;
}

static const uint8_t allowed_flags[STORE_CMD__COUNT] = {
    [STORE_CMD_SET] = KEEL_SET_NX | KEEL_SET_XX | KEEL_SET_KEEPTTL | KEEL_SET_GET,
    [STORE_CMD_EXPIRE] = KEEL_EXPIRE_NX | KEEL_EXPIRE_XX | KEEL_EXPIRE_GT | KEEL_EXPIRE_LT,
    [STORE_CMD_CAS] = KEEL_CAS_VERSION | KEEL_CAS_VALUE | KEEL_CAS_DELETE | KEEL_CAS_ABSENT,
    [STORE_CMD_HSET] = KEEL_HSET_NX,
    [STORE_CMD_GETEX] = KEEL_GETEX_PERSIST,
    [STORE_CMD_HASH] = KEEL_HASH_CHECK | KEEL_HASH_VERDICT,
    [STORE_CMD_ACL] = KEEL_ACL_DELETE,
    [STORE_CMD_RENAME] = KEEL_RENAME_NX | KEEL_RENAME_MOVE,
    [STORE_CMD_COPY] = KEEL_COPY_REPLACE,
    [STORE_CMD_SETFLOAT] = KEEL_SETFLOAT_HASH,
    [STORE_CMD_MSETNX] = KEEL_MSETNX_ALL,
    [STORE_CMD_SETBIT] = KEEL_SETBIT_ONE,
    [STORE_CMD_SPOP] = KEEL_SPOP_ONE,
    [STORE_CMD_SSTORE] = 0x03, /* a value: checked below */
    [STORE_CMD_READ] = KEEL_READ_RESP3,
    [STORE_CMD_LPUSH] = KEEL_LIST_LEFT | KEEL_LPUSH_EXISTS,
    [STORE_CMD_LPOP] = KEEL_LIST_LEFT | KEEL_LPOP_COUNT,
    [STORE_CMD_LINSERT] = KEEL_LINSERT_BEFORE,
    [STORE_CMD_LMOVE] = KEEL_LIST_LEFT | KEEL_LMOVE_TO_LEFT,
    [STORE_CMD_ZADD] = 0x3F,
    [STORE_CMD_ZREMRANGE] = 0x3F, /* checked below */
    [STORE_CMD_MPOP] = KEEL_MPOP_ZSET | KEEL_MPOP_LEFT,
    [STORE_CMD_ZSTORE] = KEEL_ZSTORE_OP | KEEL_ZSTORE_MIN | KEEL_ZSTORE_MAX, /* checked below */
    [STORE_CMD_ZRANGESTORE] = 0x1F, /* checked below */
};

/* ACL rules: words separated by single spaces, with no control byte, no
 * other whitespace (bytes over 0x7f are fine: UTF-8 patterns), none a
 * cleartext password ('>' adds one, '<' removes one): those never reach the
 * log. What the words mean is checked at apply (acl_rule), which refuses a
 * bad one as the leader's SETUSER would have. */
static bool acl_rules_valid(struct rd *r, struct keel_slice s, bool del)
{
    if (del) return s.n == 0 ? true : fail(r, KEEL_EMALFORMED, "ACL delete with rules");
    if (s.n == 0) return fail(r, KEEL_EMALFORMED, "ACL without rules");
    for (size_t i = 0; i < s.n; i++) {
        uint8_t c = s.p[i];
        bool start = i == 0 || s.p[i - 1] == ' ';
        if (c == ' ' ? start || i + 1 == s.n : c < 0x21 || c == 0x7f)
            return fail(r, KEEL_EMALFORMED, "ACL rules not single-spaced words");
        if (start && (c == '>' || c == '<'))
            return fail(r, KEEL_EMALFORMED, "cleartext password in ACL rules");
    }
    return true;
}

static bool check_flags(struct rd *r, uint8_t type, uint8_t flags)
{
    if (flags & ~allowed_flags[type]) return fail(r, KEEL_EMALFORMED, "unknown flags");
    switch (type) {
        case STORE_CMD_SET:
            if ((flags & KEEL_SET_NX) && (flags & KEEL_SET_XX)) goto bad;
            break;
        case STORE_CMD_EXPIRE:
            if ((flags & KEEL_EXPIRE_NX) && (flags & ~KEEL_EXPIRE_NX)) goto bad;
            if ((flags & KEEL_EXPIRE_GT) && (flags & KEEL_EXPIRE_LT)) goto bad;
            break;
        case STORE_CMD_CAS: {
            unsigned mode = flags & (KEEL_CAS_VERSION | KEEL_CAS_VALUE);
            if (mode != KEEL_CAS_VERSION && mode != KEEL_CAS_VALUE) goto bad;
            if ((flags & KEEL_CAS_ABSENT) && mode != KEEL_CAS_VALUE) goto bad;
            break;
        }
        case STORE_CMD_HASH:
            if ((flags & KEEL_HASH_CHECK) && (flags & KEEL_HASH_VERDICT)) goto bad;
            break;
        case STORE_CMD_ZADD:
            if ((flags & KEEL_ZADD_NX) && (flags & (KEEL_ZADD_XX | KEEL_ZADD_GT | KEEL_ZADD_LT))) goto bad;
            if ((flags & KEEL_ZADD_GT) && (flags & KEEL_ZADD_LT)) goto bad;
            break;
        case STORE_CMD_ZREMRANGE: {
            unsigned op = flags & KEEL_ZREM_OP;
            if (op < KEEL_ZREM_POPMIN || op > KEEL_ZREM_LEX) goto bad;
            if ((flags & KEEL_ZREM_COUNT) && op > KEEL_ZREM_POPMAX) goto bad;
            if ((flags & (KEEL_ZREM_MINEX | KEEL_ZREM_MAXEX)) && op != KEEL_ZREM_SCORE) goto bad;
            break;
        }
        case STORE_CMD_SSTORE:
            if (flags == 0) return fail(r, KEEL_EMALFORMED, "set operation missing");
            break;
        case STORE_CMD_ZRANGESTORE:
            if ((flags & KEEL_ZRS_BY) == 3) goto bad;
            if ((flags & (KEEL_ZRS_MINEX | KEEL_ZRS_MAXEX)) && (flags & KEEL_ZRS_BY) != 1) goto bad;
            break;
        case STORE_CMD_ZSTORE:
            if ((flags & KEEL_ZSTORE_OP) == 0) return fail(r, KEEL_EMALFORMED, "set operation missing");
            if ((flags & KEEL_ZSTORE_MIN) && (flags & KEEL_ZSTORE_MAX)) goto bad;
            break;
    }
    return true;
bad:
    return fail(r, KEEL_EMALFORMED, "contradictory flags");
}

/* Two 8-byte doubles, neither NaN (a score range's ends). */
static bool score_pair(struct rd *r, struct keel_slice a, struct keel_slice b)
{
    for (int j = 0; j < 2; j++) {
        struct keel_slice x = j ? b : a;
        double d;
        if (x.n != 8) return fail(r, KEEL_EMALFORMED, "score not 8 bytes");
        uint64_t bits = le64_load(x.p);
        memcpy(&d, &bits, sizeof d);
        if (isnan(d)) return fail(r, KEEL_EMALFORMED, "NaN score");
    }
    return true;
}

/* Two lex items as Redis's zslParseLexRangeItem takes them. */
static bool lex_pair(struct rd *r, struct keel_slice a, struct keel_slice b)
{
    for (int j = 0; j < 2; j++) {
        struct keel_slice x = j ? b : a;
        bool inf = x.n == 1 && (x.p[0] == '-' || x.p[0] == '+');
        if (!inf && (x.n == 0 || (x.p[0] != '(' && x.p[0] != '[')))
            return fail(r, KEEL_EMALFORMED, "bad lex bound");
    }
    return true;
}

/* Decode one body of `type` from r into cmd; r must end exactly at the body's end. */
static bool decode_body(struct rd *r, uint8_t type, uint8_t flags, struct store_cmd *cmd, bool top)
{
    const uint8_t *start;
    const char *why;
    struct keel_slice s;
    uint32_t i;
    cmd->type = type;
    cmd->flags = flags;
    if (!check_flags(r, type, flags)) return false;
    switch (type) {
        case STORE_CMD_NOOP:
            break;
        case STORE_CMD_SET:
            if (!rd_key(r, &cmd->key) || !rd_str(r, &cmd->value, KEEL_MAX_VALUE) ||
                !rd_i64(r, &cmd->num))
                return false;
            if (cmd->num < 0) return fail(r, KEEL_EMALFORMED, "negative expiry");
            if ((flags & KEEL_SET_KEEPTTL) && cmd->num != 0)
                return fail(r, KEEL_EMALFORMED, "KEEPTTL with an expiry");
            break;
        case STORE_CMD_DEL:
            if (!rd_count(r, &cmd->count, KEEL_MAX_ARGS, 4)) return false;
            if (cmd->count == 0) return fail(r, KEEL_EMALFORMED, "no keys");
            start = r->p;
            for (i = 0; i < cmd->count; i++)
                if (!rd_key(r, &s)) return false;
            cmd->list = (struct keel_slice){start, (size_t)(r->p - start)};
            break;
        case STORE_CMD_INCRBY:
            if (!rd_key(r, &cmd->key) || !rd_i64(r, &cmd->num)) return false;
            break;
        case STORE_CMD_EXPIRE:
            if (!rd_key(r, &cmd->key) || !rd_i64(r, &cmd->num)) return false;
            break;
        case STORE_CMD_PERSIST:
            if (!rd_key(r, &cmd->key)) return false;
            break;
        case STORE_CMD_HSET:
        case STORE_CMD_HDEL: {
            unsigned per = type == STORE_CMD_HSET ? 2 : 1;
            if (!rd_key(r, &cmd->key) || !rd_count(r, &cmd->count, KEEL_MAX_ARGS, 4 * per))
                return false;
            if (cmd->count == 0) return fail(r, KEEL_EMALFORMED, "no fields");
            if ((flags & KEEL_HSET_NX) && cmd->count != 1)
                return fail(r, KEEL_EMALFORMED, "HSETNX of more than one field");
            start = r->p;
            for (i = 0; i < cmd->count * per; i++)
                if (!rd_str(r, &s, KEEL_MAX_VALUE)) return false;
            cmd->list = (struct keel_slice){start, (size_t)(r->p - start)};
            break;
        }
        case STORE_CMD_HINCRBY:
            if (!rd_key(r, &cmd->key) || !rd_str(r, &cmd->field, KEEL_MAX_VALUE) ||
                !rd_i64(r, &cmd->num))
                return false;
            break;
        case STORE_CMD_CAS:
            if (!rd_key(r, &cmd->key) || !rd_u64(r, &cmd->version) ||
                !rd_str(r, &cmd->expect, KEEL_MAX_VALUE) ||
                !rd_str(r, &cmd->value, KEEL_MAX_VALUE) || !rd_i64(r, &cmd->num))
                return false;
            if (cmd->num < 0) return fail(r, KEEL_EMALFORMED, "negative expiry");
            break;
        case STORE_CMD_BATCH: {
            uint64_t v;
            if (!top) return fail(r, KEEL_EMALFORMED, "nested batch");
            if (!rd_count(r, &cmd->nwatch, KEEL_MAX_BATCH, 12)) return false;
            start = r->p;
            for (i = 0; i < cmd->nwatch; i++)
                if (!rd_key(r, &s) || !rd_u64(r, &v)) return false;
            cmd->watches = (struct keel_slice){start, (size_t)(r->p - start)};
            if (!rd_count(r, &cmd->count, KEEL_MAX_BATCH, 8)) return false;
            start = r->p;
            for (i = 0; i < cmd->count; i++) {
                struct store_cmd sub;
                uint32_t len;
                if (r->end - r->p < 8) return fail(r, KEEL_EMALFORMED, "truncated");
                uint8_t st = r->p[0], sf = r->p[1];
                if (r->p[2] || r->p[3]) return fail(r, KEEL_EMALFORMED, "non-zero reserved");
                r->p += 4;
                if (!rd_u32(r, &len)) return false;
                if ((size_t)(r->end - r->p) < len) return fail(r, KEEL_EMALFORMED, "sub-command past the end");
                if (st >= STORE_CMD__COUNT || st == STORE_CMD_NOOP || st == STORE_CMD_BATCH ||
                    st == STORE_CMD_SWEEP || st == STORE_CMD_HASH)
                    return fail(r, KEEL_EMALFORMED, "bad sub-command type");
                struct rd subr = {r->p, r->p + len, NULL, 0};
                memset(&sub, 0, sizeof sub);
                if (!decode_body(&subr, st, sf, &sub, false)) return fail(r, subr.rc, subr.why);
                if (subr.p != subr.end) return fail(r, KEEL_EMALFORMED, "sub-command has trailing bytes");
                r->p += len;
            }
            cmd->list = (struct keel_slice){start, (size_t)(r->p - start)};
            break;
        }
        case STORE_CMD_APPEND:
            if (!rd_key(r, &cmd->key) || !rd_str(r, &cmd->value, KEEL_MAX_VALUE)) return false;
            break;
        case STORE_CMD_GETDEL:
            if (!rd_key(r, &cmd->key)) return false;
            break;
        case STORE_CMD_GETEX:
            if (!rd_key(r, &cmd->key) || !rd_i64(r, &cmd->num)) return false;
            if (cmd->num < 0) return fail(r, KEEL_EMALFORMED, "negative expiry");
            if ((flags & KEEL_GETEX_PERSIST) && cmd->num != 0)
                return fail(r, KEEL_EMALFORMED, "PERSIST with an expiry");
            break;
        case STORE_CMD_SWEEP:
            if (!top) return fail(r, KEEL_EMALFORMED, "nested sweep");
            if (!rd_i64(r, &cmd->num)) return false;
            if (cmd->num <= 0) return fail(r, KEEL_EMALFORMED, "sweep max must be positive");
            break;
        case STORE_CMD_HASH:
            if (!top) return fail(r, KEEL_EMALFORMED, "nested hash");
            if (!(flags & KEEL_HASH_VERDICT)) break;
            if (!rd_i64(r, &cmd->num) || !rd_u64(r, &cmd->version)) return false;
            if (cmd->num <= 0) return fail(r, KEEL_EMALFORMED, "verdict for no index");
            break;
        case STORE_CMD_ACL:
            if (!rd_str(r, &cmd->key, ACL_MAX_NAME) || !rd_u64(r, &cmd->version) ||
                !rd_str(r, &cmd->value, ACL_MAX_RULES))
                return false;
            if (!acl_name_valid(cmd->key.p, cmd->key.n))
                return fail(r, KEEL_EMALFORMED, "bad ACL user name");
            if (!acl_rules_valid(r, cmd->value, flags & KEEL_ACL_DELETE)) return false;
            break;
        case STORE_CMD_RENAME:
        case STORE_CMD_COPY:
            if (!rd_key(r, &cmd->key) || !rd_key(r, &cmd->value)) return false;
            break;
        case STORE_CMD_FLUSH:
            break;
        case STORE_CMD_FLUSHDB:
        case STORE_CMD_SWAPDB: /* codec_db.c checks the databases */
            if (!rd_i64(r, &cmd->num) || (type == STORE_CMD_SWAPDB && !rd_u64(r, &cmd->version))) return false;
            break;
        case STORE_CMD_SETRANGE:
            if (!rd_key(r, &cmd->key) || !rd_i64(r, &cmd->num) ||
                !rd_str(r, &cmd->value, KEEL_MAX_VALUE))
                return false;
            if (cmd->num < 0) return fail(r, KEEL_EMALFORMED, "negative offset");
            break;
        case STORE_CMD_SETBIT:
            if (!rd_key(r, &cmd->key) || !rd_i64(r, &cmd->num)) return false;
            if (cmd->num < 0 || cmd->num > KEEL_SETBIT_MAX_OFFSET) return fail(r, KEEL_EMALFORMED, "bit offset out of range");
            break;
        case STORE_CMD_MSETNX:
            if (!rd_count(r, &cmd->count, KEEL_MAX_ARGS, 8)) return false;
            if (cmd->count == 0) return fail(r, KEEL_EMALFORMED, "no keys");
            start = r->p;
            for (i = 0; i < cmd->count; i++)
                if (!rd_key(r, &s) || !rd_str(r, &s, KEEL_MAX_VALUE)) return false;
            cmd->list = (struct keel_slice){start, (size_t)(r->p - start)};
            break;
        case STORE_CMD_SETFLOAT:
            if (!rd_key(r, &cmd->key) || !rd_str(r, &cmd->field, KEEL_MAX_VALUE) ||
                !rd_u64(r, &cmd->version) || !rd_str(r, &cmd->value, KEEL_SETFLOAT_MAX))
                return false;
            if (!(flags & KEEL_SETFLOAT_HASH) && cmd->field.n != 0)
                return fail(r, KEEL_EMALFORMED, "a string's float with a field");
            if (cmd->value.n == 0) return fail(r, KEEL_EMALFORMED, "empty float");
            break;
        case STORE_CMD_SADD:
        case STORE_CMD_SREM:
        case STORE_CMD_SPOP:
        case STORE_CMD_SSTORE:
            if (!rd_key(r, &cmd->key)) return false;
            if (type == STORE_CMD_SPOP && !rd_u64(r, &cmd->version)) return false;
            if (!rd_count(r, &cmd->count, KEEL_MAX_ARGS, 4)) return false;
            if (cmd->count == 0 && type != STORE_CMD_SPOP)
                return fail(r, KEEL_EMALFORMED, "no members");
            if (type == STORE_CMD_SPOP && (flags & KEEL_SPOP_ONE) && cmd->count > 1)
                return fail(r, KEEL_EMALFORMED, "SPOP of one with several members");
            start = r->p;
            for (i = 0; i < cmd->count; i++)
                if (type == STORE_CMD_SSTORE ? !rd_key(r, &s) : !rd_str(r, &s, KEEL_MAX_MEMBER))
                    return false;
            cmd->list = (struct keel_slice){start, (size_t)(r->p - start)};
            break;
        case STORE_CMD_LPUSH:
            if (!rd_key(r, &cmd->key) || !rd_count(r, &cmd->count, KEEL_MAX_ARGS, 4)) return false;
            if (cmd->count == 0) return fail(r, KEEL_EMALFORMED, "no elements");
            start = r->p;
            for (i = 0; i < cmd->count; i++)
                if (!rd_str(r, &s, KEEL_MAX_MEMBER)) return false;
            cmd->list = (struct keel_slice){start, (size_t)(r->p - start)};
            break;
        case STORE_CMD_LPOP:
            if (!rd_key(r, &cmd->key) || !rd_u64(r, &cmd->version)) return false;
            if (cmd->version > INT64_MAX) return fail(r, KEEL_EMALFORMED, "pop count out of range");
            if (!(flags & KEEL_LPOP_COUNT) && cmd->version != 1)
                return fail(r, KEEL_EMALFORMED, "a pop without COUNT of other than one");
            break;
        case STORE_CMD_LSET:
        case STORE_CMD_LINSERT:
            /* LSET's index is the client's text: apply parses it. */
            if (!rd_key(r, &cmd->key) || !rd_str(r, &cmd->field, KEEL_MAX_MEMBER) ||
                !rd_str(r, &cmd->value, KEEL_MAX_MEMBER))
                return false;
            break;
        case STORE_CMD_LREM:
            if (!rd_key(r, &cmd->key) || !rd_i64(r, &cmd->num) ||
                !rd_str(r, &cmd->value, KEEL_MAX_MEMBER))
                return false;
            break;
        case STORE_CMD_LTRIM: {
            int64_t stop;
            if (!rd_key(r, &cmd->key) || !rd_i64(r, &cmd->num) || !rd_i64(r, &stop)) return false;
            cmd->version = (uint64_t)stop;
            break;
        }
        case STORE_CMD_LMOVE:
            if (!rd_key(r, &cmd->key) || !rd_key(r, &cmd->value)) return false;
            break;
        case STORE_CMD_ZADD:
        case STORE_CMD_ZREM:
            if (!rd_key(r, &cmd->key) || !rd_count(r, &cmd->count, KEEL_MAX_ARGS, 4)) return false;
            if (cmd->count == 0) return fail(r, KEEL_EMALFORMED, "no members");
            if ((flags & KEEL_ZADD_INCR) && cmd->count != 1)
                return fail(r, KEEL_EMALFORMED, "INCR with several members");
            start = r->p;
            for (i = 0; i < cmd->count; i++) {
                if (type == STORE_CMD_ZADD) {
                    double d;
                    if (!rd_str(r, &s, 8)) return false;
                    if (s.n != 8) return fail(r, KEEL_EMALFORMED, "score not 8 bytes");
                    uint64_t b = le64_load(s.p);
                    memcpy(&d, &b, sizeof d);
                    if (isnan(d)) return fail(r, KEEL_EMALFORMED, "NaN score");
                }
                if (!rd_str(r, &s, KEEL_MAX_MEMBER)) return false;
            }
            cmd->list = (struct keel_slice){start, (size_t)(r->p - start)};
            break;
        case STORE_CMD_ZREMRANGE: {
            unsigned op = flags & KEEL_ZREM_OP;
            if (!rd_key(r, &cmd->key)) return false;
            if (op <= KEEL_ZREM_RANK) {
                int64_t b = 0;
                if (!rd_i64(r, &cmd->num) || (op == KEEL_ZREM_RANK && !rd_i64(r, &b))) return false;
                cmd->version = (uint64_t)b;
                if (op != KEEL_ZREM_RANK && cmd->num < 0) return fail(r, KEEL_EMALFORMED, "negative count");
                break;
            }
            if (!rd_str(r, &cmd->field, KEEL_MAX_MEMBER + 1) || !rd_str(r, &cmd->value, KEEL_MAX_MEMBER + 1))
                return false;
            if (op == KEEL_ZREM_SCORE ? !score_pair(r, cmd->field, cmd->value) : !lex_pair(r, cmd->field, cmd->value))
                return false;
            break;
        }
        case STORE_CMD_ZRANGESTORE: {
            int64_t b;
            unsigned by = flags & KEEL_ZRS_BY;
            if (!rd_key(r, &cmd->key) || !rd_key(r, &cmd->value) || !rd_i64(r, &cmd->num) || !rd_i64(r, &b) ||
                !rd_str(r, &cmd->field, KEEL_MAX_MEMBER + 1) || !rd_str(r, &cmd->expect, KEEL_MAX_MEMBER + 1))
                return false;
            cmd->version = (uint64_t)b;
            if (by == 0 && (cmd->field.n != 0 || cmd->expect.n != 0))
                return fail(r, KEEL_EMALFORMED, "a rank range with bounds");
            if (by == 1 && !score_pair(r, cmd->field, cmd->expect)) return false;
            if (by == 2 && !lex_pair(r, cmd->field, cmd->expect)) return false;
            break;
        }
        case STORE_CMD_ZSTORE:
            if (!rd_key(r, &cmd->key) || !rd_count(r, &cmd->count, KEEL_MAX_ARGS, 8)) return false;
            if (cmd->count == 0) return fail(r, KEEL_EMALFORMED, "no source keys");
            start = r->p;
            for (i = 0; i < cmd->count; i++) {
                double d;
                if (!rd_key(r, &s) || !rd_str(r, &s, 8)) return false;
                if (s.n != 8) return fail(r, KEEL_EMALFORMED, "weight not 8 bytes");
                uint64_t b = le64_load(s.p);
                memcpy(&d, &b, sizeof d);
                if (isnan(d)) return fail(r, KEEL_EMALFORMED, "NaN weight");
            }
            cmd->list = (struct keel_slice){start, (size_t)(r->p - start)};
            break;
        case STORE_CMD_SMOVE:
            if (!rd_key(r, &cmd->key) || !rd_key(r, &cmd->value) ||
                !rd_str(r, &cmd->field, KEEL_MAX_MEMBER))
                return false;
            break;
        case STORE_CMD_MPOP:
            if (!rd_count(r, &cmd->count, KEEL_MAX_ARGS, 4)) return false;
            if (cmd->count == 0) return fail(r, KEEL_EMALFORMED, "no keys");
            start = r->p;
            for (i = 0; i < cmd->count; i++)
                if (!rd_key(r, &s)) return false;
            cmd->list = (struct keel_slice){start, (size_t)(r->p - start)};
            if (!rd_u64(r, &cmd->version)) return false;
            if (cmd->version == 0 || cmd->version > INT64_MAX)
                return fail(r, KEEL_EMALFORMED, "pop count out of range");
            break;
        case STORE_CMD_READ:
            if (top) return fail(r, KEEL_EMALFORMED, "read outside a batch");
            if (!rd_count(r, &cmd->count, KEEL_MAX_ARGS, 4)) return false;
            if (cmd->count == 0) return fail(r, KEEL_EMALFORMED, "read without a command");
            start = r->p;
            for (i = 0; i < cmd->count; i++)
                if (!rd_str(r, &s, KEEL_MAX_VALUE)) return false;
            cmd->list = (struct keel_slice){start, (size_t)(r->p - start)};
            break;
        default:
            return fail(r, KEEL_EMALFORMED, "unknown command type");
    }
    return (why = store_db_check(type, flags, cmd)) == NULL ? true : fail(r, KEEL_EMALFORMED, why);
}

int store_cmd_decode(const void *buf, size_t len, struct store_cmd *cmd, const char **msg)
{
    const uint8_t *h = buf;
    struct rd r = {NULL, NULL, NULL, 0};
    uint32_t body;
    memset(cmd, 0, sizeof *cmd);
    if (len < STORE_CMD_HEADER) {
        fail(&r, KEEL_EMALFORMED, "shorter than the header");
        goto out;
    }
    if (len > KEEL_MAX_ENTRY) {
        fail(&r, KEEL_ETOOBIG, "entry over the size limit");
        goto out;
    }
    if (h[0] != KEEL_CODEC_MAGIC) {
        fail(&r, KEEL_EMALFORMED, "bad magic");
        goto out;
    }
    if (h[1] != KEEL_CODEC_VERSION) {
        fail(&r, KEEL_EVERSION, "unknown codec version");
        goto out;
    }
    if (len % 8 != 0) {
        fail(&r, KEEL_EMALFORMED, "length not a multiple of 8");
        goto out;
    }
    r.p = h + 4;
    r.end = h + len;
    rd_u32(&r, &body);
    rd_i64(&r, &cmd->ts);
    rd_u64(&r, &cmd->client);
    rd_u64(&r, &cmd->seq);
    if (body > len - STORE_CMD_HEADER || len - STORE_CMD_HEADER - body >= 8) {
        fail(&r, KEEL_EMALFORMED, "body length disagrees with entry length");
        goto out;
    }
    if (h[2] >= STORE_CMD__COUNT) {
        fail(&r, KEEL_EMALFORMED, "unknown command type");
        goto out;
    }
    r.end = h + STORE_CMD_HEADER + body;
    if (!decode_body(&r, h[2], h[3], cmd, true)) goto out;
    if (r.p != r.end) {
        fail(&r, KEEL_EMALFORMED, "trailing bytes in body");
        goto out;
    }
    for (const uint8_t *p = r.end; p < h + len; p++) {
        if (*p != 0) {
            fail(&r, KEEL_EMALFORMED, "non-zero padding");
            goto out;
        }
    }
out:
    if (msg != NULL) *msg = r.why;
    return r.rc;
}

void keel_iter_init(struct keel_iter *it, struct keel_slice list)
{
    it->p = list.p;
    it->end = list.p + list.n;
}

bool keel_iter_str(struct keel_iter *it, struct keel_slice *s)
{
    struct rd r = {it->p, it->end, NULL, 0};
    if (it->p == NULL || it->p >= it->end || !rd_str(&r, s, UINT32_MAX)) return false;
    it->p = r.p;
    return true;
}

bool keel_iter_watch(struct keel_iter *it, struct keel_slice *key, uint64_t *version)
{
    struct rd r = {it->p, it->end, NULL, 0};
    if (it->p == NULL || it->p >= it->end || !rd_str(&r, key, KEEL_MAX_KEY) ||
        !rd_u64(&r, version))
        return false;
    it->p = r.p;
    return true;
}

bool store_iter_cmd(struct keel_iter *it, const struct store_cmd *parent, struct store_cmd *sub)
{
    struct rd r = {it->p, it->end, NULL, 0};
    uint32_t len;
    if (it->p == NULL || it->end - it->p < 8) return false;
    uint8_t type = it->p[0], flags = it->p[1];
    r.p += 4;
    if (!rd_u32(&r, &len) || (size_t)(r.end - r.p) < len) return false;
    struct rd body = {r.p, r.p + len, NULL, 0};
    memset(sub, 0, sizeof *sub);
    if (!decode_body(&body, type, flags, sub, false)) return false;
    sub->ts = parent->ts;
    sub->client = parent->client;
    sub->seq = parent->seq;
    it->p = r.p + len;
    return true;
}
