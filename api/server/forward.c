/* api/server: forwarding a follower's writes and linearizable reads to the
 * leader: the rules. Which requests go (not while stopping, not one that
 * was itself forwarded here, a MOVED redirect under --redirect, none before
 * the cluster's forwarding token is known), where (with member TLS, the
 * leader's member channel on its raft port; else the leader's client
 * address from the replicated node table, with the token), by when (each request's
 * deadline: its client's budget, --forward-timeout or a membership
 * change's, counted from when it was read here), and how its client is
 * answered: the leader's reply relayed as it came, or -UNCERTAIN when a
 * sent write may or may not have been applied, -TRYAGAIN when the request
 * was never sent. The connection that carries them, with its clock and
 * deadline handling, is forward_conn.c's (forward.h between the two). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/server/block.h"
#include "api/server/forward.h"
#include "api/server/server_internal.h"
#include "raft/membership.h"

#define DEFAULT_MEMBER_MS 30000
/* A blocking pop with timeout 0 waits for ever: its deadline is this far
 * (4,000 years), which fits the leader's clock conversion (int64 ms). */
#define BLOCK_FOREVER_MS (UINT64_C(1) << 47)

/* A value of the replicated node table, as a string. */
static int node_table_get(struct keel_server *srv, const char *key, char *addr, size_t size)
{
    struct keel_read rd;
    struct keel_record rec;
    int rc = keel_read_begin(srv->store, 0, &rd);
    if (rc != 0) return rc;
    rc = keel_read_get(&rd, keel_str(key), &rec);
    if (rc == 0) {
        size_t n = rec.len < size - 1 ? rec.len : size - 1;
        memcpy(addr, rec.val, n);
        addr[n] = 0;
    }
    keel_read_end(&rd);
    return rc;
}

int srv_member_client_addr(struct keel_server *srv, uint64_t id, char *addr, size_t size)
{
    char key[64];
    if (id == srv->cfg.node_id) {
        snprintf(addr, size, "%s", srv->client_addr);
        return 0;
    }
    syskey_node(id, key, sizeof key);
    return node_table_get(srv, key, addr, size);
}

int srv_member_zone(struct keel_server *srv, uint64_t id, char *zone, size_t size)
{
    char key[64];
    zone[0] = 0;
    syskey_zone(id, key, sizeof key);
    return node_table_get(srv, key, zone, size);
}

int srv_leader_client_addr(struct keel_server *srv, char *addr, size_t size)
{
    struct keel_node_status st;
    keel_node_status(srv->node, &st);
    if (st.leader_id == 0) return KEEL_ENOTFOUND;
    return srv_member_client_addr(srv, st.leader_id, addr, size);
}

/* ---- answering a client without the leader ----------------------------- */

static bool is_write(const struct slot *s)
{
    return s->cmd != NULL && (s->cmd->flags & CMD_WRITE);
}

void fwd_answer_sent(struct slot *s, const char *why)
{
    if (s->conn != NULL || s->on_internal_done != NULL) {
        s->out.len = 0;
        if (is_write(s))
            srv_reply_errorf(&s->out, KEEL_EUNCERTAIN, "%s after forwarding the write to the leader: it may or may "
                             "not have been applied (never after its deadline)", why);
        else
            srv_reply_errorf(&s->out, KEEL_ENOTLEADER, "%s", why);
    }
    slot_done(s);
}

void fwd_answer_unsent(struct slot *s, const char *why)
{
    if (s->conn != NULL || s->on_internal_done != NULL) {
        s->out.len = 0;
        srv_reply_errorf(&s->out, KEEL_ENOTLEADER, "%s", why);
    }
    slot_done(s);
}

void fwd_relay(struct slot *s, const uint8_t *p, size_t n)
{
    if (s->on_forward_reply != NULL && (s->conn != NULL || s->internal))
        s->on_forward_reply(s, p, n);
    else if (s->conn != NULL || s->on_internal_done != NULL)
        buf_append(&s->out, p, n);
    slot_done(s);
}

/* When a request read here must be answered by, on our clock. */
static uint64_t deadline_of(struct slot *s)
{
    const struct keel_server_config *cfg = &s->srv->cfg;
    uint64_t start = s->started_ns ? s->started_ns / 1000000 : keel_mono_ms();
    bool member = s->cmd != NULL && (s->cmd->flags & CMD_LOCAL) && (s->cmd->flags & CMD_WRITE);
    unsigned budget = cfg->forward_timeout_ms ? cfg->forward_timeout_ms : DEFAULT_FORWARD_MS;
    if (member && !slot_arg_is(s, 0, "KEEL.TRANSFER") && !slot_arg_is(s, 1, "REMOVE"))
        budget = cfg->member_timeout_ms ? cfg->member_timeout_ms : DEFAULT_MEMBER_MS;
    /* A blocking pop may wait its whole timeout on the leader before its
     * answer comes: its deadline is the timeout plus the usual budget (for
     * the pop that may end it), and none for timeout 0 (Redis's "for
     * ever"). It travels on a connection of its own (block_fwd_take), so a
     * far deadline holds nobody else up; a leader lost meanwhile closes that
     * connection and the client is answered then. An unparsable timeout
     * gets the usual budget: the leader answers its error at once. */
    uint64_t wait;
    if (s->cmd != NULL && (s->cmd->flags & CMD_BLOCKING) && block_timeout_ms(s, &wait))
        return wait == 0 ? start + BLOCK_FOREVER_MS : start + wait + budget;
    return start + budget;
}

void fwd_request(struct slot *s)
{
    struct keel_server *srv = s->srv;
    bool admin = s->cmd != NULL && (s->cmd->flags & CMD_LOCAL) && (s->cmd->flags & CMD_WRITE);
    struct forwarder *f = admin ? srv->fwd_admin : srv->fwd;
    char addr[64], token[FWD_TOKEN_SIZE];
    if (f == NULL) {
        /* Stopping (keel_server_drain): the leader is another node's business now. */
        srv_reply_error(&s->out, KEEL_ENOTLEADER, "this node is shutting down");
        slot_done(s);
        return;
    }
    if (s->forwarded_in) {
        /* The sender thought we lead; we do not (any more). */
        srv_reply_error(&s->out, KEEL_ENOTLEADER, "no leader");
        slot_done(s);
        return;
    }
    bool member = keel_node_member_tls(srv->node);
    struct keel_node_status st;
    keel_node_status(srv->node, &st);
    if (st.leader_id == 0 || st.leader_id == srv->cfg.node_id ||
        (!member && (srv_leader_client_addr(srv, addr, sizeof addr) != 0 || strcmp(addr, srv->client_addr) == 0))) {
        srv_reply_error(&s->out, KEEL_ENOTLEADER, "no leader");
        slot_done(s);
        return;
    }
    if (srv->cfg.redirect && s->conn != NULL) { /* the node's own requests always go */
        if (member && srv_leader_client_addr(srv, addr, sizeof addr) != 0) snprintf(addr, sizeof addr, "?");
        resp_errorf(&s->out, "MOVED", "0 %s", addr);
        slot_done(s);
        return;
    }
    if (member) {
        /* The member channel: the leader's raft address, its certificate the proof. */
        snprintf(addr, sizeof addr, "%s", st.leader_address);
        snprintf(token, sizeof token, "-");
    } else if (srv_cluster_token(srv, token, sizeof token) != 0) {
        srv_reply_error(&s->out, KEEL_ENOTLEADER, "this node has not yet learned the cluster's forwarding token");
        slot_done(s);
        return;
    }
    if (s->deadline_ms == 0) s->deadline_ms = deadline_of(s);
    if (keel_mono_ms() >= s->deadline_ms) {
        fwd_answer_unsent(s, "its deadline passed before it could be forwarded to the leader");
        return;
    }
    /* The forwarder keeps its FIFO's order on the way to the leader, which
     * proposes a member's requests in the order they arrive: a write's
     * place is fixed once it is in the FIFO. Uncounted first: s may be
     * answered (and freed) inside fwd_submit. */
    if (s->cmd != NULL && (s->cmd->flags & CMD_BLOCKING)) {
        /* Its own connection: it may wait long (block.h); released when
         * it is answered (slot_done's block_forget). */
        if ((f = s->own_fwd = block_fwd_take(srv)) == NULL) {
            srv_reply_error(&s->out, KEEL_ENOMEM, "out of memory forwarding to the leader");
            slot_done(s);
            return;
        }
    }
    struct conn *held = placed_when_proposed(s) ? srv_slot_place(s) : NULL;
    fwd_submit(f, addr, member ? st.leader_id : 0, token, s);
    if (held != NULL) conn_order_resume(held);
}

bool fwd_unless_leader(struct slot *s, struct keel_node_status *st)
{
    keel_node_status(s->srv->node, st);
    if (st->role == KEEL_ROLE_LEADER) return false;
    fwd_request(s);
    return true;
}
