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
 * stops publishing makes /health answer 503 ("event loop stalled"). */
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

/* Listen on addr ("IPv4:PORT") with at most max_conns connections, each
 * closed after 10 s idle. Errors: KEEL_EINVAL (bad address), KEEL_EIO (cannot
 * listen), with a reason in errmsg (KEEL_ERRMSG_SIZE). Loop thread. */
int http_start(const char *addr, unsigned max_conns, struct http **out, char *errmsg);
/* Replace the served snapshot with *snap (its strings now belong to h) and
 * zero *snap. Loop thread. */
void http_publish(struct http *h, struct http_snapshot *snap);
/* Stop the thread (waits for requests being answered) and free h. */
void http_stop(struct http *h);

#endif /* KEEL_API_HTTP_H */
