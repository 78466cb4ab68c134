/* api/server: TLS on a connected uv_tcp_t, for a plaintext reader and writer
 * above it (the client connections of conn.c; later the forwarding
 * connection to the leader, forward_conn.c).
 *
 * The engine is raft/tls.h (OpenSSL 3 on memory BIOs): this layer reads the
 * TCP handle, feeds the ciphertext in, takes plaintext out into the owner's
 * buffers and encrypts the owner's writes. Its shape is libuv's stream
 * calls (read start/stop, write with a completion), so an owner changes
 * little: conn_tls_read_start/stop instead of uv_read_start/stop,
 * conn_tls_write instead of uv_write, and uv_close on the TCP handle as
 * ever.
 *
 * While the owner reads, the TCP handle is read; when it stops (its
 * back-pressure), the TCP handle stops being read too, and plaintext
 * already decrypted waits inside the session: conn_tls_read_start hands it
 * over, from inside the call. The handshake reads the TCP handle whatever
 * the owner does.
 *
 * Ownership: the TCP handle stays the owner's, but its data pointer is this
 * layer's from conn_tls_new on (the owner finds itself by other means, e.g.
 * container_of). Free with conn_tls_free in the TCP handle's close callback
 * (libuv has then called back every write). Loop thread only. */
#ifndef KEEL_API_SERVER_CONN_TLS_H
#define KEEL_API_SERVER_CONN_TLS_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "raft/tls.h"

struct conn_tls;

struct conn_tls_cbs
{
    /* Room for plaintext: buf->len 0 means no memory (the read then fails
     * with UV_ENOBUFS). */
    void (*alloc)(void *owner, uv_buf_t *buf);
    /* n > 0 bytes were put at the start of the last room given. n < 0: the
     * session ended: UV_EOF (the peer closed, cleanly or not), UV_EPROTO
     * (TLS failed: conn_tls_failure says why), UV_ENOBUFS, or a TCP error.
     * Nothing more is read after an end; the owner closes the TCP handle. */
    void (*read)(void *owner, ssize_t n);
    /* The handshake completed (the peer's certificate, if any, verified).
     * May be NULL. */
    void (*handshake)(void *owner);
};

/* server: accept (true) or connect. NULL if out of memory. */
struct conn_tls *conn_tls_new(struct keel_tls_ctx *ctx, uv_tcp_t *tcp, bool server, const struct conn_tls_cbs *cbs,
                              void *owner);
void conn_tls_free(struct conn_tls *t);

/* Start (or resume) handing plaintext to the owner. 0, or a libuv error. */
int conn_tls_read_start(struct conn_tls *t);
void conn_tls_read_stop(struct conn_tls *t);

/* Encrypt data (all n bytes; the caller may reuse it on return) and send
 * it; done(owner, status) once the ciphertext is written (status < 0: it
 * was not). Only after the handshake. 0, or an error: then done is never
 * called. */
int conn_tls_write(struct conn_tls *t, const void *data, size_t n, void (*done)(void *owner, int status));

bool conn_tls_handshaken(const struct conn_tls *t);
/* Loop ms (uv_now) when the connection began. */
uint64_t conn_tls_started(const struct conn_tls *t);
/* Why the session failed before its handshake completed: KEEL_TLS_R_NONE if
 * it did not (or the peer closed before sending a byte: a port probe, not
 * a TLS client). *detail: OpenSSL's words. */
enum keel_tls_reason conn_tls_failure(const struct conn_tls *t, const char **detail);
/* After the handshake: the protocol version ("TLSv1.3") and whether the
 * peer presented a certificate. */
const char *conn_tls_version(const struct conn_tls *t);
bool conn_tls_peer_cert(const struct conn_tls *t);

#endif /* KEEL_API_SERVER_CONN_TLS_H */
