/* storage: snapshot images (header + compact LMDB copy) and their checks. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "storage/env.h"
#include "storage/image_lmdb.h"
#include "storage/snapshot.h"

/* Read the applied index and key count out of a copy, by opening it as a
 * read-only, lock-free env of its own. */
static int image_info(const char *path, uint64_t *applied, uint64_t *keys, char *errmsg)
{
    MDB_env *env;
    MDB_txn *txn = NULL;
    MDB_dbi meta, data;
    MDB_stat st;
    MDB_val k = {7, "applied"}, v;
    int rc = mdb_env_create(&env);
    if (rc != 0) goto err;
    mdb_env_set_maxdbs(env, 8);
    rc = mdb_env_open(env, path, MDB_RDONLY | MDB_NOLOCK | MDB_NOSUBDIR, 0600);
    if (rc == 0) rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (rc == 0) rc = mdb_dbi_open(txn, "meta", 0, &meta);
    if (rc == 0) rc = mdb_dbi_open(txn, "data", 0, &data);
    if (rc == 0) rc = mdb_stat(txn, data, &st);
    if (rc == 0) rc = mdb_get(txn, meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        *applied = 0;
        rc = 0;
    } else if (rc == 0) {
        if (v.mv_size != 8) rc = MDB_CORRUPTED;
        else *applied = le64_load(v.mv_data);
    }
    if (rc == 0) *keys = st.ms_entries;
    if (txn != NULL) mdb_txn_abort(txn);
    mdb_env_close(env);
err:
    if (rc != 0) snprintf(errmsg, KEEL_ERRMSG_SIZE, "read image: %s", mdb_strerror(rc));
    return storage_mdb_code(rc);
}

/* (last page + 1) * page size of the LMDB copy in fd, by the meta LMDB would
 * use; 0 if unreadable (the image check then says what is wrong). */
static uint64_t lmdb_size(int fd)
{
    uint8_t b[LM_META_SIZE];
    struct lm_meta m[2];
    if (pread(fd, b, sizeof b, 0) != (ssize_t)sizeof b) return 0;
    lm_meta_read(b, &m[0]);
    if (m[0].psize < LM_MIN_PSIZE || m[0].psize > LM_MAX_PSIZE) return 0;
    if (pread(fd, b, sizeof b, m[0].psize) != (ssize_t)sizeof b) return 0;
    lm_meta_read(b, &m[1]);
    const struct lm_meta *u = &m[lm_pick(m)];
    if (u->psize != m[0].psize || u->last_pg > (UINT64_MAX >> 16)) return 0;
    return (u->last_pg + 1) * u->psize;
}

static void header_encode(struct keel_snapshot *snap)
{
    uint8_t *h = snap->header;
    memset(h, 0, KEEL_SNAPSHOT_HEADER);
    memcpy(h, KEEL_SNAPSHOT_MAGIC, 8);
    h[8] = KEEL_SNAPSHOT_VERSION;
    h[12] = KEEL_SNAPSHOT_HEADER;
    le64_store(h + 16, snap->info.applied);
    le64_store(h + 24, snap->info.data_len);
    le64_store(h + 32, snap->info.checksum);
    le64_store(h + 40, snap->info.keys);
    le64_store(h + 56, XXH3_64bits(h, 56));
}

static void copies_add(struct keel_storage *s, int delta)
{
    pthread_mutex_lock(&s->mu);
    s->copies += delta;
    if (s->copies == 0) pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void keel_storage_pin(struct keel_storage *s)
{
    copies_add(s, 1);
}

void keel_storage_unpin(struct keel_storage *s)
{
    copies_add(s, -1);
}

int keel_storage_snapshot_create(struct keel_storage *s, struct keel_snapshot *snap,
                                 char *errmsg)
{
    char path[64];
    struct stat st;
    int rc;

    memset(snap, 0, sizeof *snap);
    snap->fd = memfd_create("keel-snapshot", MFD_CLOEXEC);
    if (snap->fd < 0) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "snapshot: memfd_create: %s", strerror(errno));
        return KEEL_EIO;
    }
    copies_add(s, 1);
    rc = mdb_env_copyfd2(s->env, snap->fd, MDB_CP_COMPACT);
    if (rc != 0 && rc != ENOMEM) {
        /* Compaction refuses an env with leaked pages; a plain copy still works. */
        if (ftruncate(snap->fd, 0) == 0 && lseek(snap->fd, 0, SEEK_SET) == 0) {
            rc = mdb_env_copyfd2(s->env, snap->fd, 0);
        }
    }
    copies_add(s, -1);
    if (rc != 0) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "snapshot: copy env: %s", mdb_strerror(rc));
        rc = storage_mdb_code(rc);
        goto err;
    }
    if (fstat(snap->fd, &st) != 0 || st.st_size == 0) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "snapshot: empty copy");
        rc = KEEL_EIO;
        goto err;
    }
    /* A plain copy stops at the env file's end, which can be short of the
     * last page when the last pages are free: the image check wants every
     * page up to the meta's last one in the file, so pad it with zeros. */
    uint64_t need = lmdb_size(snap->fd);
    if (need > (uint64_t)st.st_size) {
        if (ftruncate(snap->fd, (off_t)need) != 0) {
            snprintf(errmsg, KEEL_ERRMSG_SIZE, "snapshot: pad copy: %s", strerror(errno));
            rc = KEEL_EIO;
            goto err;
        }
        st.st_size = (off_t)need;
    }
    snap->data_len = (size_t)st.st_size;
    snap->data = mmap(NULL, snap->data_len, PROT_READ, MAP_SHARED, snap->fd, 0);
    if (snap->data == MAP_FAILED) {
        snap->data = NULL;
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "snapshot: mmap: %s", strerror(errno));
        rc = KEEL_ENOMEM;
        goto err;
    }
    snprintf(path, sizeof path, "/proc/self/fd/%d", snap->fd);
    rc = image_info(path, &snap->info.applied, &snap->info.keys, errmsg);
    if (rc != 0) goto err;
    snap->info.version = KEEL_SNAPSHOT_VERSION;
    snap->info.data_len = snap->data_len;
    snap->info.checksum = XXH3_64bits(snap->data, snap->data_len);
    header_encode(snap);
    return 0;
err:
    keel_snapshot_release(snap);
    return rc;
}

void keel_snapshot_release(struct keel_snapshot *snap)
{
    if (snap->data != NULL) munmap(snap->data, snap->data_len);
    if (snap->fd > 0) close(snap->fd);
    snap->data = NULL;
    snap->fd = -1;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len > (1u << 30) ? (1u << 30) : len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int keel_snapshot_write_fd(const struct keel_snapshot *snap, int fd, char *errmsg)
{
    if (write_all(fd, snap->header, KEEL_SNAPSHOT_HEADER) != 0 ||
        write_all(fd, snap->data, snap->data_len) != 0 || fsync(fd) != 0) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "write snapshot: %s", strerror(errno));
        return errno == ENOSPC ? KEEL_ENOSPACE : KEEL_EIO;
    }
    return 0;
}

int keel_snapshot_verify(const void *image, size_t len, struct keel_snapshot_info *info,
                         char *errmsg)
{
    const uint8_t *h = image;
    if (len < KEEL_SNAPSHOT_HEADER) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE,
                 "snapshot image truncated: %zu bytes, the header alone is %d", len,
                 KEEL_SNAPSHOT_HEADER);
        return KEEL_ECORRUPT;
    }
    if (memcmp(h, KEEL_SNAPSHOT_MAGIC, 8) != 0) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "not a Keel snapshot image (bad magic)");
        return KEEL_ECORRUPT;
    }
    if (le64_load(h + 56) != XXH3_64bits(h, 56)) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "snapshot header checksum mismatch");
        return KEEL_ECORRUPT;
    }
    uint32_t version = le32_load(h + 8);
    if (version != KEEL_SNAPSHOT_VERSION) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "snapshot format version %u, this build reads %d",
                 version, KEEL_SNAPSHOT_VERSION);
        return KEEL_EVERSION;
    }
    if (h[12] != KEEL_SNAPSHOT_HEADER || h[13] || h[14] || h[15]) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "snapshot header size %u unexpected", h[12]);
        return KEEL_ECORRUPT;
    }
    struct keel_snapshot_info in = {
        .version = version,
        .applied = le64_load(h + 16),
        .data_len = le64_load(h + 24),
        .checksum = le64_load(h + 32),
        .keys = le64_load(h + 40),
    };
    if (in.data_len != len - KEEL_SNAPSHOT_HEADER) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "snapshot image %s: header says %llu data bytes, got %zu",
                 in.data_len > len - KEEL_SNAPSHOT_HEADER ? "truncated" : "has trailing bytes",
                 (unsigned long long)in.data_len, len - KEEL_SNAPSHOT_HEADER);
        return KEEL_ECORRUPT;
    }
    if (XXH3_64bits(h + KEEL_SNAPSHOT_HEADER, in.data_len) != in.checksum) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "snapshot data checksum mismatch");
        return KEEL_ECORRUPT;
    }
    if (info != NULL) *info = in;
    return 0;
}
