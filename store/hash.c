/* store: hash values, decode / modify / encode. See hash.h. */
#include <stdlib.h>
#include <string.h>

#include "common/le.h"
#include "store/hash.h"

void hash_init(struct keel_hash *h)
{
    memset(h, 0, sizeof *h);
}

void hash_close(struct keel_hash *h)
{
    free(h->items);
    memset(h, 0, sizeof *h);
}

static int cmp(struct keel_slice a, struct keel_slice b)
{
    size_t n = a.n < b.n ? a.n : b.n;
    int c = n ? memcmp(a.p, b.p, n) : 0;
    if (c != 0) return c;
    return a.n < b.n ? -1 : a.n > b.n;
}

static int reserve(struct keel_hash *h, uint32_t n)
{
    if (n <= h->cap) return 0;
    uint32_t cap = h->cap ? h->cap : 8;
    while (cap < n) cap *= 2;
    struct hash_field *items = realloc(h->items, cap * sizeof *items);
    if (items == NULL) return KEEL_ENOMEM;
    h->items = items;
    h->cap = cap;
    return 0;
}

int hash_decode(struct keel_hash *h, struct keel_slice val)
{
    const uint8_t *p = val.p, *end = val.p + val.n;
    h->n = 0;
    if (val.n < 4) return KEEL_ECORRUPT;
    uint32_t n = le32_load(p);
    p += 4;
    if (n > val.n / 8) return KEEL_ECORRUPT;
    int rc = reserve(h, n);
    if (rc != 0) return rc;
    for (uint32_t i = 0; i < n; i++) {
        struct keel_slice s[2];
        for (int j = 0; j < 2; j++) {
            if (end - p < 4 || le32_load(p) > (size_t)(end - p) - 4) return KEEL_ECORRUPT;
            s[j].n = le32_load(p);
            s[j].p = p + 4;
            p += 4 + s[j].n;
        }
        if (i > 0 && cmp(h->items[i - 1].f, s[0]) >= 0) return KEEL_ECORRUPT;
        h->items[i].f = s[0];
        h->items[i].v = s[1];
    }
    if (p != end) return KEEL_ECORRUPT;
    h->n = n;
    return 0;
}

/* Index of f, or of where it would go (*found false). */
static uint32_t locate(const struct keel_hash *h, struct keel_slice f, bool *found)
{
    uint32_t lo = 0, hi = h->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = cmp(h->items[mid].f, f);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    *found = false;
    return lo;
}

int hash_put(struct keel_hash *h, struct keel_slice f, struct keel_slice v, bool *added)
{
    bool found;
    uint32_t i = locate(h, f, &found);
    *added = !found;
    if (found) {
        h->items[i].v = v;
        return 0;
    }
    int rc = reserve(h, h->n + 1);
    if (rc != 0) return rc;
    memmove(&h->items[i + 1], &h->items[i], (h->n - i) * sizeof h->items[0]);
    h->items[i].f = f;
    h->items[i].v = v;
    h->n++;
    return 0;
}

bool hash_del(struct keel_hash *h, struct keel_slice f)
{
    bool found;
    uint32_t i = locate(h, f, &found);
    if (!found) return false;
    memmove(&h->items[i], &h->items[i + 1], (h->n - i - 1) * sizeof h->items[0]);
    h->n--;
    return true;
}

const struct hash_field *hash_find(const struct keel_hash *h, struct keel_slice f)
{
    bool found;
    uint32_t i = locate(h, f, &found);
    return found ? &h->items[i] : NULL;
}

size_t hash_encoded_size(const struct keel_hash *h)
{
    size_t n = 4;
    for (uint32_t i = 0; i < h->n; i++) n += 8 + h->items[i].f.n + h->items[i].v.n;
    return n;
}

void hash_encode(const struct keel_hash *h, uint8_t *out)
{
    le32_store(out, h->n);
    out += 4;
    for (uint32_t i = 0; i < h->n; i++) {
        const struct keel_slice *s = &h->items[i].f;
        for (int j = 0; j < 2; j++, s = &h->items[i].v) {
            le32_store(out, (uint32_t)s->n);
            if (s->n) memcpy(out + 4, s->p, s->n);
            out += 4 + s->n;
        }
    }
}
