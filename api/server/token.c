/* api: the cluster's forwarding token. KEEL.FWD runs a request with a
 * follower's privileges (reserved keys, internal commands), so the leader
 * must know the sender is a member, not a client typing KEEL.FWD. The first
 * leader puts a random token into the replicated state (SET NX, so the first
 * proposal wins even across leader changes and the value never changes);
 * every member reads it from its own state, clients cannot (reserved keys
 * are refused to them). A member that has not applied it yet cannot forward
 * and says -TRYAGAIN. Whoever can read a data directory can read the
 * token, so it is what proves a member only without member TLS; with
 * --tls-cluster yes members call each other on the raft port's member
 * channel, where the peer's certificate is the proof and the token is not
 * looked at, and KEEL.FWD on a client connection is refused whatever token
 * it carries (srv_member_call_ok). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "api/server/log.h"
#include "api/server/server_internal.h"

#define TOKEN_KEY SYSKEY_PREFIX "fwd-token"

int srv_cluster_token(struct keel_server *srv, char *buf, size_t size)
{
    struct keel_read rd;
    struct keel_record rec;
    if (srv->token[0] != 0) { /* set once, never changed: safe to cache */
        snprintf(buf, size, "%s", srv->token);
        return 0;
    }
    int rc = keel_read_begin(srv->store, 0, &rd);
    if (rc != 0) return rc;
    rc = keel_read_get(&rd, keel_str(TOKEN_KEY), &rec);
    if (rc == 0) {
        if (rec.len == 0 || rec.len >= sizeof srv->token) rc = KEEL_ECORRUPT;
        else memcpy(srv->token, rec.val, rec.len), srv->token[rec.len] = 0;
    }
    keel_read_end(&rd);
    if (rc == 0) snprintf(buf, size, "%s", srv->token);
    return rc;
}

bool srv_cluster_token_ok(struct keel_server *srv, struct keel_slice given)
{
    char token[sizeof srv->token];
    return srv_cluster_token(srv, token, sizeof token) == 0 && given.n == strlen(token) &&
           memcmp(given.p, token, given.n) == 0;
}

bool srv_member_call_ok(struct slot *s, uint32_t arg, char *why, size_t size)
{
    struct keel_server *srv = s->srv;
    if (s->conn != NULL && s->conn->member_id != 0) {
        /* Its certificate, not the token, is the proof; but a member that
         * was removed (its certificate still valid) no longer speaks for
         * the cluster. */
        struct keel_node_status st;
        keel_node_status(srv->node, &st);
        for (unsigned i = 0; i < st.members; i++)
            if (st.member_ids[i] == s->conn->member_id) return true;
        snprintf(why, size, "member %llu is not in the cluster's configuration",
                 (unsigned long long)s->conn->member_id);
        return false;
    }
    if (keel_node_member_tls(srv->node)) {
        snprintf(why, size, "with --tls-cluster yes, members call each other only on the member channel (raft port)");
        return false;
    }
    if (arg < s->argc && srv_cluster_token_ok(srv, s->argv[arg])) return true;
    snprintf(why, size, "wrong or unknown token");
    return false;
}

static void token_cb(void *data, int status, const struct keel_reply *reply)
{
    struct keel_server *srv = data;
    (void)reply;
    srv->token_proposing = false;
    if (status != 0) log_warn("proposing the forwarding token failed: %d (retrying)", status);
}

void srv_cluster_token_ensure(struct keel_server *srv)
{
    char token[sizeof srv->token];
    uint8_t raw[16];
    if (srv->token_proposing || srv->role != KEEL_ROLE_LEADER || !srv->ready) return;
    if (srv_cluster_token(srv, token, sizeof token) != KEEL_ENOTFOUND) return;
    /* Randomness in the proposal, never in apply: every member stores the
     * bytes the leader chose. */
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        log_warn("getrandom failed: no forwarding token yet");
        return;
    }
    for (size_t i = 0; i < sizeof raw; i++) snprintf(token + 2 * i, 3, "%02x", raw[i]);
    struct keel_enc e;
    uint8_t *buf;
    size_t len;
    keel_enc_init(&e, srv_now(srv), 0, 0);
    keel_enc_set(&e, keel_str(TOKEN_KEY), keel_str(token), 0, KEEL_SET_NX);
    if (keel_enc_finish(&e, &buf, &len) == 0) {
        if (keel_node_write(srv->node, buf, len, token_cb, srv) == 0) srv->token_proposing = true;
        free(buf);
    }
    keel_enc_close(&e);
}
