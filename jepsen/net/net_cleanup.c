/* jepsen: removing the test hosts (see net.h): the static record of what
 * setup made, the teardown that reads it (jnet_teardown, and atexit and the
 * signal handlers for a run that ends without one), and the removal of
 * leftovers of runs that were SIGKILLed (jnet_cleanup_stale).
 *
 * Teardown must also work from a signal handler, so it is written with
 * system calls only: deleting a veth end or the bridge is one RTM_DELLINK
 * netlink message, deleting a namespace is what `ip netns del` does (detach
 * its nsfs mount, unlink). */
#include <dirent.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jepsen/net/net_internal.h"
#include "jepsen/net/relay.h"

static struct net_rec recs[MAX_RECS];
static pthread_mutex_t recs_mu = PTHREAD_MUTEX_INITIALIZER;

/* ---- the record --------------------------------------------------------- */

void net_rec_claim(struct jnet *net)
{
    pthread_mutex_lock(&recs_mu);
    for (unsigned s = 0; s < MAX_RECS && net->slot == 0; s++) {
        if (recs[s].live && recs[s].owner == net->owner) continue;
        memset((void *)&recs[s], 0, sizeof recs[s]);
        recs[s].owner = net->owner;
        recs[s].n = net->n;
        recs[s].live = 1;
        net->slot = (int)s + 1;
    }
    pthread_mutex_unlock(&recs_mu);
}

struct net_rec *net_rec_of(const struct jnet *net)
{
    return &recs[net->slot - 1];
}

void net_track(const struct jnet *net, pid_t pid)
{
    if (net->slot == 0) return;
    struct net_rec *r = &recs[net->slot - 1];
    for (unsigned k = 0; k < MAX_KIDS; k++) {
        siginfo_t si;
        /* A slot is free if empty or if its pid was reaped by its owner
         * (ECHILD): that pid may come back as a new child. */
        if (r->kids[k] <= 0 || (waitid(P_PID, (id_t)r->kids[k], &si, WEXITED | WNOHANG | WNOWAIT) != 0 &&
                                errno == ECHILD)) {
            r->kids[k] = pid;
            return;
        }
    }
}

/* ---- teardown ----------------------------------------------------------- */

/* RTM_DELLINK by name. Deleting one end of a veth deletes the pair. */
static int nl_del_link(const char *name)
{
    struct
    {
        struct nlmsghdr nh;
        struct ifinfomsg ifi;
        char attrs[64];
    } req;
    memset(&req, 0, sizeof req);
    size_t len = strlen(name) + 1;
    struct rtattr *rta = (struct rtattr *)req.attrs;
    rta->rta_type = IFLA_IFNAME;
    rta->rta_len = (unsigned short)RTA_LENGTH(len);
    memcpy(RTA_DATA(rta), name, len);
    req.nh.nlmsg_len = (uint32_t)(NLMSG_ALIGN(NLMSG_LENGTH(sizeof(struct ifinfomsg))) + RTA_ALIGN(rta->rta_len));
    req.nh.nlmsg_type = RTM_DELLINK;
    req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    req.ifi.ifi_family = AF_UNSPEC;
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) return -errno;
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    int rv = -EIO;
    if (sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof sa) >= 0) {
        char buf[512];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
        if (n >= (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)) && h->nlmsg_type == NLMSG_ERROR)
            rv = ((const struct nlmsgerr *)NLMSG_DATA(h))->error;
    }
    close(fd);
    return rv;
}

static void ns_delete(const char *path)
{
    umount2(path, MNT_DETACH);
    unlink(path);
}

/* SIGKILL and reap the tracked children that still run. WNOWAIT: a child
 * that has exited is left for its owner to reap. */
static void kill_kids(struct net_rec *r)
{
    for (unsigned k = 0; k < MAX_KIDS; k++) {
        pid_t pid = r->kids[k];
        if (pid <= 0) continue;
        siginfo_t si;
        si.si_pid = 0;
        if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
        r->kids[k] = 0;
    }
}

/* Async-signal-safe. */
void net_rec_cleanup(struct net_rec *r)
{
    if (!r->live || r->owner != getpid()) return;
    kill_kids(r);
    if (r->netns) {
        for (unsigned i = 0; i < r->n; i++) nl_del_link(r->veth[i]);
        nl_del_link(r->bridge);
        for (unsigned i = 0; i < r->n; i++) ns_delete(r->nspath[i]);
    }
    r->live = 0;
}

static void cleanup_all(void)
{
    for (unsigned s = 0; s < MAX_RECS; s++) net_rec_cleanup(&recs[s]);
}

static void on_signal(int sig)
{
    cleanup_all();
    signal(sig, SIG_DFL);
    raise(sig); /* delivered once we return: the default action, death */
}

/* A program with its own handler for one of the signals, or one that
 * ignores it, keeps it and calls jnet_teardown itself. */
void net_install_handlers(void)
{
    static int done;
    if (done) return;
    done = 1;
    atexit(cleanup_all);
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (unsigned k = 0; k < sizeof sigs / sizeof sigs[0]; k++) {
        struct sigaction old, sa;
        if (sigaction(sigs[k], NULL, &old) != 0 || old.sa_handler != SIG_DFL) continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[k], &sa, NULL);
    }
}

void jnet_teardown(struct jnet *net)
{
    if (net == NULL || net->slot == 0) return;
    /* A forked child holds a copy of the parent's struct: not its hosts. */
    if (net->owner == getpid()) {
        jrelay_stop(net->relay);
        pthread_mutex_lock(&recs_mu);
        net_rec_cleanup(&recs[net->slot - 1]);
        pthread_mutex_unlock(&recs_mu);
    }
    memset(net, 0, sizeof *net);
}

/* ---- leftovers of dead runs --------------------------------------------- */

/* "kj<pid><rest>": the owner pid, or -1 if name is not one of ours. */
static long owner_of(const char *name, const char **rest)
{
    if (strncmp(name, "kj", 2) != 0 || name[2] < '1' || name[2] > '9') return -1;
    char *end;
    long pid = strtol(name + 2, &end, 10);
    *rest = end;
    return pid;
}

static int is_dead(long pid)
{
    return pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* SIGKILL every process whose network namespace is the one mounted at path. */
static void kill_inside(const char *path)
{
    struct stat ns;
    DIR *d = opendir("/proc");
    if (stat(path, &ns) != 0 || d == NULL) {
        if (d) closedir(d);
        return;
    }
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char p[64];
        struct stat st;
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        snprintf(p, sizeof p, "/proc/%s/ns/net", e->d_name);
        if (stat(p, &st) == 0 && st.st_ino == ns.st_ino && st.st_dev == ns.st_dev)
            kill((pid_t)atol(e->d_name), SIGKILL);
    }
    closedir(d);
}

int jnet_cleanup_stale(unsigned *removed, char *errmsg, size_t size)
{
    unsigned count = 0;
    const char *rest;
    DIR *d = opendir(NETNS_DIR);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        long pid = owner_of(e->d_name, &rest);
        if (pid < 0 || strncmp(rest, "-n", 2) != 0 || !is_dead(pid)) continue;
        char path[320];
        snprintf(path, sizeof path, NETNS_DIR "/%s", e->d_name);
        kill_inside(path);
        ns_delete(path);
        count++;
    }
    if (d) closedir(d);
    struct if_nameindex *ifs = if_nameindex();
    for (struct if_nameindex *p = ifs; p && p->if_index != 0; p++) {
        long pid = owner_of(p->if_name, &rest);
        if (pid < 0 || !is_dead(pid)) continue;
        if ((strcmp(rest, "br") == 0 || (rest[0] == 'v' && rest[1] >= '0' && rest[1] <= '9')) &&
            nl_del_link(p->if_name) == 0)
            count++;
    }
    if (ifs) if_freenameindex(ifs);
    if (removed) *removed = count;
    (void)errmsg;
    (void)size;
    return JNET_OK;
}
