/* api/server: TLS on a connected uv_tcp_t (see conn_tls.h).
 *
 * Why memory BIOs on the loop and not kernel TLS: one engine (raft/tls.c)
 * serves the raft port and the client port, OpenSSL never touches a socket
 * and libuv keeps doing all the I/O, so back-pressure, timeouts and closing
 * stay the loop's as for plaintext. kTLS would save a copy per byte after
 * the handshake; it is not measured yet (docs/security.md). */
#include <stdlib.h>
#include <string.h>

#include "api/server/conn_tls.h"

#define TCP_CHUNK 16384   /* ciphertext read at once: one TLS record */
#define PLAIN_CHUNK 65536 /* plaintext encrypted between two drains of the session */

struct conn_tls
{
    uv_tcp_t *tcp;
    struct keel_tls *s;
    const struct conn_tls_cbs *cbs;
    void *owner;
    uint64_t started;    /* uv_now */
    uint64_t bytes_in;   /* ciphertext received */
    bool handshaken;
    bool reading;        /* the owner wants plaintext */
    bool tcp_reading;
    bool ended;          /* the owner was told the session ended */
    bool pumping, again; /* pump() is running; run it once more */
    enum keel_tls_reason failure;
    const char *failure_detail; /* NULL: the session's own */
    char rbuf[TCP_CHUNK];
};

/* One uv_write of ciphertext: the owner's data encrypted, or what the
 * session wrote by itself (handshake messages, alerts). */
struct tls_write
{
    uv_write_t req;
    struct conn_tls *t;
    void (*done)(void *owner, int status);
    char *data;
    size_t len, cap;
};

static void tcp_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void tcp_read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

static bool gone(const struct conn_tls *t)
{
    return t->ended || uv_is_closing((const uv_handle_t *)t->tcp);
}

/* ---- sending ciphertext -------------------------------------------------- */

static int drain_into(struct conn_tls *t, struct tls_write *w)
{
    size_t n;
    while ((n = keel_tls_pending(t->s)) > 0) {
        if (w->len + n > w->cap) {
            size_t cap = w->cap ? w->cap : TCP_CHUNK;
            while (cap < w->len + n) cap *= 2;
            char *d = realloc(w->data, cap);
            if (d == NULL) return -1;
            w->data = d;
            w->cap = cap;
        }
        w->len += keel_tls_drain(t->s, w->data + w->len, n);
    }
    return 0;
}

static void written_cb(uv_write_t *req, int status)
{
    struct tls_write *w = (struct tls_write *)req;
    struct conn_tls *t = w->t;
    void (*done)(void *owner, int status) = w->done;
    free(w->data);
    free(w);
    if (done != NULL) done(t->owner, status);
}

static int send_write(struct conn_tls *t, struct tls_write *w)
{
    uv_buf_t b = uv_buf_init(w->data, (unsigned)w->len);
    int rc = uv_write(&w->req, (uv_stream_t *)t->tcp, &b, 1, written_cb);
    if (rc != 0) {
        free(w->data);
        free(w);
    }
    return rc;
}

/* Send what the session wrote by itself. 0 or a libuv error. */
static int flush(struct conn_tls *t)
{
    if (keel_tls_pending(t->s) == 0) return 0;
    struct tls_write *w = calloc(1, sizeof *w);
    if (w == NULL) return UV_ENOMEM;
    w->t = t;
    if (drain_into(t, w) != 0) {
        free(w->data);
        free(w);
        return UV_ENOMEM;
    }
    return send_write(t, w);
}

int conn_tls_write(struct conn_tls *t, const void *data, size_t n, void (*done)(void *owner, int status))
{
    if (!t->handshaken || gone(t)) return UV_EINVAL;
    struct tls_write *w = calloc(1, sizeof *w);
    if (w == NULL) return UV_ENOMEM;
    w->t = t;
    w->done = done;
    /* In chunks, so that the session's buffer stays small: the ciphertext
     * gathers in w, about as long as the plaintext. */
    const char *p = data;
    while (n > 0) {
        size_t m = n < PLAIN_CHUNK ? n : PLAIN_CHUNK;
        if (keel_tls_write(t->s, p, m) != KEEL_TLS_OK || drain_into(t, w) != 0) {
            free(w->data);
            free(w);
            return UV_EPROTO;
        }
        p += m;
        n -= m;
    }
    return send_write(t, w);
}

/* ---- reading ------------------------------------------------------------- */

static void end(struct conn_tls *t, int status)
{
    t->ended = true;
    if (t->tcp_reading) {
        uv_read_stop((uv_stream_t *)t->tcp);
        t->tcp_reading = false;
    }
    t->cbs->read(t->owner, status);
}

/* Read the TCP handle while the handshake runs or the owner reads. */
static void tcp_follow(struct conn_tls *t)
{
    if (gone(t)) return;
    bool want = !t->handshaken || t->reading;
    if (want && !t->tcp_reading) {
        int rc = uv_read_start((uv_stream_t *)t->tcp, tcp_alloc_cb, tcp_read_cb);
        if (rc != 0) end(t, rc);
        else t->tcp_reading = true;
    } else if (!want && t->tcp_reading) {
        uv_read_stop((uv_stream_t *)t->tcp);
        t->tcp_reading = false;
    }
}

/* Advance the handshake, then hand plaintext over while the owner reads. */
static void step(struct conn_tls *t)
{
    if (!t->handshaken) {
        int rc = keel_tls_handshake(t->s);
        int sent = flush(t); /* an alert that says why goes out before the close */
        if (rc == KEEL_TLS_ERROR) {
            t->failure = keel_tls_reason(t->s);
            end(t, UV_EPROTO);
            return;
        }
        if (sent != 0) {
            end(t, sent);
            return;
        }
        if (rc == KEEL_TLS_WANT) {
            tcp_follow(t);
            return;
        }
        t->handshaken = true;
        if (t->cbs->handshake != NULL) t->cbs->handshake(t->owner);
        if (gone(t)) return;
    }
    while (t->reading && !gone(t)) {
        uv_buf_t b = uv_buf_init(NULL, 0);
        t->cbs->alloc(t->owner, &b);
        if (b.base == NULL || b.len == 0) {
            end(t, UV_ENOBUFS);
            return;
        }
        size_t got = 0;
        int rc = keel_tls_read(t->s, b.base, b.len, &got);
        int sent = flush(t);
        if (rc == KEEL_TLS_CLOSED) {
            end(t, UV_EOF);
            return;
        }
        if (rc != KEEL_TLS_OK) {
            end(t, UV_EPROTO);
            return;
        }
        if (sent != 0) {
            end(t, sent);
            return;
        }
        if (got == 0) break;
        t->cbs->read(t->owner, (ssize_t)got); /* may stop reading, or close */
    }
    tcp_follow(t);
}

/* step(), never nested: an owner's callback that restarts reading from
 * inside a step gets another round after it instead. */
static void pump(struct conn_tls *t)
{
    if (t->pumping) {
        t->again = true;
        return;
    }
    t->pumping = true;
    do {
        t->again = false;
        if (!gone(t)) step(t);
    } while (t->again && !gone(t));
    t->pumping = false;
}

static void tcp_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct conn_tls *t = h->data;
    (void)hint;
    *buf = uv_buf_init(t->rbuf, sizeof t->rbuf);
}

static void tcp_read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct conn_tls *t = stream->data;
    if (nread == 0 || gone(t)) return;
    if (nread < 0) {
        if (!t->handshaken && t->bytes_in > 0) {
            t->failure = KEEL_TLS_R_HANDSHAKE;
            t->failure_detail = "closed during the TLS handshake";
        }
        end(t, (int)nread);
        return;
    }
    t->bytes_in += (uint64_t)nread;
    if (keel_tls_feed(t->s, buf->base, (size_t)nread) != KEEL_TLS_OK) {
        end(t, UV_ENOMEM);
        return;
    }
    pump(t);
}

int conn_tls_read_start(struct conn_tls *t)
{
    if (gone(t)) return UV_EINVAL;
    t->reading = true;
    pump(t);
    return 0;
}

void conn_tls_read_stop(struct conn_tls *t)
{
    t->reading = false;
    if (!t->pumping) tcp_follow(t); /* else the step ends with it */
}

/* ---- lifetime ------------------------------------------------------------ */

struct conn_tls *conn_tls_new(struct keel_tls_ctx *ctx, uv_tcp_t *tcp, bool server, const struct conn_tls_cbs *cbs,
                              void *owner)
{
    struct conn_tls *t = calloc(1, sizeof *t);
    if (t == NULL) return NULL;
    t->s = keel_tls_new(ctx, server);
    if (t->s == NULL) {
        free(t);
        return NULL;
    }
    t->tcp = tcp;
    t->cbs = cbs;
    t->owner = owner;
    t->started = uv_now(tcp->loop);
    tcp->data = t;
    return t;
}

void conn_tls_free(struct conn_tls *t)
{
    if (t == NULL) return;
    keel_tls_free(t->s);
    free(t);
}

bool conn_tls_handshaken(const struct conn_tls *t)
{
    return t->handshaken;
}

uint64_t conn_tls_started(const struct conn_tls *t)
{
    return t->started;
}

enum keel_tls_reason conn_tls_failure(const struct conn_tls *t, const char **detail)
{
    *detail = t->failure_detail ? t->failure_detail : keel_tls_detail(t->s);
    return t->handshaken ? KEEL_TLS_R_NONE : t->failure;
}

const char *conn_tls_version(const struct conn_tls *t)
{
    return keel_tls_version(t->s);
}

bool conn_tls_peer_cert(const struct conn_tls *t)
{
    return keel_tls_peer_has_cert(t->s);
}
