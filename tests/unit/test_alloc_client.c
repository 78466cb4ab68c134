/* tests: libkeel (api/client: sync and async) under allocation failure
 * (alloc_fail.h), against an in-process fake node: a thread that speaks
 * just enough RESP (ROLE, SET/INCR wrapped in KEEL.REQ, GET, PING, LRANGE
 * with a nested array), and against an address where nothing listens.
 *
 * For N = 1, 2, ... the Nth allocation of the calling thread fails (the
 * fake's thread is never failed, alloc_fail.h): each call must end in a
 * clean error (KEEL_ENOMEM with "out of memory", or the code the call
 * would have had anyway) with no reply handed out and nothing leaked
 * (LeakSanitizer, Sanitize build), or in the right reply; and the client
 * must stay usable: the next call, with nothing failing, is answered. Only
 * libkeel's own allocations fail: hiredis's are inside libhiredis.so. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <keel/async.h>
#include <keel/client.h>

#include "unit/alloc_fail.h"

/* ---- the fake node -------------------------------------------------------- */

#define FAKE_CONNS 8
#define FAKE_BUF 65536

struct fake_conn
{
    int fd;
    size_t len;
    char buf[FAKE_BUF];
};

static struct
{
    int lfd;
    unsigned port;
    atomic_bool stop;
    pthread_t thread;
    struct fake_conn conns[FAKE_CONNS];
} fake;

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

static bool word_is(const char *w, size_t n, const char *what)
{
    return strlen(what) == n && strncasecmp(w, what, n) == 0;
}

/* Parse one RESP array of bulk strings from p[0..n); its words into w/wl.
 * Returns the bytes it took, 0 if incomplete, -1 if malformed. */
static long parse_cmd(const char *p, size_t n, const char **w, size_t *wl, int *argc)
{
    const char *end = p + n, *q = p;
    char *e;
    if (n == 0) return 0;
    if (*q != '*') return -1;
    const char *nl = memchr(q, '\n', (size_t)(end - q));
    if (nl == NULL) return 0;
    long cnt = strtol(q + 1, &e, 10);
    if (cnt < 1 || cnt > 16) return -1;
    q = nl + 1;
    for (long i = 0; i < cnt; i++) {
        if (q >= end) return 0;
        if (*q != '$') return -1;
        nl = memchr(q, '\n', (size_t)(end - q));
        if (nl == NULL) return 0;
        long len = strtol(q + 1, &e, 10);
        if (len < 0) return -1;
        q = nl + 1;
        if (end - q < len + 2) return 0;
        w[i] = q;
        wl[i] = (size_t)len;
        q += len + 2;
    }
    *argc = (int)cnt;
    return q - p;
}

static void answer(int fd, const char **w, const size_t *wl, int argc)
{
    if (argc >= 4 && word_is(w[0], wl[0], "KEEL.REQ")) { /* KEEL.REQ id seq cmd ... */
        w += 3, wl += 3, argc -= 3;
    }
    const char *r = "-ERR unknown command\r\n";
    if (word_is(w[0], wl[0], "ROLE")) r = "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n";
    else if (word_is(w[0], wl[0], "PING")) r = "+PONG\r\n";
    else if (word_is(w[0], wl[0], "SET")) r = "+OK\r\n";
    else if (word_is(w[0], wl[0], "INCR")) r = ":1\r\n";
    else if (word_is(w[0], wl[0], "GET")) r = "$3\r\nbar\r\n";
    else if (word_is(w[0], wl[0], "LRANGE")) r = "*4\r\n$1\r\na\r\n:2\r\n*2\r\n$1\r\nc\r\n$-1\r\n+OK\r\n";
    send_all(fd, r, strlen(r));
}

static void fake_serve(struct fake_conn *c)
{
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    if (n <= 0) {
        close(c->fd);
        c->fd = -1;
        c->len = 0;
        return;
    }
    c->len += (size_t)n;
    for (;;) {
        const char *w[16];
        size_t wl[16];
        int argc = 0;
        long took = parse_cmd(c->buf, c->len, w, wl, &argc);
        if (took == 0) return;
        if (took < 0) {
            close(c->fd);
            c->fd = -1;
            c->len = 0;
            return;
        }
        answer(c->fd, w, wl, argc);
        memmove(c->buf, c->buf + took, c->len - (size_t)took);
        c->len -= (size_t)took;
    }
}

static void *fake_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&fake.stop)) {
        struct pollfd p[FAKE_CONNS + 1];
        p[0] = (struct pollfd){.fd = fake.lfd, .events = POLLIN};
        for (int i = 0; i < FAKE_CONNS; i++) p[i + 1] = (struct pollfd){.fd = fake.conns[i].fd, .events = POLLIN};
        if (poll(p, FAKE_CONNS + 1, 20) <= 0) continue;
        if (p[0].revents & POLLIN) {
            int fd = accept(fake.lfd, NULL, NULL);
            int i = 0;
            while (fd >= 0 && i < FAKE_CONNS && fake.conns[i].fd >= 0) i++;
            if (fd >= 0 && i == FAKE_CONNS) close(fd);
            else if (fd >= 0) fake.conns[i].fd = fd, fake.conns[i].len = 0;
        }
        for (int i = 0; i < FAKE_CONNS; i++)
            if (fake.conns[i].fd >= 0 && (p[i + 1].revents & (POLLIN | POLLHUP | POLLERR))) fake_serve(&fake.conns[i]);
    }
    return NULL;
}

/* A loopback port with a listener (fd into *lfd), or with nothing (lfd NULL:
 * bound, then closed; nobody else listens there during the test with
 * overwhelming likelihood, and a connection refused is what we want). */
static unsigned loopback_port(int *lfd)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    if (lfd != NULL) {
        assert_int_equal(listen(fd, 16), 0);
        *lfd = fd;
    } else {
        close(fd);
    }
    return ntohs(a.sin_port);
}

static int fake_start(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN); /* async.h: the process must ignore it */
    for (int i = 0; i < FAKE_CONNS; i++) fake.conns[i].fd = -1;
    fake.port = loopback_port(&fake.lfd);
    atomic_store(&fake.stop, false);
    return pthread_create(&fake.thread, NULL, fake_main, NULL) == 0 ? 0 : -1;
}

static int fake_stop(void **state)
{
    (void)state;
    atomic_store(&fake.stop, true);
    pthread_join(fake.thread, NULL);
    for (int i = 0; i < FAKE_CONNS; i++)
        if (fake.conns[i].fd >= 0) close(fake.conns[i].fd);
    close(fake.lfd);
    return 0;
}

/* ---- the sync client ------------------------------------------------------ */

struct sync_run
{
    char endpoints[64];
    struct keel_client *c;
    unsigned timeout_ms;
    int (*call)(struct sync_run *r);
    void (*check_reply)(struct keel_value **v, size_t n);
    size_t nreplies;
    int want; /* the code of a run with nothing failing */
    struct keel_value *replies[4];
    char errmsg[KEEL_ERRMSG_SIZE];
};

static void open_client(struct sync_run *r, unsigned port, unsigned timeout_ms)
{
    char errmsg[KEEL_ERRMSG_SIZE];
    snprintf(r->endpoints, sizeof r->endpoints, "127.0.0.1:%u", port);
    struct keel_client_options o = {.endpoints = r->endpoints, .timeout_ms = timeout_ms, .connect_timeout_ms = 200,
                                    .backoff_min_ms = 2, .backoff_max_ms = 20};
    int rc = keel_client_open(&o, &r->c, errmsg, sizeof errmsg);
    if (rc != 0) fail_msg("open: %d %s", rc, errmsg);
}

static int open_op(void *arg)
{
    struct sync_run *r = arg;
    struct keel_client_options o = {.endpoints = r->endpoints};
    r->c = NULL;
    r->errmsg[0] = 0;
    return keel_client_open(&o, &r->c, r->errmsg, sizeof r->errmsg);
}

static void open_check(void *arg, int rc, unsigned long n, bool hit)
{
    struct sync_run *r = arg;
    if (hit) {
        if (rc != KEEL_ENOMEM) fail_msg("open, allocation %lu failing: rc %d (%s)", n, rc, r->errmsg);
        assert_string_equal(r->errmsg, "out of memory");
        assert_null(r->c);
        return;
    }
    assert_int_equal(rc, 0);
    assert_non_null(r->c);
    keel_client_close(r->c);
    r->c = NULL;
}

static void client_open(void **state)
{
    (void)state;
    struct sync_run r;
    memset(&r, 0, sizeof r);
    snprintf(r.endpoints, sizeof r.endpoints, "127.0.0.1:%u,127.0.0.1:%u", fake.port, fake.port);
    assert_true(alloc_fail_loop("keel_client_open", false, 16, open_op, open_check, &r) >= 2);
}

static int call_op(void *arg)
{
    struct sync_run *r = arg;
    r->errmsg[0] = 0;
    for (size_t i = 0; i < 4; i++) r->replies[i] = (struct keel_value *)r; /* must be reset */
    return r->call(r);
}

static void call_check(void *arg, int rc, unsigned long n, bool hit)
{
    struct sync_run *r = arg;
    if (hit && rc == KEEL_ENOMEM) {
        assert_string_equal(r->errmsg, "out of memory");
        for (size_t i = 0; i < r->nreplies; i++) assert_null(r->replies[i]);
    } else if (rc != r->want) {
        fail_msg("allocation %lu %s: rc %d (%s), want %d%s", n, hit ? "failing" : "(none failed)", rc, r->errmsg,
                 r->want, hit ? " or KEEL_ENOMEM" : "");
    } else if (rc == 0) {
        r->check_reply(r->replies, r->nreplies);
        for (size_t i = 0; i < r->nreplies; i++) keel_value_free(r->replies[i]);
    } else {
        assert_true(strlen(r->errmsg) > 0);
        for (size_t i = 0; i < r->nreplies; i++) assert_null(r->replies[i]);
    }
    /* Still usable: PING, with nothing failing, on a live endpoint. */
    if (r->want == 0) {
        struct keel_value *v = NULL;
        char errmsg[KEEL_ERRMSG_SIZE];
        int prc = keel_callv(r->c, &v, errmsg, sizeof errmsg, "PING", NULL);
        if (prc != 0) fail_msg("PING after allocation %lu failed: %d %s", n, prc, errmsg);
        assert_string_equal(v->str, "PONG");
        keel_value_free(v);
    }
}

static int call_set(struct sync_run *r)
{
    return keel_callv(r->c, &r->replies[0], r->errmsg, sizeof r->errmsg, "SET", "k", "v", NULL);
}

static void check_ok(struct keel_value **v, size_t n)
{
    (void)n;
    assert_int_equal(v[0]->type, KEEL_VALUE_STATUS);
    assert_string_equal(v[0]->str, "OK");
}

static int call_lrange(struct sync_run *r)
{
    return keel_callv(r->c, &r->replies[0], r->errmsg, sizeof r->errmsg, "LRANGE", "l", "0", "-1", NULL);
}

static void check_nested(struct keel_value *v)
{
    assert_int_equal(v->type, KEEL_VALUE_ARRAY);
    assert_int_equal(v->n, 4);
    assert_string_equal(v->elements[0]->str, "a");
    assert_int_equal(v->elements[1]->integer, 2);
    assert_int_equal(v->elements[2]->type, KEEL_VALUE_ARRAY);
    assert_int_equal(v->elements[2]->n, 2);
    assert_string_equal(v->elements[2]->elements[0]->str, "c");
    assert_int_equal(v->elements[2]->elements[1]->type, KEEL_VALUE_NIL);
    assert_string_equal(v->elements[3]->str, "OK");
}

static void check_array(struct keel_value **v, size_t n)
{
    (void)n;
    check_nested(v[0]);
}

static int call_pipeline(struct sync_run *r)
{
    static const char *const set[] = {"SET", "k", "v"}, *const incr[] = {"INCR", "n"},
                             *const get[] = {"GET", "k"}, *const lr[] = {"LRANGE", "l", "0", "-1"};
    static const size_t set_l[] = {3, 1, 1}, incr_l[] = {4, 1}, get_l[] = {3, 1}, lr_l[] = {6, 1, 1, 2};
    const struct keel_cmd cmds[4] = {{3, set, set_l}, {2, incr, incr_l}, {2, get, get_l}, {4, lr, lr_l}};
    return keel_pipeline(r->c, 4, cmds, r->replies, r->errmsg, sizeof r->errmsg);
}

static void check_pipeline(struct keel_value **v, size_t n)
{
    assert_int_equal(n, 4);
    check_ok(v, 1);
    assert_int_equal(v[1]->integer, 1);
    assert_string_equal(v[2]->str, "bar");
    check_nested(v[3]);
}

static void loop_call(const char *what, unsigned port, int want, int (*call)(struct sync_run *),
                      void (*check_reply)(struct keel_value **, size_t), size_t nreplies)
{
    for (int persist = 0; persist < 2; persist++) {
        struct sync_run r;
        memset(&r, 0, sizeof r);
        r.call = call;
        r.check_reply = check_reply;
        r.nreplies = nreplies;
        r.want = want;
        open_client(&r, port, want == 0 ? 5000 : 100);
        assert_true(alloc_fail_loop(what, persist, 64, call_op, call_check, &r) >= 2);
        keel_client_close(r.c);
    }
}

static void client_call_write(void **state)
{
    (void)state;
    loop_call("keel_callv SET", fake.port, 0, call_set, check_ok, 1);
}

static void client_call_array(void **state)
{
    (void)state;
    loop_call("keel_callv LRANGE (nested array)", fake.port, 0, call_lrange, check_array, 1);
}

static void client_pipeline(void **state)
{
    (void)state;
    loop_call("keel_pipeline SET INCR GET LRANGE", fake.port, 0, call_pipeline, check_pipeline, 4);
}

/* Nothing listens: every run ends KEEL_ENOTLEADER at its 100 ms deadline
 * (not a write: certainly not applied), or KEEL_ENOMEM. */
static int call_get(struct sync_run *r)
{
    return keel_callv(r->c, &r->replies[0], r->errmsg, sizeof r->errmsg, "GET", "k", NULL);
}

static void client_nothing_listening(void **state)
{
    (void)state;
    loop_call("keel_callv GET (nothing listening)", loopback_port(NULL), KEEL_ENOTLEADER, call_get, NULL, 1);
}

/* ---- the async client ----------------------------------------------------- */

struct async_run
{
    uv_loop_t loop;
    char endpoints[64];
    unsigned timeout_ms;
    struct keel_async *a;
    int open_rc, call_rc;
    int calls_done;
    int status[2];
    struct keel_value *reply[2];
    char errmsg[2][KEEL_ERRMSG_SIZE];
    bool closed;
};

static void async_cb(struct keel_async *a, int status, struct keel_value *reply, const char *errmsg, void *data)
{
    struct async_run *r = data;
    (void)a;
    int i = r->calls_done++;
    assert_true(i < 2);
    r->status[i] = status;
    r->reply[i] = reply;
    snprintf(r->errmsg[i], sizeof r->errmsg[i], "%s", errmsg);
}

static void closed_cb(void *data)
{
    ((struct async_run *)data)->closed = true;
}

/* Open, a write and a read, run until both ended, close, run until closed:
 * the whole life of a client, every allocation of it on this thread. */
static int async_op(void *arg)
{
    struct async_run *r = arg;
    char errmsg[KEEL_ERRMSG_SIZE] = "";
    struct keel_client_options o = {.endpoints = r->endpoints, .timeout_ms = r->timeout_ms,
                                    .connect_timeout_ms = 200, .backoff_min_ms = 2, .backoff_max_ms = 20};
    r->a = NULL;
    r->calls_done = 0;
    r->closed = false;
    r->call_rc = -1;
    r->open_rc = keel_async_open(&r->loop, &o, &r->a, errmsg, sizeof errmsg);
    if (r->open_rc != 0) {
        assert_null(r->a);
        assert_true(strlen(errmsg) > 0);
        return r->open_rc;
    }
    r->call_rc = keel_async_callv(r->a, async_cb, r, "SET", "k", "v", NULL);
    int want = 1;
    if (r->call_rc == 0 && keel_async_callv(r->a, async_cb, r, "LRANGE", "l", "0", "-1", NULL) == 0) want = 2;
    for (int i = 0; i < 100000 && r->calls_done < want && r->call_rc == 0; i++) uv_run(&r->loop, UV_RUN_ONCE);
    keel_async_close(r->a, closed_cb, r);
    for (int i = 0; i < 100000 && !r->closed; i++) uv_run(&r->loop, UV_RUN_ONCE);
    return r->call_rc;
}

static void async_check(void *arg, int rc, unsigned long n, bool hit)
{
    struct async_run *r = arg;
    (void)rc;
    if (r->open_rc != 0) {
        if (!hit || r->open_rc != KEEL_ENOMEM) fail_msg("open, allocation %lu: rc %d", n, r->open_rc);
        return;
    }
    assert_true(r->closed);
    if (r->call_rc != 0) { /* refused: its callback never runs */
        if (!hit || r->call_rc != KEEL_ENOMEM) fail_msg("call, allocation %lu: rc %d", n, r->call_rc);
        assert_int_equal(r->calls_done, 0);
    }
    for (int i = 0; i < r->calls_done; i++) {
        if (r->status[i] == 0) {
            assert_non_null(r->reply[i]);
            if (i == 0) check_ok(&r->reply[0], 1);
            else check_nested(r->reply[1]);
            keel_value_free(r->reply[i]);
        } else if (r->status[i] == KEEL_ENOMEM) {
            if (!hit) fail_msg("call %d: KEEL_ENOMEM with nothing failing", i);
            assert_string_equal(r->errmsg[i], "out of memory");
            assert_null(r->reply[i]);
        } else if (hit && (r->status[i] == KEEL_ENOTLEADER || r->status[i] == KEEL_EUNCERTAIN)) {
            /* persistent failure: no connection could be made or used */
            assert_true(strlen(r->errmsg[i]) > 0);
            assert_null(r->reply[i]);
        } else {
            fail_msg("call %d, allocation %lu: status %d (%s)", i, n, r->status[i], r->errmsg[i]);
        }
    }
    if (!hit) assert_int_equal(r->calls_done, 2);
    /* Nothing of the client remains on the loop (async.h). */
    assert_int_equal(uv_run(&r->loop, UV_RUN_NOWAIT), 0);
}

static void async_client(void **state)
{
    (void)state;
    for (int persist = 0; persist < 2; persist++) {
        struct async_run *r = calloc(1, sizeof *r);
        assert_non_null(r);
        assert_int_equal(uv_loop_init(&r->loop), 0);
        snprintf(r->endpoints, sizeof r->endpoints, "127.0.0.1:%u", fake.port);
        r->timeout_ms = persist ? 150 : 5000; /* persistent: calls end at their deadline */
        assert_true(alloc_fail_loop("keel_async open, SET, LRANGE, close", persist, 64, async_op, async_check, r) >= 2);
        assert_int_equal(uv_loop_close(&r->loop), 0);
        free(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(client_open),
        cmocka_unit_test(client_call_write),
        cmocka_unit_test(client_call_array),
        cmocka_unit_test(client_pipeline),
        cmocka_unit_test(client_nothing_listening),
        cmocka_unit_test(async_client),
    };
    return cmocka_run_group_tests(tests, fake_start, fake_stop);
}
