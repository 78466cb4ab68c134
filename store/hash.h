/* store: the value encoding of hashes (session documents).
 *
 * A hash is stored as one value: u32 n, then n x (u32 len, field, u32 len,
 * value), sorted by field (bytewise, shorter first on a tie). Small documents
 * of a few fields are the use case; one value keeps a document's TTL and
 * version in one record and its update in one LMDB put. storage/record.c
 * (record_value_ok) checks the same encoding in snapshot images: keep the
 * two in step. */
#ifndef KEEL_STORE_HASH_H
#define KEEL_STORE_HASH_H

#include <stdbool.h>

#include "storage/storage.h"

struct hash_field
{
    struct keel_slice f;
    struct keel_slice v;
};

/* A decoded hash: items point into the stored value and command buffers.
 * The items array is the caller's memory (reused across applies). */
struct keel_hash
{
    struct hash_field *items;
    uint32_t n;
    uint32_t cap;
};

void hash_init(struct keel_hash *h);
void hash_close(struct keel_hash *h);
/* Decode val into h (replacing its items). KEEL_ECORRUPT, KEEL_ENOMEM. */
int hash_decode(struct keel_hash *h, struct keel_slice val);
/* Insert or replace; *added tells which. KEEL_ENOMEM. */
int hash_put(struct keel_hash *h, struct keel_slice f, struct keel_slice v, bool *added);
bool hash_del(struct keel_hash *h, struct keel_slice f);
const struct hash_field *hash_find(const struct keel_hash *h, struct keel_slice f);
size_t hash_encoded_size(const struct keel_hash *h);
void hash_encode(const struct keel_hash *h, uint8_t *out);

#endif /* KEEL_STORE_HASH_H */
