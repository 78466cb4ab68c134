/* tests/integration: rank queries on a sorted set large enough for the rank
 * index's upper levels (storage/zrank.c), on a real three-node cluster, on
 * the leader and on a follower: ZRANK, ZREVRANK (WITHSCORE), ZCOUNT, ZRANGE
 * and ZREVRANGE by index, LIMIT offsets by score both ways, and
 * ZREMRANGEBYRANK, then the same after the set changed. The replies follow
 * from the layout: member i is "m%05d" of score i % 100, so the set's order
 * is (score, i) and member i's rank is (i % 100) * 30 + i / 100. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc.h"

#define N 3000
#define PER (N / 100) /* members of each score */

static struct kc cluster;
static int leader;

static int setup(void **state)
{
    (void)state;
    leader = kc_start_leader(&cluster, 3, "");
    return leader < 0;
}

static int teardown(void **state)
{
    (void)state;
    kc_stop(&cluster);
    return 0;
}

static unsigned node_at(unsigned k)
{
    return k == 0 ? (unsigned)leader : ((unsigned)leader + 1) % 3;
}

#define C(want, ...)                                  \
    do {                                              \
        char cmd_[1024], want_[256];                  \
        snprintf(cmd_, sizeof cmd_, __VA_ARGS__);     \
        snprintf(want_, sizeof want_, "%s", want);    \
        kc_expect(&cluster, i, true, cmd_, want_);    \
    } while (0)

/* The member at rank r of the full set. */
static int at_rank(int r)
{
    return (r % PER) * 100 + r / PER;
}

static void fill(unsigned i, const char *k)
{
    char cmd[1024];
    for (int b = 0; b < N; b += 40) {
        size_t n = (size_t)snprintf(cmd, sizeof cmd, "ZADD %s", k);
        for (int j = b; j < b + 40; j++) n += (size_t)snprintf(cmd + n, sizeof cmd - n, " %d m%05d", j % 100, j);
        kc_expect(&cluster, i, true, cmd, ":40");
    }
}

static void rank_on(unsigned i, const char *k)
{
    char want[256];
    fill(i, k);
    C(":3000", "ZCARD %s", k);
    static const int probe[] = {0, 1, 99, 100, 1234, 1500, 2047, 2998, 2999};
    for (size_t p = 0; p < sizeof probe / sizeof probe[0]; p++) {
        int m = probe[p], r = (m % 100) * PER + m / 100;
        snprintf(want, sizeof want, ":%d", r);
        C(want, "ZRANK %s m%05d", k, m);
        snprintf(want, sizeof want, ":%d", N - 1 - r);
        C(want, "ZREVRANK %s m%05d", k, m);
        snprintf(want, sizeof want, "[:%d,\"%d\"]", r, m % 100);
        C(want, "ZRANK %s m%05d WITHSCORE", k, m);
        snprintf(want, sizeof want, "[\"m%05d\"]", at_rank(r));
        C(want, "ZRANGE %s %d %d", k, r, r);
    }
    C("(nil)", "ZRANK %s nosuch", k);
    C(":3000", "ZCOUNT %s -inf +inf", k);
    C(":300", "ZCOUNT %s 10 (20", k);
    C(":300", "ZCOUNT %s (10 20", k);
    C(":330", "ZCOUNT %s 10 20", k);
    C(":0", "ZCOUNT %s (99 +inf", k);
    C(":30", "ZCOUNT %s 99 99", k);
    C(":0", "ZCOUNT %s 5 4", k);
    snprintf(want, sizeof want, "[\"m%05d\",\"m%05d\",\"m%05d\"]", at_rank(1500), at_rank(1501), at_rank(1502));
    C(want, "ZRANGE %s 1500 1502", k);
    snprintf(want, sizeof want, "[\"m%05d\",\"m%05d\"]", at_rank(2999), at_rank(2998));
    C(want, "ZREVRANGE %s 0 1", k);
    snprintf(want, sizeof want, "[\"m%05d\",\"m%05d\"]", at_rank(1001), at_rank(1000));
    C(want, "ZREVRANGE %s 1998 1999", k);
    /* Score > 10 starts at rank 330: LIMIT 100 2 gives ranks 430, 431. */
    snprintf(want, sizeof want, "[\"m%05d\",\"m%05d\"]", at_rank(430), at_rank(431));
    C(want, "ZRANGEBYSCORE %s (10 +inf LIMIT 100 2", k);
    C(want, "ZRANGE %s (10 +inf BYSCORE LIMIT 100 2", k);
    /* Score <= 20: ranks 0..629; the sixth from the top is 624. */
    snprintf(want, sizeof want, "[\"m%05d\"]", at_rank(624));
    C(want, "ZREVRANGEBYSCORE %s 20 -inf LIMIT 5 1", k);
    snprintf(want, sizeof want, "[\"m%05d\"]", at_rank(629 - 30));
    C(want, "ZREVRANGEBYSCORE %s (20 -inf LIMIT 0 1", k);
    C("[]", "ZRANGEBYSCORE %s 10 10 LIMIT 30 1", k);
    C("[]", "ZREVRANGEBYSCORE %s +inf -inf LIMIT 3000 1", k);
    /* The lowest score's 30 go; everything moves down 30 ranks. */
    C(":30", "ZREMRANGEBYRANK %s 0 29", k);
    C(":2970", "ZCARD %s", k);
    C(":0", "ZRANK %s m00001", k);
    C("(nil)", "ZRANK %s m00000", k);
    snprintf(want, sizeof want, ":%d", 1500 - 30);
    C(want, "ZRANK %s m%05d", k, at_rank(1500));
    C(":2969", "ZRANK %s m02999", k);
    C(":0", "ZREVRANK %s m02999", k);
    /* A score change moves one member to the end. */
    C(":0", "ZADD %s 1000 m00050", k);
    C(":2969", "ZRANK %s m00050", k);
    C(":2968", "ZRANK %s m02999", k);
    C(":2970", "ZCOUNT %s -inf +inf", k);
    C(":1", "ZCOUNT %s 1000 1000", k);
    C(":30", "ZREMRANGEBYRANK %s -30 -1", k);
    C("(nil)", "ZRANK %s m00050", k);
    C(":2938", "ZRANK %s m02998", k); /* score 0 gone, m00050 moved above */
    C(":1", "DEL %s", k);
    C(":0", "ZCOUNT %s -inf +inf", k);
}

static void test_rank(void **state)
{
    (void)state;
    for (unsigned n = 0; n < 2; n++) {
        char k[16];
        snprintf(k, sizeof k, "rank%u", n);
        rank_on(node_at(n), k);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rank),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
