/* libkeel async: the client of include/keel/client.h on the caller's libuv loop.
 *
 * The same contract as the sync client: the leader found through ROLE, a
 * call that meets a lost connection, a timeout, -TRYAGAIN, -MOVED, -BUSY or
 * -UNCERTAIN sent again (to the next endpoint, after a capped exponential
 * backoff with jitter) until its deadline (timeout_ms after the call was
 * made), writes wrapped in KEEL.REQ <client id> <seq> so that they apply
 * exactly once, and an outcome that stays unknown reported as
 * KEEL_EUNCERTAIN, never as a failure.
 *
 * Many calls may be outstanding: they are pipelined on one connection and
 * their callbacks run in the order the calls were made. After a reconnect,
 * every call not yet answered is sent again, in order. A transaction
 * (MULTI, commands, EXEC or DISCARD, made as separate calls) is sent and
 * retried as a whole: its calls share MULTI's deadline and their callbacks
 * run together once EXEC (or DISCARD) is answered.
 *
 * Threads: everything (open, call, close, every callback) on the loop's
 * thread. Callbacks run from the loop, never from inside keel_async_call or
 * keel_async_close. The library never logs and never exits the process.
 * Like any libuv program writing to sockets, the process must ignore
 * SIGPIPE (signal(SIGPIPE, SIG_IGN)): libuv writes with write(2), and a
 * write to a connection whose node died would otherwise kill it.
 * Endpoints must be numeric addresses (IPv4, IPv6 or "localhost"): the
 * loop is never blocked on a name lookup.
 * AUTH (options user/password) is the first command on every connection;
 * a refusal ends every pending call KEEL_EAUTH (not retried). TLS (options
 * tls, tls_*): the TCP connect, handshake and AUTH run on the loop's
 * threadpool (uv_queue_work), each dial holding one pool thread for at
 * most connect_timeout_ms; the connection is then driven on the loop like
 * a TCP one. */
#ifndef KEEL_ASYNC_H
#define KEEL_ASYNC_H

#include <uv.h>

#include <keel/client.h>

struct keel_async;

/* A call's end, run once per accepted call, on the loop.
 * status: 0 with reply set (a KEEL_VALUE_ERROR reply is the server's answer,
 * e.g. WRONGTYPE); KEEL_EUNCERTAIN for a write that may or may not have
 * applied; KEEL_ENOTLEADER when no node could serve it before the deadline
 * (certainly not applied); KEEL_ESHUTDOWN when the client was closed before
 * the call was sent (certainly not applied; a write already sent when the
 * client closed ends KEEL_EUNCERTAIN); KEEL_ENOMEM.
 * reply: the callback's to free with keel_value_free (NULL unless status 0).
 * errmsg: "" on success, else the reason naming each endpoint tried; valid
 * only during the callback. The callback may make calls and may close a. */
typedef void (*keel_async_cb)(struct keel_async *a, int status, struct keel_value *reply, const char *errmsg,
                              void *data);

/* Parse the options (as keel_client_open; no connection is made until the
 * first call). KEEL_EINVAL on a bad endpoint list, with the reason in
 * errmsg. *out is the caller's, released with keel_async_close; the loop
 * must outlive it. */
KEEL_API int keel_async_open(uv_loop_t *loop, const struct keel_client_options *o, struct keel_async **out,
                             char *errmsg, size_t size);

/* Queue one command; argv and lens are copied before it returns. 0: cb will
 * run exactly once, later, from the loop. Otherwise cb never runs:
 * KEEL_EINVAL (no words, or more than 1024), KEEL_ENOMEM, KEEL_ESHUTDOWN
 * (the client is closing). */
KEEL_API int keel_async_call(struct keel_async *a, int argc, const char *const *argv, const size_t *lens,
                             keel_async_cb cb, void *data);
/* The same from NUL-terminated words: keel_async_callv(a, cb, data, "INCR", "n", NULL).
 * At most 64 words (KEEL_EINVAL beyond, and cb never runs: use keel_async_call). */
KEEL_API int keel_async_callv(struct keel_async *a, keel_async_cb cb, void *data, const char *word, ...)
    __attribute__((sentinel));

/* Close the connection and release a. Every call still outstanding ends,
 * in order, KEEL_ESHUTDOWN (or KEEL_EUNCERTAIN: a write that was sent),
 * then closed_cb (may be NULL) runs; all from the loop, after which a is
 * freed and none of its handles remain on the loop. Calls made from then
 * on are refused (KEEL_ESHUTDOWN). Call it once. */
KEEL_API void keel_async_close(struct keel_async *a, void (*closed_cb)(void *data), void *data);

/* The id this client's writes carry. */
KEEL_API uint64_t keel_async_id(const struct keel_async *a);
/* "host:port" of the connection that is serving calls now, or "". */
KEEL_API const char *keel_async_endpoint(const struct keel_async *a);

#endif /* KEEL_ASYNC_H */
