/* api: the set algebra SINTER SUNION SDIFF SINTERCARD (reads) and their
 * *STORE forms (writes, computed in apply), SRANDMEMBER and SSCAN. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/resp/resp_glob.h"
#include "api/server/commands/commands.h"

/* Reply the result of op over argv[from..from+n) as a set, or an error. */
static int setop(struct slot *s, struct keel_read *rd, unsigned op, uint32_t from, uint32_t n)
{
    struct keel_members out;
    keel_members_init(&out);
    int rc = keel_read_setop(rd, op, s->argv + from, n, 0, &out);
    if (rc == KEEL_EWRONGTYPE) {
        srv_reply_error(&s->out, KEEL_EWRONGTYPE, NULL);
        rc = 0;
    } else if (rc == 0) {
        resp_set(&s->out, s->proto, out.n);
        for (size_t i = 0; i < out.n; i++) {
            struct keel_slice m = keel_members_at(&out, i);
            resp_bulk(&s->out, m.p, m.n);
        }
    }
    keel_members_close(&out);
    return rc;
}

CMD_DECL_READ(cmd_sinter)
{
    return setop(s, rd, KEEL_SSTORE_INTER, 1, s->argc - 1);
}

CMD_DECL_READ(cmd_sunion)
{
    return setop(s, rd, KEEL_SSTORE_UNION, 1, s->argc - 1);
}

CMD_DECL_READ(cmd_sdiff)
{
    return setop(s, rd, KEEL_SSTORE_DIFF, 1, s->argc - 1);
}

/* A strict decimal long long of argv[i] (Redis's string2ll). */
static bool arg_ll(struct slot *s, uint32_t i, long long *v)
{
    int64_t x;
    if (!store_parse_int(s->argv[i].p, s->argv[i].n, &x)) return false;
    *v = x;
    return true;
}

/* SINTERCARD numkeys key [key ...] [LIMIT limit] (Redis's sinterCardCommand,
 * errors in its order). */
CMD_DECL_READ(cmd_sintercard)
{
    struct keel_members out;
    long long numkeys, limit = 0;
    /* Redis's getRangeLongFromObjectOrReply with a message: the same words
     * for a non-integer as for one out of range (and LIMIT's below). */
    if (!arg_ll(s, 1, &numkeys) || numkeys < 1) {
        srv_reply_error(&s->out, KEEL_EINVAL, "numkeys should be greater than 0");
        return 0;
    }
    if (numkeys > (long long)s->argc - 2) {
        srv_reply_error(&s->out, KEEL_EINVAL, "Number of keys can't be greater than number of args");
        return 0;
    }
    for (uint32_t j = 2 + (uint32_t)numkeys; j < s->argc; j++) {
        if (slot_arg_is(s, j, "LIMIT") && j + 1 < s->argc) {
            j++;
            if (!arg_ll(s, j, &limit) || limit < 0) {
                srv_reply_error(&s->out, KEEL_EINVAL, "LIMIT can't be negative");
                return 0;
            }
        } else {
            srv_syntax_error(s);
            return 0;
        }
    }
    keel_members_init(&out);
    int rc = keel_read_setop(rd, KEEL_SSTORE_INTER, s->argv + 2, (size_t)numkeys, (uint64_t)limit, &out);
    if (rc == KEEL_EWRONGTYPE) {
        srv_reply_error(&s->out, KEEL_EWRONGTYPE, NULL);
        rc = 0;
    } else if (rc == 0) {
        resp_int(&s->out, (int64_t)out.n);
    }
    keel_members_close(&out);
    return rc;
}

static int sstore(struct slot *s, struct keel_enc *e, unsigned op)
{
    for (uint32_t i = 1; i < s->argc; i++)
        if (!srv_check_key(s, s->argv[i])) return -1;
    keel_enc_sstore(e, op, s->argv[1], s->argv + 2, s->argc - 2);
    return 1;
}

CMD_DECL_ENCODE(cmd_sinterstore)
{
    return sstore(s, e, KEEL_SSTORE_INTER);
}

CMD_DECL_ENCODE(cmd_sunionstore)
{
    return sstore(s, e, KEEL_SSTORE_UNION);
}

CMD_DECL_ENCODE(cmd_sdiffstore)
{
    return sstore(s, e, KEEL_SSTORE_DIFF);
}

/* The most members a negative SRANDMEMBER count may ask for: Redis streams
 * any number; Keel builds the reply in memory, so it bounds it (as
 * HRANDFIELD). */
#define SRANDMEMBER_MAX_REPEAT (1u << 20)

/* SRANDMEMBER key [count]: chosen on the node that answers (a read changes
 * nothing, so nothing random reaches the log). A negative count may repeat
 * members; a positive one gives distinct members, at most the set. */
CMD_DECL_READ(cmd_srandmember)
{
    struct keel_coll coll = {0};
    struct keel_members all;
    long long l = 0;
    if (s->argc > 3) {
        srv_syntax_error(s);
        return 0;
    }
    if (s->argc == 3) {
        if (!srv_arg_int(s, 2, &l)) return 0;
        if (l == INT64_MIN) {
            srv_reply_error(&s->out, KEEL_EINVAL, "value is out of range, must be between "
                            "-9223372036854775807 and 9223372036854775807");
            return 0;
        }
    }
    int rc = keel_read_set(rd, s->argv[1], &coll);
    if (rc == KEEL_EWRONGTYPE) {
        srv_reply_error(&s->out, KEEL_EWRONGTYPE, NULL);
        return 0;
    }
    if (rc != 0 && rc != KEEL_ENOTFOUND) return rc;
    bool absent = rc == KEEL_ENOTFOUND;
    uint64_t count = l < 0 ? (uint64_t)-l : (uint64_t)l;
    if (absent || (s->argc == 3 && count == 0)) {
        if (s->argc == 2) resp_null(&s->out, s->proto);
        else resp_array(&s->out, 0);
        return 0;
    }
    if (l < 0 && count > SRANDMEMBER_MAX_REPEAT) {
        srv_reply_errorf(&s->out, KEEL_EINVAL, "a negative SRANDMEMBER count may ask for at most "
                         "%u members in Keel", SRANDMEMBER_MAX_REPEAT);
        return 0;
    }
    keel_members_init(&all);
    rc = keel_read_members_all(rd, &coll, &all);
    if (rc != 0 || all.n == 0) {
        keel_members_close(&all);
        return rc != 0 ? rc : KEEL_ECORRUPT;
    }
    if (s->argc == 2 || l < 0) {
        if (s->argc == 3) resp_array(&s->out, count);
        for (uint64_t i = 0; i < (s->argc == 2 ? 1 : count); i++) {
            struct keel_slice m = keel_members_at(&all, srv_random() % all.n);
            resp_bulk(&s->out, m.p, m.n);
        }
        keel_members_close(&all);
        return 0;
    }
    size_t n = count < all.n ? (size_t)count : all.n;
    size_t *idx = malloc(all.n * sizeof *idx);
    if (idx == NULL) {
        keel_members_close(&all);
        return KEEL_ENOMEM;
    }
    for (size_t i = 0; i < all.n; i++) idx[i] = i;
    for (size_t i = 0; i < n && n < all.n; i++) {
        size_t j = i + (size_t)(srv_random() % (all.n - i));
        size_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    resp_array(&s->out, n);
    for (size_t i = 0; i < n; i++) {
        struct keel_slice m = keel_members_at(&all, idx[i]);
        resp_bulk(&s->out, m.p, m.n);
    }
    free(idx);
    keel_members_close(&all);
    return 0;
}

/* SSCAN key cursor [MATCH pattern] [COUNT count]: like HSCAN, the first
 * call returns every (matching) member and cursor 0, whatever COUNT (Redis
 * does the same for small sets; the guarantee, every member present for
 * the whole scan is returned, holds). */
CMD_DECL_READ(cmd_sscan)
{
    struct keel_coll coll;
    struct keel_members all;
    const char *pattern = NULL;
    size_t plen = 0;
    if (!srv_scan_cursor(s)) return 0;
    int rc = keel_read_set(rd, s->argv[1], &coll);
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
    keel_members_init(&all);
    rc = keel_read_members_all(rd, &coll, &all);
    if (rc != 0) {
        keel_members_close(&all);
        return rc;
    }
    size_t n = 0;
    for (size_t i = 0; i < all.n; i++) {
        struct keel_slice m = keel_members_at(&all, i);
        n += pattern == NULL || resp_glob_match(pattern, plen, m.p, m.n);
    }
    resp_array(&s->out, 2);
    resp_bulk_str(&s->out, "0");
    resp_array(&s->out, n);
    for (size_t i = 0; i < all.n; i++) {
        struct keel_slice m = keel_members_at(&all, i);
        if (pattern == NULL || resp_glob_match(pattern, plen, m.p, m.n)) resp_bulk(&s->out, m.p, m.n);
    }
    keel_members_close(&all);
    return 0;
}
