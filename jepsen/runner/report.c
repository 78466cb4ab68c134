/* jepsen: what a run leaves behind besides the history: result.json (the
 * verdict and the figures scripts read), summary.txt (for people), the
 * nemesis log (one JSON line per fault) and timeline.svg (operations per
 * process over time, faults shaded). */
#include <stdlib.h>
#include <string.h>

#include "jepsen/runner/report.h"

static const char *verdict_json(enum jverdict v)
{
    return v == JV_VALID ? "true" : v == JV_INVALID ? "false" : "\"unknown\"";
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* RTOs in ms, sorted; returns how many faults had one. */
static unsigned rtos(const struct jrun *run, int64_t *out)
{
    unsigned n = 0;
    for (unsigned i = 0; i < run->nfaults; i++)
        if (run->faults[i].rto_ns >= 0) out[n++] = run->faults[i].rto_ns / 1000000;
    qsort(out, n, sizeof *out, cmp_i64);
    return n;
}

int jreport_write(const struct jrun *run, const struct jreport_info *info, const char *dir)
{
    char path[1024];
    int64_t rto[JRUN_MAX_FAULTS];
    unsigned nr = rtos(run, rto);

    snprintf(path, sizeof path, "%s/result.json", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL) return KEEL_EIO;
    fprintf(f, "{\"valid\": %s, \"workload\": \"%s\", \"nemesis\": \"%s\", \"nodes\": %u, "
               "\"hosts\": \"%s\", \"ops\": %zu, \"ok\": %lld, \"fail\": %lld, \"info\": %lld, "
               "\"lost_acked_writes\": %lld, \"faults\": %u, \"rto_ms\": [",
            verdict_json(info->result->verdict), jworkload_name(run->workload), info->nemesis,
            run->n, info->hosts_mode, info->result->ops_checked,
            (long long)(run->ok_writes + run->ok_reads), (long long)run->fails,
            (long long)run->infos, (long long)info->lost_acked, run->nfaults);
    for (unsigned i = 0; i < nr; i++) fprintf(f, "%s%lld", i ? ", " : "", (long long)rto[i]);
    fprintf(f, "], \"bad_key\": ");
    if (info->result->bad_key) fprintf(f, "\"%s\"", info->result->bad_key);
    else fprintf(f, "null");
    fprintf(f, ", \"clock_skew_ms\": %.0f, \"member_restores\": %u, \"member_restore_failures\": %u, "
               "\"members_restored\": %s, \"member_restore_worst_ms\": %lld, \"secure\": %s, \"duration_s\": %.1f}\n",
            run->clock_skew_s * 1e3, run->member_restores, run->member_restore_failures,
            run->member_restore_failures == 0 ? "true" : "false",
            (long long)(run->member_restore_worst_ns / 1000000), run->secure ? "true" : "false", info->duration_s);
    if (fclose(f) != 0) return KEEL_EIO;

    snprintf(path, sizeof path, "%s/summary.txt", dir);
    f = fopen(path, "w");
    if (f == NULL) return KEEL_EIO;
    fprintf(f, "workload %s, nemesis %s, %u nodes (%s%s), %.0f s\n", jworkload_name(run->workload),
            info->nemesis, run->n, info->hosts_mode, run->secure ? ", TLS + ACL" : "", info->duration_s);
    fprintf(f, "verdict: %s\n", jverdict_name(info->result->verdict));
    fprintf(f, "operations: %zu (ok %lld, fail %lld, info %lld)\n", info->result->ops_checked,
            (long long)(run->ok_writes + run->ok_reads), (long long)run->fails, (long long)run->infos);
    fprintf(f, "lost acknowledged writes: %lld\n", (long long)info->lost_acked);
    if (run->member_restores + run->member_restore_failures > 0)
        fprintf(f, "membership restored after %u of %u member faults (worst %.1f s)%s\n", run->member_restores,
                run->member_restores + run->member_restore_failures, (double)run->member_restore_worst_ns / 1e9,
                run->member_restore_failures ? ": NOT RESTORED" : "");
    fprintf(f, "faults: %u; RTO (ms) ", run->nfaults);
    if (nr > 0)
        fprintf(f, "median %lld, worst %lld, best %lld (%u with a write after)\n",
                (long long)rto[nr / 2], (long long)rto[nr - 1], (long long)rto[0], nr);
    else
        fprintf(f, "none measured\n");
    for (unsigned i = 0; i < run->nfaults; i++) {
        const struct jfault *x = &run->faults[i];
        fprintf(f, "  %8.3f s  %-40s held %6.3f s  rto %lld ms\n", (double)(x->start - info->t0) / 1e9,
                x->what, x->end ? (double)(x->end - x->start) / 1e9 : 0.0,
                x->rto_ns >= 0 ? (long long)(x->rto_ns / 1000000) : -1LL);
    }
    fprintf(f, "\n%s\n", info->result->report ? info->result->report : "");
    if (fclose(f) != 0) return KEEL_EIO;

    snprintf(path, sizeof path, "%s/nemesis.jsonl", dir);
    f = fopen(path, "w");
    if (f == NULL) return KEEL_EIO;
    for (unsigned i = 0; i < run->nfaults; i++) {
        const struct jfault *x = &run->faults[i];
        fprintf(f, "{\"fault\": \"%s\", \"start\": %lld, \"end\": %lld, \"rto_ms\": %lld}\n", x->what,
                (long long)x->start, (long long)x->end,
                x->rto_ns >= 0 ? (long long)(x->rto_ns / 1000000) : -1LL);
    }
    if (fclose(f) != 0) return KEEL_EIO;
    return jreport_timeline(run, info, dir);
}

/* timeline.svg: x is time, one lane per process (sorted by id), an op is a
 * bar from invoke to completion: green ok, red fail, orange info (drawn to
 * the end of the run). Faults are grey bands across all lanes. */
int jreport_timeline(const struct jrun *run, const struct jreport_info *info, const char *dir)
{
    char path[1024];
    struct jpair *pairs = NULL;
    size_t np = 0;
    char err[256];
    if (jhist_pairs(&run->hist, &pairs, &np, err, sizeof err) != 0) return KEEL_EMALFORMED;
    int64_t t0 = info->t0, t1 = t0 + 1;
    int64_t maxproc = 0;
    for (size_t i = 0; i < run->hist.n; i++) {
        if (run->hist.ops[i].time > t1) t1 = run->hist.ops[i].time;
        if (run->hist.ops[i].process > maxproc) maxproc = run->hist.ops[i].process;
    }
    const double width = 1600, lane = 4;
    double height = (double)(maxproc + 1) * lane + 40;
    snprintf(path, sizeof path, "%s/timeline.svg", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        free(pairs);
        return KEEL_EIO;
    }
#define X(t) (width * (double)((t) - t0) / (double)(t1 - t0))
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\">\n", width, height);
    fprintf(f, "<text x=\"4\" y=\"14\" font-size=\"12\">%s / %s: %s; green ok, red fail, orange "
               "info; grey: faults</text>\n",
            jworkload_name(run->workload), info->nemesis, jverdict_name(info->result->verdict));
    for (unsigned i = 0; i < run->nfaults; i++) {
        const struct jfault *x = &run->faults[i];
        int64_t end = x->end ? x->end : t1;
        fprintf(f, "<rect x=\"%.1f\" y=\"20\" width=\"%.1f\" height=\"%.0f\" fill=\"#ddd\"><title>%s</title></rect>\n",
                X(x->start), X(end) - X(x->start) + 0.5, height - 20, x->what);
    }
    for (size_t i = 0; i < np; i++) {
        const struct jpair *p = &pairs[i];
        const struct jop *op = &run->hist.ops[p->inv];
        int64_t end = p->outcome == JOP_INFO ? t1 : p->t_ret;
        const char *color = p->outcome == JOP_OK ? "#2a2" : p->outcome == JOP_FAIL ? "#d22" : "#f90";
        fprintf(f, "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" fill=\"%s\"/>\n",
                X(p->t_inv), 20 + (double)op->process * lane, X(end) - X(p->t_inv) + 0.3, lane - 1, color);
    }
#undef X
    fprintf(f, "</svg>\n");
    free(pairs);
    return fclose(f) == 0 ? 0 : KEEL_EIO;
}
