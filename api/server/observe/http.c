/* api: the HTTP endpoint on libmicrohttpd. See http.h for the threading. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <time.h>

#include "api/server/log.h"
#include "api/server/observe/http.h"
#include "keel/error.h"

/* A snapshot older than this means the loop stopped publishing. */
#define STALE_MS 3000
/* Refused requests are logged at most this often (with a count of the rest). */
#define UNAUTH_LOG_EVERY_MS 10000
/* GnuTLS's defaults without TLS 1.0 and 1.1 (the raft port's floor too). */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

const char *const http_unauth_names[HTTP_UNAUTH_COUNT] = {"missing", "invalid"};

struct http
{
    struct MHD_Daemon *daemon;
    pthread_mutex_t lock;
    struct http_snapshot snap;   /* under lock */
    int64_t published_ms;        /* monotonic; 0: nothing yet */
    const char *token;           /* NULL: no token asked */
    size_t token_len;
    _Atomic uint64_t unauthorized[HTTP_UNAUTH_COUNT];
    int64_t unauth_logged_ms;    /* under lock: the last refusal logged (0: none) */
    uint64_t unauth_unlogged;    /* under lock: refusals not logged since */
    atomic_bool started;         /* libmicrohttpd's messages: start-up errors, then debug lines */
    char start_error[256];
    /* what a restart for new certificates (http_reload_tls) needs */
    struct sockaddr_in sa;
    unsigned max_conns;
    const char *cert_pem, *key_pem; /* in use; NULL: plain HTTP */
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* libmicrohttpd's messages: the first one while starting is the reason a
 * start failed; later ones (a client's failed TLS handshake, ...) are debug. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct http *h = cls;
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\r\n")] = 0;
    if (!atomic_load(&h->started)) {
        if (h->start_error[0] == 0) snprintf(h->start_error, sizeof h->start_error, "%s", msg);
    } else {
        log_debug("http: %s", msg);
    }
}

static enum MHD_Result reply_with(struct MHD_Connection *conn, unsigned code, const char *type, const char *body,
                                  size_t len, const char *header, const char *value)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL) return MHD_NO;
    if (header != NULL) MHD_add_response_header(r, header, value);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (code == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, const char *type, const char *body,
                             size_t len)
{
    return reply_with(conn, code, type, body, len, NULL, NULL);
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned code, const char *text)
{
    return reply(conn, code, "text/plain; charset=utf-8", text, strlen(text));
}

/* Is name in the comma-separated list? */
static bool listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        if (strncasecmp(p, name, n) == 0 && (p[n] == ',' || p[n] == 0)) return true;
    }
    return false;
}

/* JSON string escaping for the reasons (they may quote keys or paths). */
static size_t json_str(char *out, size_t size, const char *s)
{
    size_t o = 0;
    if (o < size) out[o++] = '"';
    for (; *s && o + 7 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') out[o++] = '\\', out[o++] = (char)c;
        else if (c < 0x20) o += (size_t)snprintf(out + o, size - o, "\\u%04x", c);
        else out[o++] = (char)c;
    }
    if (o < size) out[o++] = '"';
    return o;
}

/* /health; without detail (a token is asked and the request has none) only
 * the verdict: the reasons name members, terms and sizes. */
static enum MHD_Result health(struct http *h, struct MHD_Connection *conn, bool detail)
{
    const char *format = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "format");
    const char *exclude = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "exclude");
    bool json = format != NULL && strcmp(format, "json") == 0;
    struct http_reason reasons[HTTP_MAX_REASONS + 1];
    unsigned n = 0;
    pthread_mutex_lock(&h->lock);
    int64_t age = mono_ms() - h->published_ms;
    if (h->published_ms == 0) {
        snprintf(reasons[n].alarm, sizeof reasons[n].alarm, "%s", "");
        snprintf(reasons[n++].text, sizeof reasons[0].text, "starting");
    } else if (age > STALE_MS) {
        reasons[n].alarm[0] = 0;
        snprintf(reasons[n++].text, sizeof reasons[0].text,
                 "event loop stalled: no state published for %lld ms", (long long)age);
    }
    for (unsigned i = 0; i < h->snap.nreasons && n < HTTP_MAX_REASONS + 1; i++) {
        if (h->snap.reasons[i].alarm[0] && exclude && listed(exclude, h->snap.reasons[i].alarm)) continue;
        reasons[n++] = h->snap.reasons[i];
    }
    pthread_mutex_unlock(&h->lock);
    if (n > 0 && !detail) {
        reasons[0].alarm[0] = 0;
        snprintf(reasons[0].text, sizeof reasons[0].text, "%s", "reasons withheld: send the bearer token");
        n = 1;
    }
    char body[8192];
    size_t o = 0;
    if (json) {
        o += (size_t)snprintf(body, sizeof body, "{\"health\":\"%s\",\"reasons\":[", n ? "unhealthy" : "ok");
        for (unsigned i = 0; i < n && o + 600 < sizeof body; i++) {
            o += (size_t)snprintf(body + o, sizeof body - o, "%s{\"alarm\":", i ? "," : "");
            if (reasons[i].alarm[0]) o += json_str(body + o, sizeof body - o, reasons[i].alarm);
            else o += (size_t)snprintf(body + o, sizeof body - o, "null");
            o += (size_t)snprintf(body + o, sizeof body - o, ",\"reason\":");
            o += json_str(body + o, sizeof body - o, reasons[i].text);
            o += (size_t)snprintf(body + o, sizeof body - o, "}");
        }
        o += (size_t)snprintf(body + o, sizeof body - o, "]}\n");
        return reply(conn, n ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK, "application/json", body,
                     o < sizeof body ? o : sizeof body - 1);
    }
    if (n == 0) return reply_text(conn, MHD_HTTP_OK, "ok\n");
    for (unsigned i = 0; i < n && o + 300 < sizeof body; i++) {
        if (reasons[i].alarm[0])
            o += (size_t)snprintf(body + o, sizeof body - o, "alarm %s: %s\n", reasons[i].alarm, reasons[i].text);
        else
            o += (size_t)snprintf(body + o, sizeof body - o, "%s\n", reasons[i].text);
    }
    return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, body);
}

/* Serve a copy of one published string (metrics or status). */
static enum MHD_Result published(struct http *h, struct MHD_Connection *conn, bool metrics)
{
    pthread_mutex_lock(&h->lock);
    const char *s = metrics ? h->snap.metrics : h->snap.status_json;
    enum MHD_Result rc;
    if (s == NULL) rc = reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "starting\n");
    else if (metrics) rc = reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", s, strlen(s));
    else rc = reply(conn, MHD_HTTP_OK, "application/json", s, strlen(s));
    pthread_mutex_unlock(&h->lock);
    return rc;
}

static enum MHD_Result ready(struct http *h, struct MHD_Connection *conn)
{
    char text[200];
    pthread_mutex_lock(&h->lock);
    bool ok = h->published_ms != 0 && h->snap.ready;
    snprintf(text, sizeof text, "%s\n", h->published_ms == 0 ? "starting" : ok ? "ready" : h->snap.ready_reason);
    pthread_mutex_unlock(&h->lock);
    return reply_text(conn, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, text);
}

/* Equal, in a time that depends only on the length of want. */
static bool same(const char *want, size_t wlen, const char *got, size_t glen)
{
    volatile unsigned char diff = wlen != glen;
    for (size_t i = 0; i < wlen; i++) diff |= (unsigned char)(want[i] ^ (i < glen ? got[i] : 0));
    return diff == 0;
}

/* -1 if the request carries "Authorization: Bearer <the token>", else why not. */
static int authorize(const struct http *h, struct MHD_Connection *conn)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (v == NULL || strncasecmp(v, "Bearer ", 7) != 0) return HTTP_UNAUTH_MISSING;
    for (v += 7; *v == ' '; v++) {}
    size_t n = strlen(v);
    while (n > 0 && v[n - 1] == ' ') n--;
    return same(h->token, h->token_len, v, n) ? -1 : HTTP_UNAUTH_INVALID;
}

/* 401, counted and logged (at most once per UNAUTH_LOG_EVERY_MS). The
 * token presented is never logged. */
static enum MHD_Result unauthorized(struct http *h, struct MHD_Connection *conn, const char *method, const char *url,
                                    int why)
{
    atomic_fetch_add(&h->unauthorized[why], 1);
    pthread_mutex_lock(&h->lock);
    int64_t now = mono_ms();
    bool log = h->unauth_logged_ms == 0 || now - h->unauth_logged_ms >= UNAUTH_LOG_EVERY_MS;
    uint64_t more = h->unauth_unlogged;
    if (log) {
        h->unauth_logged_ms = now;
        h->unauth_unlogged = 0;
    } else {
        h->unauth_unlogged++;
    }
    pthread_mutex_unlock(&h->lock);
    if (log) {
        char ip[INET6_ADDRSTRLEN] = "?", also[80] = "";
        if (more) snprintf(also, sizeof also, " (and %llu more since the last report)", (unsigned long long)more);
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci != NULL && ci->client_addr != NULL && ci->client_addr->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, ip, sizeof ip);
        log_warn("http: %s %s from %s refused: %s bearer token%s", method, url, ip,
                 why == HTTP_UNAUTH_MISSING ? "no" : "wrong", also);
    }
    return reply_with(conn, MHD_HTTP_UNAUTHORIZED, "text/plain; charset=utf-8",
                      "unauthorized: send Authorization: Bearer <token>\n",
                      strlen("unauthorized: send Authorization: Bearer <token>\n"), MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                      why == HTTP_UNAUTH_MISSING ? "Bearer realm=\"keel\""
                                                 : "Bearer realm=\"keel\", error=\"invalid_token\"");
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    struct http *h = cls;
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)con_cls;
    bool known = !strcmp(url, "/metrics") || !strcmp(url, "/health") || !strcmp(url, "/ready") ||
                 !strcmp(url, "/status");
    if (!known) return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found: try /metrics /health /ready /status\n");
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: GET only\n");
    int why = h->token != NULL ? authorize(h, conn) : -1;
    bool data = !strcmp(url, "/metrics") || !strcmp(url, "/status");
    if (data && why >= 0) return unauthorized(h, conn, method, url, why);
    if (!strcmp(url, "/metrics")) return published(h, conn, true);
    if (!strcmp(url, "/status")) return published(h, conn, false);
    if (!strcmp(url, "/ready")) return ready(h, conn);
    return health(h, conn, why < 0);
}

/* A daemon serving h with this certificate (NULL: plain HTTP); on fd when
 * it is a socket handed over by a quiesced daemon, else bound to h->sa.
 * MHD_USE_ITC: what MHD_quiesce_daemon needs with an internal thread. */
static struct MHD_Daemon *start_daemon(struct http *h, const char *cert_pem, const char *key_pem, MHD_socket fd)
{
    bool tls = cert_pem != NULL;
    struct MHD_OptionItem tls_options[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)cert_pem},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)key_pem},
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES},
        {MHD_OPTION_END, 0, NULL},
    };
    struct MHD_OptionItem where[] = {
        fd != MHD_INVALID_SOCKET ? (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, (intptr_t)fd, NULL}
                                 : (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, (void *)&h->sa},
        {MHD_OPTION_END, 0, NULL},
    };
    return MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG | (tls ? MHD_USE_TLS : 0),
                            ntohs(h->sa.sin_port), NULL, NULL, handler, h,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
                            MHD_OPTION_ARRAY, where,
                            MHD_OPTION_CONNECTION_LIMIT, h->max_conns,
                            MHD_OPTION_CONNECTION_TIMEOUT, 10u,
                            MHD_OPTION_ARRAY, tls ? tls_options : &tls_options[3], MHD_OPTION_END);
}

int http_reload_tls(struct http *h, const char *cert_pem, const char *key_pem, char *errmsg, size_t size)
{
    if (h == NULL || h->cert_pem == NULL) return snprintf(errmsg, size, "the HTTP endpoint is not HTTPS"), -1;
    /* The old daemon stops accepting and hands its socket over: no moment
     * without a listener, no bind race with another process. */
    MHD_socket fd = MHD_quiesce_daemon(h->daemon);
    if (fd == MHD_INVALID_SOCKET) return snprintf(errmsg, size, "cannot take over the HTTPS listening socket"), -1;
    atomic_store(&h->started, false); /* libmicrohttpd's first message is the reason, if it fails */
    h->start_error[0] = 0;
    struct MHD_Daemon *old = h->daemon, *d = start_daemon(h, cert_pem, key_pem, fd);
    int rc = 0;
    if (d == NULL) {
        snprintf(errmsg, size, "libmicrohttpd refused the new HTTPS certificate: %s; the old one stays",
                 h->start_error[0] ? h->start_error : "?");
        d = start_daemon(h, h->cert_pem, h->key_pem, fd); /* it served a moment ago */
        rc = -1;
    } else {
        h->cert_pem = cert_pem;
        h->key_pem = key_pem;
    }
    atomic_store(&h->started, true);
    MHD_stop_daemon(old); /* ends its connections; it leaves the socket alone */
    h->daemon = d;
    if (d == NULL) {
        close(fd);
        snprintf(errmsg, size, "the HTTPS endpoint could not be restarted: it is off until keeld restarts");
        return -1;
    }
    return rc;
}

int http_start(const struct http_options *o, struct http **out, char *errmsg)
{
    char ip[64];
    unsigned port;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    bool tls = o->cert_pem != NULL;
    *out = NULL;
    if (sscanf(o->addr, "%63[^:]:%u", ip, &port) != 2 || port == 0 || port > 65535 ||
        inet_pton(AF_INET, ip, &sa.sin_addr) != 1) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "http address %s: want IPv4:PORT", o->addr);
        return KEEL_EINVAL;
    }
    if (tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "--http-tls: this libmicrohttpd was built without TLS");
        return KEEL_EINVAL;
    }
    sa.sin_port = htons((uint16_t)port);
    struct http *h = calloc(1, sizeof *h);
    if (h == NULL) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "out of memory");
        return KEEL_ENOMEM;
    }
    pthread_mutex_init(&h->lock, NULL);
    h->token = o->token;
    h->token_len = o->token ? strlen(o->token) : 0;
    h->sa = sa;
    h->max_conns = o->max_conns;
    h->cert_pem = o->cert_pem;
    h->key_pem = o->key_pem;
    h->daemon = start_daemon(h, o->cert_pem, o->key_pem, MHD_INVALID_SOCKET);
    if (h->daemon == NULL) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "http: cannot %s on %s: %s", tls ? "serve HTTPS" : "listen", o->addr,
                 h->start_error[0] ? h->start_error : "address in use?");
        pthread_mutex_destroy(&h->lock);
        free(h);
        return KEEL_EIO;
    }
    atomic_store(&h->started, true);
    *out = h;
    return 0;
}

uint64_t http_unauthorized(const struct http *h, int reason)
{
    return h != NULL && reason >= 0 && reason < HTTP_UNAUTH_COUNT ? atomic_load(&h->unauthorized[reason]) : 0;
}

void http_publish(struct http *h, struct http_snapshot *snap)
{
    struct http_snapshot old;
    pthread_mutex_lock(&h->lock);
    old = h->snap;
    h->snap = *snap;
    h->published_ms = mono_ms();
    pthread_mutex_unlock(&h->lock);
    free(old.metrics);
    free(old.status_json);
    memset(snap, 0, sizeof *snap);
}

void http_stop(struct http *h)
{
    if (h == NULL) return;
    MHD_stop_daemon(h->daemon);
    pthread_mutex_destroy(&h->lock);
    free(h->snap.metrics);
    free(h->snap.status_json);
    free(h);
}
