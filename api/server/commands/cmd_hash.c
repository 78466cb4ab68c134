/* api: hash commands: HSET HMSET HGET HMGET HGETALL HEXISTS HLEN HDEL HINCRBY. */
#include <string.h>

#include "api/server/commands/commands.h"

/* The live hash at argv[1] into *h (NULL if absent): 0, or a storage error;
 * *wrong set (and the error written) if the key holds a string. */
static int load(struct slot *s, struct keel_read *rd, const struct keel_hash **h, bool *wrong)
{
    struct keel_record rec;
    *h = NULL;
    *wrong = false;
    int rc = keel_read_get(rd, s->argv[1], &rec);
    if (rc == KEEL_ENOTFOUND) return 0;
    if (rc != 0) return rc;
    rc = keel_read_hash(rd, &rec, h);
    if (rc == KEEL_EWRONGTYPE) {
        srv_reply_error(&s->out, KEEL_EWRONGTYPE, NULL);
        *wrong = true;
        return 0;
    }
    return rc;
}

CMD_DECL_READ(cmd_hget)
{
    const struct keel_hash *h;
    bool wrong;
    int rc = load(s, rd, &h, &wrong);
    if (rc != 0 || wrong) return rc;
    const struct hash_field *f = h ? hash_find(h, s->argv[2]) : NULL;
    if (f == NULL) resp_null(&s->out, s->proto);
    else resp_bulk(&s->out, f->v.p, f->v.n);
    return 0;
}

CMD_DECL_READ(cmd_hmget)
{
    const struct keel_hash *h;
    bool wrong;
    int rc = load(s, rd, &h, &wrong);
    if (rc != 0 || wrong) return rc;
    resp_array(&s->out, s->argc - 2);
    for (uint32_t i = 2; i < s->argc; i++) {
        const struct hash_field *f = h ? hash_find(h, s->argv[i]) : NULL;
        if (f == NULL) resp_null(&s->out, s->proto);
        else resp_bulk(&s->out, f->v.p, f->v.n);
    }
    return 0;
}

CMD_DECL_READ(cmd_hgetall)
{
    const struct keel_hash *h;
    bool wrong;
    int rc = load(s, rd, &h, &wrong);
    if (rc != 0 || wrong) return rc;
    uint32_t n = h ? h->n : 0;
    resp_map(&s->out, s->proto, n);
    for (uint32_t i = 0; i < n; i++) {
        resp_bulk(&s->out, h->items[i].f.p, h->items[i].f.n);
        resp_bulk(&s->out, h->items[i].v.p, h->items[i].v.n);
    }
    return 0;
}

CMD_DECL_READ(cmd_hexists)
{
    const struct keel_hash *h;
    bool wrong;
    int rc = load(s, rd, &h, &wrong);
    if (rc != 0 || wrong) return rc;
    resp_int(&s->out, h != NULL && hash_find(h, s->argv[2]) != NULL);
    return 0;
}

CMD_DECL_READ(cmd_hlen)
{
    const struct keel_hash *h;
    bool wrong;
    int rc = load(s, rd, &h, &wrong);
    if (rc != 0 || wrong) return rc;
    resp_int(&s->out, h ? h->n : 0);
    return 0;
}

/* HSET key field value [field value ...]; HMSET is the same with +OK. */
CMD_DECL_ENCODE(cmd_hset)
{
    if (s->argc % 2 != 0) {
        srv_reply_errorf(&s->out, KEEL_EINVAL, "wrong number of arguments for '%s' command", s->cmd->name);
        return -1;
    }
    if (!srv_check_key(s, s->argv[1])) return -1;
    keel_enc_hset(e, s->argv[1], s->argv + 2, (s->argc - 2) / 2);
    return 1;
}

CMD_DECL_REPLY(cmd_hmset_reply)
{
    struct keel_reply_item it;
    (void)nsub;
    if (keel_reply_next(rd, &it) == 0 && it.kind == KEEL_REPLY_ERROR) {
        char msg[256];
        size_t n = it.n < sizeof msg - 1 ? it.n : sizeof msg - 1;
        memcpy(msg, it.p, n);
        msg[n] = 0;
        srv_reply_error(&s->out, (int)it.integer, msg);
        return;
    }
    resp_ok(&s->out);
}

CMD_DECL_ENCODE(cmd_hdel)
{
    if (!srv_check_key(s, s->argv[1])) return -1;
    keel_enc_hdel(e, s->argv[1], s->argv + 2, s->argc - 2);
    return 1;
}

CMD_DECL_ENCODE(cmd_hincrby)
{
    long long v;
    if (!srv_check_key(s, s->argv[1]) || !srv_arg_int(s, 3, &v)) return -1;
    keel_enc_hincrby(e, s->argv[1], s->argv[2], v);
    return 1;
}
