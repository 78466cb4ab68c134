/* libkeel async: TLS connections. The handshake (and AUTH) are blocking
 * code (client_dial.c, client_tls.c: the same as the sync client's), so
 * they run on the loop's threadpool (uv_queue_work), bounded by
 * connect_timeout_ms; what comes back is the plain end of the TLS bridge,
 * a socketpair, opened as a uv_pipe_t: from there on the connection is
 * driven like a TCP one (client_async_conn.c). The loop never blocks; a
 * threadpool thread is held for at most connect_timeout_ms per dial.
 *
 * The dial counts as one of a->handles from conn_start until dial_done,
 * so the client is not freed under it; given up meanwhile (timeout,
 * close), the aconn is detached and dial_done frees it (closing the fd). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/client/client_async_internal.h"

struct adial
{
    uv_work_t req;
    struct aconn *k;
    char host[64];
    int port;
    int64_t deadline;
    int rc, fd;
    char why[256];
};

static void dial_work(uv_work_t *req)
{
    struct adial *d = req->data;
    /* Reads only the client's options and SSL_CTX (fixed after open). */
    d->rc = client_dial_fd(&d->k->owner->b, d->host, d->port, d->deadline, &d->fd, d->why, sizeof d->why);
}

static void dial_done(uv_work_t *req, int status)
{
    struct adial *d = req->data;
    struct aconn *k = d->k;
    struct keel_async *owner = k->owner, *a = k->a;
    k->dialing = false;
    if (status != 0 && d->rc == 0) d->rc = KEEL_EIO, snprintf(d->why, sizeof d->why, "cancelled");
    if (a != NULL && d->rc == 0) {
        uv_pipe_init(a->loop, &k->pipe, 0);
        k->pipe.data = k;
        if (uv_pipe_open(&k->pipe, d->fd) == 0) {
            free(d);
            async_conn_stream_up(k, true); /* AUTH was part of the dial */
            return;
        }
        /* The pipe handle exists: it closes (and frees k) as any other. */
        free(d);
        async_conn_give_up(a, "cannot open the TLS bridge", ASYNC_NEXT);
        return;
    }
    if (d->rc == 0) close(d->fd);
    if (a != NULL) { /* failed while attached: detach, then retry or end */
        a->conn = NULL;
        k->a = NULL;
    }
    if (k->reader) redisReaderFree(k->reader);
    char at[80];
    snprintf(at, sizeof at, "%s", k->at);
    free(k);
    if (a != NULL && d->rc == KEEL_EAUTH) {
        char why[KEEL_ERRMSG_SIZE];
        snprintf(why, sizeof why, "%s: %s", at, d->why);
        async_conn_give_up(a, NULL, ASYNC_CLOSE);
        async_fail_all(a, KEEL_EAUTH, why);
    } else if (a != NULL) {
        client_note(&a->b, at, d->why);
        async_conn_give_up(a, NULL, ASYNC_NEXT);
    }
    free(d);
    async_handle_closed(owner); /* last: it may free the client */
}

void async_tls_start(struct keel_async *a, struct aconn *k, const char *host, int port)
{
    struct adial *d = calloc(1, sizeof *d);
    if (d != NULL) {
        d->k = k;
        snprintf(d->host, sizeof d->host, "%s", host);
        d->port = port;
        d->fd = -1;
        d->deadline = client_now_ms() + a->b.o.connect_timeout_ms;
        d->req.data = d;
    }
    if (d == NULL || uv_queue_work(a->loop, &d->req, dial_work, dial_done) != 0) {
        free(d);
        k->dialing = false; /* no handle was made: undo by hand */
        a->conn = NULL;
        k->a = NULL;
        redisReaderFree(k->reader);
        free(k);
        a->handles--;
        client_note(&a->b, host, "cannot start the TLS dial");
        async_conn_give_up(a, NULL, ASYNC_SAME);
    }
}
