/* store: the private shape of a keel_store and helpers shared by its files. */
#ifndef KEEL_STORE_INTERNAL_H
#define KEEL_STORE_INTERNAL_H

#include "store/events.h"
#include "store/hash.h"
#include "store/store.h"

struct keel_store
{
    struct keel_storage *storage;
    struct keel_store_stats stats;
    struct keel_hash hash;  /* scratch for hash commands */
    uint8_t *scratch;       /* scratch for values built before a put */
    size_t scratch_cap;
    uint64_t hash_index;    /* the last HASH entry applied (node-local memory) */
    uint64_t hash_digest;
    int64_t last_ts;        /* replicated time of the last entry applied (0: none yet) */
    struct keel_events events; /* of the last apply, while recording (events.h) */
    struct keel_check_note check_note; /* of the last apply (keel_store_check_note) */
    uint64_t acl_changes;   /* ACL entries applied since create (keel_store_acl_changes) */
    keel_store_reader reader; /* READ sub-commands (keel_store_set_reader) */
    void *reader_arg;
    char errmsg[KEEL_ERRMSG_SIZE];
};

/* The context of one command being applied. */
struct apply_ctx
{
    struct keel_store *st;
    struct keel_txn *txn;
    int64_t ts;      /* logical time of the entry */
    uint64_t index;  /* raft index: the version of every key it changes */
    bool forget;     /* changed nothing and asks the leader to build it again
                      * (SETFLOAT on a moved key): the dedupe table must not
                      * remember its reply, or the rebuilt entry would get it */
    bool empty_pop;  /* an MPOP or LMOVE found nothing to pop: at the top
                      * level (a blocking pop's attempt, api/server/block.c)
                      * the dedupe table does not keep that reply, or the
                      * waiter's next attempt, with the same identity, would
                      * get it again instead of its element */
    bool read;       /* ran a READ: the reply is the node's, not replicated
                      * state, so the dedupe table keeps "reply lost" */
};

/* Record that the command being applied changed key (events.h). */
static inline void store_event(struct apply_ctx *c, unsigned type, struct keel_slice key)
{
    if (c->st->events.on) events_add(&c->st->events, type, key);
}

/* Look up a live key: KEEL_ENOTFOUND if absent or expired at `now`. */
int store_lookup(struct keel_txn *txn, struct keel_slice key, int64_t now,
                 struct keel_record *rec);
/* Scratch space of at least n bytes, or NULL (out of memory). */
uint8_t *store_scratch(struct keel_store *st, size_t n);
/* Format v in decimal into buf (at least 21 bytes); returns the length. */
size_t store_format_int(int64_t v, char *buf);
/* Overflow-checked a + b. */
bool store_add_overflows(int64_t a, int64_t b, int64_t *sum);

/* Look up key as apply sees it: a record present but expired is deleted
 * (event "expired") and reported KEEL_ENOTFOUND, as Redis's lazy expiry. */
int apply_live(struct apply_ctx *c, struct keel_slice key, struct keel_record *rec);

/* apply_live, returning from the caller on a storage error; exists tells. */
#define LOOKUP(c, key, rec, exists)               \
    do {                                          \
        int rc_ = apply_live(c, key, rec);        \
        if (rc_ != 0 && rc_ != KEEL_ENOTFOUND)    \
            return rc_;                           \
        exists = rc_ == 0;                        \
    } while (0)

/* The prefix of the keys Keel keeps for itself (api/server/syskey.h's
 * SYSKEY_PREFIX; ACL users live there too): FLUSH leaves them. */
#define STORE_SYSTEM_PREFIX "\xffkeel:"

/* Hash commands (apply_hash.c). Return 0 or a storage error; command errors
 * go to the reply. */
int apply_hset(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);
int apply_hdel(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);
int apply_hincrby(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);
int apply_hsetfloat(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);

/* Keyspace and string commands of issue 15 (apply_keys.c, apply_float.c). */
int apply_rename(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);
int apply_copy(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);
int apply_flush(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);
int apply_swapdb(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);
int apply_setrange(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);
int apply_setbit(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);
int apply_msetnx(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);
int apply_setfloat(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);

/* Set commands (apply_set.c). */
int apply_sadd(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);
int apply_srem(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);
int apply_spop(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);
int apply_smove(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);
int apply_sstore(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);

/* Sorted-set commands (apply_zset.c); a member's score (KEEL_ENOTFOUND if
 * it has none, id 0 being no set). */
int apply_zadd(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);
int apply_zrem(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);
int store_zscore(struct keel_txn *txn, uint64_t id, struct keel_slice m, double *d);
/* keel_read_zrange_score on any txn (zset_read.c). */
/* keel_read_zrank on any txn (zset_read.c). */
int store_zrank(struct keel_txn *txn, const struct keel_coll *coll, double score,
                struct keel_slice member, bool reverse, uint64_t *rank);
int store_zrange_walk(struct keel_txn *txn, const struct keel_coll *coll, const struct keel_zrange *z,
                      bool reverse, int64_t offset, int64_t limit, storage_zindex_cb cb, void *arg);
/* keel_read_zselect on any txn (zset_read.c). */
int store_zselect(struct keel_txn *txn, const struct keel_coll *coll, const struct keel_zsel *sel,
                  struct keel_zres *out);
int apply_zremrange(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);

/* Sorted-set algebra (zset_ops.c): keel_read_zsetop on any txn; a record
 * as a source (exists false: absent). ZSTORE (apply_zstore.c). */
int store_zsetop(struct keel_txn *txn, unsigned flags, struct keel_zsrc *src, size_t n, uint64_t limit,
                 uint64_t *card, struct keel_zres *out);
int store_zsrc(const struct keel_record *rec, bool exists, struct keel_zsrc *src);
int apply_zstore(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);
int apply_zrangestore(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);
/* Write res (by score) as the sorted set at key, replacing whatever it held,
 * or delete key if res is empty; replies the cardinality; events "new" and
 * ev, or "del". */
int apply_zstore_result(struct apply_ctx *c, struct keel_slice key, const struct keel_zres *res,
                        unsigned ev, struct keel_reply *r);

/* Set algebra (set_ops.c): op is KEEL_SSTORE_*; sets (id 0: absent) may
 * be reordered. The members of set id, appended to ms. */
int store_setop(struct keel_txn *txn, unsigned op, struct keel_coll *sets, size_t n, uint64_t limit,
                struct keel_members *out);
int store_set_members(struct keel_txn *txn, uint64_t id, struct keel_members *ms);
/* READ inside a batch (apply_read.c). */
int apply_read(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);

/* MPOP: LMPOP, ZMPOP and the blocking pops (apply_mpop.c). */
int apply_mpop(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);

/* List commands (apply_list.c). */
int apply_lpush(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);
int apply_lpop(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);
/* apply_list_edit.c */
int apply_lset(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);
int apply_lrem(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);
int apply_ltrim(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);
int apply_linsert(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);
int apply_lmove(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);
/* The live list at key: *exists, coll (id 0 when absent); *ok false after
 * writing WRONGTYPE. KEEL_ECORRUPT if the record is no sound list. */
int apply_list_load(struct apply_ctx *c, struct keel_slice key, struct keel_record *rec,
                    struct keel_coll *coll, bool *exists, bool *ok, struct keel_reply *r);
/* Write the list's record back (version bumped), or delete the key once
 * the list is empty. */
int apply_list_store(struct apply_ctx *c, struct keel_slice key, int64_t expire_at,
                     const struct keel_coll *coll);
/* Whether n more items fit at that end (else an error reply, false). */
bool apply_list_room(const struct keel_coll *coll, bool left, uint64_t n, struct keel_reply *r);
/* Push item at the head (left) or tail, allocating the id of a new list. */
int apply_list_push(struct apply_ctx *c, struct keel_coll *coll, bool left, struct keel_slice item);
/* Remove n (<= count) items from one end, copied into out in list order. */
int apply_list_pop(struct apply_ctx *c, struct keel_coll *coll, bool left, uint64_t n,
                   struct keel_members *out);

/* List items (list_ops.c). off counts from the head, pos is a position. */
/* The item at offset off (KEEL_ECORRUPT if missing); points into the map. */
int store_list_item(struct keel_txn *txn, const struct keel_coll *l, uint64_t off,
                    struct keel_slice *item);
int store_list_put(struct keel_txn *txn, uint64_t id, uint64_t pos, struct keel_slice item);
/* Delete the item at pos: KEEL_ECORRUPT if there is none. */
int store_list_del(struct keel_txn *txn, uint64_t id, uint64_t pos);
/* n items from offset off in order to cb (member: the be64 position, data:
 * the item; KEEL_ECORRUPT if fewer); cb returns 0 or an error code. */
int store_list_walk(struct keel_txn *txn, const struct keel_coll *l, uint64_t off, uint64_t n,
                    storage_member_cb cb, void *arg);
/* store_list_walk's items copied into out. */
int store_list_copy(struct keel_txn *txn, const struct keel_coll *l, uint64_t off, uint64_t n,
                    struct keel_members *out);

/* ACL SETUSER/DELUSER (acl_store.c). */
int apply_acl(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r);

#endif /* KEEL_STORE_INTERNAL_H */
