/* store: applying the hash commands HSET (and HSETNX), HDEL and HINCRBY. */
#include <stdio.h>
#include <string.h>

#include "store/internal.h"

/* Load the live hash at key into c->st->hash (empty if absent; an expired
 * one is deleted first, "expired", as Redis's lookupKeyWrite does). Returns
 * a storage error, or 0 with *ok false after writing WRONGTYPE to the reply. */
static int load(struct apply_ctx *c, struct keel_slice key, struct keel_record *rec,
                bool *exists, bool *ok, struct keel_reply *r)
{
    struct keel_hash *h = &c->st->hash;
    int rc = apply_live(c, key, rec);
    *ok = true;
    h->n = 0;
    if (rc == KEEL_ENOTFOUND) {
        *exists = false;
        return 0;
    }
    if (rc != 0) return rc;
    *exists = true;
    if (rec->type != KEEL_TYPE_HASH) {
        keel_reply_error(r, KEEL_EWRONGTYPE, NULL);
        *ok = false;
        return 0;
    }
    rc = hash_decode(h, (struct keel_slice){rec->val, rec->len});
    if (rc == KEEL_ECORRUPT) snprintf(c->st->errmsg, sizeof c->st->errmsg, "hash value corrupt");
    return rc;
}

/* Write c->st->hash back under key (deleting the key when it is empty). The
 * value is encoded into scratch first: the items point into the old record,
 * which the put may overwrite. An expired-but-present record counts as new. */
static int store_back(struct apply_ctx *c, struct keel_slice key, bool exists,
                      const struct keel_record *old, struct keel_reply *r, bool *too_big)
{
    struct keel_hash *h = &c->st->hash;
    *too_big = false;
    if (h->n == 0) {
        int rc = storage_del(c->txn, key);
        return rc == KEEL_ENOTFOUND ? 0 : rc;
    }
    size_t size = hash_encoded_size(h);
    if (size > KEEL_MAX_VALUE) {
        keel_reply_error(r, KEEL_ETOOBIG, "hash would exceed the value size limit");
        *too_big = true;
        return 0;
    }
    uint8_t *buf = store_scratch(c->st, size);
    if (buf == NULL) return KEEL_ENOMEM;
    hash_encode(h, buf);
    struct keel_record rec = {KEEL_TYPE_HASH, exists ? old->expire_at : 0, c->index, buf, size};
    return storage_put(c->txn, key, &rec, NULL);
}

int apply_hset(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_record old;
    struct keel_iter it;
    struct keel_slice f, v;
    bool exists, ok, added, too_big;
    int64_t n = 0;
    int rc = load(c, cmd->key, &old, &exists, &ok, r);
    if (rc != 0 || !ok) return rc;
    keel_iter_init(&it, cmd->list);
    if (cmd->flags & KEEL_HSET_NX) {
        /* HSETNX: an existing field stays, and nothing is written. */
        struct keel_iter peek = it;
        if (keel_iter_str(&peek, &f) && hash_find(&c->st->hash, f) != NULL) {
            keel_reply_int(r, 0);
            return 0;
        }
    }
    while (keel_iter_str(&it, &f) && keel_iter_str(&it, &v)) {
        rc = hash_put(&c->st->hash, f, v, &added);
        if (rc != 0) return rc;
        n += added;
    }
    /* The reply goes last: a too-big hash replies with the error alone. */
    size_t mark = r->len;
    rc = store_back(c, cmd->key, exists, &old, r, &too_big);
    if (rc == 0 && !too_big && r->len == mark) {
        keel_reply_int(r, n);
        if (!exists) store_event(c, KEEL_EV_NEW, cmd->key);
        store_event(c, KEEL_EV_HSET, cmd->key);
    }
    return rc;
}

int apply_hdel(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_record old;
    struct keel_iter it;
    struct keel_slice f;
    bool exists, ok, too_big;
    int64_t n = 0;
    int rc = load(c, cmd->key, &old, &exists, &ok, r);
    if (rc != 0 || !ok) return rc;
    if (!exists) {
        keel_reply_int(r, 0);
        return 0;
    }
    keel_iter_init(&it, cmd->list);
    while (keel_iter_str(&it, &f)) n += hash_del(&c->st->hash, f);
    keel_reply_int(r, n);
    if (n == 0) return 0;
    /* Like Redis: "hdel", then "del" when the hash is left empty. */
    store_event(c, KEEL_EV_HDEL, cmd->key);
    if (c->st->hash.n == 0) store_event(c, KEEL_EV_DEL, cmd->key);
    return store_back(c, cmd->key, exists, &old, r, &too_big);
}

int apply_hincrby(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_record old;
    bool exists, ok, added, too_big;
    int64_t v = 0;
    char buf[24];
    int rc = load(c, cmd->key, &old, &exists, &ok, r);
    if (rc != 0 || !ok) return rc;
    const struct hash_field *hf = hash_find(&c->st->hash, cmd->field);
    if (hf != NULL && !store_parse_int(hf->v.p, hf->v.n, &v)) {
        keel_reply_error(r, KEEL_ENOTINT, "hash value is not an integer");
        return 0;
    }
    if (store_add_overflows(v, cmd->num, &v)) {
        keel_reply_error(r, KEEL_EOVERFLOW, NULL);
        return 0;
    }
    size_t n = store_format_int(v, buf);
    rc = hash_put(&c->st->hash, cmd->field, (struct keel_slice){(uint8_t *)buf, n}, &added);
    if (rc != 0) return rc;
    size_t mark = r->len;
    rc = store_back(c, cmd->key, exists, &old, r, &too_big);
    if (rc == 0 && !too_big && r->len == mark) {
        keel_reply_int(r, v);
        if (!exists) store_event(c, KEEL_EV_NEW, cmd->key);
        store_event(c, KEEL_EV_HINCRBY, cmd->key);
    }
    return rc;
}

/* SETFLOAT into a hash field (HINCRBYFLOAT's result; apply_setfloat checked
 * the key's version). */
int apply_hsetfloat(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_record old;
    bool exists, ok, added, too_big;
    int rc = load(c, cmd->key, &old, &exists, &ok, r);
    if (rc != 0 || !ok) return rc;
    rc = hash_put(&c->st->hash, cmd->field, cmd->value, &added);
    if (rc != 0) return rc;
    size_t mark = r->len;
    rc = store_back(c, cmd->key, exists, &old, r, &too_big);
    if (rc == 0 && !too_big && r->len == mark) {
        keel_reply_bulk(r, cmd->value.p, cmd->value.n);
        if (!exists) store_event(c, KEEL_EV_NEW, cmd->key);
        store_event(c, KEEL_EV_HINCRBYFLOAT, cmd->key);
    }
    return rc;
}
