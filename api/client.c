/* libkeel: endpoints, the connection, and the retry loop (see
 * include/keel/client.h for the contract). Built on hiredis's blocking API:
 * one connection, a socket timeout set to what is left of the deadline. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "api/client_internal.h"

#define MAX_ENDPOINTS 16
#define MAX_ARGS 1024

struct endpoint
{
    char host[64];
    int port;
    char text[80];
    char why[96];  /* the last failure here, for error messages */
};

struct keel_client
{
    struct keel_client_options o;
    struct endpoint ep[MAX_ENDPOINTS];
    unsigned n;
    unsigned cur;          /* the endpoint connected to, or the next to try */
    redisContext *ctx;
    char now_at[80];       /* "host:port" of ctx */
    char hint[80];         /* the leader's address, from ROLE or -MOVED */
    uint64_t id, seq, rng;
};

static int64_t now_ms(void)
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
    if (getrandom(seed, sizeof seed, 0) != (ssize_t)sizeof seed) seed[0] = (uint64_t)now_ms() ^ (uint64_t)(uintptr_t)c;
    c->id = c->o.client_id ? c->o.client_id : (seed[0] & INT64_MAX) | 1;
    c->rng = seed[1] | 1;
    c->cur = (unsigned)(rnd(c) % c->n); /* spread clients over the endpoints */
    *out = c;
    return 0;
}

static void drop(struct keel_client *c)
{
    if (c->ctx) redisFree(c->ctx);
    c->ctx = NULL;
    c->now_at[0] = 0;
}

void keel_client_close(struct keel_client *c)
{
    if (c == NULL) return;
    drop(c);
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

static struct timeval tv_of(int64_t ms)
{
    if (ms < 1) ms = 1;
    return (struct timeval){(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
}

/* hiredis reports a socket timeout as the errno text of the failed call. */
static bool is_timeout(const redisContext *ctx)
{
    return ctx->err == REDIS_ERR_IO &&
           (strstr(ctx->errstr, "temporarily unavailable") || strstr(ctx->errstr, "timed out") ||
            strstr(ctx->errstr, "in progress"));
}

static redisContext *dial(const char *host, int port, int64_t ms, char *why, size_t size)
{
    redisContext *ctx = redisConnectWithTimeout(host, port, tv_of(ms));
    if (ctx == NULL) {
        snprintf(why, size, "out of memory");
        return NULL;
    }
    if (ctx->err) {
        snprintf(why, size, "%s", is_timeout(ctx) ? "timed out" : ctx->errstr);
        redisFree(ctx);
        return NULL;
    }
    return ctx;
}

/* A follower names the leader in ROLE: connect there instead, so writes
 * take one hop (followers forward, so staying is only slower). */
static void prefer_leader(struct keel_client *c, int64_t deadline)
{
    redisSetTimeout(c->ctx, tv_of(deadline - now_ms()));
    redisReply *r = redisCommand(c->ctx, "ROLE");
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 3 && r->element[0]->type == REDIS_REPLY_STRING &&
        strcmp(r->element[0]->str, "slave") == 0 && r->element[1]->type == REDIS_REPLY_STRING &&
        r->element[1]->len > 0 && r->element[2]->type == REDIS_REPLY_INTEGER) {
        char host[64], why[96];
        snprintf(host, sizeof host, "%s", r->element[1]->str);
        int port = (int)r->element[2]->integer;
        int64_t ms = deadline - now_ms();
        redisContext *l = ms > 0 ? dial(host, port, ms < c->o.connect_timeout_ms ? ms : c->o.connect_timeout_ms,
                                        why, sizeof why)
                                 : NULL;
        if (l != NULL) {
            drop(c);
            c->ctx = l;
            snprintf(c->now_at, sizeof c->now_at, "%s:%d", host, port);
        }
    }
    if (r) freeReplyObject(r);
    else drop(c); /* the endpoint died under us */
}

/* Connect to the hinted leader, else the current endpoint. */
static int ensure_connected(struct keel_client *c, int64_t deadline)
{
    if (c->ctx) return 0;
    int64_t ms = deadline - now_ms();
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
static void give_up_on(struct keel_client *c, const char *why)
{
    for (unsigned i = 0; i < c->n; i++)
        if (strcmp(c->ep[i].text, c->now_at) == 0) snprintf(c->ep[i].why, sizeof c->ep[i].why, "%s", why);
    drop(c);
    c->cur = (c->cur + 1) % c->n;
}

static void backoff(struct keel_client *c, unsigned round, int64_t deadline)
{
    uint64_t cap = c->o.backoff_min_ms;
    for (unsigned i = 0; i < round && cap < c->o.backoff_max_ms; i++) cap *= 2;
    if (cap > c->o.backoff_max_ms) cap = c->o.backoff_max_ms;
    int64_t ms = (int64_t)(cap / 2 + rnd(c) % (cap / 2 + 1)); /* jitter: half to all of it */
    int64_t left = deadline - now_ms();
    if (ms > left) ms = left;
    if (ms <= 0) return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void describe(struct keel_client *c, bool maybe, unsigned timeout_ms, char *errmsg, size_t size)
{
    size_t off = (size_t)snprintf(errmsg, size, "%s after %u ms:", maybe ? "outcome unknown (the write may have applied)"
                                                                         : "no leader",
                                  timeout_ms);
    for (unsigned i = 0; i < c->n && off < size; i++)
        off += (size_t)snprintf(errmsg + off, size - off, "%s %s %s", i ? "," : "", c->ep[i].text,
                                c->ep[i].why[0] ? c->ep[i].why : "not tried");
}

static bool starts(const redisReply *r, const char *word)
{
    size_t n = strlen(word);
    return r->len >= n && strncmp(r->str, word, n) == 0 && (r->len == n || r->str[n] == ' ');
}

int keel_call(struct keel_client *c, int argc, const char *const *argv, const size_t *lens,
              struct keel_value **reply, char *errmsg, size_t size)
{
    const char *av[MAX_ARGS + 3];
    size_t al[MAX_ARGS + 3];
    char ids[2][24];
    *reply = NULL;
    if (argc <= 0 || argc > MAX_ARGS) return snprintf(errmsg, size, "a command has 1 to %d words", MAX_ARGS), KEEL_EINVAL;
    int n = 0;
    bool write = keel_is_write(argv[0], lens[0]);
    if (write) {
        /* The same (client, seq) on every attempt: applied at most once. */
        snprintf(ids[0], sizeof ids[0], "%llu", (unsigned long long)c->id);
        snprintf(ids[1], sizeof ids[1], "%llu", (unsigned long long)++c->seq);
        av[n] = "KEEL.REQ", al[n++] = 8;
        av[n] = ids[0], al[n++] = strlen(ids[0]);
        av[n] = ids[1], al[n++] = strlen(ids[1]);
    }
    for (int i = 0; i < argc; i++) av[n] = argv[i], al[n++] = lens[i];
    for (unsigned i = 0; i < c->n; i++) c->ep[i].why[0] = 0;

    int64_t deadline = now_ms() + c->o.timeout_ms;
    bool maybe = false;
    for (unsigned round = 0; now_ms() < deadline; round++) {
        if (ensure_connected(c, deadline) != 0) {
            backoff(c, round, deadline);
            continue;
        }
        redisSetTimeout(c->ctx, tv_of(deadline - now_ms()));
        redisReply *r = redisCommandArgv(c->ctx, n, av, al);
        if (r == NULL) {
            /* Sent, perhaps, and no answer: a write may have applied. */
            maybe |= write;
            give_up_on(c, is_timeout(c->ctx) ? "timed out" : c->ctx->errstr);
            backoff(c, round, deadline);
            continue;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            char why[96];
            snprintf(why, sizeof why, "%.90s", r->str);
            if (starts(r, "MOVED")) {
                /* "MOVED 0 host:port": the leader, straight away */
                const char *sp = strrchr(r->str, ' ');
                if (sp) snprintf(c->hint, sizeof c->hint, "%s", sp + 1);
                freeReplyObject(r);
                drop(c);
                continue;
            }
            if (starts(r, "TRYAGAIN") || starts(r, "UNCERTAIN")) {
                maybe |= starts(r, "UNCERTAIN");
                freeReplyObject(r);
                give_up_on(c, why); /* this node has no leader now: try another */
                backoff(c, round, deadline);
                continue;
            }
            if (starts(r, "BUSY")) {
                freeReplyObject(r);
                for (unsigned i = 0; i < c->n; i++)
                    if (strcmp(c->ep[i].text, c->now_at) == 0) snprintf(c->ep[i].why, sizeof c->ep[i].why, "%s", why);
                backoff(c, round, deadline);
                continue;
            }
        }
        *reply = client_value_from(r);
        freeReplyObject(r);
        if (*reply == NULL) return snprintf(errmsg, size, "out of memory"), KEEL_ENOMEM;
        return 0;
    }
    describe(c, maybe, c->o.timeout_ms, errmsg, size);
    return maybe ? KEEL_EUNCERTAIN : KEEL_ENOTLEADER;
}

int keel_callv(struct keel_client *c, struct keel_value **reply, char *errmsg, size_t size, const char *word, ...)
{
    const char *argv[64];
    size_t lens[64];
    int argc = 0;
    va_list ap;
    va_start(ap, word);
    for (const char *w = word; w != NULL && argc < 64; w = va_arg(ap, const char *)) {
        argv[argc] = w;
        lens[argc++] = strlen(w);
    }
    va_end(ap);
    return keel_call(c, argc, argv, lens, reply, errmsg, size);
}
