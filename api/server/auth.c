/* api/server: AUTH, HELLO's AUTH, the -NOAUTH gate and CONFIG SET
 * requirepass (auth.h says what and why). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/server/auth.h"
#include "api/server/commands/commands.h"
#include "api/server/conn_tls.h"
#include "api/server/log.h"
#include "api/server/protected.h"
#include "raft/membership.h"
#include "store/acl.h"

/* The default user as the local state has it now, cached until an ACL
 * entry is applied here; NULL if it could not be read (then every
 * connection must authenticate: fail closed). */
/* Changes to the users applied here: entries applied by this process, and
 * what the sweep saw change otherwise (a snapshot installed, a restore). */
static uint64_t acl_gen(struct keel_server *srv)
{
    return keel_store_acl_changes(srv->store) + srv->acl_gen_extra;
}

static const struct acl_user *default_user(struct keel_server *srv)
{
    uint64_t changes = acl_gen(srv);
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

/* c's user as the local state has it now: c->user reloaded if the users
 * changed since; NULL if it was removed or disabled meanwhile. */
static const struct acl_user *conn_user(struct conn *c)
{
    struct keel_server *srv = c->srv;
    if (c->user == NULL) return default_user(srv);
    uint64_t gen = acl_gen(srv);
    if (c->acl_seen == gen) return c->user;
    struct acl_user u;
    int rc = keel_store_acl_get(srv->store, (struct keel_slice){(const uint8_t *)c->user->name, c->user->name_n}, &u);
    if (rc == KEEL_ENOTFOUND || (rc == 0 && !u.on)) {
        if (rc == 0) acl_user_close(&u);
        return NULL;
    }
    if (rc != 0) return c->user; /* a storage error: keep what we had, retry next time */
    acl_user_close(c->user);
    *c->user = u;
    c->acl_seen = gen;
    return c->user;
}

/* Redis's full name of the command: "config|set" for a container's
 * subcommand, else the name. */
static void full_name(const struct slot *s, char *out, size_t size)
{
    static const char *containers[] = {"acl", "client", "command", "config", "pubsub"};
    const char *name = s->cmd->name;
    snprintf(out, size, "%s", name);
    if (s->argc < 2 || s->argv[1].n == 0 || s->argv[1].n > 32) return;
    for (size_t i = 0; i < sizeof containers / sizeof containers[0]; i++) {
        if (strcmp(name, containers[i]) != 0) continue;
        size_t n = strlen(name);
        if (n + 1 + s->argv[1].n + 1 > size) return;
        out[n] = '|';
        for (size_t k = 0; k < s->argv[1].n; k++) {
            char ch = (char)s->argv[1].p[k];
            out[n + 1 + k] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
        }
        out[n + 1 + s->argv[1].n] = 0;
        return;
    }
}

static void deny(struct slot *s, const struct acl_user *u, int v, uint32_t arg)
{
    struct keel_server *srv = s->srv;
    struct keel_slice user = {(const uint8_t *)u->name, u->name_n};
    if (v == ACL_DENIED_CMD) {
        char name[80];
        full_name(s, name, sizeof name);
        srv->stats.denied_cmd++;
        acllog_add(s, "command", keel_str(name), user);
        resp_errorf(&s->out, "NOPERM", "User %.*s has no permissions to run the '%s' command",
                    (int)(u->name_n < 256 ? u->name_n : 256), u->name, name);
    } else if (v == ACL_DENIED_KEY) {
        srv->stats.denied_key++;
        acllog_add(s, "key", s->argv[arg], user);
        resp_error(&s->out, "NOPERM", "No permissions to access a key");
    } else {
        srv->stats.denied_channel++;
        acllog_add(s, "channel", s->argv[arg], user);
        resp_error(&s->out, "NOPERM", "No permissions to access a channel");
    }
}

/* Protected mode (protected.h): -DENIED, then the connection closes. Logged
 * at most once every 10 s, with a count of those not logged. */
static void protected_deny(struct slot *s)
{
    struct keel_server *srv = s->srv;
    uint64_t now = uv_now(srv->loop);
    srv->stats.protected_denied++;
    resp_error(&s->out, "DENIED", PROTECTED_DENIED);
    s->conn->quit = true;
    if (srv->protected_logged_at != 0 && now - srv->protected_logged_at < 10000) {
        srv->protected_unlogged++;
        return;
    }
    log_warn("client %s refused: protected mode (the default user has no password and it is not on loopback)%s",
             s->conn->peer, srv->protected_unlogged ? " (and more since the last report)" : "");
    srv->protected_logged_at = now;
    srv->protected_unlogged = 0;
}

/* A member channel carries only what members send each other; its peer is
 * a member by its certificate, not a user. */
static bool member_gate(struct slot *s)
{
    const char *n = s->cmd->name;
    if ((s->cmd->flags & CMD_TOKEN) || strcmp(n, "keel.join") == 0 || strcmp(n, "quit") == 0) return true;
    resp_errorf(&s->out, "NOPERM", "the member channel carries only KEEL.FWD, KEEL.FWDSYNC and KEEL.JOIN, not '%s'", n);
    return false;
}

bool auth_gate(struct slot *s)
{
    struct conn *c = s->conn;
    if (c != NULL && c->member_id != 0 && !s->forwarded_in) return member_gate(s);
    if (c == NULL || s->forwarded_in || (s->cmd->flags & CMD_TOKEN)) return true;
    if (protected_refuses(c->srv->cfg.protected_mode, open_door(default_user(c->srv)),
                          c->tls != NULL && conn_tls_peer_cert(c->tls), (const struct sockaddr *)&c->peer_addr)) {
        protected_deny(s);
        return false;
    }
    if (!auth_authenticated(c)) {
        int i = acl_command_find(s->cmd->name, strlen(s->cmd->name));
        if (i >= 0 && (acl_command_categories[i].flags & ACL_CMD_NOAUTH)) return true;
        resp_error(&s->out, "NOAUTH", "Authentication required.");
        return false;
    }
    /* KEEL.REQ wraps a command, which is checked when it is dispatched. */
    if (strcmp(s->cmd->name, "keel.req") == 0) return true;
    const struct acl_user *u = conn_user(c);
    if (u == NULL) {
        /* Its user was removed or disabled: as Redis, the client goes. */
        log_info("client %llu (%s): its user is gone or disabled: closing", (unsigned long long)c->id, c->peer);
        conn_close(c);
        return false;
    }
    uint32_t arg = 0;
    int v = auth_check(u, s->cmd, s->argv, s->argc, &arg);
    if (v == ACL_OK) return true;
    if (v < 0) srv_reply_error(&s->out, KEEL_ENOMEM, "out of memory");
    else deny(s, u, v, arg);
    return false;
}

void auth_sweep(struct keel_server *srv)
{
    uint64_t version = 0;
    if (keel_store_acl_version(srv->store, &version) == 0 && version != srv->acl_version_seen) {
        srv->acl_version_seen = version;
        srv->acl_gen_extra++;
    }
    uint64_t gen = acl_gen(srv);
    if (gen == srv->acl_swept) return;
    srv->acl_swept = gen;
    for (struct conn *c = srv->conns; c != NULL;) {
        struct conn *next = c->next;
        if (c->user != NULL && !c->closing && conn_user(c) == NULL) {
            log_info("client %llu (%s): its user is gone or disabled: closing", (unsigned long long)c->id,
                     c->peer);
            conn_close(c);
        }
        c = next;
    }
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
        if (ok && !auth_limit_allows(c, user)) {
            acl_user_close(&u);
            s->srv->stats.rejected_user_limit++;
            char name[64];
            printable(user, name, sizeof name);
            srv_reply_errorf(&s->out, KEEL_EINVAL, "max number of clients reached for user '%s'", name);
            return false;
        }
        if (ok) {
            struct acl_user *keep = c->user != NULL ? c->user : malloc(sizeof *keep);
            if (keep == NULL) {
                acl_user_close(&u);
                srv_reply_error(&s->out, KEEL_ENOMEM, "out of memory");
                return false;
            }
            auth_limit_leave(c);
            if (c->user != NULL) acl_user_close(c->user);
            *keep = u;
            c->user = keep;
            c->acl_seen = acl_gen(s->srv);
            auth_limit_join(c);
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
    auth_limit_leave(c);
    if (c->user != NULL) {
        acl_user_close(c->user);
        free(c->user);
        c->user = NULL;
    }
}

void auth_conn_reset(struct conn *c)
{
    auth_limit_leave(c);
    auth_conn_free(c);
    auth_limit_join(c);
    c->auth_init = true;
    c->authed = open_door(default_user(c->srv));
}

/* ---- AUTH --------------------------------------------------------------- */

CMD_DECL_LOCAL(cmd_auth)
{
    if (s->conn != NULL) auth_run(s);
    slot_done(s);
}

void auth_run(struct slot *s)
{
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
