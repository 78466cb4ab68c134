/* api: transactions: MULTI, DISCARD, EXEC.
 *
 * MULTI queues writes, reads, PING, ECHO, UNWATCH and AUTH on the
 * connection (dispatch.c). EXEC turns the queue and the watched keys'
 * versions into one KEEL.TX request, which the leader encodes as one BATCH
 * entry (cmd_tx.c): the store checks the versions and applies every command
 * atomically, or none if a watched key changed (nil reply); a read is a
 * READ sub-command that apply hands back to srv_tx_reader, so it sees the
 * writes queued before it. AUTH stays here: it runs on the connection once
 * the batch has applied, its reply spliced in at its place. WATCH:
 * cmd_watch.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/server/auth.h"
#include "api/server/commands/commands.h"
#include "api/server/log.h"

CMD_DECL_LOCAL(cmd_multi)
{
    struct conn *c = s->conn;
    if (c->in_multi) {
        srv_reply_error(&s->out, KEEL_EINVAL, "MULTI calls can not be nested");
    } else {
        c->in_multi = true;
        c->multi_db = c->db; /* the queue's database until a queued SELECT (db.h) */
        resp_ok(&s->out);
    }
    slot_done(s);
}

CMD_DECL_LOCAL(cmd_discard)
{
    struct conn *c = s->conn;
    if (!c->in_multi) {
        srv_reply_error(&s->out, KEEL_EINVAL, "DISCARD without MULTI");
    } else {
        conn_reset_multi(c);
        conn_unwatch(c);
        resp_ok(&s->out);
    }
    slot_done(s);
}

/* The batch's reply p[0..n) (RESP in this client's protocol) with the
 * CMD_TXCONN commands (AUTH, PUBLISH, CONFIG, CLIENT, ...) run now, on the
 * connection, through their own handlers, in order, and
 * their replies put at their places. A nil (a watched key changed) or an
 * error passes as it is: then they do not run, as in Redis. */
void srv_tx_splice(struct slot *s, const uint8_t *p, size_t n)
{
    const uint8_t *end = p + n, *q;
    long long count;
    char head[24];
    size_t hn = n < sizeof head - 1 ? n : sizeof head - 1;
    memcpy(head, p, hn);
    head[hn] = 0;
    if (s->conn == NULL || hn < 4 || p[0] != '*' || sscanf(head + 1, "%lld", &count) != 1 ||
        count < 0 || (q = memchr(p, '\n', n)) == NULL) {
        buf_append(&s->out, p, n);
        return;
    }
    q++;
    resp_array(&s->out, s->tx_total);
    unsigned next = 0;
    for (uint32_t k = 0; k < s->tx_total; k++) {
        if (next < s->ntx_conn && s->tx_conn[next].at == k) {
            struct conn_queued *cq = &s->tx_conn[next++];
            struct slot t;
            memset(&t, 0, sizeof t);
            t.srv = s->srv;
            t.conn = s->conn;
            t.cmd = cq->cmd;
            t.argc = cq->argc;
            t.argv = cq->argv;
            t.proto = s->proto;
            t.in_tx = true;
            buf_init(&t.out);
            /* Every CMD_TXCONN handler answers before it returns (the
             * table's comment): t lives on this stack. */
            cq->cmd->local(&t);
            if (!t.done) {
                log_error("%s inside EXEC did not answer at once", cq->cmd->name);
                t.out.len = 0;
                srv_reply_error(&t.out, KEEL_EINVAL, "internal: not possible inside MULTI");
            }
            if (!t.silent) buf_append(&s->out, t.out.p, t.out.len);
            else resp_null(&s->out, s->proto); /* CLIENT REPLY inside MULTI: a placeholder */
            buf_close(&t.out);
            continue;
        }
        const char *why;
        long len = resp_reply_len(q, (size_t)(end - q), &s->srv->limits, &why);
        if (len <= 0) {
            s->out.len = 0;
            srv_reply_error(&s->out, KEEL_EMALFORMED, "internal: bad transaction reply");
            return;
        }
        buf_append(&s->out, q, (size_t)len);
        q += len;
    }
}

/* EXEC forwarded to the leader: its reply, with the AUTHs spliced in. */
static void tx_forward_reply(struct slot *s, const uint8_t *p, size_t n)
{
    srv_tx_splice(s, p, n);
}

/* Move the CMD_TXCONN commands (AUTH) out of c's queue into s: they run
 * here once the batch has applied. false: out of memory. */
static bool take_conn_commands(struct slot *s, struct conn *c)
{
    unsigned n = 0;
    for (unsigned i = 0; i < c->nqueued; i++) n += (c->queue[i].cmd->flags & CMD_TXCONN) != 0;
    if (n == 0) return true;
    s->tx_conn = calloc(n, sizeof *s->tx_conn);
    if (s->tx_conn == NULL) return false;
    s->tx_total = c->nqueued;
    for (unsigned i = 0; i < c->nqueued; i++) {
        if (!(c->queue[i].cmd->flags & CMD_TXCONN)) continue;
        s->tx_conn[s->ntx_conn] = c->queue[i];
        s->tx_conn[s->ntx_conn++].at = i;
        c->queue[i].argv = NULL;
        c->queue[i].argbuf = NULL;
    }
    s->on_forward_reply = tx_forward_reply;
    return true;
}

/* EXEC: the queue becomes KEEL.TX nwatch (key version)... ncmd (argc arg...)... */
CMD_DECL_LOCAL(cmd_exec)
{
    struct conn *c = s->conn;
    if (!c->in_multi) {
        srv_reply_error(&s->out, KEEL_EINVAL, "EXEC without MULTI");
        slot_done(s);
        return;
    }
    if (c->multi_error) {
        resp_error(&s->out, "EXECABORT", "Transaction discarded because of previous errors.");
        conn_reset_multi(c);
        conn_unwatch(c);
        slot_done(s);
        return;
    }
    if (c->nqueued > KEEL_MAX_BATCH || c->nwatches > KEEL_MAX_BATCH) {
        /* Refused here, without the leader; its encoder checks again what
         * the commands expand to (an MSET is one per pair). */
        char msg[160];
        snprintf(msg, sizeof msg,
                 "Transaction discarded: %u commands and %u watched keys, over Keel's limit of %u "
                 "each in one transaction",
                 c->nqueued, c->nwatches, KEEL_MAX_BATCH);
        resp_error(&s->out, "EXECABORT", msg);
        conn_reset_multi(c);
        conn_unwatch(c);
        slot_done(s);
        return;
    }
    if (!take_conn_commands(s, c)) {
        srv_reply_error(&s->out, KEEL_ENOMEM, "out of memory");
        conn_reset_multi(c);
        conn_unwatch(c);
        slot_done(s);
        return;
    }
    uint32_t argc = 3 + 2 * c->nwatches;
    size_t bytes = 64 + c->nwatches * 24;
    for (unsigned i = 0; i < c->nwatches; i++) bytes += c->watches[i].len + 1;
    for (unsigned i = 0; i < c->nqueued; i++) {
        if (c->queue[i].argv == NULL) continue; /* taken by take_conn_commands */
        argc += 1 + c->queue[i].argc;
        bytes += 24;
        for (uint32_t j = 0; j < c->queue[i].argc; j++) bytes += c->queue[i].argv[j].n + 1;
    }
    struct keel_slice *argv = malloc(argc * sizeof *argv);
    uint8_t *buf = malloc(bytes), *p = buf;
    if (argv == NULL || buf == NULL) {
        free(argv);
        free(buf);
        srv_reply_error(&s->out, KEEL_ENOMEM, "out of memory");
        slot_done(s);
        return;
    }
    uint32_t n = 0;
#define PUT(ptr, len)                          \
    do {                                       \
        memcpy(p, (ptr), (len));               \
        p[(len)] = 0;                          \
        argv[n].p = p;                         \
        argv[n++].n = (len);                   \
        p += (len) + 1;                        \
    } while (0)
#define PUTNUM(v)                                                    \
    do {                                                             \
        char num_[24];                                               \
        int len_ = snprintf(num_, sizeof num_, "%llu", (unsigned long long)(v)); \
        PUT(num_, (size_t)len_);                                     \
    } while (0)
    PUT("KEEL.TX", 7);
    PUTNUM(c->nwatches);
    for (unsigned i = 0; i < c->nwatches; i++) {
        PUT(c->watches[i].key, c->watches[i].len);
        PUTNUM(c->watches[i].version);
    }
    PUTNUM(c->nqueued - s->ntx_conn);
    for (unsigned i = 0; i < c->nqueued; i++) {
        if (c->queue[i].argv == NULL) continue;
        PUTNUM(c->queue[i].argc);
        for (uint32_t j = 0; j < c->queue[i].argc; j++) PUT(c->queue[i].argv[j].p, c->queue[i].argv[j].n);
    }
#undef PUT
#undef PUTNUM
    free(s->argv);
    free(s->argbuf);
    s->argv = argv;
    s->argbuf = buf;
    s->argc = n;
    conn_reset_multi(c);
    conn_unwatch(c);
    s->cmd = command_lookup(&argv[0]);
    /* The queue and the watches hold stored names (db.h); the commands that
     * name no key were queued only while the queue's database was 0, and the
     * reads run by srv_tx_reader see database 0 too. */
    s->db_keyed = true;
    s->db = 0;
    if (s->srv->role == KEEL_ROLE_LEADER) srv_dispatch_write(s);
    else fwd_request(s);
}

