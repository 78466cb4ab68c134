/* raft: member TLS for the raft transport (see transport.h): the session on
 * each raft connection, and the bridge that hands raft a plain stream.
 *
 * A link starts on a connected TCP handle (transport.c calls kt_tls_begin
 * once TCP is up, under the pending connection's deadline) and runs the TLS
 * handshake over memory BIOs (tls.h). Then:
 *  - connecting: the accepting peer's certificate must name the id raft
 *    dialled; our raft handshake is written inside the session;
 *  - accepting: the peer's certificate must name a member id, and the raft
 *    handshake that follows (decrypted, parsed here with transport.c's
 *    kt_hs_step) must claim that same id.
 * Only then is raft handed a stream: one end of an AF_UNIX socketpair, as a
 * raft_malloc'd uv_pipe_t (raft uses nothing but uv_read_start, uv_write
 * and uv_close on it, and frees it with raft_free after uv_close). The link
 * keeps the other end and copies between it and the session: plaintext
 * raft writes goes out encrypted, decrypted bytes from the peer go to raft.
 * Every failure before the hand-over is a rejection: counted, logged
 * (rate-limited) and the connection closed; raft has seen nothing.
 *
 * raft 0.15 uses each connection one way (the connecting side writes, the
 * accepting side reads), so data arriving on a connection we dialled is a
 * protocol violation and closes it. Backpressure: when one side's write
 * queue passes LINK_HIGH bytes, the other side stops being read until it
 * falls under half of that.
 *
 * Re-entrance (raft/defer.h): raft's connect and accept callbacks run from
 * libuv read callbacks here, never from a raft call; nothing here calls
 * raft's API. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/le.h"
#include "raft/transport_internal.h"

#define LINK_BUF 16384
#define LINK_HIGH (4u << 20)
#define LOG_EVERY_MS 10000

struct kt_link
{
    struct ktrans *k;
    struct kt_link *prev, *next; /* k->links */
    struct pending *p;           /* until handed over or failed */
    uv_tcp_t *tcp;               /* the pending's, raft_malloc'd; ours */
    uv_pipe_t plain;             /* our end of the socketpair, once handed over */
    struct keel_tls *tls;
    bool incoming, handshaken, handed, closing, plain_open, tcp_paused, plain_paused;
    bool member;                 /* a member channel (transport_member.c), not raft's */
    unsigned open;               /* handles still to close */
    uint64_t peer_id;            /* what the peer's certificate names */
    char peer[64];               /* ip:port, for logs */
    char rbuf[LINK_BUF];         /* TCP reads */
    char pbuf[LINK_BUF];         /* plain-end reads */
    char out[LINK_BUF];          /* decrypted bytes */
};

struct link_write
{
    uv_write_t w;
    struct kt_link *l;
    char data[];
};

static const char *reject_names[KEEL_PEER_REJECT_COUNT] = {
    "no_cert", "bad_cert", "no_member_id", "id_mismatch", "handshake", "timeout", "malformed", "aborted",
};

const char *keel_peer_reject_name(int reason)
{
    return reason >= 0 && reason < KEEL_PEER_REJECT_COUNT ? reject_names[reason] : "?";
}

/* ---- closing ------------------------------------------------------------ */

static void link_closed_cb(uv_handle_t *h)
{
    struct kt_link *l = h->data;
    if (--l->open > 0) return;
    struct ktrans *k = l->k;
    keel_tls_free(l->tls);
    raft_free(l->tcp);
    free(l);
    k->live--;
    kt_maybe_closed(k);
}

static void link_close(struct kt_link *l)
{
    if (l->closing) return;
    l->closing = true;
    if (l->prev) l->prev->next = l->next;
    else l->k->links = l->next;
    if (l->next) l->next->prev = l->prev;
    l->open = 1 + l->plain_open;
    l->tcp->data = l;
    uv_close((uv_handle_t *)l->tcp, link_closed_cb);
    if (l->plain_open) uv_close((uv_handle_t *)&l->plain, link_closed_cb);
}

void kt_tls_detach(struct kt_link *l, int status)
{
    l->p = NULL;
    if (status != 0) link_close(l);
}

void kt_tls_close_all(struct ktrans *k)
{
    while (k->links != NULL) {
        struct kt_link *l = k->links;
        if (l->p != NULL) kt_finish(l->p, RAFT_CANCELED); /* closes l */
        else link_close(l);
    }
}

/* ---- rejections --------------------------------------------------------- */

static void reject(struct kt_link *l, int reason, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void reject(struct kt_link *l, int reason, const char *fmt, ...)
{
    struct ktrans *k = l->k;
    uint64_t now = uv_now(k->loop);
    k->rejected[reason]++;
    if (k->reject_logged_at[reason] != 0 && now - k->reject_logged_at[reason] < LOG_EVERY_MS) {
        k->reject_unlogged[reason]++;
    } else if (k->o.warn != NULL) {
        char detail[256], msg[512], more[64] = "";
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, sizeof detail, fmt, ap);
        va_end(ap);
        if (k->reject_unlogged[reason] > 0)
            snprintf(more, sizeof more, " (and %" PRIu64 " more since the last report)", k->reject_unlogged[reason]);
        snprintf(msg, sizeof msg, "raft peer %s refused (%s, %s): %s%s", l->peer, keel_peer_reject_name(reason),
                 l->incoming ? "incoming" : "outgoing", detail, more);
        k->o.warn(k->o.warn_data, msg);
        k->reject_logged_at[reason] = now ? now : 1;
        k->reject_unlogged[reason] = 0;
    }
    if (l->p != NULL) kt_finish(l->p, RAFT_NOCONNECTION); /* closes l */
    else link_close(l);
}

static void reject_tls(struct kt_link *l)
{
    static const int map[] = {
        [KEEL_TLS_R_NONE] = KEEL_PEER_REJECT_HANDSHAKE,
        [KEEL_TLS_R_NO_CERT] = KEEL_PEER_REJECT_NO_CERT,
        [KEEL_TLS_R_BAD_CERT] = KEEL_PEER_REJECT_BAD_CERT,
        [KEEL_TLS_R_HANDSHAKE] = KEEL_PEER_REJECT_HANDSHAKE,
    };
    reject(l, map[keel_tls_reason(l->tls)], "%s", keel_tls_detail(l->tls));
}

void kt_tls_timeout(struct kt_link *l)
{
    l->p = NULL; /* transport.c ends the pending connection itself */
    reject(l, KEEL_PEER_REJECT_TIMEOUT, "no TLS and raft handshake within %u ms", l->k->o.connect_timeout_ms);
}

/* A connection that failed for no fault of the peer's (our memory, a dead
 * socket): closed, not counted. */
static void drop(struct kt_link *l)
{
    if (l->p != NULL) kt_finish(l->p, RAFT_NOCONNECTION);
    else link_close(l);
}

/* ---- writing ------------------------------------------------------------ */

static void pump(struct kt_link *l);

static void tcp_written_cb(uv_write_t *w, int status)
{
    struct link_write *lw = (struct link_write *)w;
    struct kt_link *l = lw->l;
    free(lw);
    if (l->closing) return;
    if (status != 0) {
        drop(l);
        return;
    }
    if (l->plain_paused && l->tcp->write_queue_size < LINK_HIGH / 2) {
        l->plain_paused = false;
        pump(l); /* restarts reading the plain end */
    }
}

/* Send whatever ciphertext the session has for the peer. */
static int flush(struct kt_link *l)
{
    size_t n;
    while ((n = keel_tls_pending(l->tls)) > 0) {
        struct link_write *lw = malloc(sizeof *lw + n);
        if (lw == NULL) return -1;
        n = keel_tls_drain(l->tls, lw->data, n);
        lw->l = l;
        uv_buf_t b = uv_buf_init(lw->data, (unsigned)n);
        if (uv_write(&lw->w, (uv_stream_t *)l->tcp, &b, 1, tcp_written_cb) != 0) {
            free(lw);
            return -1;
        }
    }
    return 0;
}

static void plain_written_cb(uv_write_t *w, int status)
{
    struct link_write *lw = (struct link_write *)w;
    struct kt_link *l = lw->l;
    free(lw);
    if (l->closing) return;
    if (status != 0) { /* raft closed its end */
        link_close(l);
        return;
    }
    if (l->tcp_paused && l->plain.write_queue_size < LINK_HIGH / 2) {
        l->tcp_paused = false;
        pump(l);
    }
}

static int to_raft(struct kt_link *l, const char *data, size_t n)
{
    struct link_write *lw = malloc(sizeof *lw + n);
    if (lw == NULL) return -1;
    memcpy(lw->data, data, n);
    lw->l = l;
    uv_buf_t b = uv_buf_init(lw->data, (unsigned)n);
    if (uv_write(&lw->w, (uv_stream_t *)&l->plain, &b, 1, plain_written_cb) != 0) {
        free(lw);
        return -1;
    }
    return 0;
}

/* ---- the hand-over ------------------------------------------------------ */

static void tcp_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void tcp_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void plain_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void plain_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* A new socketpair: the link keeps sv[1] as its plain end; sv[0] is
 * returned (the receiver's to close), or -1. */
static int pair_fd(struct kt_link *l)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return -1;
    uv_pipe_init(l->k->loop, &l->plain, 0);
    l->plain.data = l;
    l->plain_open = true; /* link_close closes it from now on */
    if (uv_pipe_open(&l->plain, sv[1]) != 0) {
        close(sv[1]);
        close(sv[0]);
        return -1;
    }
    return sv[0];
}

/* Raft's end of a new socketpair (the link keeps the other), or NULL. */
static uv_stream_t *pair(struct kt_link *l)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return NULL;
    uv_pipe_t *theirs = raft_malloc(sizeof *theirs);
    if (theirs == NULL) {
        close(sv[0]);
        close(sv[1]);
        return NULL;
    }
    uv_pipe_init(l->k->loop, theirs, 0);
    if (uv_pipe_open(theirs, sv[0]) != 0) {
        close(sv[0]);
        close(sv[1]);
        uv_close((uv_handle_t *)theirs, (uv_close_cb)raft_free);
        return NULL;
    }
    uv_pipe_init(l->k->loop, &l->plain, 0);
    l->plain.data = l;
    l->plain_open = true; /* link_close closes it from now on */
    if (uv_pipe_open(&l->plain, sv[1]) != 0) {
        close(sv[1]);
        uv_close((uv_handle_t *)theirs, (uv_close_cb)raft_free); /* not raft's yet */
        return NULL;
    }
    return (uv_stream_t *)theirs;
}

/* A member channel's stream to whoever asked for it (its accept or dial
 * callback), instead of raft. */
static int hand_over_member(struct kt_link *l)
{
    struct pending *p = l->p;
    struct ktrans *k = l->k;
    int fd = pair_fd(l);
    if (fd < 0) return -1;
    l->handed = true;
    l->member = true;
    if (!l->incoming) {
        keel_member_dial_cb cb = p->member_cb;
        void *data = p->member_data;
        kt_finish(p, 0);
        cb(data, 0, l->peer_id, fd);
    } else {
        kt_finish(p, 0);
        k->member_accept(k->member_accept_data, l->peer_id, fd);
    }
    return 0;
}

static int hand_over(struct kt_link *l)
{
    struct pending *p = l->p;
    struct ktrans *k = l->k;
    uv_stream_t *s = pair(l);
    if (s == NULL) return -1;
    l->handed = true;
    if (!l->incoming) {
        struct raft_uv_connect *req = p->req;
        raft_uv_connect_cb cb = p->cb;
        kt_finish(p, 0); /* detaches l: it lives on as the bridge */
        cb(req, s, 0);
    } else {
        raft_id id = le64_load(p->hs + 8);
        char address[MAX_ADDRESS];
        memcpy(address, p->hs + PREAMBLE, p->hs_want - PREAMBLE);
        kt_finish(p, 0);
        k->accept_cb(k->t, id, address, s);
    }
    return 0;
}

/* Decrypted bytes from the peer: the rest of the raft handshake, then raft's. */
static int take(struct kt_link *l, const char *data, size_t n)
{
    if (!l->incoming && !l->member) {
        reject(l, KEEL_PEER_REJECT_MALFORMED, "sent data on a connection raft only writes to");
        return -1;
    }
    while (!l->handed && n > 0) {
        struct pending *p = l->p;
        /* The first 8 bytes say which: raft's protocol 1, or the member magic. */
        size_t upto = p->hs_got < 8 ? 8 : p->hs_want;
        size_t want = upto - p->hs_got, m = n < want ? n : want;
        memcpy(p->hs + p->hs_got, data, m);
        p->hs_got += m;
        data += m;
        n -= m;
        if (p->hs_got < upto) break;
        if (upto == 8 && memcmp(p->hs, KEEL_MEMBER_MAGIC, 8) == 0) {
            if (l->k->member_accept == NULL) {
                reject(l, KEEL_PEER_REJECT_MALFORMED, "asked for the member channel, which is not served yet");
                return -1;
            }
            if (hand_over_member(l) != 0) {
                drop(l);
                return -1;
            }
            break;
        }
        if (upto == 8) continue;
        int rc = kt_hs_step(p);
        if (rc < 0) {
            reject(l, KEEL_PEER_REJECT_MALFORMED, "malformed raft handshake");
            return -1;
        }
        if (rc == 0) continue;
        uint64_t claimed = le64_load(p->hs + 8);
        if (claimed != l->peer_id) {
            reject(l, KEEL_PEER_REJECT_ID_MISMATCH,
                   "raft handshake claims member %" PRIu64 ", its certificate names member %" PRIu64, claimed,
                   l->peer_id);
            return -1;
        }
        if (hand_over(l) != 0) {
            drop(l);
            return -1;
        }
    }
    if (n == 0) return 0;
    if (to_raft(l, data, n) != 0) {
        link_close(l);
        return -1;
    }
    return 0;
}

/* ---- the session -------------------------------------------------------- */

/* Advance the session with what was fed: the handshake and its checks,
 * then decrypted data to raft; read or stop reading per the backpressure. */
static void pump(struct kt_link *l)
{
    if (!l->handshaken) {
        int rc = keel_tls_handshake(l->tls);
        if (flush(l) != 0) {
            drop(l);
            return;
        }
        if (rc == KEEL_TLS_WANT) return;
        if (rc != KEEL_TLS_OK) {
            reject_tls(l);
            return;
        }
        l->handshaken = true;
        if (keel_tls_peer_member_id(l->tls, &l->peer_id) != 0) {
            reject(l, KEEL_PEER_REJECT_NO_MEMBER_ID, "its certificate names no member (URI SAN %s<id>)",
                   KEEL_TLS_SAN_PREFIX);
            return;
        }
        if (!l->incoming && l->p->member_cb != NULL) {
            struct pending *p = l->p;
            if (p->target != 0 && l->peer_id != p->target) {
                reject(l, KEEL_PEER_REJECT_ID_MISMATCH,
                       "dialled member %" PRIu64 "'s channel, its certificate names member %" PRIu64,
                       (uint64_t)p->target, l->peer_id);
                return;
            }
            if (keel_tls_write(l->tls, KEEL_MEMBER_MAGIC, 8) != KEEL_TLS_OK || flush(l) != 0 ||
                hand_over_member(l) != 0) {
                drop(l);
                return;
            }
        } else if (!l->incoming) {
            struct pending *p = l->p;
            if (l->peer_id != p->target) {
                reject(l, KEEL_PEER_REJECT_ID_MISMATCH,
                       "dialled member %" PRIu64 ", its certificate names member %" PRIu64, (uint64_t)p->target,
                       l->peer_id);
                return;
            }
            size_t n = kt_hs_encode(p);
            if (keel_tls_write(l->tls, p->hs, n) != KEEL_TLS_OK || flush(l) != 0 || hand_over(l) != 0) {
                drop(l);
                return;
            }
        }
    }
    while (!l->closing && !l->tcp_paused) {
        size_t got = 0;
        int rc = keel_tls_read(l->tls, l->out, sizeof l->out, &got);
        if (flush(l) != 0) {
            drop(l);
            return;
        }
        if (rc == KEEL_TLS_CLOSED) {
            if (l->handed) link_close(l);
            else reject(l, KEEL_PEER_REJECT_MALFORMED, "closed the session before its raft handshake");
            return;
        }
        if (rc != KEEL_TLS_OK) {
            if (l->handed) link_close(l);
            else reject_tls(l);
            return;
        }
        if (got == 0) break;
        if (take(l, l->out, got) != 0) return;
        if (l->handed && l->plain.write_queue_size > LINK_HIGH) l->tcp_paused = true;
    }
    if (l->closing) return;
    if (l->tcp_paused) uv_read_stop((uv_stream_t *)l->tcp);
    else uv_read_start((uv_stream_t *)l->tcp, tcp_alloc_cb, tcp_read_cb);
    if (l->plain_open) {
        if (l->plain_paused) uv_read_stop((uv_stream_t *)&l->plain);
        else uv_read_start((uv_stream_t *)&l->plain, plain_alloc_cb, plain_read_cb);
    }
}

static void tcp_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct kt_link *l = h->data;
    (void)suggested;
    *buf = uv_buf_init(l->rbuf, sizeof l->rbuf);
}

static void tcp_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct kt_link *l = s->data;
    if (nread == 0 || l->closing) return;
    if (nread < 0) {
        if (l->handed) link_close(l);
        /* An end of stream with no TLS alert: the dialler gave up, was
         * isolated by a drill or restarted. A refusal of our certificate
         * arrives as an alert and is counted as such by reject_tls. */
        else if (l->incoming && !l->handshaken) reject(l, KEEL_PEER_REJECT_ABORTED, "closed during the TLS handshake");
        else if (l->incoming) reject(l, KEEL_PEER_REJECT_MALFORMED, "closed before its raft handshake");
        else drop(l); /* the peer went away or refused us (it logs why) */
        return;
    }
    if (keel_tls_feed(l->tls, buf->base, (size_t)nread) != KEEL_TLS_OK) {
        drop(l);
        return;
    }
    pump(l);
}

static void plain_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct kt_link *l = h->data;
    (void)suggested;
    *buf = uv_buf_init(l->pbuf, sizeof l->pbuf);
}

/* What raft writes: encrypted to the peer. EOF: raft closed its end. */
static void plain_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct kt_link *l = s->data;
    if (nread == 0 || l->closing) return;
    if (nread < 0 || keel_tls_write(l->tls, buf->base, (size_t)nread) != KEEL_TLS_OK || flush(l) != 0) {
        link_close(l);
        return;
    }
    if (l->tcp->write_queue_size > LINK_HIGH) {
        l->plain_paused = true;
        uv_read_stop(s);
    }
}

void kt_tls_begin(struct pending *p)
{
    struct ktrans *k = p->k;
    struct kt_link *l = calloc(1, sizeof *l);
    if (l != NULL) l->tls = keel_tls_new(k->tls, p->incoming);
    if (l == NULL || l->tls == NULL) {
        free(l);
        kt_finish(p, RAFT_NOCONNECTION);
        return;
    }
    l->k = k;
    l->p = p;
    l->tcp = p->tcp;
    l->tcp->data = l;
    l->incoming = p->incoming;
    struct sockaddr_in sa;
    int len = sizeof sa;
    snprintf(l->peer, sizeof l->peer, "?");
    if (uv_tcp_getpeername(l->tcp, (struct sockaddr *)&sa, &len) == 0) {
        char ip[32] = "?";
        uv_ip4_name(&sa, ip, sizeof ip);
        snprintf(l->peer, sizeof l->peer, "%s:%u", ip, ntohs(sa.sin_port));
    }
    l->next = k->links;
    if (k->links) k->links->prev = l;
    k->links = l;
    k->live++;
    p->link = l;
    if (uv_read_start((uv_stream_t *)l->tcp, tcp_alloc_cb, tcp_read_cb) != 0) {
        drop(l);
        return;
    }
    pump(l); /* the client speaks first */
}

/* ---- configuration ------------------------------------------------------ */

int keel_transport_tls(struct raft_uv_transport *t, const char *cert_file, const char *key_file,
                       const char *ca_file, uint64_t self_id, char *err, size_t errsize)
{
    struct ktrans *k = t->impl;
    struct keel_tls_options o = {.cert_file = cert_file, .key_file = key_file, .ca_file = ca_file,
                                 .verify = KEEL_TLS_VERIFY_REQUIRE, .member_id = self_id};
    struct keel_tls_ctx *c = keel_tls_ctx_new(&o, err, errsize);
    if (c == NULL) return -1;
    keel_tls_ctx_free(k->tls);
    k->tls = c;
    return 0;
}

struct keel_tls_ctx *keel_transport_tls_ctx(struct raft_uv_transport *t)
{
    return ((struct ktrans *)t->impl)->tls;
}

void kt_tls_release(struct ktrans *k)
{
    keel_tls_ctx_free(k->tls);
    k->tls = NULL;
}

void keel_transport_rejections(struct raft_uv_transport *t, uint64_t out[KEEL_PEER_REJECT_COUNT])
{
    struct ktrans *k = t->impl;
    memcpy(out, k->rejected, sizeof k->rejected);
}
