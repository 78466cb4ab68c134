/* storage: the LMDB environment behind one Keel node's state machine.
 *
 * What lives here: the keyspace (key -> record with type, expiry and version),
 * the expiry index, metadata (last applied raft index, logical clock, format),
 * the dedupe table, snapshot images and restore, space accounting. Nothing here
 * knows raft or the command codec.
 *
 * Threading: a keel_storage is used from one thread (the node's loop), except
 * keel_storage_snapshot_write(), which may run on a pool thread concurrently
 * with writes on the loop (LMDB MVCC; the env is opened MDB_NOTLS).
 *
 * Durability: the env is opened MDB_NOSYNC. The raft log is the durable source
 * of truth; LMDB only needs to be a consistent prefix of it. See the trust rule
 * in keel_storage_open(). */
#ifndef KEEL_STORAGE_H
#define KEEL_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keel/error.h"
#include "common/slice.h"

/* Limits of the keyspace.
 *
 * A key is 1..KEEL_MAX_KEY bytes (64 KiB; Redis allows 512 MB). LMDB keys are
 * at most 511 bytes, so a key's place in the "data" database, its position,
 * is the key itself up to KEEL_KEY_INLINE bytes, and for a longer key
 * KEEL_LONGKEY_PREFIX followed by the 128-bit XXH3 of the key
 * (KEEL_LONGKEY_POS bytes), the record then holding the full name
 * (storage/record.h). The prefix lies under "\xffkeel:", the system keys'
 * namespace clients may not write, and storage_put refuses a short key that
 * starts with it, so a position names one key only. Its 0xff sorts after
 * every system key's name (ASCII after the prefix), so the system keys stay
 * one contiguous range from "\xffkeel:" (DBSIZE counts them that way). Two long keys with one
 * hash cannot both be stored: the second is refused with KEEL_EEXISTS,
 * deterministically on every replica (it takes ~2^64 long keys to happen by
 * chance); a lookup of it finds nothing. Long keys sort by their hash, after
 * the system keys: SCAN, KEYS and FLUSHALL walk positions, so long keys come
 * in hash order. */
#define KEEL_MAX_KEY 65536
#define KEEL_KEY_INLINE 511
#define KEEL_LONGKEY_PREFIX "\xffkeel:\xff"
#define KEEL_LONGKEY_PREFIX_LEN 7
#define KEEL_LONGKEY_POS (KEEL_LONGKEY_PREFIX_LEN + 16)
#define KEEL_MAX_VALUE (64u * 1024 * 1024)

/* Databases (SELECT n). Design: database 0's keys are stored under their
 * own names, as before, so existing envs, images and logs stay valid. A key
 * of database n (1..KEEL_MAX_DATABASES-1) is stored under KEEL_DB_PREFIX,
 * the byte n, then its name: a name in the reserved "\xffkeel:" range that
 * clients cannot write (they are refused "\xffkeel:" keys), so no client key
 * of any database can collide with another's. The server rewrites a
 * command's keys on the node that received it, after ACL and reserved-key
 * checks on the names the client gave; the raft entry then carries the
 * stored names, so every replica applies the same thing and forwarding and
 * exactly-once identity are unchanged. 0xfe sorts before the long keys'
 * 0xff, so database n's short keys are one contiguous range; its long keys
 * (a prefixed name over KEEL_KEY_INLINE bytes) are hashed like any other
 * and are found by their full name (storage_key_db). */
#define KEEL_DB_PREFIX "\xffkeel:\xfe"
#define KEEL_DB_PREFIX_LEN 7
#define KEEL_DB_KEY_OVERHEAD (KEEL_DB_PREFIX_LEN + 1)
#define KEEL_MAX_DATABASES 256

/* Which database key (a stored name) belongs to: 0 for a client key of
 * database 0, n for database n's (*user, if not NULL, then the client's
 * name), -1 for a system key (or a malformed database name). */
static inline int storage_key_db(struct keel_slice key, struct keel_slice *user)
{
    if (user != NULL) *user = key;
    if (key.n < 6 || key.p[0] != 0xff || key.p[1] != 'k' || key.p[2] != 'e' || key.p[3] != 'e' ||
        key.p[4] != 'l' || key.p[5] != ':')
        return 0;
    if (key.n <= KEEL_DB_KEY_OVERHEAD || key.p[6] != 0xfe || key.p[7] == 0) return -1;
    if (user != NULL) *user = (struct keel_slice){key.p + KEEL_DB_KEY_OVERHEAD, key.n - KEEL_DB_KEY_OVERHEAD};
    return key.p[7];
}

/* The position of key (1..KEEL_MAX_KEY bytes) into out (KEEL_KEY_INLINE
 * bytes at least); returns its size. A position passed as a key is its own
 * position, so callers may keep positions instead of long names (SCAN's
 * cursors) and hand them to storage_scan as the start. */
size_t storage_key_pos(struct keel_slice key, uint8_t *out);
/* Whether an LMDB key of "data" starts with KEEL_LONGKEY_PREFIX. */
bool storage_pos_is_long(const uint8_t *p, size_t n);

struct keel_storage_options
{
    const char *dir;        /* Node data directory; the env lives in <dir>/kv. */
    uint64_t map_size;      /* Initial LMDB map size (address space). 0: 1 GiB. */
    uint64_t max_map_size;  /* Growth limit. 0: 1 TiB. */
    uint64_t quota;         /* Live-data quota in bytes. 0: none. */
    uint64_t reserve;       /* Disk reserve kept in <dir>/disk-reserve, bytes.
                             * 0: none kept (an existing file is left alone). */
    const char *boot_id_path; /* NULL: /proc/sys/kernel/random/boot_id. Tests
                               * point it elsewhere to simulate a reboot. */
};

struct keel_storage;

/* Open (creating if needed) the env in <opts->dir>/kv.
 *
 * Trust rule: with MDB_NOSYNC a power loss can tear the env, a process crash
 * cannot (the page cache survives). So the env is trusted only if it was closed
 * cleanly, or was last opened during the current boot. An untrusted env is
 * wiped and starts empty (applied index 0): raft's snapshot and log replay
 * rebuild it. *wiped tells the caller which happened (may be NULL).
 *
 * Errors: KEEL_EIO (the message says which path and why), KEEL_ECORRUPT or
 * KEEL_EVERSION (an env of an unknown format). On error *out is NULL and the
 * reason is in errmsg (KEEL_ERRMSG_SIZE bytes). */
int keel_storage_open(const struct keel_storage_options *opts,
                      struct keel_storage **out,
                      bool *wiped,
                      char *errmsg);

/* Close the env. With clean=true the env is synced and marked clean, so the
 * next open trusts it whatever the boot. Never fails; frees s. */
void keel_storage_close(struct keel_storage *s, bool clean);

/* The last raft index whose effects are committed in the env. */
uint64_t keel_storage_applied(const struct keel_storage *s);

/* The detail of the last error on s. */
const char *keel_storage_errmsg(const struct keel_storage *s);

/* ---- transactions ------------------------------------------------------ */

struct keel_txn
{
    void *mdb;                 /* MDB_txn */
    struct keel_storage *s;
    bool write;
};

/* One write txn at a time, on the loop thread. Read txns may be many. */
int storage_txn_begin(struct keel_storage *s, bool write, struct keel_txn *txn);
/* Commit. On failure (KEEL_EMAPFULL, KEEL_EIO) the txn is gone all the same. */
int storage_txn_commit(struct keel_txn *txn);
void storage_txn_abort(struct keel_txn *txn);

/* Grow the map after KEEL_EMAPFULL. No txn of this process may be open: it
 * waits for running snapshot copies. KEEL_ENOSPACE at max_map_size. */
int storage_grow(struct keel_storage *s);

/* ---- keyspace ---------------------------------------------------------- */

enum keel_type {
    KEEL_TYPE_NONE = 0,
    KEEL_TYPE_STRING = 1,
    KEEL_TYPE_HASH = 2,
    /* Collections: the record holds a struct keel_coll, the elements live
     * as sub-keys in the "members" database (below). */
    KEEL_TYPE_LIST = 3,
    KEEL_TYPE_SET = 4,
    KEEL_TYPE_ZSET = 5,
};

/* A key's record. expire_at is absolute Unix milliseconds, 0 for none.
 * version is the raft index of the key's last change. On reads, val points
 * into the map and stays valid until the txn ends or writes again. */
struct keel_record
{
    uint8_t type;
    int64_t expire_at;
    uint64_t version;
    const uint8_t *val;
    size_t len;
};

/* KEEL_ENOTFOUND if absent (a long key whose hash another long key holds
 * is absent). Does not look at expiry: that is the caller's
 * (deterministic) business. */
int storage_get(struct keel_txn *txn, struct keel_slice key, struct keel_record *rec);

/* Insert or replace, keeping the expiry index in step. KEEL_EEXISTS if
 * key is long and another long key with its 128-bit hash is stored;
 * KEEL_EINVAL for a short key starting with KEEL_LONGKEY_PREFIX. *buf (may be NULL)
 * receives the record's value space, so a caller can build the value in place
 * (rec->val NULL, rec->len the size): valid until the next write. */
int storage_put(struct keel_txn *txn, struct keel_slice key, const struct keel_record *rec,
                uint8_t **buf);

/* Delete a key and its expiry entry (and a collection's sub-keys).
 * KEEL_ENOTFOUND if absent. */
int storage_del(struct keel_txn *txn, struct keel_slice key);

/* RENAME: move src's record to dst (replacing dst, whose sub-keys go if it
 * was a collection), stamped `version`. A collection keeps its id, so its
 * elements do not move: O(1) whatever its size. KEEL_ENOTFOUND if no src. */
int storage_move(struct keel_txn *txn, struct keel_slice src, struct keel_slice dst,
                 uint64_t version);

/* COPY: put a copy of src's record at dst (replacing dst), stamped
 * `version`; a collection's elements are copied under a new id. */
int storage_copy(struct keel_txn *txn, struct keel_slice src, struct keel_slice dst,
                 uint64_t version);

/* The key with the earliest expiry at or before `at`, in (expiry, position)
 * order. KEEL_ENOTFOUND if there is none. key (the full name) points into
 * the map (valid as above). */
int storage_expired_first(struct keel_txn *txn, int64_t at, struct keel_slice *key,
                          int64_t *expire_at);

/* Walk keys in position order from the position of `start` (a key or a
 * position; empty: the first key). The callback gets each key's full name
 * (pointing into the map) and returns non-zero to stop; that value is
 * returned. */
typedef int (*storage_scan_cb)(void *arg, struct keel_slice key, const struct keel_record *rec);
int storage_scan(struct keel_txn *txn, struct keel_slice start, storage_scan_cb cb, void *arg);

/* ---- collections: elements as sub-keys ---------------------------------
 *
 * A list, set or sorted set is one record in "data" whose payload is a
 * struct keel_coll (KEEL_COLL_SIZE bytes, little-endian), and one sub-key per
 * element in the "members" database:
 *
 *   sub-key = be64(id) . u8 tag . element
 *
 * The id, not the key name, prefixes the elements: a RENAME moves only the
 * record, sub-keys stay short whatever the key's length, and all of one
 * collection is one contiguous range. Ids come from the replicated counter
 * meta "coll_next" (storage_coll_new_id, called in apply), so every replica
 * numbers alike. Whoever deletes or replaces a collection's record through
 * storage_put/storage_del/storage_move frees its sub-keys there: no caller
 * can leave orphans behind.
 *
 * An LMDB key is at most 511 bytes (KEEL_KEY_INLINE): an element of up to KEEL_MEMBER_INLINE
 * bytes is the sub-key itself (value: the element's data, e.g. a zset
 * score); a longer one (up to KEEL_MAX_MEMBER) is stored under tag|0x80 and
 * the 128-bit XXH3 of the element, the value being le32 length, element,
 * data. Sets are unordered, so losing byte order there costs nothing; a
 * sorted set orders by score through its own index tag. Two distinct long
 * elements with one 128-bit hash cannot both be stored (KEEL_EEXISTS,
 * deterministic on every replica); that takes ~2^64 elements to happen by
 * chance.
 *
 * Tags: KEEL_TAG_MEMBER (a set's members; a sorted set's member -> score),
 * KEEL_TAG_ITEM (a list's items by position), KEEL_TAG_INDEX (a sorted
 * set's score index). `count` counts MEMBER or ITEM sub-keys, which the
 * image check verifies; it is never 0 (an emptied collection is deleted). */
#define KEEL_COLL_SIZE 32
#define KEEL_MAX_MEMBER (1u << 20)
#define KEEL_MEMBER_INLINE (KEEL_KEY_INLINE - 9)
#define KEEL_TAG_MEMBER 0x01
#define KEEL_TAG_ITEM 0x02
#define KEEL_TAG_INDEX 0x03
#define KEEL_TAG_RANK 0x10 /* + level 1..KEEL_ZRANK_LEVELS: 0x11..0x18 */
#define KEEL_TAG_HASHED 0x80

struct keel_coll
{
    uint64_t id;
    uint64_t count;
    uint64_t aux[2]; /* the type's own: a list's head and tail positions */
};

static inline bool storage_is_coll(uint8_t type)
{
    return type == KEEL_TYPE_LIST || type == KEEL_TYPE_SET || type == KEEL_TYPE_ZSET;
}

/* Decode a collection record's payload: KEEL_ECORRUPT if it is none. */
int storage_coll_decode(const struct keel_record *rec, struct keel_coll *coll);
/* Encode coll into out (KEEL_COLL_SIZE bytes). */
void storage_coll_encode(const struct keel_coll *coll, uint8_t *out);
/* A fresh collection id (replicated counter; write txn). */
int storage_coll_new_id(struct keel_txn *txn, uint64_t *id);

/* One element of collection id under tag. get: 0 and *data (may be NULL;
 * points into the map, valid as storage_get's), or KEEL_ENOTFOUND. put:
 * insert or replace, *added (may be NULL) tells which; KEEL_ETOOBIG over
 * KEEL_MAX_MEMBER. del: *removed (may be NULL) tells whether it was there. */
int storage_member_get(struct keel_txn *txn, uint64_t id, uint8_t tag, struct keel_slice member,
                       struct keel_slice *data);
int storage_member_put(struct keel_txn *txn, uint64_t id, uint8_t tag, struct keel_slice member,
                       struct keel_slice data, bool *added);
int storage_member_del(struct keel_txn *txn, uint64_t id, uint8_t tag, struct keel_slice member,
                       bool *removed);
/* Every element of (id, tag): short ones in byte order, then long ones in
 * hash order. cb returns non-zero to stop (returned). member and data point
 * into the map: do not write to the txn from cb. */
typedef int (*storage_member_cb)(void *arg, struct keel_slice member, struct keel_slice data);
int storage_member_scan(struct keel_txn *txn, uint64_t id, uint8_t tag, storage_member_cb cb,
                        void *arg);
/* The short elements of (id, tag) only, in byte order from the first at or
 * after from (at most KEEL_MEMBER_INLINE bytes, else KEEL_EINVAL): a list's
 * items from a position on (their sub-keys are be64 positions). */
int storage_member_scan_from(struct keel_txn *txn, uint64_t id, uint8_t tag, struct keel_slice from,
                             storage_member_cb cb, void *arg);
/* Delete every sub-key of collection id (any tag). */
int storage_coll_drop(struct keel_txn *txn, uint64_t id);

/* ---- sorted-set score index --------------------------------------------
 *
 * A sorted set keeps member -> score (8 bytes, the double's bits, LE) under
 * KEEL_TAG_MEMBER like any element, and one index sub-key per member:
 *
 *   be64(id) . KEEL_TAG_INDEX . sortable(score) . member          value: empty
 *
 * sortable(score) is the double's IEEE-754 bits, big-endian, the sign bit
 * flipped for positives and every bit flipped for negatives, -0 taken as 0:
 * byte order is numeric order, so a range by score is one cursor seek.
 * A member longer than KEEL_ZINDEX_INLINE bytes does not fit: its index key
 * holds the member's first KEEL_ZINDEX_PREFIX bytes and its 128-bit XXH3, and
 * its value is the whole member. Order is then exact by score and by bytes,
 * except among members of equal score sharing their first
 * KEEL_ZINDEX_PREFIX bytes where one is longer than KEEL_ZINDEX_INLINE: those
 * come in hash order (open; Redis orders them by bytes). */
#define KEEL_ZINDEX_INLINE (KEEL_MEMBER_INLINE - 8)
#define KEEL_ZINDEX_PREFIX (KEEL_ZINDEX_INLINE - 16)

/* Add or remove the index entry (score, member) of collection id. del:
 * KEEL_ENOTFOUND if there was none. */
int storage_zindex_put(struct keel_txn *txn, uint64_t id, double score, struct keel_slice member);
int storage_zindex_del(struct keel_txn *txn, uint64_t id, double score, struct keel_slice member);
/* Walk the index of collection id from score `from` (inclusive; in reverse
 * from the highest entry at or below it) in score order, or in reverse.
 * cb returns non-zero to stop (returned); member points into the map. */
typedef int (*storage_zindex_cb)(void *arg, double score, struct keel_slice member);
int storage_zindex_walk(struct keel_txn *txn, uint64_t id, double from, bool reverse,
                        storage_zindex_cb cb, void *arg);
/* As storage_zindex_walk, from the entry of 0-based rank `rank` (in index
 * order; nothing if rank >= the entries). O(log n) to start. */
int storage_zindex_walk_rank(struct keel_txn *txn, uint64_t id, uint64_t rank, bool reverse,
                             storage_zindex_cb cb, void *arg);
/* rank: the entries before (score, member)'s place (its 0-based rank when
 * it is there). below: the entries of score below `score` (inclusive: at
 * or below). Both O(log n). */
int storage_zindex_rank(struct keel_txn *txn, uint64_t id, double score, struct keel_slice member,
                        uint64_t *rank);
int storage_zindex_below(struct keel_txn *txn, uint64_t id, double score, bool inclusive,
                         uint64_t *n);

/* ---- sorted-set rank index ----------------------------------------------
 *
 * An order-statistic skip list over the score index, so a rank and the
 * entry at a rank take O(log n) cursor steps. For an index entry e, let
 * suffix(e) be its index key without the 9-byte (id, tag) prefix and
 * L(e) the number of leading zero nibbles of XXH3-64(suffix(e)), at most
 * KEEL_ZRANK_LEVELS (P(L >= l) = 16^-l; the suffix holds no id, so a
 * copy's entries keep their levels). For each level l >= 1:
 *
 *   be64(id) . (KEEL_TAG_RANK + l)                    value: le64 count
 *   be64(id) . (KEEL_TAG_RANK + l) . suffix(e)        value: le64 count
 *
 * the head (the entries before the level's first tower) and one tower per
 * entry with L(e) >= l (the entries from e up to the next tower of the
 * level, e included). Every sorted set has all heads (storage format 4;
 * older envs get theirs built at open). The sub-keys change in the write
 * txn of the index change (storage_zindex_put/del), nothing else writes
 * them; the image check verifies every head, tower and count.
 * Adversarial members (all of level 0) make rank O(n) again, never wrong. */
#define KEEL_ZRANK_LEVELS 8

/* ---- metadata ---------------------------------------------------------- */

int storage_meta_get(struct keel_txn *txn, const char *name, uint64_t *value); /* 0 if absent */
int storage_meta_put(struct keel_txn *txn, const char *name, uint64_t value);
/* Record the applied index in this txn; keel_storage_applied() follows on commit. */
int storage_set_applied(struct keel_txn *txn, uint64_t index);

/* ---- dedupe table ------------------------------------------------------ */

/* The stored reply of (client, seq): KEEL_ENOTFOUND if none. */
int storage_dedupe_get(struct keel_txn *txn, uint64_t client, uint64_t seq,
                       struct keel_slice *reply);
int storage_dedupe_put(struct keel_txn *txn, uint64_t client, uint64_t seq, int64_t ts,
                       struct keel_slice reply);
/* Evict, oldest first, entries stamped before `older_than` and entries beyond
 * `max_entries`, at most `budget` of them. Deterministic: the order is the
 * (timestamp, client, seq) index, identical on every replica. */
int storage_dedupe_evict(struct keel_txn *txn, int64_t older_than, uint64_t max_entries,
                         unsigned budget);
uint64_t storage_dedupe_count(struct keel_txn *txn);

/* ---- whole-env views --------------------------------------------------- */

/* A digest of every replicated byte (keyspace, expiry index, metadata, dedupe
 * table) and the applied index it was taken at. Equal replicas at one index
 * have equal digests. */
int keel_storage_digest(struct keel_storage *s, uint64_t *applied, uint64_t *digest);
/* The same digest, of what txn sees (apply's write txn included). */
int storage_digest_txn(struct keel_txn *txn, uint64_t *digest);

/* The same digest taken off the loop (the periodic consistency check): begin
 * (loop thread) opens a read txn on the state committed so far and pins the
 * storage, so a restore, a map resize or a close waits for the walk instead
 * of pulling the env from under it; run (any one thread, e.g. the libuv
 * pool) walks every tree, ends the txn and unpins. Call run exactly once
 * after a successful begin; between the two only that thread uses j.
 * begin: 0 or a storage error (nothing to run then). run: j->rc is 0 with
 * j->digest set, or an error with j->errmsg. */
struct keel_digest_job
{
    struct keel_storage *s;
    void *txn;         /* MDB_txn, until run ends it */
    uint64_t applied;  /* the applied index the txn sees */
    uint64_t digest;
    int rc;
    char errmsg[KEEL_ERRMSG_SIZE];
};
int keel_storage_digest_begin(struct keel_storage *s, struct keel_digest_job *j);
void keel_storage_digest_run(struct keel_digest_job *j);

struct keel_space
{
    uint64_t live_bytes; /* pages in use by every tree, times the page size */
    uint64_t file_bytes; /* high-water mark of the data file */
    uint64_t map_size;
    uint64_t quota;      /* 0: none */
    uint64_t keys;
    uint64_t expires;    /* keys with an expiry */
};
int keel_storage_space(struct keel_storage *s, struct keel_space *space);

/* ---- disk space -------------------------------------------------------
 *
 * LMDB grows its file by writing past the end, so a full disk fails a
 * commit (with ENOSPC, or EIO for a short write); raft 0.15 cannot survive a
 * failed log append either (an append failed asynchronously leaves its
 * in-memory log ahead of the disk). So a node keeps a reserve: a file of
 * opts.reserve bytes, really allocated, in the data directory. When the disk
 * fills (a write fails for lack of space, or less than KEEL_DISK_LOW is
 * free) the reserve is deleted, and the room it leaves lets the entries
 * already in the log be applied, deletes go on and raft keep allocating its
 * segment files, while the leader refuses new writes (NOSPACE). Once free
 * space is back above storage_reserve_refill_at() it is allocated again.
 * Deleting keys does not give disk space back: LMDB reuses freed pages for
 * later writes but never shrinks its file. */
#define KEEL_RESERVE_FILE "disk-reserve"
/* Free space under which a failed write counts as "disk full". */
#define KEEL_DISK_FULL (1ull << 20)
/* Free space under which the reserve is released: one raft segment file
 * (raft_uv allocates 8 MiB at a time) would no longer fit. */
#define KEEL_DISK_LOW (8ull << 20)
/* Writes are refused under this much free space whatever --min-free-disk
 * says: raft keeps two segment files allocated ahead of its writes. */
#define KEEL_DISK_FLOOR (16ull << 20)

struct keel_disk
{
    uint64_t free_bytes;       /* what this process may still allocate there */
    uint64_t total_bytes;
    uint64_t reserve_size;     /* opts.reserve */
    uint64_t reserve_held;     /* allocated now: reserve_size, or 0 once released */
    uint64_t reserve_releases; /* since open */
    uint64_t refill_at;        /* free space at which a released reserve returns */
};
/* The data directory's file system and the reserve. KEEL_EIO if statvfs
 * fails. Loop thread. */
int keel_storage_disk(struct keel_storage *s, struct keel_disk *d);

/* Delete the reserve if it is held: 1 if that made room, 0 if there was
 * none to give. Loop thread. */
int keel_storage_reserve_release(struct keel_storage *s);

/* After an operation failed with KEEL_ENOSPACE: if that was the disk (not
 * the map or the quota), release the reserve; 1 if the operation may be
 * retried with room to spare, 0 if there is nothing left to give. */
int keel_storage_reclaim(struct keel_storage *s);

/* The periodic step: release the reserve if less than KEEL_DISK_LOW is free
 * (-1), allocate it again once storage_reserve_refill_at() is free (1),
 * else nothing (0). Loop thread; costs a statvfs. */
int keel_storage_reserve_tend(struct keel_storage *s);

/* KEEL_ENOSPACE when live data plus `incoming` bytes would pass the quota.
 * For the leader's admission control only: never call it from apply, because
 * page usage differs between replicas. */
int keel_storage_quota_check(struct keel_storage *s, uint64_t incoming);

#endif /* KEEL_STORAGE_H */
