/* jepsen: the session checker (see jcheck_session() in check.h).
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
 * 4. never outlive: a read R that found v saw the incarnation a write W of
 *    v began (values are unique), with the expiry W gave it or one a later
 *    refresh X gave it: one that returned true or whose outcome is unknown,
 *    invoked before R completed and ending after W was invoked (else it
 *    applied before W, and W's SET replaced its expiry). Each set its expiry
 *    from a stamp no later than its end: end(X) + ttl(X), where the end of
 *    an info operation is its info event plus info_ns (the assumption that
 *    an uncertain request applies within info_ns of the client giving up,
 *    or never; < 0: never assumed, such setters then bound nothing). If R
 *    was invoked more than late_ns + margin_ns after the latest of these,
 *    the key outlived its ttl. late_ns is the election timeout: a new
 *    leader's clock may lag the old one by the replication delay, never by
 *    more than that (raft/clock.h).
 *
 * Rules 1 and 4 are the only ones that trust the two clocks to run at the
 * same rate; margin_ns absorbs the server's millisecond resolution. Rules 2
 * and 3 use only real-time order. */
#include <stdlib.h>
#include <string.h>

#include "jepsen/checker/check_internal.h"

enum { SS_WRITE, SS_REFRESH, SS_READ, SS_NONE };

struct session_stats
{
    size_t observations, vanished, came_back, unwritten, stale, outlived;
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
    struct tv *refr;    /* refreshes that may have set an expiry: t_inv -> end + ttl */
    int64_t refr_span;  /* the longest end - t_inv among them */
    size_t ns, nsure, ngone, nw, nokw, nbyval, nrefr;
};

static int64_t expiry(int64_t t_inv, int64_t ttl_ms)
{
    if (ttl_ms < 0 || ttl_ms > (INT64_MAX - t_inv) / 1000000) return INT64_MAX;
    return t_inv + ttl_ms * 1000000;
}

/* The latest time an operation that may have applied did so: its ok
 * completion; an info one, its info event plus info_ns (INT64_MAX when
 * info_ns < 0 or it never completed). */
static int64_t latest_end(const struct jhist *h, const struct jpair *p, const struct jbudget *b)
{
    if (p->outcome == JOP_OK) return p->t_ret;
    if (b->info_ns < 0 || p->done == JPAIR_NONE) return INT64_MAX;
    int64_t t = h->ops[p->done].time;
    return t > INT64_MAX - b->info_ns ? INT64_MAX : t + b->info_ns;
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
    free(s->refr);
}

static int session_index(struct session *s, const struct jbudget *b)
{
    size_t n = s->n + 1;
    s->setters = malloc(n * sizeof *s->setters);
    s->sure = malloc(n * sizeof *s->sure);
    s->gone = malloc(n * sizeof *s->gone);
    s->writes = malloc(n * sizeof *s->writes);
    s->okw = malloc(n * sizeof *s->okw);
    s->byval = malloc(n * sizeof *s->byval);
    s->refr = malloc(n * sizeof *s->refr);
    if (!s->setters || !s->sure || !s->gone || !s->writes || !s->okw || !s->byval || !s->refr)
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
        if (o->kind == SS_REFRESH && (!ok || o->present)) {
            int64_t end = latest_end(s->h, p, b);
            int64_t ttl = inv_of(s->h, p)->ttl_ms;
            s->refr[s->nrefr++] = (struct tv){p->t_inv, expiry(end, ttl), i};
            if (end != INT64_MAX && end - p->t_inv > s->refr_span) s->refr_span = end - p->t_inv;
            if (end == INT64_MAX) s->refr_span = INT64_MAX;
        }
    }
    qsort(s->refr, s->nrefr, sizeof *s->refr, check_tv_cmp);
    check_tv_running(s->setters, s->ns, false);
    for (size_t i = 0; i < s->n; i++) {
        const struct jpair *p = &s->p[i];
        size_t j;
        if (p->outcome != JOP_OK || !(s->o[i].kind == SS_WRITE ||
                                      (s->o[i].kind == SS_REFRESH && s->o[i].present)))
            continue;
        /* setters completed at or after W's invoke: W itself is one */
        j = check_count_before(s->setters, s->ns, p->t_inv, false);
        s->sure[s->nsure++] = (struct tv){p->t_ret, j < s->ns ? s->setters[j].v : INT64_MAX, i};
    }
    check_tv_running(s->sure, s->nsure, true);
    check_tv_running(s->gone, s->ngone, true);
    check_tv_running(s->writes, s->nw, true);
    check_tv_running(s->okw, s->nokw, true);
    qsort(s->byval, s->nbyval, sizeof *s->byval, wv_cmp);
    return 0;
}

/* Rule 4 for a read that found the value of the writes byval[lo, hi): the
 * latest expiry any setter could have given this incarnation, or INT64_MAX
 * if one had no ttl or no bound; *w the setter that gave it. */
static int64_t latest_expiry(const struct session *s, const struct jpair *r, size_t lo, size_t hi,
                             const struct jbudget *b, size_t *w)
{
    int64_t latest = INT64_MIN, first = INT64_MAX;
    for (size_t j = lo; j < hi; j++) {
        const struct jpair *p = &s->p[s->byval[j].i];
        if (p->t_inv > r->t_ret) break; /* sorted by invoke: none later can explain r */
        int64_t e = expiry(latest_end(s->h, p, b), inv_of(s->h, p)->ttl_ms);
        if (e >= latest) latest = e, *w = s->byval[j].i;
        if (p->t_inv < first) first = p->t_inv;
    }
    if (latest == INT64_MAX || first == INT64_MAX) return INT64_MAX;
    /* Refreshes invoked before r completed that may have applied after the
     * earliest of those writes: those invoked within refr_span before it. */
    size_t k = check_count_before(s->refr, s->nrefr, r->t_ret, false);
    int64_t from = s->refr_span == INT64_MAX || first < INT64_MIN + s->refr_span ? INT64_MIN
                                                                               : first - s->refr_span;
    while (k > 0 && s->refr[k - 1].t >= from) {
        const struct tv *x = &s->refr[--k];
        const struct jpair *p = &s->p[x->i];
        if (latest_end(s->h, p, b) <= first) continue; /* applied before the write */
        if (x->v >= latest) latest = x->v, *w = x->i;
        if (latest == INT64_MAX) break;
    }
    return latest;
}

/* Rules 2 and 3 for an observation that found the key; a violation's name,
 * or NULL, with the witness operation in *w (JPAIR_NONE if none). */
static const char *session_present(const struct session *s, size_t i, const struct jbudget *b,
                                   size_t *w)
{
    const struct jpair *r = &s->p[i];
    const struct sop *o = &s->o[i];
    size_t g = check_count_before(s->gone, s->ngone, r->t_inv, false), lo = 0, hi = s->nbyval;
    size_t k = check_count_before(s->okw, s->nokw, r->t_inv, false);
    int64_t t0 = g > 0 ? s->gone[g - 1].v : INT64_MIN;
    int64_t maxinv = k > 0 ? s->okw[k - 1].v : INT64_MIN;
    bool any = false, after = false;
    *w = g > 0 ? s->gone[g - 1].i : JPAIR_NONE;
    if (o->kind == SS_REFRESH) {
        size_t a = check_count_before(s->writes, s->nw, r->t_ret, true);
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
    size_t first = lo, end = lo, ws = JPAIR_NONE;
    bool current = false;
    while (end < s->nbyval && strcmp(s->byval[end].val, o->val) == 0) end++;
    for (; lo < end; lo++) {
        int64_t xr = s->p[s->byval[lo].i].t_ret;
        if (s->byval[lo].t_inv > r->t_ret) break;
        any = true;
        if (xr < t0) continue;
        after = true;
        if (maxinv <= xr) current = true;
    }
    if (!any) {
        *w = JPAIR_NONE;
        return "read a value never written";
    }
    if (!after) return "came back (absent before, no write of this value since)";
    if (!current) {
        *w = s->okw[k - 1].i;
        return "stale (overwritten before the read began, by the second op)";
    }
    int64_t latest = latest_expiry(s, r, first, end, b, &ws);
    if (latest != INT64_MAX && r->t_inv - latest > b->late_ns + b->margin_ns) {
        *w = ws;
        return "outlived its ttl (still there past the latest expiry a setter gave it: the second op)";
    }
    return NULL;
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
    if (rv == 0) rv = session_index(&s, b);
    for (size_t i = 0; i < n && rv == 0; i++) {
        const struct sop *o = &s.o[i];
        const struct jpair *r = &p[i];
        const char *what = NULL;
        size_t w = JPAIR_NONE, k;
        if (!(o->kind == SS_READ || (o->kind == SS_REFRESH && r->outcome == JOP_OK))) continue;
        st->observations++;
        k = check_count_before(s.sure, s.nsure, r->t_inv, false);
        if (o->present) {
            what = session_present(&s, i, b, &w);
            st->came_back += what != NULL && strncmp(what, "came", 4) == 0;
            st->outlived += what != NULL && strncmp(what, "outlived", 8) == 0;
            st->stale += what != NULL && strncmp(what, "stale", 5) == 0;
            st->unwritten += what != NULL && strstr(what, "never written") != NULL;
        } else if (k > 0 && r->t_ret < s.sure[k - 1].v &&
                   s.sure[k - 1].v - r->t_ret > b->margin_ns) {
            what = "vanished (absent before its ttl ran out; the second op set it)";
            w = s.sure[k - 1].i;
            st->vanished++;
        }
        if (what == NULL) continue;
        if (bad_obs++ < CHECK_SHOW) {
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
    fprintf(f, "%zu observations: %zu vanished, %zu came back, %zu unwritten, %zu stale, %zu outlived",
            s->observations, s->vanished, s->came_back, s->unwritten, s->stale, s->outlived);
}

int jcheck_session(const struct jhist *h, const struct jbudget *b, struct jresult *out)
{
    struct session_stats st = {0};
    return check_keys("session", session_key, session_summary, &st, h, b, out);
}
