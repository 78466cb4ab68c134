/* api: client connections: reading, parsing, keeping replies in request
 * order, writing, back-pressure and closing. A connection from the TLS port
 * reads and writes through conn_tls.c; everything above is the same. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/server/auth.h"
#include "api/server/block.h"
#include "api/server/conn_tls.h"
#include "api/server/log.h"
#include "api/server/observe/observe.h"
#include "api/server/pubsub/pubsub.h"
#include "api/server/server_internal.h"

#define READ_CHUNK 65536

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void got(struct conn *c, ssize_t nread);

/* ---- slots ------------------------------------------------------------- */

struct slot *slot_new(struct keel_server *srv, struct conn *c, const struct keel_slice *argv,
                      uint32_t argc)
{
    size_t bytes = 0;
    for (uint32_t i = 0; i < argc; i++) bytes += argv[i].n + 1;
    struct slot *s = calloc(1, sizeof *s);
    if (s == NULL) return NULL;
    s->argv = malloc((argc ? argc : 1) * sizeof *s->argv);
    s->argbuf = malloc(bytes ? bytes : 1);
    if (s->argv == NULL || s->argbuf == NULL) {
        free(s->argv);
        free(s->argbuf);
        free(s);
        return NULL;
    }
    uint8_t *p = s->argbuf;
    for (uint32_t i = 0; i < argc; i++) {
        memcpy(p, argv[i].p, argv[i].n);
        p[argv[i].n] = 0; /* NUL-terminated for convenience */
        s->argv[i].p = p;
        s->argv[i].n = argv[i].n;
        p += argv[i].n + 1;
    }
    s->argc = argc;
    s->conn = c;
    s->internal = c == NULL;
    s->srv = srv;
    s->proto = c ? c->proto : 2;
    s->readonly = c ? c->readonly || srv->cfg.unsafe_local_reads : false;
    buf_init(&s->out);
    return s;
}

void slot_free(struct slot *s)
{
    block_forget(s);
    buf_close(&s->out);
    free(s->subs);
    for (unsigned i = 0; i < s->ntx_conn; i++) {
        free(s->tx_conn[i].argv);
        free(s->tx_conn[i].argbuf);
    }
    free(s->tx_conn);
    free(s->argv);
    free(s->argbuf);
    free(s);
}

struct conn *srv_slot_place(struct slot *s)
{
    struct conn *c = s->conn;
    if (!s->ordered || c == NULL) return NULL;
    s->ordered = false;
    c->unplaced--;
    if (!s->plain_read) c->unplaced_nonread--;
    return c->order_held && !c->processing ? c : NULL;
}

void srv_slot_placed(struct slot *s)
{
    struct conn *c = srv_slot_place(s);
    if (c != NULL) conn_order_resume(c);
}

void slot_done(struct slot *s)
{
    block_forget(s); /* answered: no longer waiting, nor forwarded */
    obs_command_done(s);
    s->done = true;
    if (s->conn == NULL) {
        if (s->internal && s->on_internal_done != NULL) s->on_internal_done(s);
        slot_free(s); /* nobody is waiting for it any more */
        return;
    }
    if (s->out.oom) {
        s->out.len = 0;
        s->out.oom = false;
        srv_reply_error(&s->out, KEEL_ENOMEM, "out of memory building the reply");
    }
    struct conn *c = s->conn;
    bool resume = srv_slot_place(s) != NULL;
    conn_flush(c); /* may free s */
    if (resume) conn_order_resume(c);
}

const char *slot_arg(const struct slot *s, uint32_t i, char *buf, size_t size)
{
    size_t n = s->argv[i].n < size - 1 ? s->argv[i].n : size - 1;
    memcpy(buf, s->argv[i].p, n);
    buf[n] = 0;
    return buf;
}

bool slot_arg_is(const struct slot *s, uint32_t i, const char *word)
{
    return i < s->argc && strlen(word) == s->argv[i].n &&
           strncasecmp((const char *)s->argv[i].p, word, s->argv[i].n) == 0;
}

/* ---- reading ----------------------------------------------------------- */

/* Room to read into, at the end of c->in (len 0: out of memory). */
static void room(struct conn *c, uv_buf_t *buf)
{
    size_t want = c->in_len + READ_CHUNK;
    if (c->need > want) {
        /* A large bulk: grow towards it by doubling, so that a header that
         * merely claims 64 MiB costs nothing until the bytes come. */
        want = c->need < 2 * c->in_cap ? c->need : 2 * c->in_cap;
        if (want < c->in_len + READ_CHUNK) want = c->in_len + READ_CHUNK;
    }
    if (want > c->in_cap) {
        uint8_t *in = realloc(c->in, want);
        if (in == NULL) {
            buf->base = NULL;
            buf->len = 0;
            return;
        }
        c->in = in;
        c->in_cap = want;
    }
    buf->base = (char *)c->in + c->in_len;
    buf->len = c->in_cap - c->in_len;
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    room(h->data, buf);
}

/* ---- the TLS port: conn_tls.c between the socket and us ---------------- */

static void tls_alloc(void *owner, uv_buf_t *buf)
{
    room(owner, buf);
}

static void tls_read(void *owner, ssize_t n)
{
    struct conn *c = owner;
    if (n < 0 && !c->closing) srv_tls_ended(c);
    got(c, n);
}

static void tls_handshake(void *owner)
{
    srv_tls_handshaken(owner);
}

static const struct conn_tls_cbs tls_cbs = {tls_alloc, tls_read, tls_handshake};

static int read_start(struct conn *c)
{
    /* Marked first: conn_tls_read_start hands over buffered plaintext from
     * inside the call, and process() may then stop reading again. */
    c->reading = true;
    int rc = c->tls ? conn_tls_read_start(c->tls) : uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
    if (rc != 0) c->reading = false;
    return rc;
}

static bool may_read(struct conn *c)
{
    struct keel_server *srv = c->srv;
    return !c->closing && !c->quit && !c->parked && !c->order_held && !srv->stopping &&
           c->pending < srv->cfg.max_pipeline && c->out_bytes < srv->cfg.max_output;
}

static void read_stop(struct conn *c)
{
    if (c->reading) {
        if (c->tls) conn_tls_read_stop(c->tls);
        else uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
        c->srv->stats.reads_paused++;
    }
}

/* Queue s in the connection's reply order, then run it. */
static void start(struct conn *c, struct slot *s)
{
    if (c->tail) c->tail->next = s;
    else c->head = s;
    c->tail = s;
    c->pending++;
    c->commands++;
    c->srv->stats.commands++;
    s->started_ns = uv_hrtime();
    srv_dispatch(s);
}

/* Whether the parsed request may run now, given what of this connection
 * is still unplaced (server_internal.h, conn.unplaced). Redis runs a
 * connection's commands one after the other; Keel overlaps them only where
 * the outcome is the same: after a write is proposed (the log orders what
 * follows), and reads beside reads. A read waiting for its barrier, or
 * forwarded, must not be overtaken by the next write: it would see it. */
static bool may_run(struct conn *c, const struct command *cmd, bool *counted, bool *plain_read)
{
    *counted = !(c->member || c->member_id != 0 || (cmd != NULL && (cmd->flags & CMD_TOKEN)));
    *plain_read = cmd != NULL && (cmd->flags & CMD_READ) && !c->in_multi;
    if (!*counted || c->unplaced == 0) return true;
    return *plain_read && c->unplaced_nonread == 0;
}

/* Parse and run what is buffered, as far as the limits allow. */
static void process(struct conn *c)
{
    struct keel_server *srv = c->srv;
    size_t off = 0;
    c->processing = true;
    c->order_held = false;
    /* A stopping server parses nothing more: what is buffered was never
     * run, and the connection closes once its replies are written. */
    while (off < c->in_len && !c->closing && !c->quit && !srv->stopping) {
        if (c->pending >= srv->cfg.max_pipeline || c->out_bytes >= srv->cfg.max_output) break;
        if (srv->inflight >= srv->cfg.max_inflight) {
            /* Park until writes drain; reads and local commands would be
             * fine, but order must hold, so the connection waits whole. */
            c->parked = true;
            srv->stats.rejected_busy++;
            break;
        }
        size_t used = 0, need = 0;
        const char *err = NULL;
        int rc = resp_parse_request(c->in + off, c->in_len - off, &srv->limits, &c->req, &used,
                                    &need, &err);
        if (rc == RESP_MORE) {
            c->need = need;
            break;
        }
        if (rc != RESP_DONE) {
            /* Reply first, then close: Redis's behaviour on protocol errors. */
            struct keel_slice none = {NULL, 0};
            struct slot *s = slot_new(c->srv, c, &none, 0);
            srv->stats.protocol_errors++;
            if (s != NULL) {
                srv_reply_errorf(&s->out, KEEL_EINVAL, "Protocol error: %s",
                                 rc == RESP_ENOMEM ? "out of memory" : err);
                if (c->tail) c->tail->next = s;
                else c->head = s;
                c->tail = s;
                c->pending++;
                slot_done(s);
            }
            log_debug("client %llu (%s): protocol error: %s", (unsigned long long)c->id, c->peer,
                      err ? err : "out of memory");
            c->quit = true;
            off = c->in_len;
            break;
        }
        c->need = 0;
        if (c->req.argc == 0) {
            off += used;
            continue; /* empty line or "*0" */
        }
        bool counted, plain_read;
        if (!may_run(c, command_lookup(&c->req.argv[0]), &counted, &plain_read)) {
            c->order_held = true; /* parsed again once the others are placed */
            break;
        }
        off += used;
        struct slot *s = slot_new(c->srv, c, c->req.argv, c->req.argc);
        if (s == NULL) {
            c->quit = true;
            break;
        }
        if (counted) {
            s->ordered = true;
            s->plain_read = plain_read;
            c->unplaced++;
            if (!plain_read) c->unplaced_nonread++;
        }
        /* CLIENT REPLY OFF, or SKIP for this one command (cmd_client). */
        s->silent = c->reply_mode != CONN_REPLY_ON;
        if (c->reply_mode == CONN_REPLY_SKIP) c->reply_mode = CONN_REPLY_ON;
        start(c, s);
    }
    if (off > 0) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    if (c->in_cap > 4 * READ_CHUNK && c->in_len < READ_CHUNK && c->need < READ_CHUNK) {
        /* Give back what a big request left behind. */
        uint8_t *in = realloc(c->in, READ_CHUNK);
        if (in != NULL) {
            c->in = in;
            c->in_cap = READ_CHUNK;
        }
    }
    c->processing = false;
    if (!may_read(c)) read_stop(c);
    if (c->quit) conn_flush(c);
}

void conn_order_resume(struct conn *c)
{
    if (c->closing || c->unplaced_nonread > 0) return; /* nothing may pass those */
    c->order_held = false;
    if (c->in_len > 0 && (c->need == 0 || c->in_len >= c->need)) process(c);
    if (may_read(c) && !c->reading) read_start(c);
}

void conn_quiesce(struct conn *c)
{
    read_stop(c);
}

void conn_resume(struct conn *c)
{
    if (c->closing) return;
    c->parked = false;
    if (c->in_len > 0 && (c->need == 0 || c->in_len >= c->need)) process(c);
    if (may_read(c) && !c->reading) read_start(c);
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    got(stream->data, nread);
}

/* nread bytes were read into room(); < 0: the peer is gone. */
static void got(struct conn *c, ssize_t nread)
{
    if (nread < 0) {
        conn_close(c); /* EOF or error: what is pending is dropped */
        return;
    }
    if (nread == 0) return;
    c->in_len += (size_t)nread;
    c->srv->stats.bytes_in += (uint64_t)nread;
    c->last_active = uv_now(c->srv->loop);
    if (c->need > 0 && c->in_len < c->need) return; /* wait for the rest */
    process(c);
}

/* ---- writing ----------------------------------------------------------- */

static void written(struct conn *c, int status)
{
    c->writing = false;
    c->out_bytes -= c->wbuf.len;
    c->srv->stats.bytes_out += c->wbuf.len;
    c->wbuf.len = 0;
    if (status < 0) {
        conn_close(c);
        return;
    }
    conn_flush(c);
    if (!c->closing) conn_resume(c);
}

static void write_cb(uv_write_t *req, int status)
{
    written(req->data, status);
}

static void tls_written(void *owner, int status)
{
    written(owner, status);
}

void conn_flush(struct conn *c)
{
    if (c->closing) return;
    /* Move every finished reply at the head into the write buffer. */
    while (c->head != NULL && c->head->done && !c->writing) {
        struct slot *s = c->head;
        c->head = s->next;
        if (c->head == NULL) c->tail = NULL;
        c->pending--;
        /* Pub/sub messages and (un)subscribe confirmations are written
         * whatever CLIENT REPLY says, as Redis's CLIENT_PUSHING does. */
        bool drop = s->silent && !s->push && !(s->cmd != NULL && strstr(s->cmd->name, "subscribe") != NULL);
        if (!drop) {
            buf_append(&c->wbuf, s->out.p, s->out.len);
            c->out_bytes += s->out.len;
        }
        if (s->push) c->push_bytes -= s->out.len;
        slot_free(s);
    }
    if (c->wbuf.oom) {
        conn_close(c);
        return;
    }
    if (!c->writing && c->wbuf.len > 0) {
        uv_buf_t b = uv_buf_init((char *)c->wbuf.p, (unsigned)c->wbuf.len);
        c->wreq.data = c;
        int rc = c->tls ? conn_tls_write(c->tls, b.base, b.len, tls_written)
                        : uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, write_cb);
        if (rc != 0) {
            conn_close(c);
            return;
        }
        c->writing = true;
        return;
    }
    if (!c->writing && c->quit && c->head == NULL) conn_close(c);
}

/* ---- accepting and closing --------------------------------------------- */

static void close_cb(uv_handle_t *h)
{
    /* Not h->data: on a TLS connection that is conn_tls.c's. */
    struct conn *c = (struct conn *)((char *)h - offsetof(struct conn, tcp));
    conn_tls_free(c->tls);
    resp_request_close(&c->req);
    auth_conn_free(c);
    buf_close(&c->wbuf);
    free(c->in);
    free(c);
}

void conn_reset_multi(struct conn *c)
{
    for (unsigned i = 0; i < c->nqueued; i++) {
        free(c->queue[i].argv);
        free(c->queue[i].argbuf);
    }
    free(c->queue);
    c->queue = NULL;
    c->nqueued = 0;
    c->queue_cap = 0;
    c->in_multi = false;
    c->multi_error = false;
}

void conn_unwatch(struct conn *c)
{
    for (unsigned i = 0; i < c->nwatches; i++) free(c->watches[i].key);
    free(c->watches);
    c->watches = NULL;
    c->nwatches = 0;
}

void conn_close(struct conn *c)
{
    struct keel_server *srv = c->srv;
    if (c->closing) return;
    c->closing = true;
    if (c->tls_handshaking) {
        c->tls_handshaking = false;
        srv->tls_handshaking--;
    }
    /* Pending requests finish without us: their replies are dropped. */
    for (struct slot *s = c->head; s != NULL;) {
        struct slot *next = s->next;
        if (s->done) {
            slot_free(s);
        } else {
            s->conn = NULL;
            block_conn_gone(s); /* a blocked one ends now (may free s) */
        }
        s = next;
    }
    c->head = c->tail = NULL;
    conn_reset_multi(c);
    conn_unwatch(c);
    pubsub_conn_close(c);
    if (c->prev) c->prev->next = c->next;
    else srv->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    srv->nconns--;
    srv->stats.connections = srv->nconns;
    uv_close((uv_handle_t *)&c->tcp, close_cb);
}

static void conn_link(struct conn *c)
{
    struct keel_server *srv = c->srv;
    c->id = ++srv->next_conn_id;
    c->last_active = c->accepted_at = uv_now(srv->loop);
    resp_request_init(&c->req);
    buf_init(&c->wbuf);
    c->next = srv->conns;
    if (srv->conns) srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
    srv->stats.connections = srv->nconns;
    srv->stats.connections_total++;
}

void conn_adopt_member(struct keel_server *srv, uint64_t peer_id, int fd)
{
    struct conn *c = calloc(1, sizeof *c);
    if (c == NULL || srv->stopping || srv->listener_closed) {
        free(c);
        close(fd);
        return;
    }
    c->srv = srv;
    c->proto = 2;
    c->member_id = peer_id;
    c->member = true; /* never counted, timed out or evicted as a client (auth_limit.c) */
    uv_pipe_init(srv->loop, &c->pipe, 0);
    c->pipe.data = c;
    if (uv_pipe_open(&c->pipe, fd) != 0) {
        close(fd);
        uv_close((uv_handle_t *)&c->pipe, close_cb);
        return;
    }
    snprintf(c->peer, sizeof c->peer, "member %llu", (unsigned long long)peer_id);
    conn_link(c);
    conn_resume(c);
}

void conn_accept(struct keel_server *srv, uv_stream_t *listener, struct keel_tls_ctx *tls)
{
    struct conn *c = calloc(1, sizeof *c);
    if (c == NULL) return;
    c->srv = srv;
    c->proto = 2;
    uv_tcp_init(srv->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, close_cb);
        return;
    }
    if (tls != NULL && (c->tls = conn_tls_new(tls, &c->tcp, true, &tls_cbs, c)) == NULL) {
        uv_close((uv_handle_t *)&c->tcp, close_cb);
        return;
    }
    struct sockaddr_storage ss = {.ss_family = AF_UNSPEC};
    int len = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) c->peer_addr = ss;
    if (ss.ss_family == AF_INET) {
        char ip[32];
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        uv_ip4_name(in, ip, sizeof ip);
        snprintf(c->peer, sizeof c->peer, "%s:%u", ip, ntohs(in->sin_port));
    }
    uv_tcp_nodelay(&c->tcp, 1);
    conn_link(c);
    bool full = srv->nconns > srv->cfg.max_clients;
    if (full) srv->stats.rejected_maxclients++;
    if (full || !auth_limit_accept(c)) {
        /* Like Redis: say why, then close; a TLS client cannot be told
         * before its handshake, which the limit is there to spare. */
        if (c->tls != NULL) {
            conn_close(c);
            return;
        }
        struct keel_slice none = {NULL, 0};
        struct slot *s = slot_new(c->srv, c, &none, 0);
        if (s != NULL) {
            if (full) srv_reply_error(&s->out, KEEL_EINVAL, "max number of clients reached");
            else srv_reply_error(&s->out, KEEL_EINVAL, "max number of clients reached for user 'default'");
            c->head = c->tail = s;
            c->pending = 1;
            c->quit = true;
            slot_done(s);
        } else {
            conn_close(c);
        }
        return;
    }
    if (c->tls != NULL) {
        c->tls_handshaking = true;
        srv->tls_handshaking++;
    }
    conn_resume(c);
}
