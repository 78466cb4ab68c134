/* raft: Keel's raft transport, a drop-in for raft_uv_tcp (the same wire
 * handshake, so nodes of either kind talk to each other) that bounds how
 * long a dead path can hold a peer.
 *
 * Why: raft 0.15's TCP transport writes into a connection until the kernel
 * reports an error, and the kernel keeps a black-holed connection (a
 * partition, a switch that drops packets) alive for many minutes, retrying
 * with exponential backoff. When the path heals, the next retransmission may
 * be seconds away: the jepsen suite saw a cluster stay leaderless 6-9 s
 * after a 3 s partition had healed. Here every connection carries
 * TCP_USER_TIMEOUT (unacknowledged data for longer fails the connection, and
 * raft reconnects at once) and keepalive probes, and a connect attempt that
 * has not completed within the connect timeout is abandoned, so raft's retry
 * timer (raft_uv_set_connect_retry_delay) paces the attempts instead of the
 * kernel's SYN backoff.
 *
 * Ownership: keel_transport_init fills a caller-owned struct
 * raft_uv_transport; keel_transport_release frees what init allocated, after
 * raft_uv_close has completed (as raft_uv_tcp_close). Loop thread only. */
#ifndef KEEL_RAFT_TRANSPORT_H
#define KEEL_RAFT_TRANSPORT_H

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

struct keel_transport_options
{
    unsigned connect_timeout_ms; /* a connect or handshake longer than this fails */
    unsigned user_timeout_ms;    /* TCP_USER_TIMEOUT on established connections */
    /* "ADDR=VIA,...": dial VIA whenever raft dials ADDR (the handshake still
     * names our own address). For simulated zones on one machine: peers in
     * other zones are reached through a delaying relay. NULL: none. */
    const char *routes;
};

/* 0, RAFT_NOMEM, or RAFT_INVALID for a malformed routes string. */
int keel_transport_init(struct raft_uv_transport *t, uv_loop_t *loop,
                        const struct keel_transport_options *o);
void keel_transport_release(struct raft_uv_transport *t);

/* A drill: for ms, cut this node off from its raft peers. Established raft
 * connections are shut down (raft sees them fail and redials), dials are
 * refused and incoming ones closed, so the node neither sends nor hears raft
 * traffic, as in a partition; afterwards everything works again. */
void keel_transport_isolate(struct raft_uv_transport *t, unsigned ms);

#endif /* KEEL_RAFT_TRANSPORT_H */
