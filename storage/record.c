/* storage: encoding of records and expiry index keys. */
#include <string.h>

#include "storage/env.h"
#include "storage/record.h"

int record_decode(const void *val, size_t len, struct keel_record *rec)
{
    const uint8_t *p = val;
    if (len < RECORD_HEADER || (p[0] != KEEL_TYPE_STRING && p[0] != KEEL_TYPE_HASH)) {
        return KEEL_ECORRUPT;
    }
    rec->type = p[0];
    rec->expire_at = (int64_t)storage_get_le64(p + 8);
    rec->version = storage_get_le64(p + 16);
    rec->val = p + RECORD_HEADER;
    rec->len = len - RECORD_HEADER;
    return 0;
}

void record_encode_header(const struct keel_record *rec, uint8_t *out)
{
    memset(out, 0, RECORD_HEADER);
    out[0] = rec->type;
    storage_le64(out + 8, (uint64_t)rec->expire_at);
    storage_le64(out + 16, rec->version);
}

size_t record_expkey(struct keel_slice key, int64_t expire_at, uint8_t *out)
{
    storage_be64(out, (uint64_t)expire_at);
    memcpy(out + 8, key.p, key.n);
    return 8 + key.n;
}
