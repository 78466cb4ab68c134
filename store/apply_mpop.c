/* store: applying MPOP (codec.h), the pop of LMPOP and ZMPOP and of every
 * blocking pop: from the first of its keys that exists, as Redis's
 * blockingPopGenericCommand and mpopGenericCommand walk them.
 *
 * Which key is served is decided here, from the stored state at this entry,
 * so every replica pops the same items whatever the leader saw when it
 * proposed the entry (api/server/block.c proposes it again for a waiter when
 * one of its keys changes: another client may have emptied it in between,
 * and then this answers the null array and the waiter waits on). The pop
 * itself is LPOP's or ZPOPMIN's with a count, run on the key found, so the
 * two cannot drift apart. */
#include <string.h>

#include "store/internal.h"

/* The first key of cmd that exists: *found, or none (found.n 0). A key of
 * another type than the pop's answers WRONGTYPE (*wrong). */
static int first_key(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_slice *found,
                     bool *wrong)
{
    struct keel_iter it;
    struct keel_slice k;
    struct keel_record rec;
    bool exists;
    uint8_t want = (cmd->flags & KEEL_MPOP_ZSET) ? KEEL_TYPE_ZSET : KEEL_TYPE_LIST;
    *wrong = false;
    found->n = 0;
    keel_iter_init(&it, cmd->list);
    while (keel_iter_str(&it, &k)) {
        LOOKUP(c, k, &rec, exists);
        if (!exists) continue;
        *wrong = rec.type != want;
        *found = k;
        return 0;
    }
    return 0;
}

int apply_mpop(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    struct keel_slice key;
    bool wrong;
    int rc = first_key(c, cmd, &key, &wrong);
    if (rc != 0) return rc;
    if (wrong) {
        keel_reply_error(r, KEEL_EWRONGTYPE, NULL);
        return 0;
    }
    if (key.n == 0) {
        c->empty_pop = true;
        keel_reply_nil_array(r);
        return 0;
    }
    /* An existing collection is never empty (the last pop deletes the
     * key), so the pop below takes at least one item. */
    struct store_cmd sub = *cmd;
    sub.key = key;
    sub.list = (struct keel_slice){NULL, 0};
    sub.count = 0;
    keel_reply_array(r, 2);
    keel_reply_bulk(r, key.p, key.n);
    if (cmd->flags & KEEL_MPOP_ZSET) {
        sub.type = STORE_CMD_ZREMRANGE;
        sub.flags = KEEL_ZREM_COUNT | ((cmd->flags & KEEL_MPOP_LEFT) ? KEEL_ZREM_POPMIN : KEEL_ZREM_POPMAX);
        sub.num = (int64_t)cmd->version;
        sub.version = 0;
        return apply_zremrange(c, &sub, r);
    }
    sub.type = STORE_CMD_LPOP;
    sub.flags = KEEL_LPOP_COUNT | ((cmd->flags & KEEL_MPOP_LEFT) ? KEEL_LIST_LEFT : 0);
    return apply_lpop(c, &sub, r);
}
