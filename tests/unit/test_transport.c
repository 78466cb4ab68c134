/* tests/unit: Keel's raft transport (raft/transport.c) on one libuv loop,
 * over loopback: the handshake hands raft the stream with the peer's id and
 * address and not a byte of what follows; it interoperates with raft's own
 * raft_uv_tcp both ways; a connect to a peer that never answers fails with
 * RAFT_NOCONNECTION instead of waiting on the kernel's SYN retries; a peer
 * that connects and says nothing, or speaks another protocol, is dropped;
 * closing cancels what is in progress. Every wait runs the loop until a
 * condition holds, bounded by a watchdog timer. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "raft/transport.h"

static uv_loop_t loop;
static bool expired;

struct side
{
    struct raft_uv_transport t;
    bool ours;
    char address[64];
    int accepted;
    raft_id peer_id;
    char peer_address[64];
    uv_stream_t *stream;
    char first[16];   /* what raft would read first on the stream */
    size_t got;
    bool closed;
};

static struct side a, b;
static struct raft_uv_connect creq;
static int connect_status = 1;
static uv_stream_t *connected;

static unsigned free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static void watchdog_cb(uv_timer_t *t)
{
    (void)t;
    expired = true;
}

/* Run the loop until *flag, for at most 10 s. */
static bool run_until(const volatile bool *flag)
{
    uv_timer_t dog;
    expired = false;
    uv_timer_init(&loop, &dog);
    uv_timer_start(&dog, watchdog_cb, 10000, 0);
    while (!*flag && !expired) uv_run(&loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&dog, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    return *flag;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct side *s = h->data;
    (void)suggested;
    *buf = uv_buf_init(s->first + s->got, (unsigned)(sizeof s->first - 1 - s->got));
}

static void read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    struct side *s = st->data;
    (void)buf;
    if (n > 0) s->got += (size_t)n;
}

static void accept_cb(struct raft_uv_transport *t, raft_id id, const char *address, uv_stream_t *stream)
{
    struct side *s = t->data;
    s->accepted++;
    s->peer_id = id;
    snprintf(s->peer_address, sizeof s->peer_address, "%s", address);
    s->stream = stream;
    stream->data = s;
    uv_read_start(stream, alloc_cb, read_cb);
}

static void connect_cb(struct raft_uv_connect *req, uv_stream_t *stream, int status)
{
    (void)req;
    connect_status = status;
    connected = stream;
}

static void side_init(struct side *s, bool ours, raft_id id)
{
    memset(s, 0, sizeof *s);
    s->ours = ours;
    snprintf(s->address, sizeof s->address, "127.0.0.1:%u", free_port());
    struct keel_transport_options o = {.connect_timeout_ms = 300, .user_timeout_ms = 1000};
    if (ours) assert_int_equal(keel_transport_init(&s->t, &loop, &o), 0);
    else assert_int_equal(raft_uv_tcp_init(&s->t, &loop), 0);
    s->t.data = s;
    assert_int_equal(s->t.init(&s->t, id, s->address), 0);
    assert_int_equal(s->t.listen(&s->t, accept_cb), 0);
}

static void closed_cb(struct raft_uv_transport *t)
{
    struct side *s = t->data;
    s->closed = true;
}

static void stream_closed_cb(uv_handle_t *h)
{
    raft_free(h);
}

static void side_close(struct side *s)
{
    if (s->stream != NULL) uv_close((uv_handle_t *)s->stream, stream_closed_cb);
    s->t.close(&s->t, closed_cb);
    assert_true(run_until(&s->closed));
    if (s->ours) keel_transport_release(&s->t);
    else raft_uv_tcp_close(&s->t);
}

static int setup(void **state)
{
    (void)state;
    connect_status = 1;
    connected = NULL;
    return uv_loop_init(&loop);
}

static int teardown(void **state)
{
    (void)state;
    uv_run(&loop, UV_RUN_DEFAULT);
    return uv_loop_close(&loop);
}

static bool done_connect;
static void connect_done_cb(struct raft_uv_connect *req, uv_stream_t *stream, int status)
{
    connect_cb(req, stream, status);
    done_connect = true;
}

static void write_cb(uv_write_t *w, int status)
{
    (void)w;
    assert_int_equal(status, 0);
}

/* from connects to to: to gets the stream with from's identity, and the
 * first bytes written after the handshake arrive intact. */
static void exchange(struct side *from, raft_id from_id, struct side *to)
{
    static uv_write_t w;
    static char msg[] = "raft-msg";
    done_connect = false;
    assert_int_equal(from->t.connect(&from->t, &creq, 2, to->address, connect_done_cb), 0);
    assert_true(run_until(&done_connect));
    assert_int_equal(connect_status, 0);
    uv_buf_t buf = uv_buf_init(msg, 8);
    assert_int_equal(uv_write(&w, connected, &buf, 1, write_cb), 0);
    bool got = false;
    for (int i = 0; i < 100 && !got; i++) {
        uv_run(&loop, UV_RUN_ONCE);
        got = to->got >= 8;
    }
    assert_int_equal(to->accepted, 1);
    assert_int_equal(to->peer_id, from_id);
    assert_string_equal(to->peer_address, from->address);
    assert_memory_equal(to->first, "raft-msg", 8);
    uv_close((uv_handle_t *)connected, stream_closed_cb);
}

static void test_handshake(void **state)
{
    (void)state;
    side_init(&a, true, 1);
    side_init(&b, true, 2);
    exchange(&a, 1, &b);
    side_close(&a);
    side_close(&b);
}

/* The same wire handshake as raft_uv_tcp, both ways. */
static void test_interoperates_with_raft_uv_tcp(void **state)
{
    (void)state;
    side_init(&a, true, 1);
    side_init(&b, false, 2);
    exchange(&a, 1, &b);
    b.accepted = 0;
    b.got = 0;
    a.accepted = 0;
    exchange(&b, 2, &a);
    side_close(&a);
    side_close(&b);
}

/* A listener whose accept queue is full drops SYNs, as a partition does. */
static void test_connect_timeout(void **state)
{
    (void)state;
    side_init(&a, true, 1);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(l, 0), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &len), 0);
    int fill[4];
    for (int i = 0; i < 4; i++) { /* fill the accept queue */
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fill[i], (struct sockaddr *)&sa, sizeof sa);
    }
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", ntohs(sa.sin_port));
    done_connect = false;
    assert_int_equal(a.t.connect(&a.t, &creq, 9, addr, connect_done_cb), 0);
    assert_true(run_until(&done_connect));
    assert_int_equal(connect_status, RAFT_NOCONNECTION);
    assert_null(connected);
    for (int i = 0; i < 4; i++) close(fill[i]);
    close(l);
    side_close(&a);
}

/* Silence or a foreign protocol: dropped, never handed to raft. */
static void test_bad_peers_dropped(void **state)
{
    (void)state;
    side_init(&a, true, 1);
    struct sockaddr_in sa;
    unsigned port;
    sscanf(a.address, "127.0.0.1:%u", &port);
    uv_ip4_addr("127.0.0.1", (int)port, &sa);
    int silent = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(silent, (struct sockaddr *)&sa, sizeof sa), 0);
    int foreign = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(foreign, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(write(foreign, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27), 27);
    /* both see the connection closed by the transport */
    char c;
    bool closed[2] = {false, false};
    for (int i = 0; i < 200 && !(closed[0] && closed[1]); i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(10000);
        int fds[2] = {silent, foreign};
        for (int k = 0; k < 2; k++)
            if (!closed[k] && recv(fds[k], &c, 1, MSG_DONTWAIT) == 0) closed[k] = true;
    }
    assert_true(closed[0] && closed[1]);
    assert_int_equal(a.accepted, 0);
    close(silent);
    close(foreign);
    side_close(&a);
}

/* Closing with a connect in flight calls it back with RAFT_CANCELED. */
static void test_close_cancels(void **state)
{
    (void)state;
    side_init(&a, true, 1);
    side_init(&b, true, 2);
    assert_int_equal(a.t.connect(&a.t, &creq, 2, b.address, connect_cb), 0);
    side_close(&a);
    assert_int_equal(connect_status, RAFT_CANCELED);
    side_close(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_handshake, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interoperates_with_raft_uv_tcp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_peers_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_cancels, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
