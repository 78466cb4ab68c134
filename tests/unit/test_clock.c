/* tests/unit: the cluster clock (raft/clock.h), with simulated monotonic and
 * wall readings: never backwards, forward-only anchors, leaders carry the
 * time across changes, the wall clock corrects a drift at a bounded rate and
 * never follows a step, a cold leader takes the wall clock forward only. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "raft/clock.h"
#include "tests/lib/testlib.h"

#define MS 1000LL
#define S (1000 * MS)
#define T0 (1700000000LL * S) /* a Unix time, in us */

/* A follower's estimate runs on the monotonic clock from the replicated
 * clock: a lower bound, moved only forward by applied entries. */
static void t_follower_tracks_entries(void **state)
{
    struct keel_clock c;
    (void)state;
    keel_clock_init(&c, T0 / MS, 0);
    assert_false(c.warm);
    assert_int_equal(keel_clock_now_us(&c, 5 * S), T0 + 5 * S);
    keel_clock_observe(&c, (T0 + 7 * S) / MS, 5 * S); /* the leader is ahead */
    assert_int_equal(keel_clock_now_us(&c, 5 * S), T0 + 7 * S);
    assert_int_equal(keel_clock_now_us(&c, 6 * S), T0 + 8 * S);
    keel_clock_observe(&c, (T0 + 2 * S) / MS, 6 * S); /* an old entry: replay, catch-up */
    assert_int_equal(keel_clock_now_us(&c, 6 * S), T0 + 8 * S);
    assert_int_equal(keel_clock_now_ms(&c, 6 * S + 1500), (T0 + 8 * S + 1500) / MS);
}

/* A new leader goes on from its estimate or the replicated clock, whichever
 * is ahead, and never from its wall clock once warm: the election time is
 * not lost, a stepped wall clock not taken. */
static void t_leader_carries_time(void **state)
{
    struct keel_clock c;
    (void)state;
    keel_clock_init(&c, T0 / MS, 0);
    assert_true(keel_clock_sync(&c, (T0 + 1 * S) / MS, 1 * S - 20 * MS, 1 * S));
    assert_true(c.warm);
    /* 2 s of election: no entries; then lead with the wall an hour ahead */
    keel_clock_lead(&c, (T0 + 500 * MS) / MS, T0 + 3600 * S, 3 * S);
    assert_int_equal(keel_clock_now_us(&c, 3 * S), T0 + 3 * S);
    keel_clock_follow(&c, 4 * S);
    assert_int_equal(keel_clock_now_us(&c, 5 * S), T0 + 5 * S);
    /* the replicated clock ahead of the estimate: it wins */
    keel_clock_lead(&c, (T0 + 9 * S) / MS, 0, 5 * S);
    assert_int_equal(keel_clock_now_us(&c, 6 * S), T0 + 10 * S);
}

/* Cold (no leader heard since start): a leader takes its wall clock, forward
 * only; a slow answer to KEEL.CLOCK moves the clock but does not warm it. */
static void t_cold_start(void **state)
{
    struct keel_clock c;
    (void)state;
    keel_clock_init(&c, T0 / MS, 0);
    assert_false(keel_clock_sync(&c, (T0 + 4 * S) / MS, 0, 1 * S)); /* 1 s round trip */
    assert_false(c.warm);
    assert_int_equal(keel_clock_now_us(&c, 1 * S), T0 + 4 * S);
    keel_clock_lead(&c, 0, T0 + 60 * S, 2 * S);
    assert_true(c.warm);
    assert_int_equal(keel_clock_now_us(&c, 2 * S), T0 + 60 * S);
    keel_clock_init(&c, T0 / MS, 0);
    keel_clock_lead(&c, 0, T0 - 60 * S, 2 * S); /* a wall clock behind: never back */
    assert_int_equal(keel_clock_now_us(&c, 2 * S), T0 + 2 * S);
}

/* The leader slews towards a wall clock that drifted, at most SLEW_PPM: the
 * clock's rate stays within 0.05% of the monotonic clock's. */
static void t_slew_bounded(void **state)
{
    struct keel_clock c;
    (void)state;
    keel_clock_init(&c, T0 / MS, 0);
    keel_clock_lead(&c, T0 / MS, 0, 0);
    int64_t prev = keel_clock_now_us(&c, 0), mono = 0;
    for (int i = 0; i < 4000; i++) { /* 400 s, the wall clock 800 ms ahead */
        mono += 100 * MS;
        keel_clock_correct(&c, T0 + mono + 800 * MS, mono);
        int64_t now = keel_clock_now_us(&c, mono), d = now - prev;
        assert_in_range(d, 100 * MS - 50, 100 * MS + 50);
        prev = now;
    }
    /* 400 s at the most, 0.5 ms/s: 200 ms of the 800 closed */
    assert_in_range(prev - (T0 + mono), 199 * MS, 200 * MS);
    assert_in_range(c.slewed, 199 * MS, 200 * MS);
    assert_false(c.stepped);
    assert_int_equal(c.steps, 0);
    /* a wall clock behind slows the clock down, never turns it back */
    for (int i = 0; i < 100; i++) {
        mono += 100 * MS;
        keel_clock_correct(&c, T0 + mono - 500 * MS, mono);
        int64_t now = keel_clock_now_us(&c, mono);
        assert_true(now - prev >= 100 * MS - 50);
        prev = now;
    }
}

/* A step (more than STEP_MS either way) is never followed, only counted:
 * once per excursion. Followers never slew. */
static void t_step_ignored(void **state)
{
    struct keel_clock c;
    (void)state;
    keel_clock_init(&c, T0 / MS, 0);
    keel_clock_lead(&c, T0 / MS, T0, 0);
    int64_t mono = 0;
    const int64_t offsets[] = {3600 * S, 0, -3600 * S, 0, 2 * S};
    const uint64_t steps[] = {1, 1, 2, 2, 3};
    for (unsigned k = 0; k < 5; k++) {
        for (int i = 0; i < 50; i++) {
            mono += 100 * MS;
            keel_clock_correct(&c, T0 + mono + offsets[k], mono);
            assert_int_equal(keel_clock_now_us(&c, mono), T0 + mono);
        }
        assert_int_equal(c.steps, steps[k]);
        assert_int_equal(c.stepped, offsets[k] != 0);
        assert_int_equal(c.skew, offsets[k]);
    }
    keel_clock_follow(&c, mono);
    for (int i = 0; i < 50; i++) {
        mono += 100 * MS;
        keel_clock_correct(&c, T0 + mono + 300 * MS, mono); /* a drift: the leader would slew */
        assert_int_equal(keel_clock_now_us(&c, mono), T0 + mono);
    }
    assert_int_equal(c.skew, 300 * MS);
    assert_false(c.stepped);
}

/* A follower whose monotonic clock runs 100 ppm fast (0.36 s an hour) stays
 * within a few ms ahead of the leader, fed entries delayed 0-60 ms; and
 * within the delay behind. Without the correction it would end 360 ms ahead. */
static void t_follower_drift(void **state)
{
    struct keel_clock c;
    uint64_t rng = 99;
    (void)state;
    keel_clock_init(&c, T0 / MS, 0);
    assert_true(keel_clock_sync(&c, T0 / MS, 0, 0));
    int64_t worst_ahead = 0, worst_behind = 0;
    for (int64_t mono = 0; mono < 3600 * S; mono += 100 * MS) {
        for (int e = 0; e < 2; e++) { /* two entries per 100 ms */
            test_xorshift64(&rng);
            int64_t delay = (int64_t)(rng % (60 * MS));
            int64_t stamped = mono - delay;          /* on this node's clock */
            int64_t leader = T0 + stamped - stamped / 10000; /* the leader's, 100 ppm slower */
            keel_clock_observe(&c, leader / MS, mono);
        }
        keel_clock_correct(&c, T0 + mono, mono);
        int64_t d = keel_clock_now_us(&c, mono) - (T0 + mono - mono / 10000);
        if (mono > 60 * S && d > worst_ahead) worst_ahead = d;
        if (mono > 60 * S && -d > worst_behind) worst_behind = -d;
    }
    assert_in_range(worst_ahead, 0, 3 * MS);
    assert_in_range(worst_behind, 0, 65 * MS);
}

/* Whatever happens, a node's clock never goes back. */
static void t_never_back(void **state)
{
    struct keel_clock c;
    uint64_t rng = 12345;
    (void)state;
    keel_clock_init(&c, T0 / MS, 0);
    int64_t mono = 0, prev = 0;
    for (int i = 0; i < 100000; i++) {
        test_xorshift64(&rng);
        mono += (int64_t)(rng % (50 * MS));
        int64_t jitter = (int64_t)(rng >> 20) % (4 * S) - 2 * S;
        switch (rng % 6) {
            case 0: keel_clock_observe(&c, (T0 + mono + jitter) / MS, mono); break;
            case 1: keel_clock_lead(&c, (T0 + mono + jitter) / MS, T0 + mono - jitter, mono); break;
            case 2: keel_clock_follow(&c, mono); break;
            case 3: keel_clock_correct(&c, T0 + mono + jitter, mono); break;
            case 4: keel_clock_sync(&c, (T0 + mono + jitter) / MS, mono - (int64_t)(rng % S), mono); break;
            default: break;
        }
        int64_t now = keel_clock_now_us(&c, mono);
        assert_true(now >= prev);
        prev = now;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_follower_tracks_entries), cmocka_unit_test(t_leader_carries_time),
        cmocka_unit_test(t_cold_start),  cmocka_unit_test(t_slew_bounded),
        cmocka_unit_test(t_step_ignored), cmocka_unit_test(t_follower_drift),
        cmocka_unit_test(t_never_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
