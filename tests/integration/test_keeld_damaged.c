/* tests/integration: a stopped node's raft files damaged on disk, then the
 * node started: a damaged newest snapshot that the older one and the log
 * cover is set aside and the node serves every key; one nothing covers is a
 * refusal naming the file, what is wrong and the runbook step, and that
 * step (member remove, move aside, --join) brings the node back; a damaged
 * last log segment that raft's auto-recovery renames is reported, not
 * silent; a damaged middle segment is a refusal. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kc.h"

#define KEYS 300

static struct kc cl;

static int teardown(void **state)
{
    (void)state;
    if (cl.base != NULL) kc_stop(&cl);
    return 0;
}

/* The whole of node i's log file. */
static char *read_log(unsigned i)
{
    FILE *f = fopen(cl.nodes[i].log, "r");
    assert_non_null(f);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void expect_in_log(unsigned i, const char *want)
{
    const char *log = read_log(i);
    if (strstr(log, want) == NULL) fail_msg("node %u's log lacks:\n%s\n--- log:\n%s", cl.nodes[i].id, want, log);
}

/* Flip 16 bytes at the middle of a file (in a snapshot: its LZ4 payload;
 * in a segment: an entry). */
static void damage(const char *path)
{
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    /* The last closed segment can be short (the node closed it at stop
     * with a single small batch in it): any 16 bytes past its 8-byte
     * format header are covered by a checksum. */
    if (size < 48) fail_msg("%s: %ld bytes, too short to damage past its header", path, size);
    unsigned char b[16];
    assert_int_equal(fseek(f, size / 2, SEEK_SET), 0);
    assert_int_equal(fread(b, 1, sizeof b, f), sizeof b);
    for (size_t k = 0; k < sizeof b; k++) b[k] ^= 0xff;
    assert_int_equal(fseek(f, size / 2, SEEK_SET), 0);
    assert_int_equal(fwrite(b, 1, sizeof b, f), sizeof b);
    assert_int_equal(fclose(f), 0);
}

/* Node i's raft files of one kind, sorted by name: snapshots ("snapshot-",
 * data files only) or closed segments ("0"). */
static unsigned raft_files(unsigned i, const char *prefix, char names[][64], unsigned max)
{
    char dir[600];
    unsigned n = 0;
    snprintf(dir, sizeof dir, "%s/raft", cl.nodes[i].dir);
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 || len >= 64 ||
            (len > 5 && strcmp(e->d_name + len - 5, ".meta") == 0) || n == max)
            continue;
        unsigned k = n++;
        while (k > 0 && strcmp(names[k - 1], e->d_name) > 0) {
            strcpy(names[k], names[k - 1]);
            k--;
        }
        strcpy(names[k], e->d_name);
    }
    closedir(d);
    return n;
}

static void write_keys(int leader, const char *tag)
{
    for (int k = 0; k < KEYS; k++) {
        redisReply *r = kc_cmd(&cl, (unsigned)leader, "SET %s:%d v%d", tag, k, k);
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_STATUS);
        freeReplyObject(r);
    }
}

/* Node i's own replica (READONLY) holds every key of tag, polled 10 s. */
static void expect_keys(unsigned i, const char *tag)
{
    redisContext *ctx = kc_connect(&cl, i);
    assert_non_null(ctx);
    freeReplyObject(redisCommand(ctx, "READONLY"));
    for (int k = 0; k < KEYS; k++) {
        char want[16];
        snprintf(want, sizeof want, "v%d", k);
        bool ok = false;
        for (int tries = 0; tries < 200 && !ok; tries++) {
            redisReply *r = redisCommand(ctx, "GET %s:%d", tag, k);
            assert_non_null(r);
            ok = r->type == REDIS_REPLY_STRING && strcmp(r->str, want) == 0;
            freeReplyObject(r);
            if (!ok) kc_pause_ms(50);
        }
        if (!ok) fail_msg("node %u lacks %s:%d", cl.nodes[i].id, tag, k);
    }
    redisFree(ctx);
}

/* Start node i and wait (20 s) for it to exit by itself: its last line. */
static void start_expecting_refusal(unsigned i, char *line, size_t size)
{
    kc_spawn_node(&cl, i);
    for (int tries = 0; tries < 400 && !kc_exited(&cl, i); tries++) kc_pause_ms(50);
    if (cl.nodes[i].pid != 0) fail_msg("node %u started instead of refusing", cl.nodes[i].id);
    const char *log = read_log(i);
    const char *last = strstr(log, "keeld: raft start");
    if (last == NULL) fail_msg("no refusal in node %u's log:\n%s", cl.nodes[i].id, log);
    snprintf(line, size, "%.*s", (int)strcspn(last, "\n"), last);
}

/* Three nodes snapshotting every 16 entries (each snapshot closes a log
 * segment) and keeping `trailing` entries behind, KEYS written; a follower
 * stopped (cleanly: its open segments closed). Returns the follower. */
static unsigned setup_cluster(int *leader, const char *trailing)
{
    char flags[128];
    snprintf(flags, sizeof flags, "--snapshot-threshold 16 --snapshot-trailing %s", trailing);
    kc_start(&cl, 3, flags);
    *leader = kc_leader(&cl, 15000);
    assert_true(*leader >= 0);
    write_keys(*leader, "a");
    unsigned f = (unsigned)(*leader + 1) % cl.n;
    expect_keys(f, "a");
    kc_signal(&cl, f, SIGTERM);
    return f;
}

static void test_damaged_snapshot(void **state)
{
    char snaps[8][64], path[700], want[1400], line[2048];
    int leader;
    (void)state;
    /* The log keeps 64 entries behind a snapshot, more than the distance
     * between two (16, or a little more when an apply batch straddles the
     * threshold): so it covers the older snapshot. */
    unsigned f = setup_cluster(&leader, "64");
    const char *dir = cl.nodes[f].dir;

    /* 1. The older snapshot and the log cover the newest: set aside. */
    unsigned n = raft_files(f, "snapshot-", snaps, 8);
    assert_int_equal(n, 2); /* raft keeps two */
    snprintf(path, sizeof path, "%s/raft/%s", dir, snaps[1]);
    damage(path);
    kc_start_node(&cl, f);
    snprintf(want, sizeof want,
             "raft snapshot %s/raft/%s is a damaged snapshot: its compressed data does not decompress (raft: io: "
             "LZ4F_decompress ERROR_",
             dir, snaps[1]);
    expect_in_log(f, want);
    snprintf(want, sizeof want, "moved it to %s/damaged/ and started from the older snapshot %s", dir, snaps[0]);
    expect_in_log(f, want);
    snprintf(path, sizeof path, "%s/damaged/%s", dir, snaps[1]);
    assert_int_equal(access(path, F_OK), 0);
    assert_int_equal(kc_info_u64(&cl, f, "raft", "raft_damaged_files_set_aside"), 1);
    write_keys(leader, "b");
    expect_keys(f, "a");
    expect_keys(f, "b");

    /* 2. Only one snapshot, damaged: nothing stands in for it. A refusal
     * naming the file, what is wrong and the runbook step... */
    kc_signal(&cl, f, SIGTERM);
    n = raft_files(f, "snapshot-", snaps, 8);
    assert_true(n >= 1);
    for (unsigned k = 0; k + 1 < n; k++) {
        snprintf(path, sizeof path, "%s/raft/%s", dir, snaps[k]);
        assert_int_equal(unlink(path), 0);
        strcat(path, ".meta");
        assert_int_equal(unlink(path), 0);
    }
    snprintf(path, sizeof path, "%s/raft/%s", dir, snaps[n - 1]);
    damage(path);
    start_expecting_refusal(f, line, sizeof line);
    print_message("%s\n", line);
    snprintf(want, sizeof want,
             "keeld: raft start: %s/raft/%s: damaged snapshot: its compressed data does not decompress (raft: io: "
             "LZ4F_decompress ERROR_",
             dir, snaps[n - 1]);
    assert_non_null(strstr(line, want));
    snprintf(want, sizeof want,
             "and the older snapshot cannot stand in for it: there is no older snapshot to start from; runbook "
             "docs/recovery.md \"A damaged file at start\": on another member keelctl member remove %u; move %s "
             "aside; start keeld with an empty --data-dir and --join <a member's client address>",
             cl.nodes[f].id, dir);
    assert_non_null(strstr(line, want));

    /* ... and the step brings the node back. */
    char out[4096], err[4096];
    assert_int_equal(kc_keelctl(&cl, out, sizeof out, err, sizeof err, "member remove %u", cl.nodes[f].id), 0);
    snprintf(want, sizeof want, "mv '%s' '%s.damaged' && rm -rf '%s.damaged'", dir, dir, dir);
    assert_int_equal(system(want), 0);
    snprintf(cl.nodes[f].join, sizeof cl.nodes[f].join, "127.0.0.1:%u", cl.nodes[leader].client_port);
    kc_start_node(&cl, f);
    expect_keys(f, "a");
    expect_keys(f, "b");
}

static void test_damaged_segment(void **state)
{
    char segs[64][64], path[700], want[1400], line[2048];
    int leader;
    (void)state;
    unsigned f = setup_cluster(&leader, "128");
    const char *dir = cl.nodes[f].dir;

    /* 1. The last closed segment: raft renames it and refetches, and the
     * node now says so. */
    unsigned n = raft_files(f, "0", segs, 64);
    assert_true(n >= 2);
    snprintf(path, sizeof path, "%s/raft/%s", dir, segs[n - 1]);
    damage(path);
    kc_start_node(&cl, f);
    snprintf(want, sizeof want, "level=warn node=%u role=follower msg=\"raft log file %s/raft/%s was damaged and raft set it aside as corrupt-",
             cl.nodes[f].id, dir, segs[n - 1]);
    expect_in_log(f, want);
    expect_in_log(f, "the leader sends the committed ones again");
    assert_int_equal(kc_info_u64(&cl, f, "raft", "raft_damaged_files_set_aside"), 1);
    write_keys(leader, "b");
    expect_keys(f, "a");
    expect_keys(f, "b");

    /* 2. A segment before the last: raft cannot skip it. A refusal. */
    kc_signal(&cl, f, SIGTERM);
    n = raft_files(f, "0", segs, 64);
    assert_true(n >= 2);
    snprintf(path, sizeof path, "%s/raft/%s", dir, segs[n - 2]);
    damage(path);
    start_expecting_refusal(f, line, sizeof line);
    print_message("%s\n", line);
    snprintf(want, sizeof want, "keeld: raft start: %s/raft/%s: damaged log segment", dir, segs[n - 2]);
    assert_non_null(strstr(line, want));
    snprintf(want, sizeof want, "load closed segment %s", segs[n - 2]);
    assert_non_null(strstr(line, want));
    assert_non_null(strstr(line, "runbook docs/recovery.md \"A damaged file at start\": on another member keelctl member remove"));
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_damaged_snapshot, teardown),
        cmocka_unit_test_teardown(test_damaged_segment, teardown),
    };
    return cmocka_run_group_tests_name("keeld_damaged", tests, NULL, NULL);
}
