/* api: membership commands.
 *
 *   KEEL.JOIN id raft_addr            a starting node asks to be added (--join)
 *   KEEL.MEMBER LIST                  this node's view of the configuration:
 *                                     [id, raft addr, client addr, role, leader, zone]...
 *   KEEL.MEMBER ADD id raft_addr [STANDBY]
 *   KEEL.MEMBER PROMOTE id            standby (or spare) -> voter
 *   KEEL.MEMBER REMOVE id
 *   KEEL.TRANSFER [id]                hand leadership to id (0 or none: the
 *                                     most up-to-date voter); replies the
 *                                     new leader's id
 *
 * Changes run on the leader (a follower forwards them), one at a time, as
 * raft allows; a second one meanwhile gets -TRYAGAIN. An added node joins as
 * a spare, is caught up by raft, then takes its role, so a slow newcomer never
 * counts toward quorum before it has the log. Each change is idempotent when
 * the configuration already is what was asked, so an operator or a script may
 * retry after a timeout or -UNCERTAIN without undoing anything. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/commands.h"

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

static void join_cb(void *data, int status, const char *why)
{
    struct slot *s = data;
    if (status == 0) resp_ok(&s->out);
    else if (status == KEEL_ENOTLEADER) resp_error(&s->out, "TRYAGAIN", "leadership changed during the join");
    else resp_errorf(&s->out, "ERR", "join: %s", why);
    slot_done(s);
}

/* KEEL.JOIN id raft_addr: add a node (as a spare, caught up, then a voter).
 * A member that is already a voter or a standby gets +OK; a spare (an add
 * that stopped half-way) is made a voter. */
DECL_LOCAL(cmd_keel_join)
{
    char addr[64];
    struct keel_node_status st;
    uint64_t id;
    slot_arg(s, 2, addr, sizeof addr);
    if (!parse_id(s, 1, &id) || !raft_addr_ok(addr)) {
        resp_error(&s->out, "ERR", "KEEL.JOIN wants an id > 0 and a raft address (IPv4:PORT)");
        slot_done(s);
        return;
    }
    keel_node_status(s->srv->node, &st);
    if (st.role != KEEL_ROLE_LEADER) {
        forward(s);
        return;
    }
    int at = member_at(&st, id);
    if (at >= 0 && st.member_roles[at] != 'p') {
        /* A retry after the join went through, or an operator added us
         * first (KEEL.MEMBER ADD ... STANDBY): keep the role we have. */
        resp_ok(&s->out);
        slot_done(s);
        return;
    }
    int rc = at >= 0 ? keel_node_assign(s->srv->node, id, true, join_cb, s)
                     : keel_node_add(s->srv->node, id, addr, true, join_cb, s);
    if (rc != 0) {
        if (rc == KEEL_EBUSY) resp_error(&s->out, "TRYAGAIN", "another membership change is running");
        else reply_error_code(&s->out, rc, rc == KEEL_EEXISTS ? "id or address already in use" : NULL);
        slot_done(s);
    }
}

static void change_cb(void *data, int status, const char *why)
{
    struct slot *s = data;
    if (status == 0) resp_ok(&s->out);
    else if (status == KEEL_ENOTLEADER)
        /* The entry may still commit under the next leader. */
        resp_error(&s->out, "UNCERTAIN",
                   "leadership changed during the membership change: it may or may not have "
                   "happened (see KEEL.MEMBER LIST)");
    else if (slot_arg_is(s, 1, "ADD") && strstr(why, "connection") != NULL)
        /* raft promotes a new voter only once it has caught up, which a node
         * that is not running yet cannot do. */
        resp_errorf(&s->out, "ERR", "membership change failed: %s: the node did not catch up in time "
                    "(is it running? start it with keeld --join; it stays a spare until then, and "
                    "joins as a voter by itself, or add it with STANDBY first)", why);
    else resp_errorf(&s->out, "ERR", "membership change failed: %s", why);
    slot_done(s);
}

static void list(struct slot *s, const struct keel_node_status *st)
{
    resp_array(&s->out, st->members);
    for (unsigned i = 0; i < st->members; i++) {
        char client[64] = "", zone[64];
        node_client_addr(s->srv, st->member_ids[i], client, sizeof client);
        node_zone(s->srv, st->member_ids[i], zone, sizeof zone);
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

static void change_started(struct slot *s, int rc, uint64_t id)
{
    if (rc == 0) return; /* change_cb answers */
    if (rc == KEEL_EBUSY) resp_error(&s->out, "TRYAGAIN", "another membership change is running");
    else if (rc == KEEL_ENOTLEADER) resp_error(&s->out, "TRYAGAIN", "not the leader any more");
    else if (rc == KEEL_EEXISTS) resp_errorf(&s->out, "ERR", "id %llu or its address is already in use",
                                             (unsigned long long)id);
    else reply_error_code(&s->out, rc, NULL);
    slot_done(s);
}

DECL_LOCAL(cmd_keel_member)
{
    char sub[16], addr[64];
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
    bool standby = false;
    if (is_add && s->argc == 5) standby = strcasecmp(slot_arg(s, 4, sub, sizeof sub), "standby") == 0;
    if (!((is_add && (s->argc == 4 || standby)) || ((is_promote || is_remove) && s->argc == 3)) ||
        !parse_id(s, 2, &id)) {
        resp_error(&s->out, "ERR",
                   "usage: KEEL.MEMBER LIST | ADD id raft_addr [STANDBY] | PROMOTE id | REMOVE id");
        slot_done(s);
        return;
    }
    if (st.role != KEEL_ROLE_LEADER) {
        forward(s);
        return;
    }
    int at = member_at(&st, id);
    char want = is_remove ? 0 : standby ? 's' : 'v';
    if (is_add) slot_arg(s, 3, addr, sizeof addr);
    if (is_add && !raft_addr_ok(addr)) {
        resp_errorf(&s->out, "ERR", "'%s' is no raft address: want IPv4:PORT", addr);
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
        resp_errorf(&s->out, "ERR", "no member with id %llu", (unsigned long long)id);
        slot_done(s);
        return;
    }
    if (is_add && at >= 0 && strcmp(st.member_addrs[at], addr) != 0) {
        resp_errorf(&s->out, "ERR", "id %llu is already a member at %s: remove it first",
                    (unsigned long long)id, st.member_addrs[at]);
        slot_done(s);
        return;
    }
    int rc = is_remove ? keel_node_remove(node, id, change_cb, s)
             : at >= 0 ? keel_node_assign(node, id, want == 'v', change_cb, s)
                       : keel_node_add(node, id, addr, want == 'v', change_cb, s);
    change_started(s, rc, id);
}

static void transfer_done(void *data, uint64_t new_leader)
{
    struct slot *s = data;
    char buf[32];
    uint64_t want = s->argc > 1 ? strtoull(slot_arg(s, 1, buf, sizeof buf), NULL, 10) : 0;
    if (new_leader != 0 && new_leader != s->srv->cfg.node_id && (want == 0 || new_leader == want))
        resp_int(&s->out, (int64_t)new_leader);
    else if (new_leader == s->srv->cfg.node_id)
        resp_error(&s->out, "ERR", "leadership transfer did not complete: this node still leads");
    else
        resp_error(&s->out, "TRYAGAIN", "leadership transfer under way or failed: no leader yet");
    slot_done(s);
}

DECL_LOCAL(cmd_keel_transfer)
{
    struct keel_node_status st;
    uint64_t id = 0;
    if (s->argc > 2 || (s->argc == 2 && !(parse_id(s, 1, &id) || (s->argv[1].n == 1 && s->argv[1].p[0] == '0')))) {
        resp_error(&s->out, "ERR", "usage: KEEL.TRANSFER [id]");
        slot_done(s);
        return;
    }
    keel_node_status(s->srv->node, &st);
    if (st.role != KEEL_ROLE_LEADER) {
        forward(s);
        return;
    }
    int at = id ? member_at(&st, id) : 0;
    if (id && (at < 0 || st.member_roles[at] != 'v')) {
        resp_errorf(&s->out, "ERR", "%llu is not a voter", (unsigned long long)id);
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
        if (rc == KEEL_EBUSY) resp_error(&s->out, "TRYAGAIN", "a leadership transfer is already running");
        else if (rc == KEEL_ENOTFOUND) resp_error(&s->out, "ERR", "no voter to hand leadership to");
        else reply_error_code(&s->out, rc, NULL);
        slot_done(s);
    }
}
