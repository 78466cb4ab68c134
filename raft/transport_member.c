/* raft: the member channel's two calls (transport.h). The channel shares
 * everything with raft's connections on the same port (transport.c dials
 * and accepts, transport_tls.c runs the mutual TLS, checks the peer's
 * member id and bridges the stream); it differs only after the handshake:
 * the dialler sends KEEL_MEMBER_MAGIC where raft would send its handshake,
 * and the stream goes to the member callbacks instead of raft. So a peer
 * without a cluster certificate is refused before a byte of the channel is
 * read, exactly as on raft's connections, and counted with them.
 *
 * Without member TLS there is no channel: its calls would travel in clear
 * and prove nothing, so keel_transport_member_dial refuses (the server then
 * uses the client port and the cluster token, docs/security.md). */
#include "raft/transport_internal.h"

void keel_transport_member_accept(struct raft_uv_transport *t, keel_member_accept_cb cb, void *data)
{
    struct ktrans *k = t->impl;
    if (k == NULL) return; /* released */
    k->member_accept = cb;
    k->member_accept_data = data;
}

int keel_transport_member_dial(struct raft_uv_transport *t, uint64_t id, const char *address,
                               keel_member_dial_cb cb, void *data)
{
    struct ktrans *k = t->impl;
    int rc;
    if (k->tls == NULL) return RAFT_INVALID;
    struct pending *p = kt_dial(k, id, address, &rc);
    if (p == NULL) return rc;
    p->member_cb = cb;
    p->member_data = data;
    return 0;
}
