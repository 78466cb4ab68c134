/* storage: the on-disk layout of a key's record and of expiry index keys.
 *
 * record = [u8 type][u8 flags][u16 0][le32 name_len][le64 expire_at][le64 version]
 *          [name] payload
 *   flags is 0 for a key stored under itself (name_len 0, no name), or
 *   RECORD_LONGNAME for a long key stored under its hashed position
 *   (storage.h): name_len (KEEL_KEY_INLINE+1 .. KEEL_MAX_KEY) bytes of the
 *   key's full name come before the payload. Format 2 records are all flags 0.
 * exp key = be64(expire_at) epos        (big-endian so LMDB order is time order)
 *   epos is the key itself up to EXP_INLINE bytes (8 + key fits LMDB's 511),
 *   else the key's long position (KEEL_LONGKEY_PREFIX . XXH3-128), the entry's
 *   value then holding the full name (empty otherwise). */
#ifndef KEEL_STORAGE_RECORD_H
#define KEEL_STORAGE_RECORD_H

#include "storage/storage.h"

#define RECORD_HEADER 24
#define RECORD_LONGNAME 0x01
#define EXP_INLINE (KEEL_KEY_INLINE - 8)
#define EXPKEY_MAX (8 + EXP_INLINE)

/* The long position (KEEL_LONGKEY_PREFIX . XXH3-128) of key into out
 * (KEEL_LONGKEY_POS bytes), whatever its length; returns KEEL_LONGKEY_POS. */
size_t storage_key_long_pos(struct keel_slice key, uint8_t *out);

/* Decode a stored value into rec; KEEL_ECORRUPT if it cannot be a record.
 * *name (may be NULL) receives a long key's full name, {NULL, 0} for a
 * record without one. */
int record_decode(const void *val, size_t len, struct keel_record *rec, struct keel_slice *name);
/* Whether a decoded record's payload is well formed for its type: any bytes
 * for a string; for a hash, store/hash.h's encoding (u32 n, then n x (u32
 * len, field, u32 len, value), fields strictly ascending, nothing after),
 * which hash_decode would accept; for a collection, a struct keel_coll
 * (storage_coll_decode). The image check (storage/image.h) runs it
 * on every record, so a state that apply would find corrupt (a fatal error
 * at every restart) is refused before it is installed. */
bool record_value_ok(const struct keel_record *rec);
/* Write the header of rec into out, followed by name if it is long (over
 * KEEL_KEY_INLINE bytes); returns the bytes written (the payload's offset). */
size_t record_encode_header(const struct keel_record *rec, struct keel_slice name, uint8_t *out);
/* The bytes record_encode_header writes for a key named name. */
size_t record_header_size(struct keel_slice name);
/* Build the expiry index key of (key, expire_at) into out (EXPKEY_MAX
 * bytes); returns its size. *named (may be NULL) tells whether the entry's
 * value must hold the name (the key is over EXP_INLINE bytes). */
size_t record_expkey(struct keel_slice key, int64_t expire_at, uint8_t *out, bool *named);

#endif /* KEEL_STORAGE_RECORD_H */
