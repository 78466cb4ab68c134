/* store: the reply stream writers and reader. */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/le.h"
#include "store/reply.h"

void keel_reply_init(struct keel_reply *r)
{
    memset(r, 0, sizeof *r);
}

void keel_reply_close(struct keel_reply *r)
{
    free(r->buf);
    memset(r, 0, sizeof *r);
}

void keel_reply_reset(struct keel_reply *r)
{
    r->len = 0;
    r->lost = false;
}

static uint8_t *reserve(struct keel_reply *r, size_t n)
{
    if (r->lost) return NULL;
    uint8_t *p = grow_room(&r->buf, &r->cap, r->len, n);
    if (p == NULL) {
        r->lost = true;
        return NULL;
    }
    r->len += n;
    return p;
}

void keel_reply_nil(struct keel_reply *r)
{
    uint8_t *p = reserve(r, 1);
    if (p != NULL) p[0] = KEEL_REPLY_NIL;
}

void keel_reply_nil_array(struct keel_reply *r)
{
    uint8_t *p = reserve(r, 1);
    if (p != NULL) p[0] = KEEL_REPLY_NIL_ARRAY;
}

static void str_item(struct keel_reply *r, char kind, const void *s, size_t n)
{
    if (n > UINT32_MAX) {
        r->lost = true;
        return;
    }
    uint8_t *p = reserve(r, 5 + n);
    if (p == NULL) return;
    p[0] = (uint8_t)kind;
    le32_store(p + 1, (uint32_t)n);
    if (n > 0) memcpy(p + 5, s, n);
}

void keel_reply_resp(struct keel_reply *r, const void *p, size_t n)
{
    str_item(r, KEEL_REPLY_RESP, p, n);
}

void keel_reply_status(struct keel_reply *r, const char *status)
{
    str_item(r, KEEL_REPLY_STATUS, status, strlen(status));
}

void keel_reply_ok(struct keel_reply *r)
{
    keel_reply_status(r, "OK");
}

void keel_reply_int(struct keel_reply *r, int64_t v)
{
    uint8_t *p = reserve(r, 9);
    if (p == NULL) return;
    p[0] = KEEL_REPLY_INT;
    le64_store(p + 1, (uint64_t)v);
}

void keel_reply_bulk(struct keel_reply *r, const void *s, size_t n)
{
    str_item(r, KEEL_REPLY_BULK, s, n);
}

void keel_reply_error(struct keel_reply *r, int code, const char *msg)
{
    size_t n = msg ? strlen(msg) : 0;
    uint8_t *p = reserve(r, 9 + n);
    if (p == NULL) return;
    p[0] = KEEL_REPLY_ERROR;
    le32_store(p + 1, (uint32_t)code);
    le32_store(p + 5, (uint32_t)n);
    if (n > 0) memcpy(p + 9, msg, n);
}

void keel_reply_array(struct keel_reply *r, uint32_t count)
{
    uint8_t *p = reserve(r, 5);
    if (p == NULL) return;
    p[0] = KEEL_REPLY_ARRAY;
    le32_store(p + 1, count);
}

void keel_reply_raw(struct keel_reply *r, const void *s, size_t n)
{
    uint8_t *p = reserve(r, n);
    if (p != NULL && n > 0) memcpy(p, s, n);
}

void keel_reply_reader_init(struct keel_reply_reader *rd, const struct keel_reply *r)
{
    rd->p = r->buf;
    rd->end = r->buf != NULL ? r->buf + r->len : NULL; /* no NULL + 0 */
    rd->lost = r->lost;
}

int keel_reply_next(struct keel_reply_reader *rd, struct keel_reply_item *it)
{
    memset(it, 0, sizeof *it);
    if (rd->lost) {
        rd->lost = false;
        rd->p = rd->end;
        it->kind = KEEL_REPLY_ERROR;
        it->integer = KEEL_EREPLYLOST;
        return 0;
    }
    if (rd->p == NULL || rd->p >= rd->end) return KEEL_ENOTFOUND;
    size_t left = (size_t)(rd->end - rd->p);
    const uint8_t *p = rd->p;
    it->kind = (char)p[0];
    switch (p[0]) {
        case KEEL_REPLY_NIL:
        case KEEL_REPLY_NIL_ARRAY:
            rd->p += 1;
            return 0;
        case KEEL_REPLY_INT:
            if (left < 9) return KEEL_ECORRUPT;
            it->integer = (int64_t)le64_load(p + 1);
            rd->p += 9;
            return 0;
        case KEEL_REPLY_ARRAY:
            if (left < 5) return KEEL_ECORRUPT;
            it->integer = le32_load(p + 1);
            rd->p += 5;
            return 0;
        case KEEL_REPLY_STATUS:
        case KEEL_REPLY_BULK:
        case KEEL_REPLY_RESP:
            if (left < 5 || le32_load(p + 1) > left - 5) return KEEL_ECORRUPT;
            it->n = le32_load(p + 1);
            it->p = p + 5;
            rd->p += 5 + it->n;
            return 0;
        case KEEL_REPLY_ERROR:
            if (left < 9 || le32_load(p + 5) > left - 9) return KEEL_ECORRUPT;
            it->integer = le32_load(p + 1);
            it->n = le32_load(p + 5);
            it->p = p + 9;
            rd->p += 9 + it->n;
            return 0;
        default:
            return KEEL_ECORRUPT;
    }
}

size_t keel_reply_array_begin(struct keel_reply *r)
{
    size_t mark = r->len;
    keel_reply_array(r, 0);
    return mark;
}

void keel_reply_array_end(struct keel_reply *r, size_t mark, uint32_t count)
{
    if (!r->lost && mark + 5 <= r->len) le32_store(r->buf + mark + 1, count);
}
