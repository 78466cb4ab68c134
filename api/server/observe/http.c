/* api: the HTTP endpoint on libmicrohttpd. See http.h for the threading. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/server/observe/http.h"
#include "keel/error.h"

/* A snapshot older than this means the loop stopped publishing. */
#define STALE_MS 3000

struct http
{
    struct MHD_Daemon *daemon;
    pthread_mutex_t lock;
    struct http_snapshot snap;   /* under lock */
    int64_t published_ms;        /* monotonic; 0: nothing yet */
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, const char *type,
                             const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (code == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return rc;
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

static enum MHD_Result health(struct http *h, struct MHD_Connection *conn)
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
    if (!strcmp(url, "/metrics")) return published(h, conn, true);
    if (!strcmp(url, "/status")) return published(h, conn, false);
    if (!strcmp(url, "/ready")) return ready(h, conn);
    return health(h, conn);
}

int http_start(const char *addr, unsigned max_conns, struct http **out, char *errmsg)
{
    char ip[64];
    unsigned port;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    *out = NULL;
    if (sscanf(addr, "%63[^:]:%u", ip, &port) != 2 || port == 0 || port > 65535 ||
        inet_pton(AF_INET, ip, &sa.sin_addr) != 1) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "http address %s: want IPv4:PORT", addr);
        return KEEL_EINVAL;
    }
    sa.sin_port = htons((uint16_t)port);
    struct http *h = calloc(1, sizeof *h);
    if (h == NULL) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "out of memory");
        return KEEL_ENOMEM;
    }
    pthread_mutex_init(&h->lock, NULL);
    h->daemon = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, (uint16_t)port, NULL, NULL, handler, h,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                 MHD_OPTION_CONNECTION_LIMIT, max_conns,
                                 MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    if (h->daemon == NULL) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "http: cannot listen on %s (address in use?)", addr);
        pthread_mutex_destroy(&h->lock);
        free(h);
        return KEEL_EIO;
    }
    *out = h;
    return 0;
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
