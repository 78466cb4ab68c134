/* api: ACL SETUSER/DELUSER (replicated: encoded by the leader with
 * store/acl_store.c's encoders, forwarded from a follower like any write),
 * GETUSER, LIST, USERS, WHOAMI, CAT, DRYRUN (this node's applied state) and
 * LOG (this node's denials, acl_log.c). Replies and errors as Redis 7.2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/server/auth.h"
#include "api/server/commands/commands.h"
#include "store/acl.h"

/* ---- SETUSER / DELUSER: writes ------------------------------------------ */

static int setuser_encode(struct slot *s, struct keel_enc *e)
{
    char msg[512] = "";
    int rc = keel_store_acl_setuser(s->srv->store, e, s->argv[2], s->argv + 3, s->argc - 3, msg, sizeof msg);
    if (rc != 0) {
        srv_reply_error(&s->out, rc, msg);
        return -1;
    }
    return 1;
}

/* A concurrent change of the same user makes the entry fail with BUSY
 * (its base version is stale): rebuild it from the new state, once. */
static bool retry_busy(struct slot *s, struct keel_reply_reader *rd)
{
    struct keel_reply_reader peek = *rd;
    struct keel_reply_item it;
    if (keel_reply_next(&peek, &it) != 0 || it.kind != KEEL_REPLY_ERROR || it.integer != KEEL_EBUSY) return false;
    if (s->acl_retried) return false;
    s->acl_retried = true;
    s->redo = true;
    return true;
}

static void setuser_reply(struct slot *s, struct keel_reply_reader *rd, unsigned nsub)
{
    (void)nsub;
    if (!retry_busy(s, rd)) srv_reply_to_resp(&s->out, s->proto, rd);
}

static int deluser_encode(struct slot *s, struct keel_enc *e)
{
    uint32_t found = 0;
    char msg[256];
    for (uint32_t i = 2; i < s->argc; i++) {
        struct keel_enc probe;
        keel_enc_init(&probe, 0, 0, 0);
        int rc = keel_store_acl_deluser(s->srv->store, &probe, s->argv[i], msg, sizeof msg);
        keel_enc_close(&probe);
        if (rc == KEEL_ENOTFOUND) continue;
        if (rc != 0) {
            srv_reply_error(&s->out, rc, msg);
            return -1;
        }
        found++;
    }
    if (found == 0) {
        resp_int(&s->out, 0); /* nobody to remove: nothing to propose */
        return -1;
    }
    if (found > 1) keel_enc_batch_begin(e);
    for (uint32_t i = 2; i < s->argc; i++) {
        int rc = keel_store_acl_deluser(s->srv->store, e, s->argv[i], msg, sizeof msg);
        if (rc != 0 && rc != KEEL_ENOTFOUND) {
            srv_reply_error(&s->out, rc, msg);
            return -1;
        }
    }
    return 1;
}

static void deluser_reply(struct slot *s, struct keel_reply_reader *rd, unsigned nsub)
{
    (void)nsub;
    struct keel_reply_item it;
    if (retry_busy(s, rd)) return;
    struct keel_reply_reader peek = *rd;
    if (keel_reply_next(&peek, &it) != 0) {
        srv_reply_error(&s->out, KEEL_EMALFORMED, "internal: bad ACL DELUSER reply");
        return;
    }
    if (it.kind != KEEL_REPLY_ARRAY) {
        srv_reply_to_resp(&s->out, s->proto, rd);
        return;
    }
    int64_t sum = 0, n = it.integer;
    for (int64_t i = 0; i < n; i++) {
        if (keel_reply_next(&peek, &it) != 0) break;
        if (it.kind == KEEL_REPLY_INT) sum += it.integer;
    }
    resp_int(&s->out, sum);
}

static const struct command setuser_cmd = {"acl", -3, CMD_WRITE | CMD_NOMULTI, NULL, NULL,
                                           setuser_encode, setuser_reply, 0, 0, 0};
static const struct command deluser_cmd = {"acl", -3, CMD_WRITE | CMD_NOMULTI, NULL, NULL,
                                           deluser_encode, deluser_reply, 0, 0, 0};

static void as_write(struct slot *s, const struct command *cmd)
{
    s->cmd = cmd;
    if (s->forwarded_in || s->srv->role == KEEL_ROLE_LEADER) srv_dispatch_write(s);
    else fwd_request(s);
}

/* ---- reads of the applied state ------------------------------------------ */

static void join_keys(const struct acl_user *u, struct buf *b)
{
    if (u->allkeys) {
        buf_append(b, "~*", 2);
        return;
    }
    for (size_t i = 0; i < u->nkeys; i++) {
        if (i) buf_append(b, " ", 1);
        acl_describe_key(&u->keys[i], b);
    }
}

static void join_channels(const struct acl_user *u, struct buf *b)
{
    if (u->allchannels) {
        buf_append(b, "&*", 2);
        return;
    }
    for (size_t i = 0; i < u->nchans; i++) {
        if (i) buf_append(b, " ", 1);
        buf_append(b, "&", 1);
        buf_append(b, u->chans[i].pat, u->chans[i].n);
    }
}

static void getuser(struct slot *s)
{
    struct acl_user u;
    int rc = keel_store_acl_get(s->srv->store, s->argv[2], &u);
    if (rc == KEEL_ENOTFOUND) {
        resp_null(&s->out, s->proto);
        return;
    }
    if (rc != 0) {
        srv_reply_error(&s->out, rc, NULL);
        return;
    }
    struct buf b;
    buf_init(&b);
    resp_map(&s->out, s->proto, 6);
    resp_bulk_str(&s->out, "flags");
    resp_set(&s->out, s->proto, u.nopass ? 3 : 2);
    resp_bulk_str(&s->out, u.on ? "on" : "off");
    if (u.nopass) resp_bulk_str(&s->out, "nopass");
    resp_bulk_str(&s->out, u.skip_sanitize ? "skip-sanitize-payload" : "sanitize-payload");
    resp_bulk_str(&s->out, "passwords");
    resp_array(&s->out, u.npass);
    for (size_t i = 0; i < u.npass; i++) resp_bulk_str(&s->out, u.pass[i]);
    resp_bulk_str(&s->out, "commands");
    acl_describe_commands(&u, &b);
    resp_bulk(&s->out, b.p, b.len);
    b.len = 0;
    resp_bulk_str(&s->out, "keys");
    join_keys(&u, &b);
    resp_bulk(&s->out, b.p, b.len);
    b.len = 0;
    resp_bulk_str(&s->out, "channels");
    join_channels(&u, &b);
    resp_bulk(&s->out, b.p, b.len);
    resp_bulk_str(&s->out, "selectors");
    resp_array(&s->out, 0);
    buf_close(&b);
    acl_user_close(&u);
}

struct list_ctx
{
    struct slot *s;
    bool names_only;
    size_t n;
    struct buf items; /* the replies, counted first */
};

static int list_cb(void *arg, const struct acl_user *u)
{
    struct list_ctx *l = arg;
    if (l->names_only) {
        resp_bulk(&l->items, u->name, u->name_n);
    } else {
        struct buf line;
        buf_init(&line);
        buf_append(&line, "user ", 5);
        buf_append(&line, u->name, u->name_n);
        buf_append(&line, " ", 1);
        acl_describe(u, &line);
        resp_bulk(&l->items, line.p, line.len);
        buf_close(&line);
    }
    l->n++;
    return 0;
}

static void list(struct slot *s, bool names_only)
{
    struct list_ctx l = {s, names_only, 0, {0}};
    buf_init(&l.items);
    int rc = keel_store_acl_list(s->srv->store, list_cb, &l);
    if (rc != 0 || l.items.oom) {
        srv_reply_error(&s->out, rc ? rc : KEEL_ENOMEM, NULL);
    } else {
        resp_array(&s->out, l.n);
        buf_append(&s->out, l.items.p, l.items.len);
    }
    buf_close(&l.items);
}

/* ACL CAT <category> lists row i? The commands Keel has; as Redis, a
 * container by its subcommands ("client|list"), not by its own name. */
static bool listed(size_t i, uint32_t bit)
{
    const struct acl_command *c = &acl_command_categories[i];
    return (c->flags & ACL_CMD_KEEL) && !(c->flags & ACL_CMD_CONTAINER) && (c->cats & bit);
}

static void cat(struct slot *s)
{
    if (s->argc == 2) {
        resp_array(&s->out, acl_categories_n);
        for (size_t i = 0; i < acl_categories_n; i++) resp_bulk_str(&s->out, acl_categories[i].name);
        return;
    }
    uint32_t bit = acl_category_find((const char *)s->argv[2].p, s->argv[2].n);
    if (bit == 0) {
        srv_reply_errorf(&s->out, KEEL_EINVAL, "Unknown category '%.*s'",
                         (int)(s->argv[2].n < 128 ? s->argv[2].n : 128), (const char *)s->argv[2].p);
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < acl_commands_n; i++) n += listed(i, bit);
    resp_array(&s->out, n);
    for (size_t i = 0; i < acl_commands_n; i++)
        if (listed(i, bit)) resp_bulk_str(&s->out, acl_command_categories[i].name);
}

static void dryrun(struct slot *s)
{
    struct acl_user u;
    int rc = keel_store_acl_get(s->srv->store, s->argv[2], &u);
    if (rc != 0) {
        if (rc == KEEL_ENOTFOUND)
            srv_reply_errorf(&s->out, KEEL_EINVAL, "User '%.*s' not found", (int)(s->argv[2].n < 128 ? s->argv[2].n : 128),
                             (const char *)s->argv[2].p);
        else srv_reply_error(&s->out, rc, NULL);
        return;
    }
    const struct command *cmd = command_lookup(&s->argv[3]);
    uint32_t argc = s->argc - 3;
    if (cmd == NULL || (cmd->flags & CMD_INTERNAL)) {
        srv_reply_errorf(&s->out, KEEL_EINVAL, "Command '%.*s' not found", (int)(s->argv[3].n < 128 ? s->argv[3].n : 128),
                         (const char *)s->argv[3].p);
    } else if (cmd->arity >= 0 ? argc != (uint32_t)cmd->arity : argc < (uint32_t)-cmd->arity) {
        srv_reply_errorf(&s->out, KEEL_EINVAL, "wrong number of arguments for '%s' command", cmd->name);
    } else {
        uint32_t arg = 0;
        int v = auth_check(&u, cmd, s->argv + 3, argc, &arg);
        char text[700];
        struct keel_slice x = arg < argc ? s->argv[3 + arg] : keel_str("");
        int xn = (int)(x.n < 256 ? x.n : 256);
        if (v < 0) srv_reply_error(&s->out, KEEL_ENOMEM, NULL);
        else if (v == ACL_OK) resp_ok(&s->out);
        else {
            if (v == ACL_DENIED_CMD)
                snprintf(text, sizeof text, "User %s has no permissions to run the '%s' command", u.name, cmd->name);
            else
                snprintf(text, sizeof text, "User %s has no permissions to access the '%.*s' %s", u.name, xn,
                         (const char *)x.p, v == ACL_DENIED_KEY ? "key" : "channel");
            resp_bulk_str(&s->out, text);
        }
    }
    acl_user_close(&u);
}

/* ---- ACL ----------------------------------------------------------------- */

/* 0: not this subcommand; 1: it, with a right number of arguments; 2: it,
 * with a wrong one (the error is written). */
static int sub_is(struct slot *s, const char *name, int arity)
{
    if (!slot_arg_is(s, 1, name)) return 0;
    if (arity >= 0 ? s->argc != (uint32_t)arity : s->argc < (uint32_t)-arity) {
        char lower[16];
        size_t n = strlen(name);
        for (size_t i = 0; i <= n && i < sizeof lower; i++)
            lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
        srv_reply_errorf(&s->out, KEEL_EINVAL, "wrong number of arguments for 'acl|%s' command", lower);
        return 2;
    }
    return 1;
}

CMD_DECL_LOCAL(cmd_acl)
{
    struct conn *c = s->conn;
    int m;
    if ((m = sub_is(s, "SETUSER", -3)) != 0) {
        if (m == 1) {
            as_write(s, &setuser_cmd);
            return;
        }
    } else if ((m = sub_is(s, "DELUSER", -3)) != 0) {
        if (m == 1) {
            as_write(s, &deluser_cmd);
            return;
        }
    } else if ((m = sub_is(s, "GETUSER", 3)) != 0) {
        if (m == 1) getuser(s);
    } else if ((m = sub_is(s, "LIST", 2)) != 0) {
        if (m == 1) list(s, false);
    } else if ((m = sub_is(s, "USERS", 2)) != 0) {
        if (m == 1) list(s, true);
    } else if ((m = sub_is(s, "WHOAMI", 2)) != 0) {
        if (m == 1 && c != NULL && c->user != NULL) resp_bulk(&s->out, c->user->name, c->user->name_n);
        else if (m == 1) resp_bulk_str(&s->out, "default");
    } else if ((m = sub_is(s, "CAT", -2)) != 0) {
        if (m == 1 && s->argc > 3) srv_syntax_error(s);
        else if (m == 1) cat(s);
    } else if ((m = sub_is(s, "DRYRUN", -4)) != 0) {
        if (m == 1) dryrun(s);
    } else if ((m = sub_is(s, "LOG", -2)) != 0) {
        if (m == 1) acllog_command(s);
    } else if ((m = sub_is(s, "SAVE", 2)) != 0) {
        if (m == 1) acl_file_save(s);
    } else if ((m = sub_is(s, "LOAD", s->forwarded_in ? -2 : 2)) != 0) {
        if (m == 1) {
            acl_file_load(s, as_write); /* ends s */
            return;
        }
    } else {
        srv_reply_errorf(&s->out, KEEL_EINVAL, "unknown subcommand '%.*s'. Try ACL HELP.",
                         (int)(s->argv[1].n < 128 ? s->argv[1].n : 128), (const char *)s->argv[1].p);
    }
    slot_done(s);
}
