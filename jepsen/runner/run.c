/* jepsen: the runner.
 *
 *   keel-jepsen-run --workload register|set|counter|session|queue
 *                   --nemesis partition-leader,kill,... --time 60 --nodes 3|5
 *                   --out DIR [--clients N] [--keys N] [--interval S]
 *                   [--keeld PATH] [--keeld-arg ARG]... [--seed N]
 *
 * Sets up the hosts (net.h), starts one keeld per host, runs the workload's
 * clients while the nemesis schedule (schedule.c) breaks things, heals every
 * fault, makes the final reads, stops every process by pid, tears the hosts
 * down, and checks the history. Writes into DIR: history.jsonl,
 * history.edn, nemesis.jsonl, n<i>.log, result.json, summary.txt,
 * timeline.svg. Exit status: 0 valid, 1 invalid, 2 unknown, 3 could not run,
 * 4 valid but a node did not exit cleanly on SIGTERM, 5 valid but the member
 * nemesis could not make every node a voter again after a fault. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jepsen/runner/report.h"
#include "jepsen/runner/run.h"
#include "jepsen/runner/secure.h"
#include "jepsen/runner/schedule.h"

int64_t jrun_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static bool write_like(const struct jrun *run, enum jop_f f)
{
    if (run->workload == JW_REGISTER || run->workload == JW_SESSION) return f != JF_READ;
    return f == JF_ADD || f == JF_ENQUEUE || f == JF_DEQUEUE; /* a dequeue changes the list */
}

void jrun_record(struct jrun *run, const struct jop *op)
{
    pthread_mutex_lock(&run->mu);
    if (jhist_add(&run->hist, op) != 0 || jop_write_jsonl(run->history, op) != 0) {
        fprintf(stderr, "jepsen: cannot record an event (out of memory or disk)\n");
        abort(); /* a history with a hole in it would be judged wrongly */
    }
    if (op->type == JOP_OK) {
        /* The invoke is the process's latest event before this one. */
        int64_t t_inv = op->time;
        for (size_t i = run->hist.n - 1; i-- > 0;) {
            if (run->hist.ops[i].process == op->process) {
                t_inv = run->hist.ops[i].time;
                break;
            }
        }
        if (write_like(run, op->f)) {
            run->ok_writes++;
            for (unsigned i = 0; i < run->nfaults; i++) {
                struct jfault *x = &run->faults[i];
                if (x->rto_ns < 0 && t_inv >= x->start) x->rto_ns = op->time - x->start;
            }
        } else {
            run->ok_reads++;
        }
    } else if (op->type == JOP_FAIL) {
        run->fails++;
    } else if (op->type == JOP_INFO) {
        run->infos++;
    }
    pthread_mutex_unlock(&run->mu);
}

int jrun_leader(struct jrun *run)
{
    int leader = -1, leaders = 0;
    for (unsigned i = 0; i < run->n; i++) {
        if (run->pid[i] <= 0 || run->paused[i]) continue;
        redisContext *c = jrun_connect(run, i, 1000, true);
        if (c == NULL) continue;
        redisReply *r = redisCommand(c, "ROLE");
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 && r->element[0]->type == REDIS_REPLY_STRING &&
            strcmp(r->element[0]->str, "master") == 0) {
            leader = (int)i;
            leaders++;
        }
        if (r) freeReplyObject(r);
        redisFree(c);
    }
    return leaders == 1 ? leader : -1;
}

/* Acknowledged writes missing from the final state (0 when all survived). */
static int64_t lost_acked(const struct jrun *run)
{
    struct jpair *p = NULL;
    size_t n = 0;
    char err[256];
    int64_t lost = 0;
    if (jhist_pairs(&run->hist, &p, &n, err, sizeof err) != 0) return -1;
    for (size_t a = 0; a < n;) {
        size_t b = a;
        while (b < n && strcmp(p[b].key, p[a].key) == 0) b++;
        /* The key's final read: the last ok read. */
        const char *final = NULL;
        bool have_final = false;
        size_t last_w = JPAIR_NONE;
        for (size_t i = a; i < b; i++) {
            const struct jop *inv = &run->hist.ops[p[i].inv];
            if (inv->f == JF_READ && p[i].outcome == JOP_OK) {
                final = run->hist.ops[p[i].done].value;
                have_final = true;
            }
            if (write_like(run, inv->f) && p[i].outcome == JOP_OK &&
                (last_w == JPAIR_NONE || p[i].t_ret > p[last_w].t_ret))
                last_w = i;
        }
        if (run->workload == JW_QUEUE) {
            int64_t u = jqueue_unseen(run, p, a, b);
            lost += u > 0 ? u : 0;
        } else if (have_final && run->workload == JW_SET) {
            for (size_t i = a; i < b; i++) {
                const struct jop *inv = &run->hist.ops[p[i].inv];
                char needle[64];
                snprintf(needle, sizeof needle, "%s", inv->value ? inv->value : "");
                if (inv->f == JF_ADD && p[i].outcome == JOP_OK && (final == NULL || strstr(final, needle) == NULL))
                    lost++;
            }
        } else if (have_final && run->workload == JW_COUNTER) {
            int64_t sum = 0;
            for (size_t i = a; i < b; i++) {
                const struct jop *inv = &run->hist.ops[p[i].inv];
                if (inv->f == JF_ADD && p[i].outcome == JOP_OK) sum += strtoll(inv->value, NULL, 10);
            }
            int64_t got = final ? strtoll(final, NULL, 10) : 0;
            if (got < sum) lost += sum - got;
        } else if (have_final && run->workload == JW_REGISTER && last_w != JPAIR_NONE) {
            /* The final value must come from the last acknowledged write or
             * from an op that was not over before it began. */
            bool explained = false;
            for (size_t i = a; i < b && !explained; i++) {
                const struct jop *inv = &run->hist.ops[p[i].inv];
                if (!write_like(run, inv->f) || p[i].outcome == JOP_FAIL) continue;
                if (i != last_w && p[i].t_ret < p[last_w].t_inv) continue;
                char *e = NULL, *nv = NULL;
                const char *v = inv->value;
                if (inv->f == JF_CAS && jval_cas_split(inv->value, &e, &nv) == 0) v = nv;
                if (inv->f == JF_DEL) v = NULL;
                explained = (v == NULL && final == NULL) || (v && final && strcmp(v, final) == 0);
                free(e);
                free(nv);
            }
            if (!explained) lost++;
        }
        a = b;
    }
    free(p);
    return lost;
}

static uint64_t info_field(struct jrun *run, unsigned i, const char *field)
{
    uint64_t v = 0;
    redisContext *c = jrun_connect(run, i, 1000, true);
    if (c != NULL) {
        redisReply *r = redisCommand(c, "INFO raft");
        const char *p = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, field) : NULL;
        if (p) v = strtoull(p + strlen(field) + 1, NULL, 10);
        if (r) freeReplyObject(r);
    }
    if (c) redisFree(c);
    return v;
}

/* Wait (bounded) until every node has applied what the leader committed:
 * the end of a run is a recovery period, as in Jepsen, so that a node that
 * restarted a moment ago is not stopped in the middle of catching up. */
static bool converged(struct jrun *run, unsigned ms)
{
    for (unsigned t = 0; t < ms; t += 100) {
        int leader = jrun_leader(run);
        if (leader >= 0) {
            uint64_t commit = info_field(run, (unsigned)leader, "commit_index");
            bool all = commit > 0;
            for (unsigned i = 0; i < run->n && all; i++) all = info_field(run, i, "applied_index") >= commit;
            if (all) return true;
        }
        usleep(100 * 1000);
    }
    return false;
}

struct opts
{
    const char *workload, *nemesis, *out, *keeld;
    bool secure;
    const char *make_certs;
    const char *keeld_args[32];
    unsigned nargs;
    double time_s, interval_s;
    unsigned nodes, clients, keys;
    uint64_t seed;
    bool native_set; /* --set-type set */
};

static int usage(const char *why)
{
    fprintf(stderr, "keel-jepsen-run: %s\n"
                    "usage: keel-jepsen-run --workload register|set|counter|session|queue --nemesis LIST "
                    "--time S --nodes 3|5 --out DIR\n"
                    "       [--clients N] [--keys N] [--interval S] [--keeld PATH] [--keeld-arg ARG]... [--seed N]\n"
                    "       [--set-type hash|set]  (the set workload on a hash, HSET/HGETALL, the default,\n"
                    "                               or on a Redis set, SADD/SMEMBERS)\n"
                    "       [--secure --make-certs PATH]  (TLS on the raft and client ports, the workload as an\n"
                    "                                      ACL user with only the commands it sends)\n"
                    "nemeses: %s\n",
            why, jschedule_names());
    return 3;
}

static int parse(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){"register", "partition-leader", NULL, getenv("KEELD"), false, getenv("KEEL_MAKE_CERTS"),
                       {0}, 0, 30, 6, 3, 10, 16, (uint64_t)time(NULL), false};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--secure")) {
            o->secure = true;
            continue;
        }
        if (v == NULL) return usage("an option needs a value");
        if (!strcmp(a, "--workload")) o->workload = v;
        else if (!strcmp(a, "--nemesis")) o->nemesis = v;
        else if (!strcmp(a, "--out")) o->out = v;
        else if (!strcmp(a, "--keeld")) o->keeld = v;
        else if (!strcmp(a, "--make-certs")) o->make_certs = v;
        else if (!strcmp(a, "--time")) o->time_s = atof(v);
        else if (!strcmp(a, "--interval")) o->interval_s = atof(v);
        else if (!strcmp(a, "--nodes")) o->nodes = (unsigned)atoi(v);
        else if (!strcmp(a, "--clients")) o->clients = (unsigned)atoi(v);
        else if (!strcmp(a, "--keys")) o->keys = (unsigned)atoi(v);
        else if (!strcmp(a, "--seed")) o->seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--keeld-arg") && o->nargs < 32) o->keeld_args[o->nargs++] = v;
        else if (!strcmp(a, "--set-type") && (!strcmp(v, "hash") || !strcmp(v, "set"))) o->native_set = !strcmp(v, "set");
        else return usage("unknown option");
        i++;
    }
    if (o->out == NULL) return usage("--out DIR is required");
    if (o->keeld == NULL) return usage("--keeld PATH (or KEELD=) is required");
    if (o->nodes != 3 && o->nodes != 5) return usage("--nodes is 3 or 5");
    if (o->secure && o->make_certs == NULL) return usage("--secure needs --make-certs PATH (or KEEL_MAKE_CERTS=)");
    if (o->time_s <= 0 || o->interval_s <= 0 || o->clients == 0 || o->clients > 200 || o->keys == 0)
        return usage("--time, --interval, --clients (1-200) and --keys must be positive");
    return 0;
}

/* The nodes' election timeout: a --keeld-arg --election-timeout (or
 * --election-timeout=N), else keeld's default. */
static unsigned election_ms(const struct opts *o)
{
    unsigned ms = 600;
    for (unsigned i = 0; i < o->nargs; i++) {
        const char *a = o->keeld_args[i];
        if (!strcmp(a, "--election-timeout") && i + 1 < o->nargs) ms = (unsigned)atoi(o->keeld_args[i + 1]);
        else if (!strncmp(a, "--election-timeout=", 19)) ms = (unsigned)atoi(a + 19);
    }
    return ms;
}

int main(int argc, char **argv)
{
    struct opts o;
    static struct jrun run;
    struct jschedule sched;
    char errmsg[512], path[1024];
    int rc = parse(argc, argv, &o);
    if (rc != 0) return rc;
    if (jworkload_parse(o.workload, &run.workload) != 0) return usage("unknown workload");
    if (mkdir(o.out, 0755) != 0 && errno != EEXIST) return usage("cannot create --out DIR");
    /* A previous run's nodes would start from its data (and its addresses):
     * never mix runs, and never delete what the caller may want to keep. */
    struct stat sb;
    snprintf(path, sizeof path, "%s/n1", o.out);
    if (stat(path, &sb) == 0) {
        fprintf(stderr, "keel-jepsen-run: %s holds a previous run (%s): give a new --out DIR\n", o.out, path);
        return 3;
    }
    run.n = o.nodes;
    run.clients = o.clients;
    run.keys = o.keys;
    run.native_set = o.native_set;
    run.op_timeout_s = 1.0;
    run.seed = o.seed;
    pthread_mutex_init(&run.mu, NULL);
    jhist_init(&run.hist);
    snprintf(path, sizeof path, "%s/history.jsonl", o.out);
    run.history = fopen(path, "w");
    if (run.history == NULL) return usage("cannot write the history");

    if (o.secure && jsecure_prepare(&run, o.out, o.make_certs, errmsg, sizeof errmsg) != 0) {
        fprintf(stderr, "keel-jepsen-run: %s\n", errmsg);
        return 3;
    }
    if (jschedule_init(&sched, &run, o.nemesis, o.interval_s, o.keeld, o.keeld_args, o.nargs, o.out,
                       errmsg, sizeof errmsg) != 0) {
        fprintf(stderr, "keel-jepsen-run: %s\n", errmsg);
        return 3;
    }
    printf("hosts: %s\n", jschedule_hosts_mode(&sched));
    fflush(stdout);
    int64_t t0 = jrun_now();
    rc = jschedule_start_nodes(&sched, errmsg, sizeof errmsg);
    for (int i = 0; rc == 0 && i < 300 && jrun_leader(&run) < 0; i++) usleep(100 * 1000);
    int first = rc == 0 ? jrun_leader(&run) : -1;
    if (rc != 0 || first < 0) {
        fprintf(stderr, "keel-jepsen-run: cluster did not start: %s (see %s/n*.log)\n",
                rc ? errmsg : "no leader within 30 s", o.out);
        jschedule_shutdown(&sched);
        return 3;
    }
    if (jsecure_bootstrap(&run, first, errmsg, sizeof errmsg) != 0) {
        fprintf(stderr, "keel-jepsen-run: %s (see %s/n*.log)\n", errmsg, o.out);
        jschedule_shutdown(&sched);
        return 3;
    }
    if (run.secure) printf("secure: TLS on raft and client ports; workload as ACL user jepsen\n");

    pthread_t th[200];
    for (unsigned i = 0; i < run.clients; i++) pthread_create(&th[i], NULL, jclient_main, &run);
    jschedule_run(&sched, o.time_s); /* faults on a schedule, all healed at the end */
    run.stop = true;
    for (unsigned i = 0; i < run.clients; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 300 && jrun_leader(&run) < 0; i++) usleep(100 * 1000);
    run.final_phase = true;
    int missing = jclient_final(&run);
    if (!converged(&run, 20000)) fprintf(stderr, "keel-jepsen-run: the nodes did not converge within 20 s\n");
    double duration = (double)(jrun_now() - t0) / 1e9;
    int unclean = jschedule_shutdown(&sched); /* every node by pid; the hosts torn down */
    fclose(run.history);

    struct jresult res = {0};
    struct jbudget budget = JBUDGET_DEFAULT;
    /* Expiry runs on the cluster clock, which no wall clock step moves
     * (raft/clock.h): skewed clocks get no slack. A key may outlive its ttl
     * by what a leader change costs, at most the election timeout. */
    budget.late_ns = (int64_t)election_ms(&o) * 1000000;
    if (jcheck(run.workload, &run.hist, &budget, &res) != 0)
        fprintf(stderr, "keel-jepsen-run: checker: %s\n", res.errmsg);
    if (missing > 0 && res.verdict == JV_VALID) res.verdict = JV_UNKNOWN; /* no final read */
    snprintf(path, sizeof path, "%s/history.edn", o.out);
    FILE *edn = fopen(path, "w");
    if (edn) {
        jhist_write_edn(&run.hist, edn);
        fclose(edn);
    }
    struct jreport_info info = {&res, o.nemesis, jschedule_hosts_mode(&sched), lost_acked(&run), t0, duration};
    if (jreport_write(&run, &info, o.out) != 0) fprintf(stderr, "keel-jepsen-run: cannot write the report\n");
    snprintf(path, sizeof path, "%s/summary.txt", o.out);
    FILE *s = fopen(path, "r");
    if (s) {
        char line[512];
        for (int i = 0; i < 8 && fgets(line, sizeof line, s); i++) fputs(line, stdout);
        fclose(s);
    }
    rc = res.verdict == JV_VALID ? 0 : res.verdict == JV_INVALID ? 1 : 2;
    if (rc == 0 && unclean > 0) {
        printf("but %d node(s) did not shut down cleanly\n", unclean);
        rc = 4;
    }
    if (rc == 0 && run.member_restore_failures > 0) {
        printf("but the membership was not restored after %u member fault(s)\n", run.member_restore_failures);
        rc = 5;
    }
    jresult_free(&res);
    jhist_free(&run.hist);
    return rc;
}
