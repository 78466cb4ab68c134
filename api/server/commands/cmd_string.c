/* api: string and keyspace commands: GET SET GETDEL GETEX MGET MSET DEL
 * UNLINK EXISTS TYPE STRLEN INCR INCRBY DECR DECRBY APPEND EXPIRE PEXPIRE
 * EXPIREAT PEXPIREAT TTL PTTL PERSIST SCAN KEYS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/resp/resp_glob.h"
#include "api/server/commands/commands.h"
#include "api/server/db.h"
#include "api/server/server_internal.h"

/* ---- reads ------------------------------------------------------------- */

/* The live record of argv[i]: 1 found, 0 absent, -1 a storage error (rc). */
static int lookup(struct slot *s, struct keel_read *rd, uint32_t i, struct keel_record *rec, int *rc)
{
    *rc = keel_read_get(rd, s->argv[i], rec);
    if (*rc == 0) return 1;
    if (*rc == KEEL_ENOTFOUND) {
        *rc = 0;
        return 0;
    }
    return -1;
}

static void wrongtype(struct slot *s)
{
    srv_reply_error(&s->out, KEEL_EWRONGTYPE, NULL);
}

CMD_DECL_READ(cmd_get)
{
    struct keel_record rec;
    int rc;
    switch (lookup(s, rd, 1, &rec, &rc)) {
        case 1:
            if (rec.type != KEEL_TYPE_STRING) wrongtype(s);
            else resp_bulk(&s->out, rec.val, rec.len);
            return 0;
        case 0:
            resp_null(&s->out, s->proto);
            return 0;
    }
    return rc;
}

CMD_DECL_READ(cmd_mget)
{
    struct keel_record rec;
    int rc;
    resp_array(&s->out, s->argc - 1);
    for (uint32_t i = 1; i < s->argc; i++) {
        int found = lookup(s, rd, i, &rec, &rc);
        if (found < 0) return rc;
        if (found && rec.type == KEEL_TYPE_STRING) resp_bulk(&s->out, rec.val, rec.len);
        else resp_null(&s->out, s->proto); /* Redis: nil for other types too */
    }
    return 0;
}

CMD_DECL_READ(cmd_exists)
{
    struct keel_record rec;
    int rc;
    int64_t n = 0;
    for (uint32_t i = 1; i < s->argc; i++) {
        int found = lookup(s, rd, i, &rec, &rc);
        if (found < 0) return rc;
        n += found;
    }
    resp_int(&s->out, n);
    return 0;
}

CMD_DECL_READ(cmd_type)
{
    struct keel_record rec;
    int rc;
    int found = lookup(s, rd, 1, &rec, &rc);
    if (found < 0) return rc;
    resp_simple(&s->out, !found                          ? "none"
                         : rec.type == KEEL_TYPE_HASH   ? "hash"
                         : rec.type == KEEL_TYPE_SET    ? "set"
                         : rec.type == KEEL_TYPE_LIST   ? "list"
                         : rec.type == KEEL_TYPE_ZSET   ? "zset"
                         : rec.type == KEEL_TYPE_STRING ? "string"
                                                        : "none");
    return 0;
}

CMD_DECL_READ(cmd_strlen)
{
    struct keel_record rec;
    int rc;
    int found = lookup(s, rd, 1, &rec, &rc);
    if (found < 0) return rc;
    if (found && rec.type != KEEL_TYPE_STRING) wrongtype(s);
    else resp_int(&s->out, found ? (int64_t)rec.len : 0);
    return 0;
}

static int ttl(struct slot *s, struct keel_read *rd, int64_t unit)
{
    struct keel_record rec;
    int rc;
    int found = lookup(s, rd, 1, &rec, &rc);
    if (found < 0) return rc;
    if (!found) resp_int(&s->out, -2);
    else if (rec.expire_at == 0) resp_int(&s->out, -1);
    else resp_int(&s->out, (rec.expire_at - rd->now + unit / 2) / unit); /* Redis rounds */
    return 0;
}

CMD_DECL_READ(cmd_ttl)
{
    return ttl(s, rd, 1000);
}

CMD_DECL_READ(cmd_pttl)
{
    return ttl(s, rd, 1);
}

/* SCAN and KEYS: keys in byte order. A SCAN cursor names the key to resume
 * from; cursors are kept by the node that answered (a bounded table, least
 * recently used out) since clients expect a number. */
struct scan_state
{
    struct slot *s;
    const char *pattern;
    size_t plen;
    int type;           /* KEEL_TYPE_*, or 0 for any */
    uint64_t budget;    /* keys to look at */
    uint64_t emitted;
    struct buf keys;
    bool more;
    size_t last_len;
    uint8_t last[KEEL_KEY_INLINE]; /* the next key's position */
};

static int scan_cb(void *arg, struct keel_slice key, const struct keel_record *rec)
{
    struct scan_state *st = arg;
    if (st->budget == 0) {
        /* The next key to visit: where the cursor resumes. Keys are
         * walked by position, so a long key resumes from its hash. */
        st->last_len = storage_key_pos(key, st->last);
        st->more = true;
        return 1;
    }
    st->budget--;
    /* The connection's database only, by the names its client gave (db.h). */
    if (storage_key_db(key, &key) != (int)st->s->db) return 0;
    if (st->type != 0 && rec->type != st->type) return 0;
    if (st->pattern != NULL && !resp_glob_match(st->pattern, st->plen, key.p, key.n)) return 0;
    resp_bulk(&st->keys, key.p, key.n);
    st->emitted++;
    return 0;
}

static struct scan_cursor *cursor_find(struct keel_server *srv, uint64_t id)
{
    for (unsigned i = 0; i < SCAN_CURSORS; i++) {
        if (srv->cursors[i].id == id && id != 0) return &srv->cursors[i];
    }
    return NULL;
}

static uint64_t cursor_save(struct keel_server *srv, const uint8_t *key, size_t len)
{
    struct scan_cursor *victim = &srv->cursors[0];
    for (unsigned i = 1; i < SCAN_CURSORS; i++) {
        if (srv->cursors[i].used < victim->used) victim = &srv->cursors[i];
    }
    victim->id = ++srv->cursor_clock * 7919 + 1; /* never 0 */
    victim->used = srv->cursor_clock;
    victim->len = len;
    memcpy(victim->key, key, len);
    return victim->id;
}

CMD_DECL_READ(cmd_scan)
{
    struct keel_server *srv = s->srv;
    struct scan_state st;
    char buf[64];
    long long count = 10;
    memset(&st, 0, sizeof st);
    st.s = s;
    for (uint32_t i = 2; i < s->argc; i += 2) {
        if (i + 1 >= s->argc) {
            srv_syntax_error(s);
            return 0;
        }
        if (slot_arg_is(s, i, "MATCH")) {
            st.pattern = (const char *)s->argv[i + 1].p;
            st.plen = s->argv[i + 1].n;
        } else if (slot_arg_is(s, i, "COUNT")) {
            if (!srv_arg_int(s, i + 1, &count)) return 0;
            if (count < 1) {
                srv_syntax_error(s);
                return 0;
            }
        } else if (slot_arg_is(s, i, "TYPE")) {
            if (slot_arg_is(s, i + 1, "string")) st.type = KEEL_TYPE_STRING;
            else if (slot_arg_is(s, i + 1, "hash")) st.type = KEEL_TYPE_HASH;
            else if (slot_arg_is(s, i + 1, "set")) st.type = KEEL_TYPE_SET;
            else if (slot_arg_is(s, i + 1, "list")) st.type = KEEL_TYPE_LIST;
            else if (slot_arg_is(s, i + 1, "zset")) st.type = KEEL_TYPE_ZSET;
            else st.type = -1; /* a type Keel does not have: nothing matches */
        } else {
            srv_syntax_error(s);
            return 0;
        }
    }
    struct keel_slice start = {NULL, 0};
    char *end;
    slot_arg(s, 1, buf, sizeof buf);
    unsigned long long id = strtoull(buf, &end, 10);
    if (*end != 0 || s->argv[1].n == 0) {
        srv_reply_error(&s->out, KEEL_EINVAL, "invalid cursor");
        return 0;
    }
    if (id != 0) {
        struct scan_cursor *cur = cursor_find(srv, id);
        if (cur == NULL) {
            srv_reply_error(&s->out, KEEL_EINVAL,
                            "invalid cursor (unknown to this node, or expired: start again at 0)");
            return 0;
        }
        cur->used = ++srv->cursor_clock;
        start = (struct keel_slice){cur->key, cur->len};
    }
    /* Database n's walk starts at its stored names: its long keys come after
     * them (storage.h), database 0's short ones before. */
    uint8_t first[KEEL_DB_KEY_OVERHEAD];
    if (start.n == 0 && s->db != 0) start = srv_db_start(s->db, first);
    st.budget = (uint64_t)count;
    buf_init(&st.keys);
    int rc = keel_read_scan(rd, start, scan_cb, &st);
    if (rc != 0 && rc != 1) {
        buf_close(&st.keys);
        return rc;
    }
    uint64_t next = st.more ? cursor_save(srv, st.last, st.last_len) : 0;
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)next);
    resp_array(&s->out, 2);
    resp_bulk_str(&s->out, buf);
    resp_array(&s->out, st.emitted);
    buf_append(&s->out, st.keys.p, st.keys.len);
    buf_close(&st.keys);
    return 0;
}

CMD_DECL_READ(cmd_keys)
{
    struct scan_state st;
    memset(&st, 0, sizeof st);
    st.s = s;
    st.pattern = (const char *)s->argv[1].p;
    st.plen = s->argv[1].n;
    st.budget = UINT64_MAX;
    buf_init(&st.keys);
    uint8_t first[KEEL_DB_KEY_OVERHEAD];
    struct keel_slice start = s->db != 0 ? srv_db_start(s->db, first) : (struct keel_slice){NULL, 0};
    int rc = keel_read_scan(rd, start, scan_cb, &st);
    if (rc == 0) {
        resp_array(&s->out, st.emitted);
        buf_append(&s->out, st.keys.p, st.keys.len);
    }
    buf_close(&st.keys);
    return rc;
}

/* ---- writes ------------------------------------------------------------ */

/* SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL] */
CMD_DECL_ENCODE(cmd_set)
{
    unsigned flags = 0;
    int64_t expire_at = 0;
    bool has_expiry = false;
    if (!srv_check_key(s, s->argv[1])) return -1;
    for (uint32_t i = 3; i < s->argc; i++) {
        if (slot_arg_is(s, i, "NX") && !(flags & KEEL_SET_XX)) flags |= KEEL_SET_NX;
        else if (slot_arg_is(s, i, "XX") && !(flags & KEEL_SET_NX)) flags |= KEEL_SET_XX;
        else if (slot_arg_is(s, i, "GET")) flags |= KEEL_SET_GET;
        else if (slot_arg_is(s, i, "KEEPTTL") && !has_expiry) flags |= KEEL_SET_KEEPTTL;
        else if ((slot_arg_is(s, i, "EX") || slot_arg_is(s, i, "PX") || slot_arg_is(s, i, "EXAT") ||
                  slot_arg_is(s, i, "PXAT")) &&
                 !has_expiry && !(flags & KEEL_SET_KEEPTTL) && i + 1 < s->argc) {
            long long v;
            if (!srv_arg_int(s, i + 1, &v)) return -1;
            if (!srv_expiry_from(s, (const char *)s->argv[i].p, v, &expire_at, "set")) return -1;
            has_expiry = true;
            i++;
        } else {
            srv_syntax_error(s);
            return -1;
        }
    }
    keel_enc_set(e, s->argv[1], s->argv[2], expire_at, flags);
    return 1;
}

CMD_DECL_ENCODE(cmd_getdel)
{
    if (!srv_check_key(s, s->argv[1])) return -1;
    keel_enc_getdel(e, s->argv[1]);
    return 1;
}

/* GETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST] */
CMD_DECL_ENCODE(cmd_getex)
{
    int64_t expire_at = 0;
    unsigned flags = 0;
    if (!srv_check_key(s, s->argv[1])) return -1;
    if (s->argc == 3 && slot_arg_is(s, 2, "PERSIST")) {
        flags = KEEL_GETEX_PERSIST;
    } else if (s->argc == 4) {
        long long v;
        if (!(slot_arg_is(s, 2, "EX") || slot_arg_is(s, 2, "PX") || slot_arg_is(s, 2, "EXAT") ||
              slot_arg_is(s, 2, "PXAT"))) {
            srv_syntax_error(s);
            return -1;
        }
        if (!srv_arg_int(s, 3, &v)) return -1;
        if (!srv_expiry_from(s, (const char *)s->argv[2].p, v, &expire_at, "getex")) return -1;
    } else if (s->argc != 2) {
        srv_syntax_error(s);
        return -1;
    }
    keel_enc_getex(e, s->argv[1], expire_at, flags);
    return 1;
}

/* MSET k v [k v ...]: one MSETNX entry with KEEL_MSETNX_ALL, however many
 * pairs (Redis's protocol.tcl sends 10,001): atomic, one +OK. */
CMD_DECL_ENCODE(cmd_mset)
{
    if (s->argc % 2 != 1) {
        srv_reply_error(&s->out, KEEL_EINVAL, "wrong number of arguments for 'mset' command");
        return -1;
    }
    for (uint32_t i = 1; i < s->argc; i += 2) {
        if (!srv_check_key(s, s->argv[i])) return -1;
    }
    keel_enc_mset(e, s->argv + 1, s->argc / 2);
    return 1;
}

CMD_DECL_ENCODE(cmd_del)
{
    for (uint32_t i = 1; i < s->argc; i++) {
        if (!srv_check_key(s, s->argv[i])) return -1;
    }
    keel_enc_del(e, s->argv + 1, s->argc - 1);
    return 1;
}

static int incr(struct slot *s, struct keel_enc *e, int64_t delta)
{
    if (!srv_check_key(s, s->argv[1])) return -1;
    keel_enc_incrby(e, s->argv[1], delta);
    return 1;
}

CMD_DECL_ENCODE(cmd_incr)
{
    return incr(s, e, 1);
}

CMD_DECL_ENCODE(cmd_decr)
{
    return incr(s, e, -1);
}

CMD_DECL_ENCODE(cmd_incrby)
{
    long long v;
    if (!srv_arg_int(s, 2, &v)) return -1;
    return incr(s, e, v);
}

CMD_DECL_ENCODE(cmd_decrby)
{
    long long v;
    if (!srv_arg_int(s, 2, &v)) return -1;
    if (v == INT64_MIN) {
        srv_reply_error(&s->out, KEEL_EOVERFLOW, "decrement would overflow");
        return -1;
    }
    return incr(s, e, -v);
}

CMD_DECL_ENCODE(cmd_append)
{
    if (!srv_check_key(s, s->argv[1])) return -1;
    keel_enc_append(e, s->argv[1], s->argv[2]);
    return 1;
}

/* EXPIRE key seconds [NX|XX|GT|LT], and PEXPIRE, EXPIREAT, PEXPIREAT. */
static int expire(struct slot *s, struct keel_enc *e, const char *unit)
{
    long long v;
    unsigned flags = 0;
    int64_t at;
    if (!srv_check_key(s, s->argv[1]) || !srv_arg_int(s, 2, &v)) return -1;
    for (uint32_t i = 3; i < s->argc; i++) {
        if (slot_arg_is(s, i, "NX")) flags |= KEEL_EXPIRE_NX;
        else if (slot_arg_is(s, i, "XX")) flags |= KEEL_EXPIRE_XX;
        else if (slot_arg_is(s, i, "GT")) flags |= KEEL_EXPIRE_GT;
        else if (slot_arg_is(s, i, "LT")) flags |= KEEL_EXPIRE_LT;
        else {
            srv_reply_errorf(&s->out, KEEL_EINVAL, "Unsupported option %s", (const char *)s->argv[i].p);
            return -1;
        }
    }
    /* Redis's two messages, in Redis's order of checks. */
    if ((flags & KEEL_EXPIRE_NX) && (flags & ~KEEL_EXPIRE_NX)) {
        srv_reply_error(&s->out, KEEL_EINVAL, "NX and XX, GT or LT options at the same time are not compatible");
        return -1;
    }
    if ((flags & KEEL_EXPIRE_GT) && (flags & KEEL_EXPIRE_LT)) {
        srv_reply_error(&s->out, KEEL_EINVAL, "GT and LT options at the same time are not compatible");
        return -1;
    }
    if (!srv_expiry_at(s, unit, v, &at)) return -1;
    /* A time in the past deletes the key (0 is "now", still in the past). */
    keel_enc_expire(e, s->argv[1], at <= 0 ? 1 : at, flags);
    return 1;
}

CMD_DECL_ENCODE(cmd_expire)
{
    return expire(s, e, "EX");
}

CMD_DECL_ENCODE(cmd_pexpire)
{
    return expire(s, e, "PX");
}

CMD_DECL_ENCODE(cmd_expireat)
{
    return expire(s, e, "EXAT");
}

CMD_DECL_ENCODE(cmd_pexpireat)
{
    return expire(s, e, "PXAT");
}

CMD_DECL_ENCODE(cmd_persist)
{
    if (!srv_check_key(s, s->argv[1])) return -1;
    keel_enc_persist(e, s->argv[1]);
    return 1;
}

/* ---- expiry arguments -------------------------------------------------- */

/* v in `unit` to absolute ms, overflow-checked. */
static bool to_ms(const char *unit, long long v, int64_t now, int64_t *out)
{
    bool secs = unit[0] == 'E' || unit[0] == 'e';
    bool abs = strlen(unit) == 4;
    int64_t ms;
    if (secs) {
        if (__builtin_mul_overflow((int64_t)v, (int64_t)1000, &ms)) return false;
    } else {
        ms = v;
    }
    if (!abs && __builtin_add_overflow(ms, now, &ms)) return false;
    *out = ms;
    return true;
}

bool srv_expiry_from(struct slot *s, const char *unit, long long v, int64_t *expire_at,
                     const char *cmd)
{
    if (v <= 0 || !to_ms(unit, v, s->now, expire_at) || *expire_at <= 0) {
        srv_reply_errorf(&s->out, KEEL_EINVAL, "invalid expire time in '%s' command", cmd);
        return false;
    }
    return true;
}

bool srv_expiry_at(struct slot *s, const char *unit, long long v, int64_t *at)
{
    if (!to_ms(unit, v, s->now, at)) {
        srv_reply_errorf(&s->out, KEEL_EINVAL, "invalid expire time in '%s' command", s->cmd->name);
        return false;
    }
    return true;
}
