/* bench: ZRANK on a large sorted set, the rank index (storage/zrank.c)
 * against the walk from the lowest score that ZRANK did before it, which
 * is kept here only as the baseline. Not run by CI.
 *
 *   zrank_bench [--count N] [--queries Q]     (defaults 100000, 2000)
 *
 * The set lives at the storage level (the score index and its rank index,
 * as apply writes them); each query looks up one member at a random rank. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "storage/env.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void check(int rc, const char *what, struct keel_storage *s)
{
    if (rc == 0) return;
    fprintf(stderr, "zrank_bench: %s: %d %s\n", what, rc, s != NULL ? s->errmsg : "");
    exit(1);
}

/* The baseline: count entries from the lowest score up to the member. */
struct walk
{
    char m[16];
    uint64_t n;
};

static int walk_cb(void *arg, double score, struct keel_slice m)
{
    struct walk *w = arg;
    (void)score;
    if (m.n == 8 && memcmp(m.p, w->m, 8) == 0) return 1;
    w->n++;
    return 0;
}

int main(int argc, char **argv)
{
    long count = 100000, queries = 2000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--count") == 0) count = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--queries") == 0) queries = atol(argv[i + 1]);
    }
    char dir[] = "/tmp/zrank_bench.XXXXXX", errmsg[KEEL_ERRMSG_SIZE], buf[16];
    if (mkdtemp(dir) == NULL) return 1;
    struct keel_storage_options o = {.dir = dir, .map_size = 2ull << 30};
    struct keel_storage *s;
    struct keel_txn txn;
    if (keel_storage_open(&o, &s, NULL, errmsg) != 0) {
        fprintf(stderr, "zrank_bench: open: %s\n", errmsg);
        return 1;
    }
    double t0 = now_s();
    check(storage_txn_begin(s, true, &txn), "begin", s);
    for (long i = 0; i < count; i++) {
        snprintf(buf, sizeof buf, "%08ld", i);
        check(storage_zindex_put(&txn, 1, (double)(i % 1000), (struct keel_slice){(const uint8_t *)buf, 8}), "put", s);
    }
    check(storage_txn_commit(&txn), "commit", s);
    double t1 = now_s();
    printf("insert %ld members: %.2f s (%.1f us each, rank index included)\n", count, t1 - t0,
           (t1 - t0) * 1e6 / (double)count);
    check(storage_txn_begin(s, false, &txn), "begin", s);
    srand(1);
    uint64_t sum_new = 0, sum_old = 0;
    double tn = 0, to = 0;
    for (long q = 0; q < queries; q++) {
        long i = rand() % count;
        uint64_t r;
        struct walk w = {{0}, 0};
        snprintf(w.m, sizeof w.m, "%08ld", i);
        double a = now_s();
        check(storage_zindex_rank(&txn, 1, (double)(i % 1000), (struct keel_slice){(const uint8_t *)w.m, 8}, &r), "rank", s);
        double b = now_s();
        int rc = storage_zindex_walk(&txn, 1, -INFINITY, false, walk_cb, &w);
        double c = now_s();
        if (rc != 1 || w.n != r) {
            fprintf(stderr, "zrank_bench: member %ld: rank %llu, walk %llu\n", i, (unsigned long long)r,
                    (unsigned long long)w.n);
            return 1;
        }
        tn += b - a;
        to += c - b;
        sum_new += r;
        sum_old += w.n;
    }
    storage_txn_abort(&txn);
    printf("ZRANK over %ld members, %ld queries at random ranks (mean rank %.0f):\n", count, queries,
           (double)sum_new / (double)queries);
    printf("  rank index: %8.2f us per query\n", tn * 1e6 / (double)queries);
    printf("  walk (old): %8.2f us per query\n", to * 1e6 / (double)queries);
    keel_storage_close(s, true);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
