/* jepsen: the test hosts (see net.h).
 *
 * Setup runs `ip` (two batches: the host side, then one per namespace);
 * teardown must also work from a signal handler, so it is written with
 * system calls only, from a static record of what setup made: deleting a
 * veth end or the bridge is one RTM_DELLINK netlink message, deleting a
 * namespace is what `ip netns del` does (detach its nsfs mount, unlink). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jepsen/net.h"
#include "jepsen/relay.h"

#define NETNS_DIR "/var/run/netns"
#define MAX_RECS 4
#define MAX_KIDS 256

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

/* What teardown needs, kept in static memory: atexit and signal handlers
 * can reach it even when the struct jnet it came from is gone. */
struct rec
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

static struct rec recs[MAX_RECS];
static pthread_mutex_t recs_mu = PTHREAD_MUTEX_INITIALIZER;

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
static void kill_kids(struct rec *r)
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
static void rec_cleanup(struct rec *r)
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
    for (unsigned s = 0; s < MAX_RECS; s++) rec_cleanup(&recs[s]);
}

static void on_signal(int sig)
{
    cleanup_all();
    signal(sig, SIG_DFL);
    raise(sig); /* delivered once we return: the default action, death */
}

/* Once per process: atexit, and handlers for the signals whose disposition
 * is still the default (a program with its own handler, or one that
 * ignores the signal, keeps it and calls jnet_teardown itself). */
static void install_handlers(void)
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

static void track(const struct jnet *net, pid_t pid)
{
    if (net->slot == 0) return;
    struct rec *r = &recs[net->slot - 1];
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

/* exec argv[0] from PATH, else from /usr/sbin or /sbin (ctest may run
 * with a PATH that lacks them). alt holds the two fallbacks, made before
 * fork. */
static void exec_cmd(char *const argv[], char alt[2][128])
{
    execvp(argv[0], argv);
    if (strchr(argv[0], '/') == NULL) {
        execv(alt[0], argv);
        execv(alt[1], argv);
    }
}

static void make_alt(const char *name, char alt[2][128])
{
    snprintf(alt[0], 128, "/usr/sbin/%s", name);
    snprintf(alt[1], 128, "/sbin/%s", name);
}

static int open_ns(const struct jnet *net, int i)
{
    if (net->kind != JNET_NETNS || i < 0) return -2; /* no namespace to enter */
    char path[96];
    snprintf(path, sizeof path, NETNS_DIR "/%s", net->ns[i]);
    return open(path, O_RDONLY | O_CLOEXEC);
}

int jnet_run(const struct jnet *net, int i, char *const argv[], const char *input, char *errmsg,
             size_t size)
{
    size_t inlen = input ? strlen(input) : 0;
    if (argv == NULL || argv[0] == NULL || inlen > (60u << 10) || (i >= 0 && (unsigned)i >= net->n))
        return snprintf(errmsg, size, "jnet_run: invalid argument"), JNET_EINVAL;
    char alt[2][128];
    make_alt(argv[0], alt);
    int nsfd = open_ns(net, i);
    if (nsfd == -1) return snprintf(errmsg, size, "open namespace %s: %s", net->ns[i], strerror(errno)), JNET_ESYS;
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
        snprintf(errmsg, size, "pipe: %s", strerror(errno));
        for (int k = 0; k < 2; k++) {
            if (in[k] >= 0) close(in[k]);
            if (out[k] >= 0) close(out[k]);
        }
        if (nsfd >= 0) close(nsfd);
        return JNET_ESYS;
    }
    pid_t pid = fork();
    if (pid == 0) {
        if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET) != 0) _exit(126);
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(out[1], 2);
        exec_cmd(argv, alt);
        dprintf(2, "cannot run %s: %s", argv[0], strerror(errno));
        _exit(127);
    }
    int saved = errno;
    close(in[0]);
    close(out[1]);
    if (nsfd >= 0) close(nsfd);
    if (pid < 0) {
        close(in[1]);
        close(out[0]);
        return snprintf(errmsg, size, "fork: %s", strerror(saved)), JNET_ESYS;
    }
    /* At most 60 KiB: it fits in the pipe, so this never blocks. */
    if (inlen > 0 && write(in[1], input, inlen) != (ssize_t)inlen) { /* the exit status tells */
    }
    close(in[1]);
    char text[1024];
    size_t got = 0;
    for (;;) {
        char tmp[512];
        ssize_t n = read(out[0], tmp, sizeof tmp);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        size_t take = (size_t)n < sizeof text - 1 - got ? (size_t)n : sizeof text - 1 - got;
        memcpy(text + got, tmp, take);
        got += take;
    }
    close(out[0]);
    text[got] = 0;
    while (got > 0 && (text[got - 1] == '\n' || text[got - 1] == ' ')) text[--got] = 0;
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return JNET_OK;
    size_t off = 0;
    for (unsigned k = 0; argv[k] && off < size; k++)
        off += (size_t)snprintf(errmsg + off, size - off, "%s%s", k ? " " : "", argv[k]);
    if (i >= 0 && net->kind == JNET_NETNS && off < size)
        off += (size_t)snprintf(errmsg + off, size - off, " (in %s)", net->ns[i]);
    if (off < size) {
        if (WIFEXITED(st) && WEXITSTATUS(st) == 126)
            snprintf(errmsg + off, size - off, ": cannot enter the namespace");
        else if (WIFEXITED(st)) snprintf(errmsg + off, size - off, ": exit %d: %s", WEXITSTATUS(st), text);
        else snprintf(errmsg + off, size - off, ": killed by signal %d", WTERMSIG(st));
    }
    return JNET_ECMD;
}

/* fork into node i; in the child, *err_fd is where to report. */
static pid_t fork_into(struct jnet *net, unsigned i, int status[2])
{
    int nsfd = open_ns(net, (int)i);
    if (nsfd == -1) return -1;
    if (pipe2(status, O_CLOEXEC) != 0) {
        if (nsfd >= 0) close(nsfd);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(status[0]);
        if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET) != 0) {
            int e = errno;
            ssize_t w = write(status[1], &e, sizeof e);
            (void)w;
            _exit(126);
        }
        if (nsfd >= 0) close(nsfd);
        return 0;
    }
    int saved = errno;
    if (nsfd >= 0) close(nsfd);
    close(status[1]);
    if (pid < 0) {
        close(status[0]);
        errno = saved;
    }
    return pid;
}

/* The parent's half: 0 bytes on the status pipe mean the child got past
 * the point that can fail (setns; exec for spawn). */
static pid_t fork_result(struct jnet *net, pid_t pid, int fd)
{
    int e = 0;
    ssize_t n;
    while ((n = read(fd, &e, sizeof e)) < 0 && errno == EINTR) {
    }
    close(fd);
    if (n == (ssize_t)sizeof e) {
        waitpid(pid, NULL, 0);
        errno = e;
        return -1;
    }
    track(net, pid);
    return pid;
}

pid_t jnet_fork(struct jnet *net, unsigned i)
{
    int status[2];
    if (i >= net->n) return errno = EINVAL, -1;
    pid_t pid = fork_into(net, i, status);
    if (pid == 0) {
        close(status[1]); /* nothing to report: the caller's code runs now */
        return 0;
    }
    return pid < 0 ? -1 : fork_result(net, pid, status[0]);
}

pid_t jnet_spawn(struct jnet *net, unsigned i, char *const argv[], const char *log_path)
{
    int status[2];
    if (i >= net->n || argv == NULL || argv[0] == NULL) return errno = EINVAL, -1;
    char alt[2][128];
    make_alt(argv[0], alt);
    int logfd = open(log_path ? log_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (logfd < 0 || nullfd < 0) {
        int e = errno;
        if (logfd >= 0) close(logfd);
        if (nullfd >= 0) close(nullfd);
        return errno = e, -1;
    }
    pid_t pid = fork_into(net, i, status);
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL); /* client libraries often ignore it; exec would keep that */
        dup2(nullfd, 0);
        dup2(logfd, 1);
        dup2(logfd, 2);
        exec_cmd(argv, alt);
        int e = errno;
        ssize_t w = write(status[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    int saved = errno;
    close(nullfd);
    if (pid > 0) {
        pid = fork_result(net, pid, status[0]);
        saved = errno;
        if (pid < 0) dprintf(logfd, "jepsen: cannot run %s on node %u: %s\n", argv[0], i, strerror(saved));
    }
    close(logfd);
    errno = saved;
    return pid;
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

static int setup_netns(struct jnet *net, struct rec *r, char *errmsg, size_t size)
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
    pthread_mutex_lock(&recs_mu);
    for (unsigned s = 0; s < MAX_RECS && net->slot == 0; s++) {
        if (recs[s].live && recs[s].owner == net->owner) continue;
        memset((void *)&recs[s], 0, sizeof recs[s]);
        recs[s].owner = net->owner;
        recs[s].n = n;
        recs[s].live = 1;
        net->slot = (int)s + 1;
    }
    pthread_mutex_unlock(&recs_mu);
    if (net->slot == 0) {
        memset(net, 0, sizeof *net);
        return snprintf(errmsg, size, "hosts: more than %d set up at once", MAX_RECS), JNET_EBUSY;
    }
    install_handlers();
    char why[300];
    int rv = JNET_OK;
    if (want == JNET_LOOPBACK) {
        snprintf(why, sizeof why, "asked for");
    } else if (geteuid() != 0) {
        rv = JNET_EUNSUPPORTED;
        snprintf(errmsg, size, "network namespaces need root");
    } else {
        rv = setup_netns(net, &recs[net->slot - 1], errmsg, size);
    }
    if (rv != JNET_OK) {
        rec_cleanup(&recs[net->slot - 1]); /* whatever part was made */
        recs[net->slot - 1].live = 0;
        if (want == JNET_NETNS) {
            memset(net, 0, sizeof *net);
            return rv;
        }
        snprintf(why, sizeof why, "netns unavailable: %.250s", errmsg);
        recs[net->slot - 1].owner = net->owner;
        recs[net->slot - 1].live = 1;
        recs[net->slot - 1].netns = 0;
    }
    if (want == JNET_LOOPBACK || rv != JNET_OK) setup_loopback(net, why);
    return JNET_OK;
}

int jnet_setup(struct jnet *net, unsigned n, char *errmsg, size_t size)
{
    return jnet_setup_kind(net, n, JNET_AUTO, errmsg, size);
}

void jnet_teardown(struct jnet *net)
{
    if (net == NULL || net->slot == 0) return;
    /* A forked child holds a copy of the parent's struct: not its hosts. */
    if (net->owner == getpid()) {
        jrelay_stop(net->relay);
        pthread_mutex_lock(&recs_mu);
        rec_cleanup(&recs[net->slot - 1]);
        pthread_mutex_unlock(&recs_mu);
    }
    memset(net, 0, sizeof *net);
}
