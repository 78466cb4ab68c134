/* libkeel async internals shared by client_async.c (calls: the queue, the
 * deadlines, the callbacks, open and close) and client_async_conn.c (the
 * connection: connect, ROLE, write, read, give up, back off). */
#ifndef KEEL_API_CLIENT_ASYNC_INTERNAL_H
#define KEEL_API_CLIENT_ASYNC_INTERNAL_H

#include <uv.h>

#include "api/client/client_internal.h"
#include "keel/async.h"

/* One call, from keel_async_call to its callback. */
struct acall
{
    struct acall *next;
    char *cmd;             /* the command as sent (RESP, KEEL.REQ included) */
    size_t len;
    int64_t deadline;      /* client_now_ms() clock */
    keel_async_cb cb;
    void *data;
    bool write;            /* carries a sequence number (KEEL.REQ) */
    bool maybe;            /* a write that was sent and may have applied */
    unsigned txn;          /* nonzero: in the MULTI ... EXEC numbered so */
    bool txn_end;          /* EXEC or DISCARD: the transaction's replies go with it */
    redisReply *held;      /* a transaction's reply waiting for EXEC's */
};

/* One connection: TCP, or (TLS) the plain end of libkeel's TLS bridge
 * (client_tls.c) as a pipe, opened off the loop (client_async_tls.c). It
 * outlives its use: given up, it is detached from the client (a = NULL)
 * and freed in its close callback (or, still dialing, when the dial ends). */
struct aconn
{
    union {
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    };
    uv_connect_t connect;
    struct keel_async *a;  /* NULL: given up, closing */
    struct keel_async *owner;
    redisReader *reader;
    char at[80];           /* "host:port" */
    bool dialing;          /* TLS: the dial runs on the threadpool; no handle yet */
    bool auth;             /* waiting for AUTH's answer (before ROLE and calls) */
    bool role;             /* waiting for ROLE's answer before sending calls */
    bool ready;            /* calls flow */
    char buf[16384];       /* read into, then fed to the reader (which copies) */
};

struct keel_async
{
    struct client_base b;
    uv_loop_t *loop;
    uv_timer_t deadline_timer;  /* the oldest call's deadline */
    uv_timer_t retry_timer;     /* connect timeout, or the backoff pause */
    struct aconn *conn;         /* NULL: none (backing off, or idle) */
    /* The calls, oldest first: [head, answer) answered (held, in a
     * transaction), [answer, send) sent and waiting, [send, end) not sent. */
    struct acall *head, *tail, *answer, *send;
    unsigned round;             /* failures since the last answer, for the backoff */
    bool in_multi;              /* the calls made are inside MULTI */
    unsigned txn, txn_last;
    int64_t txn_deadline;
    bool closing;
    unsigned handles;           /* timers and connections not yet closed */
    void (*closed_cb)(void *data);
    void *closed_data;
};

/* client_async.c */
/* An answer for the call at `answer`; takes r. */
void async_on_reply(struct keel_async *a, redisReply *r);
/* End every call now with status (none was sent): a refused AUTH. */
void async_fail_all(struct keel_async *a, int status, const char *why);
/* The loop, for the handles' close callbacks: one more handle closed. */
void async_handle_closed(struct keel_async *a);

/* client_async_conn.c */
/* Make calls flow: send what is unsent if connected, else start connecting
 * (unless a backoff pause is running). Never runs a call's callback. */
void async_conn_kick(struct keel_async *a);
enum async_retry {
    ASYNC_NEXT,            /* note why, move to the next endpoint, pause */
    ASYNC_SAME,            /* note why, stay on this endpoint, pause (-BUSY) */
    ASYNC_NOW,             /* go again at once (-MOVED: the hint is set) */
    ASYNC_CLOSE,           /* the client is closing: no retry */
};
/* Drop the connection; every call not yet delivered goes again (a write
 * sent and unanswered becomes maybe). Never runs a call's callback. */
void async_conn_give_up(struct keel_async *a, const char *why, enum async_retry how);
void async_retry_cb(uv_timer_t *t);
/* The stream is connected (k->tcp or k->pipe initialized): read, then
 * AUTH (unless authed), ROLE (if k->role), calls. */
void async_conn_stream_up(struct aconn *k, bool authed);

/* client_async_tls.c: dial host:port (TCP, TLS, AUTH: client_dial.c) on
 * the loop's threadpool for k (attached, dialing, counted in a->handles),
 * then open the plain end as k->pipe and go on (async_conn_stream_up). */
void async_tls_start(struct keel_async *a, struct aconn *k, const char *host, int port);

#endif /* KEEL_API_CLIENT_ASYNC_INTERNAL_H */
