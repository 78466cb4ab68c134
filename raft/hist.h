/* raft: a fixed-bucket latency histogram, cheap enough for every apply,
 * every log append and every command (one compare loop, no allocation).
 *
 * Bucket bounds are fixed so that every node's histograms can be summed by
 * Prometheus (histogram_quantile needs identical `le` labels). counts[] is
 * per bucket (not cumulative); counts[KEEL_HIST_BUCKETS] is the +Inf one.
 * Not thread-safe: each histogram is written on the loop thread only. */
#ifndef KEEL_RAFT_HIST_H
#define KEEL_RAFT_HIST_H

#include <stdint.h>

#define KEEL_HIST_BUCKETS 15

/* Upper bounds in nanoseconds: 100 us to 5 s. */
static const uint64_t keel_hist_bounds_ns[KEEL_HIST_BUCKETS] = {
    100000,    250000,    500000,    1000000,    2500000,    5000000,    10000000,   25000000,
    50000000,  100000000, 250000000, 500000000, 1000000000, 2500000000, 5000000000,
};

struct keel_hist
{
    uint64_t counts[KEEL_HIST_BUCKETS + 1];
    uint64_t count;
    uint64_t sum_ns;
};

static inline void keel_hist_observe(struct keel_hist *h, uint64_t ns)
{
    unsigned i = 0;
    while (i < KEEL_HIST_BUCKETS && ns > keel_hist_bounds_ns[i]) i++;
    h->counts[i]++;
    h->count++;
    h->sum_ns += ns;
}

#endif /* KEEL_RAFT_HIST_H */
