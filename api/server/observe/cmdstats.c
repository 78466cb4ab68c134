/* api: per-command and per-error counts, instantaneous rates. See
 * cmdstats.h. */
#include <stdio.h>
#include <string.h>

#include "api/server/observe/observe.h"
#include "api/server/server_internal.h"

static void count_error(struct obs_errors *e, const uint8_t *p, size_t n)
{
    /* Redis's rule (afterErrorReply): the word is what precedes the first
     * space within the first 32 bytes, or those bytes. */
    size_t len = 0;
    p++;
    n--;
    while (len < n && len < OBS_ERROR_WORD_MAX && p[len] != ' ' && p[len] != '\r') len++;
    char word[OBS_ERROR_WORD_MAX + 1];
    memcpy(word, p, len);
    word[len] = 0;
    e->total++;
    /* Kept in byte order, as Redis's rax lists them. */
    unsigned i = 0;
    int cmp = 1;
    while (i < e->n && (cmp = strcmp(e->w[i].word, word)) < 0) i++;
    if (i < e->n && cmp == 0) {
        e->w[i].count++;
        return;
    }
    if (e->n == OBS_ERROR_WORDS) return;
    memmove(&e->w[i + 1], &e->w[i], (e->n - i) * sizeof e->w[0]);
    memcpy(e->w[i].word, word, len + 1);
    e->w[i].count = 1;
    e->n++;
}

void obs_reset_stats(struct keel_server *srv)
{
    struct obs *o = srv->obs;
    if (o->cmdstats != NULL) memset(o->cmdstats, 0, command_count * sizeof *o->cmdstats);
    memset(&o->errors, 0, sizeof o->errors);
    srv->stats.keyspace_hits = 0;
    srv->stats.keyspace_misses = 0;
}

void obs_count_reply(struct obs *o, int row, bool executed, const uint8_t *err, size_t n, uint64_t ns)
{
    if (err != NULL && n > 1) count_error(&o->errors, err, n);
    if (row < 0 || o->cmdstats == NULL) return;
    struct obs_cmdstat *c = &o->cmdstats[row];
    if (!executed) {
        /* Queued in a MULTI (only its EXEC is counted), or refused. */
        if (err != NULL) c->rejected++;
        return;
    }
    c->calls++;
    c->ns += ns;
    if (err != NULL) c->failed++;
}

void obs_rates_sample(struct keel_server *srv, uint64_t now_ms)
{
    struct obs_rates *r = &srv->obs->rates;
    const struct keel_server_stats *st = &srv->stats;
    if (r->last_ms != 0 && now_ms > r->last_ms) {
        double s = (double)(now_ms - r->last_ms) / 1000.0;
        r->ops[r->pos] = (double)(st->commands - r->last_commands) / s;
        r->in[r->pos] = (double)(st->bytes_in - r->last_in) / s;
        r->out[r->pos] = (double)(st->bytes_out - r->last_out) / s;
        r->pos = (r->pos + 1) % OBS_RATE_SAMPLES;
    }
    r->last_ms = now_ms;
    r->last_commands = st->commands;
    r->last_in = st->bytes_in;
    r->last_out = st->bytes_out;
}

void obs_rates_get(const struct obs *o, double *ops, double *in_kbps, double *out_kbps)
{
    double a = 0, b = 0, c = 0;
    for (unsigned i = 0; i < OBS_RATE_SAMPLES; i++) {
        a += o->rates.ops[i];
        b += o->rates.in[i];
        c += o->rates.out[i];
    }
    *ops = a / OBS_RATE_SAMPLES;
    *in_kbps = b / OBS_RATE_SAMPLES / 1024;
    *out_kbps = c / OBS_RATE_SAMPLES / 1024;
}

void obs_info_commandstats(const struct obs *o, struct buf *b)
{
    for (unsigned i = 0; i < command_count && o->cmdstats != NULL; i++) {
        const struct obs_cmdstat *c = &o->cmdstats[i];
        if (c->calls == 0 && c->rejected == 0 && c->failed == 0) continue;
        unsigned long long usec = c->ns / 1000;
        buf_printf(b, "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,failed_calls=%llu\r\n",
                   command_table[i].name, (unsigned long long)c->calls, usec,
                   c->calls ? (double)usec / (double)c->calls : 0.0, (unsigned long long)c->rejected,
                   (unsigned long long)c->failed);
    }
}

void obs_info_errorstats(const struct obs *o, struct buf *b)
{
    for (unsigned i = 0; i < o->errors.n; i++)
        buf_printf(b, "errorstat_%s:count=%llu\r\n", o->errors.w[i].word, (unsigned long long)o->errors.w[i].count);
}

/* The upper bound, in us, of the bucket holding the q-quantile of h. */
static double percentile_us(const struct keel_hist *h, double q)
{
    uint64_t want = (uint64_t)((double)h->count * q + 0.999999), seen = 0;
    for (unsigned i = 0; i < KEEL_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= want) return (double)keel_hist_bounds_ns[i] / 1000.0;
    }
    return 2.0 * (double)keel_hist_bounds_ns[KEEL_HIST_BUCKETS - 1] / 1000.0;
}

void obs_info_latencystats(const struct obs *o, struct buf *b)
{
    for (unsigned i = 0; i < command_count; i++) {
        const struct keel_hist *h = &o->cmd_latency[i];
        if (h->count == 0) continue;
        buf_printf(b, "latency_percentiles_usec_%s:p50=%.3f,p99=%.3f,p99.9=%.3f\r\n", command_table[i].name,
                   percentile_us(h, 0.5), percentile_us(h, 0.99), percentile_us(h, 0.999));
    }
}
