/* tests: opening a node (keel_node_create and keel_node_start, raft/node.c:
 * storage, store, fsm, transport, raft's uv log, bootstrap, load and
 * replay) under allocation failure (alloc_fail.h). For N = 1, 2, ... the
 * Nth allocation of Keel's code on the loop thread fails (libraft's, LMDB's
 * and libuv's own are in shared libraries and do not): create must fail
 * with a code and a message and leave nothing on the loop (uv_loop_close
 * succeeds) and nothing allocated (LeakSanitizer, Sanitize build); a start
 * that fails must leave a node that keel_node_close releases. The same
 * directory serves every run, so each also shows that a failed open left
 * it openable: the loop ends with a node that starts. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cluster/uvnode.h"
#include "tests/lib/testlib.h"
#include "unit/alloc_fail.h"

struct run
{
    char *dir;
    char boot[4200];
    char node[4300];
    unsigned port;
    uv_loop_t loop;
    struct keel_node *n;
    int create_rc, start_rc;
    bool closed;
    char errmsg[KEEL_NODE_ERRMSG_SIZE];
};

static void close_cb(void *data)
{
    ((struct run *)data)->closed = true;
}

static void walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

static int open_op(void *arg)
{
    struct run *r = arg;
    char addr[64];
    struct keel_peer peer = {.id = 1};
    snprintf(addr, sizeof addr, "127.0.0.1:%u", r->port);
    snprintf(peer.address, sizeof peer.address, "%s", addr);
    struct keel_node_options no = {
        .id = 1, .dir = r->node, .address = addr, .peers = &peer, .n_peers = 1, .election_ms = 200,
        .heartbeat_ms = 20, .sync_snapshots = true, .map_size = 16u << 20, .boot_id_path = r->boot,
    };
    assert_int_equal(uv_loop_init(&r->loop), 0);
    r->n = (struct keel_node *)r; /* must be overwritten */
    r->errmsg[0] = 0;
    r->start_rc = -1;
    r->closed = false;
    r->create_rc = keel_node_create(&r->loop, &no, &r->n, r->errmsg);
    if (r->create_rc == 0) r->start_rc = keel_node_start(r->n, r->errmsg);
    /* The close is part of the operation: what it frees may fail to be
     * allocated, too. */
    if (r->n != NULL && r->create_rc == 0) {
        keel_node_close(r->n, close_cb, r);
        for (int i = 0; i < 100000 && !r->closed; i++) uv_run(&r->loop, UV_RUN_ONCE);
    }
    return r->create_rc != 0 ? r->create_rc : r->start_rc;
}

static void open_check(void *arg, int rc, unsigned long n, bool hit)
{
    struct run *r = arg;
    if (r->create_rc != 0) {
        if (!hit) fail_msg("create with nothing failing: %d %s", r->create_rc, r->errmsg);
        /* (Only a failed bootstrap sets *out with an error: it is libraft's,
         * which allocates in libraft.so, out of this hook's reach.) */
        assert_null(r->n);
        if (strlen(r->errmsg) == 0) fail_msg("create, allocation %lu: rc %d without a message", n, rc);
    } else {
        assert_true(r->closed);
        if (r->start_rc != 0 && !hit) fail_msg("start with nothing failing: %d %s", r->start_rc, r->errmsg);
        if (r->start_rc != 0 && strlen(r->errmsg) == 0)
            fail_msg("start, allocation %lu: rc %d without a message", n, r->start_rc);
    }
    /* Nothing of the node left on the loop. */
    uv_run(&r->loop, UV_RUN_NOWAIT);
    uv_walk(&r->loop, walk_close, NULL);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    int lrc = uv_loop_close(&r->loop);
    if (lrc != 0) fail_msg("allocation %lu: the loop still has handles after the node (%s)", n, uv_strerror(lrc));
}

static void node_open(void **state)
{
    (void)state;
    for (int persist = 0; persist < 2; persist++) {
        struct run *r = calloc(1, sizeof *r);
        assert_non_null(r);
        r->dir = test_mkdtemp("alloc-node");
        assert_non_null(r->dir);
        snprintf(r->boot, sizeof r->boot, "%s/boot", r->dir);
        snprintf(r->node, sizeof r->node, "%s/node", r->dir);
        FILE *f = fopen(r->boot, "w");
        assert_non_null(f);
        fputs("66666666-ffff\n", f);
        fclose(f);
        mkdir(r->node, 0700);
        r->port = uvnode_free_port();
        assert_true(alloc_fail_loop("keel_node_create + start + close", persist, 2000, open_op, open_check, r) >= 2);
        test_rmdtemp(r->dir);
        free(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(node_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
