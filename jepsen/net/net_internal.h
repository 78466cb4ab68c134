/* jepsen: what the hosts' files share (net.c: setup; net_cleanup.c: the
 * record of what setup made and every way of removing it; net_spawn.c:
 * running processes inside the nodes). Not for nemesis.c or the runner:
 * they see only net.h.
 *
 * Ownership: the records live in static memory in net_cleanup.c, so that
 * atexit and signal handlers can reach them even when the struct jnet they
 * came from is gone. A struct jnet names its record by net->slot (index + 1,
 * 0: none); setup fills the record in, and from then on only net_cleanup.c
 * reads or clears it (net_track() adds children to it). */
#ifndef KEEL_JEPSEN_NET_INTERNAL_H
#define KEEL_JEPSEN_NET_INTERNAL_H

#include <net/if.h>
#include <signal.h>
#include <sys/types.h>

#include "jepsen/net/net.h"

#define NETNS_DIR "/var/run/netns"
#define MAX_RECS 4
#define MAX_KIDS 256

/* What teardown needs, kept in static memory: atexit and signal handlers
 * can reach it even when the struct jnet it came from is gone. */
struct net_rec
{
    volatile sig_atomic_t live;
    pid_t owner;
    unsigned n;
    int netns;
    char bridge[IFNAMSIZ];
    char veth[JNET_MAX_NODES][IFNAMSIZ];
    char nspath[JNET_MAX_NODES][64];
    volatile pid_t kids[MAX_KIDS];
};

/* Claim a free record for net (net->n and net->owner set): net->slot is
 * its index + 1 afterwards, or still 0 if all MAX_RECS are in use. */
void net_rec_claim(struct jnet *net);
/* net's record; net->slot must be set. */
struct net_rec *net_rec_of(const struct jnet *net);
/* Remove what the record says was made: kill and reap its children, delete
 * its veths, bridge and namespaces. Does nothing unless the record is live
 * and owned by this process. Async-signal-safe. */
void net_rec_cleanup(struct net_rec *r);
/* Once per process: atexit, and handlers for SIGINT, SIGTERM and SIGHUP
 * where their disposition is still the default, that clean every record. */
void net_install_handlers(void);
/* Record a child of net (jnet_spawn, jnet_fork) for teardown to kill. */
void net_track(const struct jnet *net, pid_t pid);

#endif /* KEEL_JEPSEN_NET_INTERNAL_H */
