/* keelutl: reading a backup file (format: api/cli/cli.h). */
#ifndef KEEL_API_KEELUTL_BACKUP_H
#define KEEL_API_KEELUTL_BACKUP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "api/cli/cli.h"
#include "storage/image.h"

/* An open, verified backup: the file is mapped read-only; image points into
 * it. Owned by the caller until kutl_backup_close. */
struct kutl_backup
{
    void *map;
    size_t map_len;
    const void *image;     /* what raft's snapshot holds */
    size_t image_len;
    json_t *meta;          /* the JSON line */
    uint64_t term;
    struct keel_snapshot_info info; /* from the image's verified header */
    bool checked;                   /* report holds a full check */
    struct keel_image_report report;
};

/* Map path and check it: magic, metadata, the image's header and data
 * checksums, that metadata and image agree, and with full the whole image
 * (keel_image_check, storage/image.h: LMDB structure, every record; about a
 * full read of the image). Non-zero with why (KEEL_ERRMSG_SIZE) filled;
 * nothing to close then. */
int kutl_backup_open(const char *path, bool full, struct kutl_backup *b, char *why);
void kutl_backup_close(struct kutl_backup *b);

#endif /* KEEL_API_KEELUTL_BACKUP_H */
