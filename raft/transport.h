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
 * raft_uv_close has completed (as raft_uv_tcp_close). Loop thread only.
 *
 * Member TLS (keel_transport_tls, docs/security.md): every raft connection
 * runs mutual TLS against the cluster CA, and raft's handshake travels
 * inside it. The accepting side hands a connection to raft only after the
 * peer's chain verified and the id raft's handshake claims is the member id
 * the peer's certificate names (URI SAN keel:member:<id>); the connecting
 * side only after the accepting peer's certificate names the id raft
 * dialled. Raft never sees the TLS socket: it gets one end of a socketpair
 * whose other end the transport bridges through the session. Anything else
 * is closed before a byte reaches raft, counted by reason and logged
 * (at most one line per reason per 10 s). */
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
    /* A rejected raft peer's one-line report (TLS only); NULL: none. */
    void (*warn)(void *data, const char *msg);
    void *warn_data;
};

/* Why a raft connection was refused (TLS only), as metric labels. */
enum keel_peer_reject {
    KEEL_PEER_REJECT_NO_CERT,      /* presented no certificate */
    KEEL_PEER_REJECT_BAD_CERT,     /* chain did not verify (other CA, expired, ...) or refused ours */
    KEEL_PEER_REJECT_NO_MEMBER_ID, /* a cluster certificate naming no member id */
    KEEL_PEER_REJECT_ID_MISMATCH,  /* claimed (or answered as) another member than its certificate names */
    KEEL_PEER_REJECT_HANDSHAKE,    /* not TLS (plain raft traffic, garbage) or a TLS protocol error */
    KEEL_PEER_REJECT_TIMEOUT,      /* TLS plus raft handshake not done within the connect timeout */
    KEEL_PEER_REJECT_MALFORMED,    /* a malformed raft handshake inside TLS, or data where none is due */
    KEEL_PEER_REJECT_ABORTED,      /* closed during the TLS handshake with no TLS error: gave up, was isolated */
    KEEL_PEER_REJECT_COUNT
};
const char *keel_peer_reject_name(int reason);

/* 0, RAFT_NOMEM, or RAFT_INVALID for a malformed routes string. */
int keel_transport_init(struct raft_uv_transport *t, uv_loop_t *loop,
                        const struct keel_transport_options *o);
void keel_transport_release(struct raft_uv_transport *t);

/* Turn member TLS on (before raft_uv_init): load the certificate, key and CA
 * (tls.h: the certificate must verify and name self_id). 0, or -1 with a
 * one-line reason in err. */
int keel_transport_tls(struct raft_uv_transport *t, const char *cert_file, const char *key_file,
                       const char *ca_file, uint64_t self_id, char *err, size_t errsize);
/* Member TLS's context (NULL: off), for rotation: keel_tls_ctx_swap on it
 * changes what new raft connections present and accept. */
struct keel_tls_ctx *keel_transport_tls_ctx(struct raft_uv_transport *t);
/* Rejections so far, by enum keel_peer_reject. */
void keel_transport_rejections(struct raft_uv_transport *t, uint64_t out[KEEL_PEER_REJECT_COUNT]);

/* The member channel (TLS only, docs/security.md "Member channel"): the
 * same port and mutual TLS as raft, for member-to-member calls that are not
 * raft's (forwarded requests, a joining node's KEEL.JOIN). After the
 * handshake the dialler sends KEEL_MEMBER_MAGIC instead of raft's
 * handshake (which starts with protocol 1), and the accepting node hands
 * the decrypted stream, one end of a socketpair, to the accept callback
 * instead of raft. peer_id is the member id the peer's verified
 * certificate names: the caller's proof of who is at the other end.
 *
 * Ownership: fd (a connected AF_UNIX stream socket, close-on-exec) is the
 * callback's to close; the transport bridges the other end through TLS until
 * either side closes. Both callbacks run from libuv callbacks, never from
 * inside the calls below. */
#define KEEL_MEMBER_MAGIC "KEEL-MC1"
typedef void (*keel_member_accept_cb)(void *data, uint64_t peer_id, int fd);
/* fd < 0: failed (status a RAFT_* code; RAFT_CANCELED when the transport
 * closes first); else connected to peer_id. */
typedef void (*keel_member_dial_cb)(void *data, int status, uint64_t peer_id, int fd);
/* Serve member channels (cb NULL: refuse them, as malformed). */
void keel_transport_member_accept(struct raft_uv_transport *t, keel_member_accept_cb cb, void *data);
/* Dial the member channel of the member id at address (id 0: whichever
 * member answers, for a node that does not know its seed's id yet). The
 * callback is called exactly once unless this returns non-zero (a RAFT_*
 * code: TLS off, closing, bad address, no memory). */
int keel_transport_member_dial(struct raft_uv_transport *t, uint64_t id, const char *address,
                               keel_member_dial_cb cb, void *data);

/* A drill: for ms, cut this node off from its raft peers. Established raft
 * connections are shut down (raft sees them fail and redials), dials are
 * refused and incoming ones closed, so the node neither sends nor hears raft
 * traffic, as in a partition; afterwards everything works again. */
void keel_transport_isolate(struct raft_uv_transport *t, unsigned ms);

#endif /* KEEL_RAFT_TRANSPORT_H */
