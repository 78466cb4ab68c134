/* storage: the on-disk layout of a key's record and of expiry index keys.
 *
 * record = [u8 type][u8 0][u16 0][u32 0][le64 expire_at][le64 version] payload
 * exp key = be64(expire_at) key          (big-endian so LMDB order is time order) */
#ifndef KEEL_STORAGE_RECORD_H
#define KEEL_STORAGE_RECORD_H

#include "storage/storage.h"

#define RECORD_HEADER 24
#define EXPKEY_MAX (8 + KEEL_MAX_KEY)

/* Decode a stored value into rec; KEEL_ECORRUPT if it cannot be a record. */
int record_decode(const void *val, size_t len, struct keel_record *rec);
/* Whether a decoded record's payload is well formed for its type: any bytes
 * for a string; for a hash, store/hash.h's encoding (u32 n, then n x (u32
 * len, field, u32 len, value), fields strictly ascending, nothing after),
 * which hash_decode would accept; for a collection, a struct keel_coll
 * (storage_coll_decode). The image check (storage/image.h) runs it
 * on every record, so a state that apply would find corrupt (a fatal error
 * at every restart) is refused before it is installed. */
bool record_value_ok(const struct keel_record *rec);
/* Write the 24-byte header of rec into out. */
void record_encode_header(const struct keel_record *rec, uint8_t *out);
/* Build the expiry index key of (key, expire_at) into out; returns its size. */
size_t record_expkey(struct keel_slice key, int64_t expire_at, uint8_t *out);

#endif /* KEEL_STORAGE_RECORD_H */
