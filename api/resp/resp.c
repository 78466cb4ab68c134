/* api: parsing RESP requests and scanning RESP replies. See resp.h. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/resp/resp.h"

void resp_request_init(struct resp_request *req)
{
    memset(req, 0, sizeof *req);
}

void resp_request_close(struct resp_request *req)
{
    free(req->argv);
    free(req->inl);
    memset(req, 0, sizeof *req);
}

static int reserve_args(struct resp_request *req, uint32_t n)
{
    if (n <= req->cap) return 0;
    uint32_t cap = req->cap ? req->cap : 16;
    while (cap < n) cap *= 2;
    struct keel_slice *argv = realloc(req->argv, cap * sizeof *argv);
    if (argv == NULL) return -1;
    req->argv = argv;
    req->cap = cap;
    return 0;
}

/* Find "\r\n" from p within n bytes; the index of '\r' or -1. */
static long find_crlf(const uint8_t *p, size_t n)
{
    const uint8_t *cr = n ? memchr(p, '\r', n) : NULL;
    while (cr != NULL) {
        size_t i = (size_t)(cr - p);
        if (i + 1 >= n) return -1; /* '\r' last: need more */
        if (cr[1] == '\n') return (long)i;
        cr = memchr(cr + 1, '\r', n - i - 1);
    }
    return -1;
}

/* Parse a decimal integer line body p[0..n) (no sign unless allowed). */
static bool parse_num(const uint8_t *p, size_t n, bool neg_ok, long long *v)
{
    long long acc = 0;
    bool neg = false;
    size_t i = 0;
    if (n == 0 || n > 19) return false;
    if (p[0] == '-') {
        if (!neg_ok || n == 1) return false;
        neg = true;
        i = 1;
    }
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return false;
        if (acc > (LLONG_MAX - (p[i] - '0')) / 10) return false; /* 19 digits may overflow */
        acc = acc * 10 + (p[i] - '0');
    }
    *v = neg ? -acc : acc;
    return true;
}

static int hex(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Split an inline line the way redis-cli and Redis do (sdssplitargs):
 * whitespace separates, "..." understands \n \r \t \b \a \\ \" \xHH, '...'
 * understands \', and a closing quote must be followed by a space. */
static int split_inline(const uint8_t *p, size_t n, const struct resp_limits *lim,
                        struct resp_request *req, const char **err)
{
    size_t i = 0, out = 0;
    if (req->inl_cap < n + 1) {
        uint8_t *inl = realloc(req->inl, n + 1);
        if (inl == NULL) return RESP_ENOMEM;
        req->inl = inl;
        req->inl_cap = n + 1;
    }
    req->argc = 0;
    for (;;) {
        while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r' ||
                         p[i] == '\v' || p[i] == '\f'))
            i++;
        if (i >= n) return RESP_DONE;
        if (req->argc >= lim->max_args) {
            *err = "too many arguments";
            return RESP_EPROTO;
        }
        if (reserve_args(req, req->argc + 1) != 0) return RESP_ENOMEM;
        uint8_t *start = req->inl + out;
        char quote = 0;
        if (p[i] == '"' || p[i] == '\'') quote = (char)p[i++];
        for (;;) {
            if (i >= n) {
                if (quote) {
                    *err = "unbalanced quotes in request";
                    return RESP_EPROTO;
                }
                break;
            }
            uint8_t c = p[i];
            if (quote == '"' && c == '\\' && i + 1 < n) {
                uint8_t e = p[i + 1];
                if (e == 'x' && i + 3 < n && hex(p[i + 2]) >= 0 && hex(p[i + 3]) >= 0) {
                    req->inl[out++] = (uint8_t)(hex(p[i + 2]) * 16 + hex(p[i + 3]));
                    i += 4;
                    continue;
                }
                req->inl[out++] = e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t'
                                : e == 'b' ? '\b' : e == 'a' ? '\a' : e;
                i += 2;
                continue;
            }
            if (quote == '\'' && c == '\\' && i + 1 < n && p[i + 1] == '\'') {
                req->inl[out++] = '\'';
                i += 2;
                continue;
            }
            if (quote && c == (uint8_t)quote) {
                i++;
                if (i < n && p[i] != ' ' && p[i] != '\t') {
                    *err = "unbalanced quotes in request";
                    return RESP_EPROTO;
                }
                break;
            }
            if (!quote && (c == ' ' || c == '\t')) break;
            req->inl[out++] = c;
            i++;
        }
        req->argv[req->argc].p = start;
        req->argv[req->argc].n = (size_t)(req->inl + out - start);
        req->argc++;
    }
}

int resp_parse_request(const uint8_t *p, size_t n, const struct resp_limits *lim,
                       struct resp_request *req, size_t *used, size_t *need, const char **err)
{
    long long count, len;
    long eol;
    *err = NULL;
    *need = 0;
    req->argc = 0;
    if (n == 0) {
        *need = 1;
        return RESP_MORE;
    }
    if (p[0] != '*') {
        /* Inline: one line, CRLF or a bare LF. */
        const uint8_t *lf = memchr(p, '\n', n > lim->max_inline + 2 ? lim->max_inline + 2 : n);
        if (lf == NULL) {
            /* A full-length line may still be waiting for the LF after its CR. */
            if (n > lim->max_inline + (p[n - 1] == '\r')) {
                *err = "too big inline request";
                return RESP_EPROTO;
            }
            *need = n + 1;
            return RESP_MORE;
        }
        size_t line = (size_t)(lf - p);
        *used = line + 1;
        if (line > 0 && p[line - 1] == '\r') line--;
        if (line > lim->max_inline) { /* the same verdict however the bytes arrived */
            *err = "too big inline request";
            return RESP_EPROTO;
        }
        return split_inline(p, line, lim, req, err);
    }
    eol = find_crlf(p, n > 32 ? 32 : n);
    if (eol < 0) {
        if (n >= 32) {
            *err = "invalid multibulk length";
            return RESP_EPROTO;
        }
        *need = n + 1;
        return RESP_MORE;
    }
    if (!parse_num(p + 1, (size_t)eol - 1, true, &count) || count > (long long)lim->max_args) {
        *err = "invalid multibulk length";
        return RESP_EPROTO;
    }
    size_t off = (size_t)eol + 2;
    if (count <= 0) {
        *used = off; /* "*0" and "*-1" are empty requests, skipped */
        return RESP_DONE;
    }
    for (long long i = 0; i < count; i++) {
        /* Grow as arguments arrive: a bare "*1000000" costs nothing. */
        if (reserve_args(req, (uint32_t)i + 1) != 0) return RESP_ENOMEM;
        if (off >= n) {
            *need = off + 4;
            return RESP_MORE;
        }
        if (p[off] != '$') {
            /* Redis's text, the byte as it came (a NUL ends the text early,
             * as Redis's %c does in its C string). */
            snprintf(req->err, sizeof req->err, "expected '$', got '%c'", (char)p[off]);
            *err = req->err;
            return RESP_EPROTO;
        }
        size_t left = n - off;
        eol = find_crlf(p + off, left > 32 ? 32 : left);
        if (eol < 0) {
            if (left >= 32) {
                *err = "invalid bulk length";
                return RESP_EPROTO;
            }
            *need = n + 1;
            return RESP_MORE;
        }
        if (!parse_num(p + off + 1, (size_t)eol - 1, false, &len) ||
            (unsigned long long)len > lim->max_bulk) {
            *err = "invalid bulk length";
            return RESP_EPROTO;
        }
        off += (size_t)eol + 2;
        if (n - off < (size_t)len + 2) {
            *need = off + (size_t)len + 2;
            return RESP_MORE;
        }
        if (p[off + len] != '\r' || p[off + len + 1] != '\n') {
            *err = "bulk string not terminated by CRLF";
            return RESP_EPROTO;
        }
        req->argv[i].p = p + off;
        req->argv[i].n = (size_t)len;
        off += (size_t)len + 2;
    }
    req->argc = (uint32_t)count;
    *used = off;
    return RESP_DONE;
}

/* Scan one reply at p; returns its length, 0 for "need more", -1 malformed. */
static long scan(const uint8_t *p, size_t n, const struct resp_limits *lim, unsigned depth,
                 const char **err)
{
    long long v;
    if (n == 0) return 0;
    if (depth > lim->max_depth) {
        *err = "reply nested too deep";
        return -1;
    }
    long eol = find_crlf(p, n);
    if (eol < 0) return 0;
    size_t hdr = (size_t)eol + 2;
    switch (p[0]) {
        case '+': case '-': case ':': case '_': case ',': case '#': case '(':
            return (long)hdr;
        case '$': case '!': case '=':
            if (!parse_num(p + 1, (size_t)eol - 1, true, &v) || v < -1 ||
                (v > 0 && (unsigned long long)v > lim->max_bulk)) {
                *err = "bad bulk length in reply";
                return -1;
            }
            if (v == -1) return (long)hdr;
            if (n < hdr + (size_t)v + 2) return 0;
            if (p[hdr + v] != '\r' || p[hdr + v + 1] != '\n') {
                *err = "bulk reply not terminated by CRLF";
                return -1;
            }
            return (long)(hdr + (size_t)v + 2);
        case '*': case '~': case '>': case '%': case '|': {
            if (!parse_num(p + 1, (size_t)eol - 1, true, &v) || v < -1 ||
                v > (long long)lim->max_args) {
                *err = "bad aggregate length in reply";
                return -1;
            }
            long long items = p[0] == '%' || p[0] == '|' ? 2 * v : v;
            size_t off = hdr;
            for (long long i = 0; i < items; i++) {
                long got = scan(p + off, n - off, lim, depth + 1, err);
                if (got <= 0) return got;
                off += (size_t)got;
            }
            if (p[0] == '|') {
                /* An attribute precedes the reply it annotates. */
                long got = scan(p + off, n - off, lim, depth + 1, err);
                if (got <= 0) return got;
                off += (size_t)got;
            }
            return (long)off;
        }
        default:
            *err = "unknown reply type";
            return -1;
    }
}

long resp_reply_len(const uint8_t *p, size_t n, const struct resp_limits *lim, const char **err)
{
    *err = NULL;
    return scan(p, n, lim, 0, err);
}
