/* keelctl: status and health. Asks every member directly (not through
 * libkeel: the point is each node's own answer): the membership from the
 * first endpoint that answers KEEL.MEMBER LIST, then INFO from each member,
 * each bounded by --timeout. */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/keelctl/keelctl.h"

static struct timeval tv(unsigned ms)
{
    return (struct timeval){(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
}

redisContext *kctl_dial(const struct kctl *k, const char *addr, unsigned ms, char *why, size_t size)
{
    char err[KEEL_ERRMSG_SIZE];
    int fd = -1;
    if (keel_connect_fd(addr, k ? &k->conn : NULL, ms, &fd, err, sizeof err) != 0) {
        /* "host:port: why": the row already names the address */
        const char *colon = strstr(err, ": ");
        snprintf(why, size, "%s", colon ? colon + 2 : err);
        return NULL;
    }
    redisContext *c = redisConnectFd(fd);
    if (c == NULL || c->err) {
        snprintf(why, size, "out of memory");
        if (c) redisFree(c);
        else close(fd);
        return NULL;
    }
    redisSetTimeout(c, tv(ms));
    return c;
}

static unsigned long long field(const char *info, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "\n%s:", name);
    const char *p = strstr(info, key);
    return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

static void field_str(const char *info, const char *name, char *out, size_t size)
{
    char key[64];
    snprintf(key, sizeof key, "\n%s:", name);
    const char *p = strstr(info, key);
    out[0] = 0;
    if (p == NULL) return;
    p += strlen(key);
    size_t n = strcspn(p, "\r\n");
    snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), p);
}

/* The endpoints to ask, from the option, the environment or the default. */
static int endpoints(const struct kctl *k, char addrs[][80], int max)
{
    const char *list = k->endpoints ? k->endpoints : getenv("KEEL_ENDPOINTS");
    char buf[1024];
    int n = 0;
    snprintf(buf, sizeof buf, "%s", list && *list ? list : "127.0.0.1:7379");
    for (char *save = NULL, *w = strtok_r(buf, ", ", &save); w && n < max; w = strtok_r(NULL, ", ", &save))
        snprintf(addrs[n++], 80, "%s", w);
    return n;
}

static int add_row(struct kctl_row *rows, int n, const char *addr)
{
    for (int i = 0; i < n; i++)
        if (strcmp(rows[i].addr, addr) == 0) return n;
    if (n == KCTL_MAX_NODES) return n;
    memset(&rows[n], 0, sizeof rows[n]);
    rows[n].id = -1;
    snprintf(rows[n].addr, sizeof rows[n].addr, "%s", addr);
    return n + 1;
}

/* Every member (and every endpoint), asked. Returns how many rows. */
int kctl_collect(struct kctl *k, struct kctl_row *rows)
{
    char eps[KCTL_MAX_NODES][80];
    int neps = endpoints(k, eps, KCTL_MAX_NODES), n = 0;
    for (int e = 0; e < neps && n == 0; e++) {
        char why[128];
        redisContext *c = kctl_dial(k, eps[e], k->timeout_ms, why, sizeof why);
        redisReply *r = c ? redisCommand(c, "KEEL.MEMBER LIST") : NULL;
        for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements && n < KCTL_MAX_NODES; i++) {
            redisReply *m = r->element[i];
            if (m->type != REDIS_REPLY_ARRAY || m->elements < 4) continue;
            /* A member that has not published its client address yet gets
             * an empty one: an endpoint may turn out to be it (merged below). */
            if (n == KCTL_MAX_NODES) break;
            memset(&rows[n], 0, sizeof rows[n]);
            snprintf(rows[n].addr, sizeof rows[n].addr, "%s", m->element[2]->str);
            if (m->elements >= 6) snprintf(rows[n].zone, sizeof rows[n].zone, "%s", m->element[5]->str);
            rows[n++].id = m->element[0]->integer;
            snprintf(rows[n - 1].member_role, sizeof rows[n - 1].member_role, "%s", m->element[3]->str);
        }
        if (r) freeReplyObject(r);
        if (c) redisFree(c);
    }
    int listed = n; /* rows [0, listed) are the member list's */
    for (int e = 0; e < neps; e++) n = add_row(rows, n, eps[e]);
    for (int i = 0; i < n; i++) {
        struct kctl_row *w = &rows[i];
        if (w->addr[0] == 0) {
            snprintf(w->error, sizeof w->error, "client address not known yet");
            continue;
        }
        if (k->conn.tls && i < listed) {
            /* The membership names plaintext addresses: over TLS a member
             * is asked through its endpoint (merged by id below). */
            snprintf(w->error, sizeof w->error, "not in --endpoints (with --tls, give every member's TLS address)");
            continue;
        }
        redisContext *c = kctl_dial(k, w->addr, k->timeout_ms, w->error, sizeof w->error);
        redisReply *r = c ? redisCommand(c, "INFO") : NULL;
        if (c && r == NULL) snprintf(w->error, sizeof w->error, "%s", strstr(c->errstr, "temporarily") ? "timed out" : c->errstr);
        if (r && r->type == REDIS_REPLY_STRING) {
            w->reachable = true;
            if (w->id < 0) w->id = (long long)field(r->str, "node_id");
            field_str(strstr(r->str, "# Raft") ? strstr(r->str, "# Raft") : r->str, "role", w->role, sizeof w->role);
            w->term = field(r->str, "term");
            w->leader = field(r->str, "leader_id");
            w->commit = field(r->str, "commit_index");
            w->applied = field(r->str, "applied_index");
            w->snapshot = field(r->str, "snapshot_index");
            field_str(r->str, "keel_zone", w->zone, sizeof w->zone);
            field_str(r->str, "keel_zone_majority", w->zone_majority, sizeof w->zone_majority);
            const char *age = strstr(r->str, "\nsnapshot_age_s:");
            w->snapshot_age_s = age ? strtoll(age + 16, NULL, 10) : -1;
            w->db_bytes = field(r->str, "keel_db_file_bytes");
            field_str(r->str, "keel_alarms", w->alarms, sizeof w->alarms);
            field_str(r->str, "keel_check_state", w->check_state, sizeof w->check_state);
            field_str(r->str, "keel_check_corrupt_members", w->corrupt_members, sizeof w->corrupt_members);
        } else if (r) {
            snprintf(w->error, sizeof w->error, "%s", r->str ? r->str : "unexpected reply");
        }
        if (r) freeReplyObject(r);
        if (c) redisFree(c);
    }
    /* An endpoint that is a member known without its address: one row. */
    for (int i = 0; i < n; i++) {
        for (int j = i + 1; j < n; j++) {
            if (rows[i].id < 0 || rows[j].id != rows[i].id) continue;
            struct kctl_row keep = rows[j].reachable && !rows[i].reachable ? rows[j] : rows[i];
            if (!keep.member_role[0]) memcpy(keep.member_role, rows[i].member_role, sizeof keep.member_role);
            rows[i] = keep;
            memmove(&rows[j], &rows[j + 1], (size_t)(n - j - 1) * sizeof *rows);
            n--, j--;
        }
    }
    /* Lag: behind the leader's commit (or the highest seen, leaderless). */
    unsigned long long commit = 0;
    for (int i = 0; i < n; i++)
        if (rows[i].reachable && (strcmp(rows[i].role, "leader") == 0 || rows[i].commit > commit)) {
            commit = rows[i].commit;
            if (strcmp(rows[i].role, "leader") == 0) break;
        }
    for (int i = 0; i < n; i++) rows[i].lag = rows[i].reachable && commit > rows[i].applied ? commit - rows[i].applied : 0;
    return n;
}

static void human_bytes(unsigned long long b, char *out, size_t size)
{
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    int i = 0;
    while (v >= 1024 && i < 4) v /= 1024, i++;
    snprintf(out, size, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

int kctl_status(struct kctl *k, int argc, char **argv)
{
    struct kctl_row rows[KCTL_MAX_NODES];
    (void)argv;
    if (argc != 1) return CLI_USAGE;
    int n = kctl_collect(k, rows);
    int reachable = 0;
    for (int i = 0; i < n; i++) reachable += rows[i].reachable;
    if (k->json) {
        json_t *nodes = json_array();
        for (int i = 0; i < n; i++) {
            struct kctl_row *w = &rows[i];
            json_t *o = json_pack("{s:I, s:s, s:b}", "id", (json_int_t)w->id, "address", w->addr, "reachable", w->reachable);
            if (w->member_role[0]) json_object_set_new(o, "membership", json_string(w->member_role));
            json_object_set_new(o, "zone", json_string(w->zone));
            if (w->reachable) {
                json_object_set_new(o, "role", json_string(w->role));
                json_object_set_new(o, "term", json_integer((json_int_t)w->term));
                json_object_set_new(o, "leader", json_integer((json_int_t)w->leader));
                json_object_set_new(o, "commit_index", json_integer((json_int_t)w->commit));
                json_object_set_new(o, "applied_index", json_integer((json_int_t)w->applied));
                json_object_set_new(o, "lag", json_integer((json_int_t)w->lag));
                json_object_set_new(o, "snapshot_index", json_integer((json_int_t)w->snapshot));
                json_object_set_new(o, "snapshot_age_s", w->snapshot_age_s >= 0 ? json_integer(w->snapshot_age_s) : json_null());
                json_object_set_new(o, "db_size_bytes", json_integer((json_int_t)w->db_bytes));
                json_t *alarms = json_array();
                char list[sizeof w->alarms], *save = NULL;
                snprintf(list, sizeof list, "%s", w->alarms);
                for (char *a = strtok_r(list, ",", &save); a; a = strtok_r(NULL, ",", &save))
                    json_array_append_new(alarms, json_string(a));
                json_object_set_new(o, "alarms", alarms);
                if (w->check_state[0]) json_object_set_new(o, "consistency", json_string(w->check_state));
                json_t *bad = json_array();
                snprintf(list, sizeof list, "%s", w->corrupt_members);
                for (char *a = strtok_r(list, ",", &save); a; a = strtok_r(NULL, ",", &save))
                    json_array_append_new(bad, json_integer(strtoll(a, NULL, 10)));
                json_object_set_new(o, "corrupt_members", bad);
            } else {
                json_object_set_new(o, "error", json_string(w->error));
            }
            json_array_append_new(nodes, o);
        }
        cli_print_json(json_pack("{s:o}", "nodes", nodes));
    } else {
        printf("%-4s %-21s %-9s %-7s %-8s %-5s %-6s %-9s %-9s %-5s %-12s %-10s %-6s %s\n", "ID", "ADDRESS", "ROLE",
               "MEMBER", "ZONE", "TERM", "LEADER", "COMMIT", "APPLIED", "LAG", "SNAP/AGE", "DB SIZE", "ALARMS", "STATUS");
        for (int i = 0; i < n; i++) {
            struct kctl_row *w = &rows[i];
            char id[16], size[32], snap[40];
            snprintf(id, sizeof id, w->id >= 0 ? "%lld" : "?", w->id);
            const char *on = !k->color ? "" : !w->reachable ? "\033[31m" : strcmp(w->role, "leader") == 0 ? "\033[32m" : "";
            const char *off = on[0] ? "\033[0m" : "";
            if (!w->reachable) {
                printf("%s%-4s %-21s %-9s %-7s %-8s %-5s %-6s %-9s %-9s %-5s %-12s %-10s %-6s %s%s\n", on, id, w->addr,
                       "-", w->member_role[0] ? w->member_role : "-", w->zone[0] ? w->zone : "-", "-", "-", "-", "-", "-", "-", "-", "-", w->error, off);
                continue;
            }
            human_bytes(w->db_bytes, size, sizeof size);
            if (w->snapshot_age_s >= 0) snprintf(snap, sizeof snap, "%llu/%llds", w->snapshot, w->snapshot_age_s);
            else snprintf(snap, sizeof snap, "%llu", w->snapshot);
            printf("%s%-4s %-21s %-9s %-7s %-8s %-5llu %-6llu %-9llu %-9llu %-5llu %-12s %-10s %-6s %s%s\n", on, id,
                   w->addr, w->role, w->member_role[0] ? w->member_role : "-", w->zone[0] ? w->zone : "-", w->term,
                   w->leader, w->commit, w->applied, w->lag, snap, size, w->alarms[0] ? w->alarms : "-",
                   w->alarms[0] ? "alarm" : "ok", off);
        }
        for (int i = 0; i < n; i++) {
            const struct kctl_row *w = &rows[i];
            if (w->reachable && strcmp(w->check_state, "ok") != 0 && w->check_state[0])
                printf("consistency: n%lld's state differs from the majority's (%s; it repairs itself, see "
                       "docs/recovery.md)\n", w->id, w->check_state);
            if (w->reachable && w->corrupt_members[0] && strcmp(w->role, "leader") == 0)
                printf("consistency: the leader's last check found member(s) %s differing\n", w->corrupt_members);
        }
    }
    return reachable == 0 ? CLI_UNAVAILABLE : CLI_OK;
}

int kctl_health(struct kctl *k, int argc, char **argv)
{
    unsigned long long max_lag = 1000;
    if (argc == 3 && !strcmp(argv[1], "--max-lag")) max_lag = strtoull(argv[2], NULL, 10);
    else if (argc != 1) return CLI_USAGE;
    struct kctl_row rows[KCTL_MAX_NODES];
    int n = kctl_collect(k, rows), leaders = 0, reachable = 0;
    char problems[2048] = "";
    size_t off = 0;
    unsigned long long leader = 0;
    for (int i = 0; i < n; i++) {
        struct kctl_row *w = &rows[i];
        if (!w->reachable) {
            if (w->id < 0)
                off += (size_t)snprintf(problems + off, sizeof problems - off, "%s%s: %s", off ? "; " : "",
                                        w->addr, w->error);
            else if (w->addr[0] == 0)
                off += (size_t)snprintf(problems + off, sizeof problems - off, "%sn%lld: %s", off ? "; " : "",
                                        w->id, w->error);
            else
                off += (size_t)snprintf(problems + off, sizeof problems - off, "%sn%lld (%s): %s",
                                        off ? "; " : "", w->id, w->addr, w->error);
            continue;
        }
        reachable++;
        if (strcmp(w->role, "leader") == 0) leaders++, leader = (unsigned long long)w->id;
        if (w->lag > max_lag)
            off += (size_t)snprintf(problems + off, sizeof problems - off, "%sn%lld lags %llu entries",
                                    off ? "; " : "", w->id, w->lag);
    }
    if (leaders != 1)
        off += (size_t)snprintf(problems + off, sizeof problems - off, "%s%s", off ? "; " : "",
                                leaders == 0 ? "no leader" : "more than one node says it leads");
    bool ok = off == 0;
    /* Placement is a warning, not ill health: the cluster works, it just
     * cannot survive the loss of that zone. */
    const char *zone_majority = "";
    for (int i = 0; i < n; i++)
        if (rows[i].reachable && rows[i].zone_majority[0]) zone_majority = rows[i].zone_majority;
    if (k->json) {
        cli_print_json(json_pack("{s:b, s:I, s:i, s:i, s:s, s:s}", "healthy", ok, "leader", (json_int_t)leader,
                                  "members", n, "reachable", reachable, "problems", problems, "zone_majority",
                                  zone_majority));
    } else if (ok) {
        printf("healthy: leader n%llu, %d members answering, every one within %llu entries\n", leader, n, max_lag);
    } else {
        printf("unhealthy: %s\n", problems);
    }
    if (!k->json && zone_majority[0])
        printf("warning: zone %s holds a majority of the voters: losing it loses the quorum\n", zone_majority);
    return reachable == 0 ? CLI_UNAVAILABLE : ok ? CLI_OK : CLI_FAILED;
}
