/* tests/integration: the keeld process harness. See kc.h. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kc.h"
#include "tests/lib/testlib.h"

const char *kc_keeld(void)
{
    const char *p = getenv("KEELD");
    return p ? p : "keeld";
}

long long kc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void kc_pause_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Ports are taken below the kernel's ephemeral range (32768-60999 on
 * Debian): a port the kernel hands out for bind(0) is also what it hands out
 * as the source port of an outgoing connection, so a node's raft client
 * could take it between our check and the node's listen ("address already in
 * use"; seen in CI with two tests running side by side). Each test process
 * walks its own stretch, derived from its pid, so concurrent tests rarely
 * meet, and a port is only used if a bind to it succeeds right now. */
#define KC_PORT_LO 20000u
#define KC_PORT_N 12000u

unsigned kc_free_port(void)
{
    static unsigned next;
    if (next == 0) next = (unsigned)getpid() * 211u % KC_PORT_N;
    for (unsigned tries = 0; tries < KC_PORT_N; tries++) {
        unsigned port = KC_PORT_LO + next++ % KC_PORT_N;
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                .sin_port = htons((uint16_t)port)};
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        int rc = bind(fd, (struct sockaddr *)&a, sizeof a);
        close(fd);
        if (rc == 0) return port;
    }
    fail_msg("no free port in %u-%u", KC_PORT_LO, KC_PORT_LO + KC_PORT_N - 1);
    return 0;
}

/* Every pid started, so that a test that fails half-way (cmocka longjmps
 * past its kc_stop) still leaves no process behind when the runner exits. */
static pid_t started[256];
static unsigned n_started;

static void kill_leftovers(void)
{
    for (unsigned i = 0; i < n_started; i++) {
        if (started[i] > 0 && kill(started[i], 0) == 0) {
            kill(started[i], SIGCONT);
            kill(started[i], SIGKILL);
            waitpid(started[i], NULL, 0);
        }
    }
}

void kc_spawn_node(struct kc *c, unsigned i)
{
    struct kc_node *n = &c->nodes[i];
    char args[4096], how[600];
    if (n->join[0]) snprintf(how, sizeof how, "--join %s", n->join);
    else snprintf(how, sizeof how, "--cluster %s", c->cluster);
    snprintf(args, sizeof args,
             "exec '%s' --id %u --data-dir '%s' --raft-addr 127.0.0.1:%u --client-addr "
             "127.0.0.1:%u %s %s %s >>'%s' 2>&1",
             kc_keeld(), n->id, n->dir, n->raft_port, n->client_port, how, c->extra, n->extra, n->log);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* keeld takes SIGTERM and SIGINT with sigwait, keeping them blocked
         * from the first lines of main on; a signal that came between exec
         * and then (the loader, sanitizer start-up: tens of ms on a loaded
         * machine) killed it by the default action, which
         * test_stop_during_startup hit. The mask survives exec, as a
         * supervisor's would: the signal waits for keeld. */
        sigset_t stop;
        sigemptyset(&stop);
        sigaddset(&stop, SIGTERM);
        sigaddset(&stop, SIGINT);
        sigprocmask(SIG_BLOCK, &stop, NULL);
        execl("/bin/sh", "sh", "-c", args, (char *)NULL);
        _exit(127);
    }
    n->pid = pid;
    if (n_started == 0) atexit(kill_leftovers);
    if (n_started < sizeof started / sizeof started[0]) started[n_started++] = pid;
}

/* The end of a node's log on stderr: the test dir is gone after teardown. */
static void show_log(const struct kc_node *n)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "tail -n 25 '%s' >&2", n->log);
    fprintf(stderr, "--- last lines of %s:\n", n->log);
    if (system(cmd) != 0) fprintf(stderr, "(no log)\n");
}

bool kc_exited(struct kc *c, unsigned i)
{
    struct kc_node *n = &c->nodes[i];
    if (n->pid <= 0) return true;
    if (waitpid(n->pid, NULL, WNOHANG) != n->pid) return false;
    n->pid = 0;
    return true;
}

void kc_start_node(struct kc *c, unsigned i)
{
    struct kc_node *n = &c->nodes[i];
    pid_t pid;
    kc_spawn_node(c, i);
    pid = n->pid;
    /* Bounded wait for the client port to answer. */
    for (int tries = 0; tries < 600; tries++) { /* 30 s: a sanitizer build replaying a long log under load is slow */
        redisContext *ctx = redisConnect("127.0.0.1", (int)n->client_port);
        bool up = ctx != NULL && !ctx->err;
        if (ctx) redisFree(ctx);
        if (up) return;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            n->pid = 0;
            show_log(n);
            fail_msg("keeld %u exited during start; see %s", n->id, n->log);
        }
        kc_pause_ms(50);
    }
    show_log(n);
    fail_msg("keeld %u did not listen within 30 s; see %s", n->id, n->log);
}

void kc_prepare(struct kc *c, unsigned n, const char *extra)
{
    memset(c, 0, sizeof *c);
    c->base = test_mkdtemp("keeld");
    assert_non_null(c->base);
    c->n = n;
    snprintf(c->extra, sizeof c->extra, "%s", extra ? extra : "");
    size_t off = 0;
    for (unsigned i = 0; i < n; i++) {
        struct kc_node *node = &c->nodes[i];
        node->id = i + 1;
        node->raft_port = kc_free_port();
        node->client_port = kc_free_port();
        snprintf(node->dir, sizeof node->dir, "%s/node%u", c->base, i + 1);
        snprintf(node->log, sizeof node->log, "%s/node%u.log", c->base, i + 1);
        off += (size_t)snprintf(c->cluster + off, sizeof c->cluster - off, "%s%u=127.0.0.1:%u",
                                i ? "," : "", node->id, node->raft_port);
    }
}

void kc_start(struct kc *c, unsigned n, const char *extra)
{
    kc_prepare(c, n, extra);
    for (unsigned i = 0; i < n; i++) kc_start_node(c, i);
}

int kc_start_leader(struct kc *c, unsigned n, const char *extra)
{
    kc_start(c, n, extra);
    int leader = kc_leader(c, 10000);
    if (leader < 0) fail_msg("no leader within 10 s of starting %u nodes", n);
    return leader;
}

unsigned kc_add_node(struct kc *c, unsigned via)
{
    unsigned i = kc_prepare_node(c, via);
    kc_start_node(c, i);
    return i;
}

unsigned kc_prepare_node(struct kc *c, unsigned via)
{
    unsigned i = c->n++;
    struct kc_node *node = &c->nodes[i];
    assert_true(i < KC_MAX);
    node->id = i + 1;
    node->raft_port = kc_free_port();
    node->client_port = kc_free_port();
    snprintf(node->dir, sizeof node->dir, "%s/node%u", c->base, i + 1);
    snprintf(node->log, sizeof node->log, "%s/node%u.log", c->base, i + 1);
    snprintf(node->join, sizeof node->join, "127.0.0.1:%u", c->nodes[via].client_port);
    return i;
}

static void show_log_tail(const char *path)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "tail -n 40 '%s' >&2", path);
    if (system(cmd) != 0) print_message("(no log at %s)\n", path);
}

/* Wait (bounded: 10 s, then SIGKILL) for node n to exit; true if it exited
 * by itself with status 0. */
static bool reap(struct kc_node *n)
{
    int status = 0;
    bool reaped = false;
    for (int tries = 0; tries < 200 && !reaped; tries++) {
        reaped = waitpid(n->pid, &status, WNOHANG) == n->pid;
        if (!reaped) kc_pause_ms(50);
    }
    if (!reaped) {
        kill(n->pid, SIGKILL);
        waitpid(n->pid, &status, 0);
    }
    n->pid = 0;
    return reaped && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

void kc_signal(struct kc *c, unsigned i, int sig)
{
    struct kc_node *n = &c->nodes[i];
    if (n->pid <= 0) return;
    kill(n->pid, sig);
    if (sig == SIGKILL) {
        reap(n);
    } else if (sig == SIGTERM && !reap(n)) {
        show_log_tail(n->log);
        fail_msg("keeld %u did not shut down cleanly after SIGTERM", n->id);
    }
}

void kc_stop(struct kc *c)
{
    char *base = c->base;
    c->base = NULL; /* a failure below must not bring a teardown back here */
    for (unsigned i = 0; i < c->n; i++) {
        if (c->nodes[i].pid > 0) kill(c->nodes[i].pid, SIGCONT); /* a paused one too */
    }
    int unclean = 0;
    for (unsigned i = 0; i < c->n; i++) {
        struct kc_node *n = &c->nodes[i];
        if (n->pid <= 0) continue;
        kill(n->pid, SIGTERM);
        if (!reap(n)) {
            show_log_tail(n->log);
            unclean++;
        }
    }
    if (getenv("KC_KEEP") == NULL) test_rmdtemp(base);
    else free(base);
    if (unclean > 0) fail_msg("%d keeld process(es) did not shut down cleanly", unclean);
}

redisContext *kc_connect_within(struct kc *c, unsigned i, unsigned ms)
{
    struct timeval tv = {ms / 1000, (long)(ms % 1000) * 1000};
    redisContext *ctx = redisConnectWithTimeout("127.0.0.1", (int)c->nodes[i].client_port, tv);
    if (ctx != NULL && !ctx->err) redisSetTimeout(ctx, tv);
    if (ctx != NULL && !ctx->err && c->auth_pass[0] != 0) {
        redisReply *r = redisCommand(ctx, "AUTH %s %s", c->auth_user[0] ? c->auth_user : "default", c->auth_pass);
        if (r != NULL) freeReplyObject(r);
    }
    return ctx;
}

redisContext *kc_connect(struct kc *c, unsigned i)
{
    return kc_connect_within(c, i, 5000);
}

static redisReply *vcmd(struct kc *c, unsigned i, unsigned ms, const char *fmt, va_list ap)
{
    redisContext *ctx = kc_connect_within(c, i, ms);
    redisReply *r = NULL;
    if (ctx != NULL && !ctx->err) r = redisvCommand(ctx, fmt, ap);
    if (ctx) redisFree(ctx);
    return r;
}

redisReply *kc_cmd(struct kc *c, unsigned i, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = vcmd(c, i, 5000, fmt, ap);
    va_end(ap);
    return r;
}

redisReply *kc_cmd_within(struct kc *c, unsigned i, unsigned ms, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = vcmd(c, i, ms, fmt, ap);
    va_end(ap);
    return r;
}

static int role_of(struct kc *c, unsigned i)
{
    redisReply *r = kc_cmd(c, i, "ROLE");
    int role = -1;
    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
        r->element[0]->type == REDIS_REPLY_STRING)
        role = strcmp(r->element[0]->str, "master") == 0;
    if (r) freeReplyObject(r);
    return role;
}

int kc_leader(struct kc *c, unsigned ms)
{
    long long deadline = kc_now_ms() + ms;
    do {
        int leader = -1, leaders = 0;
        for (unsigned i = 0; i < c->n; i++) {
            if (c->nodes[i].pid <= 0) continue;
            if (role_of(c, i) == 1) {
                leader = (int)i;
                leaders++;
            }
        }
        if (leaders == 1) {
            /* Ready when every live node knows where to forward: the leader's
             * client address has replicated to it. */
            char want[64];
            bool ok = true;
            snprintf(want, sizeof want, "leader_client_addr:127.0.0.1:%u",
                     c->nodes[leader].client_port);
            for (unsigned i = 0; i < c->n && ok; i++) {
                if (c->nodes[i].pid <= 0) continue;
                redisReply *r = kc_cmd(c, i, "INFO raft");
                ok = r != NULL && r->type == REDIS_REPLY_STRING && strstr(r->str, want) != NULL;
                if (r) freeReplyObject(r);
            }
            if (ok) return leader;
        }
        kc_pause_ms(50);
    } while (kc_now_ms() < deadline);
    return -1;
}

long kc_rss_kb(struct kc *c, unsigned i)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)c->nodes[i].pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "RssAnon: %ld", &kb) == 1) break; /* not LMDB's file pages */
    }
    fclose(f);
    return kb;
}

void kc_endpoints(const struct kc *c, char *buf, size_t size)
{
    size_t off = 0;
    buf[0] = 0;
    for (unsigned i = 0; i < c->n && off < size; i++)
        off += (size_t)snprintf(buf + off, size - off, "%s127.0.0.1:%u", i ? "," : "", c->nodes[i].client_port);
}

void kc_assert_unreachable(const char *err, const char *eps)
{
    char list[512];
    snprintf(list, sizeof list, "%s", eps);
    assert_non_null(strstr(err, "no leader"));
    char *save = NULL;
    for (char *ep = strtok_r(list, ",", &save); ep != NULL; ep = strtok_r(NULL, ",", &save))
        assert_non_null(strstr(err, ep));
    assert_non_null(strstr(err, "refused"));
}

static size_t read_all(FILE *f, char *buf, size_t size)
{
    size_t n = f ? fread(buf, 1, size - 1, f) : 0;
    buf[n] = 0;
    return n;
}

/* Run "'prog' args 2>c->base/name.err" through the shell: its exit status
 * (the test fails if it did not exit), stdout in out, stderr in err. */
static int run_tool(const struct kc *c, const char *prog, const char *name, const char *args, char *out,
                    size_t outsize, char *err, size_t errsize)
{
    char cmd[4096], errpath[600];
    snprintf(errpath, sizeof errpath, "%s/%s.err", c->base, name);
    snprintf(cmd, sizeof cmd, "'%s' %s 2>'%s'", prog, args, errpath);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    read_all(p, out, outsize);
    int st = pclose(p);
    FILE *e = fopen(errpath, "r");
    read_all(e, err, errsize);
    if (e) fclose(e);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

int kc_keelctl(const struct kc *c, char *out, size_t outsize, char *err, size_t errsize, const char *fmt, ...)
{
    char args[2048], eps[512], line[3072];
    const char *keelctl = getenv("KEELCTL") ? getenv("KEELCTL") : "keelctl";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    bool own = strstr(args, "--endpoints") != NULL;
    kc_endpoints(c, eps, sizeof eps);
    snprintf(line, sizeof line, "%s%s %s", own ? "" : "--endpoints ", own ? "" : eps, args);
    return run_tool(c, keelctl, "keelctl", line, out, outsize, err, errsize);
}

int kc_keelutl(const struct kc *c, char *out, size_t outsize, char *err, size_t errsize, const char *fmt, ...)
{
    char args[2048];
    const char *keelutl = getenv("KEELUTL") ? getenv("KEELUTL") : "keelutl";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return run_tool(c, keelutl, "keelutl", args, out, outsize, err, errsize);
}
