/* libkeel: the write wrapping both clients use (client_wire_prepare), and
 * the sync client's retry loop. A call is a pipeline of one.
 *
 * A pipeline is sent as a whole and retried as a whole: MULTI state lives on
 * the connection, so a half-answered pipeline cannot be resumed elsewhere.
 * That is safe because each write in it carries its own (client, seq), fixed
 * before the first attempt: on a retry the server answers an applied write
 * from its dedupe table. Inside MULTI ... EXEC the queued commands go as they
 * are and EXEC carries the sequence number (the transaction is one write). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/client/client_internal.h"

bool client_word_is(const char *w, size_t n, const char *what)
{
    size_t k = strlen(what);
    if (n != k) return false;
    for (size_t i = 0; i < n; i++)
        if ((w[i] | 0x20) != what[i]) return false;
    return true;
}

int client_wire_prepare(struct client_base *b, bool *in_multi, const struct keel_cmd *k, struct client_wire *w)
{
    memset(w, 0, sizeof *w);
    if (k->argc <= 0 || k->argc > MAX_ARGS) return KEEL_EINVAL;
    bool multi = client_word_is(k->argv[0], k->lens[0], "multi");
    bool exec = client_word_is(k->argv[0], k->lens[0], "exec");
    w->write = *in_multi ? exec : keel_is_write(k->argv[0], k->lens[0]);
    if (multi) *in_multi = true;
    if (exec || client_word_is(k->argv[0], k->lens[0], "discard")) *in_multi = false;
    int extra = w->write ? 3 : 0;
    w->argc = k->argc + extra;
    w->argv = malloc((size_t)w->argc * sizeof *w->argv);
    w->lens = malloc((size_t)w->argc * sizeof *w->lens);
    if (w->argv == NULL || w->lens == NULL) return KEEL_ENOMEM;
    if (w->write) {
        snprintf(w->ids[0], sizeof w->ids[0], "%llu", (unsigned long long)b->id);
        snprintf(w->ids[1], sizeof w->ids[1], "%llu", (unsigned long long)++b->seq);
        w->argv[0] = "KEEL.REQ", w->lens[0] = 8;
        w->argv[1] = w->ids[0], w->lens[1] = strlen(w->ids[0]);
        w->argv[2] = w->ids[1], w->lens[2] = strlen(w->ids[1]);
    }
    memcpy(w->argv + extra, k->argv, (size_t)k->argc * sizeof *k->argv);
    memcpy(w->lens + extra, k->lens, (size_t)k->argc * sizeof *k->lens);
    return 0;
}

void client_wire_free(struct client_wire *w)
{
    free(w->argv);
    free(w->lens);
    w->argv = NULL;
    w->lens = NULL;
}

/* Lay out each command as sent: KEEL.REQ id seq in front of writes. */
static int prepare(struct keel_client *c, size_t n, const struct keel_cmd *cmds, struct client_wire *w)
{
    bool in_multi = false;
    for (size_t i = 0; i < n; i++) {
        int rc = client_wire_prepare(&c->b, &in_multi, &cmds[i], &w[i]);
        if (rc != 0) return rc;
    }
    return 0;
}

static void free_replies(redisReply **r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (r[i]) freeReplyObject(r[i]);
        r[i] = NULL;
    }
}

enum outcome { DONE, RETRY, RETRY_NOW };

/* One attempt on the connection: every reply read, or RETRY. */
static enum outcome attempt(struct keel_client *c, size_t n, const struct client_wire *w, redisReply **r,
                            int64_t deadline, bool *maybe)
{
    redisSetTimeout(c->ctx, client_tv(deadline - client_now_ms()));
    for (size_t i = 0; i < n; i++) redisAppendCommandArgv(c->ctx, w[i].argc, w[i].argv, w[i].lens);
    bool any_write = false;
    for (size_t i = 0; i < n; i++) any_write |= w[i].write;
    for (size_t i = 0; i < n; i++) {
        void *got = NULL;
        if (redisGetReply(c->ctx, &got) != 0 || got == NULL) {
            /* Sent, perhaps, and no answer: a write may have applied. */
            *maybe |= any_write;
            client_give_up(c, client_is_timeout(c->ctx) ? "timed out" : c->ctx->errstr);
            return RETRY;
        }
        r[i] = got;
    }
    enum outcome out = DONE;
    for (size_t i = 0; i < n && out == DONE; i++) {
        char why[96];
        snprintf(why, sizeof why, "%.90s", r[i]->type == REDIS_REPLY_ERROR ? r[i]->str : "");
        enum client_verdict v = client_verdict(&c->b, r[i]);
        switch (v) {
            case CLIENT_ANSWER: break;
            case CLIENT_MOVED:
                client_drop(c);
                out = RETRY_NOW;
                break;
            case CLIENT_TRYAGAIN:
            case CLIENT_UNCERTAIN:
                *maybe |= v == CLIENT_UNCERTAIN || (i > 0 && any_write);
                client_give_up(c, why); /* this node has no leader now: try another */
                out = RETRY;
                break;
            case CLIENT_BUSY:
                client_note(&c->b, c->now_at, why);
                out = RETRY;
                break;
        }
    }
    return out;
}

int keel_pipeline(struct keel_client *c, size_t n, const struct keel_cmd *cmds, struct keel_value **replies,
                  char *errmsg, size_t size)
{
    if (n == 0) return snprintf(errmsg, size, "an empty pipeline"), KEEL_EINVAL;
    struct client_wire *w = calloc(n, sizeof *w);
    redisReply **r = calloc(n, sizeof *r);
    int rc = KEEL_ENOMEM;
    for (size_t i = 0; i < n; i++) replies[i] = NULL;
    if (w == NULL || r == NULL) {
        snprintf(errmsg, size, "out of memory");
        goto out;
    }
    /* Out of memory is not a bad command: the caller may retry it. */
    if ((rc = prepare(c, n, cmds, w)) != 0) {
        if (rc == KEEL_ENOMEM) snprintf(errmsg, size, "out of memory");
        else snprintf(errmsg, size, "a command has 1 to %d words", MAX_ARGS);
        goto out;
    }
    client_forget_whys(&c->b);
    int64_t deadline = client_now_ms() + c->b.o.timeout_ms;
    bool maybe = false;
    rc = -1;
    c->auth_error[0] = 0;
    for (unsigned round = 0; rc < 0 && client_now_ms() < deadline; round++) {
        if (client_connect(c, deadline) != 0) {
            if (c->auth_error[0]) {
                /* Wrong credentials stay wrong: no retry, nothing was sent. */
                snprintf(errmsg, size, "%s", c->auth_error);
                rc = KEEL_EAUTH;
                goto out;
            }
            client_backoff(c, round, deadline);
            continue;
        }
        struct client_sigpipe g;
        client_sigpipe_block(&g);
        enum outcome o = attempt(c, n, w, r, deadline, &maybe);
        client_sigpipe_restore(&g);
        if (o == DONE) {
            rc = 0;
            for (size_t i = 0; i < n && rc == 0; i++)
                if ((replies[i] = client_value_from(r[i])) == NULL) rc = KEEL_ENOMEM;
            if (rc != 0) snprintf(errmsg, size, "out of memory");
            break;
        }
        free_replies(r, n);
        if (o == RETRY) client_backoff(c, round, deadline);
    }
    if (rc < 0) {
        client_describe(&c->b, maybe, c->b.o.timeout_ms, errmsg, size);
        rc = maybe ? KEEL_EUNCERTAIN : KEEL_ENOTLEADER;
    }
out:
    if (rc != 0)
        for (size_t i = 0; i < n; i++) {
            keel_value_free(replies[i]);
            replies[i] = NULL;
        }
    if (r) free_replies(r, n);
    free(r);
    for (size_t i = 0; w && i < n; i++) client_wire_free(&w[i]);
    free(w);
    return rc;
}

int keel_call(struct keel_client *c, int argc, const char *const *argv, const size_t *lens,
              struct keel_value **reply, char *errmsg, size_t size)
{
    struct keel_cmd cmd = {argc, argv, lens};
    *reply = NULL;
    if (argc <= 0) return snprintf(errmsg, size, "an empty command"), KEEL_EINVAL;
    return keel_pipeline(c, 1, &cmd, reply, errmsg, size);
}

int keel_callv(struct keel_client *c, struct keel_value **reply, char *errmsg, size_t size, const char *word, ...)
{
    const char *argv[CLIENT_MAX_WORDS];
    size_t lens[CLIENT_MAX_WORDS];
    va_list ap;
    va_start(ap, word);
    int argc = client_words(word, ap, argv, lens, CLIENT_MAX_WORDS);
    va_end(ap);
    if (argc < 0) {
        *reply = NULL;
        snprintf(errmsg, size, "keel_callv takes at most %d words: use keel_call", CLIENT_MAX_WORDS);
        return KEEL_EINVAL;
    }
    return keel_call(c, argc, argv, lens, reply, errmsg, size);
}
