/* libkeel: the sync client's connection (see include/keel/client.h for the
 * contract; what both clients share is in client_base.c, the retry loop in
 * client_call.c). Built on hiredis's blocking API: one connection, a socket
 * timeout set to what is left of a deadline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/client/client_internal.h"

int keel_client_open(const struct keel_client_options *o, struct keel_client **out, char *errmsg,
                     size_t size)
{
    struct keel_client *c = calloc(1, sizeof *c);
    if (c == NULL) return snprintf(errmsg, size, "out of memory"), KEEL_ENOMEM;
    int rc = client_base_init(&c->b, o, errmsg, size);
    if (rc != 0) {
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void client_drop(struct keel_client *c)
{
    if (c->ctx) redisFree(c->ctx);
    c->ctx = NULL;
    c->now_at[0] = 0;
}

void keel_client_close(struct keel_client *c)
{
    if (c == NULL) return;
    client_drop(c);
    client_base_free(&c->b);
    free(c);
}

uint64_t keel_client_id(const struct keel_client *c)
{
    return c->b.id;
}

const char *keel_client_endpoint(const struct keel_client *c)
{
    return c->now_at;
}

struct timeval client_tv(int64_t ms)
{
    if (ms < 1) ms = 1;
    return (struct timeval){(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
}

/* hiredis reports a socket timeout as the errno text of the failed call. */
bool client_is_timeout(const redisContext *ctx)
{
    return ctx->err == REDIS_ERR_IO &&
           (strstr(ctx->errstr, "temporarily unavailable") || strstr(ctx->errstr, "timed out") ||
            strstr(ctx->errstr, "in progress"));
}

/* TCP, TLS and AUTH (client_dial.c), then hiredis on the plain socket. A
 * refused AUTH is kept in c->auth_error: the call ends with it, no retry. */
static redisContext *dial(struct keel_client *c, const char *host, int port, int64_t ms, char *why, size_t size)
{
    int fd = -1;
    struct client_sigpipe g;
    client_sigpipe_block(&g);
    int rc = client_dial_fd(&c->b, host, port, client_now_ms() + ms, &fd, why, size);
    client_sigpipe_restore(&g);
    if (rc != 0) {
        if (rc == KEEL_EAUTH) snprintf(c->auth_error, sizeof c->auth_error, "%s:%d: %s", host, port, why);
        return NULL;
    }
    redisContext *ctx = redisConnectFd(fd);
    if (ctx == NULL || ctx->err) {
        snprintf(why, size, "out of memory");
        if (ctx) redisFree(ctx); /* closes fd */
        else close(fd);
        return NULL;
    }
    return ctx;
}

/* A follower names the leader in ROLE: connect there instead, so writes
 * take one hop (followers forward, so staying is only slower). */
static void prefer_leader(struct keel_client *c, int64_t deadline)
{
    redisSetTimeout(c->ctx, client_tv(deadline - client_now_ms()));
    redisReply *r = redisCommand(c->ctx, "ROLE");
    char host[64], why[96];
    int port;
    if (client_role_leader(r, host, sizeof host, &port) && client_hint_ok(&c->b, host, port)) {
        int64_t ms = deadline - client_now_ms();
        redisContext *l = ms > 0 ? dial(c, host, port, ms < c->b.o.connect_timeout_ms ? ms : c->b.o.connect_timeout_ms,
                                        why, sizeof why)
                                 : NULL;
        if (l != NULL) {
            client_drop(c);
            c->ctx = l;
            snprintf(c->now_at, sizeof c->now_at, "%s:%d", host, port);
        }
    }
    if (r) freeReplyObject(r);
    else client_drop(c); /* the endpoint died under us */
}

/* Connect to the hinted leader, else the current endpoint. */
int client_connect(struct keel_client *c, int64_t deadline)
{
    if (c->ctx) return 0;
    int64_t ms = deadline - client_now_ms();
    if (ms > c->b.o.connect_timeout_ms) ms = c->b.o.connect_timeout_ms;
    char host[64], why[96];
    int port;
    if (c->b.hint[0] && client_split_addr(c->b.hint, host, sizeof host, &port) == 0 &&
        client_hint_ok(&c->b, host, port)) {
        c->ctx = dial(c, host, port, ms, why, sizeof why);
        if (c->ctx) snprintf(c->now_at, sizeof c->now_at, "%s", c->b.hint);
        c->b.hint[0] = 0;
        if (c->ctx) return 0;
    }
    c->b.hint[0] = 0;
    struct endpoint *e = &c->b.ep[c->b.cur];
    c->ctx = dial(c, e->host, e->port, ms, e->why, sizeof e->why);
    if (c->ctx == NULL) {
        c->b.cur = (c->b.cur + 1) % c->b.n;
        return -1;
    }
    snprintf(c->now_at, sizeof c->now_at, "%s", e->text);
    struct client_sigpipe g;
    client_sigpipe_block(&g);
    prefer_leader(c, deadline);
    client_sigpipe_restore(&g);
    return c->ctx ? 0 : -1;
}

/* Remember why the connection failed, and move on to the next endpoint. */
void client_give_up(struct keel_client *c, const char *why)
{
    client_note(&c->b, c->now_at, why);
    client_drop(c);
    c->b.cur = (c->b.cur + 1) % c->b.n;
}

void client_backoff(struct keel_client *c, unsigned round, int64_t deadline)
{
    int64_t ms = client_backoff_ms(&c->b, round);
    int64_t left = deadline - client_now_ms();
    if (ms > left) ms = left;
    if (ms <= 0) return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}
