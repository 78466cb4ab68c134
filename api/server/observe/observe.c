/* api: the observability job on the loop. See observe.h. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/server/log.h"
#include "api/server/observe/metrics.h"
#include "api/server/observe/observe.h"
#include "api/server/server_internal.h"

int obs_create(struct keel_server *srv)
{
    struct obs *o = calloc(1, sizeof *o);
    if (o == NULL) return KEEL_ENOMEM;
    o->cmd_latency = calloc(command_count, sizeof *o->cmd_latency);
    o->cmdstats = calloc(command_count, sizeof *o->cmdstats);
    if (o->cmd_latency == NULL || o->cmdstats == NULL) {
        free(o->cmd_latency);
        free(o->cmdstats);
        free(o);
        return KEEL_ENOMEM;
    }
    o->srv = srv;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    o->started_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    srv->obs = o;
    return 0;
}

void obs_free(struct keel_server *srv)
{
    if (srv->obs == NULL) return;
    http_stop(srv->obs->http);
    free(srv->obs->cmd_latency);
    free(srv->obs->cmdstats);
    free(srv->obs);
    srv->obs = NULL;
}

void obs_command_done(struct slot *s)
{
    struct obs *o = s->srv->obs;
    if (s->started_ns == 0 || o == NULL) return;
    /* A command handed on as a write of its own (ACL SETUSER, CONFIG SET
     * requirepass: auth.c, cmd_acl.c) is not a table row: no histogram. */
    uintptr_t at = (uintptr_t)s->cmd, first = (uintptr_t)command_table;
    uint64_t ns = uv_hrtime() - s->started_ns;
    int row = -1;
    if (s->cmd != NULL && at >= first && at < (uintptr_t)(command_table + command_count)) {
        row = (int)(s->cmd - command_table);
        keel_hist_observe(&o->cmd_latency[row], ns);
    }
    s->started_ns = 0;
    bool err = s->out.len >= 2 && s->out.p[0] == '-';
    obs_count_reply(o, row, s->executed, err ? s->out.p : NULL, err ? s->out.len : 0, ns);
    if (!err || s->cmd == NULL) return;
    const char *words[] = {
#define REJECT_WORD(e, label, word) word,
        REJECT_REASONS(REJECT_WORD)
#undef REJECT_WORD
    };
    for (int i = 0; i < REJECT_COUNT; i++) {
        size_t n = words[i] ? strlen(words[i]) : 0;
        if (n && s->out.len > n + 1 && memcmp(s->out.p + 1, words[i], n) == 0 && s->out.p[n + 1] == ' ') {
            o->rejected[i]++;
            return;
        }
    }
}

/* ---- the snapshot ------------------------------------------------------ */

static bool is_member(const struct keel_node_status *st, char *membership, size_t size)
{
    snprintf(membership, size, "%s", "");
    for (unsigned i = 0; i < st->members; i++) {
        if (st->member_ids[i] != st->id) continue;
        char r = st->member_roles[i];
        snprintf(membership, size, "%s", r == 'v' ? "voter" : r == 's' ? "standby" : "spare");
        return r == 'v' || r == 's';
    }
    return false;
}

static void reason(struct http_snapshot *h, const char *alarm, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reason(struct http_snapshot *h, const char *alarm, const char *fmt, ...)
{
    va_list ap;
    if (h->nreasons == HTTP_MAX_REASONS) return;
    struct http_reason *r = &h->reasons[h->nreasons++];
    snprintf(r->alarm, sizeof r->alarm, "%s", alarm);
    va_start(ap, fmt);
    vsnprintf(r->text, sizeof r->text, fmt, ap);
    va_end(ap);
}

/* The node's row, with the field names of `keelctl status --json`. */
static char *status_json(struct keel_server *srv, const struct keel_node_status *st, const char *membership,
                         uint64_t lag)
{
    struct keel_space sp;
    memset(&sp, 0, sizeof sp);
    keel_node_space(srv->node, &sp);
    json_t *alarms = json_array(), *details = json_array();
    for (int i = 0; i < ALARM_COUNT; i++) {
        const struct alarm *a = &srv->obs->alarms[i];
        if (!a->active) continue;
        json_array_append_new(alarms, json_string(alarm_name(i)));
        json_array_append_new(details, json_pack("{s:s, s:s, s:I}", "alarm", alarm_name(i), "reason", a->reason,
                                                 "since_ms", (json_int_t)a->since_ms));
    }
    json_t *o = json_pack("{s:I, s:s, s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "id", (json_int_t)st->id,
                          "address", srv->client_addr, "reachable", 1, "role", keel_role_name(st->role), "term",
                          (json_int_t)st->term, "leader", (json_int_t)st->leader_id, "commit_index",
                          (json_int_t)st->commit_index, "applied_index", (json_int_t)st->applied_index, "lag",
                          (json_int_t)lag, "snapshot_index", (json_int_t)st->snapshot_index);
    if (o == NULL) return NULL;
    if (membership[0]) json_object_set_new(o, "membership", json_string(membership));
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    json_object_set_new(o, "snapshot_age_s",
                        st->snapshot_at_ms ? json_integer((now - st->snapshot_at_ms) / 1000) : json_null());
    json_object_set_new(o, "db_size_bytes", json_integer((json_int_t)sp.file_bytes));
    json_object_set_new(o, "alarms", alarms);
    json_object_set_new(o, "alarm_details", details);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

static void publish(struct keel_server *srv)
{
    struct obs *o = srv->obs;
    struct http_snapshot h;
    struct keel_node_status st;
    char membership[16];
    memset(&h, 0, sizeof h);
    keel_node_status(srv->node, &st);
    bool member = is_member(&st, membership, sizeof membership);
    uint64_t lag = st.commit_index > st.applied_index ? st.commit_index - st.applied_index : 0;
    if (st.leader_id == 0) reason(&h, "", "no leader (this node: %s, term %llu)", keel_role_name(st.role),
                                  (unsigned long long)st.term);
    if (!member) reason(&h, "", "not a voting or standby member of the cluster%s%s", membership[0] ? ": " : "",
                        membership);
    if (lag > srv->cfg.health_max_lag)
        reason(&h, "", "applied index %llu is %llu entries behind the commit index (max %llu)",
               (unsigned long long)st.applied_index, (unsigned long long)lag,
               (unsigned long long)srv->cfg.health_max_lag);
    for (int i = 0; i < ALARM_COUNT; i++) {
        if (o->alarms[i].active) reason(&h, alarm_name(i), "%s", o->alarms[i].reason);
    }
    h.ready = st.leader_id != 0 && member;
    snprintf(h.ready_reason, sizeof h.ready_reason, "%s",
             st.leader_id == 0 ? "no leader yet" : !member ? "not a member yet" : "ready");
    h.metrics = metrics_render(srv, NULL);
    h.status_json = status_json(srv, &st, membership, lag);
    http_publish(o->http, &h);
}

void obs_refresh(struct keel_server *srv)
{
    const char *msg;
    if (srv->obs == NULL || srv->stopping || keel_node_fatal(srv->node, &msg)) return;
    alarms_evaluate(srv);
    if (srv->obs->http != NULL) publish(srv);
}

static void timer_cb(uv_timer_t *t)
{
    struct keel_server *srv = t->data;
    obs_rates_sample(srv, uv_now(t->loop));
    obs_refresh(srv);
}

int obs_start(struct keel_server *srv, char *errmsg)
{
    struct obs *o = srv->obs;
    if (srv->cfg.http_addr != NULL && srv->cfg.http_addr[0]) {
        struct http_options ho = {
            .addr = srv->cfg.http_addr, .max_conns = srv->cfg.http_max_conns ? srv->cfg.http_max_conns : 64,
            .cert_pem = srv->cfg.http_cert_pem, .key_pem = srv->cfg.http_key_pem, .token = srv->cfg.http_token,
        };
        int rc = http_start(&ho, &o->http, errmsg);
        if (rc != 0) return rc;
        log_info("serving %s (/metrics /health /ready /status) on %s%s", ho.cert_pem ? "HTTPS" : "HTTP",
                 srv->cfg.http_addr, ho.token ? ", /metrics and /status behind the bearer token" : "");
    }
    o->leader_seen_ms = uv_now(srv->loop);
    uv_timer_init(srv->loop, &o->timer);
    o->timer.data = srv;
    o->timer_started = true;
    uv_timer_start(&o->timer, timer_cb, OBS_REFRESH_MS, OBS_REFRESH_MS);
    obs_refresh(srv);
    return 0;
}

static void timer_closed_cb(uv_handle_t *h)
{
    struct keel_server *srv = h->data;
    srv->obs->closed_cb(srv);
}

void obs_stop(struct keel_server *srv, void (*cb)(struct keel_server *srv))
{
    struct obs *o = srv->obs;
    http_stop(o->http); /* no request reads the snapshot after this */
    o->http = NULL;
    o->closed_cb = cb;
    if (!o->timer_started) {
        cb(srv);
        return;
    }
    uv_close((uv_handle_t *)&o->timer, timer_closed_cb);
}
