/* libkeel: endpoints and the connection (see include/keel/client.h for the
 * contract; the retry loop is in client_call.c). Built on hiredis's blocking
 * API: one connection, a socket timeout set to what is left of a deadline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "api/client_internal.h"

int64_t client_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t rnd(struct keel_client *c)
{
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    return c->rng;
}

static int split_addr(const char *text, char *host, size_t hsize, int *port)
{
    const char *colon = strrchr(text, ':');
    char *end;
    if (colon == NULL || colon == text || (size_t)(colon - text) >= hsize) return -1;
    long p = strtol(colon + 1, &end, 10);
    if (*end != 0 || p <= 0 || p > 65535) return -1;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = 0;
    *port = (int)p;
    return 0;
}

static int parse_endpoints(struct keel_client *c, const char *list, char *errmsg, size_t size)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *w = strtok_r(buf, ", ", &save); w; w = strtok_r(NULL, ", ", &save)) {
        if (c->n == MAX_ENDPOINTS)
            return snprintf(errmsg, size, "more than %d endpoints", MAX_ENDPOINTS), KEEL_EINVAL;
        struct endpoint *e = &c->ep[c->n];
        if (split_addr(w, e->host, sizeof e->host, &e->port) != 0)
            return snprintf(errmsg, size, "endpoint '%s': want host:port", w), KEEL_EINVAL;
        char text[sizeof e->text];
        snprintf(text, sizeof text, "%s:%d", e->host, e->port);
        memcpy(e->text, text, sizeof text);
        c->n++;
    }
    if (c->n == 0) return snprintf(errmsg, size, "no endpoints in '%s'", list), KEEL_EINVAL;
    return 0;
}

int keel_client_open(const struct keel_client_options *o, struct keel_client **out, char *errmsg,
                     size_t size)
{
    struct keel_client *c = calloc(1, sizeof *c);
    if (c == NULL) return snprintf(errmsg, size, "out of memory"), KEEL_ENOMEM;
    if (o != NULL) c->o = *o;
    const char *list = c->o.endpoints ? c->o.endpoints : getenv("KEEL_ENDPOINTS");
    int rc = parse_endpoints(c, list && *list ? list : "127.0.0.1:7379", errmsg, size);
    if (rc != 0) {
        free(c);
        return rc;
    }
    if (c->o.timeout_ms == 0) c->o.timeout_ms = 5000;
    if (c->o.connect_timeout_ms == 0) c->o.connect_timeout_ms = 1000;
    if (c->o.backoff_min_ms == 0) c->o.backoff_min_ms = 10;
    if (c->o.backoff_max_ms == 0) c->o.backoff_max_ms = 500;
    uint64_t seed[2] = {0, 0};
    if (getrandom(seed, sizeof seed, 0) != (ssize_t)sizeof seed) seed[0] = (uint64_t)client_now_ms() ^ (uint64_t)(uintptr_t)c;
    c->id = c->o.client_id ? c->o.client_id : (seed[0] & INT64_MAX) | 1;
    c->rng = seed[1] | 1;
    c->cur = (unsigned)(rnd(c) % c->n); /* spread clients over the endpoints */
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
    free(c);
}

uint64_t keel_client_id(const struct keel_client *c)
{
    return c->id;
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

static redisContext *dial(const char *host, int port, int64_t ms, char *why, size_t size)
{
    redisContext *ctx = redisConnectWithTimeout(host, port, client_tv(ms));
    if (ctx == NULL) {
        snprintf(why, size, "out of memory");
        return NULL;
    }
    if (ctx->err) {
        snprintf(why, size, "%s", client_is_timeout(ctx) ? "timed out" : ctx->errstr);
        redisFree(ctx);
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
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 3 && r->element[0]->type == REDIS_REPLY_STRING &&
        strcmp(r->element[0]->str, "slave") == 0 && r->element[1]->type == REDIS_REPLY_STRING &&
        r->element[1]->len > 0 && r->element[2]->type == REDIS_REPLY_INTEGER) {
        char host[64], why[96];
        snprintf(host, sizeof host, "%s", r->element[1]->str);
        int port = (int)r->element[2]->integer;
        int64_t ms = deadline - client_now_ms();
        redisContext *l = ms > 0 ? dial(host, port, ms < c->o.connect_timeout_ms ? ms : c->o.connect_timeout_ms,
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
    if (ms > c->o.connect_timeout_ms) ms = c->o.connect_timeout_ms;
    char host[64], why[96];
    int port;
    if (c->hint[0] && split_addr(c->hint, host, sizeof host, &port) == 0) {
        c->ctx = dial(host, port, ms, why, sizeof why);
        if (c->ctx) snprintf(c->now_at, sizeof c->now_at, "%s", c->hint);
        c->hint[0] = 0;
        if (c->ctx) return 0;
    }
    struct endpoint *e = &c->ep[c->cur];
    c->ctx = dial(e->host, e->port, ms, e->why, sizeof e->why);
    if (c->ctx == NULL) {
        c->cur = (c->cur + 1) % c->n;
        return -1;
    }
    snprintf(c->now_at, sizeof c->now_at, "%s", e->text);
    prefer_leader(c, deadline);
    return c->ctx ? 0 : -1;
}

/* Remember why the connection failed, and move on to the next endpoint. */
void client_give_up(struct keel_client *c, const char *why)
{
    for (unsigned i = 0; i < c->n; i++)
        if (strcmp(c->ep[i].text, c->now_at) == 0) snprintf(c->ep[i].why, sizeof c->ep[i].why, "%s", why);
    client_drop(c);
    c->cur = (c->cur + 1) % c->n;
}

void client_backoff(struct keel_client *c, unsigned round, int64_t deadline)
{
    uint64_t cap = c->o.backoff_min_ms;
    for (unsigned i = 0; i < round && cap < c->o.backoff_max_ms; i++) cap *= 2;
    if (cap > c->o.backoff_max_ms) cap = c->o.backoff_max_ms;
    int64_t ms = (int64_t)(cap / 2 + rnd(c) % (cap / 2 + 1)); /* jitter: half to all of it */
    int64_t left = deadline - client_now_ms();
    if (ms > left) ms = left;
    if (ms <= 0) return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

void client_describe(struct keel_client *c, bool maybe, unsigned timeout_ms, char *errmsg, size_t size)
{
    size_t off = (size_t)snprintf(errmsg, size, "%s after %u ms:", maybe ? "outcome unknown (the write may have applied)"
                                                                         : "no leader",
                                  timeout_ms);
    for (unsigned i = 0; i < c->n && off < size; i++)
        off += (size_t)snprintf(errmsg + off, size - off, "%s %s %s", i ? "," : "", c->ep[i].text,
                                c->ep[i].why[0] ? c->ep[i].why : "not tried");
}

