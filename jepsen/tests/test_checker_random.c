/* tests: randomized histories from a simulated linearizable register that
 * must pass, then fail once a read is corrupted; the register checker against
 * a brute-force oracle on small histories; and its cost on a big one. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jepsen/checker/check.h"
#include "jepsen/checker/history.h"
#include "tests/lib/testlib.h"
#include "jepsen/tests/checker_fixture.h"

/* ---- randomized: a simulated linearizable register ----------------------- */

static uint64_t rng_state = 88172645463325252ull;

/* Deterministic (tests/lib), so a failure replays. */
static uint64_t rnd(void)
{
    return test_xorshift64(&rng_state);
}

static int64_t below(int64_t n)
{
    return (int64_t)(rnd() % (uint64_t)n);
}

struct gop
{
    int64_t proc, t0, t1, at; /* at: the moment it takes effect */
    enum jop_f f;
    int key, outcome;
    bool effect;
    char val[24];   /* write and cas: the value written */
    char exp[24];   /* cas: the value expected, "" for absent */
    char out[24];   /* read: the value read, "" for absent */
    size_t done_ev; /* its completion's event index */
};

struct gen
{
    struct gop *ops;
    size_t n;
};

static int gop_at_cmp(const void *a, const void *b)
{
    const struct gop *const *x = a, *const *y = b;
    if ((*x)->at != (*y)->at) return (*x)->at < (*y)->at ? -1 : 1;
    return *x < *y ? -1 : *x > *y;
}

/* Run the ops against one register per key, in the order they take effect,
 * filling in reads and turning cas with a false precondition into fails. */
static void gen_apply(struct gen *g, int nkeys)
{
    struct gop **order = malloc(g->n * sizeof *order);
    const char **reg = calloc((size_t)nkeys, sizeof *reg);
    assert_non_null(order);
    assert_non_null(reg);
    for (size_t i = 0; i < g->n; i++) order[i] = &g->ops[i];
    qsort(order, g->n, sizeof *order, gop_at_cmp);
    for (size_t i = 0; i < g->n; i++) {
        struct gop *o = order[i];
        const char **r = &reg[o->key];
        if (!o->effect) continue;
        if (o->f == JF_READ) {
            snprintf(o->out, sizeof o->out, "%s", *r ? *r : "");
        } else if (o->f == JF_WRITE) {
            *r = o->val;
        } else if (o->f == JF_DEL) {
            *r = NULL;
        } else if (strcmp(*r ? *r : "", o->exp) == 0) {
            *r = o->val;
        } else {
            o->effect = false;
            if (o->outcome == JOP_OK) o->outcome = JOP_FAIL; /* WATCH saw a change */
        }
    }
    free(order);
    free(reg);
}

struct gev
{
    int64_t t;
    size_t op;
    int done;
};

static int gev_cmp(const void *a, const void *b)
{
    const struct gev *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    if (x->op != y->op) return x->op < y->op ? -1 : 1;
    return x->done - y->done;
}

/* The value text of an event of o (NULL for null). */
static const char *gen_value(const struct gop *o, bool done, char *buf, size_t size)
{
    switch (o->f) {
    case JF_READ:
        if (!done || o->outcome != JOP_OK || o->out[0] == 0) return NULL;
        snprintf(buf, size, "\"%s\"", o->out);
        return buf;
    case JF_WRITE:
        snprintf(buf, size, "\"%s\"", o->val);
        return buf;
    case JF_CAS:
        if (o->exp[0] == 0) {
            snprintf(buf, size, "[null,\"%s\"]", o->val);
        } else {
            snprintf(buf, size, "[\"%s\",\"%s\"]", o->exp, o->val);
        }
        return buf;
    default:
        return NULL;
    }
}

/* Simulate nkeys registers, per_key_ops ops each, by nproc processes per key
 * (per_key, as Jepsen's independent does) or shared by all keys. Every op
 * takes effect at a random moment of its interval (info ops: maybe later, or
 * not at all); values written are unique. */
static void gen_register(struct jhist *h, struct gen *g, int nkeys, int per_key_ops, int nproc,
                         bool per_key, int info_permille)
{
    int nlanes = per_key ? nkeys * nproc : nproc;
    int64_t *lane_free = calloc((size_t)nlanes, sizeof *lane_free);
    int64_t *lane_proc = calloc((size_t)nlanes, sizeof *lane_proc);
    int64_t next_proc = nlanes;
    const char **recent = calloc((size_t)nkeys, sizeof *recent);
    struct gev *evs;
    size_t nev = 0;
    char buf[64], key[16];
    g->n = (size_t)nkeys * (size_t)per_key_ops;
    g->ops = calloc(g->n, sizeof *g->ops);
    evs = calloc(2 * g->n, sizeof *evs);
    assert_true(lane_free && lane_proc && recent && g->ops && evs);
    for (int l = 0; l < nlanes; l++) lane_proc[l] = l;
    for (size_t i = 0; i < g->n; i++) {
        struct gop *o = &g->ops[i];
        int lane, kind = (int)below(10);
        o->key = per_key ? (int)(i % (size_t)nkeys) : (int)below(nkeys);
        lane = per_key ? o->key * nproc + (int)below(nproc) : (int)below(nproc);
        o->t0 = lane_free[lane] + 1000 * (1 + below(20));
        o->t1 = o->t0 + 1000 * (1 + below(100));
        lane_free[lane] = o->t1;
        o->proc = lane_proc[lane];
        o->f = kind < 4 ? JF_READ : kind < 7 ? JF_WRITE : kind < 9 ? JF_CAS : JF_DEL;
        o->outcome = below(1000) < info_permille ? JOP_INFO : below(100) < 3 ? JOP_FAIL : JOP_OK;
        o->effect = o->outcome == JOP_OK || (o->outcome == JOP_INFO && below(2));
        o->at = o->t0 + below(o->t1 - o->t0 + 1 + (o->outcome == JOP_INFO ? 200000 : 0));
        if (o->f == JF_WRITE || o->f == JF_CAS) {
            snprintf(o->val, sizeof o->val, "%c%zu", o->f == JF_WRITE ? 'w' : 'c', i);
            if (o->f == JF_CAS && recent[o->key] != NULL && below(4) > 0)
                snprintf(o->exp, sizeof o->exp, "%s", recent[o->key]);
            recent[o->key] = o->val;
        }
        if (o->outcome == JOP_INFO) lane_proc[lane] = next_proc++;
        evs[nev++] = (struct gev){o->t0, i, 0};
        evs[nev++] = (struct gev){o->t1, i, 1};
    }
    gen_apply(g, nkeys);
    qsort(evs, nev, sizeof *evs, gev_cmp);
    jhist_init(h);
    for (size_t i = 0; i < nev; i++) {
        struct gop *o = &g->ops[evs[i].op];
        snprintf(key, sizeof key, "k%d", o->key);
        if (evs[i].done) o->done_ev = h->n;
        event(h, o->proc, evs[i].done ? (enum jop_type)o->outcome : JOP_INVOKE, o->f, key,
              gen_value(o, evs[i].done, buf, sizeof buf), -1, evs[i].t);
    }
    free(lane_free);
    free(lane_proc);
    free(recent);
    free(evs);
}

static void set_value(struct jhist *h, size_t ev, const char *v)
{
    free(h->ops[ev].value);
    h->ops[ev].value = strdup(v);
}

/* A stale value for read r: a write certainly overwritten before r began. */
static const struct gop *stale_for(const struct gen *g, const struct gop *r)
{
    for (size_t x = 0; x < g->n; x++) {
        const struct gop *w = &g->ops[x];
        if (w->f != JF_WRITE || w->outcome != JOP_OK || w->key != r->key || w->t1 >= r->t0 ||
            strcmp(w->val, r->out) == 0)
            continue;
        for (size_t y = 0; y < g->n; y++) {
            const struct gop *o = &g->ops[y];
            if (o->key == r->key && o->outcome == JOP_OK && o->f != JF_READ &&
                o->t0 > w->t1 && o->t1 < r->t0)
                return w;
        }
    }
    return NULL;
}

/* A copy of h, so that one generated history can be corrupted twice. */
static void copy_hist(struct jhist *dst, const struct jhist *src)
{
    jhist_init(dst);
    for (size_t e = 0; e < src->n; e++) assert_int_equal(jhist_add(dst, &src->ops[e]), 0);
}

static void test_random_histories(void **state)
{
    int stale_runs = 0;
    (void)state;
    for (int seed = 1; seed <= 60; seed++) {
        struct jhist h, copy;
        struct gen g;
        const struct gop *r = NULL, *w;
        size_t nreads = 0, pick;
        rng_state = 0x9e3779b97f4a7c15ull * (uint64_t)seed;
        gen_register(&h, &g, 1 + seed % 3, 40 + (int)below(80), 2 + (int)below(5), true, 50);
        copy_hist(&copy, &h);
        if (verdict(JW_REGISTER, &copy) != JV_VALID)
            fail_msg("seed %d: a linearizable history was rejected", seed);
        for (size_t i = 0; i < g.n; i++) {
            nreads += g.ops[i].f == JF_READ && g.ops[i].outcome == JOP_OK;
        }
        assert_true(nreads > 0);
        pick = (size_t)below((int64_t)nreads);
        for (size_t i = 0; r == NULL; i++) {
            if (g.ops[i].f == JF_READ && g.ops[i].outcome == JOP_OK && pick-- == 0) r = &g.ops[i];
        }
        if ((w = stale_for(&g, r)) != NULL) { /* a value certainly overwritten before it */
            char v[32];
            snprintf(v, sizeof v, "\"%s\"", w->val);
            copy_hist(&copy, &h);
            set_value(&copy, r->done_ev, v);
            if (verdict(JW_REGISTER, &copy) != JV_INVALID)
                fail_msg("seed %d: a stale read of %s was accepted", seed, v);
            stale_runs++;
        }
        set_value(&h, r->done_ev, "\"never-written\"");
        if (verdict(JW_REGISTER, &h) != JV_INVALID)
            fail_msg("seed %d: a read of a value never written was accepted", seed);
        free(g.ops);
    }
    print_message("random: 60 histories valid, 60 corrupted rejected, %d stale rejected\n",
                  stale_runs);
    assert_true(stale_runs > 10);
}

/* ---- randomized: against a brute-force oracle ---------------------------- */

/* A tiny register op for the oracle: values are 0 (absent) and 1..3. */
struct bop
{
    enum jop_f f;
    int outcome, a, b; /* read: a is the value read; write: a; cas: a -> b */
    int64_t t0, t1;    /* t1 INT64_MAX when info */
};

/* Can the ops not yet placed (bit clear in `done`) follow, from value v? */
static bool oracle_dfs(const struct bop *o, int n, unsigned done, unsigned use, int v)
{
    if ((done & use) == use) return true;
    for (int i = 0; i < n; i++) {
        bool ready = true;
        int next = v;
        if (!(use >> i & 1) || (done >> i & 1)) continue;
        /* every op that completed before i was invoked must be placed */
        for (int j = 0; j < n && ready; j++) {
            if ((use >> j & 1) && !(done >> j & 1) && j != i && o[j].t1 < o[i].t0) ready = false;
        }
        if (!ready) continue;
        switch (o[i].f) {
        case JF_READ:
            if (o[i].a != v) continue;
            break;
        case JF_WRITE:
            next = o[i].a;
            break;
        case JF_DEL:
            next = 0;
            break;
        default:
            if (o[i].a == v) {
                next = o[i].b;
            } else if (o[i].outcome == JOP_OK) {
                continue;
            }
        }
        if (oracle_dfs(o, n, done | 1u << i, use, next)) return true;
    }
    return false;
}

/* Linearizable iff some subset of the info ops, with every ok op, has a
 * legal order respecting real time. */
static bool oracle(const struct bop *o, int n)
{
    unsigned must = 0, info = 0;
    for (int i = 0; i < n; i++) {
        if (o[i].outcome == JOP_OK) must |= 1u << i;
        if (o[i].outcome == JOP_INFO && o[i].f != JF_READ) info |= 1u << i;
    }
    for (unsigned sub = info;; sub = (sub - 1) & info) {
        if (oracle_dfs(o, n, 0, must | sub, 0)) return true;
        if (sub == 0) return false;
    }
}

static void bop_value(const struct bop *o, bool done, char *buf, size_t size, const char **v)
{
    static const char *const names[] = {"null", "\"a\"", "\"b\"", "\"c\""};
    *v = NULL;
    if (o->f == JF_READ && done && o->outcome == JOP_OK && o->a != 0) *v = names[o->a];
    if (o->f == JF_WRITE) *v = names[o->a];
    if (o->f == JF_CAS) {
        snprintf(buf, size, "[%s,%s]", names[o->a], names[o->b]);
        *v = buf;
    }
}

static void test_random_oracle(void **state)
{
    int seen[2] = {0, 0};
    (void)state;
    rng_state = 4242;
    for (int round = 0; round < 3000; round++) {
        struct bop o[9];
        int n = 2 + (int)below(8), nproc = 1 + (int)below(4);
        int64_t free_at[4] = {0, 0, 0, 0}, pid[4] = {0, 1, 2, 3}, next_pid = 4;
        struct jhist h;
        char buf[32];
        const char *v;
        bool want;
        jhist_init(&h);
        for (int i = 0; i < n; i++) {
            int p = (int)below(nproc), kind = (int)below(10), r = (int)below(10);
            struct bop *x = &o[i];
            x->f = kind < 4 ? JF_READ : kind < 7 ? JF_WRITE : kind < 9 ? JF_CAS : JF_DEL;
            x->outcome = r < 7 ? JOP_OK : r < 9 ? JOP_INFO : JOP_FAIL;
            x->a = (int)below(4);
            x->b = 1 + (int)below(3);
            if (x->f == JF_WRITE) x->a = 1 + (int)below(3);
            x->t0 = free_at[p] + below(6);
            x->t1 = x->t0 + below(8);
            free_at[p] = x->t1 + 1;
            bop_value(x, false, buf, sizeof buf, &v);
            event(&h, pid[p], JOP_INVOKE, x->f, "k", v, -1, x->t0);
            bop_value(x, true, buf, sizeof buf, &v);
            event(&h, pid[p], (enum jop_type)x->outcome, x->f, "k", v, -1, x->t1);
            if (x->outcome == JOP_INFO) {
                x->t1 = INT64_MAX;
                pid[p] = next_pid++;
            }
        }
        want = oracle(o, n);
        seen[want]++;
        if (verdict(JW_REGISTER, &h) != (want ? JV_VALID : JV_INVALID))
            fail_msg("round %d: the oracle says %s", round, want ? "valid" : "invalid");
    }
    print_message("oracle: %d valid and %d invalid random histories agreed\n", seen[1], seen[0]);
    assert_true(seen[0] > 300 && seen[1] > 300);
}

/* 20 keys x 2000 ops, 10 processes: timing only, printed. */
static void perf_case(bool per_key, int info_permille)
{
    struct jhist h;
    struct jresult r;
    struct gen g;
    struct timespec a, b;
    const char *dump = getenv("JEPSEN_TEST_DUMP");
    rng_state = 12345;
    gen_register(&h, &g, 20, 2000, 10, per_key, info_permille);
    if (dump != NULL && dump[0] != 0) {
        char path[512];
        FILE *f;
        snprintf(path, sizeof path, "%s-%s-%d.jsonl", dump, per_key ? "perkey" : "shared",
                 info_permille);
        f = fopen(path, "w");
        assert_non_null(f);
        assert_int_equal(jhist_write_jsonl(&h, f), 0);
        fclose(f);
    }
    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(run(JW_REGISTER, &h, NULL, &r), JV_VALID);
    clock_gettime(CLOCK_MONOTONIC, &b);
    print_message("perf: 20 keys x 2000 ops, 10 processes %s, %.1f%% info: %.3f s\n  %.*s\n",
                  per_key ? "per key" : "shared by all keys", info_permille / 10.0,
                  (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9,
                  (int)strcspn(r.report, "\n"), r.report);
    jresult_free(&r);
    free(g.ops);
}

static void test_perf(void **state)
{
    (void)state;
    perf_case(false, 10);
    perf_case(true, 10);
    perf_case(true, 50);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_histories),
        cmocka_unit_test(test_random_oracle),
        cmocka_unit_test(test_perf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
