/* api: certificate rotation and CERT_EXPIRY (see tls_rotate.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/server/log.h"
#include "api/server/observe/observe.h"
#include "api/server/server_internal.h"
#include "api/server/tls_rotate.h"
#include "raft/tls.h"

const char *tls_rotate_file(const struct keel_server *srv, int which)
{
    return srv->tls_files[which];
}

static void utc(int64_t t, char *buf, size_t size)
{
    struct tm tm;
    time_t tt = (time_t)t;
    gmtime_r(&tt, &tm);
    strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

int tls_rotate_reload(struct keel_server *srv, const char *cert, const char *key, const char *ca, const char *why,
                      char *err, size_t errsize)
{
    const char *files[3] = {cert ? cert : srv->tls_files[0], key ? key : srv->tls_files[1],
                            ca ? ca : srv->tls_files[2]};
    for (int i = 0; i < 3; i++) {
        if (strlen(files[i]) >= sizeof srv->tls_files[i]) {
            snprintf(err, errsize, "file name too long");
            goto refused;
        }
    }
    struct keel_tls_ctx *member = keel_node_tls_ctx(srv->node), *client = srv->cfg.tls;
    struct keel_tls_ctx *next_member = NULL, *next_client = NULL;
    char e[512];
    /* Both are built before either is swapped: all or nothing. */
    if (member != NULL) {
        struct keel_tls_options o = {.cert_file = files[0], .key_file = files[1], .ca_file = files[2],
                                     .verify = KEEL_TLS_VERIFY_REQUIRE, .member_id = srv->cfg.node_id};
        next_member = keel_tls_ctx_new(&o, e, sizeof e);
        if (next_member == NULL) {
            snprintf(err, errsize, "member TLS: %s", e);
            goto refused;
        }
    }
    if (client != NULL) {
        struct keel_tls_options o = srv->tls_client_options;
        o.cert_file = files[0];
        o.key_file = files[1];
        o.ca_file = files[2];
        next_client = keel_tls_ctx_new(&o, e, sizeof e);
        if (next_client == NULL) {
            keel_tls_ctx_free(next_member);
            snprintf(err, errsize, "client TLS: %s", e);
            goto refused;
        }
    }
    /* HTTPS: the same files when it follows them, else its own, re-read;
     * checked (OpenSSL) before anything is swapped, like the others. */
    struct http_secrets hs = {NULL, NULL, NULL};
    bool https = srv->http_files[0][0] != 0 && srv->obs != NULL && srv->obs->http != NULL;
    bool follows = srv->cfg.http_follows_tls;
    const char *hcert = follows ? files[0] : srv->http_files[0], *hkey = follows ? files[1] : srv->http_files[1];
    if (https) {
        char warning[256];
        if (http_secrets_load(follows ? "tls-cert-file" : "http-tls-cert-file", hcert,
                              follows ? "tls-key-file" : "http-tls-key-file", hkey, NULL, &hs, e, sizeof e, warning,
                              sizeof warning) != 0) {
            keel_tls_ctx_free(next_member);
            keel_tls_ctx_free(next_client);
            snprintf(err, errsize, "HTTPS: %s", e);
            goto refused;
        }
    }
    if (next_member != NULL) keel_tls_ctx_swap(member, next_member);
    if (next_client != NULL) keel_tls_ctx_swap(client, next_client);
    if (https) {
        if (http_reload_tls(srv->obs->http, hs.cert_pem, hs.key_pem, e, sizeof e) == 0) {
            http_secrets_free(&srv->http_sec); /* the pair before: its daemon has stopped */
            srv->http_sec = hs;
            if (follows) { /* else hcert and hkey are these very buffers */
                snprintf(srv->http_files[0], sizeof srv->http_files[0], "%s", hcert);
                snprintf(srv->http_files[1], sizeof srv->http_files[1], "%s", hkey);
            }
        } else {
            log_warn("TLS reload (%s): HTTPS: %s", why, e);
            http_secrets_free(&hs);
        }
    }
    for (int i = 0; i < 3; i++) {
        if (files[i] != srv->tls_files[i]) snprintf(srv->tls_files[i], sizeof srv->tls_files[i], "%s", files[i]);
    }
    srv->tls_reloads[TLS_RELOAD_OK]++;
    struct tls_rotate_expiry x;
    tls_rotate_expiry(srv, &x);
    char own[40] = "-", cas[40] = "-";
    int64_t o = x.member_own ? x.member_own : x.client_own, c = x.member_ca ? x.member_ca : x.client_ca;
    if (o) utc(o, own, sizeof own);
    if (c) utc(c, cas, sizeof cas);
    if (member == NULL && client == NULL && !https)
        log_info("TLS files set (%s): no TLS context in use, nothing reloaded", why);
    else
        log_info("TLS reloaded (%s):%s%s%s; certificate %s valid until %s, CA %s until %s", why,
                 member ? " member" : "", client ? " client" : "", https ? " HTTPS" : "", files[0], own, files[2], cas);
    if (srv->obs != NULL) tls_rotate_eval(srv);
    return 0;
refused:
    srv->tls_reloads[TLS_RELOAD_ERROR]++;
    log_warn("TLS reload (%s) refused, the certificates in use stay: %s", why, err);
    return -1;
}

void tls_rotate_expiry(struct keel_server *srv, struct tls_rotate_expiry *e)
{
    struct keel_tls_expiry x;
    struct keel_tls_ctx *member = keel_node_tls_ctx(srv->node);
    memset(e, 0, sizeof *e);
    if (member != NULL) {
        keel_tls_ctx_expiry(member, &x);
        e->member_own = x.own;
        e->member_ca = x.ca;
    }
    if (srv->cfg.tls != NULL) {
        keel_tls_ctx_expiry(srv->cfg.tls, &x);
        e->client_own = x.own;
        e->client_ca = x.ca;
    }
}

/* The first of the four dates within the warning window, named. */
void tls_rotate_eval(struct keel_server *srv)
{
    struct tls_rotate_expiry x;
    tls_rotate_expiry(srv, &x);
    const struct {
        int64_t t;
        const char *what;
        int file;
    } all[] = {{x.member_own, "member certificate", 0}, {x.member_ca, "CA in", 2},
               {x.client_own, "client port certificate", 0}, {x.client_ca, "CA in", 2}};
    int64_t now = (int64_t)time(NULL), window = (int64_t)srv->cfg.tls_expiry_warn_days * 86400;
    int first = -1;
    for (int i = 0; i < 4; i++) {
        if (all[i].t != 0 && all[i].t - now <= window && (first < 0 || all[i].t < all[first].t)) first = i;
    }
    if (first < 0) {
        alarm_clear(srv, ALARM_CERT_EXPIRY);
        return;
    }
    char when[40], why[200];
    int64_t left = all[first].t - now;
    utc(all[first].t, when, sizeof when);
    if (left <= 0)
        snprintf(why, sizeof why, "%s %s expired at %s: rotate it (SIGHUP or CONFIG SET tls-cert-file)",
                 all[first].what, srv->tls_files[all[first].file], when);
    else
        snprintf(why, sizeof why, "%s %s expires at %s (in %.1f days): rotate it (SIGHUP or CONFIG SET tls-cert-file)",
                 all[first].what, srv->tls_files[all[first].file], when, (double)left / 86400);
    alarm_raise(srv, ALARM_CERT_EXPIRY, why);
}

int keel_server_tls_reload(struct keel_server *srv, const char *why, char *err, size_t errsize)
{
    return tls_rotate_reload(srv, NULL, NULL, NULL, why, err, errsize);
}
