/* jepsen/tests: the hosts (net.h) and the network nemeses (nemesis.h).
 *
 * Masks and loopback mode run anywhere. Everything else needs root (network
 * namespaces) and is skipped, saying so, without it: three hosts, a small
 * echo server forked into each (jnet_fork), and probes forked into a node
 * that connect to another and time one echo. Every child is stopped by pid;
 * waits are bounded polls, never fixed sleeps. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jepsen/net/nemesis.h"
#include "jepsen/net/net.h"

#define N 3
#define PORT 7601
#define FAIL_MS 600  /* a probe that must fail gives up after this */
#define WORK_MS 5000 /* a probe that must work may take this long */

static struct jnet net;
static pid_t servers[N];
static int have_netns;
static const char *no_netns_why = "not root";

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#define NEED_NETNS()                                                                     \
    do {                                                                                 \
        if (!have_netns) {                                                               \
            print_message("skipped: network namespaces unavailable (%s)\n", no_netns_why); \
            skip();                                                                      \
        }                                                                                \
    } while (0)

/* Echo every byte back, many clients at once. Runs in a child; never returns. */
static void echo_server(const char *addr)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    struct pollfd p[64];
    int one = 1, n = 1;
    inet_pton(AF_INET, addr, &a.sin_addr);
    p[0].fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(p[0].fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(p[0].fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(p[0].fd, 64) != 0) _exit(2);
    p[0].events = POLLIN;
    for (;;) {
        if (poll(p, (nfds_t)n, -1) < 0) continue;
        for (int k = n - 1; k >= 1; k--) {
            char buf[4096];
            if (!p[k].revents) continue;
            ssize_t got = recv(p[k].fd, buf, sizeof buf, 0);
            if (got <= 0 || send(p[k].fd, buf, (size_t)got, MSG_NOSIGNAL) != got) {
                close(p[k].fd);
                p[k] = p[--n];
            }
        }
        if ((p[0].revents & POLLIN) && n < 64) {
            int c = accept(p[0].fd, NULL, NULL);
            if (c >= 0) p[n++] = (struct pollfd){.fd = c, .events = POLLIN};
        }
    }
}

static int connect_to(const char *addr, int timeout_ms)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    struct pollfd p;
    int err = 0;
    socklen_t len = sizeof err;
    inet_pton(AF_INET, addr, &a.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS) goto fail;
    p = (struct pollfd){.fd = fd, .events = POLLOUT};
    if (poll(&p, 1, timeout_ms) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
        goto fail;
    return fd;
fail:
    close(fd);
    return -1;
}

/* One byte there and back on fd; the round trip in us, or -1. */
static int64_t echo_on(int fd, int timeout_ms)
{
    char c = 'p';
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int64_t t0 = now_us();
    if (send(fd, &c, 1, MSG_NOSIGNAL) != 1) return -1;
    if (poll(&p, 1, timeout_ms) != 1 || recv(fd, &c, 1, 0) != 1 || c != 'p') return -1;
    return now_us() - t0;
}

static int64_t echo_once(const char *addr, int timeout_ms)
{
    int fd = connect_to(addr, timeout_ms);
    if (fd < 0) return -1;
    int64_t rtt = echo_on(fd, timeout_ms);
    close(fd);
    return rtt;
}

/* Wait for pid, at most ms; SIGKILL it after. Its wait status, or -1. */
static int wait_bounded(pid_t pid, int ms)
{
    int st;
    for (int64_t end = now_us() + (int64_t)ms * 1000; now_us() < end;) {
        if (waitpid(pid, &st, WNOHANG) == pid) return st;
        poll(NULL, 0, 5);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

/* Connect from node `from` to node `to` and echo once: the round trip in
 * us, or -1 if that failed within timeout_ms. */
static int64_t probe(unsigned from, unsigned to, int timeout_ms)
{
    int p[2];
    int64_t rtt = -1;
    assert_int_equal(pipe(p), 0);
    pid_t pid = jnet_fork(&net, from);
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        rtt = echo_once(jnet_addr(&net, to), timeout_ms);
        _exit(write(p[1], &rtt, sizeof rtt) == sizeof rtt && rtt >= 0 ? 0 : 1);
    }
    close(p[1]);
    int st = wait_bounded(pid, 2 * timeout_ms + 2000);
    if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || read(p[0], &rtt, sizeof rtt) != sizeof rtt) rtt = -1;
    close(p[0]);
    return rtt;
}

/* A nemesis call that must succeed; its message shown if it does not. */
#define OK(call)                                                       \
    do {                                                               \
        int rv_ = (call);                                              \
        if (rv_ != JNET_OK) print_error("%s: %s\n", #call, err);      \
        assert_int_equal(rv_, JNET_OK);                                \
    } while (0)

#define WORKS(from, to) assert_true(probe(from, to, WORK_MS) >= 0)
#define FAILS(from, to) assert_true(probe(from, to, FAIL_MS) < 0)

/* Lines of `cmd`'s output that contain needle. */
static int count_lines(const char *cmd, const char *needle)
{
    char line[512];
    int count = 0;
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f))
        if (strstr(line, needle)) count++;
    pclose(f);
    return count;
}

static void assert_no_leftovers(const char *prefix)
{
    char ns[32];
    snprintf(ns, sizeof ns, "%s-", prefix);
    assert_int_equal(count_lines("ip netns list 2>&1", ns), 0);
    assert_int_equal(count_lines("ip -o link show 2>&1", prefix), 0);
    assert_int_equal(count_lines("nft list tables 2>&1", "keel_jepsen"), 0);
}

static int setup_hosts(void **state)
{
    char err[512];
    (void)state;
    if (geteuid() != 0) return 0;
    int rv = jnet_setup_kind(&net, N, JNET_NETNS, err, sizeof err);
    if (rv != JNET_OK) {
        print_error("jnet_setup_kind(NETNS): %s: %s\n", jnet_strerror(rv), err);
        return -1;
    }
    for (unsigned i = 0; i < N; i++) {
        servers[i] = jnet_fork(&net, i);
        if (servers[i] == 0) echo_server(jnet_addr(&net, i));
        if (servers[i] < 0) return -1;
    }
    /* The servers are up when the host reaches each of them. */
    for (unsigned i = 0; i < N; i++) {
        int64_t end = now_us() + 5000000;
        while (echo_once(jnet_addr(&net, i), 500) < 0 && now_us() < end) poll(NULL, 0, 10);
    }
    have_netns = 1;
    return 0;
}

static int teardown_hosts(void **state)
{
    (void)state;
    for (unsigned i = 0; i < N; i++) {
        if (servers[i] <= 0) continue;
        kill(servers[i], SIGKILL);
        waitpid(servers[i], NULL, 0);
        servers[i] = 0;
    }
    jnet_teardown(&net);
    return 0;
}

/* Each test starts from a healed network, even after one that failed. */
static int heal_first(void **state)
{
    char err[512];
    (void)state;
    if (have_netns && jnem_heal(&net, err, sizeof err) != JNET_OK) {
        print_error("heal: %s\n", err);
        return -1;
    }
    return 0;
}

static void test_masks(void **state)
{
    uint32_t b[5], s[5];
    char text[128];
    (void)state;
    jnem_mask_ring(5, b); /* 0 sees 4 and 1, not 2 and 3 */
    assert_int_equal(b[0], 0x0c);
    assert_int_equal(b[1], 0x18);
    assert_int_equal(b[2], 0x11);
    assert_int_equal(b[3], 0x03);
    assert_int_equal(b[4], 0x06);
    jnem_mask_ring(3, b);
    assert_int_equal(b[0] | b[1] | b[2], 0);
    jnem_mask_bridge(5, 2, b); /* {3,4} | {0,1}, 2 in both */
    assert_int_equal(b[0], 0x18);
    assert_int_equal(b[1], 0x18);
    assert_int_equal(b[2], 0);
    assert_int_equal(b[3], 0x03);
    assert_int_equal(b[4], 0x03);
    jnem_mask_bridge(5, 0, b); /* {1,2} | {3,4} */
    assert_int_equal(b[1], 0x18);
    assert_int_equal(b[4], 0x06);
    assert_int_equal(b[0], 0);
    jnem_mask_halves(5, 0x12, b); /* {1,4} | {0,2,3} */
    assert_int_equal(b[1], 0x0d);
    assert_int_equal(b[4], 0x0d);
    assert_int_equal(b[0], 0x12);
    assert_int_equal(b[3], 0x12);
    jnem_mask_isolate(5, 3, b);
    assert_int_equal(b[3], 0x17);
    assert_int_equal(b[0], 0x08);
    jnem_mask_describe(5, b, text, sizeof text);
    assert_string_equal(text, "0x{3} 1x{3} 2x{3} 3x{0,1,2,4} 4x{3}");
    /* every mask above is symmetric already; a one-sided one is completed */
    uint32_t one_sided[5] = {0x02, 0, 0, 0, 0};
    assert_int_equal(jnem_mask_symmetric(5, one_sided, s), 0);
    assert_int_equal(s[0], 0x02);
    assert_int_equal(s[1], 0x01);
    uint32_t bad[5] = {0x01, 0, 0, 0, 0x20}; /* self, and node 5 of 5 */
    assert_int_equal(jnem_mask_symmetric(5, bad, s), -1);
    jnem_mask_all(5, b);
    assert_int_equal(b[2], 0x1b);
    jnem_mask_describe(3, (uint32_t[3]){0}, text, sizeof text);
    assert_string_equal(text, "none");
}

static void test_loopback(void **state)
{
    struct jnet lo;
    char err[512], log[] = "/tmp/jnet-lo-XXXXXX";
    uint32_t b[3];
    (void)state;
    assert_int_equal(jnet_setup_kind(&lo, 3, JNET_LOOPBACK, err, sizeof err), JNET_OK);
    assert_int_equal(jnet_kind(&lo), JNET_LOOPBACK);
    assert_string_equal(jnet_addr(&lo, 2), "127.0.77.3");
    assert_non_null(strstr(jnet_mode(&lo), "loopback"));
    jnem_mask_isolate(3, 0, b);
    assert_int_equal(jnem_partition(&lo, b, err, sizeof err), JNET_EUNSUPPORTED);
    assert_non_null(strstr(err, "loopback"));
    assert_int_equal(jnem_slow(&lo, b, PORT, 10, 0, err, sizeof err), JNET_EUNSUPPORTED);
    assert_int_equal(jnem_heal(&lo, err, sizeof err), JNET_OK);
    /* spawn: the pid is the program itself; a missing program is an error */
    int fd = mkstemp(log);
    assert_true(fd >= 0);
    close(fd);
    pid_t pid = jnet_spawn(&lo, 1, (char *const[]){"sleep", "30", NULL}, log);
    assert_true(pid > 0);
    char comm[64] = "", path[64];
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(comm, sizeof comm, f));
    fclose(f);
    assert_string_equal(comm, "sleep\n");
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    errno = 0;
    assert_int_equal(jnet_spawn(&lo, 0, (char *const[]){"/nonexistent/keeld", NULL}, log), -1);
    assert_int_equal(errno, ENOENT);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "cat %s", log);
    assert_int_equal(count_lines(cmd, "cannot run /nonexistent/keeld"), 1);
    unlink(log);
    jnet_teardown(&lo);
    jnet_teardown(&lo); /* idempotent */
}

/* jnet_setup picks the mode: netns as root, loopback (saying why) if not. */
static void test_auto(void **state)
{
    struct jnet a;
    char err[512];
    (void)state;
    assert_int_equal(jnet_setup(&a, 3, err, sizeof err), JNET_OK);
    print_message("auto: %s\n", jnet_mode(&a));
    if (geteuid() == 0) {
        assert_int_equal(jnet_kind(&a), JNET_NETNS);
        assert_true(strncmp(jnet_addr(&a, 0), "10.77.", 6) == 0);
    } else {
        assert_int_equal(jnet_kind(&a), JNET_LOOPBACK);
        assert_non_null(strstr(jnet_mode(&a), "need root"));
    }
    jnet_teardown(&a);
}

static void test_hosts(void **state)
{
    (void)state;
    NEED_NETNS();
    assert_int_equal(jnet_kind(&net), JNET_NETNS);
    assert_true(strncmp(jnet_mode(&net), "netns:", 6) == 0);
    print_message("hosts: %s\n", jnet_mode(&net));
    assert_int_equal(count_lines("ip netns list", jnet_ns(&net, 2)), 1);
    char cmd[128]; /* IPv4 only: the nemeses' rules are ip-family */
    snprintf(cmd, sizeof cmd, "ip -n %s addr show dev eth0", jnet_ns(&net, 1));
    assert_int_equal(count_lines(cmd, jnet_addr(&net, 1)), 1);
    assert_int_equal(count_lines(cmd, "inet6"), 0);
    for (unsigned i = 0; i < N; i++) assert_true(echo_once(jnet_addr(&net, i), WORK_MS) >= 0);
    WORKS(0, 1);
    WORKS(1, 2);
    WORKS(2, 0);
}

static void test_spawn(void **state)
{
    char log[] = "/tmp/jnet-spawn-XXXXXX", path[96];
    struct stat in_proc, in_ns;
    (void)state;
    NEED_NETNS();
    int fd = mkstemp(log);
    assert_true(fd >= 0);
    close(fd);
    pid_t pid = jnet_spawn(&net, 1, (char *const[]){"sleep", "30", NULL}, log);
    assert_true(pid > 0);
    /* the pid is sleep itself, and it lives in node 1's namespace */
    snprintf(path, sizeof path, "/proc/%d/ns/net", (int)pid);
    assert_int_equal(stat(path, &in_proc), 0);
    snprintf(path, sizeof path, "/var/run/netns/%s", jnet_ns(&net, 1));
    assert_int_equal(stat(path, &in_ns), 0);
    assert_true(in_proc.st_ino == in_ns.st_ino);
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    /* output goes to the log, appended */
    pid = jnet_spawn(&net, 1, (char *const[]){"ip", "-o", "-4", "addr", "show", "dev", "eth0", NULL}, log);
    assert_true(pid > 0);
    int st = wait_bounded(pid, WORK_MS);
    assert_true(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "cat %s", log);
    assert_int_equal(count_lines(cmd, jnet_addr(&net, 1)), 1);
    unlink(log);
}

static void test_partition(void **state)
{
    uint32_t b[N];
    char err[512];
    (void)state;
    NEED_NETNS();
    jnem_mask_isolate(N, 0, b);
    OK(jnem_partition(&net, b, err, sizeof err));
    FAILS(0, 1);
    FAILS(1, 0);
    FAILS(0, 2);
    WORKS(1, 2);
    assert_true(echo_once(jnet_addr(&net, 0), WORK_MS) >= 0); /* clients still reach node 0 */
    OK(jnem_heal(&net, err, sizeof err));
    char cmd[128]; /* healed: no table left behind */
    snprintf(cmd, sizeof cmd, "ip netns exec %s nft list tables", jnet_ns(&net, 0));
    assert_int_equal(count_lines(cmd, "keel_jepsen"), 0);
    WORKS(0, 1);
    WORKS(2, 0);
}

/* A connection from node 0 to node 1 opened before the latency starts; the
 * child reports (exit 0) that it was cut once the parent says go. */
static pid_t held_connection(int ready[2], int go[2])
{
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(go), 0);
    pid_t pid = jnet_fork(&net, 0);
    assert_true(pid >= 0);
    if (pid == 0) {
        char c;
        int fd = connect_to(jnet_addr(&net, 1), WORK_MS);
        c = fd >= 0 && echo_on(fd, WORK_MS) >= 0 ? 'y' : 'n';
        if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1) _exit(2);
        /* Reset by the nemesis: the echo fails (or comes back through
         * nothing: the server end was reset too). */
        _exit(echo_on(fd, 1000) < 0 ? 0 : 1);
    }
    close(ready[1]);
    close(go[0]);
    return pid;
}

static void test_latency(void **state)
{
    const unsigned delay = 100;
    uint32_t m[N] = {0x2, 0, 0}, b[N];
    uint64_t conns = 0, bytes = 0;
    char err[512], c;
    int ready[2], go[2];
    (void)state;
    NEED_NETNS();
    /* Cut node 2 first: node 0 then has rules, so conntrack already
     * tracks the held connection, as it would a raft connection during a
     * run; such a connection never passes the nat hook again and must be
     * reset for the latency to reach it. */
    jnem_mask_isolate(N, 2, b);
    OK(jnem_partition(&net, b, err, sizeof err));
    pid_t held = held_connection(ready, go);
    assert_int_equal(read(ready[0], &c, 1), 1);
    assert_int_equal(c, 'y');
    OK(jnem_slow(&net, m, PORT, delay, 0, err, sizeof err));
    assert_int_equal(write(go[1], "g", 1), 1);
    int st = wait_bounded(held, WORK_MS);
    close(ready[0]);
    close(go[1]);
    assert_true(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* every byte waits delay ms each way */
    int64_t rtt = probe(0, 1, WORK_MS);
    print_message("rtt 0->1 with %u ms each way: %.1f ms\n", delay, (double)rtt / 1000);
    assert_true(rtt >= (int64_t)2 * delay * 1000);
    rtt = probe(1, 0, WORK_MS);
    assert_true(rtt >= (int64_t)2 * delay * 1000);
    assert_int_equal(jnem_slow_stats(&net, 0, 1, &conns, &bytes), 0);
    assert_true(conns >= 1 && bytes >= 2);
    memset(b, 0, sizeof b); /* the partition goes, the latency stays */
    OK(jnem_partition(&net, b, err, sizeof err));
    assert_true(probe(0, 1, WORK_MS) >= (int64_t)2 * delay * 1000);
    WORKS(1, 2);
    assert_int_equal(jnem_slow_stats(&net, 1, 2, &conns, &bytes), -1);
    /* a partition also cuts connections through the relay */
    jnem_mask_isolate(N, 0, b);
    OK(jnem_partition(&net, b, err, sizeof err));
    FAILS(0, 1);
    FAILS(1, 0);
    OK(jnem_heal(&net, err, sizeof err));
    assert_int_equal(jnem_slow_stats(&net, 0, 1, &conns, &bytes), -1);
    WORKS(0, 1);
    WORKS(1, 0);
}

static void test_loss(void **state)
{
    uint32_t m[N] = {0x2, 0, 0};
    char err[512], cmd[128];
    (void)state;
    NEED_NETNS();
    assert_int_equal(jnem_loss(&net, m, 101, err, sizeof err), JNET_EINVAL);
    OK(jnem_loss(&net, m, 100, err, sizeof err));
    FAILS(0, 1);
    FAILS(1, 0);
    WORKS(0, 2);
    OK(jnem_loss(&net, m, 50, err, sizeof err)); /* random: only the rule can be checked */
    snprintf(cmd, sizeof cmd, "ip netns exec %s nft list ruleset", jnet_ns(&net, 1));
    /* out: direct and relayed; in: relayed (see nemesis.h) */
    assert_int_equal(count_lines(cmd, "numgen random mod 100 < 50 drop"), 3);
    OK(jnem_loss(&net, m, 0, err, sizeof err));
    WORKS(0, 1);
}

static void test_teardown(void **state)
{
    char prefix[16];
    (void)state;
    NEED_NETNS();
    snprintf(prefix, sizeof prefix, "%s", net.prefix);
    teardown_hosts(NULL);
    assert_no_leftovers(prefix);
    jnet_teardown(&net); /* idempotent */
}

/* A child sets up hosts, tells us its prefix, then waits to be killed. */
static pid_t child_with_hosts(char *prefix, size_t size)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct jnet mine;
        char err[512];
        close(p[0]);
        if (jnet_setup_kind(&mine, N, JNET_NETNS, err, sizeof err) != JNET_OK) _exit(2);
        if (write(p[1], mine.prefix, sizeof mine.prefix) != sizeof mine.prefix) _exit(3);
        for (;;) pause();
    }
    close(p[1]);
    char got[sizeof net.prefix] = "";
    assert_int_equal(read(p[0], got, sizeof got), sizeof got);
    close(p[0]);
    snprintf(prefix, size, "%s", got);
    char ns[32];
    snprintf(ns, sizeof ns, "%s-n0", prefix);
    assert_int_equal(count_lines("ip netns list", ns), 1);
    return pid;
}

static void test_signal_teardown(void **state)
{
    char prefix[16];
    (void)state;
    NEED_NETNS();
    pid_t pid = child_with_hosts(prefix, sizeof prefix);
    kill(pid, SIGTERM);
    int st = wait_bounded(pid, WORK_MS);
    assert_true(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
    assert_no_leftovers(prefix);
}

static void test_stale(void **state)
{
    char prefix[16], err[512];
    unsigned removed = 0;
    (void)state;
    NEED_NETNS();
    pid_t pid = child_with_hosts(prefix, sizeof prefix);
    kill(pid, SIGKILL); /* no handler runs: the hosts stay behind */
    assert_true(wait_bounded(pid, WORK_MS) >= 0);
    char ns[32];
    snprintf(ns, sizeof ns, "%s-", prefix);
    assert_int_equal(count_lines("ip netns list", ns), N);
    assert_int_equal(jnet_cleanup_stale(&removed, err, sizeof err), JNET_OK);
    assert_true(removed >= N);
    assert_no_leftovers(prefix);
}

int main(void)
{
    const struct CMUnitTest anywhere[] = {
        cmocka_unit_test(test_masks),
        cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_auto),
    };
    const struct CMUnitTest hosts[] = {
        cmocka_unit_test_setup(test_hosts, heal_first),
        cmocka_unit_test_setup(test_spawn, heal_first),
        cmocka_unit_test_setup(test_partition, heal_first),
        cmocka_unit_test_setup(test_latency, heal_first),
        cmocka_unit_test_setup(test_loss, heal_first),
        cmocka_unit_test_setup(test_teardown, heal_first),
        cmocka_unit_test(test_signal_teardown),
        cmocka_unit_test(test_stale),
    };
    int failed = cmocka_run_group_tests_name("jnet_anywhere", anywhere, NULL, NULL);
    failed += cmocka_run_group_tests_name("jnet_hosts", hosts, setup_hosts, teardown_hosts);
    if (failed == 0 && geteuid() != 0) {
        fprintf(stderr, "test_jepsen_net: network namespace tests SKIPPED: not root\n");
        return 77; /* ctest: SKIP_RETURN_CODE */
    }
    return failed;
}
