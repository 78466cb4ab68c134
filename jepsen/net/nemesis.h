/* jepsen: network nemeses on the hosts of net.h, done in the kernel so that
 * packets really vanish (or really wait).
 *
 * Mechanism: each node's namespace holds one nftables table, `ip
 * keel_jepsen`, rewritten whole (one `nft -f -` per node, atomic) from the
 * state kept in struct jnet every time a nemesis changes:
 *   chain input   filter, hook input       partition and loss drops
 *   chain output  filter, hook output      partition and loss drops, resets
 *   chain nat_out nat,    hook output      latency: DNAT to the relay
 * Only node<->node traffic is ever matched (by the peers' addresses): the
 * host's address is never named, so clients on the host keep reaching every
 * node. Healing deletes the rules; teardown deletes the namespaces with
 * them. Nothing is added to the host's own ruleset.
 *
 * Partition (blocked[i] bit j: i and j exchange no packets; applied
 * symmetrically): in node i, drop packets from j, to j, and of any
 * connection whose original destination is j (conntrack), so that a
 * connection going through the latency relay is cut too.
 *
 * Latency (jnem_slow): the kernel here has no netem, so delay comes from a
 * relay (relay.h) running as a thread of this process on the host. For a
 * slowed pair (i, j) and the given TCP port, node i's nat_out chain DNATs
 * new connections to j:port to a relay route on the host's bridge address;
 * the relay connects to j:port (j sees the connection come from the host
 * address, which raft does not care about) and holds every chunk delay_ms
 * (+ 0..jitter_ms) each way: the round trip grows by >= 2 * delay_ms. Only
 * connections to that port are slowed; keeld's raft connections are, client
 * traffic is not. Connections that were open before are reset (nft reject
 * with tcp reset, plus `ss -K` for both ends when available) so that they
 * come back through the relay; removing the latency closes the relayed
 * connections, and they come back direct.
 *
 * Loss (jnem_loss): real packet loss, `numgen random mod 100 < pct drop`,
 * applied once per packet per lossy pair (at the sender for direct packets,
 * at the connection's initiator for relayed ones). TCP retransmits, so a
 * loss shows up as delay and, at high rates, as timeouts.
 *
 * Loopback mode: every nemesis but jnem_heal returns JNET_EUNSUPPORTED
 * (keeld's connections all come from 127.0.0.1; nothing tells nodes apart).
 *
 * Errors: JNET_* codes (net.h) with the detail in err. A failure half-way
 * may leave some nodes with the new rules: jnem_heal restores a clean
 * network. Masks name nodes by index: bit j of mask[i] is node j; only bits
 * below n may be set. */
#ifndef KEEL_JEPSEN_NEMESIS_H
#define KEEL_JEPSEN_NEMESIS_H

#include <stddef.h>
#include <stdint.h>

#include "jepsen/net/net.h"

/* Cut every pair (i, j) with bit j of blocked[i] (or bit i of blocked[j]);
 * replaces the current partition (an all-zero mask heals it). Latency and
 * loss stay as they are. */
int jnem_partition(struct jnet *net, const uint32_t *blocked, char *err, size_t size);

/* Remove every nemesis: partitions, loss, latency (relay routes closed).
 * JNET_OK in loopback mode, where there is nothing to remove. */
int jnem_heal(struct jnet *net, char *err, size_t size);

/* Delay connections to `port` between every pair in mask (symmetric, as for
 * partitions): delay_ms each way, plus a uniform 0..jitter_ms per chunk.
 * Replaces the current latency; an all-zero mask removes it. Pairs already
 * slowed keep their connections (the new delay applies to bytes read from
 * now on). */
int jnem_slow(struct jnet *net, const uint32_t *mask, uint16_t port, unsigned delay_ms, unsigned jitter_ms,
              char *err, size_t size);

/* Drop pct% (0..100) of the packets between every pair in mask
 * (symmetric). Replaces the current loss; pct 0 or a zero mask removes it. */
int jnem_loss(struct jnet *net, const uint32_t *mask, unsigned pct, char *err, size_t size);

/* The relay route carrying connections from node `from` to node `to`:
 * connections accepted and bytes relayed so far. -1 if that pair is not
 * slowed. For tests and reports. */
int jnem_slow_stats(const struct jnet *net, unsigned from, unsigned to, uint64_t *conns, uint64_t *bytes);

/* Masks. Each fills blocked[0..n-1] (n <= 32), the rest untouched. */

/* Nodes in `side` against the rest: two components. */
void jnem_mask_split(unsigned n, uint32_t side, uint32_t *blocked);
/* Jepsen's "halves": the minority (a node set, normally n/2 of them, picked
 * at random by the caller) against the majority. Same as split. */
void jnem_mask_halves(unsigned n, uint32_t minority, uint32_t *blocked);
/* One node cut from all others (partition-one, partition-leader). */
void jnem_mask_isolate(unsigned n, unsigned node, uint32_t *blocked);
/* Each node hears only its ring neighbours i-1 and i+1 (mod n): for n = 5
 * every node sees a majority, no two the same. Nothing is cut for n <= 3. */
void jnem_mask_ring(unsigned n, uint32_t *blocked);
/* Jepsen's "bridge": the other nodes, in ring order from node+1, split into
 * two halves ((n-1)/2 and the rest) that cannot talk; `node` hears both.
 * n = 5, node 2: {3,4} | {0,1}, with 2 joined to all. */
void jnem_mask_bridge(unsigned n, unsigned node, uint32_t *blocked);
/* Every pair (for jnem_slow / jnem_loss on the whole cluster). */
void jnem_mask_all(unsigned n, uint32_t *mask);
/* blocked made symmetric; 0 if valid, -1 if a bit >= n or bit i of mask[i]
 * is set. */
int jnem_mask_symmetric(unsigned n, const uint32_t *mask, uint32_t *out);
/* Human-readable, for logs: "0x{3,4} 1x{3,4} 3x{0,1} 4x{0,1}" (node x
 * cannot reach ...), or "none". */
void jnem_mask_describe(unsigned n, const uint32_t *blocked, char *buf, size_t size);

#endif /* KEEL_JEPSEN_NEMESIS_H */
