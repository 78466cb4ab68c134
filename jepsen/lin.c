/* jepsen: register linearizability, Wing & Gong's search with Lowe's memo.
 *
 * The history is split by key (P-compositionality) and each key is checked
 * alone. The model is a register that starts absent:
 *   read ok v      legal iff the register holds v (null: absent)
 *   write v        sets v;  del sets absent
 *   cas [e, n] ok  legal iff the register holds e (null: absent); sets n
 * A fail op certainly did not happen and is dropped; so is a read that did not
 * complete ok, as it constrains nothing. Any other op whose outcome is info
 * (or that never completed) may take effect at any point after its invoke, or
 * never: its return is placed at +infinity (as Knossos does). "Never" needs no
 * special case, because such an op can always be linearized after every op
 * that completed, where nobody observes it; an info cas therefore applies iff
 * its precondition holds wherever it is placed.
 *
 * Two prunings keep crashed clients from making the search exponential:
 *   - an info write, del or cas whose written value no ok read returns and no
 *     cas expects is dropped: moving it to the end changes no observation;
 *   - a read (or ok cas) of a value that no write ever wrote is reported at
 *     once, with no search.
 *
 * The search is Lowe's refinement of Wing & Gong (as in Porcupine): calls
 * and returns sorted by time in a doubly linked list (calls before returns at
 * equal times, so touching intervals count as concurrent); repeatedly
 * linearize the first call whose op is legal in the current state, lift it
 * and its return out of the list, and backtrack when a return is reached
 * whose op is not linearized. A memo of every configuration (set of
 * linearized ops, register value) visited prunes revisits.
 *
 * The set is stored compactly: its lowest unset bit, its highest set bit and
 * the words in between. Ops are numbered by invoke time and the search keeps
 * every op before the window linearized, so the window is about as wide as
 * the history is concurrent, not as long as it is. */
#include "jepsen/check.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { L_READ, L_WRITE, L_CAS, L_CAS_INFO, L_DROP };
enum { S_VALID, S_INVALID, S_TIME, S_STATES, S_NOMEM };

#define ABSENT 0
#define NIL (-1)
#define TRAIL 6 /* linearized ops shown before the stuck one */
#define NEAR 10 /* concurrent ops shown around it */

/* One operation of a key, as the search sees it. */
struct lop
{
    const struct jpair *p;
    int kind;      /* L_*; del is a write of ABSENT */
    char *sa, *sb; /* canonical values (owned): read/write value, cas e and n */
    int32_t a, b;  /* the same as value ids: 0 absent, i + 1 for vals[i] */
    bool never;    /* reads or expects a value nobody wrote */
};

struct lent
{
    int64_t t;
    uint32_t op;
    bool ret;
    int32_t match; /* the call's return, the return's call */
    int32_t prev, next;
};

struct mslot
{
    uint64_t h;
    size_t off; /* the window's words in the pool */
    uint32_t lo, hi1;
    int32_t state;
    uint32_t used;
};

struct memo
{
    struct mslot *s;
    size_t cap, n;
    uint64_t *pool;
    size_t pn, pcap;
};

struct frame
{
    uint32_t op;
    int32_t state; /* on the stack: before the op; in the trail: after it */
};

struct search
{
    const struct lop *ops; /* only the checked ones, in invoke order */
    size_t n;
    struct lent *e; /* 2n entries, then the list head */
    int32_t *call;  /* op -> its call entry */
    uint64_t *bits, *zob;
    uint32_t lo; /* lowest op not linearized */
    int64_t hi;  /* highest op linearized, -1 if none */
    uint64_t hash;
    struct memo memo;
    struct frame *stack;
    size_t depth;
    /* The deepest dead end, for the report. */
    bool stuck_seen;
    size_t best;
    uint32_t stuck;
    int32_t stuck_state;
    struct frame trail[TRAIL];
    size_t ntrail;
};

struct limits
{
    double deadline; /* CLOCK_MONOTONIC seconds; 0: none */
    size_t max_states;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* ---- the model ---------------------------------------------------------- */

static bool step(const struct lop *o, int32_t s, int32_t *next)
{
    switch (o->kind) {
    case L_READ:
        *next = s;
        return s == o->a;
    case L_WRITE:
        *next = o->a;
        return true;
    case L_CAS:
        *next = o->b;
        return s == o->a;
    default: /* L_CAS_INFO: may apply; if it did, its precondition held */
        *next = s == o->a ? o->b : s;
        return true;
    }
}

/* ---- the linearized set and the memo ------------------------------------ */

static bool bit(const struct search *s, uint32_t i)
{
    return s->bits[i >> 6] >> (i & 63) & 1;
}

static void lin_set(struct search *s, uint32_t i)
{
    s->bits[i >> 6] |= (uint64_t)1 << (i & 63);
    s->hash ^= s->zob[i];
    while (s->lo < s->n && bit(s, s->lo)) s->lo++;
    if ((int64_t)i > s->hi) s->hi = i;
}

static void lin_clear(struct search *s, uint32_t i)
{
    s->bits[i >> 6] &= ~((uint64_t)1 << (i & 63));
    s->hash ^= s->zob[i];
    if (i < s->lo) s->lo = i;
    while (s->hi >= 0 && !bit(s, (uint32_t)s->hi)) s->hi--;
}

/* The words from the one holding lo to the one holding hi. Bits below lo
 * are all set and bits above hi all clear, so (lo, hi, words) is canonical. */
static size_t window(uint32_t lo, int64_t hi, size_t *first)
{
    *first = lo >> 6;
    return hi < (int64_t)lo ? 0 : (size_t)(hi >> 6) - *first + 1;
}

static int memo_grow(struct memo *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    struct mslot *s = calloc(cap, sizeof *s);
    if (s == NULL) return -1;
    if (m->pool == NULL) { /* never NULL once in use: memcmp/memcpy want a pointer */
        if ((m->pool = malloc(4096 * sizeof *m->pool)) == NULL) {
            free(s);
            return -1;
        }
        m->pcap = 4096;
    }
    for (size_t i = 0; i < m->cap; i++) {
        size_t j;
        if (!m->s[i].used) continue;
        for (j = m->s[i].h & (cap - 1); s[j].used; j = (j + 1) & (cap - 1)) {
        }
        s[j] = m->s[i];
    }
    free(m->s);
    m->s = s;
    m->cap = cap;
    return 0;
}

/* Remember (linearized set, state): 1 if new, 0 if seen, -1 on ENOMEM. */
static int memo_add(struct memo *m, const struct search *s, int32_t state)
{
    size_t first, nw = window(s->lo, s->hi, &first), i;
    uint64_t h = s->hash ^ mix((uint32_t)state);
    if ((m->n + 1) * 4 > m->cap * 3 && memo_grow(m) != 0) return -1;
    for (i = h & (m->cap - 1); m->s[i].used; i = (i + 1) & (m->cap - 1)) {
        const struct mslot *x = &m->s[i];
        if (x->h == h && x->state == state && x->lo == s->lo &&
            x->hi1 == (uint32_t)(s->hi + 1) &&
            memcmp(m->pool + x->off, s->bits + first, nw * sizeof *m->pool) == 0)
            return 0;
    }
    if (m->pn + nw > m->pcap) {
        size_t cap = m->pcap ? m->pcap * 2 : 4096;
        uint64_t *p;
        while (cap < m->pn + nw) cap *= 2;
        if ((p = realloc(m->pool, cap * sizeof *p)) == NULL) return -1;
        m->pool = p;
        m->pcap = cap;
    }
    memcpy(m->pool + m->pn, s->bits + first, nw * sizeof *m->pool);
    m->s[i] = (struct mslot){h, m->pn, s->lo, (uint32_t)(s->hi + 1), state, 1};
    m->pn += nw;
    m->n++;
    return 1;
}

/* ---- the search --------------------------------------------------------- */

/* Take a call and its return out of the list; unlift() undoes the last one. */
static void lift(struct lent *e, int32_t c)
{
    int32_t r = e[c].match;
    e[e[c].prev].next = e[c].next;
    e[e[c].next].prev = e[c].prev;
    e[e[r].prev].next = e[r].next;
    if (e[r].next != NIL) e[e[r].next].prev = e[r].prev;
}

static void unlift(struct lent *e, int32_t c)
{
    int32_t r = e[c].match;
    e[e[r].prev].next = r;
    if (e[r].next != NIL) e[e[r].next].prev = r;
    e[e[c].prev].next = c;
    e[e[c].next].prev = c;
}

/* A return was reached with its op unplaced: remember the deepest such. */
static void note_stuck(struct search *s, uint32_t op, int32_t state)
{
    size_t k = s->depth < TRAIL ? s->depth : TRAIL;
    if (s->stuck_seen && s->depth <= s->best) return;
    s->stuck_seen = true;
    s->best = s->depth;
    s->stuck = op;
    s->stuck_state = state;
    s->ntrail = k;
    for (size_t j = 0; j < k; j++) {
        size_t d = s->depth - k + j;
        s->trail[j].op = s->stack[d].op;
        s->trail[j].state = d + 1 < s->depth ? s->stack[d + 1].state : state;
    }
}

static int search_run(struct search *s, const struct limits *lim)
{
    struct lent *e = s->e;
    int32_t head = (int32_t)(2 * s->n), cur = e[head].next, state = ABSENT;
    uint64_t steps = 0;
    while (e[head].next != NIL) {
        const struct lent *x = &e[cur];
        if ((++steps & 4095) == 0 && lim->deadline > 0 && now_s() > lim->deadline)
            return S_TIME;
        if (!x->ret) {
            int32_t next;
            if (step(&s->ops[x->op], state, &next)) {
                int r;
                lin_set(s, x->op);
                r = memo_add(&s->memo, s, next);
                if (r > 0) {
                    if (lim->max_states > 0 && s->memo.n > lim->max_states) return S_STATES;
                    s->stack[s->depth++] = (struct frame){x->op, state};
                    state = next;
                    lift(e, cur);
                    cur = e[head].next;
                    continue;
                }
                lin_clear(s, x->op);
                if (r < 0) return S_NOMEM;
            }
            cur = x->next;
        } else {
            struct frame f;
            note_stuck(s, x->op, state);
            if (s->depth == 0) return S_INVALID;
            f = s->stack[--s->depth];
            lin_clear(s, f.op);
            state = f.state;
            unlift(e, s->call[f.op]);
            cur = e[s->call[f.op]].next; /* try the next candidate instead */
        }
    }
    return S_VALID;
}

/* ---- one key ------------------------------------------------------------ */

struct key
{
    const struct jhist *h;
    const struct jpair *p; /* the key's operations, np of them */
    size_t np;
    struct lop *all;    /* one per operation; kind L_DROP when not checked */
    const char **vals;  /* distinct values, sorted; borrowed from all[] */
    size_t nv;
    size_t n_fail, n_read, n_unobserved; /* dropped, by reason */
};

static int strp_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int32_t val_id(const struct key *k, const char *s)
{
    const char **hit;
    if (s == NULL) return ABSENT;
    hit = bsearch(&s, k->vals, k->nv, sizeof *k->vals, strp_cmp);
    return (int32_t)(hit - k->vals) + 1; /* every value was interned */
}

static const char *val_text(const struct key *k, int32_t id)
{
    return id == ABSENT ? "absent" : k->vals[id - 1];
}

/* Fill k->all[i] from the i-th operation. */
static int op_load(struct key *k, size_t i, char *errmsg, size_t size)
{
    const struct jpair *p = &k->p[i];
    const struct jop *inv = &k->h->ops[p->inv];
    struct lop *o = &k->all[i];
    const char *what = "value is not JSON";
    int rv = 0;
    *o = (struct lop){.p = p, .kind = L_DROP};
    if (inv->f != JF_READ && inv->f != JF_WRITE && inv->f != JF_CAS && inv->f != JF_DEL) {
        snprintf(errmsg, size, "event %zu: f \"%s\" is not a register operation", p->inv + 1,
                 jop_f_name(inv->f));
        return KEEL_EMALFORMED;
    }
    if (p->outcome == JOP_FAIL) {
        k->n_fail++;
        return 0;
    }
    switch (inv->f) {
    case JF_READ:
        if (p->outcome != JOP_OK) {
            k->n_read++;
            return 0;
        }
        o->kind = L_READ;
        rv = jval_canon(k->h->ops[p->done].value, &o->sa);
        break;
    case JF_WRITE:
        o->kind = L_WRITE;
        rv = jval_canon(inv->value, &o->sa);
        break;
    case JF_DEL:
        o->kind = L_WRITE;
        break;
    default:
        o->kind = p->outcome == JOP_OK ? L_CAS : L_CAS_INFO;
        rv = jval_cas_split(inv->value, &o->sa, &o->sb);
        what = "cas value is not [expected, new]";
        break;
    }
    if (rv == KEEL_EINVAL) {
        snprintf(errmsg, size, "event %zu: %s", p->inv + 1, what);
        rv = KEEL_EMALFORMED;
    }
    return rv;
}

/* Number the distinct values, then drop the info writes nobody observes. */
static int key_intern(struct key *k)
{
    bool *written, *seen;
    size_t j = 0;
    k->vals = malloc((2 * k->np + 1) * sizeof *k->vals);
    if (k->vals == NULL) return KEEL_ENOMEM;
    for (size_t i = 0; i < k->np; i++) {
        if (k->all[i].sa != NULL) k->vals[k->nv++] = k->all[i].sa;
        if (k->all[i].sb != NULL) k->vals[k->nv++] = k->all[i].sb;
    }
    qsort(k->vals, k->nv, sizeof *k->vals, strp_cmp);
    for (size_t i = 0; i < k->nv; i++) {
        if (j == 0 || strcmp(k->vals[i], k->vals[j - 1]) != 0) k->vals[j++] = k->vals[i];
    }
    k->nv = j;
    written = calloc(k->nv + 1, sizeof *written);
    seen = calloc(k->nv + 1, sizeof *seen);
    if (written == NULL || seen == NULL) {
        free(written);
        free(seen);
        return KEEL_ENOMEM;
    }
    for (size_t i = 0; i < k->np; i++) {
        struct lop *o = &k->all[i];
        o->a = val_id(k, o->sa);
        o->b = val_id(k, o->sb);
        if (o->kind == L_WRITE) written[o->a] = true;
        if (o->kind == L_CAS || o->kind == L_CAS_INFO) written[o->b] = seen[o->a] = true;
        if (o->kind == L_READ) seen[o->a] = true;
    }
    for (size_t i = 0; i < k->np; i++) {
        struct lop *o = &k->all[i];
        bool info = o->p->outcome != JOP_OK;
        bool unseen = (o->kind == L_WRITE && !seen[o->a]) || (o->kind == L_CAS_INFO && !seen[o->b]);
        if (info && unseen) {
            o->kind = L_DROP;
            k->n_unobserved++;
        }
        o->never = (o->kind == L_READ || o->kind == L_CAS) && o->a != ABSENT && !written[o->a];
    }
    free(written);
    free(seen);
    return 0;
}

static void key_free(struct key *k)
{
    for (size_t i = 0; k->all != NULL && i < k->np; i++) {
        free(k->all[i].sa);
        free(k->all[i].sb);
    }
    free(k->all);
    free(k->vals);
}

static void search_free(struct search *s)
{
    free((void *)s->ops);
    free(s->e);
    free(s->call);
    free(s->bits);
    free(s->zob);
    free(s->stack);
    free(s->memo.s);
    free(s->memo.pool);
}

static int ent_cmp(const void *a, const void *b)
{
    const struct lent *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    if (x->ret != y->ret) return x->ret ? 1 : -1; /* calls first: touching = concurrent */
    return x->op < y->op ? -1 : x->op > y->op;
}

static int search_init(struct search *s, const struct key *k)
{
    struct lop *ops;
    int32_t *ret;
    size_t n = 0, ne;
    memset(s, 0, sizeof *s);
    s->hi = -1;
    for (size_t i = 0; i < k->np; i++) n += k->all[i].kind != L_DROP;
    ne = 2 * n;
    s->n = n;
    s->ops = ops = malloc((n + 1) * sizeof *ops);
    s->e = malloc((ne + 1) * sizeof *s->e);
    s->call = malloc((n + 1) * sizeof *s->call);
    s->bits = calloc(n / 64 + 1, sizeof *s->bits);
    s->zob = malloc((n + 1) * sizeof *s->zob);
    s->stack = malloc((n + 1) * sizeof *s->stack);
    ret = malloc((n + 1) * sizeof *ret);
    if (!ops || !s->e || !s->call || !s->bits || !s->zob || !s->stack || !ret) {
        free(ret);
        return KEEL_ENOMEM;
    }
    n = 0;
    for (size_t i = 0; i < k->np; i++) {
        if (k->all[i].kind == L_DROP) continue;
        ops[n] = k->all[i];
        s->zob[n] = mix(n ^ 0x5bd1e995u);
        s->e[2 * n] = (struct lent){.t = ops[n].p->t_inv, .op = (uint32_t)n};
        s->e[2 * n + 1] = (struct lent){.t = ops[n].p->t_ret, .op = (uint32_t)n, .ret = true};
        n++;
    }
    qsort(s->e, ne, sizeof *s->e, ent_cmp);
    for (size_t i = 0; i < ne; i++) {
        if (s->e[i].ret) {
            ret[s->e[i].op] = (int32_t)i;
        } else {
            s->call[s->e[i].op] = (int32_t)i;
        }
        s->e[i].prev = i > 0 ? (int32_t)i - 1 : (int32_t)ne;
        s->e[i].next = i + 1 < ne ? (int32_t)i + 1 : NIL;
    }
    for (size_t j = 0; j < n; j++) {
        s->e[s->call[j]].match = ret[j];
        s->e[ret[j]].match = s->call[j];
    }
    s->e[ne] = (struct lent){.prev = NIL, .next = ne > 0 ? 0 : NIL};
    free(ret);
    return 0;
}

/* ---- reports ------------------------------------------------------------ */

static void report_head(FILE *f, const struct key *k, size_t checked)
{
    fprintf(f, "key \"%s\": %zu ops, %zu searched (dropped: %zu failed, %zu reads without a "
               "result, %zu info writes nobody observed)\n",
            k->p[0].key, k->np, checked, k->n_fail, k->n_read, k->n_unobserved);
}

static void report_op(FILE *f, const struct key *k, const struct lop *o, const char *indent)
{
    fputs(indent, f);
    jpair_describe(f, k->h, o->p);
    fputc('\n', f);
}

static bool overlaps(const struct lop *a, const struct lop *b)
{
    return a->p->t_inv <= b->p->t_ret && b->p->t_inv <= a->p->t_ret;
}

static void report_stuck(FILE *f, const struct key *k, const struct search *s)
{
    const struct lop *x = &s->ops[s->stuck];
    uint32_t before[NEAR / 2], nb = 0;
    report_head(f, k, s->n);
    fprintf(f, "not linearizable: the search placed at most %zu of them in a legal order, "
               "leaving the register %s%s.\n",
            s->best, s->stuck_state == ABSENT ? "" : "holding ", val_text(k, s->stuck_state));
    if (s->ntrail > 0) fprintf(f, "The last ops placed, with the value after each:\n");
    for (size_t j = 0; j < s->ntrail; j++) {
        fprintf(f, "  => %-10s ", val_text(k, s->trail[j].state));
        report_op(f, k, &s->ops[s->trail[j].op], "");
    }
    fprintf(f, "No legal order places this op before it completed:\n");
    report_op(f, k, x, "  ");
    for (uint32_t j = s->stuck; j-- > 0 && nb < NEAR / 2;) {
        if (overlaps(&s->ops[j], x)) before[nb++] = j;
    }
    fprintf(f, "Ops concurrent with it (at most %d):%s\n", NEAR,
            nb == 0 && (s->stuck + 1 >= s->n || s->ops[s->stuck + 1].p->t_inv > x->p->t_ret)
                ? " none"
                : "");
    while (nb > 0) report_op(f, k, &s->ops[before[--nb]], "  ");
    for (size_t j = s->stuck + 1, na = 0; j < s->n && na < NEAR / 2; j++) {
        if (s->ops[j].p->t_inv > x->p->t_ret) break;
        report_op(f, k, &s->ops[j], "  ");
        na++;
    }
}

static void report_never(FILE *f, const struct key *k, const struct lop *o, size_t checked)
{
    report_head(f, k, checked);
    fprintf(f, "not linearizable: this %s %s, which no write or cas to the key wrote "
               "(failed ones aside):\n",
            o->kind == L_READ ? "read returned" : "cas expected", val_text(k, o->a));
    report_op(f, k, o, "  ");
}

/* ---- checking a key and a history --------------------------------------- */

/* Judge one key: *verdict is S_VALID, S_INVALID, S_TIME or S_STATES, with a
 * report (malloc'd) for all but S_VALID. */
static int key_check(struct key *k, const struct limits *lim, int *verdict, char **report,
                     size_t *states, char *errmsg, size_t size)
{
    struct search s;
    size_t len, checked = 0;
    FILE *f;
    int rv = 0;
    *verdict = S_VALID;
    *report = NULL;
    if ((k->all = calloc(k->np, sizeof *k->all)) == NULL) return KEEL_ENOMEM;
    for (size_t i = 0; i < k->np && rv == 0; i++) rv = op_load(k, i, errmsg, size);
    if (rv != 0 || (rv = key_intern(k)) != 0) return rv;
    if ((rv = search_init(&s, k)) != 0) goto out;
    for (size_t i = 0; i < k->np; i++) {
        if (k->all[i].kind == L_DROP) continue;
        checked++;
        if (k->all[i].never && *verdict == S_VALID) *verdict = S_INVALID;
    }
    if (*verdict == S_VALID) *verdict = search_run(&s, lim);
    *states += s.memo.n;
    if (*verdict == S_NOMEM) rv = KEEL_ENOMEM;
    if (rv != 0 || *verdict == S_VALID) goto out;
    if ((f = open_memstream(report, &len)) == NULL) {
        rv = KEEL_ENOMEM;
        goto out;
    }
    if (*verdict == S_INVALID && !s.stuck_seen) { /* found before searching */
        for (size_t i = 0; i < k->np; i++) {
            if (k->all[i].kind != L_DROP && k->all[i].never) {
                report_never(f, k, &k->all[i], checked);
                break;
            }
        }
    } else if (*verdict == S_INVALID) {
        report_stuck(f, k, &s);
    } else {
        report_head(f, k, checked);
        fprintf(f, "undecided: the search gave up after %zu configurations (%s)\n", s.memo.n,
                *verdict == S_TIME ? "time budget spent" : "state budget per key reached");
    }
    if (fclose(f) != 0) rv = KEEL_ENOMEM;
out:
    search_free(&s);
    if (rv == KEEL_ENOMEM) snprintf(errmsg, size, "key \"%s\": out of memory", k->p[0].key);
    return rv;
}

/* The report of a key the time budget left unchecked; NULL on ENOMEM. */
static char *skipped(const char *key)
{
    char *rep = NULL;
    size_t len;
    FILE *f = open_memstream(&rep, &len);
    if (f == NULL) return NULL;
    fprintf(f, "key \"%s\": undecided: the time budget was spent before its turn\n", key);
    if (fclose(f) == 0) return rep;
    free(rep);
    return NULL;
}

int jcheck_register(const struct jhist *h, const struct jbudget *b, struct jresult *out)
{
    struct jbudget bud = b != NULL ? *b : JBUDGET_DEFAULT;
    struct limits lim = {bud.seconds > 0 ? now_s() + bud.seconds : 0, bud.max_states};
    struct jpair *pairs;
    char *first = NULL, *rep;
    size_t np, len, states = 0;
    FILE *f;
    int rv;
    double t0 = now_s();
    memset(out, 0, sizeof *out);
    out->verdict = JV_UNKNOWN;
    if ((rv = jhist_pairs(h, &pairs, &np, out->errmsg, sizeof out->errmsg)) != 0) return rv;
    for (size_t g = 0, end; g < np && rv == 0; g = end) {
        struct key k = {.h = h, .p = &pairs[g]};
        int verdict = S_TIME;
        for (end = g; end < np && strcmp(pairs[end].key, pairs[g].key) == 0; end++) {
        }
        k.np = end - g;
        out->keys++;
        out->ops_checked += k.np;
        rep = NULL;
        if (lim.deadline == 0 || now_s() < lim.deadline) {
            rv = key_check(&k, &lim, &verdict, &rep, &states, out->errmsg, sizeof out->errmsg);
        }
        key_free(&k);
        if (rv != 0) {
            free(rep);
            break;
        }
        if (verdict == S_VALID) {
            free(rep);
            continue;
        }
        if (verdict == S_INVALID) out->bad_keys++;
        if (verdict != S_INVALID) out->unknown_keys++;
        /* Keep the first invalid key's report, else the first undecided one. */
        if (first == NULL || (verdict == S_INVALID && out->bad_keys == 1)) {
            free(first);
            free(out->bad_key);
            out->bad_key = strdup(k.p[0].key);
            first = rep != NULL ? rep : skipped(k.p[0].key);
            if (first == NULL || out->bad_key == NULL) rv = KEEL_ENOMEM;
        } else {
            free(rep);
        }
    }
    free(pairs);
    if (rv == 0 && (f = open_memstream(&out->report, &len)) != NULL) {
        out->verdict = out->bad_keys ? JV_INVALID : out->unknown_keys ? JV_UNKNOWN : JV_VALID;
        fprintf(f, "register: %zu keys, %zu ops: %zu not linearizable, %zu undecided "
                   "(%zu configurations, %.3f s)\n",
                out->keys, out->ops_checked, out->bad_keys, out->unknown_keys, states,
                now_s() - t0);
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
