/* jepsen: what the relay's two files share: relay.c (the API: start, stop
 * and the routes, called from any thread) and relay_loop.c (the relay
 * thread: the poll loop that accepts, delays and forwards).
 *
 * Contract: r->mu guards everything in struct jrelay and every route, except
 * inside poll() (where the loop holds no lock and only reads its own poll
 * set). The API threads add routes, change their delay and mark them dead;
 * only the loop thread closes sockets or frees routes and connections (its
 * sweep), which keeps the poll set valid while unlocked. Each pass of the
 * loop bumps r->passes and broadcasts r->cond, so an API call can wait for
 * the loop to have seen its change. */
#ifndef KEEL_JEPSEN_RELAY_INTERNAL_H
#define KEEL_JEPSEN_RELAY_INTERNAL_H

#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "jepsen/net/relay.h"

#define READ_SIZE (64u << 10) /* r->buf, the most one recv() takes */

struct conn; /* relay_loop.c: one relayed connection */
struct slot; /* relay_loop.c: what a pollfd stands for */

struct route
{
    struct route *next;
    int lfd;
    uint16_t port;
    struct sockaddr_in dst;
    unsigned delay_ms, jitter_ms;
    bool dead; /* set by jrelay_remove, freed by the loop */
    short ev;
    uint64_t conns, bytes;
};

struct jrelay
{
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int wake[2];
    bool stop;
    uint64_t passes; /* loop iterations, for jrelay_remove to wait on */
    struct route *routes;
    struct conn *conns;
    uint64_t rng;
    struct pollfd *pfd;
    struct slot *slot;
    size_t cap;
    char *buf;
};

/* CLOCK_MONOTONIC, ns. */
int64_t relay_now_ns(void);
/* The relay thread (pthread_create's start routine; arg is the struct
 * jrelay). Returns once r->stop is set and every route and connection is
 * closed and freed. */
void *relay_main(void *arg);

#endif /* KEEL_JEPSEN_RELAY_INTERNAL_H */
