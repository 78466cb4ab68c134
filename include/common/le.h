/* common: the byte order of Keel's formats, written once for every layer.
 *
 * Everything Keel writes (records, the command codec, store replies, hash
 * values, snapshot headers, the raft transport's handshake) is little-endian;
 * keys that must sort by a number (expiry index, dedupe table) are big-endian.
 * Loads and stores go through memcpy, so p needs no alignment, and through
 * <endian.h>, so a big-endian host reads the same bytes.
 *
 * Why here: include/common/ holds header-only helpers that depend on nothing
 * of Keel (libc only), so every layer (storage, store, raft, api) may include
 * them without an arrow pointing the wrong way (tests/lint/layers.py);
 * include/keel/ is libkeel's installed public API and carries no internals.
 * Nothing to link.
 *
 * LMDB's own pages are in host order and are read by storage/image_lmdb.h,
 * not here. The <endian.h> functions need _DEFAULT_SOURCE, which the
 * build's -D_GNU_SOURCE (CMakeLists.txt) implies. */
#ifndef KEEL_COMMON_LE_H
#define KEEL_COMMON_LE_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

static inline uint32_t le32_load(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return le32toh(v);
}

static inline void le32_store(uint8_t *p, uint32_t v)
{
    v = htole32(v);
    memcpy(p, &v, sizeof v);
}

static inline uint64_t le64_load(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return le64toh(v);
}

static inline void le64_store(uint8_t *p, uint64_t v)
{
    v = htole64(v);
    memcpy(p, &v, sizeof v);
}

static inline uint64_t be64_load(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return be64toh(v);
}

static inline void be64_store(uint8_t *p, uint64_t v)
{
    v = htobe64(v);
    memcpy(p, &v, sizeof v);
}

#endif /* KEEL_COMMON_LE_H */
