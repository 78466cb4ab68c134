/* tests/integration: three keeld nodes, each on a small file system of its
 * own (a tmpfs the test mounts, so it needs root, as CI runs), filled by
 * writes and by another process's file until nothing is left. No node may
 * die, writes must be refused with an error that says the disk is full,
 * deletes and reads must go on, a full node must restart, writes must work
 * again once space is back, and no acknowledged write may be lost. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "kc.h"

#define MIB (1ull << 20)
#define VAL (64u * 1024)
#define MAX_KEYS 4000

static struct kc cl;
static char mounts[KC_MAX][512];
static unsigned n_mounts;
static char base[512];

/* Also at exit: a failed kc_stop (a node that did not stop cleanly) leaves
 * the teardown early, and kc's own exit handler kills what is left first. */
static void unmount_all(void)
{
    for (unsigned i = 0; i < n_mounts; i++) {
        umount2(mounts[i], MNT_DETACH);
        rmdir(mounts[i]);
    }
    n_mounts = 0;
    if (base[0] && getenv("KC_KEEP") == NULL) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
        if (system(cmd) != 0) print_message("could not remove %s\n", base);
        base[0] = 0;
    }
}

static int teardown(void **state)
{
    (void)state;
    if (cl.base != NULL) kc_stop(&cl);
    unmount_all();
    return 0;
}

/* Every node's data directory is a tmpfs of `size`. false if it cannot be
 * mounted (not root). */
static bool mount_nodes(struct kc *c, const char *size)
{
    char opts[64];
    snprintf(opts, sizeof opts, "size=%s,mode=0700", size);
    snprintf(base, sizeof base, "%s", c->base);
    for (unsigned i = 0; i < c->n; i++) {
        assert_int_equal(mkdir(c->nodes[i].dir, 0700), 0);
        if (mount("tmpfs", c->nodes[i].dir, "tmpfs", 0, opts) != 0) {
            print_message("cannot mount a tmpfs on %s (%s): this test needs root\n", c->nodes[i].dir,
                          strerror(errno));
            rmdir(c->nodes[i].dir);
            return false;
        }
        snprintf(mounts[n_mounts++], sizeof mounts[0], "%s", c->nodes[i].dir);
    }
    return true;
}

static uint64_t disk_free(unsigned i)
{
    struct statvfs v;
    assert_int_equal(statvfs(cl.nodes[i].dir, &v), 0);
    return (uint64_t)v.f_bfree * v.f_frsize;
}

/* Another process's file on node i's disk, grown until about `leave` bytes
 * are free (0: until not one block is). */
static void fill_to(unsigned i, uint64_t leave)
{
    static char chunk[1 << 16];
    char path[600];
    snprintf(path, sizeof path, "%s/filler", cl.nodes[i].dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    assert_true(fd >= 0);
    memset(chunk, 'f', sizeof chunk);
    for (size_t n = sizeof chunk; n >= 4096; n /= 2) {
        while (disk_free(i) > leave + n && write(fd, chunk, n) == (ssize_t)n) {
        }
    }
    close(fd);
}

static void unfill(unsigned i)
{
    char path[600];
    snprintf(path, sizeof path, "%s/filler", cl.nodes[i].dir);
    assert_int_equal(unlink(path), 0);
}

static bool reserve_present(unsigned i)
{
    char path[600];
    snprintf(path, sizeof path, "%s/disk-reserve", cl.nodes[i].dir);
    return access(path, F_OK) == 0;
}

static void all_alive(const char *when)
{
    for (unsigned i = 0; i < cl.n; i++) {
        if (kc_exited(&cl, i)) {
            char cmd[700];
            snprintf(cmd, sizeof cmd, "tail -n 20 '%s' >&2", cl.nodes[i].log);
            if (system(cmd) != 0) print_message("(no log)\n");
            fail_msg("%s: keeld %u exited", when, cl.nodes[i].id);
        }
    }
}

static void value_of(unsigned k, char *val)
{
    for (unsigned j = 0; j < VAL; j++) val[j] = (char)('a' + (k + j) % 26);
    val[VAL] = 0;
}

static bool is_disk_refusal(const redisReply *r)
{
    return kc_is_error(r, "OOM") && strstr(r->str, "disk") != NULL;
}

/* Poll (10 s) until node i's replica (READONLY: its own state) holds key k
 * with its value, or none if deleted. */
static void expect_local(unsigned i, unsigned k, bool deleted)
{
    static char want[VAL + 1];
    char key[32];
    value_of(k, want);
    snprintf(key, sizeof key, "k%u", k);
    redisContext *ctx = kc_connect(&cl, i);
    assert_non_null(ctx);
    redisReply *r = redisCommand(ctx, "READONLY");
    freeReplyObject(r);
    bool ok = false;
    for (int tries = 0; tries < 200 && !ok; tries++) {
        r = redisCommand(ctx, "GET %s", key);
        assert_non_null(r);
        ok = deleted ? r->type == REDIS_REPLY_NIL
                     : r->type == REDIS_REPLY_STRING && r->len == VAL && memcmp(r->str, want, VAL) == 0;
        freeReplyObject(r);
        if (!ok) kc_pause_ms(50);
    }
    redisFree(ctx);
    if (!ok) fail_msg("node %u: key %s %s", cl.nodes[i].id, key, deleted ? "not deleted" : "lost or wrong");
}

static void test_disk_full(void **state)
{
    static char val[VAL + 1];
    static unsigned acked[MAX_KEYS];
    static bool deleted[MAX_KEYS];
    unsigned n_acked = 0;
    (void)state;
    /* --min-free-disk 0: the built-in floor and the disk reserve (64 MiB by
     * default) must protect the nodes whatever the option says. */
    kc_prepare(&cl, 3, "--min-free-disk 0");
    if (!mount_nodes(&cl, "256m")) skip();
    for (unsigned i = 0; i < cl.n; i++) kc_start_node(&cl, i);
    int leader = kc_leader(&cl, 15000);
    assert_true(leader >= 0);
    for (unsigned i = 0; i < cl.n; i++) assert_true(reserve_present(i));

    /* 1. Another process leaves 40 MiB on every disk; writes fill the rest
     * until they are refused, with an error that says why. */
    for (unsigned i = 0; i < cl.n; i++) fill_to(i, 40 * MIB);
    redisContext *ctx = kc_connect(&cl, (unsigned)leader);
    assert_non_null(ctx);
    bool refused = false;
    for (unsigned k = 0; k < MAX_KEYS && !refused; k++) {
        value_of(k, val);
        redisReply *r = redisCommand(ctx, "SET k%u %b", k, val, (size_t)VAL);
        if (kc_is_status(r, "OK")) {
            acked[n_acked++] = k;
        } else if (is_disk_refusal(r)) {
            print_message("write %u refused: %s\n", k, r->str);
            assert_non_null(strstr(r->str, "do not shrink LMDB's file"));
            refused = true;
        } else {
            all_alive("filling the disk");
            fail_msg("write %u: %s", k, r ? (r->str ? r->str : "(no text)") : ctx->errstr);
        }
        if (r) freeReplyObject(r);
    }
    redisFree(ctx);
    assert_true(refused);
    assert_true(n_acked > 10);
    all_alive("writes refused");

    /* 2. The other process takes every block left: each node gives its
     * reserve back (so raft and LMDB keep room) and stays up. */
    for (unsigned i = 0; i < cl.n; i++) fill_to(i, 0);
    for (unsigned i = 0; i < cl.n; i++) {
        for (int tries = 0; tries < 100 && reserve_present(i); tries++) kc_pause_ms(50);
        assert_false(reserve_present(i));
    }
    all_alive("disks full");

    /* Deletes go on (they are entries to append and apply like any other),
     * writes stay refused, reads are served. */
    for (unsigned j = 0; j < 10; j++) {
        redisReply *r = kc_cmd(&cl, (unsigned)leader, "DEL k%u", acked[j]);
        assert_non_null(r);
        if (r->type != REDIS_REPLY_INTEGER || r->integer != 1) fail_msg("DEL k%u: %s", acked[j], r->str);
        freeReplyObject(r);
        deleted[acked[j]] = true;
    }
    redisReply *r = kc_cmd(&cl, (unsigned)leader, "SET small x");
    assert_true(is_disk_refusal(r));
    freeReplyObject(r);
    for (unsigned i = 0; i < cl.n; i++) expect_local(i, acked[n_acked - 1], false);
    all_alive("deletes on full disks");

    /* 3. A full node restarts and serves reads: a follower, then the leader. */
    unsigned follower = (unsigned)(leader + 1) % cl.n;
    kc_signal(&cl, follower, SIGTERM);
    kc_start_node(&cl, follower);
    expect_local(follower, acked[n_acked / 2], false);
    expect_local(follower, acked[0], true);
    kc_signal(&cl, (unsigned)leader, SIGTERM);
    kc_start_node(&cl, (unsigned)leader);
    leader = kc_leader(&cl, 15000);
    assert_true(leader >= 0);
    all_alive("restarts on full disks");

    /* 4. Space comes back: every reserve is allocated again and writes are
     * accepted. */
    for (unsigned i = 0; i < cl.n; i++) unfill(i);
    bool accepted = false;
    for (int tries = 0; tries < 300 && !accepted; tries++) {
        r = kc_cmd(&cl, (unsigned)leader, "SET after x");
        accepted = r != NULL && r->type == REDIS_REPLY_STATUS;
        if (!accepted && r != NULL && !is_disk_refusal(r)) fail_msg("SET after: %s", r->str);
        if (r) freeReplyObject(r);
        if (!accepted) kc_pause_ms(50);
    }
    assert_true(accepted);
    for (unsigned i = 0; i < cl.n; i++) assert_true(reserve_present(i));

    /* 5. Every acknowledged write is on every replica; the deleted are gone. */
    for (unsigned i = 0; i < cl.n; i++) {
        for (unsigned j = 0; j < n_acked; j++) expect_local(i, acked[j], deleted[acked[j]]);
    }
    all_alive("the end");
}

/* Only a follower's disk fills: the leader, whose own disk has room, must
 * still stop taking writes, since every replica applies every write; and
 * take them again once that disk has room. */
static void test_replica_disk_full(void **state)
{
    (void)state;
    kc_prepare(&cl, 3, "");
    if (!mount_nodes(&cl, "256m")) skip();
    for (unsigned i = 0; i < cl.n; i++) kc_start_node(&cl, i);
    int leader = kc_leader(&cl, 15000);
    assert_true(leader >= 0);
    unsigned full = (unsigned)(leader + 1) % cl.n;
    fill_to(full, 8 * MIB);
    redisReply *r = NULL;
    bool refused = false;
    for (int tries = 0; tries < 200 && !refused; tries++) {
        r = kc_cmd(&cl, (unsigned)leader, "SET k x");
        assert_non_null(r);
        refused = is_disk_refusal(r);
        if (refused) print_message("refused: %s\n", r->str);
        else if (r->type != REDIS_REPLY_STATUS) fail_msg("SET k: %s", r->str);
        freeReplyObject(r);
        if (!refused) kc_pause_ms(50);
    }
    assert_true(refused);
    char want[32];
    snprintf(want, sizeof want, "node %u reports its disk full", cl.nodes[full].id);
    r = kc_cmd(&cl, (unsigned)leader, "SET k x");
    assert_non_null(strstr(r->str, want));
    freeReplyObject(r);
    r = kc_cmd(&cl, (unsigned)leader, "DEL k");
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    freeReplyObject(r);
    unfill(full);
    bool accepted = false;
    for (int tries = 0; tries < 200 && !accepted; tries++) {
        r = kc_cmd(&cl, (unsigned)leader, "SET k y");
        accepted = r != NULL && r->type == REDIS_REPLY_STATUS;
        if (r) freeReplyObject(r);
        if (!accepted) kc_pause_ms(50);
    }
    assert_true(accepted);
    all_alive("the end");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    atexit(unmount_all);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_disk_full, teardown),
        cmocka_unit_test_teardown(test_replica_disk_full, teardown),
    };
    return cmocka_run_group_tests_name("keeld_disk", tests, NULL, NULL);
}
