/* keelctl check perf: is this cluster fit for production load?
 *
 * Like etcdctl check perf: a short paced write load (SET of 256-byte values
 * under "keelctl-perf:", deleted afterwards) from many clients, then a
 * verdict. Three figures, measured separately so a failure says why:
 *   - round trip: PING to the leader (the network and the event loop);
 *   - commit: one client's sequential writes (round trip + fsync on a
 *     majority + apply: the floor of any write's latency);
 *   - load: `clients` threads, each its own libkeel client, paced to the
 *     target rate for `duration`: throughput and latency percentiles.
 * Pass: throughput >= 90% of the target, p99 under load <= 500 ms, commit p99
 * <= 100 ms, and no failed writes. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/keelctl/keelctl.h"

struct loader
{
    struct kctl *k;
    pthread_t thread;
    unsigned idx;
    double rate;          /* writes per second for this thread */
    long long until_ns;
    double *lat_ms;       /* one per write done */
    size_t n, cap;
    unsigned errors;
    char err[KEEL_ERRMSG_SIZE];
};

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *sorted, size_t n, double p)
{
    if (n == 0) return 0;
    size_t i = (size_t)ceil(p / 100.0 * (double)n);
    return sorted[i == 0 ? 0 : i - 1];
}

static bool record(struct loader *l, double ms)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        double *p = realloc(l->lat_ms, cap * sizeof *p);
        if (p == NULL) return false;
        l->lat_ms = p;
        l->cap = cap;
    }
    l->lat_ms[l->n++] = ms;
    return true;
}

static void *load_main(void *arg)
{
    struct loader *l = arg;
    struct keel_client_options o = l->k->conn;
    o.endpoints = l->k->endpoints, o.timeout_ms = l->k->timeout_ms;
    struct keel_client *c;
    char value[257], key[64];
    memset(value, 'v', 256);
    value[256] = 0;
    if (keel_client_open(&o, &c, l->err, sizeof l->err) != 0) {
        l->errors++;
        return NULL;
    }
    long long next = now_ns(), step = (long long)(1e9 / l->rate);
    for (unsigned i = 0; now_ns() < l->until_ns; i++) {
        long long wait = next - now_ns();
        if (wait > 0) {
            struct timespec ts = {(time_t)(wait / 1000000000LL), (long)(wait % 1000000000LL)};
            nanosleep(&ts, NULL); /* pacing to the target rate */
        }
        next += step;
        snprintf(key, sizeof key, "keelctl-perf:%u:%u", l->idx, i % 1024);
        struct keel_value *v = NULL;
        long long t0 = now_ns();
        int rc = keel_callv(c, &v, l->err, sizeof l->err, "SET", key, value, NULL);
        double ms = (double)(now_ns() - t0) / 1e6;
        if (rc != 0 || v->type == KEEL_VALUE_ERROR) {
            if (rc == 0) snprintf(l->err, sizeof l->err, "%s", v->str);
            l->errors++;
        } else if (!record(l, ms)) {
            l->errors++;
        }
        keel_value_free(v);
    }
    keel_client_close(c);
    return NULL;
}

/* n sequential calls of argv; latencies into out (sorted). 0 or exit code. */
static int sequential(struct kctl *k, const char *const *argv, int argc, double *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct keel_value *v;
        size_t lens[3];
        for (int a = 0; a < argc; a++) lens[a] = strlen(argv[a]);
        long long t0 = now_ns();
        int rc = keel_call(k->c, argc, argv, lens, &v, k->err, sizeof k->err);
        out[i] = (double)(now_ns() - t0) / 1e6;
        if (rc != 0) return kctl_fail(k, rc, "check perf");
        keel_value_free(v);
    }
    qsort(out, n, sizeof *out, cmp_double);
    return 0;
}

/* Remove what the load wrote: SCAN the prefix, DEL in batches. */
static void cleanup(struct kctl *k)
{
    char cursor[32] = "0";
    do {
        const char *av[] = {"SCAN", cursor, "MATCH", "keelctl-perf:*", "COUNT", "1000"};
        struct keel_value *v;
        if (kctl_call(k, 6, av, &v) != CLI_OK) return;
        snprintf(cursor, sizeof cursor, "%s", v->elements[0]->str);
        const struct keel_value *keys = v->elements[1];
        for (size_t i = 0; i < keys->n; i += 100) {
            const char *del[101] = {"DEL"};
            int n = 1;
            for (size_t j = i; j < keys->n && j < i + 100; j++) del[n++] = keys->elements[j]->str;
            struct keel_value *d;
            if (kctl_call(k, n, del, &d) == CLI_OK) keel_value_free(d);
        }
        keel_value_free(v);
    } while (strcmp(cursor, "0") != 0);
}

int kctl_check(struct kctl *k, int argc, char **argv)
{
    double rate = 1000, seconds = 10;
    unsigned clients = 32;
    if (argc < 2 || strcmp(argv[1], "perf") != 0) return CLI_USAGE;
    for (int i = 2; i < argc; i++) {
        if (i + 1 >= argc) return CLI_USAGE;
        if (!strcmp(argv[i], "--rate")) rate = atof(argv[++i]);
        else if (!strcmp(argv[i], "--clients")) clients = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--duration")) seconds = atof(argv[++i]);
        else return CLI_USAGE;
    }
    if (rate <= 0 || seconds <= 0 || clients == 0 || clients > 1024) return CLI_USAGE;
    if (kctl_client(k) == NULL) return CLI_UNAVAILABLE;
    double rtt[200], commit[200];
    const char *ping[] = {"PING"}, *set[] = {"SET", "keelctl-perf:commit", "x"};
    int rc = sequential(k, ping, 1, rtt, 200);
    if (rc == 0) rc = sequential(k, set, 3, commit, 200);
    if (rc != 0) return rc;

    struct loader *ls = calloc(clients, sizeof *ls);
    if (ls == NULL) return CLI_FAILED;
    long long start = now_ns();
    for (unsigned i = 0; i < clients; i++) {
        ls[i] = (struct loader){.k = k, .idx = i, .rate = rate / clients,
                                .until_ns = start + (long long)(seconds * 1e9)};
        pthread_create(&ls[i].thread, NULL, load_main, &ls[i]);
    }
    size_t total = 0;
    unsigned errors = 0;
    const char *last_err = "";
    for (unsigned i = 0; i < clients; i++) {
        pthread_join(ls[i].thread, NULL);
        total += ls[i].n;
        errors += ls[i].errors;
        if (ls[i].errors) last_err = ls[i].err;
    }
    double elapsed = (double)(now_ns() - start) / 1e9;
    double *all = malloc((total ? total : 1) * sizeof *all);
    size_t at = 0;
    for (unsigned i = 0; i < clients && all; i++) {
        memcpy(all + at, ls[i].lat_ms, ls[i].n * sizeof *all);
        at += ls[i].n;
    }
    if (all) qsort(all, total, sizeof *all, cmp_double);
    double tput = (double)total / elapsed;
    double p50 = all ? pct(all, total, 50) : 0, p99 = all ? pct(all, total, 99) : 0;
    double max = total && all ? all[total - 1] : 0;
    bool ok_tput = tput >= 0.9 * rate, ok_p99 = p99 <= 500, ok_commit = pct(commit, 200, 99) <= 100;
    bool pass = ok_tput && ok_p99 && ok_commit && errors == 0;
    if (k->json) {
        cli_print_json(json_pack(
            "{s:b, s:{s:f, s:f}, s:{s:f, s:f}, s:{s:f, s:i, s:f, s:f, s:f, s:f, s:f, s:I, s:i, s:s}}", "pass", pass,
            "round_trip_ms", "p50", pct(rtt, 200, 50), "p99", pct(rtt, 200, 99), "commit_ms", "p50",
            pct(commit, 200, 50), "p99", pct(commit, 200, 99), "load", "target_per_s", rate, "clients",
            (int)clients, "seconds", elapsed, "writes_per_s", tput, "p50_ms", p50, "p99_ms", p99, "max_ms",
            max, "writes", (json_int_t)total, "errors", (int)errors, "last_error", last_err));
    } else {
        printf("round trip (PING, 1 client):   p50 %6.2f ms  p99 %6.2f ms\n", pct(rtt, 200, 50), pct(rtt, 200, 99));
        printf("commit (SET, 1 client):        p50 %6.2f ms  p99 %6.2f ms  %s\n", pct(commit, 200, 50),
               pct(commit, 200, 99), ok_commit ? "ok" : "FAIL: over 100 ms (slow disk or network?)");
        printf("load (%u clients, %.0f s, target %.0f/s): %.0f writes/s  %s\n", clients, elapsed, rate, tput,
               ok_tput ? "ok" : "FAIL: under 90% of the target");
        printf("load latency:                  p50 %6.2f ms  p99 %6.2f ms  max %.2f ms  %s\n", p50, p99, max,
               ok_p99 ? "ok" : "FAIL: p99 over 500 ms");
        if (errors) printf("errors: %u writes failed (last: %s)\n", errors, last_err);
        printf("%s\n", pass ? "PASS: the cluster can take this load" : "FAIL: see above");
    }
    for (unsigned i = 0; i < clients; i++) free(ls[i].lat_ms);
    free(ls);
    free(all);
    cleanup(k);
    return pass ? CLI_OK : CLI_FAILED;
}
