/* api: Redis's per-command and per-error counts (INFO commandstats,
 * errorstats, latencystats; total_error_replies in stats) and the
 * instantaneous rates of INFO stats (instantaneous_ops_per_sec, _kbps),
 * kept on the loop from each finished request and the observability timer.
 * Node-local, since start. */
#ifndef KEEL_API_CMDSTATS_H
#define KEEL_API_CMDSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct obs;
struct keel_server;

/* One command table row's counts, as Redis's struct redisCommand keeps
 * them: calls (ran), their time, rejected (refused before running: arity,
 * ACL, keys, subscribed mode) and failed (ran, answered an error). */
struct obs_cmdstat
{
    uint64_t calls;
    uint64_t ns;
    uint64_t rejected;
    uint64_t failed;
};

/* Error replies by their first word ("ERR", "WRONGTYPE"), at most
 * OBS_ERROR_WORDS of them, as Redis tracks at most 128: later new words
 * are counted in total only. */
#define OBS_ERROR_WORDS 128
#define OBS_ERROR_WORD_MAX 32
struct obs_errors
{
    uint64_t total;
    unsigned n;
    struct
    {
        char word[OBS_ERROR_WORD_MAX + 1];
        uint64_t count;
    } w[OBS_ERROR_WORDS];
};

/* Samples of the counters, one per timer tick, over a window of
 * OBS_RATE_SAMPLES ticks (Redis keeps 16 of 100 ms). */
#define OBS_RATE_SAMPLES 8
struct obs_rates
{
    uint64_t last_ms;
    uint64_t last_commands, last_in, last_out;
    double ops[OBS_RATE_SAMPLES], in[OBS_RATE_SAMPLES], out[OBS_RATE_SAMPLES]; /* per second */
    unsigned pos;
};

/* A request finished: row is its command_table index (-1: none, e.g. an
 * unknown command), executed says whether it ran, err is its reply when
 * that is an error ("-WORD ...", n bytes), else NULL. */
void obs_count_reply(struct obs *o, int row, bool executed, const uint8_t *err, size_t n, uint64_t ns);
/* CONFIG RESETSTAT: zero what only INFO shows (commandstats, errorstats,
 * total_error_replies, keyspace_hits/misses). The counters /metrics also
 * exports stay: Prometheus counters must not go back. */
void obs_reset_stats(struct keel_server *srv);
/* Take a sample of srv's counters (the observability timer). */
void obs_rates_sample(struct keel_server *srv, uint64_t now_ms);
/* The mean of the window's samples, per second (kbps: KiB per second). */
void obs_rates_get(const struct obs *o, double *ops, double *in_kbps, double *out_kbps);

/* INFO sections, Redis's lines: "cmdstat_<name>:calls=..,usec=..,
 * usec_per_call=..,rejected_calls=..,failed_calls=.." for every command
 * used; "errorstat_<WORD>:count=N"; "latency_percentiles_usec_<name>:
 * p50=..,p99=..,p99.9=.." (each the upper bound of the latency bucket that
 * holds that percentile: Keel's histograms are bucketed). */
void obs_info_commandstats(const struct obs *o, struct buf *b);
void obs_info_errorstats(const struct obs *o, struct buf *b);
void obs_info_latencystats(const struct obs *o, struct buf *b);

#endif /* KEEL_API_CMDSTATS_H */
