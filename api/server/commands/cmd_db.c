/* api: the commands about databases (db.h): SELECT, MOVE, COPY (its DB
 * option), FLUSHDB, FLUSHALL, SWAPDB. Their keys arrive as the stored names
 * of the database they run in (dispatch.c rewrote them): a key's database
 * is read from its name (storage_key_db), which stays right inside MULTI,
 * where the connection's database may have changed since it was queued. */
#include <stdlib.h>
#include <string.h>

#include "api/server/commands/commands.h"
#include "api/server/db.h"

/* SELECT index: the connection's database from now on. Queued in MULTI it
 * runs at EXEC, at its place; the commands queued after it were already
 * queued in its database (dispatch.c). */
CMD_DECL_LOCAL(cmd_select)
{
    unsigned db;
    if (srv_db_index(s, 1, &db)) {
        if (s->conn != NULL) s->conn->db = (uint8_t)db;
        resp_ok(&s->out);
    }
    slot_done(s);
}

/* Database db's name of the key stored as `stored`, into a new buffer *own
 * (freed by the caller); false after an error reply (too long). */
static bool other_db_key(struct slot *s, struct keel_slice stored, unsigned db, struct keel_slice *out,
                         uint8_t **own)
{
    struct keel_slice user;
    (void)storage_key_db(stored, &user);
    *own = malloc(user.n + KEEL_DB_KEY_OVERHEAD);
    if (*own == NULL) {
        srv_reply_error(&s->out, KEEL_ENOMEM, "out of memory");
        return false;
    }
    *out = srv_db_key(db, user, *own);
    if (out->n > KEEL_MAX_KEY) {
        srv_reply_errorf(&s->out, KEEL_EINVAL, "key of %zu bytes is over Keel's limit of %d in database %u",
                         user.n, KEEL_MAX_KEY - (db != 0 ? KEEL_DB_KEY_OVERHEAD : 0), db);
        free(*own);
        *own = NULL;
        return false;
    }
    return true;
}

static bool same_slice(struct keel_slice a, struct keel_slice b)
{
    return a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
}

/* MOVE key db (Redis's moveCommand): one RENAME NX MOVE entry from the
 * key's stored name in its database to its name in db, so the record moves
 * whole, TTL included; 1 moved, 0 if absent or db has it. */
CMD_DECL_ENCODE(cmd_move)
{
    unsigned db;
    if (!srv_db_index(s, 2, &db)) return -1;
    if (!srv_check_key(s, s->argv[1])) return -1;
    int src = storage_key_db(s->argv[1], NULL);
    if ((unsigned)src == db) {
        srv_reply_error(&s->out, KEEL_EINVAL, "source and destination objects are the same");
        return -1;
    }
    struct keel_slice dst;
    uint8_t *own;
    if (!other_db_key(s, s->argv[1], db, &dst, &own)) return -1;
    keel_enc_rename(e, s->argv[1], dst, KEEL_RENAME_NX | KEEL_RENAME_MOVE);
    free(own);
    return 1;
}

/* COPY source destination [DB destination-db] [REPLACE]: the destination
 * in the source's database, or in destination-db. */
CMD_DECL_ENCODE(cmd_copy)
{
    unsigned flags = 0;
    long long dbarg = -1;
    for (uint32_t i = 3; i < s->argc; i++) {
        if (slot_arg_is(s, i, "REPLACE")) {
            flags |= KEEL_COPY_REPLACE;
        } else if (slot_arg_is(s, i, "DB") && i + 1 < s->argc) {
            unsigned db;
            if (!srv_db_index(s, i + 1, &db)) return -1;
            dbarg = db;
            i++;
        } else {
            srv_syntax_error(s);
            return -1;
        }
    }
    if (!srv_check_key(s, s->argv[1]) || !srv_check_key(s, s->argv[2])) return -1;
    struct keel_slice dst = s->argv[2];
    uint8_t *own = NULL;
    if (dbarg >= 0 && !other_db_key(s, s->argv[2], (unsigned)dbarg, &dst, &own)) return -1;
    if (same_slice(s->argv[1], dst)) {
        srv_reply_error(&s->out, KEEL_EINVAL, "source and destination objects are the same");
        free(own);
        return -1;
    }
    keel_enc_copy(e, s->argv[1], dst, flags);
    free(own);
    return 1;
}

/* SWAPDB index1 index2 (Redis's swapdbCommand and errors): one SWAPDB
 * entry, the databases' keys trading places at once in one entry
 * (store/apply_db.c: O(keys of the two)). The connections stay in their
 * database, as Redis's. */
CMD_DECL_ENCODE(cmd_swapdb)
{
    int64_t a, b;
    if (!store_parse_int(s->argv[1].p, s->argv[1].n, &a) || a < INT32_MIN || a > INT32_MAX) {
        srv_reply_error(&s->out, KEEL_EINVAL, "invalid first DB index");
        return -1;
    }
    if (!store_parse_int(s->argv[2].p, s->argv[2].n, &b) || b < INT32_MIN || b > INT32_MAX) {
        srv_reply_error(&s->out, KEEL_EINVAL, "invalid second DB index");
        return -1;
    }
    int64_t n = (int64_t)s->srv->cfg.databases;
    if (a < 0 || a >= n || b < 0 || b >= n) {
        srv_reply_error(&s->out, KEEL_EINVAL, "DB index is out of range");
        return -1;
    }
    keel_enc_swapdb(e, a, b);
    return 1;
}

/* FLUSHDB / FLUSHALL [ASYNC|SYNC]: one FLUSHDB entry (the connection's
 * database) or FLUSH (every database), applied at once (ASYNC is accepted
 * and means the same); Keel's own system keys stay. */
CMD_DECL_ENCODE(cmd_flush)
{
    if (s->argc > 2 || (s->argc == 2 && !slot_arg_is(s, 1, "ASYNC") && !slot_arg_is(s, 1, "SYNC"))) {
        srv_syntax_error(s);
        return -1;
    }
    if (slot_arg_is(s, 0, "FLUSHDB")) keel_enc_flushdb(e, s->db);
    else keel_enc_flush(e);
    return 1;
}
