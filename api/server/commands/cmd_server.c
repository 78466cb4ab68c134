/* api: connection and server commands: PING ECHO HELLO QUIT SELECT COMMAND
 * CLIENT ROLE READONLY READWRITE DBSIZE, and the internal KEEL.* ones
 * (membership: cmd_member.c; INFO: cmd_info.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/server/auth.h"
#include "api/server/block.h"
#include "api/server/commands/commands.h"
#include "api/server/db.h"
#include "api/server/pubsub/pubsub.h"
#include "raft/membership.h"

CMD_DECL_LOCAL(cmd_ping)
{
    struct conn *c = s->conn;
    if (s->argc > 2) srv_reply_error(&s->out, KEEL_EINVAL, "wrong number of arguments for 'ping' command");
    else if (c != NULL && c->proto < 3 && c->ps != NULL && c->ps->nchannels + c->ps->npatterns > 0) {
        /* Subscribed RESP2: Redis answers as a message would come. */
        resp_array(&s->out, 2);
        resp_bulk_str(&s->out, "pong");
        if (s->argc == 2) resp_bulk(&s->out, s->argv[1].p, s->argv[1].n);
        else resp_bulk_str(&s->out, "");
    }
    else if (s->argc == 2) resp_bulk(&s->out, s->argv[1].p, s->argv[1].n);
    else resp_simple(&s->out, "PONG");
    slot_done(s);
}

CMD_DECL_LOCAL(cmd_echo)
{
    resp_bulk(&s->out, s->argv[1].p, s->argv[1].n);
    slot_done(s);
}

/* PING and ECHO queued in MULTI: answered in the EXEC array, as Redis does
 * (the store's reader runs them inside the batch, cmd_tx.c). */
CMD_DECL_READ(cmd_ping_tx)
{
    (void)rd;
    if (s->argc > 2) srv_reply_error(&s->out, KEEL_EINVAL, "wrong number of arguments for 'ping' command");
    else if (s->argc == 2) resp_bulk(&s->out, s->argv[1].p, s->argv[1].n);
    else resp_simple(&s->out, "PONG");
    return 0;
}

CMD_DECL_READ(cmd_echo_tx)
{
    (void)rd;
    resp_bulk(&s->out, s->argv[1].p, s->argv[1].n);
    return 0;
}

static void hello_reply(struct slot *s)
{
    struct conn *c = s->conn;
    resp_map(&s->out, s->proto, 7);
    resp_bulk_str(&s->out, "server");
    resp_bulk_str(&s->out, "keel");
    resp_bulk_str(&s->out, "version");
    resp_bulk_str(&s->out, KEEL_VERSION);
    resp_bulk_str(&s->out, "proto");
    resp_int(&s->out, s->proto);
    resp_bulk_str(&s->out, "id");
    resp_int(&s->out, c ? (int64_t)c->id : 0);
    resp_bulk_str(&s->out, "mode");
    resp_bulk_str(&s->out, "standalone");
    resp_bulk_str(&s->out, "role");
    resp_bulk_str(&s->out, s->srv->role == KEEL_ROLE_LEADER ? "master" : "replica");
    resp_bulk_str(&s->out, "modules");
    resp_array(&s->out, 0);
}

/* HELLO [protover [AUTH user pass] [SETNAME name]] */
CMD_DECL_LOCAL(cmd_hello)
{
    struct conn *c = s->conn;
    long long proto = c->proto;
    uint32_t i = 1;
    if (s->argc > 1) {
        char buf[16];
        char *end;
        proto = strtoll(slot_arg(s, 1, buf, sizeof buf), &end, 10);
        if (*end != 0 || s->argv[1].n == 0) {
            srv_reply_error(&s->out, KEEL_EINVAL, "Protocol version is not an integer or out of range");
            slot_done(s);
            return;
        }
        if (proto != 2 && proto != 3) {
            resp_error(&s->out, "NOPROTO", "unsupported protocol version");
            slot_done(s);
            return;
        }
        i = 2;
    }
    uint32_t auth_at = 0, name_at = 0;
    for (; i < s->argc; i++) {
        if (slot_arg_is(s, i, "AUTH") && i + 2 < s->argc) {
            auth_at = i + 1;
            i += 2;
        } else if (slot_arg_is(s, i, "SETNAME") && i + 1 < s->argc) {
            name_at = i + 1;
            i++;
        } else {
            srv_reply_errorf(&s->out, KEEL_EINVAL, "Syntax error in HELLO option '%s'",
                             (const char *)s->argv[i].p);
            slot_done(s);
            return;
        }
    }
    /* Redis 7.2's order: authenticate, then require it, then name and switch. */
    if (auth_at != 0 && !auth_login(s, s->argv[auth_at], s->argv[auth_at + 1])) {
        slot_done(s);
        return;
    }
    if (!auth_authenticated(c)) {
        resp_error(&s->out, "NOAUTH",
                   "HELLO must be called with the client already authenticated, otherwise the HELLO "
                   "<proto> AUTH <user> <pass> option can be used to authenticate the client and select "
                   "the RESP protocol version at the same time");
        slot_done(s);
        return;
    }
    if (name_at != 0) slot_arg(s, name_at, c->name, sizeof c->name);
    c->proto = (int)proto;
    s->proto = (int)proto;
    hello_reply(s);
    slot_done(s);
}

CMD_DECL_LOCAL(cmd_quit)
{
    resp_ok(&s->out);
    if (s->conn) s->conn->quit = true;
    slot_done(s);
}

static void command_entry(struct slot *s, const struct command *cmd)
{
    resp_array(&s->out, 6);
    resp_bulk_str(&s->out, cmd->name);
    resp_int(&s->out, cmd->arity);
    size_t nflags = 1;
    resp_set(&s->out, s->proto, nflags);
    resp_simple(&s->out, cmd->flags & CMD_WRITE ? "write" : cmd->flags & CMD_READ ? "readonly" : "fast");
    resp_int(&s->out, cmd->first_key);
    resp_int(&s->out, cmd->last_key);
    resp_int(&s->out, cmd->key_step);
}

/* COMMAND, COMMAND COUNT, COMMAND INFO name..., COMMAND DOCS [name...] */
CMD_DECL_LOCAL(cmd_command)
{
    unsigned visible = 0;
    for (unsigned i = 0; i < command_count; i++) visible += !(command_table[i].flags & CMD_INTERNAL);
    if (s->argc == 1) {
        resp_array(&s->out, visible);
        for (unsigned i = 0; i < command_count; i++) {
            if (!(command_table[i].flags & CMD_INTERNAL)) command_entry(s, &command_table[i]);
        }
    } else if (slot_arg_is(s, 1, "COUNT")) {
        resp_int(&s->out, visible);
    } else if (slot_arg_is(s, 1, "INFO")) {
        resp_array(&s->out, s->argc - 2);
        for (uint32_t i = 2; i < s->argc; i++) {
            const struct command *cmd = command_lookup(&s->argv[i]);
            if (cmd == NULL || (cmd->flags & CMD_INTERNAL)) resp_null_array(&s->out, s->proto);
            else command_entry(s, cmd);
        }
    } else if (slot_arg_is(s, 1, "DOCS")) {
        resp_map(&s->out, s->proto, 0); /* no docs: clients fall back gracefully */
    } else {
        srv_reply_errorf(&s->out, KEEL_EINVAL, "unknown subcommand '%s' for 'command'",
                         (const char *)s->argv[1].p);
    }
    slot_done(s);
}

static void client_info_line(struct slot *s, struct conn *c, struct buf *b)
{
    char line[512];
    int n = snprintf(line, sizeof line,
                     "id=%llu addr=%s name=%s db=%u resp=%d cmd-count=%llu pending=%u readonly=%d\n",
                     (unsigned long long)c->id, c->peer, c->name, (unsigned)c->db, c->proto,
                     (unsigned long long)c->commands, c->pending, c->readonly);
    (void)s;
    buf_append(b, line, (size_t)n);
}

/* CLIENT SETNAME|GETNAME|ID|INFO|LIST|REPLY|SETINFO|UNBLOCK */
CMD_DECL_LOCAL(cmd_client)
{
    struct conn *c = s->conn;
    if (slot_arg_is(s, 1, "SETNAME") && s->argc == 3) {
        for (size_t i = 0; i < s->argv[2].n; i++) {
            if (s->argv[2].p[i] <= ' ' || s->argv[2].p[i] > '~') {
                srv_reply_error(&s->out, KEEL_EINVAL, "Client names cannot contain spaces, newlines or special characters.");
                slot_done(s);
                return;
            }
        }
        slot_arg(s, 2, c->name, sizeof c->name);
        resp_ok(&s->out);
    } else if (slot_arg_is(s, 1, "GETNAME") && s->argc == 2) {
        if (c->name[0]) resp_bulk_str(&s->out, c->name);
        else resp_null(&s->out, s->proto);
    } else if (slot_arg_is(s, 1, "ID") && s->argc == 2) {
        resp_int(&s->out, (int64_t)c->id);
    } else if (slot_arg_is(s, 1, "INFO") && s->argc == 2) {
        struct buf b;
        buf_init(&b);
        client_info_line(s, c, &b);
        resp_bulk(&s->out, b.p, b.len);
        buf_close(&b);
    } else if (slot_arg_is(s, 1, "LIST") && s->argc == 2) {
        struct buf b;
        buf_init(&b);
        for (struct conn *o = s->srv->conns; o != NULL; o = o->next) client_info_line(s, o, &b);
        resp_bulk(&s->out, b.p, b.len);
        buf_close(&b);
    } else if (slot_arg_is(s, 1, "REPLY") && s->argc == 3) {
        /* Redis's: OFF and SKIP are not answered; SKIP under OFF changes
         * nothing; ON answers OK (conn.c drops what is silent). */
        if (slot_arg_is(s, 2, "ON")) {
            c->reply_mode = CONN_REPLY_ON;
            s->silent = false;
            resp_ok(&s->out);
        } else if (slot_arg_is(s, 2, "OFF")) {
            c->reply_mode = CONN_REPLY_OFF;
            s->silent = true;
        } else if (slot_arg_is(s, 2, "SKIP")) {
            if (c->reply_mode != CONN_REPLY_OFF) c->reply_mode = CONN_REPLY_SKIP;
            s->silent = true;
        } else {
            srv_reply_error(&s->out, KEEL_EINVAL, "syntax error");
        }
    } else if (slot_arg_is(s, 1, "UNBLOCK") && (s->argc == 3 || s->argc == 4)) {
        long long id;
        if (!srv_arg_int(s, 2, &id)) {
            /* written */
        } else if (s->argc == 4 && !slot_arg_is(s, 3, "TIMEOUT") && !slot_arg_is(s, 3, "ERROR")) {
            srv_reply_error(&s->out, KEEL_EINVAL, "CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
        } else {
            /* Clients parked on this node (it leads); a follower's client
             * waits on the leader and is not seen here. */
            resp_int(&s->out, block_unblock(s->srv, (uint64_t)id, s->argc == 4 && slot_arg_is(s, 3, "ERROR")));
        }
    } else if (slot_arg_is(s, 1, "SETINFO") && s->argc == 4) {
        resp_ok(&s->out); /* library name/version: accepted, not kept */
    } else {
        srv_reply_errorf(&s->out, KEEL_EINVAL, "unknown subcommand or wrong number of arguments for 'client|%s'",
                         s->argc > 1 ? (const char *)s->argv[1].p : "");
    }
    slot_done(s);
}

/* ROLE, in Redis's shapes: master [offset, replicas], slave [host, port,
 * state, offset]. */
CMD_DECL_LOCAL(cmd_role)
{
    struct keel_node_status st;
    char addr[64] = "", ip[64] = "";
    unsigned port = 0;
    keel_node_status(s->srv->node, &st);
    if (st.role == KEEL_ROLE_LEADER) {
        resp_array(&s->out, 3);
        resp_bulk_str(&s->out, "master");
        resp_int(&s->out, (int64_t)st.commit_index);
        resp_array(&s->out, 0);
    } else {
        srv_leader_client_addr(s->srv, addr, sizeof addr);
        sscanf(addr, "%63[^:]:%u", ip, &port);
        resp_array(&s->out, 5);
        resp_bulk_str(&s->out, "slave");
        resp_bulk_str(&s->out, ip);
        resp_int(&s->out, port);
        resp_bulk_str(&s->out, addr[0] ? "connected" : "connect");
        resp_int(&s->out, (int64_t)st.applied_index);
    }
    slot_done(s);
}

CMD_DECL_LOCAL(cmd_readonly)
{
    if (s->conn) s->conn->readonly = true;
    resp_ok(&s->out);
    slot_done(s);
}

CMD_DECL_LOCAL(cmd_readwrite)
{
    if (s->conn) s->conn->readonly = false;
    resp_ok(&s->out);
    slot_done(s);
}

CMD_DECL_READ(cmd_dbsize)
{
    struct srv_db_counts dc;
    int rc = srv_db_count(rd, s->db, &dc);
    if (rc != 0) return rc;
    resp_int(&s->out, (int64_t)dc.keys);
    return 0;
}

/* KEEL.FWD token proto[:db] client seq deadline cmd args...: a request
 * forwarded by a follower. It runs here as if its client had sent it, in
 * the given protocol and database (db.h: its keys are already that
 * database's stored names; a database this node does not have, with another
 * --databases, is refused), and is never forwarded again. Only a member may send it: on
 * the member channel (its certificate), or, without member TLS, with the
 * token only members know (token.c); anyone else is refused, so a client
 * cannot borrow a follower's privileges. The deadline is on this node's monotonic clock (the follower
 * converted it, see forward.c; 0: none): past it the request is refused
 * unexecuted, since its client has been told it timed out; a membership
 * change takes no step after it. */
CMD_DECL_LOCAL(cmd_keel_fwd)
{
    char buf[32], why[160];
    if (!srv_member_call_ok(s, 1, why, sizeof why)) {
        srv_reply_errorf(&s->out, KEEL_EINVAL, "KEEL.FWD is for the cluster's own nodes (%s)", why);
        slot_done(s);
        return;
    }
    if (s->conn != NULL) auth_limit_member(s->conn);
    int proto = atoi(slot_arg(s, 2, buf, sizeof buf));
    const char *colon = strchr(buf, ':');
    long db = colon != NULL ? strtol(colon + 1, NULL, 10) : 0;
    if (db < 0 || db >= (long)s->srv->cfg.databases) {
        srv_reply_error(&s->out, KEEL_EINVAL, "DB index is out of range");
        slot_done(s);
        return;
    }
    s->db = (uint8_t)db;
    s->client = strtoull(slot_arg(s, 3, buf, sizeof buf), NULL, 10);
    s->seq = strtoull(slot_arg(s, 4, buf, sizeof buf), NULL, 10);
    uint64_t deadline = strtoull(slot_arg(s, 5, buf, sizeof buf), NULL, 10), now = keel_mono_ms();
    s->proto = proto == 3 ? 3 : 2;
    s->forwarded_in = true;
    s->readonly = false;
    if (deadline != 0 && now > deadline) {
        s->srv->stats.forwarded_expired++;
        srv_reply_errorf(&s->out, KEEL_ENOTLEADER,
                         "the forwarded request reached the leader %llu ms after its deadline: not executed",
                         (unsigned long long)(now - deadline));
        slot_done(s);
        return;
    }
    s->deadline_ms = deadline;
    memmove(s->argv, s->argv + 6, (s->argc - 6) * sizeof *s->argv);
    s->argc -= 6;
    srv_dispatch(s);
}

/* KEEL.FWDSYNC token: this node's monotonic clock in ms, for a follower
 * converting its requests' deadlines (forward.c). */
CMD_DECL_LOCAL(cmd_keel_fwdsync)
{
    char why[160];
    if (!srv_member_call_ok(s, 1, why, sizeof why)) {
        srv_reply_errorf(&s->out, KEEL_EINVAL, "KEEL.FWDSYNC is for the cluster's own nodes (%s)", why);
        slot_done(s);
        return;
    }
    if (s->conn != NULL) auth_limit_member(s->conn);
    resp_int(&s->out, (int64_t)keel_mono_ms());
    slot_done(s);
}

/* KEEL.REQ client seq cmd args...: a write that carries its dedupe identity,
 * so a retry after an uncertain outcome applies once. In a MULTI it wraps
 * the EXEC (libkeel sends MULTI, the writes, KEEL.REQ id seq EXEC). */
CMD_DECL_LOCAL(cmd_keel_req)
{
    char buf[32], *end1, *end2;
    s->client = strtoull(slot_arg(s, 1, buf, sizeof buf), &end1, 10);
    bool ok1 = *end1 == 0 && s->argv[1].n > 0;
    s->seq = strtoull(slot_arg(s, 2, buf, sizeof buf), &end2, 10);
    if (!ok1 || *end2 != 0 || s->argv[2].n == 0 || s->client == 0) {
        srv_reply_error(&s->out, KEEL_EINVAL, "KEEL.REQ wants a client id > 0 and a sequence number");
        slot_done(s);
        return;
    }
    /* Inside MULTI only EXEC may carry the identity: the transaction is the
     * one write; a queued command would lose it. */
    if (s->conn != NULL && s->conn->in_multi && !slot_arg_is(s, 3, "EXEC")) {
        srv_reply_error(&s->out, KEEL_EINVAL, "KEEL.REQ inside MULTI wraps only EXEC");
        s->conn->multi_error = true;
        slot_done(s);
        return;
    }
    memmove(s->argv, s->argv + 3, (s->argc - 3) * sizeof *s->argv);
    s->argc -= 3;
    srv_dispatch(s);
}

/* KEEL.PUBLISH id client_addr [zone]: a node's client address (and zone),
 * into the replicated node table. */
CMD_DECL_ENCODE(cmd_keel_publish)
{
    char key[64], zkey[64], buf[32];
    uint64_t id = strtoull(slot_arg(s, 1, buf, sizeof buf), NULL, 10);
    syskey_node(id, key, sizeof key);
    if (s->argc < 4) {
        keel_enc_set(e, keel_str(key), s->argv[2], 0, 0);
        return 1;
    }
    syskey_zone(id, zkey, sizeof zkey);
    keel_enc_batch_begin(e);
    keel_enc_set(e, keel_str(key), s->argv[2], 0, 0);
    keel_enc_set(e, keel_str(zkey), s->argv[3], 0, 0);
    return 1;
}
