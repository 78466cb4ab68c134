/* api: the Redis protocol, without I/O: a request parser fed whatever bytes
 * arrived, a scanner that finds where one reply ends (for relaying forwarded
 * replies), and a RESP2/RESP3 reply writer.
 *
 * Requests are what clients send: arrays of bulk strings ("multibulk"), or
 * inline commands (one line, words split Redis-style with quotes). Limits on
 * the bulk length, the argument count and the inline line length turn an
 * oversized or malformed request into a protocol error, never a large
 * allocation. Nesting cannot occur in a request (a nested type is an error);
 * the reply scanner has its own depth limit. */
#ifndef KEEL_API_RESP_H
#define KEEL_API_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/slice.h"

struct resp_limits
{
    size_t max_bulk;     /* longest bulk string (Redis: proto-max-bulk-len) */
    uint32_t max_args;   /* most arguments in one request */
    size_t max_inline;   /* longest inline command line */
    unsigned max_depth;  /* deepest nesting the reply scanner accepts */
};

/* A parsed request: argv points into the caller's input buffer (multibulk)
 * or into the request's own storage (inline arguments, unquoted there).
 * Valid until the next parse or resp_request_close(). */
struct resp_request
{
    struct keel_slice *argv;
    uint32_t argc;
    uint32_t cap;
    uint8_t *inl;        /* unquoted inline arguments */
    size_t inl_cap;
    char err[64];        /* a protocol error's text that names a byte */
};

void resp_request_init(struct resp_request *req);
void resp_request_close(struct resp_request *req);

enum {
    RESP_DONE = 0,   /* one request parsed; *used bytes consumed */
    RESP_MORE = 1,   /* incomplete: at least *need bytes in all are required */
    RESP_EPROTO = 2, /* malformed or over a limit: *err says why, in Redis's words
                      * (after "Protocol error: "); close after replying */
    RESP_ENOMEM = 3,
};

/* Parse the request at the start of p[0..n). An empty inline line parses as
 * argc 0 (callers skip it). */
int resp_parse_request(const uint8_t *p, size_t n, const struct resp_limits *lim,
                       struct resp_request *req, size_t *used, size_t *need, const char **err);

/* The length of the one complete RESP2/RESP3 reply at p, or 0 if more bytes
 * are needed; -1 if malformed (err says why). */
long resp_reply_len(const uint8_t *p, size_t n, const struct resp_limits *lim, const char **err);

/* ---- writing replies ---------------------------------------------------- */

/* Replies are written into a struct buf (common/buf.h): malloc'd, growing,
 * with a sticky `oom` checked once the reply is complete. */

/* proto is 2 or 3: nulls, maps, sets, doubles and booleans differ. */
void resp_simple(struct buf *b, const char *s);
void resp_ok(struct buf *b);
/* "-WORD message"; word and message must not hold CR or LF. */
void resp_error(struct buf *b, const char *word, const char *msg);
void resp_errorf(struct buf *b, const char *word, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void resp_int(struct buf *b, int64_t v);
void resp_bulk(struct buf *b, const void *p, size_t n);
void resp_bulk_str(struct buf *b, const char *s);
void resp_null(struct buf *b, int proto);       /* $-1 / _ */
void resp_null_array(struct buf *b, int proto); /* *-1 / _ */
void resp_array(struct buf *b, size_t n);
void resp_map(struct buf *b, int proto, size_t pairs); /* *2n / %n */
void resp_set(struct buf *b, int proto, size_t n);     /* *n / ~n */
void resp_verbatim(struct buf *b, int proto, const char *text); /* $ / =txt: */

#endif /* KEEL_API_RESP_H */
