/* keelctl drill quorum-loss: the majority is lost, then the recovery
 * procedure of docs/recovery.md is carried out, on a test cluster this
 * command starts for the purpose (a production cluster is never made to
 * lose its quorum on purpose). Three keeld on 127.0.0.1, in a temporary
 * directory, stopped by pid at the end whatever happens:
 *
 *   1. the load runs; both followers are SIGKILLed and their disks deleted:
 *      writes stop;
 *   2. the survivor (the old leader: its log holds every acknowledged write)
 *      is stopped, `keelutl recover` runs on its directory, it is started
 *      again and leads alone: writes work again (RTO);
 *   3. two empty nodes join it; the cluster is three voters again;
 *   4. every acknowledged write is read back (RPO).
 *
 * keeld is taken from --keeld, else next to this keelctl, else $PATH. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api/keelctl/keelctl_drill.h"

struct tnode
{
    unsigned id, raft_port, client_port;
    pid_t pid;
    char dir[600], addr[32], join[32];
};

struct tcluster
{
    char base[256], keeld[PATH_MAX], cluster[256], eps[256];
    struct tnode n[3];
};

static unsigned free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    unsigned port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

static void pause_ms(long long ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int spawn(struct tcluster *t, struct tnode *n)
{
    char log[700], raft[32];
    snprintf(log, sizeof log, "%s/node%u.log", t->base, n->id);
    snprintf(raft, sizeof raft, "127.0.0.1:%u", n->raft_port);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (freopen(log, "a", stderr) == NULL || freopen("/dev/null", "w", stdout) == NULL) _exit(127);
        char id[16];
        snprintf(id, sizeof id, "%u", n->id);
        if (n->join[0])
            execlp(t->keeld, "keeld", "--id", id, "--data-dir", n->dir, "--raft-addr", raft, "--client-addr",
                  n->addr, "--join", n->join, (char *)NULL);
        else
            execlp(t->keeld, "keeld", "--id", id, "--data-dir", n->dir, "--raft-addr", raft, "--client-addr",
                  n->addr, "--cluster", t->cluster, (char *)NULL);
        _exit(127);
    }
    n->pid = pid;
    return 0;
}

static void stop(struct tnode *n, int sig)
{
    if (n->pid <= 0) return;
    kill(n->pid, sig);
    for (int i = 0; i < 200 && waitpid(n->pid, NULL, WNOHANG) != n->pid; i++) pause_ms(50);
    if (kill(n->pid, 0) == 0) {
        kill(n->pid, SIGKILL);
        waitpid(n->pid, NULL, 0);
    }
    n->pid = 0;
}

/* The node i that says it leads, within ms; -1. */
static int await_leader(struct tcluster *t, long long ms, bool all_three)
{
    for (long long until = drill_now_ms() + ms; drill_now_ms() < until; pause_ms(50)) {
        int leader = -1, answering = 0;
        for (int i = 0; i < 3; i++) {
            char why[64];
            if (t->n[i].pid <= 0) continue;
            redisContext *c = kctl_dial(NULL, t->n[i].addr, 200, why, sizeof why);
            redisReply *r = c ? redisCommand(c, "INFO raft") : NULL;
            if (r && r->type == REDIS_REPLY_STRING) {
                answering++;
                if (strstr(r->str, "\nrole:leader") && strstr(r->str, "\nleader_ready:1")) leader = i;
                if (all_three && !strstr(r->str, "\nvoters:3\r")) leader = -2;
            }
            if (r) freeReplyObject(r);
            if (c) redisFree(c);
        }
        if (leader >= 0 && (!all_three || answering == 3)) return leader;
    }
    return -1;
}

static void teardown(struct tcluster *t)
{
    for (int i = 0; i < 3; i++) stop(&t->n[i], SIGTERM);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->base);
    if (system(cmd) != 0) fprintf(stderr, "keelctl: drill: could not remove %s\n", t->base);
}

static int fail(struct tcluster *t, struct drill *d, const char *what)
{
    fprintf(stderr, "keelctl: drill quorum-loss: %s (logs were in %s)\n", what, t->base);
    if (d->started) drill_load_stop(d);
    for (unsigned i = 0; i < DRILL_MAX_WRITERS; i++) {
        free(d->writers[i].outcome);
        d->writers[i].outcome = NULL;
    }
    teardown(t);
    return CLI_FAILED;
}

int kctl_drill_quorum(struct kctl *k, const char *keeld, double duration_s)
{
    static struct tcluster t;
    static struct drill d;
    memset(&t, 0, sizeof t);
    memset(&d, 0, sizeof d);
    if (keeld) snprintf(t.keeld, sizeof t.keeld, "%s", keeld);
    else cli_sibling("keeld", t.keeld, sizeof t.keeld);
    snprintf(t.base, sizeof t.base, "/tmp/keel-drill-quorum.XXXXXX");
    if (mkdtemp(t.base) == NULL) return fprintf(stderr, "keelctl: drill: mkdtemp: %s\n", strerror(errno)), CLI_FAILED;
    size_t off = 0, eoff = 0;
    for (unsigned i = 0; i < 3; i++) {
        struct tnode *n = &t.n[i];
        n->id = i + 1;
        n->raft_port = free_port();
        n->client_port = free_port();
        snprintf(n->dir, sizeof n->dir, "%s/node%u", t.base, n->id);
        snprintf(n->addr, sizeof n->addr, "127.0.0.1:%u", n->client_port);
        off += (size_t)snprintf(t.cluster + off, sizeof t.cluster - off, "%s%u=127.0.0.1:%u", i ? "," : "", n->id,
                                n->raft_port);
        eoff += (size_t)snprintf(t.eps + eoff, sizeof t.eps - eoff, "%s%s", i ? "," : "", n->addr);
    }
    for (int i = 0; i < 3; i++)
        if (spawn(&t, &t.n[i]) != 0) return fail(&t, &d, "could not start keeld");
    int leader = await_leader(&t, 15000, false);
    if (leader < 0) return fail(&t, &d, "the test cluster elected no leader");
    d.endpoints = t.eps;
    d.call_timeout_ms = 60000; /* writes wait through the whole recovery */
    d.nwriters = 4;
    snprintf(d.run_id, sizeof d.run_id, "q%lx", (unsigned long)time(NULL));
    if (drill_load_start(&d) != 0) return fail(&t, &d, "could not start the load");
    pause_ms(1000);

    /* 1. The majority is lost: both followers, disks included. */
    for (int i = 0; i < 3; i++) {
        if (i == leader) continue;
        stop(&t.n[i], SIGKILL);
        char cmd[700];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", t.n[i].dir);
        if (system(cmd) != 0) return fail(&t, &d, "could not delete a node's directory");
    }
    long long fault_at = drill_now_ms(); /* both gone: nothing can commit from here */
    d.fault_at = fault_at;
    pause_ms((long long)(duration_s * 1000)); /* the cluster without a quorum */

    /* 2. Recover the survivor: stop it, recover, start it. */
    struct tnode *s = &t.n[leader];
    stop(s, SIGTERM);
    char id[16];
    snprintf(id, sizeof id, "%u", s->id);
    char *argv[] = {"recover", "--data-dir", s->dir, "--id", id};
    /* Its report goes to the terminal, not into a --json document. */
    if (!k->json) printf("-- keelutl recover --data-dir %s --id %s\n", s->dir, id);
    int rrc = kctl_keelutl_run(k, 5, argv, k->json);
    if (rrc != 0) return fail(&t, &d, "recover failed");
    if (spawn(&t, s) != 0 || await_leader(&t, 15000, false) != leader)
        return fail(&t, &d, "the recovered node did not lead");
    long long recovered_at = drill_now_ms();

    /* 3. Two empty nodes join it. */
    for (int i = 0; i < 3; i++) {
        if (i == leader) continue;
        memcpy(t.n[i].join, s->addr, sizeof t.n[i].join); /* same size, NUL-terminated */
        if (spawn(&t, &t.n[i]) != 0) return fail(&t, &d, "could not start a joining node");
    }
    if (await_leader(&t, 30000, true) < 0) return fail(&t, &d, "the cluster did not get back to three voters");
    long long whole_at = drill_now_ms();
    pause_ms(1000);
    drill_load_stop(&d);

    /* 4. Every acknowledged write, read back. */
    char err[KEEL_ERRMSG_SIZE];
    bool verified = drill_verify(&d, err, sizeof err) == 0;
    unsigned long long acked = 0;
    long long rto = -1;
    for (unsigned i = 0; i < d.nwriters; i++) {
        acked += d.writers[i].acked;
        long long tt = d.writers[i].first_ok_after;
        if (tt && (rto < 0 || tt - fault_at < rto)) rto = tt - fault_at;
    }
    if (k->json) {
        cli_print_json(json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:b, s:I}", "drill", "quorum-loss",
                                  "recovered_ms", (json_int_t)(recovered_at - fault_at), "three_voters_ms",
                                  (json_int_t)(whole_at - fault_at), "rto_ms", (json_int_t)rto, "rpo_lost",
                                  (json_int_t)d.lost, "verified", (json_int_t)d.verified, "checked", verified,
                                  "writes_acked", (json_int_t)acked));
    } else {
        printf("drill quorum-loss: 2 of 3 nodes and their disks lost; survivor n%u recovered\n", s->id);
        printf("  recovered (leads alone)  %lld ms after the loss (includes %.0f s without a quorum)\n",
               recovered_at - fault_at, duration_s);
        printf("  three voters again       %lld ms after the loss\n", whole_at - fault_at);
        printf("  RTO                      %lld ms\n", rto);
        printf("  RPO                      %llu acknowledged writes lost of %llu read back%s\n", d.lost, d.verified,
               verified ? "" : " (could not read back)");
    }
    teardown(&t);
    for (unsigned i = 0; i < DRILL_MAX_WRITERS; i++) {
        free(d.writers[i].outcome);
        d.writers[i].outcome = NULL;
    }
    return !verified ? CLI_UNAVAILABLE : d.lost ? CLI_FAILED : CLI_OK;
}
