/* store: local reads of the keyspace. Each runs in its own short read txn. */
#include <stdio.h>

#include "store/internal.h"

struct read_args;
typedef int (*read_fn)(struct keel_store *st, struct keel_txn *txn, void *arg,
                       struct keel_reply *r);

struct read_args
{
    struct keel_slice key;
    struct keel_slice field;
    int64_t now;
    uint64_t version;
};

/* Run fn in a read txn. The reader's `now` is raised to the replicated
 * logical clock, so a reader whose clock lags never shows a key that apply
 * already treats as expired. */
static int with_txn(struct keel_store *st, read_fn fn, struct read_args *a, struct keel_reply *r)
{
    struct keel_txn txn;
    uint64_t clock;
    keel_reply_reset(r);
    int rc = storage_txn_begin(st->storage, false, &txn);
    if (rc != 0) return rc;
    rc = storage_meta_get(&txn, "clock", &clock);
    if (rc != 0) {
        storage_txn_abort(&txn);
        return rc;
    }
    if ((int64_t)clock > a->now) a->now = (int64_t)clock;
    rc = fn(st, &txn, a, r);
    storage_txn_abort(&txn);
    if (rc == 0 && r->lost) rc = KEEL_ENOMEM;
    return rc;
}


/* Live record of a->key, or 0 with *exists false. */
static int find(struct keel_txn *txn, struct read_args *a, struct keel_record *rec, bool *exists)
{
    int rc = store_lookup(txn, a->key, a->now, rec);
    *exists = rc == 0;
    return rc == KEEL_ENOTFOUND ? 0 : rc;
}

static int get_fn(struct keel_store *st, struct keel_txn *txn, void *arg, struct keel_reply *r)
{
    struct keel_record rec;
    bool exists;
    int rc = find(txn, arg, &rec, &exists);
    if (rc != 0) return rc;
    if (!exists) keel_reply_nil(r);
    else if (rec.type != KEEL_TYPE_STRING) keel_reply_error(r, KEEL_EWRONGTYPE, NULL);
    else keel_reply_bulk(r, rec.val, rec.len);
    return 0;
}

int keel_store_get(struct keel_store *st, struct keel_slice key, int64_t now,
                   struct keel_reply *reply)
{
    struct read_args a = {.key = key, .now = now};
    return with_txn(st, get_fn, &a, reply);
}

static int pttl_fn(struct keel_store *st, struct keel_txn *txn, void *arg, struct keel_reply *r)
{
    struct read_args *a = arg;
    struct keel_record rec;
    bool exists;
    int rc = find(txn, a, &rec, &exists);
    if (rc != 0) return rc;
    /* expire_at > now here (a live key), so the difference cannot overflow. */
    keel_reply_int(r, !exists ? -2 : rec.expire_at == 0 ? -1 : rec.expire_at - a->now);
    return 0;
}

int keel_store_pttl(struct keel_store *st, struct keel_slice key, int64_t now,
                    struct keel_reply *reply)
{
    struct read_args a = {.key = key, .now = now};
    return with_txn(st, pttl_fn, &a, reply);
}

/* Decode the live hash of a->key into st->hash; *found false if absent,
 * WRONGTYPE written to r if it is not a hash. */
static int load_hash(struct keel_store *st, struct keel_txn *txn, struct read_args *a,
                     bool *found, struct keel_reply *r)
{
    struct keel_record rec;
    bool exists;
    int rc = find(txn, a, &rec, &exists);
    *found = false;
    if (rc != 0 || !exists) return rc;
    if (rec.type != KEEL_TYPE_HASH) {
        keel_reply_error(r, KEEL_EWRONGTYPE, NULL);
        return 0;
    }
    rc = hash_decode(&st->hash, (struct keel_slice){rec.val, rec.len});
    *found = rc == 0;
    return rc;
}

static int hget_fn(struct keel_store *st, struct keel_txn *txn, void *arg, struct keel_reply *r)
{
    struct read_args *a = arg;
    bool found;
    int rc = load_hash(st, txn, a, &found, r);
    if (rc != 0 || r->len > 0) return rc;
    const struct hash_field *hf = found ? hash_find(&st->hash, a->field) : NULL;
    if (hf == NULL) keel_reply_nil(r);
    else keel_reply_bulk(r, hf->v.p, hf->v.n);
    return 0;
}

int keel_store_hget(struct keel_store *st, struct keel_slice key, struct keel_slice field,
                    int64_t now, struct keel_reply *reply)
{
    struct read_args a = {.key = key, .field = field, .now = now};
    return with_txn(st, hget_fn, &a, reply);
}

static int hgetall_fn(struct keel_store *st, struct keel_txn *txn, void *arg,
                      struct keel_reply *r)
{
    bool found;
    int rc = load_hash(st, txn, arg, &found, r);
    if (rc != 0 || r->len > 0) return rc;
    uint32_t n = found ? st->hash.n : 0;
    keel_reply_array(r, 2 * n);
    for (uint32_t i = 0; i < n; i++) {
        keel_reply_bulk(r, st->hash.items[i].f.p, st->hash.items[i].f.n);
        keel_reply_bulk(r, st->hash.items[i].v.p, st->hash.items[i].v.n);
    }
    return 0;
}

int keel_store_hgetall(struct keel_store *st, struct keel_slice key, int64_t now,
                       struct keel_reply *reply)
{
    struct read_args a = {.key = key, .now = now};
    return with_txn(st, hgetall_fn, &a, reply);
}

static int version_fn(struct keel_store *st, struct keel_txn *txn, void *arg,
                      struct keel_reply *r)
{
    struct read_args *a = arg;
    struct keel_record rec;
    bool exists;
    int rc = find(txn, a, &rec, &exists);
    a->version = exists ? rec.version : 0;
    return rc;
}

int keel_store_version(struct keel_store *st, struct keel_slice key, int64_t now,
                       uint64_t *version)
{
    struct read_args a = {.key = key, .now = now};
    struct keel_reply unused;
    keel_reply_init(&unused);
    int rc = with_txn(st, version_fn, &a, &unused);
    keel_reply_close(&unused);
    *version = a.version;
    return rc;
}

int keel_read_begin(struct keel_store *st, int64_t now, struct keel_read *rd)
{
    uint64_t clock;
    rd->st = st;
    rd->hits = rd->misses = 0;
    int rc = storage_txn_begin(st->storage, false, &rd->txn);
    if (rc != 0) return rc;
    rc = storage_meta_get(&rd->txn, "clock", &clock);
    if (rc != 0) {
        storage_txn_abort(&rd->txn);
        return rc;
    }
    rd->now = (int64_t)clock > now ? (int64_t)clock : now;
    return 0;
}

void keel_read_end(struct keel_read *rd)
{
    storage_txn_abort(&rd->txn);
}

int keel_read_get(struct keel_read *rd, struct keel_slice key, struct keel_record *rec)
{
    int rc = store_lookup(&rd->txn, key, rd->now, rec);
    if (rc == 0) rd->hits++;
    else if (rc == KEEL_ENOTFOUND) rd->misses++;
    return rc;
}

int keel_read_hash(struct keel_read *rd, const struct keel_record *rec,
                   const struct keel_hash **hash)
{
    if (rec->type != KEEL_TYPE_HASH) return KEEL_EWRONGTYPE;
    int rc = hash_decode(&rd->st->hash, (struct keel_slice){rec->val, rec->len});
    *hash = &rd->st->hash;
    return rc;
}

struct live_scan
{
    int64_t now;
    storage_scan_cb cb;
    void *arg;
};

static int live_cb(void *arg, struct keel_slice key, const struct keel_record *rec)
{
    struct live_scan *ls = arg;
    if (rec->expire_at != 0 && rec->expire_at <= ls->now) return 0;
    return ls->cb(ls->arg, key, rec);
}

int keel_read_scan(struct keel_read *rd, struct keel_slice start, storage_scan_cb cb, void *arg)
{
    struct live_scan ls = {rd->now, cb, arg};
    return storage_scan(&rd->txn, start, live_cb, &ls);
}

uint64_t keel_read_count(struct keel_read *rd)
{
    struct keel_space sp;
    (void)rd;
    if (keel_storage_space(rd->st->storage, &sp) != 0) return 0;
    return sp.keys;
}

int keel_read_expired(struct keel_read *rd, int64_t at, struct keel_slice *key)
{
    int64_t when;
    return storage_expired_first(&rd->txn, at, key, &when);
}
