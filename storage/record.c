/* storage: encoding of records and expiry index keys. */
#include <string.h>

#include "storage/env.h"
#include "storage/record.h"

int record_decode(const void *val, size_t len, struct keel_record *rec)
{
    const uint8_t *p = val;
    if (len < RECORD_HEADER ||
        (p[0] != KEEL_TYPE_STRING && p[0] != KEEL_TYPE_HASH && !storage_is_coll(p[0]))) {
        return KEEL_ECORRUPT;
    }
    rec->type = p[0];
    rec->expire_at = (int64_t)le64_load(p + 8);
    rec->version = le64_load(p + 16);
    rec->val = p + RECORD_HEADER;
    rec->len = len - RECORD_HEADER;
    return 0;
}

void record_encode_header(const struct keel_record *rec, uint8_t *out)
{
    memset(out, 0, RECORD_HEADER);
    out[0] = rec->type;
    le64_store(out + 8, (uint64_t)rec->expire_at);
    le64_store(out + 16, rec->version);
}

size_t record_expkey(struct keel_slice key, int64_t expire_at, uint8_t *out)
{
    be64_store(out, (uint64_t)expire_at);
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
