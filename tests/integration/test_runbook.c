/* tests/integration: the steps of docs/recovery.md that other tests do not
 * already run (zone loss: test_keelctl_drill; quorum loss and restore from
 * a backup: test_keelctl): replacing a node whose disk died (remove, wipe,
 * add back, caught up by a snapshot), and scheduled backups (written by the
 * leader, checked by keelutl backup inspect, pruned to --backup-keep).
 * Every command is the one the runbook shows. Bounded polling only. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kc.h"

static struct kc cl;
static char out[65536], err[8192];

static int teardown(void **state)
{
    (void)state;
    if (cl.base != NULL) kc_stop(&cl);
    return 0;
}

static int keelctl(const char *fmt, ...)
{
    char args[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return kc_keelctl(&cl, out, sizeof out, err, sizeof err, "%s", args);
}

static long long info(unsigned i, const char *field)
{
    redisReply *r = kc_cmd(&cl, i, "INFO");
    char key[64];
    snprintf(key, sizeof key, "\n%s:", field);
    const char *p = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, key) : NULL;
    long long v = p ? atoll(p + strlen(key)) : -100;
    if (r) freeReplyObject(r);
    return v;
}

static void test_replace_dead_disk(void **state)
{
    (void)state;
    int leader = kc_start_leader(&cl, 3, "--snapshot-threshold 64 --snapshot-trailing 64");
    for (int i = 0; i < 300; i++) freeReplyObject(kc_cmd(&cl, (unsigned)leader, "SET before:%d %d", i, i));
    unsigned dead = (unsigned)(leader + 1) % 3;
    /* Runbook: 1. remove the dead node; 2. wipe its disk; 3. start it empty
     * with --join, which adds it back; it catches up by a snapshot. */
    kc_signal(&cl, dead, SIGKILL);
    assert_int_equal(keelctl("member remove %u", cl.nodes[dead].id), 0);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cl.nodes[dead].dir);
    assert_int_equal(system(cmd), 0);
    for (int i = 0; i < 300; i++) freeReplyObject(kc_cmd(&cl, (unsigned)leader, "SET after:%d %d", i, i));
    snprintf(cl.nodes[dead].join, sizeof cl.nodes[dead].join, "127.0.0.1:%u", cl.nodes[leader].client_port);
    kc_start_node(&cl, dead);
    int rc = 1;
    for (int t = 0; t < 150 && rc != 0; t++) {
        rc = keelctl("health --max-lag 0");
        if (rc != 0) kc_pause_ms(100);
    }
    assert_int_equal(rc, 0);
    /* Healthy as a standby first: made a voter once it has kept up for a
     * moment (raft/membership.h). */
    char row[32];
    snprintf(row, sizeof row, "\n%u ", cl.nodes[dead].id);
    bool voter = false;
    for (int t = 0; t < 100 && !voter; t++) {
        assert_int_equal(keelctl("member list"), 0);
        assert_non_null(strstr(out, row));
        voter = strstr(strstr(out, row), "voter") != NULL;
        if (!voter) kc_pause_ms(100);
    }
    assert_true(voter);
    /* It was caught up by a snapshot, not by replaying the whole log. */
    assert_true(info(dead, "snapshot_age_s") >= 0);
    redisReply *r = kc_cmd(&cl, dead, "DBSIZE");
    assert_int_equal(r->integer, 600);
    freeReplyObject(r);
    assert_int_equal(keelctl("hashkv"), 0);
    kc_stop(&cl);
}

static int count_backups(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    if (d == NULL) return 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        n += len > 5 && strcmp(e->d_name + len - 5, ".keel") == 0;
    }
    closedir(d);
    return n;
}

static void test_scheduled_backups(void **state)
{
    (void)state;
    char dir[600], extra[700];
    kc_prepare(&cl, 3, "");
    snprintf(dir, sizeof dir, "%s/backups", cl.base);
    snprintf(extra, sizeof extra, "--backup-dir %s --backup-interval 1s --backup-keep 2", dir);
    snprintf(cl.extra, sizeof cl.extra, "%s", extra);
    for (unsigned i = 0; i < 3; i++) kc_start_node(&cl, i);
    int leader = kc_leader(&cl, 10000);
    assert_true(leader >= 0);
    for (int i = 0; i < 100; i++) freeReplyObject(kc_cmd(&cl, (unsigned)leader, "SET k:%d %d", i, i));
    /* Three intervals: at least two backups, never more than kept. */
    long long index_seen = 0;
    for (int t = 0; t < 100 && index_seen < 100; t++) {
        kc_pause_ms(100);
        DIR *d = opendir(dir);
        if (d == NULL) continue;
        for (struct dirent *e; (e = readdir(d)) != NULL;) {
            size_t len = strlen(e->d_name);
            if (len < 5 || strcmp(e->d_name + len - 5, ".keel") != 0) continue;
            long long index = atoll(e->d_name + 5);
            if (index > index_seen) index_seen = index;
        }
        closedir(d);
        assert_true(count_backups(dir) <= 2);
    }
    assert_true(index_seen >= 100);
    DIR *d = opendir(dir);
    assert_non_null(d);
    int checked = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 5, ".keel") != 0) continue;
        char path[1300];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (kc_keelutl(&cl, out, sizeof out, err, sizeof err, "--json backup inspect %s", path) != 0)
            continue; /* pruned meanwhile */
        json_error_t je;
        json_t *j = json_loads(out, 0, &je);
        assert_non_null(j);
        assert_true(json_is_true(json_object_get(j, "valid")));
        assert_int_equal(json_array_size(json_object_get(j, "members")), 3);
        json_decref(j);
        checked++;
    }
    closedir(d);
    assert_true(checked >= 1);
    kc_stop(&cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_replace_dead_disk, teardown),
        cmocka_unit_test_teardown(test_scheduled_backups, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
