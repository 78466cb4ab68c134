/* tests/integration: keelctl drill on a real three-node cluster, one node
 * per zone, started with --enable-drills: leader-crash, follower-crash,
 * zone-loss, isolate and leader-transfer each report RPO 0 (every
 * acknowledged write read back) while examples/session-service keeps
 * serving and restores every session at the end. Crashed nodes are
 * restarted here, as a supervisor would. Drills are refused by a node
 * started without the switch. Timings are printed, never asserted. */
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
#include <sys/wait.h>
#include <unistd.h>

#include "kc.h"
#include "tests/lib/testlib.h"

static struct kc cl;
static pid_t service;
static char out[65536], err[8192];

static int teardown(void **state)
{
    (void)state;
    test_kill(&service);
    if (cl.base != NULL) kc_stop(&cl);
    return 0;
}

static int keelctl(const char *args)
{
    return kc_keelctl(&cl, out, sizeof out, err, sizeof err, "%s", args);
}

/* Restart what a drill crashed, then wait for every node to be healthy. */
static void supervise(void)
{
    for (unsigned i = 0; i < cl.n; i++)
        if (kc_exited(&cl, i)) kc_start_node(&cl, i);
    int rc = 1;
    for (int t = 0; t < 150 && rc != 0; t++) {
        rc = keelctl("health"); /* lag within 1000: the service keeps writing */
        if (rc != 0) kc_pause_ms(100);
    }
    assert_int_equal(rc, 0);
}

static void drill(const char *args)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "--json drill %s", args);
    int rc = keelctl(cmd);
    fprintf(stderr, "drill %s: %s%s", args, out, err); /* the figures, for the log */
    assert_int_equal(rc, 0);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "rpo_lost")), 0);
    assert_true(json_is_true(json_object_get(j, "checked")));
    assert_true(json_integer_value(json_object_get(j, "verified")) > 0);
    assert_true(json_integer_value(json_object_get(j, "rto_ms")) >= 0);
    json_decref(j);
    supervise();
}

static void test_drills(void **state)
{
    (void)state;
    /* Short snapshot intervals: a crashed node restarts from a snapshot, not
     * from a long log (the service writes all along). */
    kc_prepare(&cl, 3, "--enable-drills --snapshot-threshold 1024 --snapshot-trailing 1024");
    for (unsigned i = 0; i < 3; i++) snprintf(cl.nodes[i].extra, sizeof cl.nodes[i].extra, "--zone dc%u", i + 1);
    for (unsigned i = 0; i < 3; i++) kc_start_node(&cl, i);
    assert_true(kc_leader(&cl, 10000) >= 0);
    supervise(); /* zones published, every node caught up */
    assert_int_equal(keelctl("status"), 0);
    assert_non_null(strstr(out, "dc2"));

    /* The service runs through every drill. */
    char eps[256], secs[16];
    kc_endpoints(&cl, eps, sizeof eps);
    snprintf(secs, sizeof secs, "%d", 45);
    char log[600];
    snprintf(log, sizeof log, "%s/service.out", cl.base);
    char *argv[] = {"session-service", "--endpoints", eps, "--sessions", "50", "--seconds", secs,
                    "--prefix", "drill-svc", NULL};
    service = test_spawn(log, getenv("SESSION_SERVICE"), argv);

    drill("leader-crash --duration 3 --settle 20");
    drill("follower-crash --duration 2 --settle 20");
    drill("zone-loss --zone dc2 --duration 2 --settle 20");
    drill("isolate --isolate 2 --duration 4 --settle 20");
    drill("leader-transfer --duration 2 --settle 20");

    int st;
    assert_int_equal(waitpid(service, &st, 0), service); /* bounded by its --seconds */
    service = 0;
    char path[600], line[512] = "";
    snprintf(path, sizeof path, "%s/service.out", cl.base);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f) != NULL) {
        if (strstr(line, "sessions ") == line) break;
    }
    fclose(f);
    fprintf(stderr, "session-service: %s", line);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_non_null(strstr(line, "restored 50 wrong 0"));
    kc_stop(&cl);
}

/* Without --enable-drills nothing is crashed; two of three voters in one
 * zone is reported as a placement that a zone loss would take down. */
static void test_drills_disabled_and_placement(void **state)
{
    (void)state;
    kc_prepare(&cl, 3, "");
    for (unsigned i = 0; i < 3; i++) snprintf(cl.nodes[i].extra, sizeof cl.nodes[i].extra, "--zone dc%u", i / 2 + 1);
    for (unsigned i = 0; i < 3; i++) kc_start_node(&cl, i);
    assert_true(kc_leader(&cl, 10000) >= 0);
    bool warned = false;
    for (int t = 0; t < 150 && !warned; t++) {
        assert_true(keelctl("health") <= 1);
        warned = strstr(out, "warning: zone dc1 holds a majority of the voters") != NULL;
        if (!warned) kc_pause_ms(100);
    }
    assert_true(warned);
    assert_int_equal(keelctl("health"), 0); /* a warning, not ill health */
    assert_int_equal(keelctl("drill leader-crash --duration 1"), 1);
    assert_non_null(strstr(err, "drills are disabled"));
    assert_true(kc_leader(&cl, 10000) >= 0); /* nothing happened to it */
    assert_int_equal(keelctl("drill nonsense"), 2);
    kc_stop(&cl);
}

/* Quorum loss on the test cluster the drill starts itself, then the
 * recovery procedure: the old leader held every acknowledged write. */
static void test_quorum_loss_drill(void **state)
{
    (void)state;
    char errpath[] = "/tmp/keel-drill-q-err.XXXXXX", cmd[1024];
    int fd = mkstemp(errpath);
    assert_true(fd >= 0);
    close(fd);
    snprintf(cmd, sizeof cmd, "'%s' --json drill quorum-loss --duration 2 --keeld '%s' 2>%s",
             getenv("KEELCTL") ? getenv("KEELCTL") : "keelctl", getenv("KEELD") ? getenv("KEELD") : "keeld", errpath);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    int st = pclose(p);
    unlink(errpath);
    fprintf(stderr, "drill quorum-loss: %s", out);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "rpo_lost")), 0);
    assert_true(json_integer_value(json_object_get(j, "verified")) > 0);
    assert_true(json_integer_value(json_object_get(j, "rto_ms")) > 0);
    json_decref(j);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_drills_disabled_and_placement, teardown),
        cmocka_unit_test_teardown(test_drills, teardown),
        cmocka_unit_test(test_quorum_loss_drill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
