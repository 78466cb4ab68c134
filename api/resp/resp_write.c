/* api: writing RESP2/RESP3 replies into a growing buffer. See resp.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/resp/resp.h"

void resp_buf_init(struct resp_buf *b)
{
    memset(b, 0, sizeof *b);
}

void resp_buf_close(struct resp_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

void resp_buf_raw(struct resp_buf *b, const void *p, size_t n)
{
    if (b->oom || n == 0) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        uint8_t *np = realloc(b->p, cap);
        if (np == NULL) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void line(struct resp_buf *b, char type, long long v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%c%lld\r\n", type, v);
    resp_buf_raw(b, tmp, (size_t)n);
}

void resp_simple(struct resp_buf *b, const char *s)
{
    resp_buf_raw(b, "+", 1);
    resp_buf_raw(b, s, strlen(s));
    resp_buf_raw(b, "\r\n", 2);
}

void resp_ok(struct resp_buf *b)
{
    resp_buf_raw(b, "+OK\r\n", 5);
}

void resp_error(struct resp_buf *b, const char *word, const char *msg)
{
    resp_buf_raw(b, "-", 1);
    resp_buf_raw(b, word, strlen(word));
    if (msg != NULL && msg[0] != 0) {
        resp_buf_raw(b, " ", 1);
        /* Never let a message break the framing. */
        for (const char *c = msg; *c; c++) resp_buf_raw(b, *c == '\r' || *c == '\n' ? " " : c, 1);
    }
    resp_buf_raw(b, "\r\n", 2);
}

void resp_errorf(struct resp_buf *b, const char *word, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    resp_error(b, word, msg);
}

void resp_int(struct resp_buf *b, int64_t v)
{
    line(b, ':', (long long)v);
}

void resp_bulk(struct resp_buf *b, const void *p, size_t n)
{
    line(b, '$', (long long)n);
    resp_buf_raw(b, p, n);
    resp_buf_raw(b, "\r\n", 2);
}

void resp_bulk_str(struct resp_buf *b, const char *s)
{
    resp_bulk(b, s, strlen(s));
}

void resp_null(struct resp_buf *b, int proto)
{
    if (proto >= 3) resp_buf_raw(b, "_\r\n", 3);
    else resp_buf_raw(b, "$-1\r\n", 5);
}

void resp_null_array(struct resp_buf *b, int proto)
{
    if (proto >= 3) resp_buf_raw(b, "_\r\n", 3);
    else resp_buf_raw(b, "*-1\r\n", 5);
}

void resp_array(struct resp_buf *b, size_t n)
{
    line(b, '*', (long long)n);
}

void resp_map(struct resp_buf *b, int proto, size_t pairs)
{
    if (proto >= 3) line(b, '%', (long long)pairs);
    else line(b, '*', (long long)(2 * pairs));
}

void resp_set(struct resp_buf *b, int proto, size_t n)
{
    line(b, proto >= 3 ? '~' : '*', (long long)n);
}

void resp_verbatim(struct resp_buf *b, int proto, const char *text)
{
    size_t n = strlen(text);
    if (proto < 3) {
        resp_bulk(b, text, n);
        return;
    }
    line(b, '=', (long long)(n + 4));
    resp_buf_raw(b, "txt:", 4);
    resp_buf_raw(b, text, n);
    resp_buf_raw(b, "\r\n", 2);
}
