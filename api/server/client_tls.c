/* api/server: the TLS port's connections as the server sees them: the
 * handshakes waited for, bounded in time, and the refusals counted
 * (keel_client_tls_rejected_total{reason}) and logged, at most one line per
 * reason every LOG_EVERY_MS so that a scanner or a misconfigured fleet
 * cannot flood the log. The bytes go through conn_tls.c (docs/security.md,
 * "Client TLS"). */
#include <inttypes.h>
#include <stdio.h>

#include "api/server/conn_tls.h"
#include "api/server/log.h"
#include "api/server/server_internal.h"

#define LOG_EVERY_MS 10000
#define SWEEP_EVERY_MS 500

static const char *reject_names[KEEL_CLIENT_TLS_REJECTS] = {"no_cert", "bad_cert", "handshake", "timeout"};

const char *keel_client_tls_reject_name(int reason)
{
    return reason >= 0 && reason < KEEL_CLIENT_TLS_REJECTS ? reject_names[reason] : "?";
}

static void refused(struct conn *c, int reason, const char *detail)
{
    struct keel_server *srv = c->srv;
    uint64_t now = uv_now(srv->loop);
    srv->stats.tls_rejected[reason]++;
    if (srv->tls_logged_at[reason] != 0 && now - srv->tls_logged_at[reason] < LOG_EVERY_MS) {
        srv->tls_unlogged[reason]++;
        return;
    }
    char more[80] = "";
    if (srv->tls_unlogged[reason] > 0)
        snprintf(more, sizeof more, " (and %" PRIu64 " more since the last report)", srv->tls_unlogged[reason]);
    log_warn("client %s refused on the TLS port (%s): %s%s", c->peer[0] ? c->peer : "?",
             keel_client_tls_reject_name(reason), detail, more);
    srv->tls_logged_at[reason] = now ? now : 1;
    srv->tls_unlogged[reason] = 0;
}

void srv_tls_ended(struct conn *c)
{
    const char *detail;
    enum keel_tls_reason r = conn_tls_failure(c->tls, &detail);
    if (r == KEEL_TLS_R_NONE) return; /* after the handshake, or a probe that sent nothing */
    int reason = r == KEEL_TLS_R_NO_CERT    ? KEEL_CLIENT_TLS_NO_CERT
                 : r == KEEL_TLS_R_BAD_CERT ? KEEL_CLIENT_TLS_BAD_CERT
                                            : KEEL_CLIENT_TLS_HANDSHAKE;
    refused(c, reason, detail);
}

void srv_tls_handshaken(struct conn *c)
{
    struct keel_server *srv = c->srv;
    if (c->tls_handshaking) {
        c->tls_handshaking = false;
        srv->tls_handshaking--;
    }
    srv->stats.tls_handshakes++;
    log_debug("client %llu (%s): %s, %s", (unsigned long long)c->id, c->peer, conn_tls_version(c->tls),
              conn_tls_peer_cert(c->tls) ? "client certificate verified" : "no client certificate");
}

void srv_tls_tick(struct keel_server *srv)
{
    uint64_t now = uv_now(srv->loop);
    if (srv->tls_handshaking == 0 || now - srv->tls_checked_at < SWEEP_EVERY_MS) return;
    srv->tls_checked_at = now;
    for (struct conn *c = srv->conns; c != NULL;) {
        struct conn *next = c->next;
        if (c->tls_handshaking && now - conn_tls_started(c->tls) >= KEEL_CLIENT_TLS_HANDSHAKE_MS) {
            char detail[80];
            snprintf(detail, sizeof detail, "no TLS handshake within %u ms", KEEL_CLIENT_TLS_HANDSHAKE_MS);
            refused(c, KEEL_CLIENT_TLS_TIMEOUT, detail);
            conn_close(c);
        }
        c = next;
    }
}
