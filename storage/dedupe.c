/* storage: the dedupe table, (client id, sequence) -> stored reply.
 *
 * A retried proposal (same client and sequence) must apply once and get the
 * first reply back. Entries carry the entry's logical timestamp and are kept
 * in a second index by (timestamp, client, seq), so eviction walks them oldest
 * first, in the same order on every replica. */
#include <stdio.h>
#include <string.h>

#include "storage/env.h"

#define DD_KEY 16
#define DDTS_KEY 24

static void dd_key(uint8_t *out, uint64_t client, uint64_t seq)
{
    be64_store(out, client);
    be64_store(out + 8, seq);
}

int storage_dedupe_get(struct keel_txn *txn, uint64_t client, uint64_t seq,
                       struct keel_slice *reply)
{
    uint8_t kb[DD_KEY];
    dd_key(kb, client, seq);
    MDB_val k = {DD_KEY, kb}, v;
    int rc = mdb_get(txn->mdb, txn->s->dd, &k, &v);
    if (rc == MDB_NOTFOUND) return KEEL_ENOTFOUND;
    if (rc != 0) return storage_error(txn->s, rc, "dedupe get");
    if (v.mv_size < 8) {
        snprintf(txn->s->errmsg, sizeof txn->s->errmsg, "dedupe entry of %zu bytes", v.mv_size);
        return KEEL_ECORRUPT;
    }
    reply->p = (const uint8_t *)v.mv_data + 8;
    reply->n = v.mv_size - 8;
    return 0;
}

uint64_t storage_dedupe_count(struct keel_txn *txn)
{
    uint64_t n = 0;
    storage_meta_get(txn, "dedupe_count", &n);
    return n;
}

int storage_dedupe_put(struct keel_txn *txn, uint64_t client, uint64_t seq, int64_t ts,
                       struct keel_slice reply)
{
    struct keel_storage *s = txn->s;
    uint8_t kb[DD_KEY], tb[DDTS_KEY];
    int rc;
    dd_key(kb, client, seq);
    MDB_val k = {DD_KEY, kb}, v = {8 + reply.n, NULL};
    rc = mdb_put(txn->mdb, s->dd, &k, &v, MDB_RESERVE | MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST) return KEEL_EEXISTS;
    if (rc != 0) return storage_error(s, rc, "dedupe put");
    le64_store(v.mv_data, (uint64_t)ts);
    if (reply.n > 0) memcpy((uint8_t *)v.mv_data + 8, reply.p, reply.n);
    be64_store(tb, (uint64_t)ts);
    memcpy(tb + 8, kb, DD_KEY);
    MDB_val tk = {DDTS_KEY, tb}, tv = {0, NULL};
    rc = mdb_put(txn->mdb, s->ddts, &tk, &tv, 0);
    if (rc != 0) return storage_error(s, rc, "dedupe index put");
    return storage_meta_put(txn, "dedupe_count", storage_dedupe_count(txn) + 1);
}

int storage_dedupe_evict(struct keel_txn *txn, int64_t older_than, uint64_t max_entries,
                         unsigned budget)
{
    struct keel_storage *s = txn->s;
    uint64_t count = storage_dedupe_count(txn);
    uint64_t start = count;
    MDB_cursor *c;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn->mdb, s->ddts, &c);
    if (rc != 0) return storage_error(s, rc, "cursor");
    while (budget-- > 0 && count > 0) {
        rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
        if (rc != 0) break;
        if (k.mv_size != DDTS_KEY) {
            mdb_cursor_close(c);
            snprintf(s->errmsg, sizeof s->errmsg, "dedupe index key of %zu bytes", k.mv_size);
            return KEEL_ECORRUPT;
        }
        int64_t ts = (int64_t)be64_load(k.mv_data);
        if (ts >= older_than && count <= max_entries) break;
        MDB_val dk = {DD_KEY, (uint8_t *)k.mv_data + 8};
        rc = mdb_del(txn->mdb, s->dd, &dk, NULL);
        if (rc != 0) break;
        rc = mdb_cursor_del(c, 0);
        if (rc != 0) break;
        count--;
    }
    mdb_cursor_close(c);
    if (rc != 0 && rc != MDB_NOTFOUND) return storage_error(s, rc, "dedupe evict");
    return count == start ? 0 : storage_meta_put(txn, "dedupe_count", count);
}
