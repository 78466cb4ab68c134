/* api/server: forwarding, between its two halves (internal to forward*.c;
 * the rest of the server uses fwd_request, fwd_unless_leader and the
 * forwarder's lifecycle from server_internal.h).
 *
 * forward.c decides what is forwarded, where and by when, and answers the
 * clients: the leader's replies relayed in order, or an error saying whether
 * the request may have taken effect. forward_conn.c owns the internal
 * connection to the leader: the wire format, the leader's clock, the
 * deadlines on the way, resets and reconnects.
 *
 * Loop thread only. */
#ifndef KEEL_API_SERVER_FORWARD_H
#define KEEL_API_SERVER_FORWARD_H

#include <stddef.h>
#include <stdint.h>

#include "api/server/server_internal.h"

/* A forwarded request's budget when --forward-timeout is 0. */
#define DEFAULT_FORWARD_MS 5000
/* The cluster's forwarding token, with its NUL (token.c: 32 hex digits). */
#define FWD_TOKEN_SIZE 40

/* ---- forward.c: answering the clients ---------------------------------- */

/* A sent request whose reply will not be relayed: -UNCERTAIN for a write
 * (it may have been applied), -TRYAGAIN otherwise. Ends s (slot_done). */
void fwd_answer_sent(struct slot *s, const char *why);
/* A request never sent: certain to have had no effect. Ends s. */
void fwd_answer_unsent(struct slot *s, const char *why);
/* The leader's reply (p, n: one whole RESP reply) to s, to its client or
 * to the node's own handler (on_forward_reply). Ends s. */
void fwd_relay(struct slot *s, const uint8_t *p, size_t n);

/* ---- forward_conn.c: the connection to the leader ---------------------- */

/* Send s (its deadline_ms set) to the leader over f: written now, or
 * queued until f is connected and knows the leader's clock. leader_id 0:
 * addr is the leader's client port, and the request carries the cluster's
 * forwarding token; else (member TLS) addr is member leader_id's raft
 * address and f dials its member channel (the token is not looked at
 * there). Answers s itself when f cannot take it (reconnecting, or addr
 * unreachable). */
void fwd_submit(struct forwarder *f, const char *addr, uint64_t leader_id, const char *token, struct slot *s);

#endif /* KEEL_API_SERVER_FORWARD_H */
