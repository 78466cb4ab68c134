/* jepsen: the delaying TCP relay's API (see relay.h): starting and stopping
 * the relay thread, and adding, changing, removing and counting routes.
 * Each call takes the mutex, changes what the loop (relay_loop.c) reads,
 * and wakes it through the wake pipe; the loop does all socket I/O. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jepsen/net/relay_internal.h"

static void wake(struct jrelay *r)
{
    ssize_t rv = write(r->wake[1], "w", 1);
    (void)rv; /* a full pipe is already a wake-up */
}

int jrelay_start(struct jrelay **out, char *err, size_t size)
{
    struct jrelay *r = calloc(1, sizeof *r);
    if (r == NULL || (r->buf = malloc(READ_SIZE)) == NULL) {
        if (r) free(r);
        snprintf(err, size, "relay: out of memory");
        return -1;
    }
    r->rng = (uint64_t)relay_now_ns() | 1;
    if (pipe2(r->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
        snprintf(err, size, "relay: pipe: %s", strerror(errno));
        free(r->buf);
        free(r);
        return -1;
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cond, NULL);
    int rv = pthread_create(&r->thread, NULL, relay_main, r);
    if (rv != 0) {
        snprintf(err, size, "relay: thread: %s", strerror(rv));
        close(r->wake[0]);
        close(r->wake[1]);
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->cond);
        free(r->buf);
        free(r);
        return -1;
    }
    *out = r;
    return 0;
}

int jrelay_add(struct jrelay *r, const char *listen_ip, const char *dst_ip, uint16_t dst_port,
               unsigned delay_ms, unsigned jitter_ms, uint16_t *port, char *err, size_t size)
{
    struct sockaddr_in la = {.sin_family = AF_INET};
    struct route *rt = calloc(1, sizeof *rt);
    if (rt == NULL) return snprintf(err, size, "relay: out of memory"), -1;
    rt->dst.sin_family = AF_INET;
    rt->dst.sin_port = htons(dst_port);
    rt->delay_ms = delay_ms;
    rt->jitter_ms = jitter_ms;
    if (inet_pton(AF_INET, listen_ip, &la.sin_addr) != 1 ||
        inet_pton(AF_INET, dst_ip, &rt->dst.sin_addr) != 1) {
        free(rt);
        return snprintf(err, size, "relay: bad address '%s' or '%s'", listen_ip, dst_ip), -1;
    }
    socklen_t len = sizeof la;
    rt->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (rt->lfd < 0 || bind(rt->lfd, (struct sockaddr *)&la, sizeof la) != 0 || listen(rt->lfd, 64) != 0 ||
        getsockname(rt->lfd, (struct sockaddr *)&la, &len) != 0) {
        snprintf(err, size, "relay: listen on %s: %s", listen_ip, strerror(errno));
        if (rt->lfd >= 0) close(rt->lfd);
        free(rt);
        return -1;
    }
    rt->port = ntohs(la.sin_port);
    *port = rt->port;
    pthread_mutex_lock(&r->mu);
    rt->next = r->routes;
    r->routes = rt;
    pthread_mutex_unlock(&r->mu);
    wake(r);
    return 0;
}

static struct route *find(struct jrelay *r, uint16_t port)
{
    for (struct route *rt = r->routes; rt; rt = rt->next)
        if (rt->port == port && !rt->dead) return rt;
    return NULL;
}

int jrelay_set_delay(struct jrelay *r, uint16_t port, unsigned delay_ms, unsigned jitter_ms)
{
    pthread_mutex_lock(&r->mu);
    struct route *rt = find(r, port);
    if (rt) {
        rt->delay_ms = delay_ms;
        rt->jitter_ms = jitter_ms;
    }
    pthread_mutex_unlock(&r->mu);
    return rt ? 0 : -1;
}

int jrelay_remove(struct jrelay *r, uint16_t port)
{
    pthread_mutex_lock(&r->mu);
    struct route *rt = find(r, port);
    if (rt) {
        rt->dead = true;
        /* We hold the lock, so the loop is in poll() or waiting for the
         * lock; either way it sweeps before it next counts a pass. */
        uint64_t until = r->passes + 1;
        wake(r);
        while (r->passes < until) pthread_cond_wait(&r->cond, &r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    return rt ? 0 : -1;
}

int jrelay_stats(struct jrelay *r, uint16_t port, uint64_t *conns, uint64_t *bytes)
{
    pthread_mutex_lock(&r->mu);
    struct route *rt = find(r, port);
    if (rt) {
        *conns = rt->conns;
        *bytes = rt->bytes;
    }
    pthread_mutex_unlock(&r->mu);
    return rt ? 0 : -1;
}

void jrelay_stop(struct jrelay *r)
{
    if (r == NULL) return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_mutex_unlock(&r->mu);
    wake(r);
    pthread_join(r->thread, NULL);
    close(r->wake[0]);
    close(r->wake[1]);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cond);
    free(r->pfd);
    free(r->slot);
    free(r->buf);
    free(r);
}
