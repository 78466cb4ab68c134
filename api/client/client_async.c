/* libkeel async: calls (see include/keel/async.h for the contract). Each
 * call is laid out once, as sent (client_wire_prepare: KEEL.REQ <id> <seq>
 * in front of a write, the same code and sequence as the sync client), and
 * queued; the connection (client_async_conn.c) sends the queue in order and
 * hands answers back here in order. A call ends in its callback exactly
 * once: answered, past its deadline, or with the client closed. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/client/client_async_internal.h"

static void timer_close_cb(uv_handle_t *h)
{
    async_handle_closed(h->data);
}

int keel_async_open(uv_loop_t *loop, const struct keel_client_options *o, struct keel_async **out, char *errmsg,
                    size_t size)
{
    if (loop == NULL) return snprintf(errmsg, size, "no loop"), KEEL_EINVAL;
    struct keel_async *a = calloc(1, sizeof *a);
    if (a == NULL) return snprintf(errmsg, size, "out of memory"), KEEL_ENOMEM;
    int rc = client_base_init(&a->b, o, errmsg, size);
    if (rc != 0) {
        free(a);
        return rc;
    }
    a->loop = loop;
    uv_timer_init(loop, &a->deadline_timer);
    uv_timer_init(loop, &a->retry_timer);
    a->deadline_timer.data = a->retry_timer.data = a;
    a->handles = 2;
    *out = a;
    return 0;
}

uint64_t keel_async_id(const struct keel_async *a)
{
    return a->b.id;
}

const char *keel_async_endpoint(const struct keel_async *a)
{
    return a->conn && a->conn->ready ? a->conn->at : "";
}

static void free_call(struct acall *c)
{
    if (c->held) freeReplyObject(c->held);
    redisFreeCommand(c->cmd);
    free(c);
}

/* Take the oldest call off the queue (its callback is run by the caller). */
static struct acall *pop(struct keel_async *a)
{
    struct acall *c = a->head;
    a->head = c->next;
    if (a->head == NULL) a->tail = NULL;
    if (a->answer == c) a->answer = c->next;
    if (a->send == c) a->send = c->next;
    c->next = NULL;
    return c;
}

/* Run c's callback and free c; takes r. */
static void finish(struct keel_async *a, struct acall *c, int status, redisReply *r, const char *errmsg)
{
    struct keel_value *v = NULL;
    if (status == 0 && (v = client_value_from(r)) == NULL) status = KEEL_ENOMEM, errmsg = "out of memory";
    if (r) freeReplyObject(r);
    keel_async_cb cb = c->cb;
    void *data = c->data;
    free_call(c);
    cb(a, status, v, errmsg, data);
}

static void deadline_cb(uv_timer_t *t);

/* The timer follows the oldest call: deadlines only grow along the queue. */
static void arm(struct keel_async *a)
{
    if (a->closing) return;
    if (a->head == NULL) {
        uv_timer_stop(&a->deadline_timer);
        return;
    }
    int64_t ms = a->head->deadline - client_now_ms();
    uv_timer_start(&a->deadline_timer, deadline_cb, ms < 0 ? 0 : (uint64_t)ms + 1, 0);
}

/* Every call past its deadline ends: KEEL_EUNCERTAIN if it is a write that
 * was sent (now or on an earlier connection), else KEEL_ENOTLEADER. One that
 * is on the wire unanswered means the connection is stuck: it is given up
 * (the later calls go again elsewhere), as the sync client gives up a
 * connection whose read timed out. */
static void deadline_cb(uv_timer_t *t)
{
    struct keel_async *a = t->data;
    int64_t now = client_now_ms();
    struct acall *done = NULL, **end = &done;
    bool on_wire = false;
    while (a->head != NULL && a->head->deadline <= now) {
        struct acall *c = a->head;
        if (c != a->send) on_wire = true; /* unanswered, or held in an open MULTI */
        if (c == a->answer && c != a->send) c->maybe |= c->write;
        *end = pop(a);
        end = &(*end)->next;
    }
    if (on_wire) async_conn_give_up(a, "timed out", ASYNC_NEXT);
    while (done != NULL) {
        struct acall *c = done;
        done = c->next;
        char err[KEEL_ERRMSG_SIZE];
        client_describe(&a->b, c->maybe, a->b.o.timeout_ms, err, sizeof err);
        finish(a, c, c->maybe ? KEEL_EUNCERTAIN : KEEL_ENOTLEADER, NULL, err);
    }
    arm(a);
}

void async_on_reply(struct keel_async *a, redisReply *r)
{
    struct acall *c = a->answer;
    if (c == NULL || c == a->send) {
        freeReplyObject(r);
        async_conn_give_up(a, "protocol error: an answer to nothing", ASYNC_NEXT);
        return;
    }
    enum client_verdict v = client_verdict(&a->b, r);
    if (v != CLIENT_ANSWER) {
        char why[96];
        snprintf(why, sizeof why, "%.90s", r->str);
        freeReplyObject(r);
        c->maybe |= v == CLIENT_UNCERTAIN;
        /* -MOVED: the leader straight away; -BUSY: this node, after a
         * pause; -TRYAGAIN, -UNCERTAIN: no leader here now, the next node. */
        async_conn_give_up(a, v == CLIENT_MOVED ? NULL : why,
                           v == CLIENT_MOVED ? ASYNC_NOW : v == CLIENT_BUSY ? ASYNC_SAME : ASYNC_NEXT);
        return;
    }
    a->round = 0; /* an answer: the way to the leader works */
    client_forget_whys(&a->b);
    a->answer = c->next;
    if (c->txn != 0 && !c->txn_end) {
        c->held = r; /* MULTI and its commands are answered with EXEC */
        return;
    }
    /* Take head..c off the queue first: a callback may make calls or close. */
    struct acall *done = NULL, **end = &done, *last;
    do {
        last = pop(a);
        *end = last;
        end = &last->next;
    } while (last != c);
    arm(a);
    while (done != NULL) {
        struct acall *d = done;
        done = d->next;
        redisReply *dr = d == c ? r : d->held;
        d->held = NULL;
        finish(a, d, 0, dr, "");
    }
}

void async_fail_all(struct keel_async *a, int status, const char *why)
{
    struct acall *done = NULL, **end = &done;
    while (a->head != NULL) {
        *end = pop(a);
        end = &(*end)->next;
    }
    a->in_multi = false;
    arm(a);
    while (done != NULL) {
        struct acall *c = done;
        done = c->next;
        finish(a, c, status, NULL, why);
    }
}

int keel_async_call(struct keel_async *a, int argc, const char *const *argv, const size_t *lens,
                    keel_async_cb cb, void *data)
{
    if (a == NULL || a->closing) return KEEL_ESHUTDOWN;
    if (argc <= 0 || argc > MAX_ARGS || argv == NULL || lens == NULL || cb == NULL) return KEEL_EINVAL;
    struct keel_cmd k = {argc, argv, lens};
    struct client_wire w;
    memset(&w, 0, sizeof w);
    bool in_multi = a->in_multi;
    uint64_t seq = a->b.seq;
    struct acall *c = calloc(1, sizeof *c);
    int len = -1;
    if (c != NULL && client_wire_prepare(&a->b, &in_multi, &k, &w) == 0)
        len = redisFormatCommandArgv(&c->cmd, w.argc, w.argv, w.lens);
    client_wire_free(&w);
    if (len < 0) {
        a->b.seq = seq; /* never sent: the number is free again */
        free(c);
        return KEEL_ENOMEM;
    }
    c->len = (size_t)len;
    c->write = w.write;
    c->cb = cb;
    c->data = data;
    int64_t now = client_now_ms();
    if (in_multi && !a->in_multi) { /* MULTI: a transaction begins */
        a->txn = ++a->txn_last;
        if (a->txn == 0) a->txn = a->txn_last = 1; /* 0 means none */
        a->txn_deadline = now + a->b.o.timeout_ms;
    }
    if (in_multi || a->in_multi) c->txn = a->txn;
    c->txn_end = a->in_multi && !in_multi;
    c->deadline = c->txn ? a->txn_deadline : now + a->b.o.timeout_ms;
    a->in_multi = in_multi;
    bool was_empty = a->head == NULL;
    if (a->tail) a->tail->next = c;
    else a->head = c;
    a->tail = c;
    if (a->send == NULL) a->send = c;
    if (a->answer == NULL) a->answer = c;
    if (was_empty) arm(a);
    async_conn_kick(a);
    return 0;
}

int keel_async_callv(struct keel_async *a, keel_async_cb cb, void *data, const char *word, ...)
{
    const char *argv[CLIENT_MAX_WORDS];
    size_t lens[CLIENT_MAX_WORDS];
    va_list ap;
    va_start(ap, word);
    int argc = client_words(word, ap, argv, lens, CLIENT_MAX_WORDS);
    va_end(ap);
    if (argc < 0) return KEEL_EINVAL; /* more words than keel_async_callv takes: use keel_async_call */
    return keel_async_call(a, argc, argv, lens, cb, data);
}

void async_handle_closed(struct keel_async *a)
{
    if (--a->handles > 0 || !a->closing) return;
    /* Everything is off the loop: end what is left, in order, then a. */
    while (a->head != NULL) {
        struct acall *c = pop(a);
        finish(a, c, c->maybe ? KEEL_EUNCERTAIN : KEEL_ESHUTDOWN, NULL,
               c->maybe ? "client closed: outcome unknown (the write may have applied)"
                        : "client closed before the call was sent");
    }
    if (a->closed_cb) a->closed_cb(a->closed_data);
    client_base_free(&a->b);
    free(a);
}

void keel_async_close(struct keel_async *a, void (*closed_cb)(void *data), void *data)
{
    if (a == NULL || a->closing) return;
    a->closing = true;
    a->closed_cb = closed_cb;
    a->closed_data = data;
    async_conn_give_up(a, NULL, ASYNC_CLOSE); /* marks a sent write maybe */
    uv_timer_stop(&a->deadline_timer);
    uv_timer_stop(&a->retry_timer);
    uv_close((uv_handle_t *)&a->deadline_timer, timer_close_cb);
    uv_close((uv_handle_t *)&a->retry_timer, timer_close_cb);
}
