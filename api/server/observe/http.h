/* api: keeld's HTTP endpoint (--http-addr): /metrics, /health, /ready,
 * /status, served by libmicrohttpd on its own polling thread.
 *
 * Threading: the loop thread owns every piece of node state; the HTTP
 * thread never touches it. The loop builds a complete, consistent snapshot
 * (api/server/observe/observe.c, every 250 ms and on role changes) and hands it over with
 * http_publish(); a request copies what it needs out of the current
 * snapshot under a mutex. Why not hand each request to the loop (uv_async +
 * condvar)? A scrape or a probe must answer even when the loop is busy or
 * wedged, and must never add work or latency to raft's thread; the cost is
 * data up to 250 ms old, which no scraper or probe notices. A loop that
 * stops publishing makes /health answer 503 ("event loop stalled").
 *
 * Security (docs/security.md, "HTTPS and the metrics token"): with a
 * certificate and key the endpoint speaks only HTTPS (libmicrohttpd's TLS,
 * GnuTLS underneath; TLS 1.2 at least). With a token, /metrics and /status
 * answer 401 unless the request carries "Authorization: Bearer <token>"
 * (compared in constant time); /health and /ready stay open for probes,
 * and /health then withholds its reasons from a request without the token. */
#ifndef KEEL_API_HTTP_H
#define KEEL_API_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#define HTTP_MAX_REASONS 16

/* One reason the node is unhealthy. `alarm` names the alarm behind it
 * ("" for the basic checks), so /health?exclude=NAME can leave it out. */
struct http_reason
{
    char alarm[24];
    char text[240];
};

/* Everything the endpoints serve, built on the loop. Strings are heap
 * allocated; http_publish() takes them over. */
struct http_snapshot
{
    char *metrics;      /* Prometheus text format 0.0.4 */
    char *status_json;  /* this node's keelctl status row */
    bool ready;
    char ready_reason[160];
    unsigned nreasons;  /* 0: healthy */
    struct http_reason reasons[HTTP_MAX_REASONS];
};

struct http;

/* The endpoint's secrets, read from files at start (http_secrets.c): PEM
 * certificate chain and key (both or neither: HTTPS), the bearer token
 * (NULL: none). */
struct http_secrets
{
    char *cert_pem;
    char *key_pem;
    char *token;
};

/* Read the files that are not NULL: cert_file and key_file together (the
 * key must be unencrypted and match the certificate), token_file alone (one
 * line of 16 to 4096 visible ASCII characters; a trailing newline is
 * dropped). token_file being readable by group or others is reported in
 * warning (a sentence, "" if none). -1 with a one-line reason naming the
 * option in errmsg. Any thread. */
int http_secrets_load(const char *cert_option, const char *cert_file, const char *key_option,
                      const char *key_file, const char *token_file, struct http_secrets *out, char *errmsg,
                      size_t size, char *warning, size_t wsize);
/* Wipe and free what http_secrets_load read. */
void http_secrets_free(struct http_secrets *s);

/* New HTTPS certificate and key (PEM; they must stay valid while in use,
 * the old ones until this returns): a new daemon takes over the listening
 * socket, the old one ends its connections. On failure the old pair keeps
 * serving. 0, or -1 with the reason. Loop thread. */
int http_reload_tls(struct http *h, const char *cert_pem, const char *key_pem, char *errmsg, size_t size);

struct http_options
{
    const char *addr;        /* "IPv4:PORT" */
    unsigned max_conns;
    const char *cert_pem;    /* with key_pem: HTTPS only; NULL: plain HTTP */
    const char *key_pem;
    const char *token;       /* NULL: /metrics and /status open */
};

/* Why a request for /metrics or /status was refused. */
enum { HTTP_UNAUTH_MISSING, HTTP_UNAUTH_INVALID, HTTP_UNAUTH_COUNT };
extern const char *const http_unauth_names[HTTP_UNAUTH_COUNT];

/* Listen on o->addr with at most o->max_conns connections, each closed
 * after 10 s idle. The strings in o must outlive h. Errors: KEEL_EINVAL
 * (bad address, or this libmicrohttpd has no TLS), KEEL_EIO
 * (cannot listen, or the certificate was refused), with a reason in errmsg
 * (KEEL_ERRMSG_SIZE). Loop thread. */
int http_start(const struct http_options *o, struct http **out, char *errmsg);
/* Requests refused for a missing or wrong token since the start; any
 * thread (h may be NULL: 0). */
uint64_t http_unauthorized(const struct http *h, int reason);
/* Replace the served snapshot with *snap (its strings now belong to h) and
 * zero *snap. Loop thread. */
void http_publish(struct http *h, struct http_snapshot *snap);
/* Stop the thread (waits for requests being answered) and free h. */
void http_stop(struct http *h);

#endif /* KEEL_API_HTTP_H */
