/* store: a list's items as sub-keys by position (storage.h "collections"),
 * shared by apply (apply_list.c) and the read commands (LLEN LRANGE
 * LINDEX). A list's record holds head and tail positions (aux[0], aux[1],
 * both inclusive); its count items sit at exactly head .. tail, each under
 * the sub-key be64(position), so the item at offset i from the head is one
 * lookup, and a range one seek and a walk in byte (= position) order. */
#include <string.h>

#include "common/le.h"
#include "store/internal.h"

static struct keel_slice pos_slice(uint64_t pos, uint8_t buf[8])
{
    be64_store(buf, pos);
    return (struct keel_slice){buf, 8};
}

int store_list_item(struct keel_txn *txn, const struct keel_coll *l, uint64_t off,
                    struct keel_slice *item)
{
    uint8_t b[8];
    int rc = storage_member_get(txn, l->id, KEEL_TAG_ITEM, pos_slice(l->aux[0] + off, b), item);
    return rc == KEEL_ENOTFOUND ? KEEL_ECORRUPT : rc;
}

int store_list_put(struct keel_txn *txn, uint64_t id, uint64_t pos, struct keel_slice item)
{
    uint8_t b[8];
    return storage_member_put(txn, id, KEEL_TAG_ITEM, pos_slice(pos, b), item, NULL);
}

int store_list_del(struct keel_txn *txn, uint64_t id, uint64_t pos)
{
    uint8_t b[8];
    bool removed;
    int rc = storage_member_del(txn, id, KEEL_TAG_ITEM, pos_slice(pos, b), &removed);
    return rc == 0 && !removed ? KEEL_ECORRUPT : rc;
}

struct walk
{
    uint64_t left;
    storage_member_cb cb;
    void *arg;
};

#define STOP (-1) /* walk_cb's "enough": no KEEL_* code */

static int walk_cb(void *arg, struct keel_slice m, struct keel_slice data)
{
    struct walk *w = arg;
    if (w->left == 0) return STOP;
    w->left--;
    int rc = w->cb(w->arg, m, data);
    return rc != 0 ? rc : w->left == 0 ? STOP : 0;
}

int store_list_walk(struct keel_txn *txn, const struct keel_coll *l, uint64_t off, uint64_t n,
                    storage_member_cb cb, void *arg)
{
    uint8_t b[8];
    struct walk w = {n, cb, arg};
    if (n == 0) return 0;
    int rc = storage_member_scan_from(txn, l->id, KEEL_TAG_ITEM, pos_slice(l->aux[0] + off, b),
                                      walk_cb, &w);
    if (rc == STOP) rc = 0;
    return rc == 0 && w.left != 0 ? KEEL_ECORRUPT : rc;
}

static int collect_cb(void *arg, struct keel_slice m, struct keel_slice data)
{
    (void)m;
    keel_members_add(arg, data);
    return 0;
}

int store_list_copy(struct keel_txn *txn, const struct keel_coll *l, uint64_t off, uint64_t n,
                    struct keel_members *out)
{
    int rc = store_list_walk(txn, l, off, n, collect_cb, out);
    return rc == 0 && out->oom ? KEEL_ENOMEM : rc;
}

bool store_list_range(int64_t len, int64_t start, int64_t end, uint64_t *off, uint64_t *n)
{
    /* Redis's addListRangeReply: negative counts from the end, then clamp. */
    if (start < 0) start = len + start;
    if (end < 0) end = len + end;
    if (start < 0) start = 0;
    if (start > end || start >= len) return false;
    if (end >= len) end = len - 1;
    *off = (uint64_t)start;
    *n = (uint64_t)(end - start) + 1;
    return true;
}

int keel_read_list(struct keel_read *rd, struct keel_slice key, struct keel_coll *coll)
{
    struct keel_record rec;
    int rc = keel_read_get(rd, key, &rec);
    if (rc != 0) return rc;
    if (rec.type != KEEL_TYPE_LIST) return KEEL_EWRONGTYPE;
    return storage_coll_decode(&rec, coll);
}

int keel_read_list_at(struct keel_read *rd, const struct keel_coll *coll, int64_t index,
                      struct keel_slice *item)
{
    int64_t len = (int64_t)coll->count;
    if (index < 0) index += len;
    if (index < 0 || index >= len) return KEEL_ENOTFOUND;
    return store_list_item(&rd->txn, coll, (uint64_t)index, item);
}

int keel_read_list_walk(struct keel_read *rd, const struct keel_coll *coll, uint64_t off, uint64_t n,
                        storage_member_cb cb, void *arg)
{
    return store_list_walk(&rd->txn, coll, off, n, cb, arg);
}
