/* jepsen: nodes and the nemesis schedule (see schedule.h).
 *
 * Nemeses (each alone or several, comma-separated; one is drawn per round):
 *   partition-halves   a random majority and minority that cannot talk
 *   partition-leader   the current leader cut off from every other node
 *   partition-one      a random node cut off
 *   partition-ring     each node hears only its two neighbours
 *   bridge             two halves joined by one node that hears both
 *   kill               SIGKILL one node, the leader, a majority or all; restart
 *   pause              SIGSTOP the leader or a random node; SIGCONT
 *   latency            raft traffic between every pair, or to and from one
 *                      node, delayed 20-300 ms with jitter (a relay: netem is
 *                      missing from this kernel; see nemesis.h)
 *   clock              step the wall clock of the leader, of a random node,
 *                      or of every node (scrambled), by 0.1 s to 1 h either way
 *                      (libfaketime; clock.h); healing sets them right
 *   member             remove a random node (the leader too) from the
 *                      membership; it keeps running, cut off by the config;
 *                      healing adds it back as a voter (member.h)
 * With more than one nemesis, half the rounds combine two: one that breaks
 * the network (a partition, bridge or latency) and one that breaks a process
 * or the membership or a clock (kill, pause, member, clock), so a membership change also
 * happens during a partition, as the issue asks.
 * Partitions are DROP rules in the kernel (nemesis.h); clients on the host
 * keep reaching every node, as clients of a partitioned cluster do. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jepsen/runner/member.h"
#include "jepsen/net/nemesis.h"
#include "jepsen/runner/schedule.h"
#include "jepsen/runner/secure.h"

enum kind { K_HALVES, K_LEADER, K_ONE, K_RING, K_BRIDGE, K_KILL, K_PAUSE, K_LATENCY, K_MEMBER, K_CLOCK,
            K_COUNT };

static const char *const kind_names[K_COUNT] = {"partition-halves", "partition-leader", "partition-one",
                                                "partition-ring", "bridge", "kill", "pause", "latency",
                                                "member", "clock"};

const char *jschedule_names(void)
{
    return "partition-halves partition-leader partition-one partition-ring bridge kill pause latency member clock";
}

/* Network faults replace one another's rules; process faults do not meet. */
static bool is_net(int kind)
{
    return kind <= K_BRIDGE || kind == K_LATENCY;
}

static uint64_t rnd(struct jschedule *s)
{
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return s->rng;
}

int jschedule_init(struct jschedule *s, struct jrun *run, const char *nemeses, double interval_s,
                   const char *keeld, const char *const *args, unsigned nargs, const char *dir,
                   char *errmsg, size_t size)
{
    memset(s, 0, sizeof *s);
    s->run = run;
    s->interval_s = interval_s;
    s->keeld = keeld;
    s->args = args;
    s->nargs = nargs;
    s->dir = dir;
    s->rng = run->seed * 2654435761u + 1;
    for (unsigned i = 0; i < nargs; i++) s->unsafe |= strcmp(args[i], "--unsafe-local-reads") == 0;
    char list[512];
    snprintf(list, sizeof list, "%s", nemeses);
    for (char *save = NULL, *w = strtok_r(list, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        int k = -1;
        for (int i = 0; i < K_COUNT; i++)
            if (strcmp(w, kind_names[i]) == 0) k = i;
        if (k < 0 || s->nkinds >= JSCHED_MAX_NEMESES)
            return snprintf(errmsg, size, "unknown nemesis '%s' (known: %s)", w, jschedule_names()), -1;
        s->kinds[s->nkinds++] = k;
    }
    if (s->nkinds == 0) return snprintf(errmsg, size, "no nemesis given"), -1;
    for (unsigned k = 0; k < s->nkinds; k++)
        if (s->kinds[k] == K_CLOCK && !s->clock.on && jclock_init(&s->clock, dir, run->n, errmsg, size) != 0)
            return -1;
    if (jnet_setup(&s->net, run->n, errmsg, size) != 0) return -1;
    s->net_up = true;
    snprintf(s->mode, sizeof s->mode, "%s", jnet_mode(&s->net));
    for (unsigned i = 0; i < run->n; i++) snprintf(run->host[i], sizeof run->host[i], "%s", jnet_addr(&s->net, i));
    return 0;
}

const char *jschedule_hosts_mode(const struct jschedule *s)
{
    return s->mode;
}

static int start_node(struct jschedule *s, unsigned i, char *errmsg, size_t size)
{
    struct jrun *run = s->run;
    char id[16], dir[1024], raft[96], client[96], cluster[512], logp[1024];
    const char *argv[64];
    unsigned n = 0;
    size_t off = 0;
    cluster[0] = 0;
    for (unsigned j = 0; j < run->n; j++)
        off += (size_t)snprintf(cluster + off, sizeof cluster - off, "%s%u=%s:%d", j ? "," : "", j + 1,
                                run->host[j], JRUN_RAFT_PORT);
    snprintf(id, sizeof id, "%u", i + 1);
    snprintf(dir, sizeof dir, "%s/n%u", s->dir, i + 1);
    snprintf(raft, sizeof raft, "%s:%d", run->host[i], JRUN_RAFT_PORT);
    snprintf(client, sizeof client, "%s:%d", run->host[i], JRUN_CLIENT_PORT);
    snprintf(logp, sizeof logp, "%s/n%u.log", s->dir, i + 1);
    argv[n++] = s->keeld;
    argv[n++] = "--id";
    argv[n++] = id;
    argv[n++] = "--data-dir";
    argv[n++] = dir;
    argv[n++] = "--raft-addr";
    argv[n++] = raft;
    argv[n++] = "--client-addr";
    argv[n++] = client;
    argv[n++] = "--cluster";
    argv[n++] = cluster;
    /* The nodes listen on the test's own network namespaces (10.77.k.0/24),
     * plain and with an open default user: protected mode would refuse them
     * (docs/security.md). */
    argv[n++] = "--insecure";
    argv[n++] = "--protected-mode";
    argv[n++] = "no";
    for (unsigned a = 0; a < s->nargs && n < 62; a++) argv[n++] = s->args[a];
    jsecure_keeld_args(run, i, argv, &n, 62);
    argv[n] = NULL;
    /* The unsafe test hook is refused unless the environment asks for it:
     * the runner does, only when its caller passed the flag. */
    if (s->unsafe) setenv("KEEL_TEST_UNSAFE", "1", 1);
    jclock_env(&s->clock, i, true);
    pid_t pid = jnet_spawn(&s->net, i, (char *const *)argv, logp);
    jclock_env(&s->clock, i, false);
    if (pid <= 0) return snprintf(errmsg, size, "cannot start keeld on n%u", i + 1), -1;
    run->pid[i] = pid;
    run->paused[i] = false;
    return 0;
}

int jschedule_start_nodes(struct jschedule *s, char *errmsg, size_t size)
{
    for (unsigned i = 0; i < s->run->n; i++)
        if (s->run->pid[i] <= 0 && start_node(s, i, errmsg, size) != 0) return -1;
    return 0;
}

/* Wait up to ms for pid, then SIGKILL it; its wait status. */
static int reap(pid_t pid, unsigned ms)
{
    int status = 0;
    for (unsigned t = 0; t < ms / 20; t++) {
        if (waitpid(pid, &status, WNOHANG) == pid) return status;
        usleep(20 * 1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return status;
}

static void kill_node(struct jschedule *s, unsigned i)
{
    if (s->run->pid[i] <= 0) return;
    kill(s->run->pid[i], SIGKILL);
    reap(s->run->pid[i], 5000);
    s->run->pid[i] = 0;
}

static int pick_other(struct jschedule *s, int leader)
{
    if (leader < 0) return (int)(rnd(s) % s->run->n);
    return (int)(((unsigned)leader + 1 + (unsigned)(rnd(s) % (s->run->n - 1))) % s->run->n);
}

/* Apply one fault of the given kind; describe it in what. */
static int apply(struct jschedule *s, int kind, char *what, size_t size)
{
    struct jrun *run = s->run;
    unsigned n = run->n;
    uint32_t blocked[JRUN_MAX_NODES] = {0};
    char err[256];
    int leader = jrun_leader(run);
    switch (kind) {
        case K_HALVES: {
            uint32_t minority = 0;
            unsigned want = (n - 1) / 2;
            while ((unsigned)__builtin_popcount(minority) < want) minority |= 1u << (rnd(s) % n);
            jnem_mask_halves(n, minority, blocked);
            snprintf(what, size, "partition-halves minority 0x%x", minority);
            break;
        }
        case K_LEADER:
        case K_ONE: {
            unsigned v = kind == K_LEADER && leader >= 0 ? (unsigned)leader : (unsigned)(rnd(s) % n);
            jnem_mask_isolate(n, v, blocked);
            snprintf(what, size, "%s n%u", kind_names[kind], v + 1);
            break;
        }
        case K_RING:
            jnem_mask_ring(n, blocked);
            snprintf(what, size, "partition-ring");
            break;
        case K_BRIDGE: {
            unsigned b = (unsigned)(rnd(s) % n);
            jnem_mask_bridge(n, b, blocked);
            snprintf(what, size, "bridge via n%u", b + 1);
            break;
        }
        case K_KILL: {
            /* one, the leader, a majority, or all */
            unsigned how = (unsigned)(rnd(s) % 4);
            uint32_t victims = 0;
            if (how == 0) victims = 1u << (rnd(s) % n);
            else if (how == 1) victims = 1u << (leader >= 0 ? (unsigned)leader : 0);
            else if (how == 2) {
                while ((unsigned)__builtin_popcount(victims) < n / 2 + 1) victims |= 1u << (rnd(s) % n);
            } else victims = (1u << n) - 1;
            size_t off = (size_t)snprintf(what, size, "kill");
            for (unsigned i = 0; i < n; i++) {
                if (!(victims & (1u << i))) continue;
                kill_node(s, i);
                off += (size_t)snprintf(what + off, size - off, " n%u", i + 1);
            }
            return 0;
        }
        case K_LATENCY: {
            uint32_t mask[JRUN_MAX_NODES] = {0};
            unsigned delay = 20 + (unsigned)(rnd(s) % 280), jitter = delay / 4;
            if (rnd(s) % 2 == 0) {
                jnem_mask_all(n, mask);
                snprintf(what, size, "latency all %u ms", delay);
            } else {
                unsigned v = (unsigned)(rnd(s) % n);
                jnem_mask_isolate(n, v, mask);
                snprintf(what, size, "latency n%u %u ms", v + 1, delay);
            }
            if (jnem_slow(&s->net, mask, JRUN_RAFT_PORT, delay, jitter, err, sizeof err) != 0) {
                snprintf(what + strlen(what), size - strlen(what), " FAILED: %s", err);
                return -1;
            }
            return 0;
        }
        case K_MEMBER: {
            unsigned v = (unsigned)(rnd(s) % n);
            char res[512];
            /* A quarter of the round: under a partition the change may not
             * commit, and is left to the heal (uncertain). */
            unsigned ms = (unsigned)(s->interval_s * 250);
            int rc = jmember_remove(run, v, ms < 2000 ? 2000 : ms, res, sizeof res);
            if (rc != JMEMBER_OK) fprintf(stderr, "jepsen: member remove n%u: %s\n", v + 1, res);
            snprintf(what, size, "member remove n%u%s: %s", v + 1, (int)v == leader ? " (leader)" : "",
                     rc == JMEMBER_OK ? "ok" : rc == JMEMBER_UNCERTAIN ? "uncertain" : "failed");
            s->members_changed = true;
            return 0;
        }
        case K_CLOCK: {
            /* an hour: an NTP step after a long outage, a VM resumed (issue 12) */
            static const double steps[] = {0.1, 0.5, 2, 10, 60, 3600};
            double mag = steps[rnd(s) % (sizeof steps / sizeof *steps)];
            unsigned how = (unsigned)(rnd(s) % 3);
            if (how == 2) {
                /* scramble: every node somewhere in [-mag, +mag] */
                for (unsigned i = 0; i < n; i++)
                    jclock_set(&s->clock, i, mag * ((double)(rnd(s) % 2001) / 1000.0 - 1.0));
                snprintf(what, size, "clock scramble +-%.1f s", mag);
            } else {
                unsigned v = how == 0 && leader >= 0 ? (unsigned)leader : (unsigned)(rnd(s) % n);
                double off = rnd(s) % 2 ? mag : -mag;
                jclock_set(&s->clock, v, off);
                snprintf(what, size, "clock n%u%s %+.1f s", v + 1, (int)v == leader ? " (leader)" : "", off);
            }
            run->clock_skew_s = s->clock.max_skew_s;
            return 0;
        }
        case K_PAUSE: {
            unsigned v = rnd(s) % 2 == 0 && leader >= 0 ? (unsigned)leader : (unsigned)pick_other(s, -1);
            if (run->pid[v] > 0) kill(run->pid[v], SIGSTOP);
            run->paused[v] = true;
            snprintf(what, size, "pause n%u%s", v + 1, (int)v == leader ? " (leader)" : "");
            return 0;
        }
    }
    if (jnem_partition(&s->net, blocked, err, sizeof err) != 0) {
        snprintf(what + strlen(what), size - strlen(what), " FAILED: %s", err);
        return -1;
    }
    return 0;
}

static void heal(struct jschedule *s)
{
    char err[256];
    jnem_heal(&s->net, err, sizeof err);
    jclock_reset(&s->clock, s->run->n);
    for (unsigned i = 0; i < s->run->n; i++) {
        if (s->run->paused[i] && s->run->pid[i] > 0) kill(s->run->pid[i], SIGCONT);
        s->run->paused[i] = false;
    }
    if (jschedule_start_nodes(s, err, sizeof err) != 0) fprintf(stderr, "jepsen: restart: %s\n", err);
    if (s->members_changed) {
        /* Every node a voter again before the next fault (or the final
         * reads); a minute covers catching a node up after a long cut. */
        int64_t t0 = jrun_now();
        bool ok = jmember_restore(s->run, 60000);
        int64_t took = jrun_now() - t0;
        pthread_mutex_lock(&s->run->mu);
        if (ok) s->run->member_restores++;
        else s->run->member_restore_failures++;
        if (took > s->run->member_restore_worst_ns) s->run->member_restore_worst_ns = took;
        pthread_mutex_unlock(&s->run->mu);
        if (ok) s->members_changed = false;
        else fprintf(stderr, "jepsen: membership not restored within 60 s\n");
    }
}

static void sleep_until(int64_t t)
{
    for (int64_t now = jrun_now(); now < t && !0; now = jrun_now()) {
        int64_t d = t - now;
        usleep((useconds_t)(d > 100000000 ? 100000 : d / 1000 + 1));
    }
}

void jschedule_run(struct jschedule *s, double time_s)
{
    struct jrun *run = s->run;
    int64_t end = jrun_now() + (int64_t)(time_s * 1e9);
    int64_t step = (int64_t)(s->interval_s * 1e9);
    sleep_until(jrun_now() + step / 2); /* a quiet start */
    while (jrun_now() + step <= end && run->nfaults < JRUN_MAX_FAULTS) {
        char what[192];
        int kind = s->kinds[rnd(s) % s->nkinds];
        int second = -1;
        if (s->nkinds > 1 && rnd(s) % 2 == 0) {
            /* combine with a nemesis of the other family, if listed */
            int other[JSCHED_MAX_NEMESES], nother = 0;
            for (unsigned k = 0; k < s->nkinds; k++)
                if (is_net(s->kinds[k]) != is_net(kind)) other[nother++] = s->kinds[k];
            if (nother > 0) second = other[rnd(s) % (unsigned)nother];
        }
        if (second >= 0 && !is_net(kind)) {
            int t = kind; /* the network first: the process fault happens under it */
            kind = second;
            second = t;
        }
        apply(s, kind, what, sizeof what);
        if (second >= 0) {
            size_t len = strlen(what);
            snprintf(what + len, sizeof what - len, " + ");
            apply(s, second, what + len + 3, sizeof what - len - 3);
        }
        /* The fault counts from the moment it is in place (a kill has
         * reaped its victims): RTO is measured from there. */
        pthread_mutex_lock(&run->mu);
        struct jfault *f = &run->faults[run->nfaults];
        snprintf(f->what, sizeof f->what, "%s", what);
        f->start = jrun_now();
        f->end = 0;
        f->rto_ns = -1;
        run->nfaults++;
        pthread_mutex_unlock(&run->mu);
        fprintf(stderr, "jepsen: %7.2f s  %s\n", (double)(f->start - (end - (int64_t)(time_s * 1e9))) / 1e9, what);
        sleep_until(f->start + step / 2);
        heal(s);
        f->end = jrun_now();
        sleep_until(f->start + step);
    }
    heal(s);
    sleep_until(end);
}

int jschedule_shutdown(struct jschedule *s)
{
    struct jrun *run = s->run;
    int unclean = 0;
    for (unsigned i = 0; i < run->n; i++) {
        if (run->pid[i] <= 0) continue;
        kill(run->pid[i], SIGCONT);
        kill(run->pid[i], SIGTERM);
    }
    for (unsigned i = 0; i < run->n; i++) {
        if (run->pid[i] <= 0) continue;
        int st = reap(run->pid[i], 10000);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "jepsen: n%u did not exit cleanly after SIGTERM (status 0x%x): see its log\n", i + 1, st);
            unclean++;
        }
        run->pid[i] = 0;
    }
    if (s->net_up) jnet_teardown(&s->net);
    s->net_up = false;
    return unclean;
}
