/* storage: the one gate every snapshot or backup image passes before LMDB
 * opens it.
 *
 * An image's XXH3 sums prove only that it arrived as it was sent; a crafted
 * or damaged LMDB copy with valid sums crashes LMDB (a page number past the
 * end of the file is a SIGBUS, a zero page size a SIGFPE, a garbage branch
 * page a SIGSEGV). So keel_image_check() runs, stopping at the first failure:
 *
 *   1. the header and both checksums (keel_snapshot_verify);
 *   2. the LMDB file's structure, read by Keel's own bounds-checked code
 *      (image_pages.c): both meta pages (magic, version, page size, last
 *      page inside the file, roots in range, txn ids), then every page
 *      reachable from the roots (type, page number, node bounds, key order,
 *      equal leaf depth, overflow runs, LMDB's own counts), each page used
 *      once, the free list disjoint from the trees, exactly Keel's named
 *      databases with plain flags ("members" may be absent: format 1);
 *   3. a walk by LMDB itself, in a helper process (this binary re-executed
 *      through /proc/self/exe, see image_check.c): it opens the image read-
 *      only, opens every named database, reads every record with a cursor,
 *      decodes it (storage/record.h) and checks Keel's invariants (format and
 *      applied present, every value of "meta" 8 bytes, the expiry index and
 *      the dedupe index exactly in step with what they index, dedupe_count,
 *      every collection's sub-keys in "members" known, well tagged, counted),
 *      and sends back the applied index, the key count and the digest. A
 *      helper killed by a signal or the timeout means the image is invalid;
 *      the caller's process never touches the pages.
 *   4. the header against the contents: applied index and key count.
 *
 * Cost: 2 and 3 each read the whole image once (3 also copies it into a
 * memfd for the helper), about a full scan of the data: run it on the libuv
 * pool where the caller is on the loop. Any thread; no shared state. */
#ifndef KEEL_STORAGE_IMAGE_H
#define KEEL_STORAGE_IMAGE_H

#include "storage/snapshot.h"

/* What a check found in an accepted image. */
struct keel_image_report
{
    struct keel_snapshot_info info; /* the header (keel_image_check only) */
    unsigned psize;                 /* LMDB page size */
    uint64_t pages;                 /* last page + 1 */
    uint64_t applied;               /* meta "applied" */
    uint64_t keys;                  /* records in "data" */
    uint64_t expires;               /* entries in the expiry index */
    uint64_t dedupe;                /* entries in the dedupe table */
    uint64_t digest;                /* keel_storage_digest() of the contents */
    uint64_t format;                /* meta "format": an older one is migrated
                                     * when restored (keel_storage_open), which
                                     * may add derived sub-keys (format 4's
                                     * rank index) and so change the digest */
};

enum {
    /* Walk with LMDB in this process instead of a helper. For the fuzz
     * targets only: there a crash in LMDB is exactly what must be found. */
    KEEL_IMAGE_IN_PROCESS = 1,
    /* Skip step 2 (tests only: proves the helper's isolation with pages
     * that really crash LMDB). */
    KEEL_IMAGE_NO_STRUCTURE = 2,
};

/* Check a whole image (header + LMDB copy), as raft and backups carry it.
 * 0 and *rep (may be NULL) filled, or KEEL_ECORRUPT / KEEL_EVERSION with
 * errmsg (KEEL_ERRMSG_SIZE) saying what is wrong ("snapshot image: LMDB meta
 * page 1 has page size 0", "snapshot image: LMDB walk died of SIGBUS:
 * damaged pages"), or KEEL_EIO / KEEL_ENOMEM when the check itself could not
 * run: the image must then be refused as well. Never touches the disk. */
int keel_image_check(const void *image, size_t len, unsigned flags, struct keel_image_report *rep,
                     char *errmsg);

/* Steps 2 and 3 on the LMDB copy alone (no header; rep->info is zero). */
int keel_image_check_data(const void *data, size_t len, unsigned flags,
                          struct keel_image_report *rep, char *errmsg);

/* How long the helper may take over len bytes before it is killed (ms). */
unsigned keel_image_timeout_ms(size_t len);

/* For tests (image_craft.c): a malloc'd copy of a valid image damaged
 * as kind says, both checksums made right again so that only the structure
 * checks can tell. Kinds: "psize0" (the meta page LMDB uses has page size
 * 0), "root-beyond" (the main DB's root and the last page past the end of
 * the file),
 * "garbage-branch" ("data"'s root page made a branch page of random bytes),
 * "tiny" (the first 152 bytes of the copy, page size 0). NULL for an
 * unknown kind, an image too small for it, or no memory. */
uint8_t *keel_image_craft(const void *image, size_t len, const char *kind, size_t *out_len);
/* Recompute an image's data length and both checksums, in place. */
void keel_image_reseal(uint8_t *image, size_t len);

/* ---- internal to storage/ (image_pages.c, image_walk.c) --------------- */

/* Step 2. */
int image_check_structure(const uint8_t *data, size_t len, struct keel_image_report *rep,
                          char *errmsg);
/* Step 3's walk, in the calling process: the LMDB file is at path. */
int image_walk(const char *path, size_t len, struct keel_image_report *rep, char *errmsg);

#endif /* KEEL_STORAGE_IMAGE_H */
