/* tests/integration: keeld whose wall clock jumps. Every node runs under
 * libfaketime (Debian package libfaketime) with an offset file of its own;
 * rewriting the file steps that node's CLOCK_REALTIME at once, as NTP or a
 * VM resume would, while its monotonic clocks (raft's timers, the cluster
 * clock's source, raft/clock.h) keep real time.
 *
 * The promise (issue 12, defect 4): a +-1 h step of any node's wall clock
 * changes no key's remaining TTL by more than the election timeout, no key
 * expires early and none outlives its TTL by more than that; and TTLs stay
 * exact across leader transfers and a leader kill. Expectations come from
 * the test's own monotonic clock: a key set between t_inv and t_ret with a
 * ttl expires in [t_inv + ttl, t_ret + ttl]. Every wait is a bounded poll. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kc.h"
#include "tests/lib/testlib.h"

#ifndef KEEL_FAKETIME_LIB
#define KEEL_FAKETIME_LIB "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
#endif

#define ELECTION_MS 600 /* keeld's default --election-timeout */
#define HOUR "3600"

static struct kc cl;
static char *offset_dir;

static int teardown(void **state)
{
    (void)state;
    if (cl.base != NULL) kc_stop(&cl);
    if (offset_dir != NULL) test_rmdtemp(offset_dir);
    offset_dir = NULL;
    return 0;
}

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void offset_path(unsigned i, char *buf, size_t size)
{
    snprintf(buf, size, "%s/n%u", offset_dir, i + 1);
}

/* Step node i's wall clock to real time + secs ("+3600", "-3600", "+0"). */
static void clock_offset(unsigned i, const char *secs)
{
    char path[700];
    offset_path(i, path, sizeof path);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", secs);
    assert_int_equal(fclose(f), 0);
}

/* Start node i under libfaketime with its own offset file. */
static void start_node(unsigned i)
{
    char path[700];
    offset_path(i, path, sizeof path);
    setenv("LD_PRELOAD", KEEL_FAKETIME_LIB, 1);
    setenv("FAKETIME_TIMESTAMP_FILE", path, 1);
    setenv("FAKETIME_NO_CACHE", "1", 1);            /* a new offset counts at once */
    setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1", 1); /* monotonic and boot time stay true */
    /* The sanitizer build insists on being first in the library list. */
    const char *asan = getenv("ASAN_OPTIONS");
    if (asan == NULL || strstr(asan, "verify_asan_link_order") == NULL) {
        char opts[512];
        snprintf(opts, sizeof opts, "%s%sverify_asan_link_order=0", asan ? asan : "", asan && *asan ? ":" : "");
        setenv("ASAN_OPTIONS", opts, 1);
    }
    kc_start_node(&cl, i);
    unsetenv("LD_PRELOAD");
}

static void start_faked(unsigned n, const char *extra)
{
    if (access(KEEL_FAKETIME_LIB, R_OK) != 0)
        fail_msg("%s is missing: install the Debian package libfaketime (make deps does)", KEEL_FAKETIME_LIB);
    offset_dir = test_mkdtemp("clock");
    assert_non_null(offset_dir);
    kc_prepare(&cl, n, extra);
    for (unsigned i = 0; i < n; i++) {
        clock_offset(i, "+0");
        start_node(i);
    }
    assert_true(kc_leader(&cl, 10000) >= 0);
}

static bool info_has(unsigned i, const char *want)
{
    redisReply *r = kc_cmd(&cl, i, "INFO raft");
    bool ok = r != NULL && r->type == REDIS_REPLY_STRING && strstr(r->str, want) != NULL;
    if (r) freeReplyObject(r);
    return ok;
}

/* Every live node's cluster clock warm: the leader's, and each follower's
 * synced with it (KEEL.CLOCK). */
static void wait_warm(void)
{
    for (unsigned i = 0; i < cl.n; i++) {
        if (cl.nodes[i].pid <= 0) continue;
        bool ok = false;
        for (int t = 0; t < 200 && !ok; t++) {
            /* (A keeld from before the cluster clock has no such line and
             * nothing to wait for: so the test runs against one, and fails.) */
            ok = info_has(i, "cluster_clock:leader") || info_has(i, "cluster_clock:follower") ||
                 !info_has(i, "cluster_clock:");
            if (!ok) kc_pause_ms(25);
        }
        if (!ok) fail_msg("node %u: cluster clock still cold after 5 s", i + 1);
    }
}

/* Node i's CLOCK_SKEW alarm on (or off) within 2 s: a node says so when its
 * wall clock leaves the cluster clock by over a second. */
static void wait_skew_alarm(unsigned i, bool on)
{
    for (int t = 0; t < 80; t++) {
        redisReply *r = kc_cmd(&cl, i, "INFO alarms");
        bool is = r != NULL && r->type == REDIS_REPLY_STRING && strstr(r->str, "alarm_CLOCK_SKEW:") != NULL;
        if (r) freeReplyObject(r);
        if (is == on) return;
        kc_pause_ms(25);
    }
    fail_msg("node %u: CLOCK_SKEW not %s within 2 s", i + 1, on ? "raised" : "cleared");
}

/* A live node other than `not` (-1: any), for requests. */
static unsigned live_node(int not, unsigned salt)
{
    for (unsigned k = 0; k < cl.n; k++) {
        unsigned i = (salt + k) % cl.n;
        if (cl.nodes[i].pid > 0 && (int)i != not) return i;
    }
    fail_msg("no live node");
    return 0;
}

static void status_ok(redisReply *r, const char *what)
{
    assert_non_null(r);
    if (r->type != REDIS_REPLY_STATUS) fail_msg("%s: %s", what, r->str ? r->str : "?");
    freeReplyObject(r);
}

/* ---- keys with a ttl, and what was seen of them ------------------------ */

#define MAX_KEYS 64

struct key
{
    char name[32];
    long long ttl_us;
    long long t_inv, t_ret;   /* the SET, on the test's monotonic clock (us) */
    long long last_present;   /* start of the latest request that found it; 0: none */
    long long first_absent;   /* end of the earliest request that did not; 0: none */
    bool came_back;           /* found after a request had not found it */
};

static struct key keys[MAX_KEYS];
static unsigned nkeys;
/* Over a test, us: the least time from a key's window to its first absence
 * (negative: early), the most from its window's end to its last sighting,
 * the most a PTTL was off. */
static long long least_margin, worst_late, worst_pttl;

static struct key *set_key(const char *prefix, long long ttl_ms)
{
    assert_true(nkeys < MAX_KEYS);
    struct key *k = &keys[nkeys];
    memset(k, 0, sizeof *k);
    snprintf(k->name, sizeof k->name, "%s%u", prefix, nkeys);
    k->ttl_us = ttl_ms * 1000;
    for (int tries = 0; tries < 100; tries++) { /* -TRYAGAIN during an election: the SET did not happen */
        unsigned via = live_node(-1, (unsigned)tries);
        k->t_inv = now_us();
        redisReply *r = kc_cmd(&cl, via, "SET %s v PX %lld", k->name, ttl_ms);
        k->t_ret = now_us();
        bool ok = r != NULL && r->type == REDIS_REPLY_STATUS;
        bool again = kc_is_error(r, "TRYAGAIN");
        if (r) freeReplyObject(r);
        if (ok) {
            nkeys++;
            return k;
        }
        if (!again && r != NULL) fail_msg("SET %s failed", k->name);
        kc_pause_ms(20);
    }
    fail_msg("SET %s: no leader for 2 s", k->name);
    return NULL;
}

/* One linearizable EXISTS of each key, through the node `via`. */
static void observe_keys(unsigned via)
{
    for (unsigned j = 0; j < nkeys; j++) {
        struct key *k = &keys[j];
        if (k->first_absent != 0 && !k->came_back && now_us() > k->first_absent + 2000000) continue;
        long long q0 = now_us();
        redisReply *r = kc_cmd(&cl, via, "EXISTS %s", k->name);
        long long q1 = now_us();
        if (r != NULL && r->type == REDIS_REPLY_INTEGER) {
            if (r->integer == 1) {
                k->last_present = q0;
                if (k->first_absent != 0) k->came_back = true;
            } else if (k->first_absent == 0) {
                k->first_absent = q1;
            }
        }
        if (r) freeReplyObject(r);
    }
}

/* Observe every key for ms, rotating over the live nodes. */
static void watch(unsigned ms)
{
    long long end = now_us() + (long long)ms * 1000;
    unsigned salt = 0;
    while (now_us() < end) {
        observe_keys(live_node(-1, salt++));
        kc_pause_ms(5);
    }
}

/* Watch until every key's window has passed by more than late_ms. */
static void watch_out(unsigned late_ms)
{
    long long last = 0;
    for (unsigned j = 0; j < nkeys; j++)
        if (keys[j].t_ret + keys[j].ttl_us > last) last = keys[j].t_ret + keys[j].ttl_us;
    long long wait = last + (long long)(late_ms + 300) * 1000 - now_us();
    if (wait > 0) watch((unsigned)(wait / 1000));
}

/* No key gone before t_inv + ttl - early_ms, none seen after t_ret + ttl +
 * late_ms, none back once gone, all gone in the end. */
static void check_keys(unsigned early_ms, unsigned late_ms)
{
    for (unsigned j = 0; j < nkeys; j++) {
        const struct key *k = &keys[j];
        long long lo = k->t_inv + k->ttl_us, hi = k->t_ret + k->ttl_us;
        if (k->came_back) fail_msg("%s came back after a read had found it gone", k->name);
        if (k->first_absent == 0) fail_msg("%s (ttl %lld ms) never expired", k->name, k->ttl_us / 1000);
        long long early = lo - k->first_absent, late = k->last_present - hi;
        if (j == 0 || -early < least_margin) least_margin = -early;
        if (j == 0 || late > worst_late) worst_late = late;
        if (early > early_ms * 1000LL)
            fail_msg("%s (ttl %lld ms) expired %lld ms early", k->name, k->ttl_us / 1000, early / 1000);
        if (late > late_ms * 1000LL)
            fail_msg("%s (ttl %lld ms) still there %lld ms after its ttl ran out", k->name, k->ttl_us / 1000,
                     late / 1000);
    }
    print_message("    %u keys: gone %+.1f ms from the start of their window at the earliest, seen %+.1f ms "
                  "from its end at the latest; PTTL off by up to %.1f ms\n", nkeys, (double)least_margin / 1000,
                  (double)worst_late / 1000, (double)worst_pttl / 1000);
}

/* PTTL of k through node i (READONLY: i's own clock) must be its remaining
 * ttl on the test's clock, within tol_ms. */
static void check_pttl(unsigned i, const struct key *k, bool readonly, unsigned tol_ms)
{
    redisContext *ctx = kc_connect(&cl, i);
    assert_true(ctx != NULL && !ctx->err);
    if (readonly) status_ok(redisCommand(ctx, "READONLY"), "READONLY");
    long long q0 = now_us();
    redisReply *r = redisCommand(ctx, "PTTL %s", k->name);
    long long q1 = now_us();
    redisFree(ctx);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long got = r->integer * 1000, lo = k->t_inv + k->ttl_us - q1, hi = k->t_ret + k->ttl_us - q0;
    freeReplyObject(r);
    if (got < lo - tol_ms * 1000LL || got > hi + tol_ms * 1000LL)
        fail_msg("node %u%s: PTTL %s = %lld ms, want %lld..%lld ms (+-%u)", i + 1, readonly ? " (READONLY)" : "",
                 k->name, got / 1000, lo / 1000, hi / 1000, tol_ms);
    long long off = got < lo ? lo - got : got > hi ? got - hi : 0;
    if (off > worst_pttl) worst_pttl = off;
}

/* ---- single node: the two regressions the clock nemesis found first ---- */

/* A write stamped while the clock is a minute ahead must not move the
 * cluster clock; after the step back a SET PX counts its ttl from real time:
 * not born expired, not kept a minute. */
static void test_ttl_after_clock_stepped_back(void **state)
{
    (void)state;
    nkeys = 0;
    least_margin = worst_late = worst_pttl = 0;
    start_faked(1, "");
    clock_offset(0, "+60");
    status_ok(kc_cmd(&cl, 0, "SET ahead 1"), "SET ahead");
    clock_offset(0, "+0");
    struct key *k = set_key("s", 1000);
    check_pttl(0, k, false, 50);
    watch_out(50);
    check_keys(5, 50);
    kc_stop(&cl);
}

/* A key a read found expired stays gone when the clock steps back (no sweep
 * deletes it here: the sweep is all but off). */
static void test_expired_stays_expired(void **state)
{
    (void)state;
    nkeys = 0;
    least_margin = worst_late = worst_pttl = 0;
    start_faked(1, "--sweep-interval 60000");
    set_key("e", 300);
    watch_out(50);
    clock_offset(0, "-60");
    watch(300);
    check_keys(5, 50);
    redisReply *r = kc_cmd(&cl, 0, "EXISTS e0");
    assert_non_null(r);
    assert_int_equal(r->integer, 0);
    freeReplyObject(r);
    kc_stop(&cl);
}

/* ---- three nodes: +-1 h steps of the leader's and a follower's clock ---- */

static int leader_now(void)
{
    int l = kc_leader(&cl, 10000);
    assert_true(l >= 0);
    return l;
}

/* The leader's wall clock an hour ahead, right, an hour behind, right; then
 * a follower's. Long keys' PTTL stays their remaining ttl (through the
 * leader, and through the stepped follower's own clock, READONLY) within the
 * election timeout; a short key set in each phase lives its ttl; the stepped
 * node raises CLOCK_SKEW, and clears it when its clock is right again. */
static void test_steps_change_no_ttl(void **state)
{
    (void)state;
    nkeys = 0;
    least_margin = worst_late = worst_pttl = 0;
    start_faked(3, "");
    wait_warm();
    struct key *lng[3];
    for (int j = 0; j < 3; j++) lng[j] = set_key("long", 12000 + 1000 * j);
    unsigned l = (unsigned)leader_now(), f = (l + 1) % 3;
    const struct { bool follower; const char *offset; } phases[] = {
        {false, "+" HOUR}, {false, "+0"}, {false, "-" HOUR}, {false, "+0"},
        {true, "+" HOUR},  {true, "-" HOUR}, {true, "+0"},
    };
    for (unsigned p = 0; p < sizeof phases / sizeof *phases; p++) {
        unsigned who = phases[p].follower ? f : l;
        clock_offset(who, phases[p].offset);
        set_key("short", 700); /* stamped by the leader right after the step */
        for (int round = 0; round < 2; round++) {
            for (int j = 0; j < 3; j++) {
                check_pttl(l, lng[j], false, ELECTION_MS);
                if (phases[p].follower) check_pttl(f, lng[j], true, ELECTION_MS);
            }
            if (round > 0) break;
            watch(900);
            wait_skew_alarm(who, strcmp(phases[p].offset, "+0") != 0); /* it has seen the step */
        }
        assert_int_equal(leader_now(), (int)l); /* a step is no reason for an election */
    }
    watch_out(ELECTION_MS);
    /* 5 ms early at most: stamps are whole milliseconds (a SET stamped at
     * t+0.9 ms counts its ttl from t), and a read may be served by a later
     * apply batch than the sweep's; the same bound as below. */
    check_keys(5, ELECTION_MS);
    kc_stop(&cl);
}

/* ---- three nodes: transfers and a kill, to nodes whose clocks are off --- */

/* TTLs across two leadership transfers, to a follower whose wall clock is an
 * hour ahead and to one an hour behind, and a kill of that leader: no key
 * gone early (5 ms: the stamps' millisecond resolution, rounded on both
 * sides), none seen more than LATE_MS after its ttl. LATE_MS: a new leader
 * starts from the freshest entry it applied, which it learned committed at
 * most a heartbeat (60 ms) after the old leader stamped it; the rest is
 * scheduling on two shared cores. */
#define LATE_MS 150
static void test_ttl_exact_across_leader_changes(void **state)
{
    (void)state;
    nkeys = 0;
    least_margin = worst_late = worst_pttl = 0;
    start_faked(3, "");
    wait_warm();
    unsigned l = (unsigned)leader_now(), ahead = (l + 1) % 3, behind = (l + 2) % 3;
    clock_offset(ahead, "+" HOUR);
    clock_offset(behind, "-" HOUR);
    for (unsigned j = 0; j < 16; j++) set_key("k", 1000 + 700 * j);
    watch(2000);
    const unsigned order[2] = {ahead, behind};
    for (int t = 0; t < 2; t++) {
        redisReply *r = kc_cmd(&cl, live_node(-1, (unsigned)t), "KEEL.TRANSFER %u", order[t] + 1);
        assert_non_null(r);
        if (r->type != REDIS_REPLY_INTEGER || r->integer != order[t] + 1)
            fail_msg("KEEL.TRANSFER %u: %s", order[t] + 1, r->str ? r->str : "another leader");
        freeReplyObject(r);
        set_key("t", 400);
        set_key("t", 1500);
        watch(2500);
    }
    kc_signal(&cl, behind, SIGKILL); /* the leader, its clock an hour behind */
    watch(ELECTION_MS * 3);
    set_key("x", 400);
    set_key("x", 2000);
    watch_out(LATE_MS);
    check_keys(5, LATE_MS);
    clock_offset(behind, "+0");
    start_node(behind);
    kc_stop(&cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_ttl_after_clock_stepped_back, teardown),
        cmocka_unit_test_teardown(test_expired_stays_expired, teardown),
        cmocka_unit_test_teardown(test_steps_change_no_ttl, teardown),
        cmocka_unit_test_teardown(test_ttl_exact_across_leader_changes, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
