/* tests/cluster: a single real raft node on the uv backend. See uvnode.h. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "uvnode.h"

bool uvnode_in_child;

/* In a forked child a cmocka failure would longjmp into the child's copy of
 * the test runner: exit instead, and let the parent see the status. */
#define CHECK(cond, ...)                                        \
    do {                                                        \
        if (!(cond)) {                                          \
            if (uvnode_in_child) {                              \
                fprintf(stderr, "child: " __VA_ARGS__);         \
                fprintf(stderr, " (%s:%d)\n", __FILE__, __LINE__); \
                _exit(3);                                       \
            }                                                   \
            fail_msg(__VA_ARGS__);                              \
        }                                                       \
    } while (0)

/* Below the ephemeral range, in a stretch derived from the pid: see
 * kc_free_port (tests/integration/kc.c) for why. */
unsigned uvnode_free_port(void)
{
    static unsigned next;
    if (next == 0) next = (unsigned)getpid() * 211u % 12000u;
    for (unsigned tries = 0; tries < 12000u; tries++) {
        unsigned port = 20000u + next++ % 12000u;
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                .sin_port = htons((uint16_t)port)};
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        CHECK(fd >= 0, "fd >= 0");
        int rc = bind(fd, (struct sockaddr *)&a, sizeof a);
        close(fd);
        if (rc == 0) return port;
    }
    CHECK(false, "no free port in 20000-31999");
    return 0;
}

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000;
}

/* Run the loop until pred holds, at most max_ms (bounded polling). */
bool uvnode_run_until(struct uvnode *n, bool (*pred)(void *), void *arg, unsigned max_ms)
{
    uint64_t deadline = now_ms() + max_ms;
    while (!pred(arg)) {
        if (now_ms() > deadline) return false;
        uv_run(&n->loop, UV_RUN_NOWAIT);
        struct timespec ts = {0, 200000}; /* yield the CPU between turns */
        nanosleep(&ts, NULL);
    }
    return true;
}

static bool is_leader(void *arg)
{
    return raft_state(&((struct uvnode *)arg)->node->raft) == RAFT_LEADER;
}

void uvnode_open(struct uvnode *n, const struct uvnode_opts *o)
{
    char addr[64];
    struct keel_peer peer = {.id = 1};
    memset(n, 0, sizeof *n);
    snprintf(addr, sizeof addr, "127.0.0.1:%u", o->port);
    snprintf(peer.address, sizeof peer.address, "%s", addr);
    struct keel_node_options no = {
        .id = 1, .dir = o->dir, .address = addr, .peers = &peer, .n_peers = 1,
        .election_ms = 200, .heartbeat_ms = 20, .snapshot_threshold = o->threshold,
        .snapshot_trailing = o->trailing, .sync_snapshots = !o->async,
        .map_size = 64u << 20, .boot_id_path = o->boot_id_path,
    };
    CHECK(uv_loop_init(&n->loop) == 0, "uv_loop_init");
    char errmsg[KEEL_NODE_ERRMSG_SIZE];
    int rc = keel_node_create(&n->loop, &no, &n->node, errmsg);
    CHECK(rc == 0, "node create: %s", errmsg);
    n->wiped = keel_node_wiped(n->node);
    n->storage = keel_node_storage(n->node);
    n->store = keel_node_store(n->node);
    n->fsm = &n->node->fsm;
    rc = keel_node_start(n->node, errmsg);
    CHECK(rc == 0, "node start: %s", errmsg);
    CHECK(uvnode_run_until(n, is_leader, n, 10000), "no leadership within 10 s");
}

struct wait
{
    bool done;
    int status;
};

static void apply_cb(struct keel_proposal *p, int status)
{
    struct wait *w = p->data;
    w->done = true;
    w->status = status;
}

static bool waited(void *arg)
{
    return ((struct wait *)arg)->done;
}

int uvnode_apply(struct uvnode *n, const uint8_t *cmd, size_t len, struct keel_reply *out)
{
    struct keel_proposal p;
    struct wait w = {false, 0};
    keel_proposal_init(&p);
    p.data = &w;
    int rc = keel_propose(n->fsm, &p, cmd, len, apply_cb);
    if (rc == 0) {
        CHECK(uvnode_run_until(n, waited, &w, 10000), "apply took over 10 s");
        rc = w.status;
        if (rc == 0 && out != NULL) {
            keel_reply_reset(out);
            keel_reply_raw(out, p.reply.buf, p.reply.len);
        }
    }
    keel_proposal_close(&p);
    return rc;
}

int uvnode_incr_seq(struct uvnode *n, const char *key, int64_t delta, uint64_t client,
                    uint64_t seq)
{
    struct keel_enc e;
    uint8_t *buf;
    size_t len;
    keel_enc_init(&e, (int64_t)time(NULL) * 1000, client, seq);
    keel_enc_incrby(&e, keel_str(key), delta);
    CHECK(keel_enc_finish(&e, &buf, &len) == 0, "encode");
    keel_enc_close(&e);
    int rc = uvnode_apply(n, buf, len, NULL);
    free(buf);
    return rc;
}

int uvnode_incr(struct uvnode *n, const char *key, int64_t delta)
{
    struct keel_enc e;
    uint8_t *buf;
    size_t len;
    /* Sequence numbers must not repeat across reopens in one process, or the
     * dedupe table would (rightly) answer the repeats from memory. */
    static uint64_t seq;
    (void)n;
    keel_enc_init(&e, (int64_t)time(NULL) * 1000, 9, ++seq + ((uint64_t)getpid() << 32));
    keel_enc_incrby(&e, keel_str(key), delta);
    CHECK((keel_enc_finish(&e, &buf, &len)) == (0), "keel_enc_finish(&e, &buf, &len)");
    keel_enc_close(&e);
    int rc = uvnode_apply(n, buf, len, NULL);
    free(buf);
    return rc;
}

int64_t uvnode_get_int(struct uvnode *n, const char *key)
{
    struct keel_reply r;
    struct keel_reply_reader rd;
    struct keel_reply_item it;
    char buf[32] = {0};
    keel_reply_init(&r);
    CHECK((keel_store_get(n->store, keel_str(key), 0, &r)) == (0), "keel_store_get(n->store, keel_str(key), 0, &r)");
    keel_reply_reader_init(&rd, &r);
    CHECK((keel_reply_next(&rd, &it)) == (0), "keel_reply_next(&rd, &it)");
    if (it.kind == KEEL_REPLY_BULK && it.n < sizeof buf) memcpy(buf, it.p, it.n);
    keel_reply_close(&r);
    return strtoll(buf, NULL, 10);
}

static void close_cb(void *data)
{
    ((struct uvnode *)data)->closed = true;
}

static void walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

void uvnode_close(struct uvnode *n)
{
    keel_node_close(n->node, close_cb, n);
    while (!n->closed) uv_run(&n->loop, UV_RUN_ONCE);
    uv_run(&n->loop, UV_RUN_DEFAULT);
    uv_walk(&n->loop, walk_close, NULL);
    uv_run(&n->loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&n->loop) == 0, "uv_loop_close");
}
