/* store: lifetime of a keel_store and the helpers its files share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"

int keel_store_create(struct keel_storage *storage, struct keel_store **out)
{
    struct keel_store *st = calloc(1, sizeof *st);
    if (st == NULL) return KEEL_ENOMEM;
    st->storage = storage;
    hash_init(&st->hash);
    events_init(&st->events);
    *out = st;
    return 0;
}

void keel_store_destroy(struct keel_store *st)
{
    if (st == NULL) return;
    hash_close(&st->hash);
    events_close(&st->events);
    free(st->scratch);
    free(st);
}

struct keel_storage *keel_store_storage(struct keel_store *st)
{
    return st->storage;
}

const char *keel_store_errmsg(const struct keel_store *st)
{
    return st->errmsg;
}

void keel_store_stats(const struct keel_store *st, struct keel_store_stats *stats)
{
    *stats = st->stats;
}

uint8_t *store_scratch(struct keel_store *st, size_t n)
{
    if (n > st->scratch_cap) {
        size_t cap = st->scratch_cap ? st->scratch_cap : 4096;
        while (cap < n) cap *= 2;
        uint8_t *p = realloc(st->scratch, cap);
        if (p == NULL) return NULL;
        st->scratch = p;
        st->scratch_cap = cap;
    }
    return st->scratch;
}

int store_lookup(struct keel_txn *txn, struct keel_slice key, int64_t now,
                 struct keel_record *rec)
{
    int rc = storage_get(txn, key, rec);
    if (rc != 0) return rc;
    if (rec->expire_at != 0 && rec->expire_at <= now) return KEEL_ENOTFOUND;
    return 0;
}

bool store_parse_int(const uint8_t *p, size_t n, int64_t *v)
{
    uint64_t acc = 0;
    bool neg = false;
    size_t i = 0;
    if (n == 0 || n > 20) return false;
    if (n == 1 && p[0] == '0') {
        *v = 0;
        return true;
    }
    if (p[0] == '-') {
        neg = true;
        i = 1;
        if (n == 1) return false;
    }
    if (p[i] < '1' || p[i] > '9') return false; /* no leading zeros, "-0" or "+" */
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return false;
        uint64_t d = (uint64_t)(p[i] - '0');
        if (acc > (UINT64_MAX - d) / 10) return false;
        acc = acc * 10 + d;
    }
    if (neg) {
        if (acc > (uint64_t)INT64_MAX + 1) return false;
        *v = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
    } else {
        if (acc > (uint64_t)INT64_MAX) return false;
        *v = (int64_t)acc;
    }
    return true;
}

size_t store_format_int(int64_t v, char *buf)
{
    return (size_t)snprintf(buf, 21, "%lld", (long long)v);
}

bool store_add_overflows(int64_t a, int64_t b, int64_t *sum)
{
    return __builtin_add_overflow(a, b, sum);
}

int64_t keel_store_last_ts(const struct keel_store *st)
{
    return st->last_ts;
}

int keel_store_clock(struct keel_store *st, int64_t *clock)
{
    struct keel_txn txn;
    uint64_t v = 0;
    int rc = storage_txn_begin(st->storage, false, &txn);
    if (rc != 0) return rc;
    rc = storage_meta_get(&txn, "clock", &v);
    storage_txn_abort(&txn);
    *clock = rc == 0 ? (int64_t)v : 0;
    return rc;
}

void keel_store_last_hash(const struct keel_store *st, uint64_t *index, uint64_t *digest)
{
    *index = st->hash_index;
    *digest = st->hash_digest;
}

const struct keel_check_note *keel_store_check_note(const struct keel_store *st)
{
    return &st->check_note;
}

void keel_store_record_events(struct keel_store *st, bool on)
{
    st->events.on = on;
    if (!on) events_reset(&st->events, st->events.index);
}

const struct keel_events *keel_store_events(const struct keel_store *st)
{
    return &st->events;
}
