/* libkeel: TLS to a node's --tls-port (OpenSSL 3), for the sync client
 * and keel_connect_fd.
 *
 * hiredis 0.14 (Debian 12) has no TLS, and everything above it (the sync
 * client, keelctl's per-node questions, the jepsen runner) reads and writes
 * a plain socket. So the TLS connection is handed back as a plain stream:
 * after the handshake (in the caller's thread, bounded by its deadline) a
 * socketpair is made and one thread per connection copies bytes between
 * its far end and the TLS session until either side closes. Closing the
 * near end (redisFree, close) is all the caller does: the thread then sees
 * EOF, sends close_notify, frees the session and exits. The copy costs a
 * hop through the kernel per read and write; it buys TLS for every caller
 * without a second RESP stack.
 *
 * At exit the process waits (at most 2 s) for bridges whose plain end was
 * already closed to finish: a thread cut off mid-teardown would leave its
 * session unfreed (and LeakSanitizer would say so).
 *
 * Verification: the chain always, against tls_ca_file (or the system's
 * store); the name only when tls_server_name is set, as redis-cli does
 * (nodes are usually named by IP, and keeld's certificates by member id). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api/client/client_internal.h"

static void ssl_why(const char *what, char *why, size_t size)
{
    unsigned long e = ERR_get_error();
    char buf[160];
    if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
    else snprintf(buf, sizeof buf, "%s", errno ? strerror(errno) : "failed");
    ERR_clear_error();
    snprintf(why, size, "%s: %s", what, buf);
}

int client_tls_new(const struct keel_client_options *o, void **out, char *errmsg, size_t size)
{
    *out = NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) return snprintf(errmsg, size, "TLS: out of memory"), KEEL_ENOMEM;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    int rc = 0;
    if (o->tls_ca_file ? SSL_CTX_load_verify_locations(ctx, o->tls_ca_file, NULL) != 1
                       : SSL_CTX_set_default_verify_paths(ctx) != 1) {
        ssl_why("TLS CA file", errmsg, size);
        rc = KEEL_EINVAL;
    } else if ((o->tls_cert_file == NULL) != (o->tls_key_file == NULL)) {
        snprintf(errmsg, size, "TLS: a client certificate needs both a cert file and a key file");
        rc = KEEL_EINVAL;
    } else if (o->tls_cert_file &&
               (SSL_CTX_use_certificate_chain_file(ctx, o->tls_cert_file) != 1 ||
                SSL_CTX_use_PrivateKey_file(ctx, o->tls_key_file, SSL_FILETYPE_PEM) != 1 ||
                SSL_CTX_check_private_key(ctx) != 1)) {
        ssl_why("TLS client certificate", errmsg, size);
        rc = KEEL_EINVAL;
    }
    if (rc != 0) {
        SSL_CTX_free(ctx);
        return rc;
    }
    *out = ctx;
    return 0;
}

void client_tls_free(void *tls)
{
    SSL_CTX_free(tls);
}

/* Wait for fd to be ready for SSL's want, until deadline: 0, or -1. */
static int wait_for(int fd, int err, int64_t deadline)
{
    int64_t ms = deadline - client_now_ms();
    if (ms <= 0) return -1;
    struct pollfd p = {fd, (short)(err == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN), 0};
    return poll(&p, 1, (int)ms) == 1 ? 0 : -1;
}

/* Bridges still running, for the wait at exit. */
static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t live_cv = PTHREAD_COND_INITIALIZER;
static unsigned live;
static bool exit_wait_registered;

static void bridges_wait_at_exit(void)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 2;
    pthread_mutex_lock(&live_mu);
    while (live > 0 && pthread_cond_timedwait(&live_cv, &live_mu, &until) == 0) {
    }
    pthread_mutex_unlock(&live_mu);
}

/* The bridge: plain bytes on `app` (the socketpair's far end) to and from
 * the TLS session on `ssl`'s socket. Both non-blocking; one poll. */
struct bridge
{
    SSL *ssl;
    int net, app;
    char up[16384];        /* app -> TLS */
    size_t up_len, up_off;
    char down[16384];      /* TLS -> app */
    size_t down_len, down_off;
};

/* One pass of every step that can progress; *ev_net and *ev_app are what
 * to wait for when none can. -1: one side is done. */
static int bridge_pass(struct bridge *b, bool *moved, short *ev_net, short *ev_app)
{
    *ev_net = *ev_app = 0;
    if (b->up_len == 0) {
        ssize_t n = recv(b->app, b->up, sizeof b->up, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return -1;
        if (n > 0) b->up_len = (size_t)n, b->up_off = 0, *moved = true;
        else *ev_app |= POLLIN;
    }
    if (b->up_len > 0) {
        int n = SSL_write(b->ssl, b->up + b->up_off, (int)(b->up_len - b->up_off));
        if (n > 0) {
            b->up_off += (size_t)n, *moved = true;
            if (b->up_off == b->up_len) b->up_len = 0;
        } else {
            int e = SSL_get_error(b->ssl, n);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) return -1;
            *ev_net |= e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
        }
    }
    if (b->down_len == 0) {
        int n = SSL_read(b->ssl, b->down, sizeof b->down);
        if (n > 0) b->down_len = (size_t)n, b->down_off = 0, *moved = true;
        else {
            int e = SSL_get_error(b->ssl, n);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) return -1;
            *ev_net |= e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
        }
    }
    if (b->down_len > 0) {
        ssize_t n = send(b->app, b->down + b->down_off, b->down_len - b->down_off, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINTR) return -1;
        if (n > 0) {
            b->down_off += (size_t)n, *moved = true;
            if (b->down_off == b->down_len) b->down_len = 0;
        } else *ev_app |= POLLOUT;
    }
    return 0;
}

static void *bridge_run(void *arg)
{
    struct bridge *b = arg;
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, NULL); /* a dead node's socket: EPIPE, not a dead process */
    for (;;) {
        bool moved = false;
        short ev_net, ev_app;
        if (bridge_pass(b, &moved, &ev_net, &ev_app) != 0) break;
        if (moved) continue;
        /* The app's end is read only when there is room (else it would
         * spin); its EOF is seen by the recv of the next pass. */
        struct pollfd p[2] = {{b->net, ev_net, 0}, {b->app, ev_app, 0}};
        if (poll(p, 2, -1) < 0 && errno != EINTR) break;
    }
    SSL_shutdown(b->ssl); /* best effort close_notify: the socket is non-blocking */
    SSL_free(b->ssl);
    close(b->net);
    close(b->app);
    free(b);
    OPENSSL_thread_stop(); /* this thread's OpenSSL state, before it goes */
    pthread_mutex_lock(&live_mu);
    live--;
    pthread_cond_broadcast(&live_cv);
    pthread_mutex_unlock(&live_mu);
    return NULL;
}

int client_tls_wrap(void *tls, const char *server_name, int net, int64_t deadline, int *app, char *why,
                    size_t size)
{
    SSL *ssl = SSL_new(tls);
    if (ssl == NULL || SSL_set_fd(ssl, net) != 1) {
        SSL_free(ssl);
        return snprintf(why, size, "TLS: out of memory"), KEEL_ENOMEM;
    }
    if (server_name && (SSL_set_tlsext_host_name(ssl, server_name) != 1 || SSL_set1_host(ssl, server_name) != 1)) {
        SSL_free(ssl);
        return snprintf(why, size, "TLS: bad server name"), KEEL_EINVAL;
    }
    int flags = fcntl(net, F_GETFL);
    fcntl(net, F_SETFL, flags | O_NONBLOCK);
    ERR_clear_error();
    for (;;) {
        int rc = SSL_connect(ssl);
        if (rc == 1) break;
        int e = SSL_get_error(ssl, rc);
        if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) && wait_for(net, e, deadline) == 0) continue;
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) snprintf(why, size, "TLS handshake timed out");
        else if (SSL_get_verify_result(ssl) != X509_V_OK)
            snprintf(why, size, "TLS: certificate verify failed: %s",
                     X509_verify_cert_error_string(SSL_get_verify_result(ssl)));
        else ssl_why("TLS handshake", why, size);
        ERR_clear_error();
        SSL_free(ssl);
        return KEEL_EIO;
    }
    int pair[2];
    struct bridge *b = calloc(1, sizeof *b);
    if (b == NULL || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
        free(b);
        SSL_free(ssl);
        return snprintf(why, size, "TLS: %s", b ? strerror(errno) : "out of memory"), KEEL_ENOMEM;
    }
    fcntl(pair[1], F_SETFL, fcntl(pair[1], F_GETFL) | O_NONBLOCK);
    b->ssl = ssl, b->net = net, b->app = pair[1];
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 128 * 1024); /* the buffers are on the heap */
    pthread_mutex_lock(&live_mu);
    if (!exit_wait_registered) exit_wait_registered = atexit(bridges_wait_at_exit) == 0;
    live++;
    pthread_mutex_unlock(&live_mu);
    int rc = pthread_create(&t, &attr, bridge_run, b);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        pthread_mutex_lock(&live_mu);
        live--;
        pthread_mutex_unlock(&live_mu);
        close(pair[0]);
        close(pair[1]);
        free(b);
        SSL_free(ssl);
        return snprintf(why, size, "TLS: no thread: %s", strerror(rc)), KEEL_ENOMEM;
    }
    *app = pair[0]; /* the net socket is the bridge's now */
    return 0;
}
