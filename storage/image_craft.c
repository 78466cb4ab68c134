/* storage: damaged images with valid checksums, for tests: the unit and
 * integration tests, and keeld's hook that corrupts outgoing snapshots in
 * test builds (raft/node_hooks.c; nothing references this file in a Release
 * keeld, so it is not linked in). Each kind is one of the crashes the fuzzer
 * found before images were checked. */
#include <stdlib.h>
#include <xxhash.h>

#include "common/xorshift.h"
#include "storage/env.h"
#include "storage/image.h"
#include "storage/image_lmdb.h"

void keel_image_reseal(uint8_t *image, size_t len)
{
    size_t dlen = len - KEEL_SNAPSHOT_HEADER;
    le64_store(image + 24, dlen);
    le64_store(image + 32, XXH3_64bits(image + KEEL_SNAPSHOT_HEADER, dlen));
    le64_store(image + 56, XXH3_64bits(image, 56));
}

/* The page of the named DB's root in the meta LMDB uses, or 0. */
static uint64_t db_root(const uint8_t *d, size_t len, const char *name)
{
    struct lm_meta m[2];
    if (len < LM_META_SIZE) return 0;
    lm_meta_read(d, &m[0]);
    if (m[0].psize < LM_MIN_PSIZE || len < 2 * (size_t)m[0].psize) return 0;
    lm_meta_read(d + m[0].psize, &m[1]);
    const struct lm_meta *u = &m[lm_pick(m)];
    uint64_t pg = u->main_db.root;
    if (pg == LM_INVALID || (pg + 1) * u->psize > len) return 0;
    const uint8_t *p = d + pg * u->psize;
    if (lm_u16(p + LM_OFF_FLAGS) != LM_P_LEAF) return pg;
    unsigned n = (lm_u16(p + LM_OFF_LOWER) - LM_PAGEHDR) / 2;
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *node = p + lm_u16(p + LM_PAGEHDR + 2 * i);
        size_t ks = lm_u16(node + 6);
        if (ks == strlen(name) && memcmp(node + LM_NODEHDR, name, ks) == 0)
            return lm_u64(node + LM_NODEHDR + ks + LM_DB_ROOT);
    }
    return 0;
}

uint8_t *keel_image_craft(const void *image, size_t len, const char *kind, size_t *out_len)
{
    if (len < KEEL_SNAPSHOT_HEADER + 2 * LM_META_SIZE) return NULL;
    uint8_t *out = malloc(len);
    if (out == NULL) return NULL;
    memcpy(out, image, len);
    uint8_t *d = out + KEEL_SNAPSHOT_HEADER;
    size_t dlen = len - KEEL_SNAPSHOT_HEADER;
    struct lm_meta m[2];
    lm_meta_read(d, &m[0]);
    uint32_t psize = m[0].psize;
    if (psize < LM_MIN_PSIZE || dlen < 2 * (size_t)psize) goto bad;
    lm_meta_read(d + psize, &m[1]);
    int use = lm_pick(m);
    uint8_t *meta = d + (size_t)use * psize;
    *out_len = len;
    if (strcmp(kind, "psize0") == 0) {
        lm_put32(meta + LM_OFF_DBS + LM_DB_PAD, 0);
    } else if (strcmp(kind, "root-beyond") == 0) {
        /* Inside LMDB's map (last page moved too), past the end of the file:
         * the first read of the root is a SIGBUS. */
        lm_put64(meta + LM_OFF_DBS + LM_DB_SIZE + LM_DB_ROOT, m[use].last_pg + 1000);
        lm_put64(meta + LM_OFF_LAST_PG, m[use].last_pg + 2000);
    } else if (strcmp(kind, "garbage-branch") == 0) {
        uint64_t pg = db_root(d, dlen, "data");
        if (pg < 2 || (pg + 1) * psize > dlen) goto bad;
        uint8_t *p = d + pg * psize;
        uint64_t x = 0x9e3779b97f4a7c15ull ^ pg;
        for (size_t i = LM_PAGEHDR; i < psize; i++) p[i] = (uint8_t)xorshift64(&x);
        lm_put16(p + LM_OFF_FLAGS, LM_P_BRANCH);
        lm_put16(p + LM_OFF_LOWER, LM_PAGEHDR + 2 * 40);
        lm_put16(p + LM_OFF_UPPER, (uint16_t)(psize / 2));
    } else if (strcmp(kind, "tiny") == 0) {
        /* One meta page header and meta, page size 0: LMDB reads page 0
         * twice and divides by the page size. */
        lm_put32(d + LM_OFF_DBS + LM_DB_PAD, 0);
        *out_len = KEEL_SNAPSHOT_HEADER + LM_META_SIZE;
    } else {
        goto bad;
    }
    keel_image_reseal(out, *out_len);
    return out;
bad:
    free(out);
    return NULL;
}
