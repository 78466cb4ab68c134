/* storage: the private shape of a keel_storage, shared by the storage files. */
#ifndef KEEL_STORAGE_ENV_H
#define KEEL_STORAGE_ENV_H

#include <limits.h>
#include <lmdb.h>
#include <pthread.h>

#include "common/le.h"
#include "storage/storage.h"

/* 2: collections (the "members" database, record types 3-5). An env of
 * format 1 opens as it is and is marked 2 (it just has no collections);
 * a build reading format 1 refuses a format 2 env (KEEL_EVERSION) instead
 * of misreading records of types it does not know.
 * 3: keys over 511 bytes (storage.h, record.h: a long key's record carries
 * its name, its expiry entry too). Envs of formats 1 and 2 open as they are
 * (all their keys are short) and are marked 3.
 * 4: the rank index of sorted sets (storage.h); an env of format 3 or
 * older gets every sorted set's built at open, in the open's write txn.
 */
#define STORAGE_FORMAT 4
#define STORAGE_FORMAT_MIN 1

struct keel_storage
{
    MDB_env *env;
    MDB_dbi data;      /* key -> record */
    MDB_dbi exp;       /* be64(expire_at) . key -> "" */
    MDB_dbi meta;      /* name -> u64 */
    MDB_dbi dd;        /* be64(client) . be64(seq) -> le64(ts) . reply */
    MDB_dbi ddts;      /* be64(ts) . be64(client) . be64(seq) -> "" */
    MDB_dbi members;   /* be64(id) . u8 tag . element -> data (storage.h) */
    struct keel_storage_options opts;
    char dir[PATH_MAX];
    char kv[PATH_MAX];
    char boot_id[64];
    uint64_t applied;         /* committed applied index */
    uint64_t pending_applied; /* set in the open write txn */
    uint64_t map_size;
    pthread_mutex_t mu;       /* guards copies */
    pthread_cond_t cv;
    int copies;               /* snapshot copies running on pool threads */
    uint64_t reserve_held;    /* bytes of the disk reserve allocated now (reserve.c) */
    uint64_t reserve_releases;
    bool disk_full;           /* the last error was a full disk (storage_error) */
    char errmsg[KEEL_ERRMSG_SIZE];
};

/* Translate an LMDB or errno code to a KEEL_* code, formatting errmsg as
 * "<what>: <reason>". A write that failed because the disk is full is
 * KEEL_ENOSPACE whatever LMDB called it (a short write is EIO to LMDB), and
 * sets s->disk_full for keel_storage_reclaim(). */
int storage_error(struct keel_storage *s, int rc, const char *what);
int storage_mdb_code(int rc);

/* Open the env at path with the dbis, used by open and by restore. */
int storage_env_open(struct keel_storage *s, const char *path);
void storage_env_close(struct keel_storage *s);

/* Trust-rule state file inside an env directory. */
int storage_state_write(const char *kvdir, int clean, const char *boot_id, char *errmsg);

/* reserve.c: free bytes this process may allocate on dir's file system
 * (-1: statvfs failed); whether s's disk is full now (under KEEL_DISK_FULL);
 * take over or (re)create the reserve at open; the free space at which a
 * released reserve is created again. */
int storage_disk_free(const char *dir, uint64_t *free_bytes, uint64_t *total_bytes);
bool storage_disk_full(struct keel_storage *s);
void storage_reserve_open(struct keel_storage *s);
uint64_t storage_reserve_refill_at(const struct keel_storage *s);

/* zindex.c: the index-key form of a score given as its bits (LE-decoded):
 * what image_walk compares an index entry's score with. */
uint64_t storage_zscore_sortable(uint64_t bits);

/* members.c: copy every sub-key of collection `from` under id `to`. */
int storage_coll_clone(struct keel_txn *txn, uint64_t from, uint64_t to);

/* The rank index (zrank.c; storage.h). insert/delete: after the score
 * index entry of suffix sfx went in / came out. of: the entries before
 * sfx. seek: c onto the index entry of rank `rank` (KEEL_ENOTFOUND if
 * none). build: from the score index of id (no rank sub-keys yet);
 * build_all: every sorted set's. level: L(e) of a suffix. */
int storage_zrank_insert(struct keel_txn *txn, uint64_t id, const uint8_t *sfx, size_t n);
int storage_zrank_delete(struct keel_txn *txn, uint64_t id, const uint8_t *sfx, size_t n);
int storage_zrank_of(struct keel_txn *txn, uint64_t id, const uint8_t *sfx, size_t n, uint64_t *rank);
int storage_zrank_seek(struct keel_txn *txn, MDB_cursor *c, uint64_t id, uint64_t rank);
int storage_zrank_build(struct keel_txn *txn, uint64_t id);
int storage_zrank_build_all(struct keel_txn *txn);
int storage_zrank_level(const uint8_t *sfx, size_t n);

/* The digest (keel_storage_digest) hashes every record of the dbis data,
 * exp, meta, dedupe, dedupe_ts, members in that order, each as tag (the dbi's place
 * in that list), le64 key size, le64 value size, key, value. */
struct XXH3_state_s;
void storage_digest_add(struct XXH3_state_s *st, uint8_t tag, const MDB_val *k, const MDB_val *v);

/* rm -rf, and fsync of a directory. */
int storage_rmtree(const char *path);
int storage_fsync_dir(const char *path);

#endif /* KEEL_STORAGE_ENV_H */
