/* storage: the private shape of a keel_storage, shared by the storage files. */
#ifndef KEEL_STORAGE_ENV_H
#define KEEL_STORAGE_ENV_H

#include <limits.h>
#include <lmdb.h>
#include <pthread.h>

#include "storage/storage.h"

#define STORAGE_FORMAT 1

struct keel_storage
{
    MDB_env *env;
    MDB_dbi data;      /* key -> record */
    MDB_dbi exp;       /* be64(expire_at) . key -> "" */
    MDB_dbi meta;      /* name -> u64 */
    MDB_dbi dd;        /* be64(client) . be64(seq) -> le64(ts) . reply */
    MDB_dbi ddts;      /* be64(ts) . be64(client) . be64(seq) -> "" */
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
    char errmsg[KEEL_ERRMSG_SIZE];
};

/* Translate an LMDB or errno code to a KEEL_* code, formatting errmsg as
 * "<what>: <reason>". */
int storage_error(struct keel_storage *s, int rc, const char *what);
int storage_mdb_code(int rc);

/* Open the env at path with the dbis, used by open and by restore. */
int storage_env_open(struct keel_storage *s, const char *path);
void storage_env_close(struct keel_storage *s);

/* Trust-rule state file inside an env directory. */
int storage_state_write(const char *kvdir, int clean, const char *boot_id, char *errmsg);

/* rm -rf, and fsync of a directory. */
int storage_rmtree(const char *path);
int storage_fsync_dir(const char *path);

static inline void storage_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}
static inline uint64_t storage_get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
    return v;
}
static inline void storage_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}
static inline uint64_t storage_get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

#endif /* KEEL_STORAGE_ENV_H */
