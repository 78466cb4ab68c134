/* raft: the cluster clock (see clock.h). */
#include <string.h>
#include <time.h>

#include "raft/clock.h"

/* The value at mono on the current segment: base plus the monotonic time
 * since `at`, corrected by the slew rate. A reading older than the anchor
 * (callers pass fresh ones) counts as no time. */
static int64_t value(const struct keel_clock *c, int64_t mono, int64_t *slew)
{
    int64_t d = mono > c->at ? mono - c->at : 0;
    *slew = d * c->ppm / 1000000;
    return c->base + d + *slew;
}

/* A follower's measured lag, less what slowing down has taken off it. */
static void lag_shrink(int64_t *lag, int64_t by)
{
    if (*lag > 0) *lag = *lag > by ? *lag - by : 0;
}

/* Close the current segment at mono: the clock keeps its value there. */
static int64_t settle(struct keel_clock *c, int64_t mono)
{
    int64_t slew, v = value(c, mono, &slew);
    if (v < c->last) v = c->last; /* a floor, though every move is forward */
    c->slewed += slew;
    if (slew < 0) {
        lag_shrink(&c->lag, -slew);
        lag_shrink(&c->lag_prev, -slew);
    }
    c->base = v;
    c->at = mono > c->at ? mono : c->at;
    c->last = v;
    return v;
}

void keel_clock_init(struct keel_clock *c, int64_t replicated_ms, int64_t mono)
{
    memset(c, 0, sizeof *c);
    c->base = replicated_ms * 1000;
    c->at = mono;
    c->last = c->base;
    c->lag = c->lag_prev = -1;
    c->window_at = mono;
}

int64_t keel_clock_now_us(struct keel_clock *c, int64_t mono)
{
    int64_t slew, v = value(c, mono, &slew);
    if (v < c->last) v = c->last;
    c->last = v;
    return v;
}

int64_t keel_clock_now_ms(struct keel_clock *c, int64_t mono)
{
    return keel_clock_now_us(c, mono) / 1000;
}

void keel_clock_observe(struct keel_clock *c, int64_t replicated_ms, int64_t mono)
{
    int64_t r = replicated_ms * 1000, now = keel_clock_now_us(c, mono);
    if (r <= now) {
        /* Older than what we know: the replication delay, or this node
         * running ahead (keel_clock_correct looks at the least of these). */
        if (c->lag < 0 || now - r < c->lag) c->lag = now - r;
        return;
    }
    settle(c, mono);
    c->base = c->last = r;
    c->lag = 0;
}

bool keel_clock_sync(struct keel_clock *c, int64_t leader_ms, int64_t sent, int64_t mono)
{
    /* The leader read its clock between sent and mono: leader_ms is a lower
     * bound of its clock now, at most the round trip behind. */
    keel_clock_observe(c, leader_ms, mono);
    bool fresh = mono >= sent && mono - sent <= KEEL_CLOCK_SYNC_MAX_MS * 1000;
    if (fresh && !c->warm) {
        c->warm = true;
        c->lag = c->lag_prev = -1; /* lags of replayed or caught-up entries say nothing */
        c->window_at = mono;
    }
    return fresh;
}

void keel_clock_lead(struct keel_clock *c, int64_t replicated_ms, int64_t wall, int64_t mono)
{
    int64_t v = settle(c, mono);
    if (replicated_ms * 1000 > v) v = replicated_ms * 1000;
    if (!c->warm && wall > v) v = wall; /* cold start: the wall clock, forward only */
    c->base = c->last = v;
    c->ppm = 0;
    c->leading = true;
    c->warm = true;
}

void keel_clock_follow(struct keel_clock *c, int64_t mono)
{
    settle(c, mono);
    c->ppm = 0;
    c->leading = false;
    c->lag = c->lag_prev = -1;
    c->window_at = mono;
}

/* A follower: slow down (never back) while the least lag behind the entries
 * of the last one or two windows is over the slack: it runs ahead. */
static void follow_rate(struct keel_clock *c, int64_t mono)
{
    if (mono - c->window_at >= KEEL_CLOCK_WINDOW_MS * 1000LL) {
        c->lag_prev = c->lag;
        c->lag = -1;
        c->window_at = mono;
    }
    int64_t lag = c->lag;
    if (lag < 0 || (c->lag_prev >= 0 && c->lag_prev < lag)) lag = c->lag_prev;
    int64_t excess = lag - KEEL_CLOCK_FOLLOW_SLACK_MS * 1000LL;
    if (lag < 0 || excess <= 0) return;
    c->ppm = excess > KEEL_CLOCK_SLEW_PPM ? -KEEL_CLOCK_SLEW_PPM : -excess;
}

void keel_clock_correct(struct keel_clock *c, int64_t wall, int64_t mono)
{
    int64_t v = settle(c, mono);
    if (!c->warm) {
        /* A cold estimate lags by design (clock.h): no skew to speak of. */
        c->skew = 0;
        c->stepped = false;
        c->ppm = 0;
        return;
    }
    c->skew = wall - v;
    bool step = c->skew > KEEL_CLOCK_STEP_MS * 1000 || c->skew < -KEEL_CLOCK_STEP_MS * 1000;
    if (step && !c->stepped) c->steps++;
    c->stepped = step;
    c->ppm = 0;
    if (!c->leading) {
        follow_rate(c, mono);
        return;
    }
    if (step) return;
    /* Close the gap in about a second (ppm = skew in us per second), at
     * most SLEW_PPM: a slower rate is still forward, so time never goes
     * back, and the change stays far below any TTL's precision. */
    c->ppm = c->skew;
    if (c->ppm > KEEL_CLOCK_SLEW_PPM) c->ppm = KEEL_CLOCK_SLEW_PPM;
    if (c->ppm < -KEEL_CLOCK_SLEW_PPM) c->ppm = -KEEL_CLOCK_SLEW_PPM;
}

static int64_t read_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t keel_clock_mono_us(void)
{
    return read_us(CLOCK_BOOTTIME);
}

int64_t keel_clock_wall_us(void)
{
    return read_us(CLOCK_REALTIME);
}
