/* storage: encoding of records and expiry index keys, and keys' positions. */
#include <string.h>
#include <xxhash.h>

#include "storage/env.h"
#include "storage/record.h"

size_t storage_key_long_pos(struct keel_slice key, uint8_t *out)
{
    XXH128_hash_t h = XXH3_128bits(key.p, key.n);
    memcpy(out, KEEL_LONGKEY_PREFIX, KEEL_LONGKEY_PREFIX_LEN);
    be64_store(out + KEEL_LONGKEY_PREFIX_LEN, h.high64);
    be64_store(out + KEEL_LONGKEY_PREFIX_LEN + 8, h.low64);
    return KEEL_LONGKEY_POS;
}

size_t storage_key_pos(struct keel_slice key, uint8_t *out)
{
    if (key.n > KEEL_KEY_INLINE) return storage_key_long_pos(key, out);
    if (key.n > 0) memcpy(out, key.p, key.n);
    return key.n;
}

bool storage_pos_is_long(const uint8_t *p, size_t n)
{
    return n >= KEEL_LONGKEY_PREFIX_LEN && memcmp(p, KEEL_LONGKEY_PREFIX, KEEL_LONGKEY_PREFIX_LEN) == 0;
}

int record_decode(const void *val, size_t len, struct keel_record *rec, struct keel_slice *name)
{
    const uint8_t *p = val;
    if (len < RECORD_HEADER ||
        (p[0] != KEEL_TYPE_STRING && p[0] != KEEL_TYPE_HASH && !storage_is_coll(p[0]))) {
        return KEEL_ECORRUPT;
    }
    /* The reserved bytes are zero, the name's length is there only with
     * the flag, and a long name is long: one shape per key. */
    size_t nn = le32_load(p + 4);
    if ((p[1] & ~RECORD_LONGNAME) != 0 || p[2] != 0 || p[3] != 0) return KEEL_ECORRUPT;
    if (p[1] == 0 ? nn != 0 : (nn <= KEEL_KEY_INLINE || nn > KEEL_MAX_KEY || nn > len - RECORD_HEADER))
        return KEEL_ECORRUPT;
    rec->type = p[0];
    rec->expire_at = (int64_t)le64_load(p + 8);
    rec->version = le64_load(p + 16);
    rec->val = p + RECORD_HEADER + nn;
    rec->len = len - RECORD_HEADER - nn;
    if (name != NULL) *name = (struct keel_slice){nn ? p + RECORD_HEADER : NULL, nn};
    return 0;
}

size_t record_header_size(struct keel_slice name)
{
    return RECORD_HEADER + (name.n > KEEL_KEY_INLINE ? name.n : 0);
}

size_t record_encode_header(const struct keel_record *rec, struct keel_slice name, uint8_t *out)
{
    memset(out, 0, RECORD_HEADER);
    out[0] = rec->type;
    le64_store(out + 8, (uint64_t)rec->expire_at);
    le64_store(out + 16, rec->version);
    if (name.n <= KEEL_KEY_INLINE) return RECORD_HEADER;
    out[1] = RECORD_LONGNAME;
    le32_store(out + 4, (uint32_t)name.n);
    memcpy(out + RECORD_HEADER, name.p, name.n);
    return RECORD_HEADER + name.n;
}

size_t record_expkey(struct keel_slice key, int64_t expire_at, uint8_t *out, bool *named)
{
    bool long_ = key.n > EXP_INLINE;
    be64_store(out, (uint64_t)expire_at);
    if (named != NULL) *named = long_;
    if (long_) return 8 + storage_key_long_pos(key, out + 8);
    memcpy(out + 8, key.p, key.n);
    return 8 + key.n;
}

bool record_value_ok(const struct keel_record *rec)
{
    struct keel_coll coll;
    if (storage_is_coll(rec->type)) return storage_coll_decode(rec, &coll) == 0;
    if (rec->type != KEEL_TYPE_HASH) return true;
    const uint8_t *p = rec->val, *end = rec->val + rec->len, *prev = NULL;
    size_t prev_n = 0;
    if (rec->len < 4) return false;
    uint32_t n = le32_load(p);
    p += 4;
    if (n > rec->len / 8) return false;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *field = NULL;
        size_t fn = 0;
        for (int j = 0; j < 2; j++) {
            if (end - p < 4 || le32_load(p) > (size_t)(end - p) - 4) return false;
            if (j == 0) {
                field = p + 4;
                fn = le32_load(p);
            }
            p += 4 + le32_load(p);
        }
        if (prev != NULL) {
            int c = memcmp(prev, field, prev_n < fn ? prev_n : fn);
            if (c > 0 || (c == 0 && prev_n >= fn)) return false;
        }
        prev = field;
        prev_n = fn;
    }
    return p == end;
}
