/* jepsen: the set, counter and session checkers, and the result helpers.
 *
 * Each checker judges one key at a time (the key names a set, a counter or a
 * session) through one driver, shaped like the register checker: pair the
 * history, walk each key's run of operations, keep the first bad key's report.
 * All three are sweeps over sorted operations with prefix sums or maxima, so
 * they run in O(n log n) and need no budget.
 *
 * Real-time order is judged conservatively everywhere: A is before B only if
 * A completed strictly before B was invoked (info ops never complete). */
#include "jepsen/check.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* A checker for one key: sets *bad (a violation) or *undecided, may write
 * the key's report to rep, adds to its stats, returns 0 or a KEEL_* error
 * with errmsg set. p is the key's operations, sorted by invoke time. */
typedef int (*key_fn)(void *stats, const struct jhist *h, const struct jpair *p, size_t n,
                      const struct jbudget *b, bool *bad, bool *undecided, FILE *rep,
                      char *errmsg, size_t size);
typedef void (*stats_fn)(const void *stats, FILE *f);

/* Parse value text (NULL: null); a new reference, NULL if not JSON. */
static json_t *load(const char *text)
{
    return text != NULL ? json_loads(text, JSON_DECODE_ANY, NULL) : json_null();
}

static int malformed(char *errmsg, size_t size, const struct jpair *p, const char *what)
{
    snprintf(errmsg, size, "event %zu: %s", p->inv + 1, what);
    return KEEL_EMALFORMED;
}

static const struct jop *inv_of(const struct jhist *h, const struct jpair *p)
{
    return &h->ops[p->inv];
}

/* The value of an operation's ok completion (NULL for null). */
static const char *result_of(const struct jhist *h, const struct jpair *p)
{
    return h->ops[p->done].value;
}

static void describe(FILE *f, const struct jhist *h, const struct jpair *p)
{
    fputs("  ", f);
    jpair_describe(f, h, p);
    fputc('\n', f);
}

/* ---- the driver --------------------------------------------------------- */

static int run_keys(const char *name, key_fn check, stats_fn summary, void *stats,
                    const struct jhist *h, const struct jbudget *b, struct jresult *out)
{
    struct jbudget bud = b != NULL ? *b : JBUDGET_DEFAULT;
    struct jpair *pairs;
    char *first = NULL, *rep;
    size_t np, len;
    FILE *f;
    int rv;
    memset(out, 0, sizeof *out);
    out->verdict = JV_UNKNOWN;
    if ((rv = jhist_pairs(h, &pairs, &np, out->errmsg, sizeof out->errmsg)) != 0) return rv;
    for (size_t g = 0, end; g < np && rv == 0; g = end) {
        bool bad = false, undecided = false;
        for (end = g; end < np && strcmp(pairs[end].key, pairs[g].key) == 0; end++) {
        }
        out->keys++;
        out->ops_checked += end - g;
        if ((f = open_memstream(&rep, &len)) == NULL) {
            rv = KEEL_ENOMEM;
            break;
        }
        fprintf(f, "key \"%s\": %zu ops\n", pairs[g].key, end - g);
        rv = check(stats, h, &pairs[g], end - g, &bud, &bad, &undecided, f, out->errmsg,
                   sizeof out->errmsg);
        if (fclose(f) != 0 && rv == 0) rv = KEEL_ENOMEM;
        out->bad_keys += bad;
        out->unknown_keys += !bad && undecided;
        /* Keep the first invalid key's report, else the first undecided one. */
        if (rv == 0 && (bad || undecided) &&
            (first == NULL || (bad && out->bad_keys == 1))) {
            free(first);
            free(out->bad_key);
            first = rep;
            rep = NULL;
            if ((out->bad_key = strdup(pairs[g].key)) == NULL) rv = KEEL_ENOMEM;
        }
        free(rep);
    }
    free(pairs);
    if (rv == 0 && (f = open_memstream(&out->report, &len)) != NULL) {
        out->verdict = out->bad_keys ? JV_INVALID : out->unknown_keys ? JV_UNKNOWN : JV_VALID;
        fprintf(f, "%s: %zu keys, %zu ops: %zu invalid, %zu undecided; ", name, out->keys,
                out->ops_checked, out->bad_keys, out->unknown_keys);
        summary(stats, f);
        fputc('\n', f);
        if (first != NULL) fputs(first, f);
        if (fclose(f) != 0) rv = KEEL_ENOMEM;
    } else if (rv == 0) {
        rv = KEEL_ENOMEM;
    }
    free(first);
    if (rv != 0) out->verdict = JV_UNKNOWN;
    if (rv == KEEL_ENOMEM && out->errmsg[0] == 0)
        snprintf(out->errmsg, sizeof out->errmsg, "out of memory");
    return rv;
}

/* Timed values: sorted by t, then turned into running maxima or minima. */
struct tv
{
    int64_t t, v;
    size_t i; /* the operation the v came from */
};

static int tv_cmp(const void *a, const void *b)
{
    const struct tv *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Sort by t; then v[j] = max (or min) of v over [0, j] (or [j, n)). */
static void tv_running(struct tv *a, size_t n, bool max)
{
    qsort(a, n, sizeof *a, tv_cmp);
    for (size_t j = 1; max && j < n; j++) {
        if (a[j - 1].v > a[j].v) {
            a[j].v = a[j - 1].v;
            a[j].i = a[j - 1].i;
        }
    }
    for (size_t j = n; !max && j-- > 1;) {
        if (a[j].v < a[j - 1].v) {
            a[j - 1].v = a[j].v;
            a[j - 1].i = a[j].i;
        }
    }
}

/* How many of the sorted a have t < x (or t <= x). */
static size_t count_before(const struct tv *a, size_t n, int64_t x, bool or_equal)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid].t < x || (or_equal && a[mid].t == x)) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* ---- set ---------------------------------------------------------------- */

#define SHOW 10 /* operations or elements listed per kind of violation */

struct set_stats
{
    size_t adds, ok, lost, unexpected, recovered, duplicates;
};

struct elem
{
    const char *s; /* borrowed from a json_t kept alive by the caller */
    const struct jpair *p;
};

static int elem_cmp(const void *a, const void *b)
{
    const struct elem *x = a, *y = b;
    int c = strcmp(x->s, y->s);
    return c != 0 ? c : x->p < y->p ? -1 : x->p > y->p;
}

static int strp_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool has(const char *const *v, size_t n, const char *s)
{
    return bsearch(&s, v, n, sizeof *v, strp_cmp) != NULL;
}

/* Judge one set against its final read (the last ok read invoked). */
static int set_judge(struct set_stats *st, const struct jhist *h, const struct elem *adds,
                     size_t na, const struct jpair *read, const char **seen, size_t ns,
                     bool *bad, FILE *rep)
{
    size_t lost = 0, unexpected = 0, dups = 0, j = 0;
    for (size_t i = 1; i < ns; i++) dups += strcmp(seen[i - 1], seen[i]) == 0;
    fprintf(rep, "final read (%zu elements):\n", ns);
    describe(rep, h, read);
    for (size_t i = 0; i < na; i++) {
        bool present = has(seen, ns, adds[i].s);
        const struct jpair *p = adds[i].p;
        st->ok += p->outcome == JOP_OK;
        st->recovered += p->outcome == JOP_INFO && present;
        if (p->outcome == JOP_OK && p->t_ret < read->t_inv && !present) {
            if (lost++ == 0) fprintf(rep, "lost (acknowledged, then missing):\n");
            if (lost <= SHOW) describe(rep, h, p);
        }
    }
    /* An element is explained by an add of it, not failed, invoked in time. */
    for (size_t i = 0; i < ns; i++) {
        bool explained = false;
        if (i > 0 && strcmp(seen[i - 1], seen[i]) == 0) continue;
        while (j < na && strcmp(adds[j].s, seen[i]) < 0) j++;
        for (size_t k = j; k < na && strcmp(adds[k].s, seen[i]) == 0; k++) {
            explained |= adds[k].p->outcome != JOP_FAIL && adds[k].p->t_inv <= read->t_ret;
        }
        if (explained) continue;
        if (unexpected++ == 0) fprintf(rep, "unexpected (no add could have put it there):\n");
        if (unexpected <= SHOW) fprintf(rep, "  \"%s\"\n", seen[i]);
    }
    if (dups > 0) fprintf(rep, "%zu elements appear more than once in the read\n", dups);
    st->lost += lost;
    st->unexpected += unexpected;
    st->duplicates += dups;
    *bad = lost > 0 || unexpected > 0 || dups > 0;
    return 0;
}

static int set_key(void *stats, const struct jhist *h, const struct jpair *p, size_t n,
                   const struct jbudget *b, bool *bad, bool *undecided, FILE *rep,
                   char *errmsg, size_t size)
{
    struct set_stats *st = stats;
    const struct jpair *read = NULL;
    struct elem *adds = malloc((n + 1) * sizeof *adds);
    json_t **vals = calloc(n + 1, sizeof *vals), *rv_json = NULL;
    const char **seen = NULL;
    size_t na = 0, ns = 0;
    int rv = 0;
    if (adds == NULL || vals == NULL) rv = KEEL_ENOMEM;
    for (size_t i = 0; i < n && rv == 0; i++) {
        const struct jop *inv = inv_of(h, &p[i]);
        if (inv->f == JF_READ) {
            if (p[i].outcome == JOP_OK) read = &p[i]; /* sorted: the last one wins */
        } else if (inv->f != JF_ADD) {
            rv = malformed(errmsg, size, &p[i], "not a set operation (add or read)");
        } else if ((vals[na] = load(inv->value)) == NULL || !json_is_string(vals[na])) {
            rv = malformed(errmsg, size, &p[i], "a set element must be a string");
        } else {
            adds[na].s = json_string_value(vals[na]);
            adds[na++].p = &p[i];
        }
    }
    st->adds += na;
    if (rv == 0 && read == NULL) {
        fprintf(rep, "undecided: no ok read of this set\n");
        *undecided = true;
        for (size_t i = 0; i < na; i++) st->ok += adds[i].p->outcome == JOP_OK;
    } else if (rv == 0) {
        json_t *e;
        size_t k;
        rv_json = load(result_of(h, read));
        if (rv_json == NULL || !json_is_array(rv_json)) {
            rv = malformed(errmsg, size, read, "a set read must return an array");
        } else if ((seen = malloc((json_array_size(rv_json) + 1) * sizeof *seen)) == NULL) {
            rv = KEEL_ENOMEM;
        }
        json_array_foreach(rv_json, k, e) {
            if (rv != 0) break;
            if (!json_is_string(e)) rv = malformed(errmsg, size, read, "set element not a string");
            seen[ns++] = json_string_value(e);
        }
        if (rv == 0) {
            qsort(seen, ns, sizeof *seen, strp_cmp);
            qsort(adds, na, sizeof *adds, elem_cmp);
            rv = set_judge(st, h, adds, na, read, seen, ns, bad, rep);
        }
    }
    for (size_t i = 0; vals != NULL && i <= na; i++) json_decref(vals[i]);
    json_decref(rv_json);
    free(vals);
    free(adds);
    free(seen);
    (void)b;
    return rv;
}

static void set_summary(const void *stats, FILE *f)
{
    const struct set_stats *s = stats;
    fprintf(f, "%zu adds, %zu ok, %zu lost, %zu unexpected, %zu recovered (info, present), "
               "%zu duplicates",
            s->adds, s->ok, s->lost, s->unexpected, s->recovered, s->duplicates);
}

int jcheck_set(const struct jhist *h, const struct jbudget *b, struct jresult *out)
{
    struct set_stats st = {0};
    return run_keys("set", set_key, set_summary, &st, h, b, out);
}

/* ---- counter ------------------------------------------------------------ */

struct counter_stats
{
    size_t reads, bad_reads, ok_adds, info_adds;
};

/* Prefix sums over sorted adds: all[j] covers the first j of them. */
struct sums
{
    int64_t all, pos, neg;
};

static int sums_build(struct sums *s, const struct tv *a, size_t n)
{
    s[0] = (struct sums){0, 0, 0};
    for (size_t j = 0; j < n; j++) {
        int64_t d = a[j].v;
        s[j + 1] = s[j];
        if (__builtin_add_overflow(s[j].all, d, &s[j + 1].all) ||
            __builtin_add_overflow(d > 0 ? s[j].pos : s[j].neg, d,
                                   d > 0 ? &s[j + 1].pos : &s[j + 1].neg))
            return KEEL_EOVERFLOW;
    }
    return 0;
}

static int counter_key(void *stats, const struct jhist *h, const struct jpair *p, size_t n,
                       const struct jbudget *b, bool *bad, bool *undecided, FILE *rep,
                       char *errmsg, size_t size)
{
    struct counter_stats *st = stats;
    struct tv *done = malloc((n + 1) * sizeof *done), *all = malloc((n + 1) * sizeof *all);
    struct sums *sd = malloc((n + 2) * sizeof *sd), *sa = malloc((n + 2) * sizeof *sa);
    size_t nd = 0, na = 0, reads = 0, badr = 0;
    int rv = 0;
    if (!done || !all || !sd || !sa) rv = KEEL_ENOMEM;
    for (size_t i = 0; i < n && rv == 0; i++) {
        const struct jop *inv = inv_of(h, &p[i]);
        json_t *v;
        int64_t d;
        if (inv->f == JF_READ) continue;
        if (inv->f != JF_ADD) {
            rv = malformed(errmsg, size, &p[i], "not a counter operation (add or read)");
            break;
        }
        v = load(inv->value);
        if (!json_is_integer(v)) {
            json_decref(v);
            rv = malformed(errmsg, size, &p[i], "delta not an integer");
            break;
        }
        d = json_integer_value(v);
        json_decref(v);
        /* certain once acknowledged; possible from the invoke on, unless failed */
        if (p[i].outcome == JOP_OK) done[nd++] = (struct tv){p[i].t_ret, d, i};
        if (p[i].outcome != JOP_FAIL) all[na++] = (struct tv){p[i].t_inv, d, i};
        st->ok_adds += p[i].outcome == JOP_OK;
        st->info_adds += p[i].outcome == JOP_INFO;
    }
    if (rv == 0) {
        qsort(done, nd, sizeof *done, tv_cmp);
        qsort(all, na, sizeof *all, tv_cmp);
        if (sums_build(sd, done, nd) != 0 || sums_build(sa, all, na) != 0)
            rv = malformed(errmsg, size, &p[0], "the sums of this key's deltas overflow");
    }
    for (size_t i = 0; i < n && rv == 0; i++) {
        const struct jpair *r = &p[i];
        struct sums c, a;
        int64_t got = 0, lo, hi;
        json_t *v;
        if (inv_of(h, r)->f != JF_READ || r->outcome != JOP_OK) continue;
        v = load(result_of(h, r));
        if (json_is_integer(v)) {
            got = json_integer_value(v);
        } else if (!json_is_null(v)) { /* null: the counter does not exist yet */
            rv = malformed(errmsg, size, r, "a counter read must return an integer or null");
        }
        json_decref(v);
        if (rv != 0) break;
        reads++;
        c = sd[count_before(done, nd, r->t_inv, false)];
        a = sa[count_before(all, na, r->t_ret, true)];
        /* Adds certainly applied are a subset of those possibly applied. */
        lo = c.all + (a.neg - c.neg);
        hi = c.all + (a.pos - c.pos);
        if (got >= lo && got <= hi) continue;
        if (badr++ < SHOW) {
            fprintf(rep, "read %" PRId64 ", outside [%" PRId64 ", %" PRId64 "] (%" PRId64
                         " certainly added before it):\n",
                    got, lo, hi, c.all);
            describe(rep, h, r);
        }
    }
    st->reads += reads;
    st->bad_reads += badr;
    *bad = badr > 0;
    if (rv == 0 && reads == 0) {
        fprintf(rep, "undecided: no ok read of this counter\n");
        *undecided = true;
    }
    free(done);
    free(all);
    free(sd);
    free(sa);
    (void)b;
    return rv;
}

static void counter_summary(const void *stats, FILE *f)
{
    const struct counter_stats *s = stats;
    fprintf(f, "%zu reads, %zu out of bounds; %zu ok adds, %zu info adds", s->reads,
            s->bad_reads, s->ok_adds, s->info_adds);
}

int jcheck_counter(const struct jhist *h, const struct jbudget *b, struct jresult *out)
{
    struct counter_stats st = {0};
    return run_keys("counter", counter_key, counter_summary, &st, h, b, out);
}

/* ---- session ------------------------------------------------------------ *
 *
 * A session key is written with a ttl (SET k v PX ttl), refreshed (PEXPIRE k
 * ttl: true if the key existed, and then its expiry moved; false and no
 * effect if not) and read. Setters are the writes and refreshes that may
 * have applied: any write not failed, a refresh that returned true or whose
 * outcome is unknown. A setter X applied between its invoke and completion,
 * so the key it leaves cannot expire before exp(X) = invoke + ttl. There are
 * no deletes on session keys. For each observation R (an ok read, or an ok
 * refresh, whose result says whether the key was there):
 *
 * 1. never vanish: let W be a write or true refresh completed before R was
 *    invoked. Until every setter that may have applied after W (completed
 *    after W's invoke, W included) could have expired, the key exists:
 *    deadline(W) = min exp(X) over those X. If R completed more than
 *    margin_ns before deadline(W), R must find the key.
 * 2. never come back: if an observation R0 that found the key absent
 *    completed before R was invoked, and R found it, some write applied
 *    after R0's read point: invoked before R completed, completed after R0
 *    was invoked. A refresh cannot bring a key back.
 * 3. only written values, not overwritten: a read of v needs a write X of v
 *    invoked before the read completed (and after R0 as in 2), such that no
 *    ok write Y was certainly in between (invoked after X completed,
 *    completed before the read was invoked).
 *
 * Rule 1 is the only one that trusts the two clocks to run at the same rate;
 * margin_ns absorbs the server's millisecond resolution. Rules 2 and 3 use
 * only real-time order. */

enum { SS_WRITE, SS_REFRESH, SS_READ, SS_NONE };

struct session_stats
{
    size_t observations, vanished, came_back, unwritten, stale;
};

struct sop
{
    int kind;
    char *val;    /* write: the value; read: what it returned (NULL: absent) */
    int64_t exp;  /* setters: earliest expiry, INT64_MAX without ttl */
    bool present; /* observations: the key was there */
};

struct session
{
    const struct jhist *h;
    const struct jpair *p;
    struct sop *o;
    size_t n;
    /* running extrema (struct tv), all over this key's operations */
    struct tv *setters; /* t_ret -> min exp after */
    struct tv *sure;    /* t_ret -> max deadline before (ok writes, true refreshes) */
    struct tv *gone;    /* t_ret -> max t_inv before (observations of absence) */
    struct tv *writes;  /* t_inv -> max t_ret before (writes not failed) */
    struct tv *okw;     /* t_ret -> max t_inv before (ok writes) */
    struct wv *byval;   /* writes not failed, of a value (not null) */
    size_t ns, nsure, ngone, nw, nokw, nbyval;
};

static int64_t expiry(int64_t t_inv, int64_t ttl_ms)
{
    if (ttl_ms < 0 || ttl_ms > (INT64_MAX - t_inv) / 1000000) return INT64_MAX;
    return t_inv + ttl_ms * 1000000;
}

static int session_load(struct session *s, size_t i, char *errmsg, size_t size)
{
    const struct jpair *p = &s->p[i];
    const struct jop *inv = inv_of(s->h, p);
    struct sop *o = &s->o[i];
    json_t *v;
    int rv = 0;
    *o = (struct sop){.kind = SS_NONE, .exp = expiry(p->t_inv, inv->ttl_ms)};
    if (inv->f != JF_WRITE && inv->f != JF_REFRESH && inv->f != JF_READ)
        return malformed(errmsg, size, p, "not a session operation (write, refresh, read)");
    if (inv->f == JF_REFRESH && inv->ttl_ms < 0)
        return malformed(errmsg, size, p, "a refresh needs ttl_ms");
    if (p->outcome == JOP_FAIL || (inv->f == JF_READ && p->outcome != JOP_OK)) return 0;
    switch (inv->f) {
    case JF_WRITE:
        o->kind = SS_WRITE;
        rv = jval_canon(inv->value, &o->val);
        break;
    case JF_READ:
        o->kind = SS_READ;
        rv = jval_canon(result_of(s->h, p), &o->val);
        o->present = o->val != NULL;
        break;
    default:
        o->kind = SS_REFRESH;
        if (p->outcome != JOP_OK) return 0;
        v = load(result_of(s->h, p));
        if (!json_is_boolean(v)) {
            json_decref(v);
            return malformed(errmsg, size, p, "a refresh must return true or false");
        }
        o->present = json_is_true(v);
        json_decref(v);
        return 0;
    }
    return rv == KEEL_EINVAL ? malformed(errmsg, size, p, "value is not JSON") : rv;
}

/* A write by value, for rule 3's lookup. */
struct wv
{
    const char *val;
    int64_t t_inv;
    size_t i;
};

static int wv_cmp(const void *a, const void *b)
{
    const struct wv *x = a, *y = b;
    int c = strcmp(x->val, y->val);
    if (c != 0) return c;
    return x->t_inv < y->t_inv ? -1 : x->t_inv > y->t_inv;
}

static void session_free(struct session *s)
{
    for (size_t i = 0; s->o != NULL && i < s->n; i++) free(s->o[i].val);
    free(s->o);
    free(s->setters);
    free(s->sure);
    free(s->gone);
    free(s->writes);
    free(s->okw);
    free(s->byval);
}

static int session_index(struct session *s)
{
    size_t n = s->n + 1;
    s->setters = malloc(n * sizeof *s->setters);
    s->sure = malloc(n * sizeof *s->sure);
    s->gone = malloc(n * sizeof *s->gone);
    s->writes = malloc(n * sizeof *s->writes);
    s->okw = malloc(n * sizeof *s->okw);
    s->byval = malloc(n * sizeof *s->byval);
    if (!s->setters || !s->sure || !s->gone || !s->writes || !s->okw || !s->byval)
        return KEEL_ENOMEM;
    for (size_t i = 0; i < s->n; i++) {
        const struct sop *o = &s->o[i];
        const struct jpair *p = &s->p[i];
        bool ok = p->outcome == JOP_OK;
        if (o->kind == SS_WRITE || (o->kind == SS_REFRESH && (!ok || o->present)))
            s->setters[s->ns++] = (struct tv){p->t_ret, o->exp, i};
        if (o->kind == SS_WRITE) {
            s->writes[s->nw++] = (struct tv){p->t_inv, p->t_ret, i};
            if (o->val != NULL) s->byval[s->nbyval++] = (struct wv){o->val, p->t_inv, i};
            if (ok) s->okw[s->nokw++] = (struct tv){p->t_ret, p->t_inv, i};
        }
        if ((o->kind == SS_READ || (o->kind == SS_REFRESH && ok)) && !o->present)
            s->gone[s->ngone++] = (struct tv){p->t_ret, p->t_inv, i};
    }
    tv_running(s->setters, s->ns, false);
    for (size_t i = 0; i < s->n; i++) {
        const struct jpair *p = &s->p[i];
        size_t j;
        if (p->outcome != JOP_OK || !(s->o[i].kind == SS_WRITE ||
                                      (s->o[i].kind == SS_REFRESH && s->o[i].present)))
            continue;
        /* setters completed at or after W's invoke: W itself is one */
        j = count_before(s->setters, s->ns, p->t_inv, false);
        s->sure[s->nsure++] = (struct tv){p->t_ret, j < s->ns ? s->setters[j].v : INT64_MAX, i};
    }
    tv_running(s->sure, s->nsure, true);
    tv_running(s->gone, s->ngone, true);
    tv_running(s->writes, s->nw, true);
    tv_running(s->okw, s->nokw, true);
    qsort(s->byval, s->nbyval, sizeof *s->byval, wv_cmp);
    return 0;
}

/* Rules 2 and 3 for an observation that found the key; a violation's name,
 * or NULL, with the witness operation in *w (JPAIR_NONE if none). */
static const char *session_present(const struct session *s, size_t i, size_t *w)
{
    const struct jpair *r = &s->p[i];
    const struct sop *o = &s->o[i];
    size_t g = count_before(s->gone, s->ngone, r->t_inv, false), lo = 0, hi = s->nbyval;
    size_t k = count_before(s->okw, s->nokw, r->t_inv, false);
    int64_t t0 = g > 0 ? s->gone[g - 1].v : INT64_MIN;
    int64_t maxinv = k > 0 ? s->okw[k - 1].v : INT64_MIN;
    bool any = false, after = false;
    *w = g > 0 ? s->gone[g - 1].i : JPAIR_NONE;
    if (o->kind == SS_REFRESH) {
        size_t a = count_before(s->writes, s->nw, r->t_ret, true);
        if (a == 0) return "refreshed a key never written";
        return s->writes[a - 1].v < t0 ? "came back (absent before, no write since)" : NULL;
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(s->byval[mid].val, o->val) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    for (; lo < s->nbyval && strcmp(s->byval[lo].val, o->val) == 0; lo++) {
        int64_t xr = s->p[s->byval[lo].i].t_ret;
        if (s->byval[lo].t_inv > r->t_ret) break;
        any = true;
        if (xr < t0) continue;
        after = true;
        if (maxinv <= xr) return NULL;
    }
    if (!any) {
        *w = JPAIR_NONE;
        return "read a value never written";
    }
    if (!after) return "came back (absent before, no write of this value since)";
    *w = s->okw[k - 1].i;
    return "stale (overwritten before the read began, by the second op)";
}

static int session_key(void *stats, const struct jhist *h, const struct jpair *p, size_t n,
                       const struct jbudget *b, bool *bad, bool *undecided, FILE *rep,
                       char *errmsg, size_t size)
{
    struct session_stats *st = stats;
    struct session s = {.h = h, .p = p, .n = n};
    size_t bad_obs = 0;
    int rv = 0;
    if ((s.o = calloc(n + 1, sizeof *s.o)) == NULL) rv = KEEL_ENOMEM;
    for (size_t i = 0; i < n && rv == 0; i++) rv = session_load(&s, i, errmsg, size);
    if (rv == 0) rv = session_index(&s);
    for (size_t i = 0; i < n && rv == 0; i++) {
        const struct sop *o = &s.o[i];
        const struct jpair *r = &p[i];
        const char *what = NULL;
        size_t w = JPAIR_NONE, k;
        if (!(o->kind == SS_READ || (o->kind == SS_REFRESH && r->outcome == JOP_OK))) continue;
        st->observations++;
        k = count_before(s.sure, s.nsure, r->t_inv, false);
        if (o->present) {
            what = session_present(&s, i, &w);
            st->came_back += what != NULL && strncmp(what, "came", 4) == 0;
            st->stale += what != NULL && strncmp(what, "stale", 5) == 0;
            st->unwritten += what != NULL && strstr(what, "never written") != NULL;
        } else if (k > 0 && r->t_ret < s.sure[k - 1].v &&
                   s.sure[k - 1].v - r->t_ret > b->margin_ns) {
            what = "vanished (absent before its ttl ran out; the second op set it)";
            w = s.sure[k - 1].i;
            st->vanished++;
        }
        if (what == NULL) continue;
        if (bad_obs++ < SHOW) {
            fprintf(rep, "%s:\n", what);
            describe(rep, h, r);
            if (w != JPAIR_NONE) describe(rep, h, &p[w]);
        }
    }
    *bad = bad_obs > 0;
    (void)undecided;
    session_free(&s);
    return rv;
}

static void session_summary(const void *stats, FILE *f)
{
    const struct session_stats *s = stats;
    fprintf(f, "%zu observations: %zu vanished, %zu came back, %zu unwritten, %zu stale",
            s->observations, s->vanished, s->came_back, s->unwritten, s->stale);
}

int jcheck_session(const struct jhist *h, const struct jbudget *b, struct jresult *out)
{
    struct session_stats st = {0};
    return run_keys("session", session_key, session_summary, &st, h, b, out);
}

/* ---- names and results -------------------------------------------------- */

static const char *const workload_names[] = {"register", "set", "counter", "session"};
static const char *const verdict_names[] = {"valid", "invalid", "unknown"};

const char *jworkload_name(enum jworkload w)
{
    return (unsigned)w < 4 ? workload_names[w] : "?";
}

int jworkload_parse(const char *s, enum jworkload *out)
{
    for (unsigned i = 0; i < 4; i++) {
        if (strcmp(s, workload_names[i]) == 0) {
            *out = (enum jworkload)i;
            return 0;
        }
    }
    return KEEL_EINVAL;
}

const char *jverdict_name(enum jverdict v)
{
    return (unsigned)v < 3 ? verdict_names[v] : "?";
}

int jcheck(enum jworkload w, const struct jhist *h, const struct jbudget *b,
           struct jresult *out)
{
    switch (w) {
    case JW_REGISTER:
        return jcheck_register(h, b, out);
    case JW_SET:
        return jcheck_set(h, b, out);
    case JW_COUNTER:
        return jcheck_counter(h, b, out);
    case JW_SESSION:
        return jcheck_session(h, b, out);
    }
    memset(out, 0, sizeof *out);
    out->verdict = JV_UNKNOWN;
    snprintf(out->errmsg, sizeof out->errmsg, "unknown workload %d", (int)w);
    return KEEL_EINVAL;
}

void jresult_free(struct jresult *r)
{
    free(r->report);
    free(r->bad_key);
    memset(r, 0, sizeof *r);
    r->verdict = JV_UNKNOWN;
}

int jresult_json(const struct jresult *r, enum jworkload w, FILE *f)
{
    json_t *o = json_object();
    json_t *valid = r->verdict == JV_UNKNOWN ? json_string("unknown")
                                              : json_boolean(r->verdict == JV_VALID);
    int rv = 0;
    if (o == NULL || valid == NULL ||
        json_object_set_new(o, "valid", valid) != 0 ||
        json_object_set_new(o, "workload", json_string(jworkload_name(w))) != 0 ||
        json_object_set_new(o, "ops", json_integer((json_int_t)r->ops_checked)) != 0 ||
        json_object_set_new(o, "keys", json_integer((json_int_t)r->keys)) != 0 ||
        json_object_set_new(o, "bad_keys", json_integer((json_int_t)r->bad_keys)) != 0 ||
        json_object_set_new(o, "unknown_keys", json_integer((json_int_t)r->unknown_keys)) != 0 ||
        json_object_set_new(o, "bad_key",
                            r->bad_key ? json_string(r->bad_key) : json_null()) != 0 ||
        json_object_set_new(o, "report",
                            json_string(r->report ? r->report : r->errmsg)) != 0) {
        rv = KEEL_ENOMEM;
    } else if (json_dumpf(o, f, 0) != 0 || fputc('\n', f) == EOF) {
        rv = KEEL_EIO;
    }
    json_decref(o);
    return rv;
}
