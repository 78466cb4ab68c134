/* storage: snapshot images of the whole env, and restoring from them.
 *
 * An image is a 64-byte header followed by a compact LMDB copy of the env:
 *
 *   off  size  field
 *     0     8  magic "KEELSNAP"
 *     8     4  format version (1)
 *    12     4  header size (64)
 *    16     8  applied index inside the image
 *    24     8  data length (bytes after the header)
 *    32     8  XXH3-64 of the data
 *    40     8  number of keys
 *    48     8  reserved (0)
 *    56     8  XXH3-64 of bytes 0..55
 *
 * All integers little-endian. A short, padded, altered or foreign image is
 * rejected with KEEL_ECORRUPT (KEEL_EVERSION for a newer format) and a message
 * that says which check failed; nothing of it is ever loaded. */
#ifndef KEEL_STORAGE_SNAPSHOT_H
#define KEEL_STORAGE_SNAPSHOT_H

#include "storage/storage.h"

#define KEEL_SNAPSHOT_MAGIC "KEELSNAP"
#define KEEL_SNAPSHOT_VERSION 1
#define KEEL_SNAPSHOT_HEADER 64

struct keel_snapshot_info
{
    uint32_t version;
    uint64_t applied;
    uint64_t data_len;
    uint64_t checksum;
    uint64_t keys;
};

/* An image being held in memory: the header and the LMDB copy, which raft
 * sends as two buffers (it concatenates them). Owned by the caller of
 * keel_storage_snapshot_create() until keel_snapshot_release(). */
struct keel_snapshot
{
    uint8_t header[KEEL_SNAPSHOT_HEADER];
    void *data;       /* read-only map of a memfd holding the compact copy */
    size_t data_len;
    int fd;
    struct keel_snapshot_info info;
};

/* Copy the env compactly into a memfd, map it and fill the header. Safe on a
 * pool thread while the loop keeps writing: the copy reads one MVCC snapshot,
 * and the applied index inside that copy is what the header records (it may be
 * newer than the raft index the snapshot was requested at: apply skips the
 * entries the image already holds). Errors: KEEL_EIO, KEEL_ENOMEM; errmsg says
 * why, and snap holds nothing to release. */
int keel_storage_snapshot_create(struct keel_storage *s, struct keel_snapshot *snap,
                                 char *errmsg);

/* Called on the loop thread before handing keel_storage_snapshot_create()
 * to a pool thread outside raft's own snapshot path (a backup): a restore
 * (loop thread) then waits for the copy instead of swapping the env from
 * under it, and so does keel_storage_close. Unpin (any thread) once the
 * copy returned. */
void keel_storage_pin(struct keel_storage *s);
void keel_storage_unpin(struct keel_storage *s);

/* Unmap and close what keel_storage_snapshot_create() made. Any thread. */
void keel_snapshot_release(struct keel_snapshot *snap);

/* Write header and data to fd (a backup file); fsync'd. */
int keel_snapshot_write_fd(const struct keel_snapshot *snap, int fd, char *errmsg);

/* Check an image in memory: header, version, lengths, both checksums. */
int keel_snapshot_verify(const void *image, size_t len, struct keel_snapshot_info *info,
                         char *errmsg);

struct keel_image_report;

/* Replace the env's contents with an image, atomically: check it fully
 * (keel_image_check, storage/image.h: a damaged image is refused before LMDB
 * opens it), write it to <dir>/kv.restore, fsync, check it opens, then swap
 * directories (rename, fsync dir) and reopen. If the image is not newer than
 * what the env already holds (and the env is trusted) the env is kept as it
 * is and the image never opened: *replaced false. checked: the report of a
 * keel_image_check the caller already ran on exactly these bytes, or NULL to
 * run it here (it takes about a full read of the image: see image.h). On
 * error the old env is untouched and still open. Loop thread only; no txn
 * may be open. */
int keel_storage_restore(struct keel_storage *s, const void *image, size_t len,
                         const struct keel_image_report *checked, bool *replaced, char *errmsg);

/* The same, but the image replaces the env even when it is not newer: for
 * the automatic repair of a replica whose env failed the consistency check
 * (api/server/repair.c), whose contents are no longer trusted whatever index they
 * claim. keel_storage_applied() is then the image's index, which may be
 * below what the env held: the caller replays the entries in between. Same
 * checks, same atomic swap, same errors as keel_storage_restore. */
int keel_storage_reinstall(struct keel_storage *s, const void *image, size_t len, char *errmsg);

#endif /* KEEL_STORAGE_SNAPSHOT_H */
