/* tests/integration: keeld whose wall clock jumps. Keel reads the wall clock
 * in two places: the leader stamps each entry with it (apply takes time from
 * the entry, and keeps a replicated clock that never goes back), and a read
 * decides with it which keys have expired. The node runs under libfaketime
 * (Debian package libfaketime), whose offset file we rewrite to step its
 * clock as NTP would; only CLOCK_REALTIME moves, the monotonic clock raft's
 * timers use does not. Every wait is a bounded poll. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kc.h"
#include "testutil.h"

#ifndef KEEL_FAKETIME_LIB
#define KEEL_FAKETIME_LIB "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
#endif

static struct kc cl;
static char *offset_dir;
static char offset_file[600];

static int teardown(void **state)
{
    (void)state;
    if (cl.base != NULL) kc_stop(&cl);
    if (offset_dir != NULL) test_rmdtemp(offset_dir);
    offset_dir = NULL;
    return 0;
}

/* Step the node's wall clock to real time + secs. */
static void clock_offset(const char *secs)
{
    FILE *f = fopen(offset_file, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", secs);
    assert_int_equal(fclose(f), 0);
}

static void start_faked(const char *extra)
{
    if (access(KEEL_FAKETIME_LIB, R_OK) != 0)
        fail_msg("%s is missing: install the Debian package libfaketime (make deps does)", KEEL_FAKETIME_LIB);
    offset_dir = test_mkdtemp("clock");
    assert_non_null(offset_dir);
    snprintf(offset_file, sizeof offset_file, "%s/offset", offset_dir);
    clock_offset("+0");
    setenv("LD_PRELOAD", KEEL_FAKETIME_LIB, 1);
    setenv("FAKETIME_TIMESTAMP_FILE", offset_file, 1);
    setenv("FAKETIME_NO_CACHE", "1", 1);            /* a new offset counts at once */
    setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1", 1); /* raft's timers keep real time */
    /* The sanitizer build insists on being first in the library list. */
    const char *asan = getenv("ASAN_OPTIONS");
    char opts[512];
    snprintf(opts, sizeof opts, "%s%sverify_asan_link_order=0", asan ? asan : "", asan && *asan ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
    kc_start(&cl, 1, extra);
    unsetenv("LD_PRELOAD");
    assert_true(kc_leader(&cl, 10000) >= 0);
}

static bool present(const char *key)
{
    redisReply *r = kc_cmd(&cl, 0, "GET %s", key);
    assert_non_null(r);
    bool there = r->type == REDIS_REPLY_STRING;
    assert_true(there || r->type == REDIS_REPLY_NIL);
    freeReplyObject(r);
    return there;
}

static void status_ok(redisReply *r, const char *what)
{
    assert_non_null(r);
    if (r->type != REDIS_REPLY_STATUS) fail_msg("%s: %s", what, r->str ? r->str : "?");
    freeReplyObject(r);
}
#define SET_OK(...) status_ok(kc_cmd(&cl, 0, __VA_ARGS__), #__VA_ARGS__)

/* A write stamped by a clock a minute ahead raises the replicated clock;
 * when the wall clock steps back, a SET PX must still count its TTL from the
 * replicated clock, not be born expired. */
static void test_ttl_after_clock_stepped_back(void **state)
{
    (void)state;
    start_faked("");
    clock_offset("+60");
    SET_OK("SET ahead 1");
    clock_offset("+0");
    SET_OK("SET s v PX 5000");
    assert_true(present("s"));
    redisReply *r = kc_cmd(&cl, 0, "PTTL s");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_true(r->integer > 0 && r->integer <= 5000);
    freeReplyObject(r);
    kc_stop(&cl);
}

/* A key a read found expired stays gone when the clock steps back (no sweep
 * deletes it here: the sweep is all but off). */
static void test_expired_stays_expired(void **state)
{
    (void)state;
    start_faked("--sweep-interval 60000");
    SET_OK("SET e v PX 300");
    bool gone = false;
    for (int t = 0; t < 100 && !gone; t++) {
        gone = !present("e");
        if (!gone) kc_pause_ms(20);
    }
    assert_true(gone);
    clock_offset("-60");
    assert_false(present("e"));
    redisReply *r = kc_cmd(&cl, 0, "EXISTS e");
    assert_non_null(r);
    assert_int_equal(r->integer, 0);
    freeReplyObject(r);
    kc_stop(&cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_ttl_after_clock_stepped_back, teardown),
        cmocka_unit_test_teardown(test_expired_stays_expired, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
