/* storage: an image read by LMDB itself, record by record, against Keel's
 * invariants (step 3 of keel_image_check, see image.h). It runs in a helper
 * process (image_check.c), or in the caller's for the fuzz targets.
 *
 * What it proves beyond image_pages.c: that LMDB opens the file, finds every
 * named database, and can step a cursor over every record; that every
 * record of "data" decodes as a record; that the expiry index holds exactly
 * one entry per key with an expiry, at that expiry, and nothing else; that
 * a long key's record names it and sits at its hash (format 3 on); that
 * the dedupe table and its timestamp index match one to one and
 * dedupe_count counts them; that "meta" holds a supported format; that
 * every sub-key of "members" belongs to a collection record, with a tag
 * of its type and a long element under its hash, and that each
 * collection's count is the number of its elements. The
 * digest is keel_storage_digest()'s over the same records. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "storage/image.h"
#include "storage/image_walk.h"
#include "storage/record.h"

static const char *const names[NDB] = {"data", "exp", "meta", "dedupe", "dedupe_ts", "members"};

int walk_fail(struct walk *w, const char *fmt, ...)
{
    char msg[KEEL_ERRMSG_SIZE - 32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(w->errmsg, KEEL_ERRMSG_SIZE, "snapshot image: %s", msg);
    return KEEL_ECORRUPT;
}

static int lmdb_fail(struct walk *w, const char *what, int rc)
{
    walk_fail(w, "LMDB: %s: %s", what, mdb_strerror(rc));
    return rc == ENOMEM ? KEEL_ENOMEM : KEEL_ECORRUPT;
}

int walk_lookup(struct walk *w, int db, const void *key, size_t n, MDB_val *v)
{
    MDB_val k = {n, (void *)key};
    int rc = mdb_get(w->txn, w->dbi[db], &k, v);
    if (rc == MDB_NOTFOUND) return KEEL_ENOTFOUND;
    return rc == 0 ? 0 : lmdb_fail(w, names[db], rc);
}

static int meta_entry(struct walk *w, const MDB_val *k, const MDB_val *v)
{
    if (v->mv_size != 8)
        return walk_fail(w, "DB \"meta\" has a value of %zu bytes (all are 8)", v->mv_size);
    uint64_t x = le64_load(v->mv_data);
#define IS(name) (k->mv_size == sizeof name - 1 && memcmp(k->mv_data, name, sizeof name - 1) == 0)
    if (IS("format")) {
        w->format = x;
        w->has_format = true;
    } else if (IS("applied")) {
        w->applied = x;
    } else if (IS("dedupe_count")) {
        w->dedupe_count = x;
    } else if (IS("coll_next")) {
        w->coll_next = x;
    }
#undef IS
    return 0;
}

static int dd_entry(struct walk *w, const MDB_val *k, const MDB_val *v)
{
    uint8_t tk[24];
    MDB_val t;
    if (k->mv_size != 16 || v->mv_size < 8)
        return walk_fail(w, "DB \"dedupe\" has an entry of %zu+%zu bytes", k->mv_size, v->mv_size);
    be64_store(tk, le64_load(v->mv_data));
    memcpy(tk + 8, k->mv_data, 16);
    int rc = walk_lookup(w, DB_DDTS, tk, sizeof tk, &t);
    if (rc == KEEL_ENOTFOUND) return walk_fail(w, "a dedupe entry is missing from its timestamp index");
    return rc;
}

static int ddts_entry(struct walk *w, const MDB_val *k, const MDB_val *v)
{
    MDB_val d;
    if (k->mv_size != 24 || v->mv_size != 0)
        return walk_fail(w, "DB \"dedupe_ts\" has an entry of %zu+%zu bytes", k->mv_size, v->mv_size);
    const uint8_t *p = k->mv_data;
    int rc = walk_lookup(w, DB_DD, p + 8, 16, &d);
    if (rc == KEEL_ENOTFOUND) return walk_fail(w, "the dedupe timestamp index names a missing entry");
    if (rc != 0) return rc;
    if (d.mv_size < 8 || le64_load(d.mv_data) != be64_load(p))
        return walk_fail(w, "the dedupe timestamp index disagrees with an entry's timestamp");
    return 0;
}

static int by_id(const void *a, const void *b)
{
    uint64_t x = ((const struct coll_seen *)a)->id, y = ((const struct coll_seen *)b)->id;
    return x < y ? -1 : x > y;
}

#define IS_RANK(tag) ((tag) > KEEL_TAG_RANK && (tag) <= KEEL_TAG_RANK + KEEL_ZRANK_LEVELS)

/* Whether a sub-key tag (hashed bit cleared) belongs to a collection type,
 * and whether it counts as an element (storage.h). */
static bool tag_ok(uint8_t type, uint8_t tag, bool *counts)
{
    *counts = tag == KEEL_TAG_MEMBER || tag == KEEL_TAG_ITEM;
    switch (type) {
        case KEEL_TYPE_SET:
            return tag == KEEL_TAG_MEMBER;
        case KEEL_TYPE_LIST:
            return tag == KEEL_TAG_ITEM;
        case KEEL_TYPE_ZSET:
            return tag == KEEL_TAG_MEMBER || tag == KEEL_TAG_INDEX || IS_RANK(tag);
        default:
            return false;
    }
}

/* A sorted set's score index entry (storage.h): well formed, and naming a
 * member whose stored score is the entry's. With the count check (entries
 * = members) that makes index and members one-to-one. */
static int index_entry(struct walk *w, struct coll_seen *c, const MDB_val *k, const MDB_val *v)
{
    const uint8_t *p = k->mv_data;
    const unsigned long long id = (unsigned long long)c->id;
    struct keel_slice m = {p + 17, k->mv_size - 17};
    uint8_t kb[9 + KEEL_MEMBER_INLINE];
    if (k->mv_size < 17 || (v->mv_size > 0 && (k->mv_size != 17 + KEEL_ZINDEX_INLINE ||
                                                 v->mv_size <= KEEL_ZINDEX_INLINE ||
                                                 v->mv_size > KEEL_MAX_MEMBER ||
                                                 memcmp(p + 17, v->mv_data, KEEL_ZINDEX_PREFIX) != 0)))
        return walk_fail(w, "DB \"members\": sorted set %llu has a malformed index entry", id);
    int zrc = walk_zrank_index(w, c->id, p + 9, k->mv_size - 9);
    if (zrc != 0) return zrc;
    if (v->mv_size > 0) m = (struct keel_slice){v->mv_data, v->mv_size};
    /* The member's own sub-key (members.c's layout). */
    size_t kn = 9;
    be64_store(kb, c->id);
    if (m.n <= KEEL_MEMBER_INLINE) {
        kb[8] = KEEL_TAG_MEMBER;
        memcpy(kb + 9, m.p, m.n);
        kn += m.n;
    } else {
        XXH128_hash_t h = XXH3_128bits(m.p, m.n);
        kb[8] = KEEL_TAG_MEMBER | KEEL_TAG_HASHED;
        be64_store(kb + 9, h.high64);
        be64_store(kb + 17, h.low64);
        kn += 16;
    }
    MDB_val mk = {kn, kb}, mv;
    int rc = mdb_get(w->txn, w->dbi[DB_MEMBERS], &mk, &mv);
    if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_fail(w, "members", rc);
    const uint8_t *sp = mv.mv_data;
    size_t off = 0;
    if (rc == 0 && m.n > KEEL_MEMBER_INLINE) off = mv.mv_size >= 4 ? 4 + le32_load(sp) : mv.mv_size;
    if (rc != 0 || mv.mv_size < off || mv.mv_size - off != 8 ||
        storage_zscore_sortable(le64_load(sp + off)) != be64_load(p + 9))
        return walk_fail(w, "DB \"members\": an index entry of sorted set %llu names no member of its score", id);
    c->indexed++;
    return 0;
}

static int member_entry(struct walk *w, const MDB_val *k, const MDB_val *v)
{
    const uint8_t *p = k->mv_data;
    bool counts;
    if (k->mv_size < 9) return walk_fail(w, "DB \"members\" has a key of %zu bytes", k->mv_size);
    struct coll_seen key = {.id = be64_load(p)};
    struct coll_seen *c = bsearch(&key, w->colls, w->ncolls, sizeof *c, by_id);
    if (c == NULL)
        return walk_fail(w, "DB \"members\" holds an element of collection %llu, which no key has",
                    (unsigned long long)key.id);
    uint8_t tag = p[8] & (uint8_t)~KEEL_TAG_HASHED;
    if (!tag_ok(c->type, tag, &counts))
        return walk_fail(w, "DB \"members\": collection %llu of type %u has an element tagged %u",
                    (unsigned long long)c->id, c->type, p[8]);
    /* The sorted set the rank check follows is complete once another
     * collection's sub-keys begin. */
    int rc = walk_zrank_next(w, c->id);
    if (rc != 0) return rc;
    if (IS_RANK(tag))
        return p[8] == tag ? walk_zrank_key(w, c->id, k, v)
                           : walk_fail(w, "DB \"members\": sorted set %llu has a hashed rank sub-key",
                                       (unsigned long long)c->id);
    if (c->type == KEEL_TYPE_LIST) {
        /* An item's sub-key is its be64 position (never hashed), inside
         * [head, tail]; the item is the value. */
        uint64_t pos = k->mv_size == 17 ? be64_load(p + 9) : 0;
        if (p[8] != KEEL_TAG_ITEM || k->mv_size != 17 || pos < c->head || pos > c->tail ||
            v->mv_size > KEEL_MAX_MEMBER)
            return walk_fail(w, "DB \"members\": list %llu has an item outside its positions",
                        (unsigned long long)c->id);
    } else if (p[8] & KEEL_TAG_HASHED) {
        /* le32 n, element, data: the element too long to be the key, and
         * the key its hash. */
        const uint8_t *vp = v->mv_data;
        size_t n = v->mv_size >= 4 ? le32_load(vp) : 0;
        XXH128_hash_t h;
        if (k->mv_size != 25 || v->mv_size < 4 || n > v->mv_size - 4 || n <= KEEL_MEMBER_INLINE ||
            n > KEEL_MAX_MEMBER)
            return walk_fail(w, "DB \"members\": collection %llu has a malformed long element",
                        (unsigned long long)c->id);
        h = XXH3_128bits(vp + 4, n);
        if (be64_load(p + 9) != h.high64 || be64_load(p + 17) != h.low64)
            return walk_fail(w, "DB \"members\": a long element of collection %llu is not under its hash",
                        (unsigned long long)c->id);
    } else if (c->type == KEEL_TYPE_ZSET && tag == KEEL_TAG_INDEX) {
        return index_entry(w, c, k, v);
    } else if (c->type == KEEL_TYPE_ZSET && v->mv_size != 8) {
        return walk_fail(w, "DB \"members\": a member of sorted set %llu has %zu bytes of score",
                    (unsigned long long)c->id, v->mv_size);
    } else if (c->type == KEEL_TYPE_SET && v->mv_size != 0) {
        return walk_fail(w, "DB \"members\": a member of set %llu has %zu bytes of data",
                    (unsigned long long)c->id, v->mv_size);
    }
    c->found += counts;
    return 0;
}

static int walk_db(struct walk *w, int db)
{
    static int (*const check[NDB])(struct walk *, const MDB_val *, const MDB_val *) = {
        walk_data_record, walk_exp_entry, meta_entry, dd_entry, ddts_entry, member_entry};
    MDB_cursor *c;
    MDB_val k, v;
    int rc = mdb_cursor_open(w->txn, w->dbi[db], &c);
    if (rc != 0) return lmdb_fail(w, names[db], rc);
    int bad = 0;
    while (bad == 0 && (rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
        storage_digest_add(w->st, (uint8_t)db, &k, &v);
        w->count[db]++;
        bad = check[db](w, &k, &v);
    }
    mdb_cursor_close(c);
    if (bad != 0) return bad;
    return rc == MDB_NOTFOUND ? 0 : lmdb_fail(w, names[db], rc);
}

/* Every collection's count against the elements found, and the id counter
 * ahead of every id. */
static int check_colls(struct walk *w)
{
    int rc = walk_zrank_done(w);
    if (rc != 0) return rc;
    for (size_t i = 0; i < w->ncolls; i++) {
        const struct coll_seen *c = &w->colls[i];
        if (i > 0 && c->id == w->colls[i - 1].id)
            return walk_fail(w, "two keys hold collection %llu", (unsigned long long)c->id);
        if (c->found != c->count)
            return walk_fail(w, "collection %llu counts %llu elements, DB \"members\" holds %llu",
                        (unsigned long long)c->id, (unsigned long long)c->count,
                        (unsigned long long)c->found);
        if (c->type == KEEL_TYPE_ZSET && c->indexed != c->count)
            return walk_fail(w, "sorted set %llu has %llu members and %llu index entries",
                        (unsigned long long)c->id, (unsigned long long)c->count,
                        (unsigned long long)c->indexed);
        if (c->id >= w->coll_next)
            return walk_fail(w, "collection %llu is not below the id counter (%llu)",
                        (unsigned long long)c->id, (unsigned long long)w->coll_next);
    }
    return 0;
}

static int walk_all(struct walk *w)
{
    int rc = 0;
    for (int db = 0; db < NDB; db++) {
        rc = mdb_dbi_open(w->txn, names[db], 0, &w->dbi[db]);
        if (rc == MDB_NOTFOUND && db == DB_MEMBERS) {
            rc = 0;
            continue;
        }
        if (rc != 0) return lmdb_fail(w, names[db], rc);
        if (db == DB_MEMBERS) w->has_members = true;
    }
    for (int db = 0; rc == 0 && db < NDB; db++) {
        if (db == DB_MEMBERS) {
            if (!w->has_members) continue;
            if (w->ncolls > 0) qsort(w->colls, w->ncolls, sizeof *w->colls, by_id);
        }
        rc = walk_db(w, db);
    }
    if (rc != 0) return rc;
    if (!w->has_format || w->format < STORAGE_FORMAT_MIN || w->format > STORAGE_FORMAT)
        return walk_fail(w, "storage format %llu%s, this build reads %d to %d", (unsigned long long)w->format,
                    w->has_format ? "" : " (absent)", STORAGE_FORMAT_MIN, STORAGE_FORMAT);
    if (w->long_keys > 0 && w->format < 3)
        return walk_fail(w, "storage format %llu has no long keys, the image holds %llu",
                    (unsigned long long)w->format, (unsigned long long)w->long_keys);
    if ((rc = check_colls(w)) != 0) return rc;
    if (w->count[DB_EXP] != w->with_expiry)
        return walk_fail(w, "the expiry index has %llu entries for %llu keys with an expiry",
                    (unsigned long long)w->count[DB_EXP], (unsigned long long)w->with_expiry);
    if (w->count[DB_DD] != w->count[DB_DDTS] || w->dedupe_count != w->count[DB_DD])
        return walk_fail(w, "the dedupe table has %llu entries, its index %llu, its count says %llu",
                    (unsigned long long)w->count[DB_DD], (unsigned long long)w->count[DB_DDTS],
                    (unsigned long long)w->dedupe_count);
    return 0;
}

int image_walk(const char *path, size_t len, struct keel_image_report *rep, char *errmsg)
{
    struct walk w = {.errmsg = errmsg};
    MDB_env *env;
    int rc = mdb_env_create(&env);
    if (rc != 0) return lmdb_fail(&w, "create", rc);
    mdb_env_set_maxdbs(env, 8);
    mdb_env_set_mapsize(env, len); /* LMDB raises it to the last page if needed */
    rc = mdb_env_open(env, path, MDB_RDONLY | MDB_NOLOCK | MDB_NOSUBDIR | MDB_NOTLS, 0600);
    if (rc != 0) {
        rc = lmdb_fail(&w, "open", rc);
        goto out;
    }
    rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &w.txn);
    if (rc != 0) {
        rc = lmdb_fail(&w, "begin", rc);
        goto out;
    }
    w.st = XXH3_createState();
    if (w.st == NULL) {
        rc = KEEL_ENOMEM;
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "snapshot image: out of memory");
        goto out;
    }
    XXH3_64bits_reset(w.st);
    rc = walk_all(&w);
    if (rc == 0) {
        rep->applied = w.applied;
        rep->keys = w.count[DB_DATA];
        rep->expires = w.count[DB_EXP];
        rep->dedupe = w.count[DB_DD];
        rep->digest = XXH3_64bits_digest(w.st);
        rep->format = w.format;
    }
out:
    free(w.colls);
    walk_zrank_free(&w);
    if (w.st != NULL) XXH3_freeState(w.st);
    if (w.txn != NULL) mdb_txn_abort(w.txn);
    mdb_env_close(env);
    return rc;
}
