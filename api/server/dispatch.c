/* api: routing a request: answered here, read after a barrier, proposed as a
 * write, or forwarded to the leader; and turning store replies into RESP. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/server/auth.h"
#include "api/server/block.h"
#include "api/server/consistency.h"
#include "api/server/db.h"
#include "api/server/log.h"
#include "api/server/observe/alarm.h"
#include "api/server/pubsub/pubsub.h"
#include "api/server/server_internal.h"

int64_t srv_now(struct keel_server *srv)
{
    /* The cluster clock (raft/clock.h), never the wall clock: a stepped wall
     * clock would expire keys at once or freeze expiry (issue 12). */
    return keel_node_now(srv->node);
}

int64_t srv_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void srv_syntax_error(struct slot *s)
{
    srv_reply_error(&s->out, KEEL_EINVAL, "syntax error");
}

bool srv_arg_int(struct slot *s, uint32_t i, long long *v)
{
    int64_t x;
    if (store_parse_int(s->argv[i].p, s->argv[i].n, &x)) {
        *v = x;
        return true;
    }
    srv_reply_error(&s->out, KEEL_ENOTINT, "value is not an integer or out of range");
    return false;
}

bool srv_check_key(struct slot *s, struct keel_slice key)
{
    /* A database's stored name (db.h), made by srv_db_rewrite after the
     * client's name passed these checks, here or on the follower that
     * forwarded it. */
    if ((s->db_keyed || s->forwarded_in) && storage_key_db(key, NULL) > 0 && key.n > KEEL_MAX_KEY) {
        srv_reply_errorf(&s->out, KEEL_EINVAL, "key of %zu bytes is over Keel's limit of %d in database %d",
                         key.n - KEEL_DB_KEY_OVERHEAD, KEEL_MAX_KEY - KEEL_DB_KEY_OVERHEAD,
                         storage_key_db(key, NULL));
        return false;
    }
    if ((s->db_keyed || s->forwarded_in) && storage_key_db(key, NULL) > 0) return true;
    if (key.n > KEEL_MAX_KEY) {
        srv_reply_errorf(&s->out, KEEL_EINVAL, "key of %zu bytes is over Keel's limit of %d", key.n,
                         KEEL_MAX_KEY);
        return false;
    }
    if (key.n == 0) {
        srv_reply_error(&s->out, KEEL_EINVAL, "empty keys are not supported by Keel");
        return false;
    }
    if (syskey_is_reserved(key)) { /* see keys_allowed */
        srv_reply_error(&s->out, KEEL_EINVAL, "keys starting with \\xffkeel: are reserved");
        return false;
    }
    return true;
}

void srv_reply_error(struct buf *b, int code, const char *msg)
{
    char text[600];
    snprintf(text, sizeof text, "%s", msg != NULL && msg[0] != 0 ? msg : keel_strerror(code));
    resp_error(b, keel_errword(code), text);
}

void srv_reply_errorf(struct buf *b, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    resp_error(b, keel_errword(code), msg);
}

void srv_reply_to_resp(struct buf *b, int proto, struct keel_reply_reader *rd)
{
    struct keel_reply_item it;
    int rc = keel_reply_next(rd, &it);
    if (rc != 0) {
        srv_reply_error(b, KEEL_EMALFORMED, "internal: malformed reply");
        return;
    }
    switch (it.kind) {
        case KEEL_REPLY_NIL:
            resp_null(b, proto);
            break;
        case KEEL_REPLY_NIL_ARRAY:
            resp_null_array(b, proto);
            break;
        case KEEL_REPLY_STATUS:
            buf_append(b, "+", 1);
            buf_append(b, it.p, it.n);
            buf_append(b, "\r\n", 2);
            break;
        case KEEL_REPLY_INT:
            resp_int(b, it.integer);
            break;
        case KEEL_REPLY_BULK:
            resp_bulk(b, it.p, it.n);
            break;
        case KEEL_REPLY_RESP: /* a read in a batch, already in the client's protocol */
            buf_append(b, it.p, it.n);
            break;
        case KEEL_REPLY_ERROR: {
            char msg[512];
            size_t n = it.n < sizeof msg - 1 ? it.n : sizeof msg - 1;
            memcpy(msg, it.p, n);
            msg[n] = 0;
            srv_reply_error(b, (int)it.integer, msg);
            break;
        }
        case KEEL_REPLY_ARRAY:
            resp_array(b, (size_t)it.integer);
            for (int64_t i = 0; i < it.integer; i++) srv_reply_to_resp(b, proto, rd);
            break;
    }
}

/* The node refused a write or read at once: forward it if we are not the
 * leader, else answer the error. */
static void refused(struct slot *s, int rc)
{
    if (rc == KEEL_ENOTLEADER) {
        fwd_request(s);
        return;
    }
    srv_reply_error(&s->out, rc, NULL);
    slot_done(s);
}

/* ---- writes ------------------------------------------------------------ */

static void serial_release(struct slot *s);

/* A write's place in the log is fixed when it is proposed, unless it may be
 * built again after it applied (CMD_SERIAL's BUSY, EXEC's KEEL.TX, a
 * blocking pop that waits and pops later) or is a local command proposing
 * on its own schedule: those hold their connection until they are
 * answered, as Redis's blocked client holds its own. */
bool placed_when_proposed(const struct slot *s)
{
    return s->cmd != NULL && (s->cmd->flags & CMD_WRITE) &&
           !(s->cmd->flags & (CMD_SERIAL | CMD_LOCAL | CMD_INTERNAL | CMD_BLOCKING));
}

static void write_done_cb(void *data, int status, const struct keel_reply *reply)
{
    struct slot *s = data;
    struct keel_server *srv = s->srv;
    srv->inflight--;
    if (s->conn != NULL) {
        if (status == 0) {
            struct keel_reply_reader rd;
            keel_reply_reader_init(&rd, reply);
            s->out.len = 0;
            if (s->cmd->reply != NULL) s->cmd->reply(s, &rd, 1);
            else srv_reply_to_resp(&s->out, s->proto, &rd);
            if (s->block_wait) { /* a blocking pop found nothing: it waits (block.c) */
                block_wait(s);
                srv_unpark(srv);
                return;
            }
            if (s->redo) { /* the hook wants it built again from the new state */
                s->redo = false;
                s->out.len = 0;
                srv_dispatch_write(s);
                srv_unpark(srv);
                return;
            }
        } else {
            srv_reply_error(&s->out, KEEL_EUNCERTAIN,
                            "leadership changed before the write was confirmed: it may or may not "
                            "have been applied; retry with the same client id and sequence");
        }
    }
    serial_release(s);
    slot_done(s);
    srv_unpark(srv);
}

/* ---- CMD_SERIAL: one at a time ----------------------------------------- */

/* INCRBYFLOAT's result is computed on the leader from its applied state and
 * tied to the key's version (codec.h, SETFLOAT). Pipelined ones would all
 * read the same state and all but one fail, so they go one at a time: the
 * next is encoded once the previous has applied. */
static void serial_drain(struct keel_server *srv)
{
    if (srv->serial_draining) return; /* a dispatch below finished at once */
    srv->serial_draining = true;
    while (!srv->serial_busy && srv->serial_head != NULL) {
        struct slot *s = srv->serial_head;
        srv->serial_head = s->serial_next;
        if (srv->serial_head == NULL) srv->serial_tail = NULL;
        s->serial_next = NULL;
        if (s->conn == NULL) { /* the client went away while it waited */
            slot_free(s);
            continue;
        }
        srv->serial_busy = true;
        s->serial_held = true;
        srv_dispatch_write(s);
    }
    srv->serial_draining = false;
}

static void serial_release(struct slot *s)
{
    if (!s->serial_held) return;
    s->serial_held = false;
    s->srv->serial_busy = false;
    serial_drain(s->srv);
}

static void serial_enqueue(struct slot *s)
{
    struct keel_server *srv = s->srv;
    if (srv->serial_tail != NULL) srv->serial_tail->serial_next = s;
    else srv->serial_head = s;
    srv->serial_tail = s;
    serial_drain(srv);
}

void srv_dispatch_write(struct slot *s)
{
    struct keel_server *srv = s->srv;
    struct keel_enc e;
    uint8_t *buf;
    size_t len;
    /* The leader's cluster clock is never behind the replicated clock (it
     * starts from it and follows every entry applied); the max here only
     * restates that a stamp behind it would make a SET PX born expired. */
    struct keel_read rd;
    s->now = srv_now(srv);
    if (keel_read_begin(srv->store, s->now, &rd) == 0) {
        s->now = rd.now;
        keel_read_end(&rd);
    }
    keel_enc_init(&e, s->now, s->client, s->seq);
    int n = s->cmd->encode(s, &e);
    if (n < 0) {
        keel_enc_close(&e);
        serial_release(s);
        slot_done(s); /* the encoder wrote the error */
        return;
    }
    if (block_park_first(s)) { /* nothing to pop: wait without a log entry */
        keel_enc_close(&e);
        block_wait(s);
        return;
    }
    int rc = keel_enc_finish(&e, &buf, &len);
    keel_enc_close(&e);
    if (rc != 0) {
        srv_reply_error(&s->out, rc, rc == KEEL_ETOOBIG ? "request too large" : NULL);
        serial_release(s);
        slot_done(s);
        return;
    }
    if (srv->role == KEEL_ROLE_LEADER && (consistency_refuses(s) || alarm_refuses_write(s, len))) {
        free(buf);
        serial_release(s);
        slot_done(s); /* -TRYAGAIN or -OOM written */
        return;
    }
    rc = keel_node_write(srv->node, buf, len, write_done_cb, s);
    free(buf);
    if (rc != 0) {
        serial_release(s);
        refused(s, rc);
        return;
    }
    srv->inflight++;
    if (placed_when_proposed(s)) srv_slot_placed(s);
}

/* ---- reads ------------------------------------------------------------- */

static void run_read(struct slot *s)
{
    struct keel_read rd;
    int rc = keel_read_begin(s->srv->store, s->now ? s->now : srv_now(s->srv), &rd);
    if (rc == 0) {
        rc = s->cmd->read(s, &rd);
        /* Redis counts the lookups of read commands only. */
        s->srv->stats.keyspace_hits += rd.hits;
        s->srv->stats.keyspace_misses += rd.misses;
        keel_read_end(&rd);
    }
    if (rc != 0) {
        s->out.len = 0;
        srv_reply_error(&s->out, rc, NULL);
    }
    slot_done(s);
}

static void read_ready_cb(void *data, int status)
{
    struct slot *s = data;
    if (s->conn == NULL) {
        slot_free(s);
        return;
    }
    if (status != 0) fwd_request(s); /* lost leadership meanwhile */
    else if (consistency_refuses(s)) slot_done(s); /* a damaged leader: -TRYAGAIN */
    else run_read(s);
}

void srv_dispatch_read(struct slot *s)
{
    s->now = srv_now(s->srv); /* a follower's READONLY read: its estimate of the cluster clock */
    if (s->readonly) {
        /* The connection accepted stale reads, not known-wrong ones. */
        if (consistency_refuses(s)) slot_done(s);
        else run_read(s);
        return;
    }
    int rc = keel_node_read(s->srv->node, read_ready_cb, s);
    if (rc != 0) refused(s, rc);
}

/* ---- routing ----------------------------------------------------------- */

static bool arity_ok(const struct command *cmd, uint32_t argc)
{
    return cmd->arity >= 0 ? argc == (uint32_t)cmd->arity : argc >= (uint32_t)-cmd->arity;
}

/* No client command may name a reserved key, reads included: the node
 * table and the forwarding token live there. The nodes write them with
 * their own proposals, never through a client command. */
static bool keys_allowed(struct slot *s)
{
    struct srv_keys k; /* the numkeys commands' keys too (db.h) */
    if (!srv_cmd_keys(s->cmd, s->argv, s->argc, &k)) return true;
    for (uint32_t i = 1; i < s->argc; i++) {
        if (!srv_cmd_key_at(&k, i)) continue;
        /* A follower forwards the stored names of its client's database. */
        if (s->forwarded_in && storage_key_db(s->argv[i], NULL) > 0) continue;
        if (syskey_is_reserved(s->argv[i])) {
            srv_reply_error(&s->out, KEEL_EINVAL, "keys starting with \\xffkeel: are reserved");
            return false;
        }
    }
    return true;
}

void srv_dispatch(struct slot *s)
{
    struct conn *c = s->conn;
    const struct command *cmd = command_lookup(&s->argv[0]);
    char name[64];
    if (cmd == NULL || ((cmd->flags & CMD_INTERNAL) && !s->forwarded_in)) {
        /* Redis's wording, which clients and tools match on. */
        char args[160];
        size_t n = 0;
        args[0] = 0;
        for (uint32_t i = 1; i < s->argc && n < 128; i++) {
            size_t len = s->argv[i].n < 128 - n ? s->argv[i].n : 128 - n;
            int w = snprintf(args + n, sizeof args - n, "'%.*s' ", (int)len, (const char *)s->argv[i].p);
            if (w < 0) break;
            n += (size_t)w < sizeof args - n ? (size_t)w : sizeof args - n - 1;
        }
        srv_reply_errorf(&s->out, KEEL_EINVAL, "unknown command '%s', with args beginning with: %s",
                         slot_arg(s, 0, name, sizeof name), args);
        if (c != NULL && c->in_multi) c->multi_error = true;
        slot_done(s);
        return;
    }
    s->cmd = cmd;
    s->executed = false; /* KEEL.FWD ran; what it carries has not yet */
    if (!s->forwarded_in && c != NULL) s->db = c->db;
    if (!arity_ok(cmd, s->argc)) {
        srv_reply_errorf(&s->out, KEEL_EINVAL, "wrong number of arguments for '%s' command", cmd->name);
        if (c != NULL && c->in_multi) c->multi_error = true;
        slot_done(s);
        return;
    }
    if (!auth_gate(s)) {
        if (c != NULL && c->in_multi) c->multi_error = true;
        slot_done(s);
        return;
    }
    if (c != NULL && c->proto < 3 && c->ps != NULL && pubsub_count(c) > 0 &&
        !(cmd->flags & CMD_PUBSUB)) {
        /* RESP2 cannot tell a message from a reply: Redis's rule and text. */
        srv_reply_errorf(&s->out, KEEL_EINVAL,
                         "Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
                         "RESET are allowed in this context",
                         cmd->name);
        slot_done(s);
        return;
    }
    if (!keys_allowed(s)) {
        if (c != NULL && c->in_multi) c->multi_error = true;
        slot_done(s);
        return;
    }
    if (c != NULL && c->in_multi && !(cmd->flags & CMD_NOMULTI)) {
        if (!(cmd->flags & (CMD_WRITE | CMD_TXCONN)) && cmd->read == NULL) {
            srv_reply_errorf(&s->out, KEEL_EINVAL,
                             "'%s' inside MULTI is not supported by Keel (writes, reads and "
                             "the connection's own commands are)",
                             cmd->name);
            c->multi_error = true;
            slot_done(s);
            return;
        }
        if (c->nqueued == c->queue_cap) {
            /* Doubling: growing by one copied the whole queue per command,
             * seconds of a stalled loop for a 10,000-command MULTI. */
            unsigned cap = c->queue_cap ? 2 * c->queue_cap : 16;
            struct conn_queued *q = realloc(c->queue, cap * sizeof *q);
            if (q == NULL) {
                srv_reply_error(&s->out, KEEL_ENOMEM, "out of memory");
                c->multi_error = true;
                slot_done(s);
                return;
            }
            c->queue = q;
            c->queue_cap = cap;
        }
        /* Queued with the database the SELECTs before it chose (db.h). */
        if (c->multi_db != 0 && srv_db_keyless(cmd)) {
            srv_reply_errorf(&s->out, KEEL_EINVAL,
                             "'%s' inside MULTI in a database other than 0 is not supported by Keel",
                             cmd->name);
            c->multi_error = true;
            slot_done(s);
            return;
        }
        if (!srv_db_rewrite_argv(cmd, c->multi_db, &s->argv, &s->argbuf, s->argc)) {
            srv_reply_error(&s->out, KEEL_ENOMEM, "out of memory");
            c->multi_error = true;
            slot_done(s);
            return;
        }
        if (strcmp(cmd->name, "select") == 0) {
            int64_t db;
            if (store_parse_int(s->argv[1].p, s->argv[1].n, &db) && db >= 0 &&
                db < (int64_t)s->srv->cfg.databases)
                c->multi_db = (uint8_t)db;
        }
        struct conn_queued *q = c->queue + c->nqueued++;
        q->cmd = cmd;
        q->argc = s->argc;
        q->argv = s->argv;
        q->argbuf = s->argbuf;
        s->argv = NULL;
        s->argbuf = NULL;
        s->argc = 0;
        resp_simple(&s->out, "QUEUED");
        slot_done(s);
        return;
    }
    s->executed = true;
    if (s->forwarded_in) s->db_keyed = true; /* the follower rewrote them */
    if (!(cmd->flags & CMD_LOCAL) && !srv_db_rewrite(s)) {
        slot_done(s);
        return;
    }
    if (cmd->flags & CMD_LOCAL) {
        cmd->local(s);
        return;
    }
    if (s->forwarded_in || s->srv->role == KEEL_ROLE_LEADER || s->readonly) {
        if (cmd->flags & CMD_READ) srv_dispatch_read(s);
        else if (cmd->flags & CMD_SERIAL) serial_enqueue(s);
        else srv_dispatch_write(s);
        return;
    }
    fwd_request(s);
}
