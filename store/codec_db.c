/* store: the codec of the commands on databases (storage.h's
 * KEEL_DB_PREFIX): FLUSHDB and SWAPDB, and RENAME's MOVE form. See codec.h;
 * codec.c reads their fields and asks store_db_check whether they hold. */
#include <string.h>

#include "store/codec.h"
#include "store/enc_private.h"

const char *store_db_check(uint8_t type, uint8_t flags, const struct store_cmd *cmd)
{
    struct keel_slice a, b;
    switch (type) {
        case STORE_CMD_FLUSHDB:
            return cmd->num < 0 || cmd->num >= KEEL_MAX_DATABASES ? "database out of range" : NULL;
        case STORE_CMD_SWAPDB:
            return cmd->num < 0 || cmd->num >= KEEL_MAX_DATABASES || cmd->version >= KEEL_MAX_DATABASES
                       ? "database out of range"
                       : NULL;
        case STORE_CMD_RENAME: {
            if (!(flags & KEEL_RENAME_MOVE)) return NULL;
            /* MOVE: NX, and the one client name in two databases */
            int da = storage_key_db(cmd->key, &a), db = storage_key_db(cmd->value, &b);
            if (!(flags & KEEL_RENAME_NX) || da < 0 || db < 0 || da == db || a.n != b.n ||
                memcmp(a.p, b.p, a.n) != 0)
                return "MOVE not one key between two databases";
            return NULL;
        }
        default:
            return NULL;
    }
}

void keel_enc_flushdb(struct keel_enc *e, int64_t db)
{
    size_t b = store_enc_begin(e, STORE_CMD_FLUSHDB, 0);
    store_enc_u64(e, (uint64_t)db);
    store_enc_end(e, b);
}

void keel_enc_swapdb(struct keel_enc *e, int64_t a, int64_t b)
{
    size_t at = store_enc_begin(e, STORE_CMD_SWAPDB, 0);
    store_enc_u64(e, (uint64_t)a);
    store_enc_u64(e, (uint64_t)b);
    store_enc_end(e, at);
}
