/* store: applying the list commands that edit a list in place or move
 * items between lists: LSET LREM LTRIM LINSERT LMOVE (codec.h). LREM and
 * LINSERT renumber the items after the change, O(items), as Redis's are;
 * LSET is one lookup, LTRIM and LMOVE work at the ends. */
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"

static bool same(struct keel_slice a, struct keel_slice b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

/* Replace the items from offset off to the end by items, in order: the
 * positions from off on are renumbered (written over; those past the new
 * tail deleted). The caller checked the room. */
static int rewrite_from(struct apply_ctx *c, struct keel_coll *l, uint64_t off,
                        const struct keel_members *items)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < items->n; i++)
        rc = store_list_put(c->txn, l->id, l->aux[0] + off + i, keel_members_at(items, i));
    for (uint64_t i = off + items->n; rc == 0 && i < l->count; i++)
        rc = store_list_del(c->txn, l->id, l->aux[0] + i);
    if (rc != 0) return rc;
    l->count = off + items->n;
    l->aux[1] = l->aux[0] + l->count - 1; /* one before head when empty */
    return 0;
}

/* LSET key index element: no such key, then WRONGTYPE, then the index. */
int apply_lset(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_record old;
    struct keel_coll l;
    bool exists, ok;
    int64_t index;
    int rc = apply_list_load(c, cmd->key, &old, &l, &exists, &ok, r);
    if (rc != 0 || !ok) return rc;
    if (!exists) {
        keel_reply_error(r, KEEL_EINVAL, "no such key");
        return 0;
    }
    if (!store_parse_int(cmd->field.p, cmd->field.n, &index)) {
        keel_reply_error(r, KEEL_ENOTINT, "value is not an integer or out of range");
        return 0;
    }
    if (index < 0) index += (int64_t)l.count;
    if (index < 0 || index >= (int64_t)l.count) {
        keel_reply_error(r, KEEL_EINVAL, "index out of range");
        return 0;
    }
    rc = store_list_put(c->txn, l.id, l.aux[0] + (uint64_t)index, cmd->value);
    if (rc == 0) rc = apply_list_store(c, cmd->key, old.expire_at, &l);
    if (rc != 0) return rc;
    store_event(c, KEEL_EV_LSET, cmd->key);
    keel_reply_ok(r);
    return 0;
}

/* LREM key count element: count > 0 from the head, < 0 from the tail, 0
 * all of them. */
int apply_lrem(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_record old;
    struct keel_coll l;
    struct keel_members all, kept;
    bool exists, ok;
    int rc = apply_list_load(c, cmd->key, &old, &l, &exists, &ok, r);
    if (rc != 0 || !ok) return rc;
    if (!exists) {
        keel_reply_int(r, 0);
        return 0;
    }
    uint64_t limit = cmd->num >= 0 ? (uint64_t)cmd->num : (uint64_t)(-(cmd->num + 1)) + 1;
    uint64_t removed = 0, first = l.count;
    keel_members_init(&all);
    keel_members_init(&kept);
    rc = store_list_copy(c->txn, &l, 0, l.count, &all);
    bool *gone = rc == 0 ? calloc(l.count, sizeof *gone) : NULL;
    if (rc == 0 && gone == NULL) rc = KEEL_ENOMEM;
    for (uint64_t k = 0; rc == 0 && k < l.count && (limit == 0 || removed < limit); k++) {
        uint64_t i = cmd->num >= 0 ? k : l.count - 1 - k;
        if (!same(keel_members_at(&all, i), cmd->value)) continue;
        gone[i] = true;
        removed++;
        if (i < first) first = i;
    }
    if (rc == 0 && removed > 0) {
        for (uint64_t i = first; i < l.count; i++)
            if (!gone[i]) keel_members_add(&kept, keel_members_at(&all, i));
        rc = kept.oom ? KEEL_ENOMEM : rewrite_from(c, &l, first, &kept);
        if (rc == 0) rc = apply_list_store(c, cmd->key, old.expire_at, &l);
        if (rc == 0) {
            store_event(c, KEEL_EV_LREM, cmd->key);
            if (l.count == 0) store_event(c, KEEL_EV_DEL, cmd->key);
        }
    }
    if (rc == 0) keel_reply_int(r, (int64_t)removed);
    free(gone);
    keel_members_close(&all);
    keel_members_close(&kept);
    return rc;
}

/* LTRIM key start stop: Redis's ltrim/rtrim counts, deleted at the ends. */
int apply_ltrim(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_record old;
    struct keel_coll l;
    bool exists, ok;
    uint64_t off, n;
    int rc = apply_list_load(c, cmd->key, &old, &l, &exists, &ok, r);
    if (rc != 0 || !ok) return rc;
    if (!exists) {
        keel_reply_ok(r);
        return 0;
    }
    if (!store_list_range((int64_t)l.count, cmd->num, (int64_t)cmd->version, &off, &n)) off = l.count, n = 0;
    uint64_t ltrim = off, rtrim = l.count - off - n;
    for (uint64_t i = 0; rc == 0 && i < ltrim; i++) rc = store_list_del(c->txn, l.id, l.aux[0]++);
    for (uint64_t i = 0; rc == 0 && i < rtrim; i++) rc = store_list_del(c->txn, l.id, l.aux[1]--);
    if (rc != 0) return rc;
    l.count = n;
    if ((rc = apply_list_store(c, cmd->key, old.expire_at, &l)) != 0) return rc;
    store_event(c, KEEL_EV_LTRIM, cmd->key);
    if (l.count == 0) store_event(c, KEEL_EV_DEL, cmd->key);
    keel_reply_ok(r);
    return 0;
}

/* LINSERT key BEFORE|AFTER pivot element: the first pivot from the head;
 * -1 without one, 0 without the key. */
int apply_linsert(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_record old;
    struct keel_coll l;
    struct keel_members all, kept;
    bool exists, ok;
    int rc = apply_list_load(c, cmd->key, &old, &l, &exists, &ok, r);
    if (rc != 0 || !ok) return rc;
    if (!exists) {
        keel_reply_int(r, 0);
        return 0;
    }
    keel_members_init(&all);
    keel_members_init(&kept);
    rc = store_list_copy(c->txn, &l, 0, l.count, &all);
    uint64_t at = l.count;
    for (uint64_t i = 0; rc == 0 && i < l.count && at == l.count; i++)
        if (same(keel_members_at(&all, i), cmd->field)) at = i;
    if (rc == 0 && at == l.count) {
        keel_reply_int(r, -1);
    } else if (rc == 0 && apply_list_room(&l, false, 1, r)) {
        uint64_t off = (cmd->flags & KEEL_LINSERT_BEFORE) ? at : at + 1;
        keel_members_add(&kept, cmd->value);
        for (uint64_t i = off; i < l.count; i++) keel_members_add(&kept, keel_members_at(&all, i));
        rc = kept.oom ? KEEL_ENOMEM : rewrite_from(c, &l, off, &kept);
        if (rc == 0) rc = apply_list_store(c, cmd->key, old.expire_at, &l);
        if (rc == 0) {
            store_event(c, KEEL_EV_LINSERT, cmd->key);
            keel_reply_int(r, (int64_t)l.count);
        }
    }
    keel_members_close(&all);
    keel_members_close(&kept);
    return rc;
}

/* LMOVE src dst LEFT|RIGHT LEFT|RIGHT (and RPOPLPUSH): nil without a
 * source; both types checked before anything moves; src may be dst (a
 * rotation). Events as Redis's: the push, then the pop (and del). */
int apply_lmove(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_record src, dst;
    struct keel_coll sl, dl;
    struct keel_members item;
    bool sx, dx = false, ok, from_left = cmd->flags & KEEL_LIST_LEFT;
    bool to_left = cmd->flags & KEEL_LMOVE_TO_LEFT, one = same(cmd->key, cmd->value);
    int rc = apply_list_load(c, cmd->key, &src, &sl, &sx, &ok, r);
    if (rc != 0 || !ok) return rc;
    if (!sx) {
        c->empty_pop = true; /* BLMOVE waits on (apply.c's dedupe) */
        keel_reply_nil(r);
        return 0;
    }
    int64_t src_exp = src.expire_at, dst_exp = 0;
    if (!one) {
        if ((rc = apply_list_load(c, cmd->value, &dst, &dl, &dx, &ok, r)) != 0 || !ok) return rc;
        dst_exp = dx ? dst.expire_at : 0;
    }
    if (!apply_list_room(one ? &sl : &dl, to_left, 1, r)) return 0;
    keel_members_init(&item);
    rc = apply_list_pop(c, &sl, from_left, 1, &item);
    if (rc == 0 && one) {
        rc = apply_list_push(c, &sl, to_left, keel_members_at(&item, 0));
        if (rc == 0) rc = apply_list_store(c, cmd->key, src_exp, &sl);
    } else if (rc == 0) {
        rc = apply_list_push(c, &dl, to_left, keel_members_at(&item, 0));
        if (rc == 0) rc = apply_list_store(c, cmd->value, dst_exp, &dl);
        if (rc == 0) rc = apply_list_store(c, cmd->key, src_exp, &sl);
    }
    if (rc == 0) {
        struct keel_slice m = keel_members_at(&item, 0);
        if (!one && !dx) store_event(c, KEEL_EV_NEW, cmd->value);
        store_event(c, to_left ? KEEL_EV_LPUSH : KEEL_EV_RPUSH, cmd->value);
        store_event(c, from_left ? KEEL_EV_LPOP : KEEL_EV_RPOP, cmd->key);
        if (sl.count == 0) store_event(c, KEEL_EV_DEL, cmd->key);
        keel_reply_bulk(r, m.p, m.n);
    }
    keel_members_close(&item);
    return rc;
}
