/* api: WATCH, UNWATCH, KEEL.VERSIONS, KEEL.WATCHV: the versions EXEC's
 * batch checks (cmd_multi.c). WATCH reads the keys' versions linearizably
 * (on the leader, or forwarded to it as KEEL.VERSIONS). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/server/commands/commands.h"
#include "api/server/db.h"

CMD_DECL_LOCAL(cmd_unwatch)
{
    conn_unwatch(s->conn);
    resp_ok(&s->out);
    slot_done(s);
}

/* UNWATCH queued in MULTI: EXEC drops the watches anyway (Redis's +OK). */
CMD_DECL_READ(cmd_unwatch_tx)
{
    (void)rd;
    resp_ok(&s->out);
    return 0;
}

static void add_watch(struct conn *c, struct keel_slice key, uint64_t version)
{
    struct conn_watch *w = realloc(c->watches, (c->nwatches + 1) * sizeof *w);
    if (w == NULL) return;
    c->watches = w;
    w += c->nwatches;
    w->key = malloc(key.n ? key.n : 1);
    if (w->key == NULL) return;
    memcpy(w->key, key.p, key.n);
    w->len = key.n;
    w->version = version;
    c->nwatches++;
}

CMD_DECL_READ(cmd_keel_versions)
{
    struct keel_record rec;
    if (!s->watching) resp_array(&s->out, s->argc - 1);
    for (uint32_t i = 1; i < s->argc; i++) {
        int rc = keel_read_get(rd, s->argv[i], &rec);
        if (rc != 0 && rc != KEEL_ENOTFOUND) return rc;
        uint64_t v = rc == 0 ? rec.version : 0;
        if (!s->watching) resp_int(&s->out, (int64_t)v);
        else if (s->conn != NULL) add_watch(s->conn, s->argv[i], v);
    }
    if (s->watching) resp_ok(&s->out);
    return 0;
}

/* WATCH forwarded as KEEL.VERSIONS: keep the versions the leader sent. */
static void watch_reply(struct slot *s, const uint8_t *p, size_t n)
{
    const uint8_t *end = p + n;
    long long count;
    if (p[0] != '*' || sscanf((const char *)p + 1, "%lld", &count) != 1 || count != s->argc - 1) {
        buf_append(&s->out, p, n); /* an error: relay it */
        return;
    }
    p = (const uint8_t *)memchr(p, '\n', (size_t)(end - p)) + 1;
    for (uint32_t i = 1; i < s->argc && p < end; i++) {
        unsigned long long v;
        if (p[0] != ':' || sscanf((const char *)p + 1, "%llu", &v) != 1) break;
        add_watch(s->conn, s->argv[i], v);
        const uint8_t *lf = memchr(p, '\n', (size_t)(end - p));
        if (lf == NULL) break;
        p = lf + 1;
    }
    resp_ok(&s->out);
}

CMD_DECL_LOCAL(cmd_watch)
{
    struct conn *c = s->conn;
    if (c->in_multi) {
        srv_reply_error(&s->out, KEEL_EINVAL, "WATCH inside MULTI is not allowed");
        slot_done(s);
        return;
    }
    for (uint32_t i = 1; i < s->argc; i++) {
        if (!srv_check_key(s, s->argv[i])) {
            slot_done(s);
            return;
        }
    }
    static const struct keel_slice versions = {(const uint8_t *)"KEEL.VERSIONS", 13};
    s->argv[0] = versions; /* argbuf still owns the rest */
    s->cmd = command_lookup(&versions);
    /* A watched key is the key of the database it was watched in: its
     * stored name (db.h), which EXEC's KEEL.TX carries. */
    if (!srv_db_rewrite(s)) {
        slot_done(s);
        return;
    }
    s->watching = true;
    s->on_forward_reply = watch_reply;
    if (s->srv->role == KEEL_ROLE_LEADER) srv_dispatch_read(s);
    else fwd_request(s);
}

/* KEEL.WATCHV key version [key version ...]: WATCH with versions the client
 * already holds (from KEEL.VERSIONS, read earlier), so a compare-and-set of
 * a document read a while ago is one round trip: KEEL.WATCHV, MULTI, the
 * writes, EXEC, pipelined. EXEC fails (nil) if any key moved on since. */
CMD_DECL_LOCAL(cmd_keel_watchv)
{
    struct conn *c = s->conn;
    if (c == NULL || c->in_multi) {
        srv_reply_error(&s->out, KEEL_EINVAL, "KEEL.WATCHV inside MULTI is not allowed");
        slot_done(s);
        return;
    }
    if (s->argc % 2 != 1) {
        srv_reply_error(&s->out, KEEL_EINVAL, "wrong number of arguments for 'keel.watchv' command");
        slot_done(s);
        return;
    }
    uint64_t versions[64];
    uint32_t n = (s->argc - 1) / 2;
    if (n > sizeof versions / sizeof *versions) {
        srv_reply_error(&s->out, KEEL_EINVAL, "KEEL.WATCHV takes at most 64 keys");
        slot_done(s);
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        char buf[32], *end;
        versions[i] = strtoull(slot_arg(s, 2 + 2 * i, buf, sizeof buf), &end, 10);
        if (*end != 0 || s->argv[2 + 2 * i].n == 0 || !srv_check_key(s, s->argv[1 + 2 * i])) {
            if (s->out.len == 0) srv_reply_error(&s->out, KEEL_EINVAL, "KEEL.WATCHV wants key version pairs");
            slot_done(s);
            return;
        }
    }
    if (!srv_db_rewrite(s)) { /* the connection's database's keys (db.h) */
        slot_done(s);
        return;
    }
    for (uint32_t i = 0; i < n; i++) add_watch(c, s->argv[1 + 2 * i], versions[i]);
    resp_ok(&s->out);
    slot_done(s);
}
