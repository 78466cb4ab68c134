/* storage: the structure of an LMDB image, checked without LMDB (step 2 of
 * keel_image_check, see image.h).
 *
 * Everything LMDB's read and write paths take on trust is checked here,
 * reading only inside the buffer: the meta pages, then every page reachable
 * from the roots, depth first in key order. A page passes if it is inside
 * the file, says it is the page it is, has the type its parent expects, has
 * node offsets and sizes inside the page and not overlapping, keys in order
 * and inside the bounds its parent's separators give, leaves all at one
 * depth, and enough keys that LMDB's assertions hold (a branch needs two).
 * No page may be reached twice (a cycle or a shared page), and no page on
 * the free list may be in use: a write would otherwise overwrite live data.
 * Finally each tree's counts must be what its db record says, since LMDB
 * trusts those too (depth, entries). Layout: image_lmdb.h. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "storage/image.h"
#include "storage/image_lmdb.h"

enum { KIND_FREE, KIND_MAIN, KIND_USER };

/* Keel's named databases (storage/env.c), in LMDB's key order. */
static const char *const dbnames[] = {"data", "dedupe", "dedupe_ts", "exp", "members", "meta"};
/* "members" came with storage format 2: an image of format 1 lacks it. */
#define DB_OPTIONAL 4
#define NDB (sizeof dbnames / sizeof dbnames[0])

struct counts
{
    uint64_t branch, leaf, overflow, entries;
};

struct span
{
    const uint8_t *p;
    size_t n;
};

struct pw
{
    const uint8_t *d;
    uint32_t psize;
    uint64_t npages;    /* last_pg + 1; all inside the buffer */
    uint8_t *seen;      /* a bit per page */
    char *errmsg;
    /* the tree being walked */
    char what[40];
    int kind;
    int leaf_depth;
    struct counts c;
    const uint8_t *prev; /* the last leaf key, for the order check */
    size_t prev_n;
    /* what the walk collects */
    bool have[NDB];
    struct lm_db subs[NDB];
    struct span *idls;  /* free list records */
    size_t n_idls, cap_idls;
};

__attribute__((format(printf, 2, 3))) static int fail(struct pw *w, const char *fmt, ...)
{
    char msg[KEEL_ERRMSG_SIZE - 32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(w->errmsg, KEEL_ERRMSG_SIZE, "snapshot image: %s", msg);
    return KEEL_ECORRUPT;
}

static bool seen(const struct pw *w, uint64_t pg)
{
    return w->seen[pg >> 3] & (1u << (pg & 7));
}

static void mark(struct pw *w, uint64_t pg)
{
    w->seen[pg >> 3] |= (uint8_t)(1u << (pg & 7));
}

/* LMDB's comparisons: memcmp then length (mdb_cmp_memn), or native size_t
 * for the free list's integer keys. */
static int cmp(const struct pw *w, const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    if (w->kind == KIND_FREE) {
        uint64_t x = lm_u64(a), y = lm_u64(b);
        return x < y ? -1 : x > y;
    }
    int r = memcmp(a, b, an < bn ? an : bn);
    return r != 0 ? r : (an < bn ? -1 : an > bn);
}

static int key_ok(struct pw *w, uint64_t pg, unsigned i, size_t ksize)
{
    if (w->kind == KIND_FREE ? ksize != 8 : (ksize == 0 || ksize > LM_MAX_KEY))
        return fail(w, "%s: page %llu node %u has a key of %zu bytes", w->what,
                    (unsigned long long)pg, i, ksize);
    return 0;
}

/* An overflow run starting at pg that must hold dsize bytes. */
static int overflow(struct pw *w, uint64_t pg, size_t dsize, const uint8_t **val)
{
    if (pg < 2 || pg >= w->npages)
        return fail(w, "%s: overflow page %llu outside the file's %llu pages", w->what,
                    (unsigned long long)pg, (unsigned long long)w->npages);
    const uint8_t *p = w->d + pg * w->psize;
    uint32_t n = lm_u32(p + LM_OFF_PAGES);
    if (lm_u64(p + LM_OFF_PGNO) != pg || lm_u16(p + LM_OFF_FLAGS) != LM_P_OVERFLOW || n == 0 ||
        n > w->npages - pg || (uint64_t)n * w->psize < LM_PAGEHDR + (uint64_t)dsize)
        return fail(w, "%s: overflow page %llu is damaged (%u pages for %zu bytes)", w->what,
                    (unsigned long long)pg, n, dsize);
    for (uint64_t i = pg; i < pg + n; i++) {
        if (seen(w, i))
            return fail(w, "%s: page %llu is used twice", w->what, (unsigned long long)i);
        mark(w, i);
    }
    w->c.overflow += n;
    *val = p + LM_PAGEHDR;
    return 0;
}

/* Mark the bytes [off, off+size) of a page's node area; they must be free. */
static bool claim(uint8_t *used, size_t off, size_t size)
{
    for (size_t u = off / 2; u < (off + size + 1) / 2; u++) {
        if (used[u >> 3] & (1u << (u & 7))) return false;
        used[u >> 3] |= (uint8_t)(1u << (u & 7));
    }
    return true;
}

static int leaf_node(struct pw *w, uint64_t pg, unsigned i, const uint8_t *node, const uint8_t *key,
                     size_t ksize)
{
    uint16_t flags = lm_u16(node + 4);
    size_t dsize = lm_u16(node) | (size_t)lm_u16(node + 2) << 16;
    const uint8_t *val = key + ksize;
    int rc;
    if (w->kind == KIND_MAIN ? flags != LM_F_SUBDATA : (flags & ~LM_F_BIGDATA) != 0)
        return fail(w, "%s: page %llu node %u has flags 0x%x", w->what, (unsigned long long)pg, i,
                    flags);
    if ((flags & LM_F_BIGDATA) && (rc = overflow(w, lm_u64(val), dsize, &val)) != 0) return rc;
    w->c.entries++;
    if (w->kind == KIND_FREE) {
        /* An ID list: a count, then that many page numbers. */
        if (dsize < 8 || dsize % 8 != 0 || lm_u64(val) != dsize / 8 - 1)
            return fail(w, "free list: page %llu node %u is not a page list", (unsigned long long)pg, i);
        if (w->n_idls == w->cap_idls) {
            size_t cap = w->cap_idls ? w->cap_idls * 2 : 64;
            struct span *p = realloc(w->idls, cap * sizeof *p);
            if (p == NULL) return KEEL_ENOMEM;
            w->idls = p;
            w->cap_idls = cap;
        }
        w->idls[w->n_idls++] = (struct span){val, dsize};
    } else if (w->kind == KIND_MAIN) {
        size_t d;
        for (d = 0; d < NDB; d++) {
            if (strlen(dbnames[d]) == ksize && memcmp(dbnames[d], key, ksize) == 0) break;
        }
        if (d == NDB || dsize != LM_DB_SIZE)
            return fail(w, "main DB holds \"%.*s\", which is not one of Keel's databases",
                        (int)(ksize > 64 ? 64 : ksize), (const char *)key);
        w->have[d] = true;
        lm_db_read(val, &w->subs[d]);
    }
    return 0;
}

/* One page at level (0: the root), whose keys must lie in [lo, hi) (NULL:
 * unbounded). */
static int walk(struct pw *w, uint64_t pg, unsigned level, const uint8_t *lo, size_t lon,
                const uint8_t *hi, size_t hin)
{
    uint8_t used[LM_MAX_PSIZE / 16];
    int rc;
    if (level > LM_MAX_DEPTH)
        return fail(w, "%s: deeper than LMDB's cursor stack of %u pages", w->what, LM_MAX_DEPTH + 1);
    if (pg < 2 || pg >= w->npages)
        return fail(w, "%s: page %llu outside the file's %llu pages", w->what,
                    (unsigned long long)pg, (unsigned long long)w->npages);
    if (seen(w, pg)) return fail(w, "%s: page %llu is used twice", w->what, (unsigned long long)pg);
    mark(w, pg);
    const uint8_t *p = w->d + pg * w->psize;
    uint16_t flags = lm_u16(p + LM_OFF_FLAGS), lower = lm_u16(p + LM_OFF_LOWER),
             upper = lm_u16(p + LM_OFF_UPPER);
    if (lm_u64(p + LM_OFF_PGNO) != pg)
        return fail(w, "%s: page %llu says it is page %llu", w->what, (unsigned long long)pg,
                    (unsigned long long)lm_u64(p + LM_OFF_PGNO));
    if (flags != LM_P_BRANCH && flags != LM_P_LEAF)
        return fail(w, "%s: page %llu has flags 0x%x, not a branch or leaf page", w->what,
                    (unsigned long long)pg, flags);
    bool branch = flags == LM_P_BRANCH;
    if (lower < LM_PAGEHDR || (lower - LM_PAGEHDR) % 2 != 0 || upper > w->psize || lower > upper)
        return fail(w, "%s: page %llu has free space bounds %u..%u", w->what,
                    (unsigned long long)pg, lower, upper);
    unsigned n = (lower - LM_PAGEHDR) / 2;
    if (n < (branch ? (w->kind == KIND_FREE ? 1u : 2u) : 1u))
        return fail(w, "%s: %s page %llu has %u keys", w->what, branch ? "branch" : "leaf",
                    (unsigned long long)pg, n);
    memset(used, 0, w->psize / 16);
    const uint8_t *prev_sep = NULL;
    size_t prev_sepn = 0;
    for (unsigned i = 0; i < n; i++) {
        size_t off = lm_u16(p + LM_PAGEHDR + 2 * i);
        if (off < upper || off % 2 != 0 || off + LM_NODEHDR > w->psize)
            return fail(w, "%s: page %llu node %u at offset %zu", w->what, (unsigned long long)pg,
                        i, off);
        const uint8_t *node = p + off, *key = node + LM_NODEHDR;
        size_t ksize = lm_u16(node + 6), size = LM_NODEHDR + ksize;
        if (!branch) {
            bool big = lm_u16(node + 4) & LM_F_BIGDATA;
            size += big ? 8 : (lm_u16(node) | (size_t)lm_u16(node + 2) << 16);
        }
        if (size > w->psize - off || !claim(used, off, size))
            return fail(w, "%s: page %llu node %u (%zu bytes at %zu) overruns its page", w->what,
                        (unsigned long long)pg, i, size, off);
        if (branch && i == 0) continue; /* LMDB ignores the first separator */
        if ((rc = key_ok(w, pg, i, ksize)) != 0) return rc;
        if ((lo != NULL && cmp(w, key, ksize, lo, lon) < 0) ||
            (hi != NULL && cmp(w, key, ksize, hi, hin) >= 0) ||
            (branch && prev_sep != NULL && cmp(w, key, ksize, prev_sep, prev_sepn) <= 0) ||
            (!branch && w->prev != NULL && cmp(w, key, ksize, w->prev, w->prev_n) <= 0))
            return fail(w, "%s: page %llu node %u: keys out of order", w->what,
                        (unsigned long long)pg, i);
        if (branch) {
            prev_sep = key;
            prev_sepn = ksize;
        } else {
            w->prev = key;
            w->prev_n = ksize;
            if ((rc = leaf_node(w, pg, i, node, key, ksize)) != 0) return rc;
        }
    }
    if (!branch) {
        w->c.leaf++;
        if (w->leaf_depth < 0) w->leaf_depth = (int)level;
        if (w->leaf_depth != (int)level)
            return fail(w, "%s: leaves at depths %d and %u", w->what, w->leaf_depth, level);
        return 0;
    }
    w->c.branch++;
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *node = p + lm_u16(p + LM_PAGEHDR + 2 * i);
        const uint8_t *clo = lo, *chi = hi;
        size_t clon = lon, chin = hin;
        if (i > 0) {
            clo = node + LM_NODEHDR;
            clon = lm_u16(node + 6);
        }
        if (i + 1 < n) {
            const uint8_t *next = p + lm_u16(p + LM_PAGEHDR + 2 * (i + 1));
            chi = next + LM_NODEHDR;
            chin = lm_u16(next + 6);
        }
        uint64_t child = lm_u16(node) | (uint64_t)lm_u16(node + 2) << 16 |
                         (uint64_t)lm_u16(node + 4) << 32;
        if ((rc = walk(w, child, level + 1, clo, clon, chi, chin)) != 0) return rc;
    }
    return 0;
}

/* A whole tree from its db record: walked, then its counts compared. */
static int tree(struct pw *w, int kind, const char *what, const struct lm_db *db)
{
    snprintf(w->what, sizeof w->what, "%s", what);
    w->kind = kind;
    w->leaf_depth = -1;
    w->prev = NULL;
    memset(&w->c, 0, sizeof w->c);
    if (db->flags != (kind == KIND_FREE ? LM_INTEGERKEY : 0))
        return fail(w, "%s has flags 0x%x", what, db->flags);
    if (db->root == LM_INVALID) {
        if (db->depth || db->branch || db->leaf || db->overflow || db->entries)
            return fail(w, "%s is empty but counts %llu entries", what,
                        (unsigned long long)db->entries);
        return 0;
    }
    int rc = walk(w, db->root, 0, NULL, 0, NULL, 0);
    if (rc != 0) return rc;
    if (db->depth != w->leaf_depth + 1 || db->branch != w->c.branch || db->leaf != w->c.leaf ||
        db->overflow != w->c.overflow || db->entries != w->c.entries)
        return fail(w, "%s: its record says depth %u, %llu entries in %llu/%llu/%llu pages; the "
                       "pages hold depth %d, %llu entries in %llu/%llu/%llu",
                    what, db->depth, (unsigned long long)db->entries,
                    (unsigned long long)db->branch, (unsigned long long)db->leaf,
                    (unsigned long long)db->overflow, w->leaf_depth + 1,
                    (unsigned long long)w->c.entries, (unsigned long long)w->c.branch,
                    (unsigned long long)w->c.leaf, (unsigned long long)w->c.overflow);
    return 0;
}

/* Pages on the free list: inside the file, in LMDB's descending order,
 * used by no tree and listed once. */
static int free_pages(struct pw *w)
{
    for (size_t i = 0; i < w->n_idls; i++) {
        const uint8_t *p = w->idls[i].p;
        uint64_t n = lm_u64(p), last = UINT64_MAX;
        for (uint64_t j = 1; j <= n; j++) {
            uint64_t pg = lm_u64(p + 8 * j);
            if (pg < 2 || pg >= w->npages || pg >= last)
                return fail(w, "free list: page %llu is out of range or order",
                            (unsigned long long)pg);
            if (seen(w, pg))
                return fail(w, "free list: page %llu is also in use", (unsigned long long)pg);
            mark(w, pg);
            last = pg;
        }
    }
    return 0;
}

static bool pow2(uint32_t v)
{
    return v != 0 && (v & (v - 1)) == 0;
}

/* Both meta pages; *use is the one LMDB will open. */
static int metas(struct pw *w, const uint8_t *d, size_t len, struct lm_meta m[2], int *use)
{
    if (len < LM_META_SIZE)
        return fail(w, "LMDB copy of %zu bytes is shorter than one meta page", len);
    lm_meta_read(d, &m[0]);
    if (!pow2(m[0].psize) || m[0].psize < LM_MIN_PSIZE || m[0].psize > LM_MAX_PSIZE)
        return fail(w, "LMDB meta page 0 has page size %u", m[0].psize);
    if (len < 2 * (size_t)m[0].psize || len % m[0].psize != 0)
        return fail(w, "LMDB copy of %zu bytes is not a whole number of %u-byte pages (at least 2)",
                    len, m[0].psize);
    lm_meta_read(d + m[0].psize, &m[1]);
    uint64_t file_pages = len / m[0].psize;
    for (int i = 0; i < 2; i++) {
        const struct lm_meta *x = &m[i];
        if (x->pgno != (uint64_t)i || x->page_flags != LM_P_META)
            return fail(w, "LMDB meta page %d is not a meta page (number %llu, flags 0x%x)", i,
                        (unsigned long long)x->pgno, x->page_flags);
        if (x->magic != LM_MAGIC) return fail(w, "LMDB meta page %d has a bad magic", i);
        if (x->version != LM_VERSION)
            return fail(w, "LMDB meta page %d has data version %u, LMDB 0.9 writes %u", i,
                        x->version, LM_VERSION);
        if (x->psize != m[0].psize)
            return fail(w, "LMDB meta page %d has page size %u", i, x->psize);
        if (x->last_pg < 1 || x->last_pg >= file_pages)
            return fail(w, "LMDB meta page %d says the last page is %llu, the file has %llu", i,
                        (unsigned long long)x->last_pg, (unsigned long long)file_pages);
        const struct lm_db *dbs[] = {&x->free_db, &x->main_db};
        for (int j = 0; j < 2; j++) {
            if (dbs[j]->root != LM_INVALID && (dbs[j]->root < 2 || dbs[j]->root > x->last_pg))
                return fail(w, "LMDB meta page %d: %s root page %llu is beyond the last page %llu",
                            i, j ? "main DB" : "free list", (unsigned long long)dbs[j]->root,
                            (unsigned long long)x->last_pg);
        }
        /* A commit writes meta page txnid % 2; a fresh env has 0 in both. */
        if (x->txnid != 0 && x->txnid % 2 != (uint64_t)i)
            return fail(w, "LMDB meta page %d holds txn %llu", i, (unsigned long long)x->txnid);
    }
    *use = lm_pick(m);
    const struct lm_meta *u = &m[*use], *o = &m[!*use];
    if (u->txnid == 0 || (o->txnid != 0 && u->txnid - o->txnid != 1) || o->last_pg > u->last_pg)
        return fail(w, "LMDB meta pages hold txns %llu and %llu, last pages %llu and %llu",
                    (unsigned long long)m[0].txnid, (unsigned long long)m[1].txnid,
                    (unsigned long long)m[0].last_pg, (unsigned long long)m[1].last_pg);
    return 0;
}

int image_check_structure(const uint8_t *data, size_t len, struct keel_image_report *rep,
                          char *errmsg)
{
    struct pw w = {.d = data, .errmsg = errmsg};
    struct lm_meta m[2];
    int use = 0, rc = metas(&w, data, len, m, &use);
    if (rc != 0) return rc;
    w.psize = m[use].psize;
    w.npages = m[use].last_pg + 1;
    w.seen = calloc(w.npages / 8 + 1, 1);
    if (w.seen == NULL) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "snapshot image: out of memory for %llu pages",
                 (unsigned long long)w.npages);
        return KEEL_ENOMEM;
    }
    mark(&w, 0);
    mark(&w, 1);
    rc = tree(&w, KIND_FREE, "free list", &m[use].free_db);
    if (rc == 0) rc = tree(&w, KIND_MAIN, "main DB", &m[use].main_db);
    for (size_t i = 0; rc == 0 && i < NDB; i++) {
        char what[32];
        snprintf(what, sizeof what, "DB \"%s\"", dbnames[i]);
        if (!w.have[i] && i == DB_OPTIONAL) continue;
        if (!w.have[i]) rc = fail(&w, "%s is missing", what);
        else rc = tree(&w, KIND_USER, what, &w.subs[i]);
    }
    if (rc == 0) rc = free_pages(&w);
    if (rc == KEEL_ENOMEM) snprintf(errmsg, KEEL_ERRMSG_SIZE, "snapshot image: out of memory");
    if (rc == 0 && rep != NULL) {
        rep->psize = w.psize;
        rep->pages = w.npages;
        rep->keys = w.subs[0].entries;
        rep->dedupe = w.subs[1].entries;
        rep->expires = w.subs[3].entries;
    }
    free(w.idls);
    free(w.seen);
    return rc;
}
