/* api/server: AUTH, HELLO's AUTH, the -NOAUTH gate and CONFIG SET
 * requirepass (auth.h says what and why). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/server/auth.h"
#include "api/server/commands/commands.h"
#include "api/server/log.h"
#include "raft/membership.h"
#include "store/acl.h"

/* The default user as the local state has it now, cached until an ACL
 * entry is applied here; NULL if it could not be read (then every
 * connection must authenticate: fail closed). */
static const struct acl_user *default_user(struct keel_server *srv)
{
    uint64_t changes = keel_store_acl_changes(srv->store);
    if (srv->acl_default != NULL && srv->acl_default_seen == changes) return srv->acl_default;
    struct acl_user u;
    if (keel_store_acl_get(srv->store, keel_str("default"), &u) != 0) return srv->acl_default;
    if (srv->acl_default == NULL) {
        srv->acl_default = malloc(sizeof *srv->acl_default);
        if (srv->acl_default == NULL) {
            acl_user_close(&u);
            return NULL;
        }
    } else {
        acl_user_close(srv->acl_default);
    }
    *srv->acl_default = u;
    srv->acl_default_seen = changes;
    return srv->acl_default;
}

static bool open_door(const struct acl_user *def)
{
    return def != NULL && def->on && def->nopass;
}

bool auth_authenticated(struct conn *c)
{
    const struct acl_user *def = default_user(c->srv);
    if (!c->auth_init) {
        c->auth_init = true;
        c->authed = open_door(def);
    }
    return c->authed || open_door(def);
}

bool auth_gate(struct slot *s)
{
    struct conn *c = s->conn;
    if (c == NULL || s->forwarded_in || (s->cmd->flags & CMD_TOKEN)) return true;
    if (auth_authenticated(c)) return true;
    int i = acl_command_find(s->cmd->name, strlen(s->cmd->name));
    if (i >= 0 && (acl_command_categories[i].flags & ACL_CMD_NOAUTH)) return true;
    resp_error(&s->out, "NOAUTH", "Authentication required.");
    return false;
}

/* A user name as a log can show it: printable ASCII, cut short. */
static void printable(struct keel_slice name, char *out, size_t size)
{
    size_t n = 0;
    for (size_t i = 0; i < name.n && n + 1 < size; i++)
        out[n++] = name.p[i] >= 0x20 && name.p[i] < 0x7f && name.p[i] != '"' ? (char)name.p[i] : '?';
    out[n] = 0;
}

static void log_failure(struct slot *s, struct keel_slice user)
{
    static uint64_t logged_at, suppressed;
    uint64_t now = keel_mono_ms();
    if (logged_at != 0 && now - logged_at < 1000) {
        suppressed++;
        return;
    }
    char name[64];
    printable(user, name, sizeof name);
    log_warn("AUTH failed: user %s from %s (%llu more failures not logged in the last second)", name,
             s->conn != NULL ? s->conn->peer : "-", (unsigned long long)suppressed);
    logged_at = now;
    suppressed = 0;
}

bool auth_login(struct slot *s, struct keel_slice user, struct keel_slice pass)
{
    struct conn *c = s->conn;
    struct acl_user u;
    bool ok = false;
    if (keel_store_acl_get(s->srv->store, user, &u) == 0) {
        ok = acl_password_ok(&u, pass.p, pass.n);
        if (ok) {
            struct acl_user *keep = c->user != NULL ? c->user : malloc(sizeof *keep);
            if (keep == NULL) {
                acl_user_close(&u);
                srv_reply_error(&s->out, KEEL_ENOMEM, "out of memory");
                return false;
            }
            if (c->user != NULL) acl_user_close(c->user);
            *keep = u;
            c->user = keep;
        } else {
            acl_user_close(&u);
        }
    }
    if (!ok) {
        s->srv->stats.auth_failures++;
        log_failure(s, user);
        acllog_add(s, "auth", keel_str("AUTH"), user);
        resp_error(&s->out, "WRONGPASS", "invalid username-password pair or user is disabled.");
        return false;
    }
    c->auth_init = true;
    c->authed = true;
    return true;
}

void auth_conn_free(struct conn *c)
{
    if (c->user != NULL) {
        acl_user_close(c->user);
        free(c->user);
        c->user = NULL;
    }
}

void auth_conn_reset(struct conn *c)
{
    auth_conn_free(c);
    c->auth_init = true;
    c->authed = open_door(default_user(c->srv));
}

/* ---- AUTH --------------------------------------------------------------- */

CMD_DECL_LOCAL(cmd_auth)
{
    if (s->conn == NULL) {
        slot_done(s);
        return;
    }
    if (s->argc > 3) {
        srv_syntax_error(s);
    } else if (s->argc == 2) {
        if (open_door(default_user(s->srv)))
            srv_reply_error(&s->out, KEEL_EINVAL,
                            "AUTH <password> called without any password configured for the default "
                            "user. Are you sure your configuration is correct?");
        else if (auth_login(s, keel_str("default"), s->argv[1]))
            resp_ok(&s->out);
    } else if (auth_login(s, s->argv[1], s->argv[2])) {
        resp_ok(&s->out);
    }
    slot_done(s);
}

/* ---- CONFIG SET requirepass --------------------------------------------- */

static int requirepass_encode(struct slot *s, struct keel_enc *e)
{
    struct keel_slice pw = s->argv[3];
    struct keel_slice rules[2] = {keel_str("resetpass"), keel_str("nopass")};
    uint8_t *op = NULL;
    if (pw.n > 0) {
        op = malloc(pw.n + 1);
        if (op == NULL) {
            srv_reply_error(&s->out, KEEL_ENOMEM, "out of memory");
            return -1;
        }
        op[0] = '>';
        memcpy(op + 1, pw.p, pw.n);
        rules[1] = (struct keel_slice){op, pw.n + 1};
    }
    char msg[512] = "";
    int rc = keel_store_acl_setuser(s->srv->store, e, keel_str("default"), rules, 2, msg, sizeof msg);
    if (op != NULL) {
        memset(op, 0, pw.n + 1);
        free(op);
    }
    if (rc != 0) {
        srv_reply_errorf(&s->out, rc, "CONFIG SET failed (possibly related to argument 'requirepass') - %s",
                         msg[0] ? msg : keel_strerror(rc));
        return -1;
    }
    return 1;
}

static const struct command requirepass_cmd = {
    "config", -2, CMD_WRITE | CMD_NOMULTI, NULL, NULL, requirepass_encode, NULL, 0, 0, 0};

void auth_requirepass(struct slot *s, struct keel_slice pw)
{
    (void)pw; /* argv[3]: the encoder reads it there, on the leader */
    s->cmd = &requirepass_cmd;
    if (s->forwarded_in || s->srv->role == KEEL_ROLE_LEADER) srv_dispatch_write(s);
    else fwd_request(s);
}
