/* api: set commands: SADD SREM SMOVE SPOP (writes), SISMEMBER SMISMEMBER
 * SMEMBERS SCARD (reads). The set algebra, SRANDMEMBER and SSCAN are in
 * cmd_set_ops.c. Replies as Redis 7.2's t_set.c. */
#include <stdlib.h>
#include <string.h>

#include "api/server/commands/commands.h"

/* Members argv[from..] within Keel's member limit; writes the error. */
static bool members_ok(struct slot *s, uint32_t from)
{
    for (uint32_t i = from; i < s->argc; i++) {
        if (s->argv[i].n > KEEL_MAX_MEMBER) {
            srv_reply_errorf(&s->out, KEEL_ETOOBIG, "set member of %zu bytes is over Keel's limit of %u",
                             s->argv[i].n, KEEL_MAX_MEMBER);
            return false;
        }
    }
    return true;
}

CMD_DECL_ENCODE(cmd_sadd)
{
    if (!srv_check_key(s, s->argv[1]) || !members_ok(s, 2)) return -1;
    keel_enc_sadd(e, s->argv[1], s->argv + 2, s->argc - 2);
    return 1;
}

CMD_DECL_ENCODE(cmd_srem)
{
    if (!srv_check_key(s, s->argv[1]) || !members_ok(s, 2)) return -1;
    keel_enc_srem(e, s->argv[1], s->argv + 2, s->argc - 2);
    return 1;
}

CMD_DECL_ENCODE(cmd_smove)
{
    if (!srv_check_key(s, s->argv[1]) || !srv_check_key(s, s->argv[2]) || !members_ok(s, 3)) return -1;
    keel_enc_smove(e, s->argv[1], s->argv[2], s->argv[3]);
    return 1;
}

/* The leader picks: n distinct members at random out of the set (all of
 * them when n covers it), by a partial Fisher-Yates shuffle of its members
 * as this read sees them. */
static int pick(struct slot *s, struct keel_read *rd, const struct keel_coll *coll, uint64_t n,
                struct keel_members *all, size_t **idx)
{
    int rc = keel_read_members_all(rd, coll, all);
    if (rc != 0) return rc;
    *idx = malloc((all->n ? all->n : 1) * sizeof **idx);
    if (*idx == NULL) return KEEL_ENOMEM;
    for (size_t i = 0; i < all->n; i++) (*idx)[i] = i;
    for (size_t i = 0; i < n && i + 1 < all->n; i++) {
        size_t j = i + (size_t)(srv_random() % (all->n - i));
        size_t t = (*idx)[i];
        (*idx)[i] = (*idx)[j];
        (*idx)[j] = t;
    }
    (void)s;
    return 0;
}

/* SPOP key [count]: the leader picks the members and proposes their removal
 * tied to the set's version (codec.h SPOP); BUSY from apply means the set
 * changed meanwhile, and cmd_float_reply has it picked again. Inside MULTI
 * the same holds for the whole batch (cmd_tx.c refuses one whose set an
 * earlier command of the transaction writes, as for INCRBYFLOAT). */
CMD_DECL_ENCODE(cmd_spop)
{
    struct keel_read rd;
    struct keel_record rec;
    struct keel_coll coll = {0};
    struct keel_members all;
    size_t *idx = NULL;
    long long count = 1;
    bool one = s->argc == 2;
    if (s->argc > 3) {
        srv_syntax_error(s);
        return -1;
    }
    if (!srv_check_key(s, s->argv[1])) return -1;
    if (!one) {
        if (!srv_arg_int(s, 2, &count)) return -1;
        if (count < 0) {
            srv_reply_error(&s->out, KEEL_EINVAL, "value is out of range, must be positive");
            return -1;
        }
    }
    int rc = keel_read_begin(s->srv->store, s->now, &rd);
    if (rc != 0) {
        srv_reply_error(&s->out, rc, NULL);
        return -1;
    }
    uint64_t base = 0;
    rc = keel_read_get(&rd, s->argv[1], &rec);
    if (rc == 0) {
        base = rec.version;
        rc = keel_read_set(&rd, s->argv[1], &coll);
    }
    keel_members_init(&all);
    if (rc == 0) rc = pick(s, &rd, &coll, (uint64_t)count, &all, &idx);
    int out = -1;
    if (rc == KEEL_EWRONGTYPE) {
        srv_reply_error(&s->out, KEEL_EWRONGTYPE, NULL);
    } else if (rc != 0 && rc != KEEL_ENOTFOUND) {
        srv_reply_error(&s->out, rc, NULL);
    } else {
        size_t n = (uint64_t)count < all.n ? (size_t)count : all.n;
        struct keel_slice *picked = malloc((n ? n : 1) * sizeof *picked);
        if (picked == NULL) {
            srv_reply_error(&s->out, KEEL_ENOMEM, NULL);
        } else {
            for (size_t i = 0; i < n; i++) picked[i] = keel_members_at(&all, idx[i]);
            keel_enc_spop(e, s->argv[1], base, picked, (uint32_t)n, one ? KEEL_SPOP_ONE : 0);
            free(picked);
            out = 1;
        }
    }
    /* The entry holds copies: the picks may go with the read. */
    free(idx);
    keel_members_close(&all);
    keel_read_end(&rd);
    return out;
}

/* The live set at argv[1] into *coll (id 0 if absent): 0, or a storage
 * error; *wrong after writing WRONGTYPE. */
static int load(struct slot *s, struct keel_read *rd, struct keel_coll *coll, bool *wrong)
{
    *wrong = false;
    memset(coll, 0, sizeof *coll);
    int rc = keel_read_set(rd, s->argv[1], coll);
    if (rc == KEEL_ENOTFOUND) {
        memset(coll, 0, sizeof *coll);
        return 0;
    }
    if (rc == KEEL_EWRONGTYPE) {
        srv_reply_error(&s->out, KEEL_EWRONGTYPE, NULL);
        *wrong = true;
        return 0;
    }
    return rc;
}

CMD_DECL_READ(cmd_sismember)
{
    struct keel_coll coll;
    bool wrong;
    int rc = load(s, rd, &coll, &wrong);
    if (rc != 0 || wrong) return rc;
    rc = keel_read_ismember(rd, &coll, s->argv[2]);
    if (rc != 0 && rc != KEEL_ENOTFOUND) return rc;
    resp_int(&s->out, rc == 0);
    return 0;
}

CMD_DECL_READ(cmd_smismember)
{
    struct keel_coll coll;
    bool wrong;
    int rc = load(s, rd, &coll, &wrong);
    if (rc != 0 || wrong) return rc;
    resp_array(&s->out, s->argc - 2);
    for (uint32_t i = 2; i < s->argc; i++) {
        rc = keel_read_ismember(rd, &coll, s->argv[i]);
        if (rc != 0 && rc != KEEL_ENOTFOUND) return rc;
        resp_int(&s->out, rc == 0);
    }
    return 0;
}

CMD_DECL_READ(cmd_scard)
{
    struct keel_coll coll;
    bool wrong;
    int rc = load(s, rd, &coll, &wrong);
    if (rc != 0 || wrong) return rc;
    resp_int(&s->out, (int64_t)coll.count);
    return 0;
}

static int member_cb(void *arg, struct keel_slice m, struct keel_slice data)
{
    (void)data;
    resp_bulk(arg, m.p, m.n);
    return 0;
}

CMD_DECL_READ(cmd_smembers)
{
    struct keel_coll coll;
    bool wrong;
    int rc = load(s, rd, &coll, &wrong);
    if (rc != 0 || wrong) return rc;
    resp_set(&s->out, s->proto, coll.count);
    return keel_read_members(rd, &coll, member_cb, &s->out);
}

/* SPOP's reply: BUSY has the members picked again (cmd_float_reply); with a
 * count, RESP3 answers a set, as Redis does (apply's reply stream has only
 * arrays). */
CMD_DECL_REPLY(cmd_spop_reply)
{
    struct keel_reply_reader peek = *rd;
    struct keel_reply_item it;
    if (s->proto >= 3 && keel_reply_next(&peek, &it) == 0 && it.kind == KEEL_REPLY_ARRAY) {
        *rd = peek;
        resp_set(&s->out, s->proto, (size_t)it.integer);
        for (int64_t i = 0; i < it.integer; i++) srv_reply_to_resp(&s->out, s->proto, rd);
        return;
    }
    cmd_float_reply(s, rd, nsub);
}
