/* libkeel: what the sync and async clients share: the options and their
 * defaults, the endpoint list and why each endpoint last failed, the
 * client id and random source, the backoff, the leader named by ROLE, and
 * what an error reply means for the retry loop (see include/keel/client.h
 * for the contract both clients keep). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "api/client/client_internal.h"
#include "common/xorshift.h"

int64_t client_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t client_rnd(struct client_base *b)
{
    return xorshift64(&b->rng);
}

int client_split_addr(const char *text, char *host, size_t hsize, int *port)
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

static int parse_endpoints(struct client_base *b, const char *list, char *errmsg, size_t size)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *w = strtok_r(buf, ", ", &save); w; w = strtok_r(NULL, ", ", &save)) {
        if (b->n == MAX_ENDPOINTS)
            return snprintf(errmsg, size, "more than %d endpoints", MAX_ENDPOINTS), KEEL_EINVAL;
        struct endpoint *e = &b->ep[b->n];
        if (client_split_addr(w, e->host, sizeof e->host, &e->port) != 0)
            return snprintf(errmsg, size, "endpoint '%s': want host:port", w), KEEL_EINVAL;
        char text[sizeof e->text];
        snprintf(text, sizeof text, "%s:%d", e->host, e->port);
        memcpy(e->text, text, sizeof text);
        b->n++;
    }
    if (b->n == 0) return snprintf(errmsg, size, "no endpoints in '%s'", list), KEEL_EINVAL;
    return 0;
}

/* One allocation holds the copies of user, password and the TLS names,
 * so that one explicit_bzero wipes them all. */
static int keep_secrets(struct client_base *b, char *errmsg, size_t size)
{
    const char **names[] = {&b->o.user, &b->o.password, &b->o.tls_ca_file, &b->o.tls_cert_file,
                            &b->o.tls_key_file, &b->o.tls_server_name};
    size_t n = sizeof names / sizeof *names, total = 0;
    for (size_t i = 0; i < n; i++) total += *names[i] ? strlen(*names[i]) + 1 : 0;
    if (total == 0) return 0;
    if ((b->secrets = malloc(total)) == NULL) return snprintf(errmsg, size, "out of memory"), KEEL_ENOMEM;
    b->secrets_len = total;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        if (*names[i] == NULL) continue;
        size_t len = strlen(*names[i]) + 1;
        memcpy(b->secrets + off, *names[i], len);
        *names[i] = b->secrets + off;
        off += len;
    }
    return 0;
}

void client_base_free(struct client_base *b)
{
    if (b->secrets) explicit_bzero(b->secrets, b->secrets_len);
    free(b->secrets);
    b->secrets = NULL;
    b->o.user = b->o.password = NULL;
    b->o.tls_ca_file = b->o.tls_cert_file = b->o.tls_key_file = b->o.tls_server_name = NULL;
    client_tls_free(b->tls);
    b->tls = NULL;
}

int client_base_init(struct client_base *b, const struct keel_client_options *o, char *errmsg, size_t size)
{
    memset(b, 0, sizeof *b);
    if (o != NULL) b->o = *o;
    const char *list = b->o.endpoints ? b->o.endpoints : getenv("KEEL_ENDPOINTS");
    int rc = parse_endpoints(b, list && *list ? list : "127.0.0.1:7379", errmsg, size);
    if (rc != 0) return rc;
    b->o.endpoints = NULL; /* the caller's strings need not outlive the open */
    if ((rc = keep_secrets(b, errmsg, size)) != 0) return rc;
    if (b->o.tls && (rc = client_tls_new(&b->o, &b->tls, errmsg, size)) != 0) {
        client_base_free(b);
        return rc;
    }
    if (b->o.timeout_ms == 0) b->o.timeout_ms = 5000;
    if (b->o.connect_timeout_ms == 0) b->o.connect_timeout_ms = 1000;
    if (b->o.backoff_min_ms == 0) b->o.backoff_min_ms = 10;
    if (b->o.backoff_max_ms == 0) b->o.backoff_max_ms = 500;
    uint64_t seed[2] = {0, 0};
    if (getrandom(seed, sizeof seed, 0) != (ssize_t)sizeof seed)
        seed[0] = (uint64_t)client_now_ms() ^ (uint64_t)(uintptr_t)b;
    b->id = b->o.client_id ? b->o.client_id : (seed[0] & INT64_MAX) | 1;
    b->rng = seed[1] | 1;
    b->cur = (unsigned)(client_rnd(b) % b->n); /* spread clients over the endpoints */
    return 0;
}

int64_t client_backoff_ms(struct client_base *b, unsigned round)
{
    uint64_t cap = b->o.backoff_min_ms;
    for (unsigned i = 0; i < round && cap < b->o.backoff_max_ms; i++) cap *= 2;
    if (cap > b->o.backoff_max_ms) cap = b->o.backoff_max_ms;
    return (int64_t)(cap / 2 + client_rnd(b) % (cap / 2 + 1)); /* jitter: half to all of it */
}

void client_note(struct client_base *b, const char *at, const char *why)
{
    for (unsigned i = 0; i < b->n; i++)
        if (strcmp(b->ep[i].text, at) == 0) snprintf(b->ep[i].why, sizeof b->ep[i].why, "%s", why);
}

void client_forget_whys(struct client_base *b)
{
    for (unsigned i = 0; i < b->n; i++) b->ep[i].why[0] = 0;
}

void client_describe(const struct client_base *b, bool maybe, unsigned timeout_ms, char *errmsg, size_t size)
{
    size_t off = (size_t)snprintf(errmsg, size, "%s after %u ms:", maybe ? "outcome unknown (the write may have applied)"
                                                                         : "no leader",
                                  timeout_ms);
    for (unsigned i = 0; i < b->n && off < size; i++)
        off += (size_t)snprintf(errmsg + off, size - off, "%s %s %s", i ? "," : "", b->ep[i].text,
                                b->ep[i].why[0] ? b->ep[i].why : "not tried");
}

bool client_role_leader(const redisReply *r, char *host, size_t hsize, int *port)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 3 || r->element[0]->type != REDIS_REPLY_STRING ||
        strcmp(r->element[0]->str, "slave") != 0 || r->element[1]->type != REDIS_REPLY_STRING ||
        r->element[1]->len == 0 || r->element[1]->len >= hsize || r->element[2]->type != REDIS_REPLY_INTEGER)
        return false;
    snprintf(host, hsize, "%s", r->element[1]->str);
    *port = (int)r->element[2]->integer;
    return true;
}

bool client_hint_ok(const struct client_base *b, const char *host, int port)
{
    if (b->tls == NULL) return true;
    for (unsigned i = 0; i < b->n; i++)
        if (b->ep[i].port == port && strcmp(b->ep[i].host, host) == 0) return true;
    return false;
}

static bool starts(const redisReply *r, const char *word)
{
    size_t n = strlen(word);
    return r->len >= n && strncmp(r->str, word, n) == 0 && (r->len == n || r->str[n] == ' ');
}

enum client_verdict client_verdict(struct client_base *b, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ERROR) return CLIENT_ANSWER;
    if (starts(r, "MOVED")) {
        /* "MOVED 0 host:port": the leader, straight away */
        const char *sp = strrchr(r->str, ' ');
        if (sp) snprintf(b->hint, sizeof b->hint, "%s", sp + 1);
        return CLIENT_MOVED;
    }
    if (starts(r, "TRYAGAIN")) return CLIENT_TRYAGAIN;
    if (starts(r, "UNCERTAIN")) return CLIENT_UNCERTAIN;
    if (starts(r, "BUSY")) return CLIENT_BUSY;
    return CLIENT_ANSWER;
}

void client_sigpipe_block(struct client_sigpipe *g)
{
    sigset_t pipe, pending;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    sigpending(&pending);
    g->pending_before = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe, &g->old);
}

void client_sigpipe_restore(struct client_sigpipe *g)
{
    sigset_t pipe, pending;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    sigpending(&pending);
    if (!g->pending_before && sigismember(&pending, SIGPIPE) == 1) {
        struct timespec zero = {0, 0};
        sigtimedwait(&pipe, NULL, &zero); /* ours: consume it */
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

int client_words(const char *word, va_list ap, const char **argv, size_t *lens, int max)
{
    int argc = 0;
    for (const char *w = word; w != NULL; w = va_arg(ap, const char *)) {
        if (argc == max) return -1;
        argv[argc] = w;
        lens[argc++] = strlen(w);
    }
    return argc;
}
