/* examples: a local three-node Keel cluster in one process, on canonical
 * raft's real disk log and TCP transport over 127.0.0.1, until Ctrl-C.
 *
 *   keel-local-cluster [--dir DIR] [--base-port P] [--seconds N]
 *
 * It is what `make run` starts until keeld (separate processes with a RESP
 * port) lands. Once a second it writes a batch of keys through the leader and
 * prints each node's role, term, applied index and state digest: equal digests
 * at equal indexes mean identical replicas. Restarting it recovers from disk. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "raft/node.h"

#define NODES 3

static struct keel_node *nodes[NODES];
static unsigned busy;
static unsigned closed;
static uint64_t acked, failed, seq;
static uv_timer_t tick;
static uv_signal_t sigint, sigterm;
static long seconds_left = -1;

static void write_cb(void *data, int status, const struct keel_reply *reply)
{
    (void)data;
    (void)reply;
    busy--;
    if (status == 0) acked++;
    else failed++;
}

static int leader(void)
{
    struct keel_node_status st;
    for (int i = 0; i < NODES; i++) {
        keel_node_status(nodes[i], &st);
        if (st.role == KEEL_ROLE_LEADER) return i;
    }
    return -1;
}

static void write_some(int l)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now); /* the leader stamps time, outside apply */
    int64_t ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    while (busy < 64) {
        char key[32], val[64];
        struct keel_enc e;
        uint8_t *buf;
        size_t len;
        snprintf(key, sizeof key, "demo:%llu", (unsigned long long)(seq % 1000));
        snprintf(val, sizeof val, "value %llu", (unsigned long long)seq);
        keel_enc_init(&e, ms, 1, ++seq);
        if (seq % 3 == 0) keel_enc_incrby(&e, keel_str("demo:counter"), 1);
        else keel_enc_set(&e, keel_str(key), keel_str(val), ms + 60000, 0);
        int rc = keel_enc_finish(&e, &buf, &len);
        if (rc == 0) {
            rc = keel_node_write(nodes[l], buf, len, write_cb, NULL);
            free(buf);
        }
        keel_enc_close(&e);
        if (rc != 0) break; /* refused: not the leader any more */
        busy++;
    }
}

static void tick_cb(uv_timer_t *t)
{
    int l = leader();
    if (l >= 0) write_some(l);
    printf("acked %llu writes (%llu uncertain)\n", (unsigned long long)acked,
           (unsigned long long)failed);
    for (int i = 0; i < NODES; i++) {
        uint64_t applied = 0, digest = 0;
        struct keel_node_status st;
        keel_node_status(nodes[i], &st);
        keel_storage_digest(keel_node_storage(nodes[i]), &applied, &digest);
        printf("  node %d  %-11s term %-3llu applied %-7llu digest %016llx\n", i + 1,
               keel_role_name(st.role), (unsigned long long)st.term,
               (unsigned long long)applied, (unsigned long long)digest);
    }
    fflush(stdout);
    if (seconds_left > 0 && --seconds_left == 0) raise(SIGTERM);
    (void)t;
}

static void node_closed_cb(void *data)
{
    (void)data;
    if (++closed == NODES) {
        uv_close((uv_handle_t *)&sigint, NULL);
        uv_close((uv_handle_t *)&sigterm, NULL);
    }
}

static void signal_cb(uv_signal_t *s, int signum)
{
    (void)s;
    printf("signal %d: closing the nodes cleanly\n", signum);
    uv_signal_stop(&sigint);
    uv_signal_stop(&sigterm);
    uv_close((uv_handle_t *)&tick, NULL);
    for (int i = 0; i < NODES; i++) keel_node_close(nodes[i], node_closed_cb, NULL);
}

int main(int argc, char **argv)
{
    const char *dir = "data/demo";
    unsigned base = 9001;
    struct keel_peer peers[NODES];
    char dirs[NODES][4200], addr[NODES][64];
    uv_loop_t *loop = uv_default_loop();

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--base-port") && i + 1 < argc) base = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds_left = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: keel-local-cluster [--dir DIR] [--base-port P] [--seconds N]\n");
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "keel-local-cluster: cannot create %s\n", dir);
        return 1;
    }
    for (int i = 0; i < NODES; i++) {
        peers[i].id = (uint64_t)i + 1;
        snprintf(peers[i].address, sizeof peers[i].address, "127.0.0.1:%u", base + i);
        snprintf(addr[i], sizeof addr[i], "%s", peers[i].address);
        snprintf(dirs[i], sizeof dirs[i], "%s/node%d", dir, i + 1);
        mkdir(dirs[i], 0700);
    }
    for (int i = 0; i < NODES; i++) {
        struct keel_node_options o = {.id = (uint64_t)i + 1, .dir = dirs[i], .address = addr[i],
                                      .peers = peers, .n_peers = NODES};
        char errmsg[KEEL_ERRMSG_SIZE];
        if (keel_node_create(loop, &o, &nodes[i], errmsg) != 0 ||
            keel_node_start(nodes[i], errmsg) != 0) {
            fprintf(stderr, "keel-local-cluster: node %d: %s\n", i + 1, errmsg);
            return 1;
        }
        printf("node %d: raft on %s, data in %s%s\n", i + 1, addr[i], dirs[i],
               keel_node_wiped(nodes[i]) ? " (state rebuilt from the raft log)" : "");
    }
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, tick_cb, 1000, 1000);
    uv_signal_init(loop, &sigint);
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigint, signal_cb, SIGINT);
    uv_signal_start(&sigterm, signal_cb, SIGTERM);
    printf("three nodes up; Ctrl-C stops them cleanly\n");
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    return 0;
}
