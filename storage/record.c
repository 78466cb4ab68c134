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

static uint32_t get32(const uint8_t *p)
{
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

bool record_value_ok(const struct keel_record *rec)
{
    if (rec->type != KEEL_TYPE_HASH) return true;
    const uint8_t *p = rec->val, *end = rec->val + rec->len, *prev = NULL;
    size_t prev_n = 0;
    if (rec->len < 4) return false;
    uint32_t n = get32(p);
    p += 4;
    if (n > rec->len / 8) return false;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *field = NULL;
        size_t fn = 0;
        for (int j = 0; j < 2; j++) {
            if (end - p < 4 || get32(p) > (size_t)(end - p) - 4) return false;
            if (j == 0) {
                field = p + 4;
                fn = get32(p);
            }
            p += 4 + get32(p);
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
