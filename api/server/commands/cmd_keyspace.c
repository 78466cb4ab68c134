/* api: keyspace commands beside DEL/EXISTS/EXPIRE: EXPIRETIME PEXPIRETIME
 * TOUCH RANDOMKEY TIME (reads and local), RENAME RENAMENX COPY FLUSHDB
 * FLUSHALL (writes). */
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "api/server/commands/commands.h"
#include "api/server/db.h"

/* xorshift64*, seeded once from the kernel: node-local choices only (which
 * key RANDOMKEY shows), never anything that reaches the log. */
uint64_t srv_random(void)
{
    static uint64_t x;
    if (x == 0) {
        if (getrandom(&x, sizeof x, 0) != (ssize_t)sizeof x) x = (uint64_t)(uintptr_t)&x;
        if (x == 0) x = 0x9E3779B97F4A7C15ull;
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    return x * 0x2545F4914F6CDD1Dull;
}

/* EXPIRETIME / PEXPIRETIME: -2 absent, -1 no expiry, else the absolute
 * Unix time (seconds rounded as Redis does). */
static int expiretime(struct slot *s, struct keel_read *rd, bool ms)
{
    struct keel_record rec;
    int rc = keel_read_get(rd, s->argv[1], &rec);
    if (rc == KEEL_ENOTFOUND) resp_int(&s->out, -2);
    else if (rc != 0) return rc;
    else if (rec.expire_at == 0) resp_int(&s->out, -1);
    else resp_int(&s->out, ms ? rec.expire_at : (rec.expire_at + 500) / 1000);
    return 0;
}

CMD_DECL_READ(cmd_expiretime)
{
    return expiretime(s, rd, false);
}

CMD_DECL_READ(cmd_pexpiretime)
{
    return expiretime(s, rd, true);
}

/* TOUCH key...: how many exist (Keel keeps no access time to update). */
CMD_DECL_READ(cmd_touch)
{
    struct keel_record rec;
    int64_t n = 0;
    for (uint32_t i = 1; i < s->argc; i++) {
        int rc = keel_read_get(rd, s->argv[i], &rec);
        if (rc != 0 && rc != KEEL_ENOTFOUND) return rc;
        n += rc == 0;
    }
    resp_int(&s->out, n);
    return 0;
}

/* RANDOMKEY. Up to RANDOMKEY_EXACT stored keys: a uniform choice among the
 * live ones (reservoir sampling over a walk). Beyond that a walk would cost
 * too much: the first live key at or after a random byte string, wrapping
 * once to the start (not uniform: a key after a wide gap is likelier). */
#define RANDOMKEY_EXACT 10000

struct pick
{
    uint64_t seen;
    bool first_only;
    int db;
    struct keel_slice key;
};

static int pick_cb(void *arg, struct keel_slice key, const struct keel_record *rec)
{
    struct pick *p = arg;
    (void)rec;
    if (storage_key_db(key, &key) != p->db) return 0; /* the connection's database only */
    p->seen++;
    if (p->first_only) {
        p->key = key;
        return 1;
    }
    if (srv_random() % p->seen == 0) p->key = key; /* the txn keeps key valid */
    return 0;
}

CMD_DECL_READ(cmd_randomkey)
{
    struct pick p = {0, false, (int)s->db, {NULL, 0}};
    int rc;
    if (keel_read_count(rd) <= RANDOMKEY_EXACT || s->db != 0) {
        /* Database n >= 1: a uniform choice over a walk of it (db.h). */
        rc = keel_read_scan(rd, (struct keel_slice){NULL, 0}, pick_cb, &p);
    } else {
        uint64_t r = srv_random();
        uint8_t start[8];
        for (int i = 0; i < 8; i++) start[i] = (uint8_t)(r >> (8 * i));
        p.first_only = true;
        rc = keel_read_scan(rd, (struct keel_slice){start, sizeof start}, pick_cb, &p);
        if (rc == 0 && p.seen == 0) rc = keel_read_scan(rd, (struct keel_slice){NULL, 0}, pick_cb, &p);
    }
    if (rc != 0 && rc != 1) return rc;
    if (p.seen == 0) resp_null(&s->out, s->proto);
    else resp_bulk(&s->out, p.key.p, p.key.n);
    return 0;
}

/* TIME: the node's cluster clock (raft/clock.h), the time keys expire by,
 * as Redis's [seconds, microseconds]; it has millisecond resolution. */
CMD_DECL_LOCAL(cmd_time)
{
    int64_t ms = srv_now(s->srv);
    char sec[24], usec[24];
    snprintf(sec, sizeof sec, "%lld", (long long)(ms / 1000));
    snprintf(usec, sizeof usec, "%lld", (long long)(ms % 1000) * 1000);
    resp_array(&s->out, 2);
    resp_bulk_str(&s->out, sec);
    resp_bulk_str(&s->out, usec);
    slot_done(s);
}

/* RENAME key newkey / RENAMENX key newkey: one RENAME entry. */
CMD_DECL_ENCODE(cmd_rename)
{
    if (!srv_check_key(s, s->argv[1]) || !srv_check_key(s, s->argv[2])) return -1;
    keel_enc_rename(e, s->argv[1], s->argv[2], 0);
    return 1;
}

CMD_DECL_ENCODE(cmd_renamenx)
{
    if (!srv_check_key(s, s->argv[1]) || !srv_check_key(s, s->argv[2])) return -1;
    keel_enc_rename(e, s->argv[1], s->argv[2], KEEL_RENAME_NX);
    return 1;
}

/* LMDB's cost of one entry beyond its key and value: an 8-byte node header
 * and a 2-byte slot in its page. */
#define ENTRY_OVERHEAD 10

static int member_bytes_cb(void *arg, struct keel_slice member, struct keel_slice data)
{
    /* the sub-key's 9-byte prefix (id, tag), the member and its data */
    *(uint64_t *)arg += 9 + member.n + data.n + ENTRY_OVERHEAD;
    return 0;
}

static int zmember_bytes_cb(void *arg, double score, struct keel_slice member)
{
    (void)score;
    /* the member's sub-key (prefix, member, its 8-byte score) and its
     * entry in the score index (prefix, 8-byte sortable score, member) */
    *(uint64_t *)arg += 2 * (9 + 8 + member.n + ENTRY_OVERHEAD);
    return 0;
}

/* A collection's sub-keys, every one counted (no sampling). */
static int coll_bytes(struct keel_read *rd, const struct keel_record *rec, struct keel_slice key,
                      uint64_t *bytes)
{
    struct keel_coll coll;
    int rc = 0;
    switch (rec->type) {
        case KEEL_TYPE_SET:
            rc = keel_read_set(rd, key, &coll);
            if (rc == 0) rc = keel_read_members(rd, &coll, member_bytes_cb, bytes);
            break;
        case KEEL_TYPE_LIST: /* an item's sub-key: prefix and 8-byte position, the item */
            rc = keel_read_list(rd, key, &coll);
            if (rc == 0) rc = keel_read_list_walk(rd, &coll, 0, coll.count, member_bytes_cb, bytes);
            break;
        case KEEL_TYPE_ZSET: {
            struct keel_zrange all = {-INFINITY, INFINITY, false, false};
            rc = keel_read_zset(rd, key, &coll);
            if (rc == 0) rc = keel_read_zrange_score(rd, &coll, &all, false, 0, -1, zmember_bytes_cb, bytes);
            break;
        }
        default:
            break;
    }
    return rc;
}

/* MEMORY USAGE key [SAMPLES count] | MEMORY HELP. The bytes a key takes in
 * Keel's store: its name, its record (a 24-byte header and the value, a
 * hash's fields included), a collection's sub-keys (every one counted: no
 * sampling; a sorted set's twice, member and score index) and LMDB's
 * per-entry overhead; nil for a missing key. SAMPLES is checked and has no
 * effect. DOCTOR, STATS, MALLOC-STATS and PURGE
 * describe Redis's allocator, which Keel does not have. */
CMD_DECL_READ(cmd_memory)
{
    if (slot_arg_is(s, 1, "HELP") && s->argc == 2) {
        static const char *help[] = {
            "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value (in Keel: its size in the store).",
            "HELP",
            "    Print this help.",
        };
        resp_array(&s->out, sizeof help / sizeof help[0]);
        for (size_t i = 0; i < sizeof help / sizeof help[0]; i++) resp_simple(&s->out, help[i]);
        return 0;
    }
    if (!slot_arg_is(s, 1, "USAGE") || s->argc < 3) {
        srv_reply_errorf(&s->out, KEEL_EINVAL, "unknown subcommand or wrong number of arguments for '%.*s'. Try MEMORY HELP.",
                         (int)s->argv[1].n, (const char *)s->argv[1].p);
        return 0;
    }
    for (uint32_t a = 3; a < s->argc; a += 2) {
        long long n;
        if (!slot_arg_is(s, a, "SAMPLES") || a + 1 >= s->argc) {
            srv_syntax_error(s);
            return 0;
        }
        if (!srv_arg_int(s, a + 1, &n)) return 0;
        if (n < 0) {
            srv_syntax_error(s);
            return 0;
        }
    }
    struct keel_record rec;
    int rc = keel_read_get(rd, s->argv[2], &rec);
    if (rc == KEEL_ENOTFOUND) {
        resp_null(&s->out, s->proto);
        return 0;
    }
    if (rc != 0) return rc;
    uint64_t bytes = s->argv[2].n + 24 + rec.len + ENTRY_OVERHEAD;
    if (s->argv[2].n > KEEL_KEY_INLINE) bytes += KEEL_LONGKEY_POS; /* its hashed position too */
    rc = coll_bytes(rd, &rec, s->argv[2], &bytes);
    if (rc != 0) return rc;
    resp_int(&s->out, (int64_t)bytes);
    return 0;
}

/* ---- the element scans' arguments (HSCAN SSCAN ZSCAN) ------------------ */

bool srv_scan_cursor(struct slot *s)
{
    char buf[32], *end;
    slot_arg(s, 2, buf, sizeof buf);
    (void)strtoull(buf, &end, 10);
    if (*end != 0 || s->argv[2].n == 0 || s->argv[2].n >= sizeof buf || buf[0] == '-') {
        srv_reply_error(&s->out, KEEL_EINVAL, "invalid cursor");
        return false;
    }
    return true;
}

void srv_scan_empty(struct slot *s)
{
    resp_array(&s->out, 2);
    resp_bulk_str(&s->out, "0");
    resp_array(&s->out, 0);
}

bool srv_scan_options(struct slot *s, const char **pattern, size_t *plen)
{
    for (uint32_t i = 3; i < s->argc; i += 2) {
        long long count;
        if (i + 1 >= s->argc) {
            srv_syntax_error(s);
            return false;
        }
        if (slot_arg_is(s, i, "COUNT")) {
            if (!srv_arg_int(s, i + 1, &count)) return false;
            if (count < 1) {
                srv_syntax_error(s);
                return false;
            }
        } else if (slot_arg_is(s, i, "MATCH")) {
            *pattern = (const char *)s->argv[i + 1].p;
            *plen = s->argv[i + 1].n;
        } else {
            srv_syntax_error(s);
            return false;
        }
    }
    return true;
}
