/* storage: opening and closing the env, the trust rule, transactions, growth. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/env.h"

#define DEFAULT_MAP_SIZE (1ull << 30)
#define DEFAULT_MAX_MAP_SIZE (1ull << 40)
#define DEFAULT_BOOT_ID "/proc/sys/kernel/random/boot_id"

int storage_mdb_code(int rc)
{
    switch (rc) {
        case 0:
            return 0;
        case MDB_NOTFOUND:
            return KEEL_ENOTFOUND;
        case MDB_MAP_FULL:
            return KEEL_EMAPFULL;
        case ENOMEM:
            return KEEL_ENOMEM;
        case ENOSPC:
            return KEEL_ENOSPACE;
        case MDB_CORRUPTED:
        case MDB_PAGE_NOTFOUND:
        case MDB_INVALID:
            return KEEL_ECORRUPT;
        case MDB_VERSION_MISMATCH:
            return KEEL_EVERSION;
        default:
            return KEEL_EIO;
    }
}

int storage_error(struct keel_storage *s, int rc, const char *what)
{
    uint64_t free_bytes = 0;
    s->disk_full = false;
    /* LMDB returns EIO when pwrite wrote less than asked, which is how a
     * file system that fills up mid-write answers: say ENOSPC when that is
     * what happened. */
    if ((rc == ENOSPC || rc == EIO) && storage_disk_full(s) &&
        storage_disk_free(s->dir, &free_bytes, NULL) == 0) {
        s->disk_full = true;
        snprintf(s->errmsg, sizeof s->errmsg, "%s: %s (%llu bytes free on the disk of %s%s)", what,
                 strerror(ENOSPC), (unsigned long long)free_bytes, s->dir,
                 rc == EIO ? "; LMDB reported the short write as an I/O error" : "");
        return KEEL_ENOSPACE;
    }
    snprintf(s->errmsg, sizeof s->errmsg, "%s: %s", what, mdb_strerror(rc));
    return storage_mdb_code(rc);
}

static int rmtree_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int storage_rmtree(const char *path)
{
    if (access(path, F_OK) != 0) return 0;
    return nftw(path, rmtree_cb, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

int storage_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static void read_boot_id(const char *path, char *out, size_t size)
{
    FILE *f = fopen(path, "r");
    out[0] = 0;
    if (f == NULL) return;
    if (fgets(out, (int)size, f) == NULL) out[0] = 0;
    fclose(f);
    out[strcspn(out, "\n")] = 0;
}

/* On a full disk STATE.tmp gets no block, but STATE can be rewritten where
 * it is: the new line has the old one's length (only the flag and the boot
 * id differ), so the write needs no new block. A torn write there is
 * harmless: it can only happen before the env is touched again, so either
 * line is true of the env at that moment. */
static int state_overwrite(const char *path, const char *line, int n)
{
    struct stat st;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fstat(fd, &st) == 0 && st.st_size == n && pwrite(fd, line, (size_t)n, 0) == n &&
                     fsync(fd) == 0
                 ? 0
                 : -1;
    close(fd);
    return rc;
}

int storage_state_write(const char *kvdir, int clean, const char *boot_id, char *errmsg)
{
    char path[PATH_MAX + 16], tmp[PATH_MAX + 16], line[128];
    snprintf(path, sizeof path, "%s/STATE", kvdir);
    snprintf(tmp, sizeof tmp, "%s/STATE.tmp", kvdir);
    int n = snprintf(line, sizeof line, "clean=%d boot=%s\n", clean, boot_id);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0;
    if (ok) {
        ssize_t w = write(fd, line, (size_t)n);
        ok = w == n;
        if (!ok && w >= 0) errno = ENOSPC; /* a short count: the disk filled */
    }
    if (ok && fsync(fd) != 0) ok = false;
    if (!ok) {
        int err = errno;
        if (fd >= 0) close(fd);
        unlink(tmp);
        if (err == ENOSPC && state_overwrite(path, line, n) == 0) return 0;
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "write %s: %s", tmp, strerror(err));
        return err == ENOSPC ? KEEL_ENOSPACE : KEEL_EIO;
    }
    close(fd);
    if (rename(tmp, path) != 0 || storage_fsync_dir(kvdir) != 0) {
        int err = errno;
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "rename %s to %s: %s", tmp, path, strerror(err));
        return err == ENOSPC ? KEEL_ENOSPACE : KEEL_EIO;
    }
    return 0;
}

/* Whether the env in kvdir may be used as it is (see keel_storage_open). */
static bool env_trusted(const char *kvdir, const char *boot_id)
{
    char path[PATH_MAX + 16], line[128], boot[64];
    int clean = 0;
    snprintf(path, sizeof path, "%s/STATE", kvdir);
    FILE *f = fopen(path, "r");
    if (f == NULL) return false;
    /* An unknown boot id is written as "boot=" (no %s match): a clean env
     * is still trusted then. */
    int n = fgets(line, sizeof line, f) != NULL
                ? sscanf(line, "clean=%d boot=%63s", &clean, boot)
                : 0;
    fclose(f);
    return (n >= 1 && clean == 1) ||
           (n == 2 && boot_id[0] != 0 && strcmp(boot, boot_id) == 0);
}

/* A restore that crashed midway leaves kv.restore and/or kv.old behind. The
 * image in kv.restore was fsync'd before kv was renamed away, so finishing the
 * swap is safe whenever kv is missing. */
static int finish_interrupted_restore(struct keel_storage *s)
{
    char restore[PATH_MAX + 16], old[PATH_MAX + 16];
    snprintf(restore, sizeof restore, "%s.restore", s->kv);
    snprintf(old, sizeof old, "%s.old", s->kv);
    if (access(s->kv, F_OK) != 0 && access(restore, F_OK) == 0) {
        if (rename(restore, s->kv) != 0) return -1;
        storage_fsync_dir(s->dir);
    }
    if (storage_rmtree(restore) != 0 || storage_rmtree(old) != 0) return -1;
    return 0;
}

int storage_env_open(struct keel_storage *s, const char *path)
{
    MDB_txn *txn = NULL;
    MDB_envinfo info;
    int rc;

    rc = mdb_env_create(&s->env);
    if (rc != 0) return storage_error(s, rc, "mdb_env_create");
    mdb_env_set_maxdbs(s->env, 8);
    mdb_env_set_maxreaders(s->env, 256);
    mdb_env_set_mapsize(s->env, (size_t)s->map_size);
    rc = mdb_env_open(s->env, path, MDB_NOSYNC | MDB_NOTLS, 0600);
    if (rc != 0) {
        rc = storage_error(s, rc, "open env");
        goto err;
    }
    int dead = 0;
    mdb_reader_check(s->env, &dead);
    mdb_env_info(s->env, &info);
    s->map_size = info.me_mapsize; /* an existing larger file wins */

    rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0) {
        rc = storage_error(s, rc, "begin");
        goto err;
    }
    struct { const char *name; MDB_dbi *dbi; } dbis[] = {
        {"data", &s->data}, {"exp", &s->exp}, {"meta", &s->meta},
        {"dedupe", &s->dd}, {"dedupe_ts", &s->ddts}, {"members", &s->members},
    };
    for (size_t i = 0; i < sizeof dbis / sizeof dbis[0]; i++) {
        rc = mdb_dbi_open(txn, dbis[i].name, MDB_CREATE, dbis[i].dbi);
        if (rc != 0) {
            rc = storage_error(s, rc, "open dbi");
            goto err;
        }
    }
    struct keel_txn t = {txn, s, true};
    uint64_t format = 0;
    rc = storage_meta_get(&t, "format", &format);
    if (rc != 0) goto err;
    if (format != 0 && (format < STORAGE_FORMAT_MIN || format > STORAGE_FORMAT)) {
        snprintf(s->errmsg, sizeof s->errmsg,
                 "env %s has format %llu, this build reads format %d", path,
                 (unsigned long long)format, STORAGE_FORMAT);
        rc = KEEL_EVERSION;
        goto err;
    }
    /* A new env, or one of format 1 or 2 (no collections or long keys;
     * members just opened empty), is of this format from now on. */
    if (format != 0 && format < 4 && (rc = storage_zrank_build_all(&t)) != 0) goto err;
    if (format != STORAGE_FORMAT && (rc = storage_meta_put(&t, "format", STORAGE_FORMAT)) != 0) goto err;
    rc = storage_meta_get(&t, "applied", &s->applied);
    if (rc != 0) goto err;
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != 0) {
        rc = storage_error(s, rc, "commit");
        goto err;
    }
    return 0;
err:
    if (txn != NULL) mdb_txn_abort(txn);
    mdb_env_close(s->env);
    s->env = NULL;
    return rc;
}

void storage_env_close(struct keel_storage *s)
{
    if (s->env != NULL) {
        mdb_env_close(s->env);
        s->env = NULL;
    }
}

/* The runbook step for an env that does not open, into step. LMDB holds
 * nothing that raft's snapshot and log do not: a damaged env is rebuilt by
 * starting without it (as after an unclean reboot). */
static void open_step(const struct keel_storage *s, int rc, char *step, size_t size)
{
    step[0] = 0;
    if (rc == KEEL_ECORRUPT)
        snprintf(step, size,
                 ": damaged; move %s aside (mv %s %s.damaged) and start again: keeld rebuilds it from the "
                 "raft snapshot and log (docs/recovery.md, \"A damaged file at start\")",
                 s->kv, s->kv, s->kv);
    else if (rc == KEEL_EVERSION)
        snprintf(step, size,
                 "; start the keeld version that wrote it, or move %s aside to rebuild it from the raft "
                 "snapshot and log",
                 s->kv);
}

int keel_storage_open(const struct keel_storage_options *opts,
                      struct keel_storage **out,
                      bool *wiped,
                      char *errmsg)
{
    struct keel_storage *s;
    struct stat st;
    int rc;

    *out = NULL;
    if (wiped != NULL) *wiped = false;
    errno = 0; /* a stale errno must not be reported for a dir that is a file */
    if (opts->dir == NULL || stat(opts->dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "data dir %s: %s", opts->dir ? opts->dir : "(null)",
                 opts->dir ? (errno ? strerror(errno) : "not a directory") : "not set");
        return KEEL_EIO;
    }
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "storage: out of memory");
        return KEEL_ENOMEM;
    }
    s->opts = *opts;
    s->opts.dir = NULL; /* not kept: the caller's memory */
    s->map_size = opts->map_size ? opts->map_size : DEFAULT_MAP_SIZE;
    if (s->opts.max_map_size == 0) s->opts.max_map_size = DEFAULT_MAX_MAP_SIZE;
    if (s->opts.max_map_size < s->map_size) s->opts.max_map_size = s->map_size;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    snprintf(s->dir, sizeof s->dir, "%s", opts->dir);
    snprintf(s->kv, sizeof s->kv, "%s/kv", opts->dir);
    read_boot_id(opts->boot_id_path ? opts->boot_id_path : DEFAULT_BOOT_ID, s->boot_id,
                 sizeof s->boot_id);

    if (finish_interrupted_restore(s) != 0) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "finish interrupted restore in %s: %s", s->dir,
                 strerror(errno));
        rc = KEEL_EIO;
        goto err;
    }
    char datafile[PATH_MAX + 16];
    snprintf(datafile, sizeof datafile, "%s/data.mdb", s->kv);
    if (access(datafile, F_OK) == 0 && !env_trusted(s->kv, s->boot_id)) {
        /* Possibly torn by a power loss: rebuild from raft instead. */
        if (storage_rmtree(s->kv) != 0) {
            snprintf(errmsg, KEEL_ERRMSG_SIZE, "wipe untrusted %s: %s", s->kv, strerror(errno));
            rc = KEEL_EIO;
            goto err;
        }
        if (wiped != NULL) *wiped = true;
    }
    if (mkdir(s->kv, 0700) != 0 && errno != EEXIST) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "mkdir %s: %s", s->kv, strerror(errno));
        rc = KEEL_EIO;
        goto err;
    }
    storage_reserve_open(s);
    /* From here until a clean close the env may be written unsynced. */
    rc = storage_state_write(s->kv, 0, s->boot_id, errmsg);
    if (rc == KEEL_ENOSPACE && keel_storage_reserve_release(s))
        rc = storage_state_write(s->kv, 0, s->boot_id, errmsg);
    if (rc != 0) goto err;
    storage_fsync_dir(s->dir);
    rc = storage_env_open(s, s->kv);
    if (rc != 0) {
        char step[KEEL_ERRMSG_SIZE];
        open_step(s, rc, step, sizeof step);
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "storage %s/data.mdb: %s%s", s->kv, s->errmsg, step);
        goto err;
    }
    *out = s;
    return 0;
err:
    if (rc != 0 && strstr(errmsg, "ermission denied") != NULL) {
        size_t n = strlen(errmsg);
        snprintf(errmsg + n, KEEL_ERRMSG_SIZE - n, " (run keeld as the user that owns %s: ls -ld, chown -R)",
                 s->dir);
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
    return rc;
}

void keel_storage_close(struct keel_storage *s, bool clean)
{
    char errmsg[KEEL_ERRMSG_SIZE];
    if (s == NULL) return;
    /* A backup copy may still run on a pool thread (keel_storage_pin). */
    pthread_mutex_lock(&s->mu);
    while (s->copies > 0) pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    if (s->env != NULL && clean) {
        int rc = mdb_env_sync(s->env, 1);
        storage_env_close(s);
        if (rc == 0) storage_state_write(s->kv, 1, s->boot_id, errmsg);
    }
    storage_env_close(s);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

uint64_t keel_storage_applied(const struct keel_storage *s)
{
    return s->applied;
}

const char *keel_storage_errmsg(const struct keel_storage *s)
{
    return s->errmsg;
}

int storage_txn_begin(struct keel_storage *s, bool write, struct keel_txn *txn)
{
    MDB_txn *t;
    int rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &t);
    if (rc != 0) return storage_error(s, rc, "begin txn");
    txn->mdb = t;
    txn->s = s;
    txn->write = write;
    if (write) s->pending_applied = s->applied;
    return 0;
}

int storage_txn_commit(struct keel_txn *txn)
{
    struct keel_storage *s = txn->s;
    int rc = mdb_txn_commit(txn->mdb);
    txn->mdb = NULL;
    if (rc != 0) return storage_error(s, rc, "commit");
    if (txn->write) s->applied = s->pending_applied;
    return 0;
}

void storage_txn_abort(struct keel_txn *txn)
{
    if (txn->mdb != NULL) mdb_txn_abort(txn->mdb);
    txn->mdb = NULL;
}

int storage_grow(struct keel_storage *s)
{
    int rc;
    pthread_mutex_lock(&s->mu);
    while (s->copies > 0) pthread_cond_wait(&s->cv, &s->mu);
    if (s->map_size >= s->opts.max_map_size) {
        pthread_mutex_unlock(&s->mu);
        snprintf(s->errmsg, sizeof s->errmsg, "map size %llu reached its limit",
                 (unsigned long long)s->map_size);
        return KEEL_ENOSPACE;
    }
    uint64_t size = s->map_size * 2;
    if (size > s->opts.max_map_size) size = s->opts.max_map_size;
    rc = mdb_env_set_mapsize(s->env, (size_t)size);
    if (rc == 0) s->map_size = size;
    pthread_mutex_unlock(&s->mu);
    return rc == 0 ? 0 : storage_error(s, rc, "grow map");
}

int storage_meta_get(struct keel_txn *txn, const char *name, uint64_t *value)
{
    MDB_val k = {strlen(name), (void *)name}, v;
    int rc = mdb_get(txn->mdb, txn->s->meta, &k, &v);
    *value = 0;
    if (rc == MDB_NOTFOUND) return 0;
    if (rc != 0) return storage_error(txn->s, rc, "meta get");
    if (v.mv_size != 8) {
        snprintf(txn->s->errmsg, sizeof txn->s->errmsg, "meta %s: bad size %zu", name, v.mv_size);
        return KEEL_ECORRUPT;
    }
    *value = le64_load(v.mv_data);
    return 0;
}

int storage_meta_put(struct keel_txn *txn, const char *name, uint64_t value)
{
    uint8_t buf[8];
    le64_store(buf, value);
    MDB_val k = {strlen(name), (void *)name}, v = {8, buf};
    int rc = mdb_put(txn->mdb, txn->s->meta, &k, &v, 0);
    return rc == 0 ? 0 : storage_error(txn->s, rc, "meta put");
}

int storage_set_applied(struct keel_txn *txn, uint64_t index)
{
    int rc = storage_meta_put(txn, "applied", index);
    if (rc == 0) txn->s->pending_applied = index;
    return rc;
}
