/* storage: the private shape of an image walk (image_walk.c), shared with
 * the keyspace's checks (image_keys.c). */
#ifndef KEEL_STORAGE_IMAGE_WALK_H
#define KEEL_STORAGE_IMAGE_WALK_H

#include <lmdb.h>
#include <xxhash.h>

#include "storage/env.h"

enum { DB_DATA, DB_EXP, DB_META, DB_DD, DB_DDTS, DB_MEMBERS, NDB };

/* A collection found in "data": its id, type and count, and the elements
 * the walk of "members" found for it. */
struct coll_seen
{
    uint64_t id;
    uint64_t count;
    uint64_t found;
    uint64_t head, tail; /* a list's positions (aux) */
    uint64_t indexed; /* a sorted set's score-index entries */
    uint8_t type;
};

struct walk
{
    MDB_txn *txn;
    MDB_dbi dbi[NDB];
    XXH3_state_t *st;
    uint64_t with_expiry; /* data records with an expiry */
    uint64_t long_keys;   /* data records of long keys (format 3 on) */
    uint64_t count[NDB];
    uint64_t format, applied, dedupe_count, coll_next;
    bool has_format;
    bool has_members;     /* the DB exists (format 1 images lack it) */
    struct coll_seen *colls; /* sorted by id once "data" is walked */
    struct zrank_seen *zr;   /* the rank check's sorted set (image_zrank.c) */
    size_t ncolls, capcolls;
    char *errmsg;
};

__attribute__((format(printf, 2, 3))) int walk_fail(struct walk *w, const char *fmt, ...);
/* A lookup in another dbi: 0 and v, or KEEL_ENOTFOUND, or an error. */
int walk_lookup(struct walk *w, int db, const void *key, size_t n, MDB_val *v);

/* The checks of one record of "data" and of "exp" (image_keys.c): 0, or
 * KEEL_ECORRUPT (or an LMDB error) with w->errmsg saying why. */
int walk_data_record(struct walk *w, const MDB_val *k, const MDB_val *v);
int walk_exp_entry(struct walk *w, const MDB_val *k, const MDB_val *v);

/* The rank index check (image_zrank.c; storage.h): index: each score
 * index entry of sorted set id in order (its key's suffix); key: each
 * rank sub-key, after the set's index; next: a sub-key of collection id
 * comes; done: the set in flight is
 * complete (every level's head and towers seen); free: at the walk's end.
 * Images of format 3 and older must have no rank sub-keys. */
struct zrank_seen;
int walk_zrank_index(struct walk *w, uint64_t id, const uint8_t *sfx, size_t n);
int walk_zrank_key(struct walk *w, uint64_t id, const MDB_val *k, const MDB_val *v);
int walk_zrank_done(struct walk *w);
int walk_zrank_next(struct walk *w, uint64_t id); /* done, if id is another's */
void walk_zrank_free(struct walk *w);

#endif /* KEEL_STORAGE_IMAGE_WALK_H */
