/* keelctl drill RUN: rehearse a failure on a live cluster and measure it.
 *
 *   leader-transfer  hand leadership over (KEEL.TRANSFER)
 *   leader-crash     the leader stops hard (KEEL.DRILL CRASH)
 *   follower-crash   one follower stops hard (--node ID, else the first)
 *   isolate          the leader (or --node) drops its raft traffic for
 *                    --isolate seconds (KEEL.DRILL ISOLATE)
 *   zone-loss        every node of --zone (default: the leader's) stops hard
 *   quorum-loss      on a test cluster it starts: the majority is lost, then
 *                    the recovery procedure (keelctl_drill_quorum.c)
 *
 * CRASH and ISOLATE need the victims started with --enable-drills. A built-in
 * load (keelctl_drill_load.c) runs from a second before the fault until
 * --duration seconds after it; then the cluster is given --settle seconds to
 * become healthy, and every acknowledged write is read back. Report: time to
 * a new leader, RTO (fault -> first write sent after it that succeeded), RPO
 * (acknowledged writes lost), client errors by kind, health before/after.
 * Exit 1 when RPO > 0 or RTO > --max-rto; crashed nodes are not restarted
 * (that is the supervisor's job), so health after names them. */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/keelctl/keelctl_drill.h"

struct plan
{
    const char *kind;
    double duration_s, settle_s, isolate_s;
    long long max_rto_ms;
    long long node;           /* --node, 0: chosen */
    const char *zone;         /* --zone */
    int victims[KCTL_MAX_NODES], nvictims; /* indexes into the rows before */
    long long victim_ids[KCTL_MAX_NODES];
    long long old_leader;
    bool leader_fault;        /* a new leader is expected */
};

static void pause_ms(long long ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL); /* the drill's own schedule, not a wait for a condition */
}

/* Healthy: one leader, every member answering and within 1000 entries. */
static bool healthy(struct kctl_row *rows, int n, const struct plan *p, bool skip_victims, char *why,
                    size_t size)
{
    int leaders = 0;
    size_t off = 0;
    why[0] = 0;
    for (int i = 0; i < n; i++) {
        bool victim = false;
        for (int v = 0; v < p->nvictims; v++) victim |= p->victim_ids[v] == rows[i].id;
        if (!rows[i].reachable) {
            if (!(skip_victims && victim))
                off += (size_t)snprintf(why + off, size - off, "%sn%lld %s", off ? "; " : "", rows[i].id,
                                        rows[i].error);
            continue;
        }
        leaders += strcmp(rows[i].role, "leader") == 0;
        if (rows[i].lag > 1000)
            off += (size_t)snprintf(why + off, size - off, "%sn%lld lags", off ? "; " : "", rows[i].id);
    }
    if (leaders != 1) off += (size_t)snprintf(why + off, size - off, "%sno single leader", off ? "; " : "");
    if (off == 0) snprintf(why, size, "healthy");
    return off == 0;
}

static int choose_victims(struct kctl_row *rows, int n, struct plan *p)
{
    int leader = -1;
    for (int i = 0; i < n; i++)
        if (rows[i].reachable && strcmp(rows[i].role, "leader") == 0) leader = i;
    if (leader < 0) return -1;
    p->old_leader = rows[leader].id;
    const char *k = p->kind;
    p->leader_fault = !strcmp(k, "leader-crash") || !strcmp(k, "leader-transfer") ||
                      (!strcmp(k, "isolate") && (p->node == 0 || p->node == p->old_leader));
    for (int i = 0; i < n; i++) {
        bool pick = false;
        if (!strcmp(k, "leader-crash")) pick = i == leader;
        else if (!strcmp(k, "isolate")) pick = p->node ? rows[i].id == p->node : i == leader;
        else if (!strcmp(k, "follower-crash"))
            pick = p->node ? rows[i].id == p->node : (i != leader && rows[i].reachable && p->nvictims == 0);
        else if (!strcmp(k, "zone-loss")) pick = rows[i].zone[0] && !strcmp(rows[i].zone, p->zone ? p->zone : rows[leader].zone);
        if (pick) {
            p->victim_ids[p->nvictims] = rows[i].id;
            p->victims[p->nvictims++] = i;
        }
        if (pick && i == leader && !strcmp(k, "zone-loss")) p->leader_fault = true;
    }
    return !strcmp(k, "leader-transfer") || p->nvictims > 0 ? 0 : -2;
}

/* Send the fault. 0, or -1 with the reason printed. */
static int inject(struct kctl *k, struct kctl_row *rows, struct plan *p)
{
    if (!strcmp(p->kind, "leader-transfer")) {
        char to[24];
        snprintf(to, sizeof to, "%lld", p->node);
        const char *av[] = {"KEEL.TRANSFER", to};
        struct keel_value *v;
        int rc = kctl_call(k, p->node ? 2 : 1, av, &v);
        if (rc == CLI_OK) keel_value_free(v);
        return rc == CLI_OK ? 0 : -1;
    }
    for (int i = 0; i < p->nvictims; i++) {
        struct kctl_row *w = &rows[p->victims[i]];
        char why[128], ms[24];
        redisContext *c = kctl_dial(k, w->addr, k->timeout_ms, why, sizeof why);
        if (c == NULL) {
            fprintf(stderr, "keelctl: drill: n%lld (%s): %s\n", w->id, w->addr, why);
            return -1;
        }
        snprintf(ms, sizeof ms, "%.0f", p->isolate_s * 1000);
        redisReply *r = !strcmp(p->kind, "isolate") ? redisCommand(c, "KEEL.DRILL ISOLATE %s", ms)
                                                    : redisCommand(c, "KEEL.DRILL CRASH");
        bool refused = r != NULL && r->type == REDIS_REPLY_ERROR;
        if (refused) fprintf(stderr, "keelctl: drill: n%lld refused: %s\n", w->id, r->str);
        if (r) freeReplyObject(r);
        redisFree(c);
        if (refused) return -1;
    }
    return 0;
}

/* Poll the nodes that were not hit until one says a new leader leads. */
static long long await_leader(struct kctl *k, struct kctl_row *rows, int n, struct plan *p, long long fault_at,
                              long long *leader)
{
    long long give_up = fault_at + (p->max_rto_ms > 30000 ? p->max_rto_ms : 30000);
    while (drill_now_ms() < give_up) {
        for (int i = 0; i < n; i++) {
            bool victim = false;
            for (int v = 0; v < p->nvictims; v++) victim |= p->victims[v] == i;
            if (victim || !rows[i].addr[0]) continue;
            char why[64];
            redisContext *c = kctl_dial(k, rows[i].addr, 200, why, sizeof why);
            redisReply *r = c ? redisCommand(c, "INFO raft") : NULL;
            if (r && r->type == REDIS_REPLY_STRING && strstr(r->str, "\nrole:leader")) {
                const char *id = strstr(r->str, "\nnode_id:");
                long long me = id ? atoll(id + 9) : 0;
                if (!p->leader_fault || me != p->old_leader) {
                    *leader = me;
                    freeReplyObject(r);
                    redisFree(c);
                    return drill_now_ms() - fault_at;
                }
            }
            if (r) freeReplyObject(r);
            if (c) redisFree(c);
        }
        pause_ms(10);
    }
    return -1;
}

static void report(struct kctl *k, struct plan *p, struct drill *d, long long t_leader, long long leader,
                   long long rto, const char *before, const char *after, bool verified)
{
    unsigned long long acked = 0, unc = 0, unav = 0, srv = 0, other = 0, reads = 0, stale = 0;
    for (unsigned i = 0; i < d->nwriters; i++) {
        struct drill_writer *w = &d->writers[i];
        acked += w->acked, unc += w->err_uncertain, unav += w->err_unavailable;
        srv += w->err_server, other += w->err_other, reads += w->reads, stale += w->stale_reads;
    }
    if (k->json) {
        cli_print_json(json_pack(
            "{s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:b, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I}, s:s, s:s}", "drill",
            p->kind, "victims", p->nvictims, "time_to_leader_ms", (json_int_t)t_leader, "new_leader",
            (json_int_t)leader, "rto_ms", (json_int_t)rto, "rpo_lost", (json_int_t)d->lost, "verified",
            (json_int_t)d->verified, "checked", verified, "writes_acked", (json_int_t)acked, "reads_ok",
            (json_int_t)reads, "errors", "uncertain", (json_int_t)unc, "unavailable", (json_int_t)unav, "server",
            (json_int_t)srv, "other", (json_int_t)other, "stale_reads", (json_int_t)stale, "health_before",
            before, "health_after", after));
        return;
    }
    printf("drill %s: %d node(s) hit\n", p->kind, p->nvictims);
    if (t_leader >= 0) printf("  time to new leader   %lld ms (node %lld)\n", t_leader, leader);
    else printf("  time to new leader   none seen\n");
    if (rto >= 0) printf("  RTO                  %lld ms (fault to the first write after it that succeeded)\n", rto);
    else printf("  RTO                  no write succeeded after the fault\n");
    printf("  RPO                  %llu acknowledged writes lost of %llu read back%s\n", d->lost, d->verified,
           verified ? "" : " (could not read back: no verdict)");
    printf("  load                 %llu writes acknowledged, %llu read back at once\n", acked, reads);
    printf("  client errors        %llu uncertain, %llu unavailable, %llu server, %llu other, %llu stale reads\n",
           unc, unav, srv, other, stale);
    printf("  health before        %s\n  health after         %s\n", before, after);
}

int kctl_drill(struct kctl *k, int argc, char **argv)
{
    struct plan p = {.duration_s = 10, .settle_s = 30, .isolate_s = 5, .max_rto_ms = 10000};
    unsigned writers = 4;
    if (argc < 2) return CLI_USAGE;
    p.kind = argv[1];
    const char *kinds[] = {"leader-transfer", "leader-crash", "follower-crash", "isolate", "zone-loss",
                           "quorum-loss"};
    const char *keeld = NULL;
    bool known = false;
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) known |= !strcmp(p.kind, kinds[i]);
    if (!known) return CLI_USAGE;
    for (int i = 2; i < argc; i++) {
        if (i + 1 >= argc) return CLI_USAGE;
        const char *o = argv[i], *v = argv[++i];
        if (!strcmp(o, "--duration")) p.duration_s = atof(v);
        else if (!strcmp(o, "--settle")) p.settle_s = atof(v);
        else if (!strcmp(o, "--isolate")) p.isolate_s = atof(v);
        else if (!strcmp(o, "--max-rto")) p.max_rto_ms = atoll(v);
        else if (!strcmp(o, "--node")) p.node = atoll(v);
        else if (!strcmp(o, "--zone")) p.zone = v;
        else if (!strcmp(o, "--writers")) writers = (unsigned)atoi(v);
        else if (!strcmp(o, "--keeld")) keeld = v;
        else return CLI_USAGE;
    }
    if (writers == 0 || writers > DRILL_MAX_WRITERS || p.duration_s <= 0 || p.isolate_s <= 0) return CLI_USAGE;
    if (!strcmp(p.kind, "quorum-loss")) return kctl_drill_quorum(k, keeld, p.duration_s);

    struct kctl_row rows[KCTL_MAX_NODES], after_rows[KCTL_MAX_NODES];
    char before[512], after[512], eps[1024] = "", err[KEEL_ERRMSG_SIZE];
    int n = kctl_collect(k, rows);
    bool ok_before = healthy(rows, n, &p, false, before, sizeof before);
    int rc = choose_victims(rows, n, &p);
    if (rc == -1) {
        fprintf(stderr, "keelctl: drill: no leader before the drill: %s\n", before);
        return CLI_UNAVAILABLE;
    }
    if (rc == -2) {
        fprintf(stderr, "keelctl: drill %s: no node to hit (zones labelled? --node right?)\n", p.kind);
        return CLI_USAGE;
    }
    size_t off = 0;
    for (int i = 0; i < n && off < sizeof eps - 100; i++)
        if (rows[i].addr[0]) off += (size_t)snprintf(eps + off, sizeof eps - off, "%s%s", off ? "," : "", rows[i].addr);
    struct drill *d = calloc(1, sizeof *d);
    if (d == NULL) return CLI_FAILED;
    d->endpoints = eps;
    d->conn = k->conn;
    d->call_timeout_ms = (unsigned)(p.max_rto_ms > 5000 ? p.max_rto_ms : 5000) + 5000;
    d->nwriters = writers;
    snprintf(d->run_id, sizeof d->run_id, "%lx%x", (unsigned long)time(NULL), (unsigned)getpid());
    if (!ok_before) fprintf(stderr, "keelctl: drill: the cluster is not healthy before the drill: %s\n", before);
    if (drill_load_start(d) != 0) {
        drill_load_stop(d);
        drill_free(d);
        return CLI_FAILED;
    }
    pause_ms(1000); /* the load settles before the fault */
    long long leader = p.old_leader, t_leader = 0;
    if (inject(k, rows, &p) != 0) {
        drill_load_stop(d);
        drill_cleanup(d);
        drill_free(d);
        return CLI_FAILED;
    }
    /* The clock starts when the fault is in place: a crashed node has
     * stopped answering (it dies a moment after its +OK). */
    bool crashes = strstr(p.kind, "crash") != NULL || !strcmp(p.kind, "zone-loss");
    for (int v = 0; crashes && v < p.nvictims; v++) {
        for (long long until = drill_now_ms() + 5000; drill_now_ms() < until; pause_ms(5)) {
            char why[64];
            redisContext *c = kctl_dial(k, rows[p.victims[v]].addr, 100, why, sizeof why);
            if (c == NULL) break;
            redisFree(c);
        }
    }
    long long fault_at = drill_now_ms();
    d->fault_at = fault_at;
    if (p.leader_fault) t_leader = await_leader(k, rows, n, &p, fault_at, &leader);
    /* The load runs for --duration, and on until a write sent after the
     * fault succeeds (or --max-rto passes): RTO is measured, not cut off. */
    long long end = fault_at + (long long)(p.duration_s * 1000), give_up = fault_at + p.max_rto_ms;
    for (;;) {
        bool recovered = false;
        for (unsigned i = 0; i < d->nwriters; i++) recovered |= d->writers[i].first_ok_after != 0;
        long long now = drill_now_ms();
        if (now >= end && (recovered || now >= give_up)) break;
        pause_ms(50);
    }
    drill_load_stop(d);
    long long rto = -1;
    for (unsigned i = 0; i < d->nwriters; i++) {
        long long t = d->writers[i].first_ok_after;
        if (t && (rto < 0 || t - fault_at < rto)) rto = t - fault_at;
    }
    /* Settle: a leader again and every node that was not hit caught up. */
    bool ok_after = false;
    for (long long until = drill_now_ms() + (long long)(p.settle_s * 1000); !ok_after && drill_now_ms() < until;) {
        int m = kctl_collect(k, after_rows);
        ok_after = healthy(after_rows, m, &p, true, after, sizeof after);
        if (!ok_after) pause_ms(200);
    }
    int m = kctl_collect(k, after_rows);
    healthy(after_rows, m, &p, false, after, sizeof after);
    bool verified = drill_verify(d, err, sizeof err) == 0;
    if (!verified) fprintf(stderr, "keelctl: drill: read-back failed: %s\n", err);
    report(k, &p, d, t_leader, leader, rto, before, after, verified);
    drill_cleanup(d);
    int out = !verified ? CLI_UNAVAILABLE : d->lost > 0 || rto < 0 || rto > p.max_rto_ms ? CLI_FAILED : CLI_OK;
    drill_free(d);
    return out;
}
