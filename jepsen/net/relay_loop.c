/* jepsen: the relay thread (see relay.h): one poll loop that accepts
 * connections on every route's listener, reads whatever arrives into a
 * per-direction FIFO of chunks stamped with the time each may leave, and
 * writes the chunks on once due. The loop sleeps until the earliest stamp
 * or until a socket is ready. The mutex is held everywhere except inside
 * poll(), so the API functions (relay.c, other threads) only ever see the
 * route list between two passes; only this thread closes sockets or frees
 * connections, which keeps the poll set valid while unlocked. */
#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/xorshift.h"
#include "jepsen/net/relay_internal.h"

struct chunk
{
    struct chunk *next;
    int64_t due; /* CLOCK_MONOTONIC, ns */
    size_t len;  /* 0: the end of the stream */
    size_t off;
    char data[];
};

/* One direction: bytes read from fd[k] wait here, then go to fd[1 - k]. */
struct flow
{
    struct chunk *head, *tail;
    size_t queued;
    bool read_done;  /* EOF seen and queued */
    bool write_done; /* EOF passed on (shutdown SHUT_WR) */
    bool blocked;    /* the last send would block: wait for POLLOUT */
};

struct conn
{
    struct conn *next;
    struct route *route;
    int fd[2];           /* 0: the node that connected, 1: the destination */
    bool connected;      /* fd[1]'s connect has finished */
    bool dead;           /* freed by the next sweep */
    short ev[2];         /* revents of the last poll */
    struct flow flow[2]; /* flow[k]: fd[k] -> fd[1 - k] */
};

/* What a pollfd stands for. */
struct slot
{
    struct route *route;
    struct conn *conn;
    int side;
};

int64_t relay_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void close_sock(int fd)
{
    /* shutdown first: a forked child may hold a copy of fd, and close alone
     * would then leave the connection open. */
    if (fd < 0) return;
    shutdown(fd, SHUT_RDWR);
    close(fd);
}

static void conn_free(struct conn *c)
{
    for (int k = 0; k < 2; k++) {
        close_sock(c->fd[k]);
        for (struct chunk *ch = c->flow[k].head, *next; ch; ch = next) {
            next = ch->next;
            free(ch);
        }
    }
    free(c);
}

/* Free dead connections and the routes jrelay_remove marked (with all their
 * connections). */
static void sweep(struct jrelay *r)
{
    for (struct conn **p = &r->conns; *p;) {
        struct conn *c = *p;
        if (c->dead || c->route->dead) {
            *p = c->next;
            conn_free(c);
        } else {
            p = &c->next;
        }
    }
    for (struct route **p = &r->routes; *p;) {
        struct route *rt = *p;
        if (rt->dead) {
            *p = rt->next;
            close(rt->lfd);
            free(rt);
        } else {
            p = &rt->next;
        }
    }
}

static int64_t due_time(struct jrelay *r, struct route *rt, const struct flow *f, int64_t now)
{
    int64_t due = now + (int64_t)rt->delay_ms * 1000000;
    if (rt->jitter_ms > 0) {
        due += (int64_t)(xorshift64(&r->rng) % ((uint64_t)rt->jitter_ms * 1000000 + 1));
    }
    /* TCP is ordered: a chunk never overtakes the one read before it. */
    if (f->tail && f->tail->due > due) due = f->tail->due;
    return due;
}

static void do_read(struct jrelay *r, struct conn *c, int k, int64_t now)
{
    struct flow *f = &c->flow[k];
    ssize_t n = recv(c->fd[k], r->buf, READ_SIZE, MSG_DONTWAIT);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) c->dead = true;
        return;
    }
    struct chunk *ch = malloc(sizeof *ch + (size_t)n);
    if (ch == NULL) {
        c->dead = true;
        return;
    }
    ch->next = NULL;
    ch->due = due_time(r, c->route, f, now);
    ch->len = (size_t)n;
    ch->off = 0;
    memcpy(ch->data, r->buf, (size_t)n);
    if (f->tail) f->tail->next = ch;
    else f->head = ch;
    f->tail = ch;
    f->queued += (size_t)n;
    c->route->bytes += (uint64_t)n;
    if (n == 0) f->read_done = true;
}

/* Pass on every chunk that is due; note when a send would block. */
static void flush(struct conn *c, int64_t now)
{
    for (int k = 0; k < 2 && !c->dead; k++) {
        struct flow *f = &c->flow[k];
        int out = c->fd[1 - k];
        f->blocked = false;
        if (!c->connected) continue; /* both directions need fd[1] */
        while (f->head && f->head->due <= now) {
            struct chunk *ch = f->head;
            if (ch->len == 0) {
                shutdown(out, SHUT_WR);
                f->write_done = true;
            } else {
                ssize_t n = send(out, ch->data + ch->off, ch->len - ch->off, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
                    f->blocked = true;
                    break;
                }
                if (n < 0) {
                    c->dead = true;
                    break;
                }
                ch->off += (size_t)n;
                f->queued -= (size_t)n;
                if (ch->off < ch->len) continue;
            }
            f->head = ch->next;
            if (f->head == NULL) f->tail = NULL;
            free(ch);
        }
    }
    if (c->flow[0].write_done && c->flow[1].write_done) c->dead = true;
}

static void set_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void do_accept(struct jrelay *r, struct route *rt)
{
    for (;;) {
        int fd = accept4(rt->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        struct conn *c = calloc(1, sizeof *c);
        int out = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c == NULL || out < 0) {
            free(c);
            close_sock(fd);
            if (out >= 0) close(out);
            continue;
        }
        set_nodelay(fd);
        set_nodelay(out);
        c->fd[0] = fd;
        c->fd[1] = out;
        c->route = rt;
        int rv = connect(out, (const struct sockaddr *)&rt->dst, sizeof rt->dst);
        if (rv == 0) c->connected = true;
        else if (errno != EINPROGRESS) c->dead = true;
        c->next = r->conns;
        r->conns = c;
        rt->conns++;
    }
}

static void service(struct jrelay *r, struct conn *c, int64_t now)
{
    if (!c->connected && (c->ev[1] & (POLLOUT | POLLERR | POLLHUP))) {
        int soerr = 0;
        socklen_t len = sizeof soerr;
        getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &soerr, &len);
        if (soerr != 0) c->dead = true;
        else c->connected = true;
    }
    for (int k = 0; k < 2 && !c->dead; k++) {
        if (k == 1 && !c->connected) continue;
        if ((c->ev[k] & (POLLIN | POLLERR | POLLHUP)) && !c->flow[k].read_done) do_read(r, c, k, now);
    }
    c->ev[0] = c->ev[1] = 0;
}

static bool wants_read(const struct flow *f)
{
    return !f->read_done && f->queued < JRELAY_MAX_QUEUED;
}

static int add_pfd(struct jrelay *r, size_t *n, int fd, short events, struct route *rt, struct conn *c, int side)
{
    if (*n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        struct pollfd *p = realloc(r->pfd, cap * sizeof *p);
        if (p) r->pfd = p;
        struct slot *s = realloc(r->slot, cap * sizeof *s);
        if (s) r->slot = s;
        if (p == NULL || s == NULL) return -1;
        r->cap = cap;
    }
    r->pfd[*n] = (struct pollfd){.fd = fd, .events = events};
    r->slot[*n] = (struct slot){rt, c, side};
    (*n)++;
    return 0;
}

/* The poll set, and the poll timeout: until the earliest chunk falls due. */
static size_t build(struct jrelay *r, int64_t now, int *timeout)
{
    size_t n = 0;
    int64_t next = -1;
    add_pfd(r, &n, r->wake[0], POLLIN, NULL, NULL, 0);
    for (struct route *rt = r->routes; rt; rt = rt->next)
        if (!rt->dead) add_pfd(r, &n, rt->lfd, POLLIN, rt, NULL, 0);
    for (struct conn *c = r->conns; c; c = c->next) {
        /* A side with nothing to wait for stays out of the set: a hung-up
         * socket would otherwise wake poll at once, over and over. */
        short e0 = (short)((wants_read(&c->flow[0]) ? POLLIN : 0) | (c->flow[1].blocked ? POLLOUT : 0));
        short e1 = c->connected ? (short)((wants_read(&c->flow[1]) ? POLLIN : 0) |
                                          (c->flow[0].blocked ? POLLOUT : 0))
                                : (short)POLLOUT;
        if (e0) add_pfd(r, &n, c->fd[0], e0, NULL, c, 0);
        if (e1) add_pfd(r, &n, c->fd[1], e1, NULL, c, 1);
        for (int k = 0; k < 2 && c->connected; k++) {
            const struct flow *f = &c->flow[k];
            if (f->head && !f->blocked && (next < 0 || f->head->due < next)) next = f->head->due;
        }
    }
    if (next < 0) *timeout = -1;
    else if (next <= now) *timeout = 0;
    else *timeout = (int)((next - now + 999999) / 1000000);
    return n;
}

void *relay_main(void *arg)
{
    struct jrelay *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        sweep(r);
        r->passes++;
        pthread_cond_broadcast(&r->cond);
        if (r->stop) break;
        int64_t now = relay_now_ns();
        for (struct conn *c = r->conns; c; c = c->next) flush(c, now);
        sweep(r);
        int timeout;
        size_t n = build(r, now, &timeout);
        pthread_mutex_unlock(&r->mu);
        int rv = poll(r->pfd, n, timeout);
        pthread_mutex_lock(&r->mu);
        if (rv < 0) continue; /* EINTR */
        now = relay_now_ns();
        for (size_t i = 0; i < n; i++) {
            short ev = r->pfd[i].revents;
            if (ev == 0) continue;
            if (i == 0) {
                char drain[64];
                while (read(r->wake[0], drain, sizeof drain) > 0) {
                }
            } else if (r->slot[i].conn) {
                r->slot[i].conn->ev[r->slot[i].side] |= ev;
            } else {
                r->slot[i].route->ev = ev;
            }
        }
        for (struct route *rt = r->routes; rt; rt = rt->next) {
            if (rt->ev && !rt->dead) do_accept(r, rt);
            rt->ev = 0;
        }
        for (struct conn *c = r->conns; c; c = c->next)
            if (!c->dead) service(r, c, now);
    }
    for (struct route *rt = r->routes; rt; rt = rt->next) rt->dead = true;
    sweep(r);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}
