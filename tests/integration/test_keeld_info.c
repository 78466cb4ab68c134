/* tests/integration: INFO as Redis 7.2 answers it, on a one-node cluster:
 * Redis's tests/unit/info-command.tcl ported (sections chosen by name, in
 * any case, several at once, default/all/everything); the sections in
 * Redis's order separated by one empty line; the fields tools read, with
 * their exact values where they are fixed; db0's line; commandstats,
 * errorstats, keyspace hits and misses counted as Redis counts them and
 * zeroed by CONFIG RESETSTAT; pub/sub counts; instantaneous_ops_per_sec
 * under load. Every wait is a bounded poll. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc.h"

static struct kc cl;

static int setup(void **state)
{
    (void)state;
    kc_start(&cl, 1, "");
    return kc_leader(&cl, 10000) < 0;
}

static int teardown(void **state)
{
    (void)state;
    kc_stop(&cl);
    return 0;
}

/* INFO with these arguments (split at spaces), as text. */
static char *info(const char *args)
{
    static char text[1 << 16];
    char words[256];
    const char *argv[16] = {"INFO"};
    int argc = 1;
    snprintf(words, sizeof words, "%s", args);
    for (char *save = NULL, *w = strtok_r(words, " ", &save); w != NULL && argc < 16; w = strtok_r(NULL, " ", &save))
        argv[argc++] = w;
    redisContext *c = kc_connect(&cl, 0);
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    if (r == NULL || r->type != REDIS_REPLY_STRING) fail_msg("INFO %s: no text", args);
    snprintf(text, sizeof text, "%s", r->str);
    freeReplyObject(r);
    redisFree(c);
    return text;
}

static bool has(const char *text, const char *s)
{
    return strstr(text, s) != NULL;
}

static unsigned count(const char *text, const char *s)
{
    unsigned n = 0;
    for (const char *p = strstr(text, s); p != NULL; p = strstr(p + 1, s)) n++;
    return n;
}

/* The value of field name in text ("" if absent). */
static const char *field(const char *text, const char *name)
{
    static char v[256];
    char key[80];
    snprintf(key, sizeof key, "\r\n%s:", name);
    const char *p = strstr(text, key);
    v[0] = 0;
    if (p != NULL) snprintf(v, sizeof v, "%.*s", (int)strcspn(p + strlen(key), "\r\n"), p + strlen(key));
    return v;
}

static void run(const char *cmd, const char *want)
{
    kc_expect(&cl, 0, false, cmd, want);
}

/* ---- Redis's info-command.tcl ------------------------------------------ */

static void test_redis_suite(void **state)
{
    (void)state;
    run("PING", "+PONG");
    run("INFO", "*"); /* so that commandstats has a row with rejected_calls */
    const char *args[] = {"", "all", "default", "everything"};
    for (size_t i = 0; i < 4; i++) {
        const char *t = info(args[i]);
        assert_true(has(t, "redis_version"));
        assert_true(has(t, "used_cpu_user"));
        assert_false(has(t, "sentinel_tilt"));
        assert_true(has(t, "used_memory"));
        if (i == 0 || i == 2) assert_false(has(t, "rejected_calls"));
        else assert_true(has(t, "rejected_calls"));
    }
    /* one sub-section */
    const char *t = info("cpu");
    assert_true(has(t, "used_cpu_user"));
    assert_false(has(t, "sentinel_tilt") || has(t, "used_memory"));
    t = info("sentinel");
    assert_false(has(t, "sentinel_tilt") || has(t, "used_memory"));
    t = info("commandSTATS"); /* any case */
    assert_false(has(t, "used_memory"));
    assert_true(has(t, "rejected_calls"));
    /* multiple sub-sections */
    t = info("cpu sentinel");
    assert_true(has(t, "used_cpu_user"));
    assert_false(has(t, "sentinel_tilt") || has(t, "master_repl_offset"));
    t = info("cpu all");
    assert_true(has(t, "used_cpu_user") && has(t, "used_memory") && has(t, "master_repl_offset") &&
                has(t, "rejected_calls"));
    assert_false(has(t, "sentinel_tilt"));
    assert_int_equal(count(t, "used_cpu_user_children"), 1);
    t = info("cpu default");
    assert_true(has(t, "used_cpu_user") && has(t, "used_memory") && has(t, "master_repl_offset"));
    assert_false(has(t, "sentinel_tilt") || has(t, "rejected_calls"));
    assert_int_equal(count(t, "used_cpu_user_children"), 1);
}

/* ---- shape ------------------------------------------------------------- */

/* The "# Name" lines of text, comma-separated. */
static const char *headers(const char *text)
{
    static char out[512];
    size_t n = 0;
    out[0] = 0;
    for (const char *p = text; p != NULL && *p; p = strstr(p, "\r\n") ? strstr(p, "\r\n") + 2 : NULL) {
        if (*p == '#')
            n += (size_t)snprintf(out + n, sizeof out - n, "%s%.*s", n ? "," : "", (int)strcspn(p + 2, "\r"), p + 2);
    }
    return out;
}

static void test_sections(void **state)
{
    (void)state;
    assert_string_equal(headers(info("")), "Server,Clients,Memory,Persistence,Stats,Replication,CPU,Modules,"
                                           "Errorstats,Cluster,Keyspace,Raft,Alarms,Consistency");
    assert_string_equal(headers(info("default")), headers(info("")));
    assert_string_equal(headers(info("all")), "Server,Clients,Memory,Persistence,Stats,Replication,CPU,"
                                              "Modules,Commandstats,Errorstats,Latencystats,Cluster,"
                                              "Keyspace,Raft,Alarms,Consistency");
    assert_string_equal(headers(info("everything")), headers(info("all")));
    /* Redis's order whatever the arguments' order; each once. */
    assert_string_equal(headers(info("keyspace CPU nosuch cpu raft")), "CPU,Keyspace,Raft");
    assert_string_equal(headers(info("module_list")), "Modules");
    assert_string_equal(info("nosuch"), "");

    /* Framing: one empty line between sections, none at the end. */
    run("FLUSHDB", "+OK");
    assert_string_equal(info("cluster keyspace"), "# Cluster\r\ncluster_enabled:0\r\n\r\n# Keyspace\r\n");
    run("SET a 1", "+OK");
    run("SET b 2 EX 100", "+OK");
    run("HSET h f v", ":1");
    assert_string_equal(info("keyspace"), "# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=0\r\n");
    run("DEL a b h", ":3");
    assert_string_equal(info("keyspace"), "# Keyspace\r\n");
}

/* The fields tools read: present under Redis's names, fixed values exact. */
static void test_fields(void **state)
{
    (void)state;
    const char *t = info("");
    const char *present[] = {
        "redis_version", "redis_mode", "os", "arch_bits", "process_id", "run_id", "tcp_port",
        "uptime_in_seconds", "uptime_in_days", "connected_clients", "blocked_clients", "maxclients",
        "used_memory", "used_memory_human", "used_memory_rss", "used_memory_rss_human", "maxmemory",
        "maxmemory_human", "maxmemory_policy", "loading", "rdb_changes_since_last_save", "rdb_last_save_time",
        "aof_enabled", "total_connections_received", "total_commands_processed", "instantaneous_ops_per_sec",
        "total_net_input_bytes", "total_net_output_bytes", "rejected_connections", "expired_keys",
        "evicted_keys", "keyspace_hits", "keyspace_misses", "pubsub_channels", "pubsub_patterns",
        "total_error_replies", "role", "connected_slaves", "master_repl_offset", "used_cpu_sys",
        "used_cpu_user", "used_cpu_sys_children", "used_cpu_user_children", "cluster_enabled",
        "keel_version", "node_id", "applied_index", "keel_alarms",
    };
    for (size_t i = 0; i < sizeof present / sizeof present[0]; i++) {
        char key[80];
        snprintf(key, sizeof key, "\r\n%s:", present[i]);
        if (!has(t, key)) fail_msg("INFO lacks %s", present[i]);
    }
    const char *fixed[][2] = {
        {"redis_version", "7.2.6"}, {"redis_mode", "standalone"}, {"maxmemory_policy", "noeviction"},
        {"loading", "0"}, {"aof_enabled", "0"}, {"role", "master"}, {"connected_slaves", "0"},
        {"cluster_enabled", "0"}, {"evicted_keys", "0"}, {"blocked_clients", "0"}, {"maxmemory", "0"},
        {"maxmemory_human", "0B"}, {"keel_version", "0.1.0"}, {"node_id", "1"},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        if (strcmp(field(t, fixed[i][0]), fixed[i][1]) != 0)
            fail_msg("%s: want %s, got %s", fixed[i][0], fixed[i][1], field(t, fixed[i][0]));
    }
    char port[16];
    snprintf(port, sizeof port, "%u", cl.nodes[0].client_port);
    assert_string_equal(field(t, "tcp_port"), port);
    assert_int_equal(strlen(field(t, "run_id")), 40);
    assert_true(atoll(field(t, "process_id")) > 0);
    /* used_memory_human is Redis's bytesToHuman of used_memory. */
    unsigned long long used = strtoull(field(t, "used_memory"), NULL, 10);
    char want[32];
    if (used < 1024) snprintf(want, sizeof want, "%lluB", used);
    else if (used < 1024 * 1024) snprintf(want, sizeof want, "%.2fK", (double)used / 1024);
    else snprintf(want, sizeof want, "%.2fM", (double)used / 1024 / 1024);
    assert_string_equal(field(t, "used_memory_human"), want);
    /* The section Keel's own tools read stays. */
    t = info("raft");
    assert_string_equal(field(t, "role"), "leader");
    assert_true(atoll(field(t, "applied_index")) > 0);
}

/* ---- counts -------------------------------------------------------------- */

static void test_stats(void **state)
{
    (void)state;
    run("SET k v", "+OK");
    run("CONFIG RESETSTAT", "+OK");
    /* Only the RESETSTAT itself, counted once it ran, as Redis does. */
    assert_string_equal(info("errorstats"), "# Errorstats\r\n");
    const char *t = info("commandstats");
    if (count(t, "cmdstat_") != 2 || strncmp(field(t, "cmdstat_config"), "calls=1,usec=", 13) != 0 ||
        strncmp(field(t, "cmdstat_info"), "calls=1,usec=", 13) != 0)
        fail_msg("after RESETSTAT:\n%s", t);
    run("CONFIG RESETSTAT", "+OK");
    run("GET nosuch", "(nil)");
    run("GET k", "v");
    run("HGET k f", "-WRONGTYPE Operation against a key holding the wrong kind of value");
    run("GET", "-ERR wrong number of arguments for 'get' command");
    run("NOSUCHCMD x", "-ERR unknown command 'NOSUCHCMD', with args beginning with: 'x' ");
    t = info("commandstats");
    const char *get = field(t, "cmdstat_get");
    if (strncmp(get, "calls=2,usec=", 13) != 0 || !has(get, ",rejected_calls=1,failed_calls=0"))
        fail_msg("commandstats:\n%s", t);
    const char *hget = field(t, "cmdstat_hget");
    if (strncmp(hget, "calls=1,usec=", 13) != 0 || !has(hget, ",rejected_calls=0,failed_calls=1"))
        fail_msg("commandstats:\n%s", t);
    assert_string_equal(info("errorstats"), "# Errorstats\r\nerrorstat_ERR:count=2\r\nerrorstat_WRONGTYPE:count=1\r\n");
    t = info("stats");
    assert_string_equal(field(t, "total_error_replies"), "3");
    assert_string_equal(field(t, "keyspace_hits"), "2"); /* GET k, and HGET's lookup of k */
    assert_string_equal(field(t, "keyspace_misses"), "1");
    t = info("latencystats");
    assert_true(has(t, "\r\nlatency_percentiles_usec_get:p50="));

    /* pub/sub counts: channels and patterns of this node */
    redisContext *sub = kc_connect(&cl, 0);
    redisReply *r = redisCommand(sub, "SUBSCRIBE c1 c2");
    freeReplyObject(r);
    void *v = NULL;
    assert_int_equal(redisGetReply(sub, &v), REDIS_OK); /* the second confirmation */
    freeReplyObject(v);
    r = redisCommand(sub, "PSUBSCRIBE p*");
    freeReplyObject(r);
    t = info("stats");
    assert_string_equal(field(t, "pubsub_channels"), "2");
    assert_string_equal(field(t, "pubsub_patterns"), "1");
    redisFree(sub);
}

/* instantaneous_ops_per_sec follows a burst of commands. */
static void test_instantaneous(void **state)
{
    (void)state;
    redisContext *c = kc_connect(&cl, 0);
    long long best = 0, deadline = kc_now_ms() + 10000;
    while (best == 0 && kc_now_ms() < deadline) {
        for (int i = 0; i < 200; i++) assert_int_equal(redisAppendCommand(c, "PING"), REDIS_OK);
        for (int i = 0; i < 200; i++) {
            void *v = NULL;
            assert_int_equal(redisGetReply(c, &v), REDIS_OK);
            freeReplyObject(v);
        }
        best = atoll(field(info("stats"), "instantaneous_ops_per_sec"));
    }
    redisFree(c);
    if (best <= 0) fail_msg("instantaneous_ops_per_sec stayed 0 under load");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis_suite),
        cmocka_unit_test(test_sections),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_instantaneous),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
