/* raft: the transport's private state, shared by transport.c (the
 * connections) and transport_isolate.c (the drill switch). */
#ifndef KEEL_RAFT_TRANSPORT_INTERNAL_H
#define KEEL_RAFT_TRANSPORT_INTERNAL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "raft/transport.h"

#define HANDSHAKE_PROTOCOL 1
#define PREAMBLE 24
#define MAX_ADDRESS 256

struct pending;

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
};

static inline bool kt_isolated(const struct ktrans *k)
{
    return k->isolated_until != 0 && uv_now(k->loop) < k->isolated_until;
}

/* Remember a peer raft dialled (transport_isolate.c). */
void kt_note_peer(struct ktrans *k, const struct sockaddr_in *sa);


#endif /* KEEL_RAFT_TRANSPORT_INTERNAL_H */
