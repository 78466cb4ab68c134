/* libkeel async: the connection. One uv_tcp_t at a time, to the hinted
 * leader or the current endpoint; on an endpoint from the list, ROLE first,
 * and on to the leader it names. hiredis is used only as a codec (its
 * redisReader, and redisFormatCommandArgv in client_async.c): the socket,
 * the timers and the retry decisions are ours, so every wait is bounded by
 * a uv timer and nothing blocks the loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/client/client_async_internal.h"

struct awrite
{
    uv_write_t req;
    size_t wipe;           /* bytes of data to wipe before it is freed (AUTH) */
    char data[];           /* the bytes, owned by the request until its callback */
};

static void conn_close_cb(uv_handle_t *h)
{
    struct aconn *k = h->data;
    struct keel_async *a = k->owner;
    if (k->reader) redisReaderFree(k->reader);
    free(k);
    async_handle_closed(a);
}

static void pause_then_retry(struct keel_async *a)
{
    uint64_t ms = (uint64_t)client_backoff_ms(&a->b, a->round++);
    uv_timer_start(&a->retry_timer, async_retry_cb, ms, 0);
}

void async_conn_give_up(struct keel_async *a, const char *why, enum async_retry how)
{
    struct aconn *k = a->conn;
    if (k != NULL) {
        if (why) client_note(&a->b, k->at, why);
        a->conn = NULL;
        k->a = NULL;
        if (!k->dialing) uv_close((uv_handle_t *)&k->tcp, conn_close_cb); /* else freed when the dial ends */
    }
    /* Sent and unanswered: a write among them may have applied. Answered
     * but held (a transaction waiting for EXEC): sent again as a whole. */
    for (struct acall *c = a->answer; c != a->send; c = c->next) c->maybe |= c->write;
    for (struct acall *c = a->head; c != a->answer; c = c->next) {
        freeReplyObject(c->held);
        c->held = NULL;
    }
    a->answer = a->send = a->head;
    uv_timer_stop(&a->retry_timer);
    if (how == ASYNC_CLOSE || a->closing) return;
    if (how == ASYNC_NEXT) a->b.cur = (a->b.cur + 1) % a->b.n;
    if (how == ASYNC_NOW) async_conn_kick(a);
    else pause_then_retry(a);
}

static void awrite_free(struct awrite *w)
{
    if (w->wipe) explicit_bzero(w->data, w->wipe);
    free(w);
}

static void write_cb(uv_write_t *req, int status)
{
    struct aconn *k = req->data;
    awrite_free((struct awrite *)req);
    if (status < 0 && k->a != NULL) async_conn_give_up(k->a, uv_strerror(status), ASYNC_NEXT);
}

/* Takes w (freed in write_cb, or here on failure). */
static void conn_send(struct aconn *k, struct awrite *w, size_t len)
{
    uv_buf_t buf = uv_buf_init(w->data, (unsigned)len);
    w->req.data = k;
    int rc = uv_write(&w->req, (uv_stream_t *)&k->tcp, &buf, 1, write_cb);
    if (rc < 0) {
        awrite_free(w);
        async_conn_give_up(k->a, uv_strerror(rc), ASYNC_NEXT);
    }
}

/* Send every unsent call whose deadline has not passed, in one write.
 * Expired calls are a prefix of the queue (deadlines only grow), left to
 * the deadline timer. */
static void flush(struct keel_async *a)
{
    struct aconn *k = a->conn;
    if (k == NULL || !k->ready || a->send == NULL) return;
    int64_t now = client_now_ms();
    size_t len = 0;
    struct acall *c;
    for (c = a->send; c != NULL && c->deadline > now; c = c->next) len += c->len;
    if (len == 0) return;
    struct awrite *w = malloc(sizeof *w + len);
    if (w == NULL) {
        async_conn_give_up(a, "out of memory", ASYNC_SAME);
        return;
    }
    w->wipe = 0;
    size_t off = 0;
    for (c = a->send; c != NULL && c->deadline > now; c = c->next) {
        memcpy(w->data + off, c->cmd, c->len);
        off += c->len;
    }
    a->send = c;
    conn_send(k, w, len);
}

static void become_ready(struct keel_async *a, struct aconn *k)
{
    k->ready = true;
    uv_timer_stop(&a->retry_timer);
    flush(a);
}

/* A follower names the leader: go there, so writes take one hop
 * (followers forward, so staying is only slower). */
static void on_role(struct keel_async *a, struct aconn *k, redisReply *r)
{
    char host[64], at[80];
    int port;
    bool named = client_role_leader(r, host, sizeof host, &port);
    freeReplyObject(r);
    k->role = false;
    if (named) {
        snprintf(at, sizeof at, "%s:%d", host, port);
        if (strcmp(at, k->at) != 0) {
            snprintf(a->b.hint, sizeof a->b.hint, "%s", at);
            async_conn_give_up(a, NULL, ASYNC_NOW);
            return;
        }
    }
    become_ready(a, k);
}

static void send_role(struct keel_async *a, struct aconn *k);
static void send_auth(struct keel_async *a, struct aconn *k);

/* AUTH's answer: on to ROLE (or the calls); a refusal is not retried:
 * every call ends KEEL_EAUTH, the connection is dropped. */
static void on_auth(struct keel_async *a, struct aconn *k, redisReply *r)
{
    k->auth = false;
    if (r->type == REDIS_REPLY_ERROR) {
        char why[KEEL_ERRMSG_SIZE];
        snprintf(why, sizeof why, "%s: AUTH as '%.40s' refused: %.120s", k->at, a->b.o.user ? a->b.o.user : "default",
                 r->str);
        freeReplyObject(r);
        async_conn_give_up(a, NULL, ASYNC_CLOSE);
        async_fail_all(a, KEEL_EAUTH, why);
        return;
    }
    freeReplyObject(r);
    if (k->role) send_role(a, k);
    else become_ready(a, k);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct aconn *k = h->data;
    *buf = uv_buf_init(k->buf, sizeof k->buf);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct aconn *k = s->data;
    if (k->a == NULL || nread == 0) return;
    if (nread < 0) {
        async_conn_give_up(k->a, nread == UV_EOF ? "connection closed" : uv_strerror((int)nread), ASYNC_NEXT);
        return;
    }
    if (redisReaderFeed(k->reader, buf->base, (size_t)nread) != REDIS_OK) {
        async_conn_give_up(k->a, "protocol error", ASYNC_NEXT);
        return;
    }
    /* A callback run from async_on_reply may close the client: k->a is
     * then NULL, and the rest of the buffer is nobody's. */
    while (k->a != NULL) {
        void *r = NULL;
        if (redisReaderGetReply(k->reader, &r) != REDIS_OK) {
            async_conn_give_up(k->a, "protocol error", ASYNC_NEXT);
            return;
        }
        if (r == NULL) break;
        if (k->auth) on_auth(k->a, k, r);
        else if (k->role) on_role(k->a, k, r);
        else async_on_reply(k->a, r);
    }
}

static void connect_cb(uv_connect_t *req, int status)
{
    struct aconn *k = req->handle->data;
    if (k->a == NULL) return; /* given up: the handle is closing */
    if (status < 0) {
        async_conn_give_up(k->a, uv_strerror(status), ASYNC_NEXT);
        return;
    }
    uv_tcp_nodelay(&k->tcp, 1);
    async_conn_stream_up(k, false);
}

void async_conn_stream_up(struct aconn *k, bool authed)
{
    int rc = uv_read_start((uv_stream_t *)&k->tcp, alloc_cb, read_cb);
    if (rc < 0) {
        async_conn_give_up(k->a, uv_strerror(rc), ASYNC_NEXT);
        return;
    }
    struct keel_async *a = k->a;
    if (a->b.o.password != NULL && !authed) {
        send_auth(a, k);
        return;
    }
    if (!k->role) {
        become_ready(a, k);
        return;
    }
    send_role(a, k);
}

static void send_role(struct keel_async *a, struct aconn *k)
{
    static const char role[] = "*1\r\n$4\r\nROLE\r\n";
    struct awrite *w = malloc(sizeof *w + sizeof role - 1);
    if (w == NULL) {
        async_conn_give_up(a, "out of memory", ASYNC_SAME);
        return;
    }
    w->wipe = 0;
    memcpy(w->data, role, sizeof role - 1);
    conn_send(k, w, sizeof role - 1);
}

/* AUTH [user] password, first on every connection. The request's copy of
 * the password is wiped when it is freed (w->wipe). */
static void send_auth(struct keel_async *a, struct aconn *k)
{
    const char *argv[3] = {"AUTH"};
    size_t lens[3] = {4};
    int argc = 1;
    if (a->b.o.user) argv[argc] = a->b.o.user, lens[argc++] = strlen(a->b.o.user);
    argv[argc] = a->b.o.password, lens[argc++] = strlen(a->b.o.password);
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, argc, argv, lens);
    struct awrite *w = len < 0 ? NULL : malloc(sizeof *w + (size_t)len);
    if (w == NULL) {
        if (cmd) explicit_bzero(cmd, (size_t)len), redisFreeCommand(cmd);
        async_conn_give_up(a, "out of memory", ASYNC_SAME);
        return;
    }
    memcpy(w->data, cmd, (size_t)len);
    w->wipe = (size_t)len;
    explicit_bzero(cmd, (size_t)len);
    redisFreeCommand(cmd);
    k->auth = true;
    conn_send(k, w, (size_t)len);
}

static int resolve(const char *host, int port, struct sockaddr_storage *ss)
{
    if (strcmp(host, "localhost") == 0) host = "127.0.0.1";
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0) return 0;
    return uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0 ? 0 : -1;
}

/* Connect to the hinted leader, else the current endpoint (then ROLE). */
static void conn_start(struct keel_async *a)
{
    char host[64], at[80];
    int port;
    bool role = true;
    if (a->b.hint[0] && client_split_addr(a->b.hint, host, sizeof host, &port) == 0) {
        snprintf(at, sizeof at, "%s", a->b.hint);
        role = false;
    } else {
        struct endpoint *e = &a->b.ep[a->b.cur];
        snprintf(host, sizeof host, "%s", e->host);
        port = e->port;
        snprintf(at, sizeof at, "%s", e->text);
    }
    a->b.hint[0] = 0;
    if (a->b.tls != NULL) {
        struct aconn *k = calloc(1, sizeof *k);
        if (k == NULL || (k->reader = redisReaderCreate()) == NULL) {
            free(k);
            client_note(&a->b, at, "out of memory");
            async_conn_give_up(a, NULL, ASYNC_SAME);
            return;
        }
        a->handles++; /* the dial, then the pipe it becomes */
        k->a = k->owner = a;
        k->role = role;
        k->dialing = true;
        snprintf(k->at, sizeof k->at, "%s", at);
        a->conn = k;
        async_tls_start(a, k, host, port);
        if (a->conn == k) uv_timer_start(&a->retry_timer, async_retry_cb, a->b.o.connect_timeout_ms, 0);
        return;
    }
    struct sockaddr_storage ss;
    if (resolve(host, port, &ss) != 0) {
        client_note(&a->b, at, "not a numeric address");
        async_conn_give_up(a, NULL, ASYNC_NEXT);
        return;
    }
    struct aconn *k = calloc(1, sizeof *k);
    if (k == NULL || (k->reader = redisReaderCreate()) == NULL || uv_tcp_init(a->loop, &k->tcp) != 0) {
        if (k && k->reader) redisReaderFree(k->reader);
        free(k);
        client_note(&a->b, at, "out of memory");
        async_conn_give_up(a, NULL, ASYNC_SAME);
        return;
    }
    a->handles++;
    k->tcp.data = k;
    k->a = k->owner = a;
    k->role = role;
    snprintf(k->at, sizeof k->at, "%s", at);
    a->conn = k;
    int rc = uv_tcp_connect(&k->connect, &k->tcp, (const struct sockaddr *)&ss, connect_cb);
    if (rc < 0) {
        async_conn_give_up(a, uv_strerror(rc), ASYNC_NEXT);
        return;
    }
    /* Connecting and ROLE are bounded by connect_timeout_ms. */
    uv_timer_start(&a->retry_timer, async_retry_cb, a->b.o.connect_timeout_ms, 0);
}

void async_retry_cb(uv_timer_t *t)
{
    struct keel_async *a = t->data;
    if (a->conn != NULL) {
        if (!a->conn->ready) async_conn_give_up(a, "timed out", ASYNC_NEXT);
        return;
    }
    if (a->send != NULL) conn_start(a); /* the pause is over, and there is work */
}

void async_conn_kick(struct keel_async *a)
{
    if (a->closing) return;
    if (a->conn != NULL) flush(a);
    else if (a->send != NULL && !uv_is_active((uv_handle_t *)&a->retry_timer)) conn_start(a);
}
