/* storage: LMDB 0.9's on-disk layout, as far as checking an image needs it.
 *
 * Read from LMDB 0.9.24's mdb.c (struct MDB_page, MDB_meta, MDB_db,
 * MDB_node) for a 64-bit little-endian build without MDB_DEVEL (PAGEBASE 0),
 * which is what Debian's liblmdb0 is and what Keel's images hold. Nothing
 * here writes LMDB files; image_pages.c reads them byte by byte, bounds
 * checked, so that no damaged page ever reaches LMDB's own code.
 *
 *   page header (16)  u64 pgno, u16 pad, u16 flags, u16 lower, u16 upper
 *                     (overflow pages: u32 page count in place of lower/upper)
 *   meta (after the header of pages 0 and 1)
 *                     u32 magic, u32 version, u64 address, u64 mapsize,
 *                     db[2] (free, main), u64 last_pg, u64 txnid
 *   db record (48)    u32 pad (the page size in db[0]), u16 flags, u16 depth,
 *                     u64 branch, leaf, overflow pages, u64 entries, u64 root
 *   node (8 + key)    u16 lo, u16 hi, u16 flags, u16 key size, key, data;
 *                     branch: child pgno = lo | hi << 16 | flags << 32;
 *                     leaf: data size = lo | hi << 16 */
#ifndef KEEL_STORAGE_IMAGE_LMDB_H
#define KEEL_STORAGE_IMAGE_LMDB_H

#include <stdint.h>
#include <string.h>

_Static_assert(sizeof(void *) == 8, "Keel's image checks read a 64-bit LMDB layout");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "Keel's image checks read little-endian LMDB");

#define LM_MAGIC 0xBEEFC0DEu
#define LM_VERSION 1u
#define LM_PAGEHDR 16u
#define LM_NODEHDR 8u
#define LM_META_SIZE 152u /* page header + MDB_meta: what mdb_env_read_header reads */
#define LM_MIN_PSIZE 512u
#define LM_MAX_PSIZE 32768u /* MAX_PAGESIZE with PAGEBASE 0 */
#define LM_MAX_KEY 511u      /* MDB_MAXKEYSIZE */
#define LM_MAX_DEPTH 31u     /* CURSOR_STACK (32) pages from root to leaf */
#define LM_INVALID UINT64_MAX

/* page flags */
#define LM_P_BRANCH 0x01
#define LM_P_LEAF 0x02
#define LM_P_OVERFLOW 0x04
#define LM_P_META 0x08
/* node flags */
#define LM_F_BIGDATA 0x01
#define LM_F_SUBDATA 0x02
#define LM_F_DUPDATA 0x04
/* db flags */
#define LM_INTEGERKEY 0x08

/* offsets in a page */
#define LM_OFF_PGNO 0
#define LM_OFF_FLAGS 10
#define LM_OFF_LOWER 12
#define LM_OFF_UPPER 14
#define LM_OFF_PAGES 12
/* offsets in a meta page */
#define LM_OFF_MAGIC 16
#define LM_OFF_VERSION 20
#define LM_OFF_DBS 40
#define LM_OFF_LAST_PG 136
#define LM_OFF_TXNID 144
#define LM_DB_SIZE 48
/* offsets in a db record */
#define LM_DB_PAD 0
#define LM_DB_FLAGS 4
#define LM_DB_DEPTH 6
#define LM_DB_BRANCH 8
#define LM_DB_LEAF 16
#define LM_DB_OVERFLOW 24
#define LM_DB_ENTRIES 32
#define LM_DB_ROOT 40

static inline uint16_t lm_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}
static inline uint32_t lm_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline uint64_t lm_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static inline void lm_put16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}
static inline void lm_put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}
static inline void lm_put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

/* A db record, decoded. */
struct lm_db
{
    uint32_t pad;
    uint16_t flags;
    uint16_t depth;
    uint64_t branch, leaf, overflow, entries, root;
};

static inline void lm_db_read(const uint8_t *p, struct lm_db *db)
{
    db->pad = lm_u32(p + LM_DB_PAD);
    db->flags = lm_u16(p + LM_DB_FLAGS);
    db->depth = lm_u16(p + LM_DB_DEPTH);
    db->branch = lm_u64(p + LM_DB_BRANCH);
    db->leaf = lm_u64(p + LM_DB_LEAF);
    db->overflow = lm_u64(p + LM_DB_OVERFLOW);
    db->entries = lm_u64(p + LM_DB_ENTRIES);
    db->root = lm_u64(p + LM_DB_ROOT);
}

/* One meta page, decoded (from the first LM_META_SIZE bytes of page 0 or 1). */
struct lm_meta
{
    uint64_t pgno;
    uint16_t page_flags;
    uint32_t magic, version, psize;
    struct lm_db free_db, main_db;
    uint64_t last_pg, txnid;
};

static inline void lm_meta_read(const uint8_t *p, struct lm_meta *m)
{
    m->pgno = lm_u64(p + LM_OFF_PGNO);
    m->page_flags = lm_u16(p + LM_OFF_FLAGS);
    m->magic = lm_u32(p + LM_OFF_MAGIC);
    m->version = lm_u32(p + LM_OFF_VERSION);
    lm_db_read(p + LM_OFF_DBS, &m->free_db);
    lm_db_read(p + LM_OFF_DBS + LM_DB_SIZE, &m->main_db);
    m->psize = m->free_db.pad;
    m->last_pg = lm_u64(p + LM_OFF_LAST_PG);
    m->txnid = lm_u64(p + LM_OFF_TXNID);
}

/* The meta LMDB uses: mdb_env_pick_meta takes page 1 only if its txnid is
 * strictly greater. */
static inline int lm_pick(const struct lm_meta m[2])
{
    return m[0].txnid < m[1].txnid;
}

#endif /* KEEL_STORAGE_IMAGE_LMDB_H */
