/* storage: the disk reserve (a ballast file in the data directory) and the
 * free-space view of the data directory's file system. See storage.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "storage/env.h"

/* What this process may still allocate there: root may also use the blocks
 * ext4 keeps back for it, so its ENOSPC comes only when those are gone. */
int storage_disk_free(const char *dir, uint64_t *free_bytes, uint64_t *total_bytes)
{
    struct statvfs v;
    if (statvfs(dir, &v) != 0) return -1;
    uint64_t blocks = geteuid() == 0 ? v.f_bfree : v.f_bavail;
    *free_bytes = blocks * (uint64_t)v.f_frsize;
    if (total_bytes != NULL) *total_bytes = (uint64_t)v.f_blocks * v.f_frsize;
    return 0;
}

bool storage_disk_full(struct keel_storage *s)
{
    uint64_t free_bytes;
    return storage_disk_free(s->dir, &free_bytes, NULL) == 0 && free_bytes < KEEL_DISK_FULL;
}

static void reserve_path(const struct keel_storage *s, char *path, size_t size)
{
    snprintf(path, size, "%s/" KEEL_RESERVE_FILE, s->dir);
}

/* Allocate the whole reserve (posix_fallocate: real blocks, not a sparse
 * file) and make it durable. On failure nothing is left behind. */
static int reserve_fill(struct keel_storage *s)
{
    char path[PATH_MAX + 32];
    reserve_path(s, path, sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return errno;
    int rc = posix_fallocate(fd, 0, (off_t)s->opts.reserve);
    if (rc == 0 && fsync(fd) != 0) rc = errno;
    close(fd);
    if (rc != 0) {
        unlink(path);
        return rc;
    }
    s->reserve_held = s->opts.reserve;
    return 0;
}

void storage_reserve_open(struct keel_storage *s)
{
    char path[PATH_MAX + 32];
    struct stat st;
    uint64_t free_bytes;
    s->reserve_held = 0;
    if (s->opts.reserve == 0) return;
    reserve_path(s, path, sizeof path);
    bool present = stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
                   (uint64_t)st.st_blocks * 512 >= s->opts.reserve;
    if (storage_disk_free(s->dir, &free_bytes, NULL) != 0) free_bytes = 0;
    if (present && free_bytes >= KEEL_DISK_LOW) {
        if ((uint64_t)st.st_size > s->opts.reserve && truncate(path, (off_t)s->opts.reserve) != 0) {
            /* a smaller --disk-reserve than last time: the rest stays held */
        }
        s->reserve_held = s->opts.reserve;
        return;
    }
    /* A node stopped on a full disk starts with the reserve released, so
     * that everything start-up writes has room; it is refilled (and NOSPACE
     * clears) once the disk has space again. */
    if (unlink(path) == 0 && present) s->reserve_releases++;
    if (free_bytes >= storage_reserve_refill_at(s)) reserve_fill(s);
}

/* Twice the reserve, plus room for the three segment files raft keeps
 * allocated (the open one and two prepared ahead; a restart allocates them
 * anew): taking the reserve back must never leave raft short. */
uint64_t storage_reserve_refill_at(const struct keel_storage *s)
{
    return 2 * s->opts.reserve + 3 * KEEL_DISK_LOW;
}

int keel_storage_reserve_release(struct keel_storage *s)
{
    char path[PATH_MAX + 32];
    if (s->reserve_held == 0) return 0;
    reserve_path(s, path, sizeof path);
    if (unlink(path) != 0 && errno != ENOENT) {
        /* Shrink it then: the blocks come back all the same. */
        if (truncate(path, 0) != 0) return 0;
    }
    s->reserve_held = 0;
    s->reserve_releases++;
    return 1;
}

int keel_storage_reserve_tend(struct keel_storage *s)
{
    uint64_t free_bytes;
    if (s->opts.reserve == 0 || storage_disk_free(s->dir, &free_bytes, NULL) != 0) return 0;
    if (s->reserve_held != 0 && free_bytes < KEEL_DISK_LOW)
        return keel_storage_reserve_release(s) ? -1 : 0;
    if (s->reserve_held == 0 && free_bytes >= storage_reserve_refill_at(s))
        return reserve_fill(s) == 0 ? 1 : 0;
    return 0;
}

int keel_storage_reclaim(struct keel_storage *s)
{
    if (!s->disk_full) return 0;
    s->disk_full = false;
    return keel_storage_reserve_release(s);
}

int keel_storage_disk(struct keel_storage *s, struct keel_disk *d)
{
    memset(d, 0, sizeof *d);
    d->reserve_size = s->opts.reserve;
    d->reserve_held = s->reserve_held;
    d->reserve_releases = s->reserve_releases;
    d->refill_at = storage_reserve_refill_at(s);
    if (storage_disk_free(s->dir, &d->free_bytes, &d->total_bytes) != 0) {
        snprintf(s->errmsg, sizeof s->errmsg, "statvfs %s: %s", s->dir, strerror(errno));
        return KEEL_EIO;
    }
    return 0;
}
