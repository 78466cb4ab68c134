/* api/server: forwarding, the internal connection to the leader (the rules
 * of what is forwarded and the answers to clients are forward.c's). One
 * connection per forwarder: the requests written in order, their replies
 * matched to them in order and handed to forward.c's relay.
 *
 * Every forwarded request carries a deadline: its client's budget
 * (--forward-timeout, or a membership change's) counted from when the
 * request was read here. The leader refuses, unexecuted, one that reaches it
 * after the deadline (a partition held it in a TCP retransmit queue, the
 * leader was paused or too loaded to read); here its client is answered
 * -UNCERTAIN (sent) or -TRYAGAIN (never sent) once the deadline has passed,
 * and a connection whose oldest request is that late is reset, with its
 * unsent bytes discarded (RST). So a request never takes effect long after
 * its client was told it timed out.
 *
 * Deadlines travel on the leader's monotonic clock, so no wall clock (which
 * NTP or an operator may step) and no clock agreement between hosts are
 * involved: a new connection first asks the leader for its clock
 * (KEEL.FWDSYNC) and holds its requests until the answer; the offset taken
 * is the leader's clock minus ours at the answer's arrival, a lower bound of
 * the true one (off by at most the round trip), so a deadline converted with
 * it comes early on the leader, never late. It is measured again every
 * RESYNC_MS on a connection in use.
 *
 * Two connections per follower: membership changes and leadership transfer
 * (which may run for many seconds) on their own, so that no write waits
 * behind them for its reply. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/server/forward.h"
#include "api/server/log.h"
#include "api/server/server_internal.h"
#include "raft/membership.h"

/* A sent request's client is answered this long after its deadline: the
 * leader's refusal (or answer) of a request that reached it in time. */
#define GRACE_MS 500
#define RESYNC_MS 10000

enum { FWD_IDLE, FWD_CONNECTING, FWD_SYNCING, FWD_CONNECTED, FWD_CLOSING };

/* A request written to the leader, or a clock probe. */
struct fwd_entry
{
    struct fwd_entry *next;
    struct slot *s;     /* NULL: a probe, or its client was answered (expired) */
    uint64_t deadline;  /* our clock, ms: answer the client by then (+GRACE_MS) */
    uint64_t probe_at;  /* a probe: when it was sent; 0: a request */
};

/* A member-channel dial in flight (keel_node_member_dial); f NULL once
 * the forwarder gave up on it (the callback then closes what arrives). */
struct fwd_dial
{
    struct forwarder *f;
};

struct forwarder
{
    struct keel_server *srv;
    union {
        uv_tcp_t tcp;   /* to the leader's client port (no member TLS) */
        uv_pipe_t pipe; /* the leader's member channel (member TLS) */
    };
    bool member;              /* this connection is a member channel */
    bool handle_open;         /* tcp/pipe initialised and not yet closed */
    struct fwd_dial *dial;    /* member: the dial in flight (FWD_CONNECTING) */
    uint64_t leader_id;
    uv_connect_t creq;
    int state;
    bool admin;               /* membership and transfer */
    char addr[64];
    struct fwd_entry *sent_head; /* written, waiting for replies, in order */
    struct fwd_entry *sent_tail;
    struct slot *queue_head;  /* waiting for the connection and the leader's clock */
    struct slot *queue_tail;
    uint8_t *in;
    size_t in_len;
    size_t in_cap;
    char token[FWD_TOKEN_SIZE]; /* the cluster's forwarding token */
    struct buf out;      /* to write */
    struct buf flight;   /* being written */
    uv_write_t wreq;
    bool writing;
    bool destroy;             /* free once closed */
    /* the leader's monotonic clock = ours + offset (a lower bound) */
    int64_t offset;
    uint64_t synced_at;       /* when the last probe was answered; 0: never */
    bool probing;
};

static void fail_sent(struct fwd_entry *e, const char *why)
{
    while (e != NULL) {
        struct fwd_entry *next = e->next;
        if (e->s != NULL) fwd_answer_sent(e->s, why);
        free(e);
        e = next;
    }
}

static void fail_queued(struct slot *s, const char *why)
{
    while (s != NULL) {
        struct slot *next = s->fwd_next;
        s->fwd_next = NULL;
        fwd_answer_unsent(s, why);
        s = next;
    }
}

/* ---- the connection ---------------------------------------------------- */

static void fwd_free(struct forwarder *f);

static void fwd_close_cb(uv_handle_t *h)
{
    struct forwarder *f = (struct forwarder *)((char *)h - offsetof(struct forwarder, tcp));
    f->state = FWD_IDLE;
    f->handle_open = false;
    f->in_len = 0;
    if (f->destroy) fwd_free(f);
}

static void fwd_reset(struct forwarder *f, const char *why)
{
    char text[200];
    if (f->state == FWD_IDLE || f->state == FWD_CLOSING) return;
    log_info("forwarding connection to %s closed: %s", f->addr, why);
    int was = f->state;
    f->state = FWD_CLOSING;
    f->probing = false;
    f->synced_at = 0;
    struct fwd_entry *sent = f->sent_head;
    struct slot *queued = f->queue_head;
    f->sent_head = f->sent_tail = NULL;
    f->queue_head = f->queue_tail = NULL;
    f->out.len = 0;
    snprintf(text, sizeof text, "lost the connection to the leader (%s)", why);
    fail_sent(sent, text);
    fail_queued(queued, text);
    if (f->dial != NULL) { /* the dial's callback closes what comes */
        f->dial->f = NULL;
        f->dial = NULL;
    }
    if (!f->handle_open) { /* a member dial that has not (or never) connected */
        fwd_close_cb((uv_handle_t *)&f->tcp);
        return;
    }
    /* A reset, not a close: bytes still unsent (a partition) are dropped
     * here instead of reaching the leader late. (The member channel's other
     * end is a local socket: closing it ends the TLS session at once.) */
    if (was == FWD_CONNECTING || f->member || uv_tcp_close_reset(&f->tcp, fwd_close_cb) != 0)
        uv_close((uv_handle_t *)&f->tcp, fwd_close_cb);
}

static void fwd_write_cb(uv_write_t *req, int status);

/* Write what has accumulated, if no write is in flight. */
static void fwd_kick(struct forwarder *f)
{
    if (f->writing || f->out.len == 0 || (f->state != FWD_CONNECTED && f->state != FWD_SYNCING)) return;
    struct buf tmp = f->flight;
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

static void push_sent(struct forwarder *f, struct fwd_entry *e)
{
    e->next = NULL;
    if (f->sent_tail) f->sent_tail->next = e;
    else f->sent_head = e;
    f->sent_tail = e;
}

/* KEEL.FWDSYNC <token>: the leader answers its monotonic clock. */
static void send_probe(struct forwarder *f)
{
    struct fwd_entry *e = calloc(1, sizeof *e);
    if (e == NULL) return;
    uint64_t now = keel_mono_ms();
    e->probe_at = now;
    e->deadline = now + (f->srv->cfg.forward_timeout_ms ? f->srv->cfg.forward_timeout_ms : DEFAULT_FORWARD_MS);
    resp_array(&f->out, 2);
    resp_bulk_str(&f->out, "KEEL.FWDSYNC");
    resp_bulk_str(&f->out, f->token);
    push_sent(f, e);
    f->probing = true;
}

/* Serialise s as KEEL.FWD <token> <proto> <client> <seq> <deadline> <argv...>,
 * the deadline on the leader's clock; <proto> is "<proto>:<db>" when the
 * request runs in a database other than 0 (db.h). */
static void fwd_send(struct forwarder *f, struct slot *s)
{
    char num[32];
    struct fwd_entry *e = calloc(1, sizeof *e);
    if (e == NULL) {
        fwd_answer_unsent(s, "out of memory forwarding to the leader");
        return;
    }
    if (f->synced_at != 0 && !f->probing && keel_mono_ms() - f->synced_at > RESYNC_MS) send_probe(f);
    int64_t remote = (int64_t)s->deadline_ms + f->offset;
    resp_array(&f->out, s->argc + 6);
    resp_bulk_str(&f->out, "KEEL.FWD");
    resp_bulk_str(&f->out, f->token);
    if (s->db != 0) snprintf(num, sizeof num, "%d:%u", s->proto, (unsigned)s->db);
    else snprintf(num, sizeof num, "%d", s->proto);
    resp_bulk_str(&f->out, num);
    snprintf(num, sizeof num, "%llu", (unsigned long long)s->client);
    resp_bulk_str(&f->out, num);
    snprintf(num, sizeof num, "%llu", (unsigned long long)s->seq);
    resp_bulk_str(&f->out, num);
    snprintf(num, sizeof num, "%lld", (long long)(remote > 0 ? remote : 1));
    resp_bulk_str(&f->out, num);
    for (uint32_t i = 0; i < s->argc; i++) resp_bulk(&f->out, s->argv[i].p, s->argv[i].n);
    s->sent = true;
    e->s = s;
    e->deadline = s->deadline_ms;
    push_sent(f, e);
    f->srv->stats.forwarded++;
}

/* The queue, once the leader's clock is known. */
static void send_queued(struct forwarder *f)
{
    uint64_t now = keel_mono_ms();
    struct slot *s = f->queue_head;
    f->queue_head = f->queue_tail = NULL;
    while (s != NULL) {
        struct slot *next = s->fwd_next;
        s->fwd_next = NULL;
        if (now >= s->deadline_ms) fwd_answer_unsent(s, "the leader did not answer in time: not sent");
        else fwd_send(f, s);
        s = next;
    }
    fwd_kick(f);
}

static void probe_answered(struct forwarder *f, const uint8_t *p, size_t n)
{
    long long leader;
    f->probing = false;
    if (n < 4 || p[0] != ':' || sscanf((const char *)p + 1, "%lld", &leader) != 1) {
        fwd_reset(f, "the leader did not tell its clock");
        return;
    }
    uint64_t now = keel_mono_ms();
    f->offset = (int64_t)leader - (int64_t)now;
    f->synced_at = now;
    if (f->state == FWD_SYNCING) {
        f->state = FWD_CONNECTED;
        send_queued(f);
    }
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
    while (off < f->in_len && (f->state == FWD_SYNCING || f->state == FWD_CONNECTED)) {
        const char *err;
        long n = resp_reply_len(f->in + off, f->in_len - off, &f->srv->limits, &err);
        if (n == 0) break;
        if (n < 0 || f->sent_head == NULL) {
            fwd_reset(f, n < 0 ? err : "reply nobody asked for");
            return;
        }
        struct fwd_entry *e = f->sent_head;
        f->sent_head = e->next;
        if (f->sent_head == NULL) f->sent_tail = NULL;
        struct slot *s = e->s;
        bool probe = e->probe_at != 0;
        free(e);
        if (probe) {
            probe_answered(f, f->in + off, (size_t)n);
        } else if (s != NULL) { /* else: answered already, at its deadline */
            fwd_relay(s, f->in + off, (size_t)n);
        }
        off += (size_t)n;
    }
    if (f->state == FWD_IDLE || f->state == FWD_CLOSING) return; /* reset: in_len cleared on close */
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
    f->state = FWD_SYNCING;
    if (!f->member) uv_tcp_nodelay(&f->tcp, 1);
    uv_read_start((uv_stream_t *)&f->tcp, fwd_alloc_cb, fwd_read_cb);
    send_probe(f);
    fwd_kick(f);
}

static void fwd_dialled_cb(void *data, int status, uint64_t peer_id, int fd)
{
    struct fwd_dial *d = data;
    struct forwarder *f = d->f;
    (void)peer_id; /* the transport checked it is the leader we dialled */
    free(d);
    if (f == NULL) { /* given up meanwhile */
        if (fd >= 0) close(fd);
        return;
    }
    f->dial = NULL;
    if (fd < 0) {
        fwd_reset(f, status == 0 ? "refused" : "cannot reach the leader's member channel");
        return;
    }
    uv_pipe_init(f->srv->loop, &f->pipe, 0);
    f->pipe.data = f;
    f->handle_open = true;
    if (uv_pipe_open(&f->pipe, fd) != 0) {
        close(fd);
        fwd_reset(f, "cannot open the member channel");
        return;
    }
    fwd_connect_cb(&f->creq, 0);
}

/* With member TLS: the leader's member channel on its raft port, behind
 * the same mutual TLS as raft (keel_node_member_dial checks its certificate
 * names the leader we dial). */
static int fwd_connect_member(struct forwarder *f, const char *addr, uint64_t leader_id)
{
    struct fwd_dial *d = calloc(1, sizeof *d);
    if (d == NULL) return KEEL_ENOMEM;
    d->f = f;
    snprintf(f->addr, sizeof f->addr, "%s", addr);
    f->member = true;
    f->leader_id = leader_id;
    f->creq.data = f;
    if (keel_node_member_dial(f->srv->node, leader_id, addr, fwd_dialled_cb, d) != 0) {
        free(d);
        return KEEL_EIO;
    }
    f->dial = d;
    f->state = FWD_CONNECTING;
    log_info("forwarding%s to the leader (member %llu) on its member channel at %s", f->admin ? " membership changes" : "",
             (unsigned long long)leader_id, addr);
    return 0;
}

static int fwd_connect(struct forwarder *f, const char *addr)
{
    char ip[64];
    unsigned port;
    struct sockaddr_in sa;
    if (sscanf(addr, "%63[^:]:%u", ip, &port) != 2 || uv_ip4_addr(ip, (int)port, &sa) != 0)
        return KEEL_EINVAL;
    snprintf(f->addr, sizeof f->addr, "%s", addr);
    f->member = false;
    uv_tcp_init(f->srv->loop, &f->tcp);
    f->handle_open = true;
    f->tcp.data = f;
    f->creq.data = f;
    f->state = FWD_CONNECTING;
    if (uv_tcp_connect(&f->creq, &f->tcp, (struct sockaddr *)&sa, fwd_connect_cb) != 0) {
        f->state = FWD_CLOSING;
        uv_close((uv_handle_t *)&f->tcp, fwd_close_cb);
        return KEEL_EIO;
    }
    log_info("forwarding%s to the leader at %s", f->admin ? " membership changes" : "", addr);
    return 0;
}

struct forwarder *fwd_create(struct keel_server *srv, bool admin)
{
    struct forwarder *f = calloc(1, sizeof *f);
    if (f == NULL) return NULL;
    f->srv = srv;
    f->admin = admin;
    buf_init(&f->out);
    buf_init(&f->flight);
    return f;
}

static void fwd_free(struct forwarder *f)
{
    buf_close(&f->out);
    buf_close(&f->flight);
    free(f->in);
    free(f);
}

void fwd_destroy(struct forwarder *f)
{
    if (f == NULL) return;
    if (f->state == FWD_IDLE) {
        fwd_free(f); /* no handle open (maybe never was) */
        return;
    }
    f->destroy = true;
    fwd_reset(f, "shutting down"); /* frees f in fwd_close_cb; a closing one already will */
}

void fwd_expire(struct forwarder *f)
{
    char why[200];
    uint64_t now = keel_mono_ms();
    if (f == NULL || f->state == FWD_IDLE || f->state == FWD_CLOSING) return;
    /* Not sent yet (connecting, or waiting for the leader's clock). */
    struct slot **pp = &f->queue_head, *last = NULL;
    while (*pp != NULL) {
        struct slot *s = *pp;
        if (now < s->deadline_ms) {
            last = s;
            pp = &s->fwd_next;
            continue;
        }
        *pp = s->fwd_next;
        s->fwd_next = NULL;
        snprintf(why, sizeof why, "the leader at %s did not answer in time: not sent", f->addr);
        fwd_answer_unsent(s, why);
    }
    f->queue_tail = last;
    for (struct fwd_entry *e = f->sent_head; e != NULL; e = e->next) {
        if (e->s == NULL || now < e->deadline + GRACE_MS) continue;
        snprintf(why, sizeof why, "no answer from the leader at %s within %llu ms", f->addr,
                 (unsigned long long)(now - (e->s->started_ns ? e->s->started_ns / 1000000 : e->deadline)));
        fwd_answer_sent(e->s, why);
        e->s = NULL; /* its reply, if one comes, is dropped */
    }
    /* The oldest still unanswered past its deadline: the path is black-holed
     * or the leader stuck. Start over (with whoever leads by then). */
    if (f->sent_head != NULL && now >= f->sent_head->deadline + GRACE_MS)
        fwd_reset(f, "the leader did not answer in time");
}

void fwd_submit(struct forwarder *f, const char *addr, uint64_t leader_id, const char *token, struct slot *s)
{
    snprintf(f->token, sizeof f->token, "%s", token);
    if (f->state != FWD_IDLE && (strcmp(f->addr, addr) != 0 || (leader_id != 0 && f->leader_id != leader_id)))
        fwd_reset(f, "the leader moved");
    if (f->state == FWD_CLOSING) {
        srv_reply_error(&s->out, KEEL_ENOTLEADER, "reconnecting to the leader");
        slot_done(s);
        return;
    }
    if (f->state == FWD_IDLE && (leader_id != 0 ? fwd_connect_member(f, addr, leader_id) : fwd_connect(f, addr)) != 0) {
        srv_reply_errorf(&s->out, KEEL_ENOTLEADER, "cannot reach the leader at %s", addr);
        slot_done(s);
        return;
    }
    if (f->state == FWD_CONNECTING || f->state == FWD_SYNCING) {
        if (f->queue_tail) f->queue_tail->fwd_next = s;
        else f->queue_head = s;
        f->queue_tail = s;
        return;
    }
    fwd_send(f, s);
    fwd_kick(f);
}
