/* tests/integration: users as replicated state on real clusters. ACL SAVE
 * and ACL LOAD against each node's own --aclfile: SAVE writes hashes only
 * (0600); LOAD on a follower replaces every node's users with that
 * follower's file, all or nothing; a default user missing from the file
 * comes back open, as in Redis 7.2. And a node that joins a cluster whose
 * log was compacted gets the users through raft's snapshot install. Every
 * wait is a bounded poll. (Backup and restore: test_keelctl.) */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kc.h"

static struct kc cluster;

static void aclfile_of(unsigned i, char *out, size_t size)
{
    snprintf(out, size, "%s/acl-%u.acl", cluster.base, i + 1);
}

static int setup(void **state)
{
    (void)state;
    kc_prepare(&cluster, 3, "");
    for (unsigned i = 0; i < 3; i++) {
        char path[600];
        aclfile_of(i, path, sizeof path);
        snprintf(cluster.nodes[i].extra, sizeof cluster.nodes[i].extra, "--aclfile %s", path);
        kc_start_node(&cluster, i);
    }
    return kc_leader(&cluster, 10000) < 0;
}

static int teardown(void **state)
{
    (void)state;
    kc_stop(&cluster);
    return 0;
}

static void write_file(unsigned i, const char *text)
{
    char path[600];
    aclfile_of(i, path, sizeof path);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static char *read_file(unsigned i)
{
    char path[600];
    aclfile_of(i, path, sizeof path);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

/* Poll (10 s) until every node's ACL USERS reads want. */
static void await_users(const char *want)
{
    char got[512] = "";
    for (unsigned i = 0; i < cluster.n; i++) {
        bool ok = false;
        for (int t = 0; t < 200 && !ok; t++, kc_pause_ms(50)) {
            redisReply *r = kc_cmd(&cluster, i, "ACL USERS");
            if (r != NULL) {
                kc_reply_text(r, true, got, sizeof got);
                freeReplyObject(r);
            }
            ok = kc_text_matches(got, want);
        }
        if (!ok) fail_msg("node %u: ACL USERS: want %s, got %s", i + 1, want, got);
    }
}

/* cmd on node i; its reply as text must match the fnmatch(3) pattern. */
static void expect_glob(unsigned i, const char *cmd, const char *pattern)
{
    char got[2048] = "(no reply)";
    redisReply *r = kc_cmd(&cluster, i, cmd);
    if (r != NULL) {
        kc_reply_text(r, true, got, sizeof got);
        freeReplyObject(r);
    }
    if (fnmatch(pattern, got, 0) != 0) fail_msg("node %u: %s\n  want %s\n  got  %s", i + 1, cmd, pattern, got);
}

static unsigned a_follower(unsigned k)
{
    int leader = kc_leader(&cluster, 10000);
    assert_true(leader >= 0);
    return (unsigned)(leader + k) % cluster.n;
}

/* A fresh connection's reply to cmd on node i, as text (no kc auth). */
static void raw_expect(unsigned i, const char *cmd, const char *want)
{
    struct timeval tv = {5, 0};
    redisContext *ctx = redisConnectWithTimeout("127.0.0.1", (int)cluster.nodes[i].client_port, tv);
    assert_true(ctx != NULL && ctx->err == 0);
    redisReply *r = redisCommand(ctx, cmd);
    char got[1024] = "(no reply)";
    if (r != NULL) {
        kc_reply_text(r, true, got, sizeof got);
        freeReplyObject(r);
    }
    redisFree(ctx);
    if (!kc_text_matches(got, want)) fail_msg("node %u: %s: want %s, got %s", i + 1, cmd, want, got);
}

static void test_save(void **state)
{
    (void)state;
    unsigned leader = a_follower(0), f = a_follower(1);
    kc_expect(&cluster, leader, true, "ACL SETUSER alice on >alice-secret-pw ~s:* +get", "+OK");
    await_users("[\"alice\",\"default\"]");
    kc_expect(&cluster, f, true, "ACL SAVE", "+OK");
    const char *text = read_file(f);
    if (fnmatch("user alice on sanitize-payload #* ~s:\\* resetchannels -@all +get\n"
                "user default on nopass sanitize-payload ~\\* &\\* +@all\n",
                text, 0) != 0)
        fail_msg("the saved file: %s", text);
    assert_null(strstr(text, "alice-secret-pw"));
    char path[600];
    aclfile_of(f, path, sizeof path);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_load(void **state)
{
    (void)state;
    unsigned f = a_follower(1), g = a_follower(2), leader = a_follower(0);
    /* A bad line anywhere: nothing changes. */
    write_file(g, "user bob on >bob-pw ~* &* +@all\nuser carol on >x +nosuchcmd\n");
    expect_glob(g, "ACL LOAD",
              "-ERR */acl-*.acl:2: Error in ACL SETUSER modifier '+nosuchcmd': Unknown command or category name in "
              "ACL. WARNING: ACL errors detected, no change to the previously active ACL rules was performed");
    write_file(g, "user bob on >bob-pw ~* &* +@all\nbogus line\n");
    expect_glob(g, "ACL LOAD", "-ERR *:2: line should start with user keyword*");
    write_file(g, "user bob on >bob-pw\nuser bob off\n");
    expect_glob(g, "ACL LOAD", "-ERR *:2: Duplicate user 'bob' found*");
    await_users("[\"alice\",\"default\"]");

    /* The follower's own file, replicated: alice goes, bob comes, default
     * gets the file's password. */
    write_file(g, "user bob on >bob-pw ~* &* +@all\n\nuser default on >def-pw ~* &* +@all\n");
    kc_expect(&cluster, g, true, "ACL LOAD", "+OK");
    snprintf(cluster.auth_user, sizeof cluster.auth_user, "bob");
    snprintf(cluster.auth_pass, sizeof cluster.auth_pass, "bob-pw");
    await_users("[\"bob\",\"default\"]");
    for (unsigned i = 0; i < cluster.n; i++) {
        raw_expect(i, "GET k", "-NOAUTH*");
        raw_expect(i, "AUTH default def-pw", "+OK");
        raw_expect(i, "AUTH alice alice-secret-pw", "-WRONGPASS*");
    }
    /* Another node's file (f's, still from test_save): alice back. It
     * names default open, so the door opens again. */
    kc_expect(&cluster, f, true, "ACL LOAD", "+OK");
    await_users("[\"alice\",\"default\"]");
    cluster.auth_pass[0] = 0;
    for (unsigned i = 0; i < cluster.n; i++) raw_expect(i, "GET k", "(nil)");
    /* A file without default: default recreated open, as Redis. */
    write_file(leader, "user dave on >dave-pw ~* +@read\n");
    kc_expect(&cluster, leader, true, "ACL LOAD", "+OK");
    await_users("[\"dave\",\"default\"]");
    kc_expect(&cluster, leader, true, "ACL GETUSER default", "[\"flags\",[\"on\",\"nopass\",*");
    /* No client can send the member form (ACL LOAD <contents>). */
    kc_expect(&cluster, leader, true, "ACL LOAD x", "-ERR wrong number of arguments for 'acl|load' command");
}

/* A fourth node joins after the log was compacted past the user's entry:
 * only a snapshot can bring it the user. */
static void test_snapshot_install(void **state)
{
    (void)state;
    struct kc c2;
    int leader = kc_start_leader(&c2, 3, "--snapshot-threshold 16 --snapshot-trailing 16");
    assert_true(leader >= 0);
    kc_expect(&c2, (unsigned)leader, true, "ACL SETUSER eve on >eve-pw ~doc:* +get", "+OK");
    for (int i = 0; i < 200; i++) {
        redisReply *r = kc_cmd(&c2, (unsigned)leader, "SET doc:%d v%d", i, i);
        assert_true(r != NULL && r->type == REDIS_REPLY_STATUS);
        freeReplyObject(r);
    }
    assert_true(kc_info_u64(&c2, (unsigned)leader, "raft", "snapshot_index") > 16);
    unsigned fourth = kc_add_node(&c2, (unsigned)leader);
    bool ok = false;
    char got[256] = "";
    for (int t = 0; t < 300 && !ok; t++, kc_pause_ms(100)) {
        struct timeval tv = {2, 0};
        redisContext *ctx = redisConnectWithTimeout("127.0.0.1", (int)c2.nodes[fourth].client_port, tv);
        if (ctx == NULL || ctx->err != 0) {
            if (ctx != NULL) redisFree(ctx);
            continue;
        }
        redisReply *r = redisCommand(ctx, "AUTH eve eve-pw");
        if (r != NULL) {
            kc_reply_text(r, true, got, sizeof got);
            ok = r->type == REDIS_REPLY_STATUS;
            freeReplyObject(r);
        }
        if (ok) {
            r = redisCommand(ctx, "GET doc:0");
            assert_non_null(r);
            kc_reply_text(r, true, got, sizeof got);
            freeReplyObject(r);
            assert_string_equal(got, "\"v0\"");
            r = redisCommand(ctx, "SET doc:0 x");
            assert_non_null(r);
            kc_reply_text(r, true, got, sizeof got);
            freeReplyObject(r);
            assert_true(kc_text_matches(got, "-NOPERM*"));
        }
        redisFree(ctx);
    }
    if (!ok) fail_msg("node %u never let eve in: %s", fourth + 1, got);
    kc_stop(&c2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_save),
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_snapshot_install),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
