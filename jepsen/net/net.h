/* jepsen: the test hosts. N nodes, each in its own network namespace on a
 * private bridge, created for one run and removed after it.
 *
 * Layout (netns mode, chosen when we are root and `ip netns` works):
 *   namespaces  kj<pid>-n0 .. kj<pid>-n<N-1>   (<pid>: the process that set up)
 *   bridge      kj<pid>br, host side 10.77.<k>.254/24
 *   veth pairs  kj<pid>v<i> on the bridge  <->  eth0 in namespace i
 *   node i      10.77.<k>.<i+1>, `lo` up, no default route
 * <k> is the first /24 in 10.77.0.0/16 that no interface of this host uses
 * (searched from <pid> % 200 + 20, under a lock file, so concurrent runs get
 * different subnets). The namespaces have no route but the bridge's: nodes
 * reach each other and the host, nothing else. Clients run on the host and
 * connect to the node addresses through the bridge.
 *
 * Loopback mode (not root, or `ip netns` fails): node i is 127.0.77.<i+1>
 * in this process's own namespace. keeld's outgoing connections then all
 * come from 127.0.0.1, so no partition can be told apart by address: the
 * nemeses (nemesis.h) refuse with JNET_EUNSUPPORTED rather than pretend.
 *
 * Cleanup: jnet_teardown removes everything and may be called any number of
 * times. jnet_setup also registers the run so that exit() (atexit) and
 * SIGINT/SIGTERM (when their disposition was the default) tear it down;
 * the signal is then re-raised. That path uses only system calls (umount,
 * unlink, netlink, kill, waitpid), since it may run inside a signal handler.
 * Leftovers of a run that was SIGKILLed are found by name and owner pid:
 * jnet_cleanup_stale() (jnet_setup calls it first).
 *
 * Caveat: with br_netfilter loaded (bridge-nf-call-iptables=1), the host's
 * own FORWARD chain also sees node-to-node packets; a host whose FORWARD
 * policy is DROP (Docker sets it so) needs an accept rule for 10.77.0.0/16.
 *
 * Threads: one struct jnet is used by one thread at a time, except
 * jnet_addr/jnet_mode/jnet_host_addr which only read what setup wrote. */
#ifndef KEEL_JEPSEN_NET_H
#define KEEL_JEPSEN_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define JNET_MAX_NODES 9

struct jrelay; /* relay.h */

/* X(name, value, default message) */
#define JNET_ERRORS(X)                                                          \
    X(JNET_OK, 0, "success")                                                    \
    X(JNET_EINVAL, 1, "invalid argument")                                       \
    X(JNET_ESYS, 2, "system call failed")                                       \
    X(JNET_ECMD, 3, "external command failed")                                  \
    X(JNET_EUNSUPPORTED, 4, "unsupported in this hosts mode")                   \
    X(JNET_EBUSY, 5, "no free subnet or registry slot")

enum jnet_error {
#define JNET__ERR_ENUM(name, value, msg) name = value,
    JNET_ERRORS(JNET__ERR_ENUM)
#undef JNET__ERR_ENUM
};

/* The default message of a code; never NULL. */
const char *jnet_strerror(int code);

enum jnet_kind {
    JNET_AUTO = 0,  /* for jnet_setup_kind: netns if possible, else loopback */
    JNET_NETNS,
    JNET_LOOPBACK,
};

/* One run's hosts. Embed it anywhere; the fields are private to net*.c and
 * nemesis.c (read them through the functions below). A zeroed struct is
 * "not set up": jnet_teardown on it does nothing. */
struct jnet
{
    enum jnet_kind kind;
    unsigned n;
    pid_t owner;
    int slot;             /* registry slot + 1 (0: none), for atexit/signals */
    unsigned subnet;      /* <k> of 10.77.<k>.0/24 */
    char prefix[12];      /* "kj<pid>" */
    char bridge[16];
    char host_addr[16];
    char ns[JNET_MAX_NODES][24];
    char addr[JNET_MAX_NODES][16];
    char mode[256];
    /* nemesis state (nemesis.c): what is applied now */
    uint32_t blocked[JNET_MAX_NODES];
    uint32_t lossy[JNET_MAX_NODES];
    unsigned loss_pct;
    uint32_t slowed[JNET_MAX_NODES];
    uint16_t slow_port;
    uint16_t relay_port[JNET_MAX_NODES][JNET_MAX_NODES]; /* [from][to], 0: none */
    struct jrelay *relay;
};

/* Set up n hosts (1..JNET_MAX_NODES), netns if possible, else loopback.
 * Same as jnet_setup_kind(net, n, JNET_AUTO, ...). */
int jnet_setup(struct jnet *net, unsigned n, char *errmsg, size_t size);

/* Set up n hosts of the given kind. JNET_NETNS fails (JNET_ECMD/ESYS, the
 * command's own message in errmsg) rather than fall back. On failure
 * everything made so far is removed and *net is left zeroed. The caller
 * owns *net and must jnet_teardown it (before the memory goes away). */
int jnet_setup_kind(struct jnet *net, unsigned n, enum jnet_kind want, char *errmsg, size_t size);

/* Remove the hosts: stop the latency relay, SIGKILL and reap every process
 * jnet_spawn/jnet_fork started that is still running and unreaped, delete
 * the veths and the bridge, delete the namespaces (their nft rules go with
 * them). Idempotent; *net is zeroed afterwards. */
void jnet_teardown(struct jnet *net);

/* Remove hosts left behind by runs whose owner pid is no longer alive:
 * kj<pid>-n* namespaces (and any process still inside them: SIGKILL),
 * kj<pid>br bridges and kj<pid>v* veths. *removed (if not NULL) gets the
 * number of namespaces and links removed. Needs root; without it there is
 * nothing of ours to find and it returns JNET_OK. */
int jnet_cleanup_stale(unsigned *removed, char *errmsg, size_t size);

/* Node i's address ("10.77.42.2" or "127.0.77.2"), valid until teardown. */
const char *jnet_addr(const struct jnet *net, unsigned i);
/* The host's address on the bridge ("10.77.42.254"; "127.0.0.1" in
 * loopback mode): where clients and the relay connect from. */
const char *jnet_host_addr(const struct jnet *net);
/* What was set up, one line for the runner's report, e.g.
 * "netns: 3 hosts kj812-n0..n2 at 10.77.32.1-3 on bridge kj812br (host 10.77.32.254)"
 * or "loopback: 3 hosts at 127.0.77.1-3 (netns unavailable: not root); no partitions". */
const char *jnet_mode(const struct jnet *net);
enum jnet_kind jnet_kind(const struct jnet *net);
/* The namespace of node i ("kj812-n1"), "" in loopback mode. */
const char *jnet_ns(const struct jnet *net, unsigned i);

/* Run argv inside node i (its namespace; in loopback mode, here), stdout
 * and stderr appended to log_path (created 0644; NULL: /dev/null), stdin
 * from /dev/null. The returned pid is the process running argv itself (the
 * child enters the namespace with setns(2) and execs), so kill(2) on it
 * reaches argv[0] directly. argv[0] is looked up in PATH. Returns -1 with
 * errno set if the log cannot be opened, the namespace entered or argv[0]
 * executed (the exec result is waited for). The caller reaps the pid;
 * jnet_teardown kills it if it is still running then. */
pid_t jnet_spawn(struct jnet *net, unsigned i, char *const argv[], const char *log_path);

/* fork(2) with the child already inside node i's namespace: returns 0 in
 * the child, its pid in the parent, -1 (errno) on failure. For test helpers
 * written in C (listeners, probes); the child should end with _exit. The
 * pid is tracked like jnet_spawn's. */
pid_t jnet_fork(struct jnet *net, unsigned i);

/* Run a command to completion inside node i (i < 0: on the host), with
 * `input` (may be NULL, at most 60 KiB) on its stdin. Returns JNET_OK if it
 * exits 0; else JNET_ECMD with "<argv...>: <its output>" in errmsg
 * (JNET_ESYS if it could not be run at all). argv[0] is looked up in PATH,
 * then /usr/sbin and /sbin. Used for ip, nft and ss. */
int jnet_run(const struct jnet *net, int i, char *const argv[], const char *input, char *errmsg,
             size_t size);

#endif /* KEEL_JEPSEN_NET_H */
