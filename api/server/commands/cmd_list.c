/* api: list commands: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP (writes), LLEN
 * LRANGE LINDEX (reads). Replies as Redis 7.2's t_list.c. */
#include <string.h>

#include "api/server/commands/commands.h"

/* Elements argv[from..] within Keel's element limit; writes the error. */
static bool elements_ok(struct slot *s, uint32_t from)
{
    for (uint32_t i = from; i < s->argc; i++) {
        if (s->argv[i].n > KEEL_MAX_MEMBER) {
            srv_reply_errorf(&s->out, KEEL_ETOOBIG, "list element of %zu bytes is over Keel's limit of %u",
                             s->argv[i].n, KEEL_MAX_MEMBER);
            return false;
        }
    }
    return true;
}

static int push(struct slot *s, struct keel_enc *e, unsigned flags)
{
    if (!srv_check_key(s, s->argv[1]) || !elements_ok(s, 2)) return -1;
    keel_enc_lpush(e, s->argv[1], s->argv + 2, s->argc - 2, flags);
    return 1;
}

CMD_DECL_ENCODE(cmd_lpush)
{
    return push(s, e, KEEL_LIST_LEFT);
}

CMD_DECL_ENCODE(cmd_rpush)
{
    return push(s, e, 0);
}

CMD_DECL_ENCODE(cmd_lpushx)
{
    return push(s, e, KEEL_LIST_LEFT | KEEL_LPUSH_EXISTS);
}

CMD_DECL_ENCODE(cmd_rpushx)
{
    return push(s, e, KEEL_LPUSH_EXISTS);
}

/* LPOP/RPOP key [count]: the count is checked before the key, as Redis's
 * popGenericCommand does (a bad count wins over WRONGTYPE). */
static int pop(struct slot *s, struct keel_enc *e, unsigned flags)
{
    long long count = 1;
    if (s->argc > 3) {
        srv_reply_errorf(&s->out, KEEL_EINVAL, "wrong number of arguments for '%s' command",
                         s->cmd->name);
        return -1;
    }
    if (!srv_check_key(s, s->argv[1])) return -1;
    if (s->argc == 3) {
        if (!srv_arg_int(s, 2, &count)) return -1;
        if (count < 0) {
            srv_reply_error(&s->out, KEEL_EINVAL, "value is out of range, must be positive");
            return -1;
        }
        flags |= KEEL_LPOP_COUNT;
    }
    keel_enc_lpop(e, s->argv[1], (uint64_t)count, flags);
    return 1;
}

CMD_DECL_ENCODE(cmd_lpop)
{
    return pop(s, e, KEEL_LIST_LEFT);
}

CMD_DECL_ENCODE(cmd_rpop)
{
    return pop(s, e, 0);
}

/* The live list at argv[1] into *coll (count 0 if absent): 0, or a
 * storage error; *wrong after writing WRONGTYPE. */
static int load(struct slot *s, struct keel_read *rd, struct keel_coll *coll, bool *found,
                bool *wrong)
{
    *wrong = false;
    int rc = keel_read_list(rd, s->argv[1], coll);
    *found = rc == 0;
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

CMD_DECL_READ(cmd_llen)
{
    struct keel_coll coll;
    bool found, wrong;
    int rc = load(s, rd, &coll, &found, &wrong);
    if (rc != 0 || wrong) return rc;
    resp_int(&s->out, (int64_t)coll.count);
    return 0;
}

/* LINDEX key index: an absent key answers nil before the index is parsed. */
CMD_DECL_READ(cmd_lindex)
{
    struct keel_coll coll;
    struct keel_slice item;
    bool found, wrong;
    long long index;
    int rc = load(s, rd, &coll, &found, &wrong);
    if (rc != 0 || wrong) return rc;
    if (!found) {
        resp_null(&s->out, s->proto);
        return 0;
    }
    if (!srv_arg_int(s, 2, &index)) return 0;
    rc = keel_read_list_at(rd, &coll, index, &item);
    if (rc == KEEL_ENOTFOUND) resp_null(&s->out, s->proto);
    else if (rc == 0) resp_bulk(&s->out, item.p, item.n);
    return rc == KEEL_ENOTFOUND ? 0 : rc;
}

static int item_cb(void *arg, struct keel_slice m, struct keel_slice data)
{
    (void)m;
    resp_bulk(arg, data.p, data.n);
    return 0;
}

/* LRANGE key start stop: both indexes parsed before the key is looked up. */
CMD_DECL_READ(cmd_lrange)
{
    struct keel_coll coll;
    bool found, wrong;
    long long start, end;
    uint64_t off, n;
    if (!srv_arg_int(s, 2, &start) || !srv_arg_int(s, 3, &end)) return 0;
    int rc = load(s, rd, &coll, &found, &wrong);
    if (rc != 0 || wrong) return rc;
    if (!store_list_range((int64_t)coll.count, start, end, &off, &n)) {
        resp_array(&s->out, 0);
        return 0;
    }
    resp_array(&s->out, n);
    return keel_read_list_walk(rd, &coll, off, n, item_cb, &s->out);
}
