/* raft: the cluster clock: the time, in Unix milliseconds, that the leader
 * stamps into entries and that expiry (sweeps, reads, TTL/PTTL) is judged by.
 *
 * Why not the wall clock: an NTP step or a VM resume moves CLOCK_REALTIME by
 * seconds or hours at once. Stamped into entries, a step forward expires every
 * key at once, and since apply keeps the replicated clock at the largest stamp
 * seen (store.h), a step back then freezes time until the wall clock catches
 * up: a PX 1000 key lived for the length of the step (issue 12, defect 4).
 *
 * So the cluster clock runs on the local monotonic clock and carries its
 * value across leader changes through the log:
 *  - every node keeps an estimate E(t) = base + (mono(t) - at), moved forward
 *    (never back) by every entry it applies: E := max(E, R), R the entry's
 *    replicated time (max of its stamp and the replicated clock). The stamp
 *    was taken on the leader at or before the apply, so R is a lower bound of
 *    the leader's clock now, and max keeps the freshest of those bounds; an
 *    old entry (replay, catch-up) cannot drag the estimate back;
 *  - a new leader starts from max(E, the replicated clock) and runs on; so a
 *    leader change or transfer loses at most the replication delay of the
 *    freshest entry the new leader applied, never the election time (its
 *    monotonic clock ran meanwhile);
 *  - the leader slews towards its wall clock at most SLEW_PPM (0.5 ms per
 *    second, NTP's own bound) and only while the difference is under STEP_MS:
 *    that corrects drift, so absolute times (EXPIREAT) stay right. A larger
 *    difference is a step: never followed, only reported (skew, stepped, and
 *    the CLOCK_SKEW alarm above). Nothing ever moves a node's clock back;
 *  - a follower whose monotonic clock runs faster than the leader's would
 *    drift ahead of it (max never pulls back), and lead it early by the
 *    drift after an election. So a follower watches how far behind its
 *    estimate the entries it applies are: the least such lag over the last
 *    5-10 s is the replication delay plus any drift ahead; while it exceeds
 *    FOLLOW_SLACK_MS the follower slows by up to SLEW_PPM. Ahead, it cannot
 *    stay more than that (plus the leader's own slew over a window); behind,
 *    the next entry pulls it up. With no entries it runs free on its
 *    monotonic clock, which NTP disciplines in rate (not in steps).
 *  - cold: after a restart a node knows only the replicated clock: its
 *    estimate is that plus the time since start, a lower bound (keys kept a
 *    bit long, never dropped early), and the entries it then applies may be
 *    old (its log replayed, a catch-up after downtime). So a follower asks
 *    the leader for its clock (KEEL.CLOCK through the forwarder, the way NTP
 *    does): the answer was read between the request and the reply, so it is
 *    at most the round trip behind; under SYNC_MAX_MS it makes the clock
 *    warm. A node that becomes leader while still cold (the whole cluster
 *    restarting) also takes its wall clock, forward only: the one moment a
 *    stepped wall clock can still move expiry.
 *
 * The monotonic source is CLOCK_BOOTTIME: it also counts a suspended
 * machine, so a TTL spans a suspend as real time does (CLOCK_MONOTONIC stops
 * there). libfaketime leaves it alone with FAKETIME_DONT_FAKE_MONOTONIC=1.
 *
 * Everything here is pure: readings are passed in, in microseconds; only
 * keel_clock_mono_us() and keel_clock_wall_us() read clocks. Not
 * thread-safe: the loop thread owns a node's clock. */
#ifndef KEEL_RAFT_CLOCK_H
#define KEEL_RAFT_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#define KEEL_CLOCK_SLEW_PPM 500   /* most a leader's wall clock corrects the rate */
#define KEEL_CLOCK_STEP_MS 1000   /* a larger wall difference is a step: ignored */
#define KEEL_CLOCK_SYNC_MAX_MS 200 /* a clock answer slower than this does not warm */
#define KEEL_CLOCK_FOLLOW_SLACK_MS 2 /* a follower's least lag behind entries left alone */
#define KEEL_CLOCK_WINDOW_MS 5000  /* over which that least lag is taken (two windows) */

struct keel_clock
{
    int64_t base;       /* cluster us at monotonic `at` */
    int64_t at;         /* monotonic us */
    int64_t ppm;        /* current rate correction (leader slewing), +-SLEW_PPM */
    int64_t last;       /* the largest value handed out (us): the floor */
    int64_t skew;       /* wall - cluster at the last correction, us */
    int64_t lag;        /* follower: least (now - replicated time) of the entries
                         * applied in this window, us; -1: none yet */
    int64_t lag_prev;   /* the same for the window before */
    int64_t window_at;  /* monotonic us this window began */
    int64_t slewed;     /* total correction applied by slewing, us (signed) */
    uint64_t steps;     /* times the wall difference went over STEP_MS */
    bool stepped;       /* the last correction saw a step (not followed) */
    bool warm;          /* synced with a leader, or led, since start */
    bool leading;
};

/* Cold start: the replicated clock (Unix ms, 0: none yet) at monotonic mono. */
void keel_clock_init(struct keel_clock *c, int64_t replicated_ms, int64_t mono);
/* Cluster time at mono, in us; never less than a value returned before. */
int64_t keel_clock_now_us(struct keel_clock *c, int64_t mono);
/* The same in Unix ms (rounded down, so monotone too). */
int64_t keel_clock_now_ms(struct keel_clock *c, int64_t mono);
/* An entry applied (or an image restored) at mono whose replicated time is
 * replicated_ms: moves the clock forward to it if it is ahead. */
void keel_clock_observe(struct keel_clock *c, int64_t replicated_ms, int64_t mono);
/* The leader's clock, leader_ms, asked at monotonic sent and answered at
 * mono: moves the clock forward to it; warm if the round trip was under
 * SYNC_MAX_MS. Returns whether it was. */
bool keel_clock_sync(struct keel_clock *c, int64_t leader_ms, int64_t sent, int64_t mono);
/* This node became leader: start from max(now, the replicated clock), and
 * if cold also the wall clock (forward only). */
void keel_clock_lead(struct keel_clock *c, int64_t replicated_ms, int64_t wall, int64_t mono);
/* This node stopped leading: run on, unslewed, from where it is. */
void keel_clock_follow(struct keel_clock *c, int64_t mono);
/* Compare with the wall clock (us) at mono: record the skew; on the leader,
 * slew towards it if the difference is a drift (<= STEP_MS); on a follower,
 * slow down if the entries say it runs ahead of the leader. Call it
 * periodically (node: every 100 ms). */
void keel_clock_correct(struct keel_clock *c, int64_t wall, int64_t mono);

/* The clocks, in us: CLOCK_BOOTTIME and CLOCK_REALTIME. */
int64_t keel_clock_mono_us(void);
int64_t keel_clock_wall_us(void);

#endif /* KEEL_RAFT_CLOCK_H */
