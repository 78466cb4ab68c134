/* keelctl: reading a backup file (format: keelctl_snapshot.c). */
#ifndef KEEL_API_KEELCTL_BACKUP_H
#define KEEL_API_KEELCTL_BACKUP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/snapshot.h"

#define KCTL_BACKUP_MAGIC "KEELBACKUP 1"

/* An open, verified backup: the file is mapped read-only; image points into
 * it. Owned by the caller until kctl_backup_close. */
struct kctl_backup
{
    void *map;
    size_t map_len;
    const void *image;     /* what raft's snapshot holds */
    size_t image_len;
    json_t *meta;          /* the JSON line */
    uint64_t term;
    struct keel_snapshot_info info; /* from the image's verified header */
};

/* Map path and check everything: magic, metadata, the image's header and
 * data checksums, and that metadata and image agree. Non-zero with why
 * (KEEL_ERRMSG_SIZE) filled; nothing to close then. */
int kctl_backup_open(const char *path, struct kctl_backup *b, char *why);
void kctl_backup_close(struct kctl_backup *b);

#endif /* KEEL_API_KEELCTL_BACKUP_H */
