/* store: applying FLUSH (every database), FLUSHDB and SWAPDB: the
 * operations on whole databases. A database n >= 1's keys are stored under
 * KEEL_DB_PREFIX, n, their name; database 0's under their name
 * (storage.h). See codec.h. */
#include <stdlib.h>
#include <string.h>

#include "common/le.h"
#include "store/internal.h"

#define ANY_DB (-2)
/* SWAPDB's namespace in the middle of a swap: KEEL_DB_PREFIX and byte 0,
 * a name storage_key_db calls a system key, so no reader sees it as a
 * client's; no entry leaves a key there. */
#define SWAP_NS KEEL_MAX_DATABASES

/* The namespace of a stored name: its database (0..255), SWAP_NS, or -1
 * for a system key; *user (if not NULL): the client's name. */
static int ns_of(struct keel_slice key, struct keel_slice *user)
{
    int db = storage_key_db(key, user);
    if (db >= 0) return db;
    if (key.n > KEEL_DB_KEY_OVERHEAD && memcmp(key.p, KEEL_DB_PREFIX, KEEL_DB_PREFIX_LEN) == 0 &&
        key.p[KEEL_DB_PREFIX_LEN] == 0) {
        if (user != NULL) *user = (struct keel_slice){key.p + KEEL_DB_KEY_OVERHEAD, key.n - KEEL_DB_KEY_OVERHEAD};
        return SWAP_NS;
    }
    return -1;
}

/* The stored name of user in namespace ns into out. */
static struct keel_slice ns_key(int ns, struct keel_slice user, uint8_t *out)
{
    if (ns == 0) return user;
    memcpy(out, KEEL_DB_PREFIX, KEEL_DB_PREFIX_LEN);
    out[KEEL_DB_PREFIX_LEN] = ns == SWAP_NS ? 0 : (uint8_t)ns;
    if (user.n > 0) memcpy(out + KEEL_DB_KEY_OVERHEAD, user.p, user.n);
    return (struct keel_slice){out, user.n + KEEL_DB_KEY_OVERHEAD};
}

/* FLUSH, FLUSHDB and SWAPDB walk the keyspace in rounds of up to
 * FLUSH_ROUND keys of one namespace collected by a scan (a scan cannot
 * change the map under itself), then delete or move them. Redis emits no
 * keyspace event for FLUSHDB/FLUSHALL/SWAPDB; nor does this. */
#define FLUSH_ROUND 1024
#define FLUSH_BYTES (1u << 20)

/* One round's keys, gathered by a scan and deleted after it (a scan's keys
 * point into the map, which the deletes change). At most FLUSH_ROUND keys,
 * and past FLUSH_BYTES of names the round ends early: keys are up to 64 KiB. */
struct flush_round
{
    uint8_t *keys; /* (le32 length, bytes) each */
    size_t len, cap;
    unsigned n;
    bool oom;
    int db; /* the namespace collected (ns_of); ANY_DB: every database's keys */
};

static int flush_cb(void *arg, struct keel_slice key, const struct keel_record *rec)
{
    struct flush_round *fr = arg;
    int ns = ns_of(key, NULL);
    (void)rec;
    if (fr->db == ANY_DB ? ns < 0 || ns == SWAP_NS : ns != fr->db) return 0;
    if (fr->len + 4 + key.n > fr->cap) {
        size_t cap = fr->cap * 2 > fr->len + 4 + key.n ? fr->cap * 2 : fr->len + 4 + key.n;
        uint8_t *p = realloc(fr->keys, cap);
        if (p == NULL) {
            fr->oom = true;
            return 1;
        }
        fr->keys = p;
        fr->cap = cap;
    }
    le32_store(fr->keys + fr->len, (uint32_t)key.n);
    memcpy(fr->keys + fr->len + 4, key.p, key.n);
    fr->len += 4 + key.n;
    return ++fr->n == FLUSH_ROUND || fr->len >= FLUSH_BYTES;
}

/* Every key of namespace `ns` (ANY_DB: of every database) deleted, or
 * moved to namespace `to` under the same client name (to >= 0). */
static int walk(struct apply_ctx *c, int ns, int to)
{
    struct flush_round fr = {malloc(64 * 1024), 0, 64 * 1024, 0, false, ns};
    uint8_t start[KEEL_KEY_INLINE]; /* a position (storage.h): at most 511 bytes */
    uint8_t *name = to >= 0 ? malloc(KEEL_MAX_KEY + KEEL_DB_KEY_OVERHEAD) : NULL;
    size_t start_len = 0;
    bool full;
    int rc = 0;
    if (fr.keys == NULL || (to >= 0 && name == NULL)) {
        free(fr.keys);
        free(name);
        return KEEL_ENOMEM;
    }
    if (ns > 0) start_len = ns_key(ns, (struct keel_slice){NULL, 0}, start).n; /* its short names first */
    do {
        fr.len = 0;
        fr.n = 0;
        rc = storage_scan(c->txn, (struct keel_slice){start, start_len}, flush_cb, &fr);
        if (fr.oom) rc = KEEL_ENOMEM;
        if (rc != 0 && rc != 1) break;
        full = rc == 1;
        rc = 0;
        for (size_t at = 0; at < fr.len && rc == 0;) {
            size_t n = le32_load(fr.keys + at);
            struct keel_slice key = {fr.keys + at + 4, n}, user;
            if (at + 4 + n == fr.len) /* the next round starts past it */
                start_len = storage_key_pos(key, start);
            if (to < 0) {
                rc = storage_del(c->txn, key);
            } else {
                (void)ns_of(key, &user);
                struct keel_slice dst = ns_key(to, user, name);
                rc = storage_move(c->txn, key, dst, c->index);
                /* Redis's SWAPDB wakes the clients blocked on a key it brings in. */
                if (rc == 0 && to != SWAP_NS) store_event(c, KEEL_EV_SWAPPED, dst);
            }
            at += 4 + n;
        }
    } while (rc == 0 && full);
    free(fr.keys);
    free(name);
    return rc;
}

int apply_flush(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    int rc = walk(c, cmd->type == STORE_CMD_FLUSHDB ? (int)cmd->num : ANY_DB, -1);
    if (rc != 0) return rc;
    keel_reply_ok(r);
    return 0;
}

/* Over the long keys (long names, whose positions start with
 * KEEL_LONGKEY_PREFIX): stops at the first short name, past them. */
static int too_long_cb(void *arg, struct keel_slice key, const struct keel_record *rec)
{
    (void)rec;
    if (key.n <= KEEL_KEY_INLINE) return 1;
    if (ns_of(key, NULL) == 0 && key.n > KEEL_MAX_KEY - KEEL_DB_KEY_OVERHEAD) {
        *(bool *)arg = true;
        return 1;
    }
    return 0;
}

/* SWAPDB a b: a's keys to a namespace no client sees, b's to a, those to
 * b, each move O(1) (storage_move keeps a collection's elements), so
 * O(keys of a and b) in one entry, atomic like every entry. A swapped key
 * gets this entry's version: WATCH on it fails, as Redis's SWAPDB touches
 * the watched keys that exist in either database. */
int apply_swapdb(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    int a = (int)cmd->num, b = (int)cmd->version;
    if (a == b) {
        keel_reply_ok(r);
        return 0;
    }
    if (a == 0 || b == 0) {
        /* A database 0 name can be longer than any other database's. */
        bool too_long = false;
        int rc = storage_scan(c->txn, keel_str(KEEL_LONGKEY_PREFIX), too_long_cb, &too_long);
        if (rc != 0 && rc != 1) return rc;
        if (too_long) {
            keel_reply_error(r, KEEL_ETOOBIG, "database 0 holds a key too long for another database");
            return 0;
        }
    }
    int rc = walk(c, a, SWAP_NS);
    if (rc == 0) rc = walk(c, b, a);
    if (rc == 0) rc = walk(c, SWAP_NS, b);
    if (rc != 0) return rc;
    keel_reply_ok(r);
    return 0;
}
