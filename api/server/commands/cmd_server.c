/* api: connection and server commands: PING ECHO HELLO QUIT SELECT COMMAND
 * CLIENT INFO ROLE READONLY READWRITE DBSIZE, and the internal KEEL.* ones
 * (membership: cmd_member.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/server/auth.h"
#include "api/server/commands/commands.h"
#include "api/server/consistency.h"
#include "api/server/observe/observe.h"
#include "api/server/pubsub/pubsub.h"
#include "raft/membership.h"

#define KEEL_VERSION "0.1.0"

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

CMD_DECL_LOCAL(cmd_select)
{
    if (s->argv[1].n == 1 && s->argv[1].p[0] == '0') resp_ok(&s->out);
    else srv_reply_error(&s->out, KEEL_EINVAL, "DB index is out of range (Keel has one database, 0)");
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
                     "id=%llu addr=%s name=%s db=0 resp=%d cmd-count=%llu pending=%u readonly=%d\n",
                     (unsigned long long)c->id, c->peer, c->name, c->proto,
                     (unsigned long long)c->commands, c->pending, c->readonly);
    (void)s;
    buf_append(b, line, (size_t)n);
}

/* CLIENT SETNAME|GETNAME|ID|INFO|LIST|SETINFO */
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
    } else if (slot_arg_is(s, 1, "SETINFO") && s->argc == 4) {
        resp_ok(&s->out); /* library name/version: accepted, not kept */
    } else {
        srv_reply_errorf(&s->out, KEEL_EINVAL, "unknown subcommand or wrong number of arguments for 'client|%s'",
                         s->argc > 1 ? (const char *)s->argv[1].p : "");
    }
    slot_done(s);
}

static bool want(struct slot *s, const char *section)
{
    if (s->argc < 2 || slot_arg_is(s, 1, "all") || slot_arg_is(s, 1, "everything") ||
        slot_arg_is(s, 1, "default"))
        return true;
    for (uint32_t i = 1; i < s->argc; i++) {
        if (slot_arg_is(s, i, section)) return true;
    }
    return false;
}

CMD_DECL_LOCAL(cmd_info)
{
    struct keel_server *srv = s->srv;
    struct keel_node_status st;
    struct keel_space sp;
    struct buf b;
    char leader_addr[64] = "";
    keel_node_status(srv->node, &st);
    keel_node_space(srv->node, &sp);
    srv_leader_client_addr(srv, leader_addr, sizeof leader_addr);
    buf_init(&b);
    if (want(s, "server")) {
        srv_info_line(&b, "# Server");
        srv_info_line(&b, "redis_version:7.0.0");
        srv_info_line(&b, "keel_version:%s", KEEL_VERSION);
        srv_info_line(&b, "redis_mode:standalone");
        srv_info_line(&b, "tcp_port:%s", strrchr(srv->client_addr, ':') + 1);
        /* Redis 7.2's listener lines: one per listening connection type,
         * numbered by type (0 tcp, 1 unix, 2 tls); tcp only when its port is
         * not 0. Redis has no other TLS field in INFO. */
        {
            const char *colon = strrchr(srv->client_addr, ':');
            int hostlen = (int)(colon - srv->client_addr);
            if (strcmp(colon + 1, "0") != 0)
                srv_info_line(&b, "listener0:name=tcp,bind=%.*s,port=%s", hostlen, srv->client_addr, colon + 1);
            if (srv->cfg.tls_port != 0)
                srv_info_line(&b, "listener2:name=tls,bind=%.*s,port=%u", hostlen, srv->client_addr,
                              srv->cfg.tls_port);
        }
        srv_info_line(&b, "node_id:%llu", (unsigned long long)srv->cfg.node_id);
        srv_info_line(&b, "keel_zone:%s", srv->zone);
        int64_t up = (srv_wall_ms() - srv->obs->started_ms) / 1000;
        srv_info_line(&b, "process_id:%ld", (long)getpid());
        srv_info_line(&b, "uptime_in_seconds:%lld", (long long)up);
        srv_info_line(&b, "uptime_in_days:%lld", (long long)up / 86400);
        buf_append(&b, "\r\n", 2);
    }
    if (want(s, "clients")) {
        srv_info_line(&b, "# Clients");
        srv_info_line(&b, "connected_clients:%u", srv->nconns);
        srv_info_line(&b, "maxclients:%u", srv->cfg.max_clients);
        srv_info_line(&b, "keel_maxclients_per_user:%u", srv->cfg.max_clients_per_user);
        buf_append(&b, "\r\n", 2);
    }
    if (want(s, "memory")) {
        srv_info_line(&b, "# Memory");
        srv_info_line(&b, "used_memory:%llu", (unsigned long long)sp.live_bytes);
        srv_info_line(&b, "keel_db_file_bytes:%llu", (unsigned long long)sp.file_bytes);
        srv_info_line(&b, "keel_db_map_bytes:%llu", (unsigned long long)sp.map_size);
        long pages = 0, rss = 0;
        FILE *f = fopen("/proc/self/statm", "r");
        if (f != NULL) {
            if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
            fclose(f);
        }
        srv_info_line(&b, "used_memory_rss:%llu", (unsigned long long)rss * (unsigned long long)sysconf(_SC_PAGESIZE));
        srv_info_line(&b, "maxmemory:%llu", (unsigned long long)sp.quota);
        srv_info_line(&b, "maxmemory_policy:noeviction");
        buf_append(&b, "\r\n", 2);
    }
    if (want(s, "persistence")) srv_info_persistence(srv, &b);
    if (want(s, "stats")) {
        srv_info_line(&b, "# Stats");
        srv_info_line(&b, "total_connections_received:%llu",
                      (unsigned long long)srv->stats.connections_total);
        srv_info_line(&b, "total_commands_processed:%llu", (unsigned long long)srv->stats.commands);
        srv_info_line(&b, "total_net_input_bytes:%llu", (unsigned long long)srv->stats.bytes_in);
        srv_info_line(&b, "total_net_output_bytes:%llu", (unsigned long long)srv->stats.bytes_out);
        srv_info_line(&b, "keel_forwarded_commands:%llu", (unsigned long long)srv->stats.forwarded);
        /* forwarded to us, refused as past their deadline */
        srv_info_line(&b, "keel_forwarded_expired:%llu", (unsigned long long)srv->stats.forwarded_expired);
        srv_info_line(&b, "keel_protocol_errors:%llu", (unsigned long long)srv->stats.protocol_errors);
        srv_info_line(&b, "keel_backpressure_pauses:%llu", (unsigned long long)srv->stats.reads_paused);
        struct keel_store_stats ss;
        keel_store_stats(srv->store, &ss);
        srv_info_line(&b, "expired_keys:%llu", (unsigned long long)ss.expired);
        srv_info_line(&b, "rejected_connections:%llu", (unsigned long long)srv->stats.rejected_maxclients);
        srv_info_line(&b, "keel_rejected_connections_user_limit:%llu",
                      (unsigned long long)srv->stats.rejected_user_limit);
        srv_info_line(&b, "keel_evicted_unauthenticated_clients:%llu",
                      (unsigned long long)srv->stats.evicted_unauthenticated);
        srv_info_line(&b, "keel_auth_timeouts:%llu", (unsigned long long)srv->stats.auth_timeouts);
        srv_info_line(&b, "acl_access_denied_auth:%llu", (unsigned long long)srv->stats.auth_failures);
        srv_info_line(&b, "acl_access_denied_cmd:%llu", (unsigned long long)srv->stats.denied_cmd);
        srv_info_line(&b, "acl_access_denied_key:%llu", (unsigned long long)srv->stats.denied_key);
        srv_info_line(&b, "acl_access_denied_channel:%llu", (unsigned long long)srv->stats.denied_channel);
        srv_info_line(&b, "keel_rejected_nospace:%llu", (unsigned long long)srv->obs->rejected[REJECT_NOSPACE]);
        srv_info_line(&b, "keel_rejected_noleader:%llu", (unsigned long long)srv->obs->rejected[REJECT_NOLEADER]);
        buf_append(&b, "\r\n", 2);
    }
    if (want(s, "replication")) {
        srv_info_line(&b, "# Replication");
        srv_info_line(&b, "role:%s", st.role == KEEL_ROLE_LEADER ? "master" : "slave");
        if (st.role != KEEL_ROLE_LEADER && leader_addr[0]) {
            char ip[64] = "";
            unsigned port = 0;
            sscanf(leader_addr, "%63[^:]:%u", ip, &port);
            srv_info_line(&b, "master_host:%s", ip);
            srv_info_line(&b, "master_port:%u", port);
            srv_info_line(&b, "master_link_status:up");
        }
        srv_info_line(&b, "connected_slaves:%u", st.members > 0 ? st.members - 1 : 0);
        srv_info_line(&b, "master_repl_offset:%llu", (unsigned long long)st.commit_index);
        buf_append(&b, "\r\n", 2);
    }
    if (want(s, "keyspace")) {
        srv_info_line(&b, "# Keyspace");
        if (sp.keys > 0)
            srv_info_line(&b, "db0:keys=%llu,expires=%llu,avg_ttl=0", (unsigned long long)sp.keys,
                          (unsigned long long)sp.expires);
        buf_append(&b, "\r\n", 2);
    }
    if (want(s, "raft")) {
        srv_info_line(&b, "# Raft");
        srv_info_line(&b, "node_id:%llu", (unsigned long long)st.id);
        srv_info_line(&b, "role:%s", keel_role_name(st.role));
        srv_info_line(&b, "leader_id:%llu", (unsigned long long)st.leader_id);
        srv_info_line(&b, "leader_client_addr:%s", leader_addr);
        srv_info_line(&b, "term:%llu", (unsigned long long)st.term);
        srv_info_line(&b, "commit_index:%llu", (unsigned long long)st.commit_index);
        srv_info_line(&b, "applied_index:%llu", (unsigned long long)st.applied_index);
        srv_info_line(&b, "last_index:%llu", (unsigned long long)st.last_index);
        srv_info_line(&b, "snapshot_index:%llu", (unsigned long long)st.snapshot_index);
        /* -1: no snapshot taken or installed since this process started */
        srv_info_line(&b, "snapshot_age_s:%lld",
                      st.snapshot_at_ms ? (long long)(srv_wall_ms() - st.snapshot_at_ms) / 1000 : -1LL);
        srv_info_line(&b, "leader_ready:%d", st.leader_ready);
        struct keel_node_clock ck;
        keel_node_clock(srv->node, &ck);
        srv_info_line(&b, "cluster_time_ms:%lld", (long long)ck.now_ms);
        srv_info_line(&b, "cluster_clock:%s", ck.leading ? "leader" : ck.warm ? "follower" : "cold");
        srv_info_line(&b, "clock_skew_ms:%lld", (long long)ck.skew_ms);
        srv_info_line(&b, "clock_steps_ignored:%llu", (unsigned long long)ck.steps);
        srv_info_line(&b, "clock_slewed_ms:%lld", (long long)ck.slewed_ms);
        srv_info_line(&b, "inflight_writes:%u", st.inflight);
        /* A zone whose loss alone would take the quorum with it. */
        srv_info_line(&b, "keel_zone_majority:%s", srv->zone_majority);
        char members[512] = "";
        size_t off = 0;
        for (unsigned i = 0; i < st.members && off < sizeof members - 32; i++) {
            off += (size_t)snprintf(members + off, sizeof members - off, "%s%llu:%s", i ? "," : "",
                                    (unsigned long long)st.member_ids[i],
                                    st.member_roles[i] == 'v'   ? "voter"
                                    : st.member_roles[i] == 's' ? "standby"
                                                                : "spare");
        }
        srv_info_line(&b, "members:%s", members);
        srv_info_line(&b, "voters:%u", st.voters);
        /* Damaged raft files set aside at start (the log says which). */
        struct keel_node_metrics nm;
        keel_node_metrics(srv->node, &nm);
        srv_info_line(&b, "raft_damaged_files_set_aside:%u", nm.damaged_set_aside);
        char change[300];
        keel_node_member_status(srv->node, change, sizeof change);
        srv_info_line(&b, "member_change:%s", change);
        buf_append(&b, "\r\n", 2);
    }
    if (want(s, "alarms")) srv_info_alarms(srv, &b);
    if (want(s, "consistency")) consistency_info(srv, &b);
    if (s->proto >= 3) {
        char hdr[32];
        int n = snprintf(hdr, sizeof hdr, "=%zu\r\ntxt:", b.len + 4);
        buf_append(&s->out, hdr, (size_t)n);
        buf_append(&s->out, b.p, b.len);
        buf_append(&s->out, "\r\n", 2);
    } else {
        resp_bulk(&s->out, b.p, b.len);
    }
    buf_close(&b);
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

static int count_reserved_cb(void *arg, struct keel_slice key, const struct keel_record *rec)
{
    (void)rec;
    if (!syskey_is_reserved(key)) return 1;
    (*(uint64_t *)arg)++;
    return 0;
}

CMD_DECL_READ(cmd_dbsize)
{
    uint64_t reserved = 0;
    uint64_t n = keel_read_count(rd);
    /* The node table lives in reserved keys: not the user's. */
    int rc = keel_read_scan(rd, keel_str(SYSKEY_PREFIX), count_reserved_cb, &reserved);
    if (rc != 0 && rc != 1) return rc;
    resp_int(&s->out, (int64_t)(n >= reserved ? n - reserved : 0));
    return 0;
}

/* KEEL.FWD token proto client seq deadline cmd args...: a request forwarded
 * by a follower. It runs here as if its client had sent it, in the given
 * protocol, and is never forwarded again. Only a member may send it: on
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
