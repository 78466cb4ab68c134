/* jepsen: the register checker's search, Lowe's refinement of Wing & Gong
 * with a memo of visited configurations (see lin.c for how it works): the
 * linearized set, the memo, the call/return list and the backtracking loop,
 * and building all of that from one key's model operations. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jepsen/checker/lin_internal.h"

#define NIL (-1)

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

double lin_now_s(void)
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

int lin_search_run(struct search *s, const struct limits *lim)
{
    struct lent *e = s->e;
    int32_t head = (int32_t)(2 * s->n), cur = e[head].next, state = ABSENT;
    uint64_t steps = 0;
    while (e[head].next != NIL) {
        const struct lent *x = &e[cur];
        if ((++steps & 4095) == 0 && lim->deadline > 0 && lin_now_s() > lim->deadline)
            return S_TIME;
        if (!x->ret) {
            int32_t next;
            if (lin_step(&s->ops[x->op], state, &next)) {
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

/* ---- building and freeing a search -------------------------------------- */

void lin_search_free(struct search *s)
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

int lin_search_init(struct search *s, const struct key *k)
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
