/* store: ACL users in the replicated state: the leader's SETUSER/DELUSER
 * encoders, their apply, and the reads. See store.h (keel_store_acl_*).
 *
 * A user is the system key KEEL_ACL_PREFIX<name> (a string record whose
 * value is its normalized rule text, acl_describe), so users are in the
 * digest, raft snapshots, backups and restores like any key; the server
 * refuses clients every key under "\xffkeel:". The default user exists
 * implicitly, as Redis creates it, until a SETUSER default stores it. */
#include <string.h>

#include "store/acl.h"
#include "store/internal.h"

#define ACL_KEY_MAX (sizeof KEEL_ACL_PREFIX - 1 + ACL_MAX_NAME)
#define META_ACL "acl"

static struct keel_slice user_key(struct keel_slice name, uint8_t *buf)
{
    size_t pn = sizeof KEEL_ACL_PREFIX - 1;
    memcpy(buf, KEEL_ACL_PREFIX, pn);
    memcpy(buf + pn, name.p, name.n);
    return (struct keel_slice){buf, pn + name.n};
}

static bool is_default(struct keel_slice name)
{
    return name.n == 7 && memcmp(name.p, "default", 7) == 0;
}

/* Build u from its stored rule text: a new user, then the words in order. */
static int user_from_rules(struct keel_slice name, struct keel_slice rules,
                           struct acl_user *u, const char **err)
{
    int rc = acl_user_init(u, (const char *)name.p, name.n);
    if (rc != 0) return rc;
    size_t at = 0;
    while (at < rules.n) {
        size_t end = at;
        while (end < rules.n && rules.p[end] != ' ') end++;
        rc = acl_rule(u, rules.p + at, end - at, err);
        if (rc != 0) {
            acl_user_close(u);
            return rc;
        }
        at = end + 1;
    }
    return 0;
}

/* The user name's record in txn: 0 with u filled and *version its key's
 * version (0: the implicit default), or KEEL_ENOTFOUND. */
static int user_load(struct keel_txn *txn, struct keel_slice name, struct acl_user *u,
                     uint64_t *version)
{
    uint8_t kb[ACL_KEY_MAX];
    struct keel_record rec;
    const char *err;
    if (!acl_name_valid(name.p, name.n)) return KEEL_ENOTFOUND;
    int rc = storage_get(txn, user_key(name, kb), &rec);
    if (rc == KEEL_ENOTFOUND && is_default(name)) {
        *version = 0;
        return acl_user_init_default(u);
    }
    if (rc != 0) return rc;
    *version = rec.version;
    rc = user_from_rules(name, (struct keel_slice){rec.val, rec.len}, u, &err);
    return rc == KEEL_EINVAL ? KEEL_ECORRUPT : rc; /* apply stored only what it parsed */
}

/* ---- apply ------------------------------------------------------------------ */

int apply_acl(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    uint8_t kb[ACL_KEY_MAX];
    struct keel_slice key = user_key(cmd->key, kb);
    struct keel_record rec;
    int rc = storage_get(c->txn, key, &rec);
    if (rc != 0 && rc != KEEL_ENOTFOUND) return rc;
    uint64_t now = rc == 0 ? rec.version : 0;
    bool exists = rc == 0;
    if (now != cmd->version) {
        keel_reply_error(r, KEEL_EBUSY, "the ACL user changed meanwhile, try again");
        return 0;
    }
    if (cmd->flags & KEEL_ACL_DELETE) {
        if (is_default(cmd->key)) {
            keel_reply_error(r, KEEL_EINVAL, "The 'default' user cannot be removed");
            return 0;
        }
        if (exists && (rc = storage_del(c->txn, key)) != 0) return rc;
        keel_reply_int(r, exists ? 1 : 0);
        if (!exists) return 0;
    } else {
        /* Parse what the leader wrote and store its description: the
         * stored text is canonical even for a hand-made entry. */
        struct acl_user u;
        struct buf text;
        const char *err = "Syntax error";
        rc = user_from_rules(cmd->key, cmd->value, &u, &err);
        if (rc == KEEL_EINVAL) {
            keel_reply_error(r, KEEL_EINVAL, err);
            return 0;
        }
        if (rc != 0) return rc;
        buf_init(&text);
        acl_describe(&u, &text);
        acl_user_close(&u);
        if (text.oom) {
            buf_close(&text);
            return KEEL_ENOMEM;
        }
        struct keel_record nr = {KEEL_TYPE_STRING, 0, c->index, text.p, text.len};
        rc = storage_put(c->txn, key, &nr, NULL);
        buf_close(&text);
        if (rc != 0) return rc;
        keel_reply_ok(r);
    }
    c->st->acl_changes++;
    return storage_meta_put(c->txn, META_ACL, c->index);
}

/* ---- the leader's side ------------------------------------------------------ */

int keel_store_acl_setuser(struct keel_store *st, struct keel_enc *e, struct keel_slice name,
                           const struct keel_slice *rules, size_t n, char *msg, size_t size)
{
    struct keel_txn txn;
    struct acl_user u;
    uint64_t base = 0;
    snprintf(msg, size, "%s", "");
    if (!acl_name_valid(name.p, name.n)) {
        snprintf(msg, size, "Usernames can't contain spaces or null characters");
        return KEEL_EINVAL;
    }
    int rc = storage_txn_begin(st->storage, false, &txn);
    if (rc != 0) return rc;
    rc = user_load(&txn, name, &u, &base);
    storage_txn_abort(&txn);
    if (rc == KEEL_ENOTFOUND) rc = acl_user_init(&u, (const char *)name.p, name.n);
    if (rc != 0) return rc;
    rc = acl_setuser(&u, rules, n, msg, size);
    if (rc == 0) {
        struct buf text;
        buf_init(&text);
        acl_describe(&u, &text);
        if (text.oom) rc = KEEL_ENOMEM;
        else if (text.len > ACL_MAX_RULES) rc = KEEL_ETOOBIG;
        else keel_enc_acl(e, name, base, (struct keel_slice){text.p, text.len}, 0);
        buf_close(&text);
    }
    acl_user_close(&u);
    return rc;
}

int keel_store_acl_deluser(struct keel_store *st, struct keel_enc *e, struct keel_slice name,
                           char *msg, size_t size)
{
    struct keel_txn txn;
    struct keel_record rec;
    uint8_t kb[ACL_KEY_MAX];
    snprintf(msg, size, "%s", "");
    if (is_default(name)) {
        snprintf(msg, size, "The 'default' user cannot be removed");
        return KEEL_EINVAL;
    }
    if (!acl_name_valid(name.p, name.n)) return KEEL_ENOTFOUND;
    int rc = storage_txn_begin(st->storage, false, &txn);
    if (rc != 0) return rc;
    rc = storage_get(&txn, user_key(name, kb), &rec);
    uint64_t base = rc == 0 ? rec.version : 0;
    storage_txn_abort(&txn);
    if (rc != 0) return rc; /* KEEL_ENOTFOUND: nothing to propose */
    keel_enc_acl(e, name, base, (struct keel_slice){NULL, 0}, KEEL_ACL_DELETE);
    return 0;
}

/* ---- reads ------------------------------------------------------------------ */

int keel_store_acl_get(struct keel_store *st, struct keel_slice name, struct acl_user *u)
{
    struct keel_txn txn;
    uint64_t version;
    int rc = storage_txn_begin(st->storage, false, &txn);
    if (rc != 0) return rc;
    rc = user_load(&txn, name, u, &version);
    storage_txn_abort(&txn);
    return rc;
}

struct list_walk
{
    struct keel_txn *txn;
    keel_store_acl_cb cb;
    void *arg;
    bool default_seen;
    bool stopped; /* cb asked to stop */
    int rc;
};

static int list_default(struct list_walk *w)
{
    struct acl_user u;
    w->default_seen = true;
    int rc = acl_user_init_default(&u);
    if (rc != 0) return w->rc = rc;
    rc = w->cb(w->arg, &u);
    acl_user_close(&u);
    if (rc != 0) w->stopped = true;
    return rc;
}

static int list_one(void *arg, struct keel_slice key, const struct keel_record *rec)
{
    struct list_walk *w = arg;
    size_t pn = sizeof KEEL_ACL_PREFIX - 1;
    if (key.n < pn || memcmp(key.p, KEEL_ACL_PREFIX, pn) != 0) return 1; /* past the users */
    struct keel_slice name = {key.p + pn, key.n - pn};
    struct acl_user u;
    const char *err;
    if (!w->default_seen) {
        /* The implicit default, in name order, if it was never stored. */
        size_t m = name.n < 7 ? name.n : 7;
        int c = memcmp(name.p, "default", m);
        if (c > 0 || (c == 0 && name.n > 7)) {
            int rc = list_default(w);
            if (rc != 0) return rc;
        } else if (is_default(name)) {
            w->default_seen = true;
        }
    }
    int rc = user_from_rules(name, (struct keel_slice){rec->val, rec->len}, &u, &err);
    if (rc != 0) return w->rc = rc == KEEL_EINVAL ? KEEL_ECORRUPT : rc;
    rc = w->cb(w->arg, &u);
    acl_user_close(&u);
    if (rc != 0) w->stopped = true;
    return rc;
}

int keel_store_acl_list(struct keel_store *st, keel_store_acl_cb cb, void *arg)
{
    struct keel_txn txn;
    int rc = storage_txn_begin(st->storage, false, &txn);
    if (rc != 0) return rc;
    struct list_walk w = {&txn, cb, arg, false, false, 0};
    struct keel_slice start = {(const uint8_t *)KEEL_ACL_PREFIX, sizeof KEEL_ACL_PREFIX - 1};
    rc = storage_scan(&txn, start, list_one, &w);
    if (rc == 1 && !w.stopped) rc = 0; /* the walk left the prefix */
    if (rc == 0 && w.rc == 0 && !w.default_seen) rc = list_default(&w);
    storage_txn_abort(&txn);
    if (w.rc != 0) return w.rc;
    return rc;
}

int keel_store_acl_version(struct keel_store *st, uint64_t *index)
{
    struct keel_txn txn;
    int rc = storage_txn_begin(st->storage, false, &txn);
    if (rc != 0) return rc;
    *index = 0;
    rc = storage_meta_get(&txn, META_ACL, index);
    storage_txn_abort(&txn);
    return rc;
}

uint64_t keel_store_acl_changes(const struct keel_store *st)
{
    return st->acl_changes;
}
