/* api: the pub/sub commands: SUBSCRIBE PSUBSCRIBE UNSUBSCRIBE PUNSUBSCRIBE
 * PUBLISH PUBSUB, and RESET (which also leaves subscribed mode). Replies are
 * Redis's, frame for frame: RESP3 connections get them as push frames.
 * PUBLISH is node-local: it is not replicated (docs/keeld.md). */
#include <stdlib.h>
#include <string.h>

#include "api/resp/resp_glob.h"
#include "api/server/auth.h"
#include "api/server/commands/commands.h"
#include "api/server/pubsub/pubsub.h"

/* One confirmation frame: [kind, name or nil, subscriptions left]. */
static void confirm(struct slot *s, const char *kind, const struct keel_slice *name,
                    unsigned count)
{
    pubsub_header(&s->out, s->proto, 3);
    resp_bulk_str(&s->out, kind);
    if (name != NULL) resp_bulk(&s->out, name->p, name->n);
    else resp_null(&s->out, s->proto);
    resp_int(&s->out, count);
}

static bool need_conn(struct slot *s)
{
    if (s->conn != NULL) return true;
    srv_reply_error(&s->out, KEEL_EINVAL, "pub/sub needs a client connection");
    slot_done(s);
    return false;
}

static void subscribe(struct slot *s, bool pattern)
{
    if (!need_conn(s)) return;
    for (uint32_t i = 1; i < s->argc; i++) {
        int rc = pattern ? pubsub_psubscribe(s->srv, s->conn, s->argv[i])
                         : pubsub_subscribe(s->srv, s->conn, s->argv[i]);
        if (rc < 0) {
            srv_reply_error(&s->out, KEEL_ENOMEM, "out of memory");
            break;
        }
        confirm(s, pattern ? "psubscribe" : "subscribe", &s->argv[i], pubsub_count(s->conn));
    }
    slot_done(s);
}

CMD_DECL_LOCAL(cmd_subscribe)
{
    subscribe(s, false);
}

CMD_DECL_LOCAL(cmd_psubscribe)
{
    subscribe(s, true);
}

static void unsubscribe(struct slot *s, bool pattern)
{
    const char *kind = pattern ? "punsubscribe" : "unsubscribe";
    struct conn *c = s->conn;
    if (!need_conn(s)) return;
    if (s->argc > 1) {
        for (uint32_t i = 1; i < s->argc; i++) {
            if (pattern) pubsub_punsubscribe(s->srv, c, s->argv[i]);
            else pubsub_unsubscribe(s->srv, c, s->argv[i]);
            confirm(s, kind, &s->argv[i], pubsub_count(c));
        }
        slot_done(s);
        return;
    }
    /* No arguments: every one, each confirmed; none at all is confirmed
     * with a nil name, as Redis does. */
    unsigned left = c->ps ? (pattern ? c->ps->npatterns : c->ps->nchannels) : 0;
    if (left == 0) confirm(s, kind, NULL, pubsub_count(c));
    while (left-- > 0) {
        struct keel_slice *v = pattern ? c->ps->patterns : c->ps->channels;
        struct keel_slice name = v[left]; /* the last: removing it moves nothing */
        pubsub_header(&s->out, s->proto, 3);
        resp_bulk_str(&s->out, kind);
        resp_bulk(&s->out, name.p, name.n);
        if (pattern) pubsub_punsubscribe(s->srv, c, name);
        else pubsub_unsubscribe(s->srv, c, name);
        resp_int(&s->out, pubsub_count(c));
    }
    slot_done(s);
}

CMD_DECL_LOCAL(cmd_unsubscribe)
{
    unsubscribe(s, false);
}

CMD_DECL_LOCAL(cmd_punsubscribe)
{
    unsubscribe(s, true);
}

/* PUBLISH channel message: to this node's subscribers only. */
CMD_DECL_LOCAL(cmd_publish)
{
    unsigned n = pubsub_publish(s->srv, s->argv[1], s->argv[2]);
    /* The publisher itself may have been closed (a subscriber of its own
     * channel over the limit): slot_done copes with s->conn gone. */
    resp_int(&s->out, n);
    slot_done(s);
}

/* PUBSUB CHANNELS [pattern] | NUMSUB [channel ...] | NUMPAT */
CMD_DECL_LOCAL(cmd_pubsub)
{
    const struct chan_table *t = pubsub_channels(s->srv);
    if (slot_arg_is(s, 1, "CHANNELS") && s->argc <= 3) {
        size_t n = 0;
        for (int pass = 0; pass < 2; pass++) {
            if (pass == 1) resp_array(&s->out, n);
            for (size_t i = 0; i < t->cap; i++) {
                const struct channel *ch = t->slots[i];
                if (ch == NULL) continue;
                if (s->argc == 3 &&
                    !resp_glob_match((const char *)s->argv[2].p, s->argv[2].n, ch->name, ch->len))
                    continue;
                if (pass == 0) n++;
                else resp_bulk(&s->out, ch->name, ch->len);
            }
        }
    } else if (slot_arg_is(s, 1, "NUMSUB")) {
        resp_array(&s->out, 2 * (size_t)(s->argc - 2));
        for (uint32_t i = 2; i < s->argc; i++) {
            const struct channel *ch = chan_find(t, s->argv[i].p, s->argv[i].n);
            resp_bulk(&s->out, s->argv[i].p, s->argv[i].n);
            resp_int(&s->out, ch ? ch->n : 0);
        }
    } else if (slot_arg_is(s, 1, "NUMPAT") && s->argc == 2) {
        resp_int(&s->out, pubsub_numpat(s->srv));
    } else {
        srv_reply_errorf(&s->out, KEEL_EINVAL,
                         "unknown subcommand or wrong number of arguments for 'pubsub|%.*s'",
                         (int)(s->argc > 1 ? s->argv[1].n : 0),
                         s->argc > 1 ? (const char *)s->argv[1].p : "");
    }
    slot_done(s);
}

/* RESET: the connection as new: no MULTI, no WATCH, no subscriptions,
 * RESP2, READWRITE, no name, CLIENT REPLY ON (so RESET itself answers). */
CMD_DECL_LOCAL(cmd_reset)
{
    struct conn *c = s->conn;
    if (!need_conn(s)) return;
    conn_reset_multi(c);
    conn_unwatch(c);
    pubsub_conn_close(c);
    c->proto = 2;
    s->proto = 2;
    c->readonly = false;
    c->db = 0; /* Redis's RESET selects database 0 */
    c->name[0] = 0;
    c->reply_mode = CONN_REPLY_ON;
    s->silent = false;
    auth_conn_reset(c);
    resp_simple(&s->out, "RESET");
    slot_done(s);
}
