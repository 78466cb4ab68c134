/* tests/integration: examples/session-service against a real cluster while
 * its leader is SIGKILLed and then a follower: the service must keep
 * serving, and at the end restore every session as it wrote it (exit 0,
 * "wrong 0 ... failed 0"). The service is stopped by pid in any case. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

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

static int teardown(void **state)
{
    (void)state;
    test_kill(&service);
    if (cl.base != NULL) kc_stop(&cl);
    return 0;
}

/* The service's progress: the step of its session 0 (-1: not there yet). */
static long progress(void)
{
    int leader = kc_leader(&cl, 10000);
    if (leader < 0) return -1;
    redisReply *r = kc_cmd(&cl, (unsigned)leader, "HGET svc:session:0 step");
    long step = r != NULL && r->type == REDIS_REPLY_STRING ? atol(r->str) : -1;
    if (r) freeReplyObject(r);
    return step;
}

static void wait_progress(void)
{
    long start = progress();
    for (int t = 0; t < 300; t++) {
        if (progress() > start) return;
        kc_pause_ms(50);
    }
    fail_msg("the service made no progress");
}

static void test_service_through_failures(void **state)
{
    (void)state;
    const char *bin = getenv("SESSION_SERVICE");
    assert_non_null(bin);
    kc_start_leader(&cl, 3, "");
    char eps[256], out[600];
    kc_endpoints(&cl, eps, sizeof eps);
    snprintf(out, sizeof out, "%s/service.out", cl.base);
    char *argv[] = {(char *)bin, "--endpoints", eps, "--sessions", "20", "--seconds", "12", NULL};
    service = test_spawn(out, bin, argv);
    wait_progress();
    int leader = kc_leader(&cl, 10000);
    kc_signal(&cl, (unsigned)leader, SIGKILL);
    wait_progress(); /* served again, by the new leader */
    kc_start_node(&cl, (unsigned)leader);
    int follower = (kc_leader(&cl, 10000) + 1) % 3;
    kc_signal(&cl, (unsigned)follower, SIGKILL);
    wait_progress();
    kc_start_node(&cl, (unsigned)follower);

    int status = -1;
    for (int t = 0; t < 1200 && waitpid(service, &status, WNOHANG) != service; t++) kc_pause_ms(50);
    pid_t was = service;
    service = 0;
    if (!WIFEXITED(status)) {
        test_kill(&was);
        fail_msg("the service did not finish within 60 s");
    }
    char line[512] = "";
    FILE *f = fopen(out, "r");
    assert_non_null(f);
    if (fgets(line, sizeof line, f) == NULL) line[0] = 0;
    fclose(f);
    print_message("session-service: %s", line);
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_non_null(strstr(line, "sessions 20 restored 20 wrong 0"));
    assert_non_null(strstr(line, "failed 0"));
    kc_stop(&cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_service_through_failures, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
