/* api: membership commands.
 *
 *   KEEL.JOIN id raft_addr            a starting node asks to be added (--join)
 *   KEEL.MEMBER LIST                  this node's view of the configuration:
 *                                     [id, raft addr, client addr, role, leader, zone]...
 *   KEEL.MEMBER ADD id raft_addr [STANDBY] [FORCE] [TIMEOUT ms]
 *   KEEL.MEMBER PROMOTE id [TIMEOUT ms]  standby (or spare) -> voter
 *   KEEL.MEMBER REMOVE id [FORCE] [TIMEOUT ms]
 *   KEEL.TRANSFER [id]                hand leadership to id (0 or none: the
 *                                     most up-to-date voter); replies the
 *                                     new leader's id
 *
 * Changes run on the leader (a follower forwards them), one at a time; a
 * different one meanwhile gets -TRYAGAIN, the same one (a retry) waits for
 * the one running. A new voter joins as a spare, then replicates as a
 * standby until it keeps up, and only then votes (raft/membership.h), so a
 * slow newcomer never counts toward quorum before it has the log; an add
 * that cannot finish by its deadline fails saying why, and leaves the node a
 * standby that replicates on (a retry, or its --join, promotes it). Taking
 * a voter away is refused when it would leave one voter, or fewer answering
 * voters than a quorum (they must acknowledge a new entry), unless FORCE.
 *
 * TIMEOUT is how long the client waits (default --member-timeout, or
 * --forward-timeout for REMOVE): no step of the change starts after it, so
 * a change never lands long after its client gave up. Each change is
 * idempotent when the configuration already is what was asked, so an
 * operator or a script may retry after a timeout or -UNCERTAIN without
 * undoing anything. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/server/commands/commands.h"
#include "api/server/log.h"
#include "raft/membership.h"

#define DEFAULT_MEMBER_MS 30000

static bool parse_id(struct slot *s, uint32_t i, uint64_t *id)
{
    char buf[32], *end;
    *id = strtoull(slot_arg(s, i, buf, sizeof buf), &end, 10);
    return *end == 0 && s->argv[i].n > 0 && *id > 0;
}

/* A raft address as keeld's --raft-addr takes it: IPv4:PORT. Anything else
 * would be accepted by raft and then never connect, leaving a spare behind. */
static bool raft_addr_ok(const char *addr)
{
    char ip[64];
    unsigned port;
    char tail;
    struct in_addr a;
    return sscanf(addr, "%63[0-9.]:%u%c", ip, &port, &tail) == 2 && port > 0 && port < 65536 &&
           inet_pton(AF_INET, ip, &a) == 1;
}

/* The member's index in st, or -1. */
static int member_at(const struct keel_node_status *st, uint64_t id)
{
    for (unsigned i = 0; i < st->members; i++)
        if (st->member_ids[i] == id) return (int)i;
    return -1;
}

/* When the change must have taken its last step: the request's deadline
 * (TIMEOUT, or a forwarding follower's), else --member-timeout from now. */
static uint64_t change_deadline(struct slot *s)
{
    if (s->deadline_ms != 0) return s->deadline_ms;
    unsigned ms = s->srv->cfg.member_timeout_ms ? s->srv->cfg.member_timeout_ms : DEFAULT_MEMBER_MS;
    return (s->started_ns ? s->started_ns / 1000000 : keel_mono_ms()) + ms;
}

static void describe_req(const struct keel_member_req *r, char *buf, size_t size)
{
    const char *op = r->op == KEEL_MEMBER_REMOVE ? "remove" : r->op == KEEL_MEMBER_ADD ? "add" : "assign";
    snprintf(buf, size, "%s node %llu%s%s%s", op,
             (unsigned long long)r->id, r->op == KEEL_MEMBER_ADD ? " at " : "",
             r->op == KEEL_MEMBER_ADD ? r->address : "",
             r->op == KEEL_MEMBER_REMOVE ? "" : r->voter ? " as voter" : " as standby");
}

/* The change could not start: say why (the node's reason), the retryable
 * ones as -TRYAGAIN. */
static void refused(struct slot *s, uint64_t id, int rc, const char *why)
{
    if (rc == KEEL_EBUSY || rc == KEEL_ENOTLEADER || rc == KEEL_ESHUTDOWN)
        srv_reply_errorf(&s->out, KEEL_ENOTLEADER, "%s", why);
    else if (rc == KEEL_EEXISTS)
        srv_reply_errorf(&s->out, KEEL_EEXISTS, "id %llu or its address is already in use: %s", (unsigned long long)id, why);
    else
        srv_reply_error(&s->out, rc, why);
    slot_done(s);
}

static void change_cb(void *data, int status, const char *why)
{
    struct slot *s = data;
    if (status == 0) {
        log_info("membership change done");
        resp_ok(&s->out);
    } else if (status == KEEL_ENOTLEADER || status == KEEL_ESHUTDOWN) {
        /* The entry may still commit under the next leader. */
        log_warn("membership change uncertain: %s", why);
        srv_reply_errorf(&s->out, KEEL_EUNCERTAIN,
                         "%s (see KEEL.MEMBER LIST; the change is idempotent: retry it)", why);
    } else {
        log_warn("membership change failed: %s", why);
        srv_reply_errorf(&s->out, KEEL_EINVAL, "membership change failed: %s", why);
    }
    slot_done(s);
}

static void start_change(struct slot *s, struct keel_member_req *req)
{
    char why[600], what[160];
    req->deadline_ms = change_deadline(s);
    describe_req(req, what, sizeof what);
    int rc = keel_node_member_change(s->srv->node, req, change_cb, s, why, sizeof why);
    if (rc != 0) {
        log_info("membership: %s refused: %s", what, why);
        refused(s, req->id, rc, why);
        return;
    }
    log_info("membership: %s (%llu ms to finish)", what,
             (unsigned long long)(req->deadline_ms > keel_mono_ms() ? req->deadline_ms - keel_mono_ms() : 0));
}

/* KEEL.JOIN id raft_addr: add a node (as a spare, caught up as a standby,
 * then a voter). A voter gets +OK at once, as does a standby an operator
 * made one (KEEL.MEMBER ADD ... STANDBY); a spare, or a standby a voter add
 * left behind, is made a voter, and a join while its add runs waits for it. */
CMD_DECL_LOCAL(cmd_keel_join)
{
    char addr[64];
    struct keel_node_status st;
    uint64_t id;
    slot_arg(s, 2, addr, sizeof addr);
    if (!parse_id(s, 1, &id) || !raft_addr_ok(addr)) {
        srv_reply_error(&s->out, KEEL_EINVAL, "KEEL.JOIN wants an id > 0 and a raft address (IPv4:PORT)");
        slot_done(s);
        return;
    }
    if (s->conn != NULL && s->conn->member_id != 0 && !s->forwarded_in && s->conn->member_id != id) {
        /* A joining node asks on the member channel: only as itself. */
        resp_errorf(&s->out, "NOPERM", "KEEL.JOIN for member %llu from a certificate naming member %llu",
                    (unsigned long long)id, (unsigned long long)s->conn->member_id);
        slot_done(s);
        return;
    }
    if (fwd_unless_leader(s, &st)) return;
    int at = member_at(&st, id);
    bool wants_voter = keel_node_member_wants_voter(s->srv->node, id);
    if (at >= 0 && (st.member_roles[at] == 'v' || (st.member_roles[at] == 's' && !wants_voter))) {
        /* A retry after the join went through, or an operator added us
         * first (KEEL.MEMBER ADD ... STANDBY): keep the role we have. */
        resp_ok(&s->out);
        slot_done(s);
        return;
    }
    struct keel_member_req req = {.op = KEEL_MEMBER_ADD, .id = id, .address = addr, .voter = true};
    start_change(s, &req);
}

static void list(struct slot *s, const struct keel_node_status *st)
{
    resp_array(&s->out, st->members);
    for (unsigned i = 0; i < st->members; i++) {
        char client[64] = "", zone[64];
        srv_member_client_addr(s->srv, st->member_ids[i], client, sizeof client);
        srv_member_zone(s->srv, st->member_ids[i], zone, sizeof zone);
        char r = st->member_roles[i];
        resp_array(&s->out, 6);
        resp_int(&s->out, (int64_t)st->member_ids[i]);
        resp_bulk_str(&s->out, st->member_addrs[i]);
        resp_bulk_str(&s->out, client);
        resp_bulk_str(&s->out, r == 'v' ? "voter" : r == 's' ? "standby" : "spare");
        resp_int(&s->out, st->member_ids[i] == st->leader_id);
        resp_bulk_str(&s->out, zone);
    }
    slot_done(s);
}

/* The words after ADD's address or PROMOTE's/REMOVE's id: STANDBY (ADD),
 * FORCE (ADD, REMOVE), TIMEOUT ms. */
static bool parse_flags(struct slot *s, uint32_t from, bool is_add, bool is_remove, bool *standby,
                        bool *force, long long *timeout_ms)
{
    for (uint32_t i = from; i < s->argc; i++) {
        if (is_add && slot_arg_is(s, i, "STANDBY") && !*standby) *standby = true;
        else if ((is_add || is_remove) && slot_arg_is(s, i, "FORCE") && !*force) *force = true;
        else if (slot_arg_is(s, i, "TIMEOUT") && i + 1 < s->argc && *timeout_ms < 0) {
            char buf[32], *end;
            *timeout_ms = strtoll(slot_arg(s, ++i, buf, sizeof buf), &end, 10);
            if (*end != 0 || s->argv[i].n == 0 || *timeout_ms <= 0 || *timeout_ms > 86400000) return false;
        } else return false;
    }
    return true;
}

CMD_DECL_LOCAL(cmd_keel_member)
{
    char sub[16], addr[64] = "";
    struct keel_node_status st;
    struct keel_node *node = s->srv->node;
    uint64_t id = 0;
    slot_arg(s, 1, sub, sizeof sub);
    keel_node_status(node, &st);
    bool is_list = strcasecmp(sub, "list") == 0, is_add = strcasecmp(sub, "add") == 0,
         is_promote = strcasecmp(sub, "promote") == 0, is_remove = strcasecmp(sub, "remove") == 0;
    if (is_list && s->argc == 2) {
        list(s, &st);
        return;
    }
    bool standby = false, force = false;
    long long timeout_ms = -1;
    uint32_t flags_at = is_add ? 4 : 3;
    if (!(is_add || is_promote || is_remove) || s->argc < flags_at || !parse_id(s, 2, &id) ||
        !parse_flags(s, flags_at, is_add, is_remove, &standby, &force, &timeout_ms)) {
        srv_reply_error(&s->out, KEEL_EINVAL,
                        "usage: KEEL.MEMBER LIST | ADD id raft_addr [STANDBY] [FORCE] [TIMEOUT ms] | "
                        "PROMOTE id [TIMEOUT ms] | REMOVE id [FORCE] [TIMEOUT ms]");
        slot_done(s);
        return;
    }
    if (timeout_ms > 0) {
        /* The client's own budget, from when its request was read; a
         * forwarding follower's deadline may come sooner. */
        uint64_t t = (s->started_ns ? s->started_ns / 1000000 : keel_mono_ms()) + (uint64_t)timeout_ms;
        if (s->deadline_ms == 0 || t < s->deadline_ms) s->deadline_ms = t;
    }
    if (s->conn != NULL && s->conn->member_id != 0 && !s->forwarded_in && s->conn->member_id != id) {
        /* A joining node asks on the member channel: only as itself. */
        resp_errorf(&s->out, "NOPERM", "KEEL.JOIN for member %llu from a certificate naming member %llu",
                    (unsigned long long)id, (unsigned long long)s->conn->member_id);
        slot_done(s);
        return;
    }
    if (fwd_unless_leader(s, &st)) return;
    int at = member_at(&st, id);
    char want = is_remove ? 0 : standby ? 's' : 'v';
    if (is_add) slot_arg(s, 3, addr, sizeof addr);
    if (is_add && !raft_addr_ok(addr)) {
        srv_reply_errorf(&s->out, KEEL_EINVAL, "'%s' is no raft address: want IPv4:PORT", addr);
        slot_done(s);
        return;
    }
    if ((at < 0 && is_remove) || (at >= 0 && st.member_roles[at] == want &&
                                  (!is_add || strcmp(st.member_addrs[at], addr) == 0))) {
        resp_ok(&s->out); /* already so: a retry after the change went through */
        slot_done(s);
        return;
    }
    if (at < 0 && is_promote) {
        srv_reply_errorf(&s->out, KEEL_ENOTFOUND, "no member with id %llu", (unsigned long long)id);
        slot_done(s);
        return;
    }
    if (is_add && at >= 0 && strcmp(st.member_addrs[at], addr) != 0) {
        srv_reply_errorf(&s->out, KEEL_EINVAL, "id %llu is already a member at %s: remove it first",
                         (unsigned long long)id, st.member_addrs[at]);
        slot_done(s);
        return;
    }
    struct keel_member_req req = {
        .op = is_remove ? KEEL_MEMBER_REMOVE : at >= 0 ? KEEL_MEMBER_ASSIGN : KEEL_MEMBER_ADD,
        .id = id, .address = addr, .voter = want == 'v', .force = force,
    };
    start_change(s, &req);
}

void srv_member_progress_log(struct keel_server *srv)
{
    char line[300];
    uint64_t now = uv_now(srv->loop);
    if (srv->role != KEEL_ROLE_LEADER || now - srv->member_logged_at < 5000) return;
    keel_node_member_status(srv->node, line, sizeof line);
    if (line[0] == 0) return;
    srv->member_logged_at = now;
    log_info("membership change under way: %s", line);
}

static void transfer_done(void *data, uint64_t new_leader)
{
    struct slot *s = data;
    char buf[32];
    uint64_t want = s->argc > 1 ? strtoull(slot_arg(s, 1, buf, sizeof buf), NULL, 10) : 0;
    if (new_leader != 0 && new_leader != s->srv->cfg.node_id && (want == 0 || new_leader == want))
        resp_int(&s->out, (int64_t)new_leader);
    else if (new_leader == s->srv->cfg.node_id)
        srv_reply_error(&s->out, KEEL_EINVAL, "leadership transfer did not complete: this node still leads");
    else
        srv_reply_error(&s->out, KEEL_ENOTLEADER, "leadership transfer under way or failed: no leader yet");
    slot_done(s);
}

CMD_DECL_LOCAL(cmd_keel_transfer)
{
    struct keel_node_status st;
    uint64_t id = 0;
    if (s->argc > 2 || (s->argc == 2 && !(parse_id(s, 1, &id) || (s->argv[1].n == 1 && s->argv[1].p[0] == '0')))) {
        srv_reply_error(&s->out, KEEL_EINVAL, "usage: KEEL.TRANSFER [id]");
        slot_done(s);
        return;
    }
    if (fwd_unless_leader(s, &st)) return;
    int at = id ? member_at(&st, id) : 0;
    if (id && (at < 0 || st.member_roles[at] != 'v')) {
        srv_reply_errorf(&s->out, KEEL_EINVAL, "%llu is not a voter", (unsigned long long)id);
        slot_done(s);
        return;
    }
    if (id == st.id) {
        resp_int(&s->out, (int64_t)id); /* already so */
        slot_done(s);
        return;
    }
    int rc = keel_node_transfer(s->srv->node, id, transfer_done, s);
    if (rc != 0) {
        /* -BUSY, the table's word: the leader is busy, ask it again; not
         * -TRYAGAIN, which sends a client to another node for a leader. */
        if (rc == KEEL_EBUSY) srv_reply_error(&s->out, rc, "a leadership transfer is already running");
        else if (rc == KEEL_ENOTFOUND) srv_reply_error(&s->out, rc, "no voter to hand leadership to");
        else srv_reply_error(&s->out, rc, NULL);
        slot_done(s);
    }
}
