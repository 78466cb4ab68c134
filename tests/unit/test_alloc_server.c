/* tests: keel_server_create (api/server/server.c) under allocation failure
 * (alloc_fail.h), on a real one-node cluster (tests/cluster/uvnode.h). For
 * N = 1, 2, ... until it completes, the Nth allocation fails: the create
 * must answer KEEL_ENOMEM with a message, hand nothing out, free what it
 * took (no double free, no leak: the Sanitize build's ASan and
 * LeakSanitizer), and leave the node as it was, so that the create which
 * completes gets a server that starts, listens and stops. Run one-shot and
 * persistent. This is the loop that would have caught the pub/sub table
 * freed twice on this path (fixed in c357c17). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/server/server.h"
#include "cluster/uvnode.h"
#include "tests/lib/testlib.h"
#include "unit/alloc_fail.h"

struct fixture
{
    char *dir;
    char boot[4200];
    char node[4300];
    char client_addr[64];
    struct uvnode n;
    bool open;
    struct keel_server *srv;
    bool stopped;
    char errmsg[KEEL_ERRMSG_SIZE];
};

static void open_node(struct fixture *fx)
{
    struct uvnode_opts o = {.dir = fx->node, .boot_id_path = fx->boot, .port = uvnode_free_port()};
    uvnode_open(&fx->n, &o);
    fx->open = true;
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    if (fx == NULL) return -1;
    fx->dir = test_mkdtemp("alloc-server");
    if (fx->dir == NULL) return -1;
    snprintf(fx->boot, sizeof fx->boot, "%s/boot", fx->dir);
    snprintf(fx->node, sizeof fx->node, "%s/node", fx->dir);
    FILE *f = fopen(fx->boot, "w");
    if (f == NULL) return -1;
    fputs("55555555-eeee\n", f);
    fclose(f);
    mkdir(fx->node, 0700);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    if (fx->open) uvnode_close(&fx->n);
    test_rmdtemp(fx->dir);
    free(fx);
    return 0;
}

static int create_op(void *arg)
{
    struct fixture *fx = arg;
    snprintf(fx->client_addr, sizeof fx->client_addr, "127.0.0.1:%u", uvnode_free_port());
    struct keel_server_config cfg = {
        .node_id = 1, .client_addr = fx->client_addr, .max_clients = 16, .max_pipeline = 16,
        .max_output = 1 << 20, .max_bulk = 1 << 20, .max_args = 1024, .max_inflight = 64,
        .sweep_interval_ms = 100, .zone = "z1", .notify_keyspace_events = "KEA",
    };
    fx->srv = NULL;
    fx->errmsg[0] = 0;
    return keel_server_create(&fx->n.loop, fx->n.node, &cfg, &fx->srv, fx->errmsg);
}

static void stopped_cb(void *data)
{
    ((struct fixture *)data)->stopped = true;
}

/* The create that completed: the server must start and stop; then it is
 * freed after the node's close, as server.h asks, and the node reopened
 * for the next loop. */
static void use_and_free(struct fixture *fx)
{
    char errmsg[KEEL_ERRMSG_SIZE];
    int rc = keel_server_start(fx->srv, errmsg);
    if (rc != 0) fail_msg("start: %d %s", rc, errmsg);
    fx->stopped = false;
    keel_server_stop(fx->srv, stopped_cb, fx);
    for (int i = 0; i < 10000 && !fx->stopped; i++) uv_run(&fx->n.loop, UV_RUN_ONCE);
    assert_true(fx->stopped);
    uvnode_close(&fx->n);
    fx->open = false;
    keel_server_free(fx->srv);
    fx->srv = NULL;
}

static void create_check(void *arg, int rc, unsigned long n, bool hit)
{
    struct fixture *fx = arg;
    if (!hit) {
        if (rc != 0) fail_msg("create with nothing failing: %d %s", rc, fx->errmsg);
        assert_non_null(fx->srv);
        use_and_free(fx);
        return;
    }
    if (rc != KEEL_ENOMEM) fail_msg("allocation %lu failing: rc %d (%s), want KEEL_ENOMEM", n, rc, fx->errmsg);
    assert_string_equal(fx->errmsg, "out of memory");
    assert_null(fx->srv);
}

static void create_one_shot(void **state)
{
    struct fixture *fx = *state;
    open_node(fx);
    assert_true(alloc_fail_loop("keel_server_create", false, 256, create_op, create_check, fx) >= 2);
}

static void create_persistent(void **state)
{
    struct fixture *fx = *state;
    open_node(fx);
    assert_true(alloc_fail_loop("keel_server_create", true, 256, create_op, create_check, fx) >= 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(create_one_shot, setup, teardown),
        cmocka_unit_test_setup_teardown(create_persistent, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
