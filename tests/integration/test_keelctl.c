/* tests/integration: keelctl's online commands against a real three-node
 * cluster, through the real binary (its stdout, stderr and exit status):
 * the data commands with and without --json; status and health with every
 * node up and with one down; leader transfer to a chosen node and to any;
 * a fourth node added as standby, promoted and removed; check perf; usage
 * errors and an unreachable cluster. Backups, restores and recovery:
 * test_keelctl_backup.c. Every wait is a bounded poll. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "keelctl_fixture.h"
#include "storage/image.h"
#include "storage/storage.h"

static void test_data_commands(void **state)
{
    (void)state;
    kc_start_leader(&cl, 3, "");
    assert_int_equal(run("set user:1 alice"), 0);
    assert_string_equal(out, "OK\n");
    assert_int_equal(run("get user:1"), 0);
    assert_string_equal(out, "alice\n");
    assert_int_equal(run("get user:none"), 0);
    assert_string_equal(out, "(nil)\n");
    json_t *j = run_json(0, "--json get %s", "user:1");
    assert_string_equal(json_string_value(json_object_get(j, "value")), "alice");
    json_decref(j);
    assert_int_equal(run("incr hits"), 0);
    assert_string_equal(out, "1\n");
    assert_int_equal(run("incr hits 41"), 0);
    assert_string_equal(out, "42\n");
    assert_int_equal(run("set temp x --ttl 100000"), 0);
    assert_int_equal(run("ttl temp"), 0);
    long ttl = atol(out);
    assert_true(ttl > 90000 && ttl <= 100000);
    assert_int_equal(run("expire user:1 200000"), 0);
    assert_string_equal(out, "1\n");
    assert_int_equal(run("ttl user:none"), 0);
    assert_string_equal(out, "-2\n");
    assert_int_equal(run("hset sess:1 user bob cart 3"), 0);
    assert_string_equal(out, "2\n");
    assert_int_equal(run("hget sess:1 cart"), 0);
    assert_string_equal(out, "3\n");
    assert_int_equal(run("hgetall sess:1"), 0);
    assert_non_null(strstr(out, "user\tbob\n"));
    j = run_json(0, "--json hgetall %s", "sess:1");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "value"), "cart")), "3");
    json_decref(j);
    for (int i = 0; i < 30; i++) {
        char k[32];
        snprintf(k, sizeof k, "set scan:%02d v", i);
        assert_int_equal(run(k), 0);
    }
    j = run_json(0, "--json scan %s", "scan:*");
    assert_int_equal(json_array_size(j), 30);
    assert_string_equal(json_string_value(json_array_get(j, 0)), "scan:00");
    json_decref(j);
    assert_int_equal(run("scan scan:1*"), 0);
    assert_string_equal(out, "scan:10\nscan:11\nscan:12\nscan:13\nscan:14\nscan:15\nscan:16\nscan:17\n"
                             "scan:18\nscan:19\n");
    assert_int_equal(run("del user:1 temp user:none"), 0);
    assert_string_equal(out, "2\n");
    /* A server error: exit 1 and the server's message. */
    assert_int_equal(run("incr sess:1"), 1);
    assert_non_null(strstr(err, "WRONGTYPE"));
    /* Usage: exit 2 with the command's synopsis. */
    assert_int_equal(run("get"), 2);
    assert_non_null(strstr(err, "usage: keelctl get KEY"));
    assert_int_equal(run("frobnicate"), 2);
    /* The offline commands are keelutl's: keelctl names the command to run
     * with the same words, and does nothing. */
    assert_int_equal(run("backup restore b.keel --data-dir %s/x --id 1 --cluster 1=127.0.0.1:1", cl.base), 2);
    assert_non_null(strstr(err, "keelutl backup restore b.keel --data-dir"));
    assert_null(strstr(err, "old name"));
    char seeded[600];
    snprintf(seeded, sizeof seeded, "%s/x", cl.base);
    assert_int_equal(access(seeded, F_OK), -1);
    assert_int_equal(run("--json recover --data-dir /nonexistent --id 1"), 2);
    assert_non_null(strstr(err, "keelutl --json recover --data-dir /nonexistent --id 1"));
    assert_int_equal(run("backup inspect b.keel"), 2);
    assert_non_null(strstr(err, "keelutl backup inspect b.keel"));
    /* The old name, snapshot inspect|restore, is refused the same way: the
     * keelutl command named in the new spelling, after one line that says
     * it is the old name. */
    assert_int_equal(run("snapshot restore b.keel --data-dir %s/x --id 1 --cluster 1=127.0.0.1:1", cl.base), 2);
    assert_non_null(strstr(err, "keelctl: 'snapshot restore' is the old name of 'backup restore'\n"));
    assert_non_null(strstr(err, "keelutl backup restore b.keel --data-dir"));
    assert_int_equal(access(seeded, F_OK), -1);
    assert_int_equal(run("snapshot inspect b.keel"), 2);
    assert_non_null(strstr(err, "keelctl: 'snapshot inspect' is the old name of 'backup inspect'\n"));
    assert_non_null(strstr(err, "keelutl backup inspect b.keel"));
    assert_int_equal(run("help status"), 0);
    assert_non_null(strstr(out, "usage: keelctl status"));
    assert_int_equal(run("help"), 0);
    assert_non_null(strstr(out, "exit status"));
    assert_non_null(strstr(out, "\n  backup save FILE\n"));
    assert_null(strstr(out, "\n  snapshot"));
    assert_non_null(strstr(out, "'snapshot save' is the old name of 'backup save'"));
    assert_int_equal(run("help snapshot"), 0);
    assert_non_null(strstr(out, "usage: keelctl backup save FILE"));
    kc_stop(&cl);
}

static json_t *node_of(json_t *status, long long id)
{
    json_t *nodes = json_object_get(status, "nodes");
    for (size_t i = 0; i < json_array_size(nodes); i++)
        if (json_integer_value(json_object_get(json_array_get(nodes, i), "id")) == id)
            return json_array_get(nodes, i);
    return NULL;
}

/* Every member's client address is in the replicated node table (followers
 * publish theirs through the leader a moment after they start). */
static bool addresses_published(void)
{
    redisReply *r = kc_cmd(&cl, 0, "KEEL.MEMBER LIST");
    bool all = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == cl.n;
    for (size_t i = 0; all && i < r->elements; i++) all = r->element[i]->element[2]->len > 0;
    if (r) freeReplyObject(r);
    return all;
}

static void test_status_and_health(void **state)
{
    (void)state;
    int leader = kc_start_leader(&cl, 3, "");
    bool published = false;
    for (int t = 0; t < 100 && !(published = addresses_published()); t++) kc_pause_ms(100);
    assert_true(published);
    assert_int_equal(run("set a 1"), 0);
    json_t *j = run_json(0, "--json %s", "status");
    assert_int_equal(json_array_size(json_object_get(j, "nodes")), 3);
    int leaders = 0;
    for (unsigned id = 1; id <= 3; id++) {
        json_t *n = node_of(j, id);
        assert_non_null(n);
        assert_true(json_is_true(json_object_get(n, "reachable")));
        leaders += strcmp(json_string_value(json_object_get(n, "role")), "leader") == 0;
        assert_int_equal(json_integer_value(json_object_get(n, "leader")), cl.nodes[leader].id);
        assert_true(json_integer_value(json_object_get(n, "applied_index")) > 0);
        assert_true(json_integer_value(json_object_get(n, "db_size_bytes")) > 0);
        assert_string_equal(json_string_value(json_object_get(n, "membership")), "voter");
    }
    assert_int_equal(leaders, 1);
    json_decref(j);
    assert_int_equal(run("status"), 0);
    assert_non_null(strstr(out, "APPLIED"));
    assert_non_null(strstr(out, "leader"));
    assert_int_equal(run("health"), 0);
    assert_non_null(strstr(out, "healthy"));

    /* A follower down: status still answers, naming the node and the error;
     * health fails and says which. */
    unsigned down = (unsigned)(leader + 1) % 3;
    kc_signal(&cl, down, SIGKILL);
    j = run_json(0, "--json %s", "status");
    json_t *n = node_of(j, cl.nodes[down].id);
    assert_non_null(n);
    assert_true(json_is_false(json_object_get(n, "reachable")));
    assert_non_null(strstr(json_string_value(json_object_get(n, "error")), "refused"));
    json_decref(j);
    assert_int_equal(run("status"), 0);
    assert_non_null(strstr(out, "refused"));
    assert_int_equal(run("health"), 1);
    char want[64];
    snprintf(want, sizeof want, "n%u (127.0.0.1:%u)", cl.nodes[down].id, cl.nodes[down].client_port);
    assert_non_null(strstr(out, want));
    kc_start_node(&cl, down);
    int rc = 1;
    for (int t = 0; t < 100 && rc != 0; t++) {
        rc = run("health --max-lag 10");
        if (rc != 0) kc_pause_ms(100);
    }
    assert_int_equal(rc, 0);
    kc_stop(&cl);
}

static void test_member_and_transfer(void **state)
{
    (void)state;
    int leader = kc_start_leader(&cl, 3, "");
    assert_int_equal(run("member list"), 0);
    assert_non_null(strstr(out, "voter"));
    json_t *j = run_json(0, "--json member %s", "list");
    assert_int_equal(json_array_size(json_object_get(j, "members")), 3);
    json_decref(j);

    /* To a chosen follower, then to whichever is best. */
    unsigned to = (unsigned)(leader + 2) % 3;
    char arg[32];
    snprintf(arg, sizeof arg, "%u", cl.nodes[to].id);
    j = run_json(0, "--json leader transfer --to %s", arg);
    assert_int_equal(json_integer_value(json_object_get(j, "leader")), cl.nodes[to].id);
    json_decref(j);
    assert_int_equal(kc_leader(&cl, 10000), (int)to);
    assert_int_equal(run("leader transfer"), 0);
    assert_non_null(strstr(out, "leader is now node"));
    assert_true(kc_leader(&cl, 10000) >= 0);
    assert_int_equal(run("leader transfer --to 9"), 1);

    /* A fourth node: standby, caught up without a vote, promoted, removed. */
    assert_int_equal(run("set before-four yes"), 0);
    unsigned four = kc_prepare_node(&cl, 0);
    char add[96];
    snprintf(add, sizeof add, "member add 4 127.0.0.1:%u --standby", cl.nodes[four].raft_port);
    assert_int_equal(run(add), 0);
    assert_non_null(strstr(out, "as standby"));
    assert_int_equal(run(add), 0); /* idempotent */
    kc_start_node(&cl, four);
    j = run_json(0, "--json %s", "status");
    assert_string_equal(json_string_value(json_object_get(node_of(j, 4), "membership")), "standby");
    json_decref(j);
    assert_int_equal(run("member promote 4"), 0);
    assert_int_equal(run("member list"), 0);
    char *row = strstr(out, "\n4 ");
    assert_non_null(row);
    assert_non_null(strstr(row, "voter"));
    redisReply *r = kc_cmd(&cl, four, "GET before-four");
    assert_non_null(r);
    if (r->type == REDIS_REPLY_STRING) assert_string_equal(r->str, "yes");
    freeReplyObject(r);
    assert_int_equal(run("member remove 4"), 0);
    assert_int_equal(run("member list"), 0);
    assert_null(strstr(out, "\n4 "));
    /* Added back as a voter while it runs: caught up, then promoted. */
    snprintf(add, sizeof add, "--timeout 10s member add 4 127.0.0.1:%u", cl.nodes[four].raft_port);
    assert_int_equal(run(add), 0);
    assert_non_null(strstr(out, "as voter"));
    assert_int_equal(run("member list"), 0);
    row = strstr(out, "\n4 ");
    assert_non_null(row);
    assert_non_null(strstr(row, "voter"));
    assert_int_equal(run("member remove 4"), 0);
    kc_signal(&cl, four, SIGKILL);
    /* A voter that is not running cannot catch up: a clear error, and it
     * stays a spare until removed (or started). */
    assert_int_equal(run("--timeout 10s member add 5 127.0.0.1:%u", cl.nodes[four].raft_port), 1);
    assert_non_null(strstr(err, "is it running?"));
    assert_int_equal(run("member remove 5"), 0);
    assert_int_equal(run("member add x 127.0.0.1:1"), 2);
    assert_int_equal(run("member add 5 nowhere"), 1);
    assert_non_null(strstr(err, "no raft address"));
    kc_stop(&cl);
}

static void test_check_perf(void **state)
{
    (void)state;
    kc_start_leader(&cl, 3, "");
    /* A load this machine can take: the verdict must be PASS; the figures
     * are printed, never asserted (benchmarks measure speed). */
    json_t *j = run_json(0, "--json check perf --duration 2 --rate 200 --clients %s", "8");
    assert_true(json_is_true(json_object_get(j, "pass")));
    json_t *load = json_object_get(j, "load");
    assert_true(json_integer_value(json_object_get(load, "writes")) > 0);
    assert_int_equal(json_integer_value(json_object_get(load, "errors")), 0);
    json_decref(j);
    assert_int_equal(run("scan keelctl-perf:*"), 0);
    assert_string_equal(out, ""); /* cleaned up */
    /* An impossible target fails, saying why. */
    assert_int_equal(run("check perf --duration 1 --rate 1000000 --clients 4"), 1);
    assert_non_null(strstr(out, "FAIL: under 90% of the target"));
    kc_stop(&cl);
}

static void test_unreachable(void **state)
{
    (void)state;
    kc_start(&cl, 1, "");
    unsigned port = cl.nodes[0].client_port;
    kc_signal(&cl, 0, SIGKILL);
    char args[160];
    snprintf(args, sizeof args, "--endpoints 127.0.0.1:%u,127.0.0.1:%u get k", port, port + 1);
    assert_int_equal(run(args), 3);
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%u", port);
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, "refused"));
    snprintf(args, sizeof args, "--endpoints 127.0.0.1:%u status", port);
    assert_int_equal(run(args), 3);
    kc_stop(&cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_data_commands, teardown),
        cmocka_unit_test_teardown(test_status_and_health, teardown),
        cmocka_unit_test_teardown(test_member_and_transfer, teardown),
        cmocka_unit_test_teardown(test_check_perf, teardown),
        cmocka_unit_test_teardown(test_unreachable, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
