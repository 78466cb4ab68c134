/* tests/cluster: restarts on canonical raft's real disk log. A node is
 * restarted cleanly, killed mid-run (a real process exit with LMDB unsynced
 * and raft segments open), and "power-cycled" (the same crash, reopened under
 * another boot id, so the trust rule discards LMDB and raft's snapshot and log
 * replay rebuild it). Non-idempotent INCRBYs must come out applied exactly
 * once every time: replayed entries at or below LMDB's stored index are
 * skipped, those above it applied. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/lib/testlib.h"
#include "uvnode.h"

struct fixture
{
    char *dir;
    char boot_a[4200];
    char boot_b[4200];
    unsigned port;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    fx->dir = test_mkdtemp("restart");
    snprintf(fx->boot_a, sizeof fx->boot_a, "%s/boot-a", fx->dir);
    snprintf(fx->boot_b, sizeof fx->boot_b, "%s/boot-b", fx->dir);
    test_write_text(fx->boot_a, "11111111-aaaa\n");
    test_write_text(fx->boot_b, "22222222-bbbb\n");
    fx->port = uvnode_free_port();
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    test_rmdtemp(fx->dir);
    free(fx);
    return 0;
}

static struct uvnode_opts opts(struct fixture *fx, const char *sub, const char *boot, bool async)
{
    static char dir[4300];
    snprintf(dir, sizeof dir, "%s/%s", fx->dir, sub);
    mkdir(dir, 0700);
    struct uvnode_opts o = {.dir = dir, .boot_id_path = boot, .port = fx->port,
                            .threshold = 32, .trailing = 16, .async = async};
    return o;
}

static void incr_n(struct uvnode *n, int count)
{
    for (int i = 0; i < count; i++) assert_int_equal(uvnode_incr(n, "ctr", 1), 0);
}

static void clean_restart(void **state, bool async)
{
    struct fixture *fx = *state;
    struct uvnode n;
    struct keel_store_stats st;
    struct uvnode_opts o = opts(fx, "node", fx->boot_a, async);
    uvnode_open(&n, &o);
    incr_n(&n, 299);
    assert_int_equal(uvnode_incr_seq(&n, "ctr", 1, 5, 1), 0);
    assert_true(n.fsm->stats.snapshots >= 5);
    uvnode_close(&n);

    uvnode_open(&n, &o);
    assert_false(n.wiped);
    assert_int_equal(uvnode_get_int(&n, "ctr"), 300);
    keel_store_stats(n.store, &st);
    assert_true(st.skipped > 0);  /* the log after the snapshot was replayed */
    assert_int_equal(st.applied, 0); /* and nothing of it applied again */
    /* A retry of a write acknowledged before the restart applies nothing. */
    assert_int_equal(uvnode_incr_seq(&n, "ctr", 1, 5, 1), 0);
    assert_int_equal(uvnode_get_int(&n, "ctr"), 300);
    incr_n(&n, 50);
    assert_int_equal(uvnode_get_int(&n, "ctr"), 350);
    uvnode_close(&n);

    /* Clean close, then another boot: still trusted. */
    o.boot_id_path = fx->boot_b;
    uvnode_open(&n, &o);
    assert_false(n.wiped);
    assert_int_equal(uvnode_get_int(&n, "ctr"), 350);
    uvnode_close(&n);
}

static void test_clean_restart(void **state)
{
    clean_restart(state, false);
}

static void test_clean_restart_async(void **state)
{
    clean_restart(state, true);
}

/* Run a node in a child that acknowledges `count` increments, reports the
 * count on a pipe and dies without closing anything. */
static int crash_child(struct uvnode_opts *o, int count)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct uvnode n;
        uvnode_in_child = true;
        close(fds[0]);
        uvnode_open(&n, o);
        for (int i = 0; i < count; i++) {
            if (uvnode_incr(&n, "ctr", 1) != 0) _exit(4);
        }
        if (write(fds[1], &count, sizeof count) != sizeof count) _exit(5);
        _exit(0); /* no raft_close, no LMDB sync, no clean marker */
    }
    close(fds[1]);
    int acked = -1, status = 0;
    ssize_t got = read(fds[0], &acked, sizeof acked);
    close(fds[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(got, sizeof acked);
    return acked;
}

static void crash_restart(void **state, bool async)
{
    struct fixture *fx = *state;
    struct uvnode n;
    struct keel_store_stats st;
    struct uvnode_opts o = opts(fx, "node", fx->boot_a, async);
    char cmd[9000];

    int acked = crash_child(&o, 500);
    assert_int_equal(acked, 500);
    /* Keep an identical copy of the crashed node for the power-loss case. */
    snprintf(cmd, sizeof cmd, "cp -a '%s/node' '%s/copy'", fx->dir, fx->dir);
    assert_int_equal(system(cmd), 0);

    /* Process crash, same boot: LMDB is trusted; replay skips what it holds. */
    uvnode_open(&n, &o);
    assert_false(n.wiped);
    assert_int_equal(uvnode_get_int(&n, "ctr"), acked);
    keel_store_stats(n.store, &st);
    assert_true(st.skipped > 0);
    assert_int_equal(st.applied, 0);
    incr_n(&n, 10);
    assert_int_equal(uvnode_get_int(&n, "ctr"), acked + 10);
    uvnode_close(&n);

    /* Power loss (another boot, no clean marker): LMDB is discarded and
     * rebuilt from raft's snapshot plus the log after it. */
    struct uvnode_opts o2 = opts(fx, "copy", fx->boot_b, async);
    uvnode_open(&n, &o2);
    assert_true(n.wiped);
    assert_true(n.fsm->stats.restores >= 1);
    assert_int_equal(uvnode_get_int(&n, "ctr"), acked);
    keel_store_stats(n.store, &st);
    assert_true(st.applied > 0); /* entries after the snapshot, applied once */
    incr_n(&n, 10);
    assert_int_equal(uvnode_get_int(&n, "ctr"), acked + 10);
    uvnode_close(&n);
}

static void test_crash_restart(void **state)
{
    crash_restart(state, false);
}

static void test_crash_restart_async(void **state)
{
    crash_restart(state, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_clean_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_restart_async, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_restart_async, setup, teardown),
    };
    return cmocka_run_group_tests_name("restart", tests, NULL, NULL);
}
