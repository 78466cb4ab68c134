/* storage: the image check of sorted sets' rank index (storage.h): every
 * head, tower and count against the score index, as a hostile image may
 * carry counts that would make ranks lie. A collection's sub-keys come in
 * tag order, its score index (tag 3) before its rank levels (0x11..0x18),
 * so the walk of the index records, for each level, the rank of every
 * entry that must have a tower; the levels' sub-keys are then compared
 * with it one by one. Only one sorted set is in flight at a time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/image_walk.h"

struct zrank_seen
{
    uint64_t id;
    uint64_t n; /* index entries so far */
    uint64_t *rank[KEEL_ZRANK_LEVELS + 1];
    size_t nt[KEEL_ZRANK_LEVELS + 1], cap[KEEL_ZRANK_LEVELS + 1];
    size_t next[KEEL_ZRANK_LEVELS + 1]; /* towers checked */
    bool head[KEEL_ZRANK_LEVELS + 1];
};

static void reset(struct zrank_seen *z, uint64_t id)
{
    for (int l = 1; l <= KEEL_ZRANK_LEVELS; l++) {
        z->nt[l] = z->next[l] = 0;
        z->head[l] = false;
    }
    z->n = 0;
    z->id = id;
}

void walk_zrank_free(struct walk *w)
{
    if (w->zr == NULL) return;
    for (int l = 1; l <= KEEL_ZRANK_LEVELS; l++) free(w->zr->rank[l]);
    free(w->zr);
    w->zr = NULL;
}

int walk_zrank_done(struct walk *w)
{
    struct zrank_seen *z = w->zr;
    if (z == NULL || z->id == 0 || w->format < 4) return 0;
    for (int l = 1; l <= KEEL_ZRANK_LEVELS; l++)
        if (!z->head[l] || z->next[l] != z->nt[l])
            return walk_fail(w, "DB \"members\": sorted set %llu lacks rank towers at level %d",
                             (unsigned long long)z->id, l);
    z->id = 0;
    return 0;
}

int walk_zrank_next(struct walk *w, uint64_t id)
{
    return w->zr != NULL && w->zr->id != id ? walk_zrank_done(w) : 0;
}

int walk_zrank_index(struct walk *w, uint64_t id, const uint8_t *sfx, size_t n)
{
    if (w->zr == NULL && (w->zr = calloc(1, sizeof *w->zr)) == NULL) {
        snprintf(w->errmsg, KEEL_ERRMSG_SIZE, "snapshot image: out of memory");
        return KEEL_ENOMEM;
    }
    struct zrank_seen *z = w->zr;
    if (z->id != id) {
        int rc = walk_zrank_done(w);
        if (rc != 0) return rc;
        reset(z, id);
    }
    int top = storage_zrank_level(sfx, n);
    for (int l = 1; l <= top; l++) {
        if (z->nt[l] == z->cap[l]) {
            size_t cap = z->cap[l] ? 2 * z->cap[l] : 16;
            uint64_t *p = realloc(z->rank[l], cap * sizeof *p);
            if (p == NULL) {
                snprintf(w->errmsg, KEEL_ERRMSG_SIZE, "snapshot image: out of memory");
                return KEEL_ENOMEM;
            }
            z->rank[l] = p;
            z->cap[l] = cap;
        }
        z->rank[l][z->nt[l]++] = z->n;
    }
    z->n++;
    return 0;
}

int walk_zrank_key(struct walk *w, uint64_t id, const MDB_val *k, const MDB_val *v)
{
    struct zrank_seen *z = w->zr;
    const uint8_t *p = k->mv_data;
    const unsigned long long uid = (unsigned long long)id;
    int l = p[8] - KEEL_TAG_RANK;
    size_t sn = k->mv_size - 9;
    if (w->format < 4)
        return walk_fail(w, "DB \"members\": storage format %llu has no rank index, sorted set %llu has one",
                         (unsigned long long)w->format, uid);
    if (z == NULL || z->id != id)
        return walk_fail(w, "DB \"members\": sorted set %llu has a rank index and no score index", uid);
    if (v->mv_size != 8 || (sn > 0 && (sn < 8 || sn > 8 + KEEL_ZINDEX_INLINE)))
        return walk_fail(w, "DB \"members\": sorted set %llu has a malformed rank sub-key", uid);
    uint64_t count = le64_load(v->mv_data), want;
    if (sn == 0) {
        want = z->nt[l] > 0 ? z->rank[l][0] : z->n;
        z->head[l] = true;
    } else {
        size_t j = z->next[l]++;
        uint8_t kb[9 + 8 + KEEL_ZINDEX_INLINE];
        MDB_val ik = {k->mv_size, kb}, iv;
        if (!z->head[l] || j >= z->nt[l] || storage_zrank_level(p + 9, sn) < l)
            return walk_fail(w, "DB \"members\": sorted set %llu has a rank tower where none belongs", uid);
        memcpy(kb, p, k->mv_size);
        kb[8] = KEEL_TAG_INDEX;
        int rc = mdb_get(w->txn, w->dbi[DB_MEMBERS], &ik, &iv);
        if (rc == MDB_NOTFOUND)
            return walk_fail(w, "DB \"members\": sorted set %llu has a rank tower of no index entry", uid);
        if (rc != 0) return walk_fail(w, "DB \"members\": %s", mdb_strerror(rc));
        want = (j + 1 < z->nt[l] ? z->rank[l][j + 1] : z->n) - z->rank[l][j];
    }
    if (count != want)
        return walk_fail(w, "DB \"members\": sorted set %llu has a rank count of %llu where %llu belongs",
                         uid, (unsigned long long)count, (unsigned long long)want);
    return 0;
}
