/* storage: replacing the env with a snapshot image, atomically. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/env.h"
#include "storage/image.h"

static int write_file(const char *path, const uint8_t *p, size_t len, char *errmsg)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) goto err;
    while (len > 0) {
        ssize_t n = write(fd, p, len > (1u << 30) ? (1u << 30) : len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) goto err;
        p += n;
        len -= (size_t)n;
    }
    if (fsync(fd) != 0) goto err;
    close(fd);
    return 0;
err:
    snprintf(errmsg, KEEL_ERRMSG_SIZE, "restore: write %s: %s", path, strerror(errno));
    int code = errno == ENOSPC ? KEEL_ENOSPACE : KEEL_EIO;
    if (fd >= 0) close(fd);
    return code;
}

/* force: install even an image that is not newer (the env is known bad).
 * checked: see keel_storage_restore. */
static int install(struct keel_storage *s, const void *image, size_t len, bool force,
                   const struct keel_image_report *checked, bool *replaced, char *errmsg)
{
    struct keel_snapshot_info info;
    struct keel_image_report rep;
    char restore[PATH_MAX + 16], old[PATH_MAX + 16], file[PATH_MAX + 32];
    int rc;

    *replaced = false;
    rc = keel_snapshot_verify(image, len, &info, errmsg);
    if (rc != 0) return rc;
    if (info.applied <= s->applied && !force) {
        /* Our env already holds everything the image does (it was trusted at
         * open, and apply only moves it forward): the image is not opened. */
        return 0;
    }
    /* 0. Nothing of the image reaches LMDB here before the full check. */
    if (checked == NULL) {
        rc = keel_image_check(image, len, 0, &rep, errmsg);
        if (rc != 0) return rc;
        checked = &rep;
    }
    if (checked->info.checksum != info.checksum || checked->applied != info.applied) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "restore: the check's report is of another image");
        return KEEL_EINVAL;
    }

    /* 1. Write the image beside the env and make it durable. */
    snprintf(restore, sizeof restore, "%s.restore", s->kv);
    snprintf(old, sizeof old, "%s.old", s->kv);
    snprintf(file, sizeof file, "%s/data.mdb", restore);
    if (storage_rmtree(restore) != 0 || mkdir(restore, 0700) != 0) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "restore: mkdir %s: %s", restore, strerror(errno));
        return KEEL_EIO;
    }
    rc = write_file(file, (const uint8_t *)image + KEEL_SNAPSHOT_HEADER, info.data_len, errmsg);
    if (rc == 0) rc = storage_state_write(restore, 1, s->boot_id, errmsg);
    if (rc == 0 && storage_fsync_dir(restore) != 0) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "restore: fsync %s: %s", restore, strerror(errno));
        rc = KEEL_EIO;
    }
    if (rc != 0) goto abandon;

    /* 2. Prove it opens and holds what the header says before giving up the
     * current env. */
    struct keel_storage probe = {.map_size = s->map_size};
    rc = storage_env_open(&probe, restore);
    if (rc == 0 && probe.applied != info.applied) {
        snprintf(probe.errmsg, sizeof probe.errmsg, "holds index %llu, header says %llu",
                 (unsigned long long)probe.applied, (unsigned long long)info.applied);
        rc = KEEL_ECORRUPT;
    }
    storage_env_close(&probe);
    if (rc != 0) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "restore: image does not open: %s", probe.errmsg);
        goto abandon;
    }

    /* 3. Swap. No txn may be open: wait for snapshot copies. A crash from here
     * on is finished by keel_storage_open (finish_interrupted_restore). */
    pthread_mutex_lock(&s->mu);
    while (s->copies > 0) pthread_cond_wait(&s->cv, &s->mu);
    storage_env_close(s);
    pthread_mutex_unlock(&s->mu);
    if (rename(s->kv, old) != 0 || rename(restore, s->kv) != 0 ||
        storage_fsync_dir(s->dir) != 0) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "restore: swap %s: %s", s->kv, strerror(errno));
        return KEEL_EFATAL;
    }
    storage_rmtree(old);
    rc = storage_state_write(s->kv, 0, s->boot_id, errmsg);
    if (rc == 0) rc = storage_env_open(s, s->kv);
    if (rc != 0) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "restore: reopen %s: %s", s->kv, s->errmsg);
        return KEEL_EFATAL;
    }
    *replaced = true;
    return 0;

abandon:
    storage_rmtree(restore);
    return rc;
}

int keel_storage_restore(struct keel_storage *s, const void *image, size_t len,
                         const struct keel_image_report *checked, bool *replaced, char *errmsg)
{
    return install(s, image, len, false, checked, replaced, errmsg);
}

int keel_storage_reinstall(struct keel_storage *s, const void *image, size_t len, char *errmsg)
{
    bool replaced;
    return install(s, image, len, true, NULL, &replaced, errmsg);
}
