/* jepsen: the test hosts (see net.h).
 *
 * Setup: the hosts' kind (netns when we are root and `ip` works, else
 * loopback), their names and addresses (a free 10.77.<k>.0/24, chosen under
 * a lock), and the network itself, made by `ip` in two batches: the host
 * side, then one per namespace. What setup makes is recorded for teardown
 * (net_cleanup.c); processes inside the hosts are net_spawn.c's. */
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jepsen/net/net_internal.h"

const char *jnet_strerror(int code)
{
    switch (code) {
#define JNET__ERR_CASE(name, value, msg) \
    case name: return msg;
        JNET_ERRORS(JNET__ERR_CASE)
#undef JNET__ERR_CASE
    }
    return "unknown jnet error";
}

const char *jnet_addr(const struct jnet *net, unsigned i)
{
    return i < net->n ? net->addr[i] : "";
}

const char *jnet_host_addr(const struct jnet *net)
{
    return net->host_addr;
}

const char *jnet_mode(const struct jnet *net)
{
    return net->mode;
}

enum jnet_kind jnet_kind(const struct jnet *net)
{
    return net->kind;
}

const char *jnet_ns(const struct jnet *net, unsigned i)
{
    return i < net->n ? net->ns[i] : "";
}

/* The first 10.77.<k>.0/24 no local interface uses, from a per-pid start. */
static int pick_subnet(pid_t pid, unsigned *k)
{
    struct ifaddrs *ifa = NULL;
    if (getifaddrs(&ifa) != 0) return -1;
    for (unsigned t = 0; t < 250; t++) {
        unsigned cand = 1 + ((unsigned)pid % 200 + 19 + t) % 250;
        int used = 0;
        for (struct ifaddrs *a = ifa; a && !used; a = a->ifa_next) {
            if (a->ifa_addr == NULL || a->ifa_addr->sa_family != AF_INET) continue;
            uint32_t ip = ntohl(((const struct sockaddr_in *)a->ifa_addr)->sin_addr.s_addr);
            used = (ip >> 8) == ((10u << 16) | (77u << 8) | cand);
        }
        if (!used) {
            freeifaddrs(ifa);
            *k = cand;
            return 0;
        }
    }
    freeifaddrs(ifa);
    return -1;
}

static int setup_netns(struct jnet *net, struct net_rec *r, char *errmsg, size_t size)
{
    char *const ipb[] = {"ip", "-batch", "-", NULL};
    char script[4096];
    size_t off = 0;
    int rv;
    /* The lock makes subnet choice and bridge address one step, so a
     * concurrent run sees our address before it picks. */
    int lock = open(access("/run/lock", W_OK) == 0 ? "/run/lock/keel-jepsen.lock" : "/tmp/keel-jepsen.lock",
                    O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock >= 0) flock(lock, LOCK_EX);
    jnet_cleanup_stale(NULL, errmsg, size);
    if (pick_subnet(net->owner, &net->subnet) != 0) {
        if (lock >= 0) close(lock);
        return snprintf(errmsg, size, "no free /24 in 10.77.0.0/16"), JNET_EBUSY;
    }
    snprintf(net->bridge, sizeof net->bridge, "%sbr", net->prefix);
    snprintf(net->host_addr, sizeof net->host_addr, "10.77.%u.254", net->subnet);
    snprintf(r->bridge, sizeof r->bridge, "%s", net->bridge);
    off += (size_t)snprintf(script + off, sizeof script - off,
                            "link add %s type bridge\naddr add %s/24 dev %s\nlink set %s up\n", net->bridge,
                            net->host_addr, net->bridge, net->bridge);
    for (unsigned i = 0; i < net->n; i++) {
        snprintf(net->ns[i], sizeof net->ns[i], "%s-n%u", net->prefix, i);
        snprintf(net->addr[i], sizeof net->addr[i], "10.77.%u.%u", net->subnet, i + 1);
        snprintf(r->veth[i], sizeof r->veth[i], "%sv%u", net->prefix, i);
        snprintf(r->nspath[i], sizeof r->nspath[i], NETNS_DIR "/%s", net->ns[i]);
        off += (size_t)snprintf(script + off, sizeof script - off,
                                "netns add %s\nlink add %s type veth peer name eth0 netns %s\n"
                                "link set %s master %s up\n",
                                net->ns[i], r->veth[i], net->ns[i], r->veth[i], net->bridge);
    }
    r->netns = 1;
    rv = jnet_run(net, -1, ipb, script, errmsg, size);
    if (lock >= 0) close(lock);
    net->kind = JNET_NETNS; /* from here jnet_run enters the namespaces */
    for (unsigned i = 0; i < net->n && rv == JNET_OK; i++) {
        /* addrgenmode none: no IPv6 link-local address, so nothing can
         * pass between nodes outside the ip-family rules of nemesis.c. */
        snprintf(script, sizeof script,
                 "link set eth0 addrgenmode none\naddr add %s/24 dev eth0\nlink set eth0 up\nlink set lo up\n",
                 net->addr[i]);
        rv = jnet_run(net, (int)i, ipb, script, errmsg, size);
    }
    if (rv != JNET_OK) return rv;
    snprintf(net->mode, sizeof net->mode,
             "netns: %u hosts %s-n0..n%u at 10.77.%u.1-%u on bridge %s (host %s)", net->n, net->prefix,
             net->n - 1, net->subnet, net->n, net->bridge, net->host_addr);
    return JNET_OK;
}

static void setup_loopback(struct jnet *net, const char *why)
{
    net->kind = JNET_LOOPBACK;
    snprintf(net->host_addr, sizeof net->host_addr, "127.0.0.1");
    for (unsigned i = 0; i < net->n; i++) {
        net->ns[i][0] = 0;
        snprintf(net->addr[i], sizeof net->addr[i], "127.0.77.%u", i + 1);
    }
    snprintf(net->mode, sizeof net->mode, "loopback: %u hosts at 127.0.77.1-%u (%s); no partitions, latency or loss",
             net->n, net->n, why);
}

int jnet_setup_kind(struct jnet *net, unsigned n, enum jnet_kind want, char *errmsg, size_t size)
{
    memset(net, 0, sizeof *net);
    if (n == 0 || n > JNET_MAX_NODES)
        return snprintf(errmsg, size, "hosts: %u nodes (1..%d)", n, JNET_MAX_NODES), JNET_EINVAL;
    net->n = n;
    net->owner = getpid();
    snprintf(net->prefix, sizeof net->prefix, "kj%d", (int)net->owner);
    net_rec_claim(net);
    if (net->slot == 0) {
        memset(net, 0, sizeof *net);
        return snprintf(errmsg, size, "hosts: more than %d set up at once", MAX_RECS), JNET_EBUSY;
    }
    net_install_handlers();
    struct net_rec *r = net_rec_of(net);
    char why[300];
    int rv = JNET_OK;
    if (want == JNET_LOOPBACK) {
        snprintf(why, sizeof why, "asked for");
    } else if (geteuid() != 0) {
        rv = JNET_EUNSUPPORTED;
        snprintf(errmsg, size, "network namespaces need root");
    } else {
        rv = setup_netns(net, r, errmsg, size);
    }
    if (rv != JNET_OK) {
        net_rec_cleanup(r); /* whatever part was made */
        r->live = 0;
        if (want == JNET_NETNS) {
            memset(net, 0, sizeof *net);
            return rv;
        }
        snprintf(why, sizeof why, "netns unavailable: %.250s", errmsg);
        r->owner = net->owner;
        r->live = 1;
        r->netns = 0;
    }
    if (want == JNET_LOOPBACK || rv != JNET_OK) setup_loopback(net, why);
    return JNET_OK;
}

int jnet_setup(struct jnet *net, unsigned n, char *errmsg, size_t size)
{
    return jnet_setup_kind(net, n, JNET_AUTO, errmsg, size);
}
