/* keel-relay: the jepsen suite's delaying relay (relay.h) as a standalone
 * process, for simulated zones on one machine (examples/local-cluster.sh
 * --zones): one route per destination, all listening on 127.0.0.1.
 *
 *   keel-relay --delay MS [--jitter MS] DST_IP:PORT...
 *
 * Prints "DST_IP:PORT LISTEN_PORT" per route on stdout (then flushes), and
 * relays until SIGTERM or SIGINT; then prints each route's connection and
 * byte counts on stderr and exits 0. Traffic through a route waits MS (plus
 * up to --jitter) in each direction. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jepsen/net/relay.h"

#define MAX_ROUTES 64

int main(int argc, char **argv)
{
    unsigned delay = 0, jitter = 0;
    const char *dst[MAX_ROUTES];
    uint16_t port[MAX_ROUTES];
    int n = 0;
    char err[256];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--delay") && i + 1 < argc) delay = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--jitter") && i + 1 < argc) jitter = (unsigned)atoi(argv[++i]);
        else if (argv[i][0] != '-' && n < MAX_ROUTES) dst[n++] = argv[i];
        else {
            fprintf(stderr, "usage: keel-relay --delay MS [--jitter MS] DST_IP:PORT...\n");
            return 2;
        }
    }
    if (n == 0) {
        fprintf(stderr, "keel-relay: no destination\n");
        return 2;
    }
    /* Signals are taken with sigwait, not a handler: the relay thread must
     * never see them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct jrelay *r;
    if (jrelay_start(&r, err, sizeof err) != 0) {
        fprintf(stderr, "keel-relay: %s\n", err);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        char ip[64];
        unsigned p;
        if (sscanf(dst[i], "%63[^:]:%u", ip, &p) != 2 || p == 0 || p > 65535 ||
            jrelay_add(r, "127.0.0.1", ip, (uint16_t)p, delay, jitter, &port[i], err, sizeof err) != 0) {
            fprintf(stderr, "keel-relay: %s: %s\n", dst[i], err[0] ? err : "want IPv4:PORT");
            jrelay_stop(r);
            return 1;
        }
        printf("%s %u\n", dst[i], port[i]);
    }
    fflush(stdout);
    int sig;
    sigwait(&stop, &sig);
    for (int i = 0; i < n; i++) {
        uint64_t conns = 0, bytes = 0;
        jrelay_stats(r, port[i], &conns, &bytes);
        fprintf(stderr, "keel-relay: %s via %u: %llu connections, %llu bytes\n", dst[i], port[i],
                (unsigned long long)conns, (unsigned long long)bytes);
    }
    jrelay_stop(r);
    return 0;
}
