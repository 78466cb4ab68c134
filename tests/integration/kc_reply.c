/* tests/integration: keeld's replies as the tests read them: as text,
 * matched against what a test wants, INFO fields. See kc.h. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc.h"

void kc_reply_text(const redisReply *r, bool quote_bulk, char *out, size_t size)
{
    size_t n;
    switch (r->type) {
        case REDIS_REPLY_STATUS: snprintf(out, size, "+%s", r->str); break;
        case REDIS_REPLY_ERROR: snprintf(out, size, "-%s", r->str); break;
        case REDIS_REPLY_INTEGER: snprintf(out, size, ":%lld", r->integer); break;
        case REDIS_REPLY_STRING:
            snprintf(out, size, quote_bulk ? "\"%.*s\"" : "%.*s", (int)r->len, r->str);
            break;
        case REDIS_REPLY_NIL: snprintf(out, size, "(nil)"); break;
        case REDIS_REPLY_ARRAY:
            n = (size_t)snprintf(out, size, "[");
            for (size_t i = 0; i < r->elements && n < size; i++) {
                if (i) n += (size_t)snprintf(out + n, size - n, ",");
                if (n < size) kc_reply_text(r->element[i], quote_bulk, out + n, size - n);
                n = strlen(out);
            }
            if (n < size) snprintf(out + n, size - n, "]");
            break;
        default: snprintf(out, size, "?%d", r->type);
    }
}

bool kc_text_matches(const char *got, const char *want)
{
    size_t wl = strlen(want);
    if (wl > 0 && want[wl - 1] == '*') return strncmp(got, want, wl - 1) == 0;
    return strcmp(got, want) == 0;
}

void kc_expect(struct kc *c, unsigned i, bool quote_bulk, const char *cmd, const char *want)
{
    char got[8192];
    redisReply *r = kc_cmd(c, i, cmd);
    if (r == NULL) fail_msg("node %u: %s: no reply", i + 1, cmd);
    kc_reply_text(r, quote_bulk, got, sizeof got);
    freeReplyObject(r);
    if (!kc_text_matches(got, want)) fail_msg("node %u: %s\n  want %s\n  got  %s", i + 1, cmd, want, got);
}

bool kc_is_status(const redisReply *r, const char *s)
{
    return r != NULL && r->type == REDIS_REPLY_STATUS && strcmp(r->str, s) == 0;
}

bool kc_is_error(const redisReply *r, const char *prefix)
{
    return r != NULL && r->type == REDIS_REPLY_ERROR && strncmp(r->str, prefix, strlen(prefix)) == 0;
}

void kc_info(struct kc *c, unsigned i, const char *section, const char *name, char *buf, size_t size)
{
    char key[80];
    buf[0] = 0;
    redisReply *r = kc_cmd(c, i, "INFO %s", section);
    snprintf(key, sizeof key, "\n%s:", name);
    const char *p = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, key) : NULL;
    if (p != NULL) {
        p += strlen(key);
        snprintf(buf, size, "%.*s", (int)strcspn(p, "\r\n"), p);
    }
    if (r) freeReplyObject(r);
}

uint64_t kc_info_u64(struct kc *c, unsigned i, const char *section, const char *name)
{
    char buf[64];
    kc_info(c, i, section, name, buf, sizeof buf);
    return strtoull(buf, NULL, 10);
}

redisContext *kc_raw(struct kc *c, unsigned i)
{
    struct timeval tv = {5, 0};
    redisContext *ctx = redisConnectWithTimeout("127.0.0.1", (int)c->nodes[i].client_port, tv);
    assert_non_null(ctx);
    assert_int_equal(ctx->err, 0);
    redisSetTimeout(ctx, tv);
    return ctx;
}

void kc_on(redisContext *ctx, unsigned i, const char *want, const char *fmt, ...)
{
    char cmd[1024], got[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    redisReply *r = redisCommand(ctx, cmd);
    if (r == NULL) fail_msg("node %u: %s: no reply (%s)", i + 1, cmd, ctx->errstr);
    kc_reply_text(r, true, got, sizeof got);
    freeReplyObject(r);
    if (!kc_text_matches(got, want)) fail_msg("node %u: %s\n  want %s\n  got  %s", i + 1, cmd, want, got);
}
