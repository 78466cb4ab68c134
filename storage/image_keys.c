/* storage: the image walk's checks of the keyspace (image_walk.h): every
 * record of "data" decodes, a long key's record names it and sits at its
 * hash, and the expiry index holds one entry per key with an expiry, at
 * that expiry, naming a long key when it is under its hash (record.h). */
#include <stdlib.h>
#include <string.h>

#include "storage/image_walk.h"
#include "storage/record.h"

int walk_data_record(struct walk *w, const MDB_val *k, const MDB_val *v)
{
    struct keel_record rec;
    struct keel_slice name;
    MDB_val e;
    uint8_t ek[EXPKEY_MAX], pos[KEEL_LONGKEY_POS];
    if (k->mv_size == 0 || k->mv_size > KEEL_KEY_INLINE)
        return walk_fail(w, "DB \"data\" has a key of %zu bytes", k->mv_size);
    if (record_decode(v->mv_data, v->mv_size, &rec, &name) != 0 || rec.expire_at < 0)
        return walk_fail(w, "DB \"data\": the value of a %zu-byte key is not a record", k->mv_size);
    /* A long key's record names it, and sits at its hash; nothing else is
     * under the long keys' prefix (storage.h). */
    if (storage_pos_is_long(k->mv_data, k->mv_size) || name.n > 0) {
        if (name.n == 0 || k->mv_size != KEEL_LONGKEY_POS ||
            memcmp(k->mv_data, pos, storage_key_long_pos(name, pos)) != 0)
            return walk_fail(w, "DB \"data\": a long key's record of %zu bytes is not at its name's hash",
                        name.n);
        w->long_keys++;
    } else {
        name = (struct keel_slice){k->mv_data, k->mv_size};
    }
    /* A name under the databases' prefix names a database 1..255 and a
     * key in it (storage.h); SWAPDB's namespace in the middle of a swap
     * (byte 0) is never left in a committed state. */
    if (name.n >= KEEL_DB_PREFIX_LEN && memcmp(name.p, KEEL_DB_PREFIX, KEEL_DB_PREFIX_LEN) == 0 &&
        storage_key_db(name, NULL) <= 0)
        return walk_fail(w, "DB \"data\": a %zu-byte key under the databases' prefix names no database's key",
                         name.n);
    if (!record_value_ok(&rec))
        return walk_fail(w, "DB \"data\": a %zu-byte key holds a malformed %s", k->mv_size,
                    rec.type == KEEL_TYPE_HASH ? "hash" : storage_is_coll(rec.type) ? "collection" : "value");
    if (storage_is_coll(rec.type)) {
        struct keel_coll coll;
        storage_coll_decode(&rec, &coll);
        if (w->ncolls == w->capcolls) {
            size_t cap = w->capcolls ? 2 * w->capcolls : 64;
            struct coll_seen *p = realloc(w->colls, cap * sizeof *p);
            if (p == NULL) return KEEL_ENOMEM;
            w->colls = p;
            w->capcolls = cap;
        }
        /* A list's count items sit at exactly head .. tail (store/list_ops.c). */
        if (rec.type == KEEL_TYPE_LIST &&
            (coll.aux[1] < coll.aux[0] || coll.aux[1] - coll.aux[0] != coll.count - 1))
            return walk_fail(w, "DB \"data\": list %llu counts %llu items between positions %llu and %llu",
                        (unsigned long long)coll.id, (unsigned long long)coll.count,
                        (unsigned long long)coll.aux[0], (unsigned long long)coll.aux[1]);
        w->colls[w->ncolls++] = (struct coll_seen){coll.id, coll.count, 0, coll.aux[0], coll.aux[1], 0, rec.type};
    }
    if (rec.expire_at == 0) return 0;
    w->with_expiry++;
    bool named;
    size_t n = record_expkey(name, rec.expire_at, ek, &named);
    int rc = walk_lookup(w, DB_EXP, ek, n, &e);
    if (rc == KEEL_ENOTFOUND) return walk_fail(w, "a key expiring at %lld is missing from the expiry index",
                                          (long long)rec.expire_at);
    if (rc == 0 && named && (e.mv_size != name.n || memcmp(e.mv_data, name.p, name.n) != 0))
        return walk_fail(w, "the expiry index names another key than the one at its position");
    return rc;
}

int walk_exp_entry(struct walk *w, const MDB_val *k, const MDB_val *v)
{
    struct keel_record rec;
    MDB_val d;
    uint8_t pos[KEEL_KEY_INLINE];
    const uint8_t *p = k->mv_data;
    if (k->mv_size < 9 || k->mv_size > EXPKEY_MAX)
        return walk_fail(w, "DB \"exp\" has an entry of %zu+%zu bytes", k->mv_size, v->mv_size);
    /* A key over EXP_INLINE bytes is indexed under its hash, the entry's
     * value naming it (record.h); any other entry has an empty value. */
    struct keel_slice key = {p + 8, k->mv_size - 8};
    if (storage_pos_is_long(key.p, key.n) || v->mv_size != 0) {
        if (v->mv_size <= EXP_INLINE || v->mv_size > KEEL_MAX_KEY || key.n != KEEL_LONGKEY_POS ||
            memcmp(key.p, pos, storage_key_long_pos((struct keel_slice){v->mv_data, v->mv_size}, pos)) != 0)
            return walk_fail(w, "DB \"exp\" has an entry of %zu+%zu bytes not at its key's hash",
                        k->mv_size, v->mv_size);
        key = (struct keel_slice){v->mv_data, v->mv_size};
    }
    /* The record's own check (data_record) ties a long key's record to its
     * name; here the position of the name must hold a record. */
    size_t pn = storage_key_pos(key, pos);
    int rc = walk_lookup(w, DB_DATA, pos, pn, &d);
    if (rc == KEEL_ENOTFOUND) return walk_fail(w, "the expiry index names a key that does not exist");
    if (rc != 0) return rc;
    struct keel_slice name;
    if (record_decode(d.mv_data, d.mv_size, &rec, &name) != 0 ||
        (uint64_t)rec.expire_at != be64_load(p) ||
        (name.n > 0 && (name.n != key.n || memcmp(name.p, key.p, key.n) != 0)))
        return walk_fail(w, "the expiry index disagrees with a key's expiry");
    return 0;
}

