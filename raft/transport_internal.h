/* raft: the transport's private state, shared by transport.c (the
 * connections) and transport_isolate.c (the drill switch). */
#ifndef KEEL_RAFT_TRANSPORT_INTERNAL_H
#define KEEL_RAFT_TRANSPORT_INTERNAL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "raft/tls.h"
#include "raft/transport.h"

#define HANDSHAKE_PROTOCOL 1
#define PREAMBLE 24
#define MAX_ADDRESS 256

struct kt_link;

/* A connection in progress (transport.c): ours to a peer, or a peer's
 * still sending its handshake. With TLS on, link is the session bridging
 * it (transport_tls.c), which owns tcp from then on. */
struct pending
{
    struct ktrans *k;
    struct pending *prev, *next;
    bool incoming;
    bool done;                /* handed over, failed or dropped */
    unsigned closing;         /* our handles still closing */
    int status;               /* for raft's connect callback when failed */
    uv_tcp_t *tcp;            /* raft_malloc'd: raft frees it once it owns it */
    uv_timer_t timer;         /* the deadline */
    struct raft_uv_connect *req;
    raft_uv_connect_cb cb;    /* NULL: connect refused synchronously, no callback */
    raft_id target;           /* outgoing: the id raft meant to reach */
    struct kt_link *link;     /* TLS: the session, until handed over or failed */
    keel_member_dial_cb member_cb; /* outgoing: a member channel, not raft's */
    void *member_data;
    uv_connect_t connect;
    uv_write_t write;
    uint8_t hs[PREAMBLE + MAX_ADDRESS];
    size_t hs_got, hs_want;
};

struct ktrans
{
    struct raft_uv_transport *t;
    uv_loop_t *loop;
    struct keel_transport_options o;
    raft_id id;
    char address[MAX_ADDRESS];
    uv_tcp_t listener;
    bool listener_open;
    raft_uv_accept_cb accept_cb;
    struct pending *head;     /* connections in progress */
    unsigned live;            /* pending structs not yet freed */
    bool closing;
    raft_uv_transport_close_cb close_cb;
    /* Drills (keel_transport_isolate): until this loop time, no raft
     * connection is made or kept. peers: every address raft dialled, so the
     * isolation can find the established connections raft now owns. */
    uint64_t isolated_until;
    struct sockaddr_in peers[32];
    unsigned npeers;
    struct sockaddr_in route_from[16], route_via[16]; /* keel_transport_options.routes */
    unsigned nroutes;
    /* Member TLS (transport_tls.c): NULL when off. links: every session,
     * before and after it was handed to raft (each counts in live). */
    struct keel_tls_ctx *tls;
    struct kt_link *links;
    uint64_t rejected[KEEL_PEER_REJECT_COUNT];
    uint64_t reject_logged_at[KEEL_PEER_REJECT_COUNT]; /* loop time of the last log line, per reason */
    uint64_t reject_unlogged[KEEL_PEER_REJECT_COUNT];  /* rejections since then, not logged */
    keel_member_accept_cb member_accept; /* member channels (transport.h); NULL: refused */
    void *member_accept_data;
};

static inline bool kt_isolated(const struct ktrans *k)
{
    return k->isolated_until != 0 && uv_now(k->loop) < k->isolated_until;
}

/* transport.c, for transport_tls.c: end a pending connection (status 0:
 * handed to raft), see if the transport finished closing, encode our raft
 * handshake into p->hs (returns its length), and take a complete piece of a
 * peer's handshake in p->hs (0: more wanted, p->hs_want grown; 1: complete;
 * -1: malformed). */
void kt_finish(struct pending *p, int status);
void kt_maybe_closed(struct ktrans *k);
size_t kt_hs_encode(struct pending *p);
int kt_hs_step(struct pending *p);

/* transport_tls.c: run TLS on p's connected TCP handle (raft's handshake
 * follows inside it); a pending connection's deadline passed during it;
 * finish() lets go of the link (status != 0: it closes); the transport
 * closes every session. */
void kt_tls_begin(struct pending *p);
void kt_tls_timeout(struct kt_link *l);
void kt_tls_detach(struct kt_link *l, int status);
void kt_tls_close_all(struct ktrans *k);
void kt_tls_release(struct ktrans *k);

/* transport.c: a TCP dial of address (routes and drills applied) whose
 * connected handle goes to TLS; NULL with *rc set. */
struct pending *kt_dial(struct ktrans *k, raft_id id, const char *address, int *rc);

/* Remember a peer raft dialled (transport_isolate.c). */
void kt_note_peer(struct ktrans *k, const struct sockaddr_in *sa);


#endif /* KEEL_RAFT_TRANSPORT_INTERNAL_H */
