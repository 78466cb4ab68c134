/* api: forwarding a follower's writes and linearizable reads to the leader,
 * over one internal connection, replies relayed in order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/log.h"
#include "api/server_internal.h"

enum { FWD_IDLE, FWD_CONNECTING, FWD_CONNECTED, FWD_CLOSING };

struct forwarder
{
    struct keel_server *srv;
    uv_tcp_t tcp;
    uv_connect_t creq;
    int state;
    char addr[64];
    struct slot *sent_head;   /* written, waiting for replies, in order */
    struct slot *sent_tail;
    struct slot *queue_head;  /* waiting for the connection */
    struct slot *queue_tail;
    uint8_t *in;
    size_t in_len;
    size_t in_cap;
    char token[40];           /* the cluster's forwarding token */
    struct resp_buf out;      /* to write */
    struct resp_buf flight;   /* being written */
    uv_write_t wreq;
    bool writing;
    bool destroy;             /* free once closed */
};

/* A value of the replicated node table, as a string. */
static int node_table_get(struct keel_server *srv, const char *key, char *addr, size_t size)
{
    struct keel_read rd;
    struct keel_record rec;
    int rc = keel_read_begin(srv->store, 0, &rd);
    if (rc != 0) return rc;
    rc = keel_read_get(&rd, keel_str(key), &rec);
    if (rc == 0) {
        size_t n = rec.len < size - 1 ? rec.len : size - 1;
        memcpy(addr, rec.val, n);
        addr[n] = 0;
    }
    keel_read_end(&rd);
    return rc;
}

int node_client_addr(struct keel_server *srv, uint64_t id, char *addr, size_t size)
{
    char key[64];
    if (id == srv->cfg.node_id) {
        snprintf(addr, size, "%s", srv->client_addr);
        return 0;
    }
    syskey_node(id, key, sizeof key);
    return node_table_get(srv, key, addr, size);
}

int node_zone(struct keel_server *srv, uint64_t id, char *zone, size_t size)
{
    char key[64];
    zone[0] = 0;
    syskey_zone(id, key, sizeof key);
    return node_table_get(srv, key, zone, size);
}

int leader_client_addr(struct keel_server *srv, char *addr, size_t size)
{
    struct keel_node_status st;
    keel_node_status(srv->node, &st);
    if (st.leader_id == 0) return KEEL_ENOTFOUND;
    return node_client_addr(srv, st.leader_id, addr, size);
}

static void fail_list(struct slot *s, bool sent)
{
    while (s != NULL) {
        struct slot *next = s->fwd_next;
        s->fwd_next = NULL;
        if (s->conn != NULL) {
            s->out.len = 0;
            if (sent && (s->cmd->flags & CMD_WRITE))
                resp_error(&s->out, "UNCERTAIN",
                           "lost the connection to the leader after forwarding the write: it "
                           "may or may not have been applied");
            else
                resp_error(&s->out, "TRYAGAIN", "lost the connection to the leader");
        }
        slot_done(s);
        s = next;
    }
}

static void fwd_free(struct forwarder *f);

static void fwd_close_cb(uv_handle_t *h)
{
    struct forwarder *f = h->data;
    f->state = FWD_IDLE;
    f->in_len = 0;
    if (f->destroy) fwd_free(f);
}

static void fwd_reset(struct forwarder *f, const char *why)
{
    if (f->state == FWD_IDLE || f->state == FWD_CLOSING) return;
    log_info("forwarding connection to %s closed: %s", f->addr, why);
    f->state = FWD_CLOSING;
    struct slot *sent = f->sent_head, *queued = f->queue_head;
    f->sent_head = f->sent_tail = f->queue_head = f->queue_tail = NULL;
    f->out.len = 0;
    fail_list(sent, true);
    fail_list(queued, false);
    uv_close((uv_handle_t *)&f->tcp, fwd_close_cb);
}

static void fwd_write_cb(uv_write_t *req, int status);

/* Write what has accumulated, if no write is in flight. */
static void fwd_kick(struct forwarder *f)
{
    if (f->writing || f->out.len == 0 || f->state != FWD_CONNECTED) return;
    struct resp_buf tmp = f->flight;
    f->flight = f->out;
    f->out = tmp;
    f->out.len = 0;
    uv_buf_t b = uv_buf_init((char *)f->flight.p, (unsigned)f->flight.len);
    f->wreq.data = f;
    if (uv_write(&f->wreq, (uv_stream_t *)&f->tcp, &b, 1, fwd_write_cb) == 0) f->writing = true;
    else fwd_reset(f, "write failed");
}

static void fwd_write_cb(uv_write_t *req, int status)
{
    struct forwarder *f = req->data;
    f->writing = false;
    f->flight.len = 0;
    if (status < 0) {
        fwd_reset(f, uv_strerror(status));
        return;
    }
    fwd_kick(f);
}

/* Serialise s as KEEL.FWD <token> <proto> <client> <seq> <argv...>. */
static void fwd_send(struct forwarder *f, struct slot *s)
{
    char num[32];
    resp_array(&f->out, s->argc + 5);
    resp_bulk_str(&f->out, "KEEL.FWD");
    resp_bulk_str(&f->out, f->token);
    snprintf(num, sizeof num, "%d", s->proto);
    resp_bulk_str(&f->out, num);
    snprintf(num, sizeof num, "%llu", (unsigned long long)s->client);
    resp_bulk_str(&f->out, num);
    snprintf(num, sizeof num, "%llu", (unsigned long long)s->seq);
    resp_bulk_str(&f->out, num);
    for (uint32_t i = 0; i < s->argc; i++) resp_bulk(&f->out, s->argv[i].p, s->argv[i].n);
    s->sent = true;
    if (f->sent_tail) f->sent_tail->fwd_next = s;
    else f->sent_head = s;
    f->sent_tail = s;
    f->srv->stats.forwarded++;
}

static void fwd_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct forwarder *f = h->data;
    (void)hint;
    if (f->in_cap - f->in_len < 65536) {
        size_t cap = f->in_cap ? f->in_cap * 2 : 131072;
        uint8_t *in = realloc(f->in, cap);
        if (in == NULL) {
            buf->base = NULL;
            buf->len = 0;
            return;
        }
        f->in = in;
        f->in_cap = cap;
    }
    buf->base = (char *)f->in + f->in_len;
    buf->len = f->in_cap - f->in_len;
}

static void fwd_read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct forwarder *f = stream->data;
    (void)buf;
    if (nread < 0) {
        fwd_reset(f, nread == UV_EOF ? "closed by the leader" : uv_strerror((int)nread));
        return;
    }
    f->in_len += (size_t)nread;
    size_t off = 0;
    while (off < f->in_len) {
        const char *err;
        long n = resp_reply_len(f->in + off, f->in_len - off, &f->srv->limits, &err);
        if (n == 0) break;
        if (n < 0 || f->sent_head == NULL) {
            fwd_reset(f, n < 0 ? err : "reply nobody asked for");
            return;
        }
        struct slot *s = f->sent_head;
        f->sent_head = s->fwd_next;
        if (f->sent_head == NULL) f->sent_tail = NULL;
        s->fwd_next = NULL;
        if (s->on_forward_reply != NULL && (s->conn != NULL || s->internal))
            s->on_forward_reply(s, f->in + off, (size_t)n);
        else if (s->conn != NULL)
            resp_buf_raw(&s->out, f->in + off, (size_t)n);
        slot_done(s);
        off += (size_t)n;
    }
    memmove(f->in, f->in + off, f->in_len - off);
    f->in_len -= off;
}

static void fwd_connect_cb(uv_connect_t *req, int status)
{
    struct forwarder *f = req->data;
    if (f->state != FWD_CONNECTING) return;
    if (status < 0) {
        fwd_reset(f, uv_strerror(status));
        return;
    }
    f->state = FWD_CONNECTED;
    uv_tcp_nodelay(&f->tcp, 1);
    uv_read_start((uv_stream_t *)&f->tcp, fwd_alloc_cb, fwd_read_cb);
    struct slot *s = f->queue_head;
    f->queue_head = f->queue_tail = NULL;
    while (s != NULL) {
        struct slot *next = s->fwd_next;
        s->fwd_next = NULL;
        fwd_send(f, s);
        s = next;
    }
    fwd_kick(f);
}

static int fwd_connect(struct forwarder *f, const char *addr)
{
    char ip[64];
    unsigned port;
    struct sockaddr_in sa;
    if (sscanf(addr, "%63[^:]:%u", ip, &port) != 2 || uv_ip4_addr(ip, (int)port, &sa) != 0)
        return KEEL_EINVAL;
    snprintf(f->addr, sizeof f->addr, "%s", addr);
    uv_tcp_init(f->srv->loop, &f->tcp);
    f->tcp.data = f;
    f->creq.data = f;
    f->state = FWD_CONNECTING;
    if (uv_tcp_connect(&f->creq, &f->tcp, (struct sockaddr *)&sa, fwd_connect_cb) != 0) {
        f->state = FWD_CLOSING;
        uv_close((uv_handle_t *)&f->tcp, fwd_close_cb);
        return KEEL_EIO;
    }
    log_info("forwarding to the leader at %s", addr);
    return 0;
}

struct forwarder *forwarder_create(struct keel_server *srv)
{
    struct forwarder *f = calloc(1, sizeof *f);
    if (f == NULL) return NULL;
    f->srv = srv;
    resp_buf_init(&f->out);
    resp_buf_init(&f->flight);
    return f;
}

static void fwd_free(struct forwarder *f)
{
    resp_buf_close(&f->out);
    resp_buf_close(&f->flight);
    free(f->in);
    free(f);
}

void forwarder_destroy(struct forwarder *f)
{
    if (f->state == FWD_IDLE) {
        fwd_free(f); /* no handle open (maybe never was) */
        return;
    }
    f->destroy = true;
    fwd_reset(f, "shutting down"); /* frees f in fwd_close_cb; a closing one already will */
}

void forward(struct slot *s)
{
    struct keel_server *srv = s->srv;
    struct forwarder *f = srv->fwd;
    char addr[64];
    if (f == NULL) {
        /* Stopping (keel_server_drain): the leader is another node's business now. */
        resp_error(&s->out, "TRYAGAIN", "this node is shutting down");
        slot_done(s);
        return;
    }
    if (s->forwarded_in) {
        /* The sender thought we lead; we do not (any more). */
        resp_error(&s->out, "TRYAGAIN", "no leader");
        slot_done(s);
        return;
    }
    if (leader_client_addr(srv, addr, sizeof addr) != 0 || strcmp(addr, srv->client_addr) == 0) {
        resp_error(&s->out, "TRYAGAIN", "no leader");
        slot_done(s);
        return;
    }
    if (srv->cfg.redirect && s->conn != NULL) { /* the node's own requests always go */
        resp_errorf(&s->out, "MOVED", "0 %s", addr);
        slot_done(s);
        return;
    }
    if (cluster_token(srv, f->token, sizeof f->token) != 0) {
        resp_error(&s->out, "TRYAGAIN", "this node has not yet learned the cluster's forwarding token");
        slot_done(s);
        return;
    }
    if (f->state != FWD_IDLE && strcmp(f->addr, addr) != 0) fwd_reset(f, "the leader moved");
    if (f->state == FWD_CLOSING) {
        resp_error(&s->out, "TRYAGAIN", "reconnecting to the leader");
        slot_done(s);
        return;
    }
    if (f->state == FWD_IDLE && fwd_connect(f, addr) != 0) {
        resp_errorf(&s->out, "TRYAGAIN", "cannot reach the leader at %s", addr);
        slot_done(s);
        return;
    }
    if (f->state == FWD_CONNECTING) {
        if (f->queue_tail) f->queue_tail->fwd_next = s;
        else f->queue_head = s;
        f->queue_tail = s;
        return;
    }
    fwd_send(f, s);
    fwd_kick(f);
}
