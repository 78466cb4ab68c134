/* jepsen: a delaying TCP relay, the engine of the latency nemesis.
 *
 * Why a relay: the kernel here has no sch_netem, so packets cannot be held
 * back in a qdisc. Instead nemesis.c DNATs a node's connections to a peer's
 * port to a relay route listening on the host's bridge address; the route
 * opens its own connection to the real destination and copies bytes both
 * ways, holding every chunk it reads for delay_ms (plus a uniform random
 * 0..jitter_ms) before writing it on. Order is kept (a chunk is never sent
 * before the one read ahead of it, as in TCP), so a connection through the
 * relay sees its round trip grow by at least 2 * delay_ms and nothing else.
 *
 * One background thread (started by jrelay_start) owns every socket; the
 * functions below may be called from any other thread. A route is named by
 * the port it listens on. Removing a route closes its listener and shuts
 * down every connection it carries (both ends see the connection end), so
 * the nodes reconnect, directly once the DNAT rule is gone. */
#ifndef KEEL_JEPSEN_RELAY_H
#define KEEL_JEPSEN_RELAY_H

#include <stddef.h>
#include <stdint.h>

struct jrelay;

/* Bytes a direction may hold before the relay stops reading from its
 * source: TCP flow control then pushes back on the sender, as a slow link
 * does. */
#define JRELAY_MAX_QUEUED (4u << 20)

/* Start the relay thread. On success *out owns it until jrelay_stop. Errors:
 * -1 with the reason in err (a thread or pipe could not be made). */
int jrelay_start(struct jrelay **out, char *err, size_t size);

/* Add a route: listen on listen_ip (an IPv4 address of this host, port
 * chosen by the kernel) and relay each accepted connection to
 * dst_ip:dst_port with the given delay. *port gets the listening port,
 * which names the route. Errors: -1 with the reason in err (bad address,
 * socket, bind or listen failed). */
int jrelay_add(struct jrelay *r, const char *listen_ip, const char *dst_ip, uint16_t dst_port,
               unsigned delay_ms, unsigned jitter_ms, uint16_t *port, char *err, size_t size);

/* Change a route's delay; bytes already held keep their due time (the new
 * delay applies to bytes read from now on). -1 if there is no such route. */
int jrelay_set_delay(struct jrelay *r, uint16_t port, unsigned delay_ms, unsigned jitter_ms);

/* Remove a route. Returns once the relay thread has closed its listener and
 * connections. -1 if there is no such route. */
int jrelay_remove(struct jrelay *r, uint16_t port);

/* Connections a route has accepted and bytes it has relayed (both ways), so
 * far; 0 on success, -1 if there is no such route. */
int jrelay_stats(struct jrelay *r, uint16_t port, uint64_t *conns, uint64_t *bytes);

/* Stop the thread, close every socket and free r. NULL is a no-op. */
void jrelay_stop(struct jrelay *r);

#endif /* KEEL_JEPSEN_RELAY_H */
