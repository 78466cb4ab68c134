/* bench: leader-crash recovery time of a real three-node keeld cluster.
 *
 *   failover_bench [ROUNDS] [KEELD FLAGS...]
 *
 * Each round: writers load the cluster through every node, the leader is
 * SIGKILLed, and the survivors are probed every few milliseconds. Two times
 * are reported from the kill: a node says `master` to ROLE (new leader) and
 * a write is acknowledged by it (RTO). The killed node is then restarted and
 * the next round waits for a settled cluster. The summary gives median, p90
 * and worst. Timing lives here, not in tests (tests assert behaviour only).
 *
 * Uses the integration tests' process harness (tests/integration/kc.c) with
 * KEELD pointing at the binary to measure.
 *
 * KEEL_BENCH_SECURE=1: the cluster runs with TLS on the raft port
 * (--tls-cluster yes) and a TLS client port, certificates from
 * $KEEL_MAKE_CERTS (examples/tls/make-certs.sh); the writers and probes
 * connect over TLS as ACL user bench (~load:* ~probe:* +set +role),
 * through libkeel's keel_connect_fd. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "integration/kc.h"
#include "keel/client.h"

#define WRITERS 4
#define MAX_ROUNDS 1000

static struct kc cl;
static volatile bool stopping;
static bool secure;
static unsigned tls_port[KC_MAX];
static char tls_dir[600], tls_ca[700], tls_crt[700], tls_key[700];
#define BENCH_PW "bench-pw"

/* A connection to node i (replies bounded by ms): plaintext, or TLS as bench. */
static redisContext *dial(unsigned i, unsigned ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    redisContext *ctx;
    if (!secure) {
        ctx = redisConnectWithTimeout("127.0.0.1", (int)cl.nodes[i].client_port, tv);
    } else {
        char addr[64], err[KEEL_ERRMSG_SIZE];
        int fd = -1;
        snprintf(addr, sizeof addr, "127.0.0.1:%u", tls_port[i]);
        struct keel_client_options o = {.tls = true, .tls_ca_file = tls_ca, .tls_cert_file = tls_crt,
                                        .tls_key_file = tls_key, .user = "bench", .password = BENCH_PW};
        if (keel_connect_fd(addr, &o, ms, &fd, err, sizeof err) != 0) return NULL;
        if ((ctx = redisConnectFd(fd)) == NULL) close(fd);
    }
    if (ctx == NULL || ctx->err) {
        if (ctx) redisFree(ctx);
        return NULL;
    }
    redisSetTimeout(ctx, tv);
    return ctx;
}

/* KEEL_BENCH_SECURE=1: certificates, TLS options per node (before start). */
static void secure_prepare(char *flags, size_t size)
{
    kc_prepare(&cl, 3, flags);
    snprintf(tls_dir, sizeof tls_dir, "%s/tls", cl.base);
    snprintf(tls_ca, sizeof tls_ca, "%s/ca.crt", tls_dir);
    snprintf(tls_crt, sizeof tls_crt, "%s/client-bench.crt", tls_dir);
    snprintf(tls_key, sizeof tls_key, "%s/client-bench.key", tls_dir);
    char cmd[1400];
    const char *mk = getenv("KEEL_MAKE_CERTS");
    snprintf(cmd, sizeof cmd, "'%s' '%s' 1 2 3 client:bench >/dev/null", mk ? mk : "examples/tls/make-certs.sh",
             tls_dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "%s failed (set KEEL_MAKE_CERTS)\n", cmd);
        exit(1);
    }
    snprintf(cl.extra + strlen(cl.extra), sizeof cl.extra - strlen(cl.extra),
             " --tls-cluster yes --tls-ca-cert-file %s", tls_ca);
    for (unsigned i = 0; i < 3; i++) {
        tls_port[i] = kc_free_port();
        snprintf(cl.nodes[i].extra, sizeof cl.nodes[i].extra,
                 "--tls-port %u --tls-cert-file %s/member-%u.crt --tls-key-file %s/member-%u.key", tls_port[i],
                 tls_dir, i + 1, tls_dir, i + 1);
    }
    (void)size;
}

static void *writer_main(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg, node = id, seq = 0;
    redisContext *ctx = NULL;
    while (!stopping) {
        if (ctx == NULL || ctx->err) {
            if (ctx) redisFree(ctx);
            node = (node + 1) % cl.n;
            ctx = cl.nodes[node].pid > 0 ? dial(node, 5000) : NULL;
            if (ctx == NULL) {
                kc_pause_ms(20);
                continue;
            }
        }
        redisReply *r = redisCommand(ctx, "SET load:%u:%u v", id, seq++);
        if (r == NULL) {
            redisFree(ctx);
            ctx = NULL;
        } else {
            if (r->type == REDIS_REPLY_ERROR) kc_pause_ms(10);
            freeReplyObject(r);
        }
    }
    if (ctx) redisFree(ctx);
    return NULL;
}

/* One probe of node i: 1 if it says master and acknowledged a write, 0 if
 * it says master but the write failed, -1 otherwise. */
static int probe(unsigned i, unsigned round)
{
    redisContext *ctx = dial(i, 200);
    int result = -1;
    if (ctx == NULL) goto out;
    redisReply *r = redisCommand(ctx, "ROLE");
    bool master = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
                  r->element[0]->type == REDIS_REPLY_STRING &&
                  strcmp(r->element[0]->str, "master") == 0;
    if (r) freeReplyObject(r);
    if (!master) goto out;
    result = 0;
    r = redisCommand(ctx, "SET probe:%u ok", round);
    if (r != NULL && r->type == REDIS_REPLY_STATUS) result = 1;
    if (r) freeReplyObject(r);
out:
    if (ctx) redisFree(ctx);
    return result;
}

static int cmp(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static void summary(const char *what, long long *v, unsigned n)
{
    qsort(v, n, sizeof *v, cmp);
    printf("%-12s median %5lld ms   p90 %5lld ms   worst %5lld ms   best %5lld ms\n", what,
           v[n / 2], v[(n * 9) / 10 < n ? (n * 9) / 10 : n - 1], v[n - 1], v[0]);
}

int main(int argc, char **argv)
{
    unsigned rounds = argc > 1 ? (unsigned)atoi(argv[1]) : 20;
    char flags[400] = "--log-level warn";
    long long elected[MAX_ROUNDS], rto[MAX_ROUNDS];
    pthread_t th[WRITERS];
    if (rounds == 0 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "usage: %s [ROUNDS 1-%d] [KEELD FLAGS...]\n", argv[0], MAX_ROUNDS);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        strncat(flags, " ", sizeof flags - strlen(flags) - 1);
        strncat(flags, argv[i], sizeof flags - strlen(flags) - 1);
    }
    const char *sec = getenv("KEEL_BENCH_SECURE");
    secure = sec && strcmp(sec, "1") == 0;
    printf("keeld %s; flags: %s; %u rounds%s\n", kc_keeld(), flags, rounds,
           secure ? "; TLS on raft and client ports, clients as ACL user bench" : "");
    if (secure) {
        secure_prepare(flags, sizeof flags);
        for (unsigned i = 0; i < 3; i++) kc_start_node(&cl, i);
        int leader = kc_leader(&cl, 20000);
        redisReply *r = leader < 0 ? NULL
                                   : kc_cmd(&cl, (unsigned)leader,
                                            "ACL SETUSER bench on >" BENCH_PW " ~load:* ~probe:* +set +role");
        if (r == NULL || r->type != REDIS_REPLY_STATUS) {
            fprintf(stderr, "could not create user bench\n");
            kc_stop(&cl);
            return 1;
        }
        freeReplyObject(r);
    } else {
        kc_start(&cl, 3, flags);
    }
    for (unsigned i = 0; i < WRITERS; i++)
        pthread_create(&th[i], NULL, writer_main, (void *)(uintptr_t)i);
    for (unsigned round = 0; round < rounds; round++) {
        int leader = kc_leader(&cl, 20000);
        if (leader < 0) {
            fprintf(stderr, "round %u: no settled leader within 20 s\n", round);
            break;
        }
        kc_pause_ms(1000); /* load before the crash, so followers' logs differ */
        long long kill_ms = kc_now_ms();
        kc_signal(&cl, (unsigned)leader, SIGKILL);
        elected[round] = rto[round] = 0;
        while (rto[round] == 0 && kc_now_ms() - kill_ms < 30000) {
            for (unsigned i = 0; i < cl.n && rto[round] == 0; i++) {
                if (cl.nodes[i].pid <= 0) continue;
                int p = probe(i, round);
                long long now = kc_now_ms() - kill_ms;
                if (p >= 0 && elected[round] == 0) elected[round] = now;
                if (p == 1) rto[round] = now;
            }
            kc_pause_ms(5);
        }
        printf("round %2u: killed node %u; new leader after %5lld ms, first write after %5lld ms\n",
               round + 1, cl.nodes[leader].id, elected[round], rto[round]);
        fflush(stdout);
        if (rto[round] == 0) rto[round] = elected[round] = 30000;
        kc_start_node(&cl, (unsigned)leader);
    }
    stopping = true;
    for (unsigned i = 0; i < WRITERS; i++) pthread_join(th[i], NULL);
    kc_stop(&cl);
    summary("new leader", elected, rounds);
    summary("RTO (write)", rto, rounds);
    return 0;
}
