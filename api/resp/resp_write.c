/* api: writing RESP2/RESP3 replies into a growing buffer. See resp.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/resp/resp.h"

static void line(struct buf *b, char type, long long v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%c%lld\r\n", type, v);
    buf_append(b, tmp, (size_t)n);
}

void resp_simple(struct buf *b, const char *s)
{
    buf_append(b, "+", 1);
    buf_append(b, s, strlen(s));
    buf_append(b, "\r\n", 2);
}

void resp_ok(struct buf *b)
{
    buf_append(b, "+OK\r\n", 5);
}

void resp_error(struct buf *b, const char *word, const char *msg)
{
    buf_append(b, "-", 1);
    buf_append(b, word, strlen(word));
    if (msg != NULL && msg[0] != 0) {
        buf_append(b, " ", 1);
        /* Never let a message break the framing. */
        for (const char *c = msg; *c; c++) buf_append(b, *c == '\r' || *c == '\n' ? " " : c, 1);
    }
    buf_append(b, "\r\n", 2);
}

void resp_errorf(struct buf *b, const char *word, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    resp_error(b, word, msg);
}

void resp_int(struct buf *b, int64_t v)
{
    line(b, ':', (long long)v);
}

void resp_bulk(struct buf *b, const void *p, size_t n)
{
    line(b, '$', (long long)n);
    buf_append(b, p, n);
    buf_append(b, "\r\n", 2);
}

void resp_bulk_str(struct buf *b, const char *s)
{
    resp_bulk(b, s, strlen(s));
}

void resp_null(struct buf *b, int proto)
{
    if (proto >= 3) buf_append(b, "_\r\n", 3);
    else buf_append(b, "$-1\r\n", 5);
}

void resp_null_array(struct buf *b, int proto)
{
    if (proto >= 3) buf_append(b, "_\r\n", 3);
    else buf_append(b, "*-1\r\n", 5);
}

void resp_array(struct buf *b, size_t n)
{
    line(b, '*', (long long)n);
}

void resp_map(struct buf *b, int proto, size_t pairs)
{
    if (proto >= 3) line(b, '%', (long long)pairs);
    else line(b, '*', (long long)(2 * pairs));
}

void resp_set(struct buf *b, int proto, size_t n)
{
    line(b, proto >= 3 ? '~' : '*', (long long)n);
}

void resp_verbatim(struct buf *b, int proto, const char *text)
{
    size_t n = strlen(text);
    if (proto < 3) {
        resp_bulk(b, text, n);
        return;
    }
    line(b, '=', (long long)(n + 4));
    buf_append(b, "txt:", 4);
    buf_append(b, text, n);
    buf_append(b, "\r\n", 2);
}
