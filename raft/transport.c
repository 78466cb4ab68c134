/* raft: Keel's raft transport (see transport.h for why).
 *
 * The wire handshake is raft_uv_tcp's: the connecting node writes three
 * little-endian u64 (protocol 1, its id, the length of its address buffer,
 * a multiple of 8) and then its address, NUL-terminated and padded. The
 * accepting side reads exactly that much, so raft's own reader starts on the
 * first message, and hands the stream to raft with the id and address.
 *
 * Every connection in progress (ours to a peer, or a peer's still sending
 * its handshake) is a `struct pending` with a deadline timer. It ends in
 * exactly one of: handed to raft (its TCP handle is raft's from then on, as
 * raft_malloc'd memory raft frees), failed (raft's connect callback gets
 * RAFT_NOCONNECTION, or RAFT_CANCELED when the transport closes), or
 * dropped (an incoming one). Its memory goes once its handles are closed.
 *
 * With member TLS on (k->tls), a connected TCP handle goes to
 * transport_tls.c instead (kt_tls_begin): the TLS handshake and raft's run
 * inside the session, still under the pending's deadline, and raft is
 * handed the plain end of a socketpair the session bridges.
 *
 * Re-entrance (raft/defer.h): raft's connect and accept callbacks are only
 * ever called from libuv callbacks, never from inside kt_connect, kt_listen
 * or kt_close (a connect refused at once returns its error instead). The
 * one exception is raft_uv's own close protocol: kt_close may call the
 * transport close callback at once when nothing is open, which raft_uv
 * allows (uvTransportCloseCb only marks the transport closed). Nothing
 * here calls raft's API. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "raft/transport_internal.h"
#include "common/le.h"

void kt_maybe_closed(struct ktrans *k)
{
    if (k->closing && !k->listener_open && k->live == 0 && k->close_cb != NULL) {
        raft_uv_transport_close_cb cb = k->close_cb;
        k->close_cb = NULL;
        cb(k->t);
    }
}

static void unlink_pending(struct pending *p)
{
    if (p->prev) p->prev->next = p->next;
    else p->k->head = p->next;
    if (p->next) p->next->prev = p->prev;
    p->prev = p->next = NULL;
}

static void pending_free(struct pending *p)
{
    struct ktrans *k = p->k;
    if (!p->incoming && p->member_cb != NULL && p->status != 0) p->member_cb(p->member_data, p->status, 0, -1);
    else if (!p->incoming && p->cb != NULL && p->status != 0) p->cb(p->req, NULL, p->status);
    free(p);
    k->live--;
    kt_maybe_closed(k);
}

static void handle_closed_cb(uv_handle_t *h)
{
    struct pending *p = h->data;
    if (h == (uv_handle_t *)p->tcp) raft_free(p->tcp);
    if (--p->closing == 0) pending_free(p);
}

/* End p: status 0 after its TCP handle (or, with TLS, its session's plain
 * end) was handed to raft, else close it too. */
void kt_finish(struct pending *p, int status)
{
    if (p->done) return;
    p->done = true;
    p->status = status;
    unlink_pending(p);
    p->closing = 1;
    uv_close((uv_handle_t *)&p->timer, handle_closed_cb);
    if (p->link != NULL) { /* the session owns the TCP handle */
        struct kt_link *l = p->link;
        p->link = NULL;
        kt_tls_detach(l, status);
    } else if (status != 0) {
        p->closing++;
        p->tcp->data = p;
        uv_close((uv_handle_t *)p->tcp, handle_closed_cb);
    }
}

/* Fail fast on a dead path (see transport.h). Errors are ignored: the
 * connection works without the options, as raft_uv_tcp's do. */
static void tune(struct ktrans *k, uv_tcp_t *tcp)
{
    uv_os_fd_t fd;
    uv_tcp_nodelay(tcp, 1);
    if (uv_fileno((uv_handle_t *)tcp, &fd) != 0) return;
    int on = 1, idle = 1, intvl = 1, cnt = 3;
    unsigned ut = k->o.user_timeout_ms;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
    if (ut > 0) setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof ut);
}

static void deadline_cb(uv_timer_t *timer)
{
    struct pending *p = timer->data;
    if (p->link != NULL) kt_tls_timeout(p->link); /* counts it, then ends p */
    kt_finish(p, RAFT_NOCONNECTION);
}

static struct pending *pending_new(struct ktrans *k, bool incoming)
{
    struct pending *p = calloc(1, sizeof *p);
    if (p == NULL) return NULL;
    p->tcp = raft_malloc(sizeof *p->tcp);
    if (p->tcp == NULL) {
        free(p);
        return NULL;
    }
    p->k = k;
    p->incoming = incoming;
    uv_tcp_init(k->loop, p->tcp);
    p->tcp->data = p;
    uv_timer_init(k->loop, &p->timer);
    p->timer.data = p;
    uv_timer_start(&p->timer, deadline_cb, k->o.connect_timeout_ms, 0);
    p->next = k->head;
    if (k->head) k->head->prev = p;
    k->head = p;
    k->live++;
    return p;
}

/* ---- outgoing ----------------------------------------------------------- */

static void handshake_written_cb(uv_write_t *w, int status)
{
    struct pending *p = w->data;
    if (p->done) return; /* closed meanwhile: the close path calls back */
    if (status != 0) {
        kt_finish(p, RAFT_NOCONNECTION);
        return;
    }
    struct raft_uv_connect *req = p->req;
    raft_uv_connect_cb cb = p->cb;
    uv_tcp_t *tcp = p->tcp;
    kt_finish(p, 0); /* the TCP handle is raft's now */
    cb(req, (uv_stream_t *)tcp, 0);
}

static void connected_cb(uv_connect_t *c, int status)
{
    struct pending *p = c->data;
    if (p->done) return;
    if (status != 0) {
        kt_finish(p, RAFT_NOCONNECTION);
        return;
    }
    tune(p->k, p->tcp);
    if (p->k->tls != NULL) {
        kt_tls_begin(p); /* raft's handshake goes inside the session */
        return;
    }
    uv_buf_t buf = uv_buf_init((char *)p->hs, (unsigned)kt_hs_encode(p));
    p->write.data = p;
    if (uv_write(&p->write, (uv_stream_t *)p->tcp, &buf, 1, handshake_written_cb) != 0)
        kt_finish(p, RAFT_NOCONNECTION);
}

size_t kt_hs_encode(struct pending *p)
{
    size_t alen = (strlen(p->k->address) + 1 + 7) / 8 * 8;
    memset(p->hs, 0, sizeof p->hs);
    le64_store(p->hs, HANDSHAKE_PROTOCOL);
    le64_store(p->hs + 8, p->k->id);
    le64_store(p->hs + 16, alen);
    memcpy(p->hs + PREAMBLE, p->k->address, strlen(p->k->address));
    return PREAMBLE + alen;
}

static int parse_addr(const char *address, struct sockaddr_in *sa)
{
    char ip[64];
    unsigned port;
    if (sscanf(address, "%63[^:]:%u", ip, &port) != 2 || port == 0 || port > 65535) return -1;
    return uv_ip4_addr(ip, (int)port, sa);
}

struct pending *kt_dial(struct ktrans *k, raft_id id, const char *address, int *rc)
{
    struct sockaddr_in sa;
    *rc = RAFT_NOCONNECTION;
    if (k->closing) {
        *rc = RAFT_CANCELED;
        return NULL;
    }
    if (parse_addr(address, &sa) != 0) return NULL;
    kt_note_peer(k, &sa);
    for (unsigned i = 0; i < k->nroutes; i++) {
        if (k->route_from[i].sin_addr.s_addr == sa.sin_addr.s_addr && k->route_from[i].sin_port == sa.sin_port) {
            sa = k->route_via[i];
            break;
        }
    }
    if (kt_isolated(k)) return NULL; /* a drill: the network is "down" */
    struct pending *p = pending_new(k, false);
    if (p == NULL) {
        *rc = RAFT_NOMEM;
        return NULL;
    }
    p->target = id;
    p->connect.data = p;
    if (uv_tcp_connect(&p->connect, p->tcp, (const struct sockaddr *)&sa, connected_cb) != 0) {
        kt_finish(p, RAFT_NOCONNECTION); /* refused here: no callback (none set yet) */
        return NULL;
    }
    return p;
}

static int kt_connect(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id,
                      const char *address, raft_uv_connect_cb cb)
{
    int rc;
    struct pending *p = kt_dial(t->impl, id, address, &rc);
    if (p == NULL) return rc;
    req->cb = cb;
    p->req = req;
    p->cb = cb;
    return 0;
}

/* ---- incoming ----------------------------------------------------------- */

int kt_hs_step(struct pending *p)
{
    if (p->hs_want == PREAMBLE) {
        uint64_t alen = le64_load(p->hs + 16);
        if (le64_load(p->hs) != HANDSHAKE_PROTOCOL || alen == 0 || alen > MAX_ADDRESS) return -1;
        p->hs_want = PREAMBLE + alen;
        return 0;
    }
    p->hs[p->hs_want - 1] = 0;
    return 1;
}

static void hs_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct pending *p = h->data;
    (void)suggested;
    /* Exactly what the handshake still lacks: never a byte of raft's. */
    *buf = uv_buf_init((char *)p->hs + p->hs_got, (unsigned)(p->hs_want - p->hs_got));
}

static void hs_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct pending *p = s->data;
    (void)buf;
    if (nread == 0 || p->done) return;
    if (nread < 0) {
        kt_finish(p, RAFT_NOCONNECTION);
        return;
    }
    p->hs_got += (size_t)nread;
    if (p->hs_got < p->hs_want) return;
    int rc = kt_hs_step(p);
    if (rc < 0) kt_finish(p, RAFT_MALFORMED);
    if (rc <= 0) return;
    uv_read_stop(s);
    struct ktrans *k = p->k;
    raft_id id = le64_load(p->hs + 8);
    char address[MAX_ADDRESS];
    memcpy(address, p->hs + PREAMBLE, p->hs_want - PREAMBLE);
    uv_tcp_t *tcp = p->tcp;
    kt_finish(p, 0);
    k->accept_cb(k->t, id, address, (uv_stream_t *)tcp);
}

static void listen_cb(uv_stream_t *server, int status)
{
    struct ktrans *k = server->data;
    if (status != 0 || k->closing) return;
    struct pending *p = pending_new(k, true);
    if (p == NULL) return;
    if (uv_accept(server, (uv_stream_t *)p->tcp) != 0 || kt_isolated(k)) {
        kt_finish(p, RAFT_NOCONNECTION);
        return;
    }
    tune(k, p->tcp);
    p->hs_want = PREAMBLE;
    if (k->tls != NULL) {
        kt_tls_begin(p);
        return;
    }
    if (uv_read_start((uv_stream_t *)p->tcp, hs_alloc_cb, hs_read_cb) != 0) kt_finish(p, RAFT_NOCONNECTION);
}

/* ---- the transport interface --------------------------------------------- */

static int kt_init(struct raft_uv_transport *t, raft_id id, const char *address)
{
    struct ktrans *k = t->impl;
    if (strlen(address) >= sizeof k->address) return RAFT_INVALID;
    k->id = id;
    snprintf(k->address, sizeof k->address, "%s", address);
    return 0;
}

static int kt_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
    struct ktrans *k = t->impl;
    struct sockaddr_in sa;
    if (parse_addr(k->address, &sa) != 0) {
        snprintf(t->errmsg, sizeof t->errmsg, "bad raft address %s", k->address);
        return RAFT_INVALID;
    }
    k->accept_cb = cb;
    uv_tcp_init(k->loop, &k->listener);
    k->listener.data = k;
    k->listener_open = true;
    int rc = uv_tcp_bind(&k->listener, (const struct sockaddr *)&sa, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&k->listener, 64, listen_cb);
    if (rc != 0) {
        snprintf(t->errmsg, sizeof t->errmsg, "listen on %s: %s", k->address, uv_strerror(rc));
        return RAFT_IOERR;
    }
    return 0;
}

static void listener_closed_cb(uv_handle_t *h)
{
    struct ktrans *k = h->data;
    k->listener_open = false;
    kt_maybe_closed(k);
}

static void kt_close(struct raft_uv_transport *t, raft_uv_transport_close_cb cb)
{
    struct ktrans *k = t->impl;
    k->closing = true;
    k->close_cb = cb;
    while (k->head != NULL) kt_finish(k->head, RAFT_CANCELED);
    kt_tls_close_all(k);
    if (k->listener_open) uv_close((uv_handle_t *)&k->listener, listener_closed_cb);
    else kt_maybe_closed(k);
}

int keel_transport_init(struct raft_uv_transport *t, uv_loop_t *loop,
                        const struct keel_transport_options *o)
{
    struct ktrans *k = calloc(1, sizeof *k);
    if (k == NULL) return RAFT_NOMEM;
    k->t = t;
    k->loop = loop;
    k->o = *o;
    if (k->o.connect_timeout_ms == 0) k->o.connect_timeout_ms = 1000;
    if (o->routes != NULL && o->routes[0] != 0) {
        char buf[2048];
        snprintf(buf, sizeof buf, "%s", o->routes);
        for (char *save = NULL, *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(w, '=');
            if (eq == NULL || k->nroutes == 16) {
                free(k);
                return RAFT_INVALID;
            }
            *eq = 0;
            if (parse_addr(w, &k->route_from[k->nroutes]) != 0 || parse_addr(eq + 1, &k->route_via[k->nroutes]) != 0) {
                free(k);
                return RAFT_INVALID;
            }
            k->nroutes++;
        }
    }
    t->impl = k;
    t->init = kt_init;
    t->listen = kt_listen;
    t->connect = kt_connect;
    t->close = kt_close;
    return 0;
}

void keel_transport_release(struct raft_uv_transport *t)
{
    if (t->impl != NULL) kt_tls_release(t->impl);
    free(t->impl);
    t->impl = NULL;
}
