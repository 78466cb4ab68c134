/* api: the operator's view of observability over RESP: KEEL.ALARM, and the
 * INFO sections Persistence, Raft and Alarms (the others: cmd_info.c). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/server/commands/commands.h"
#include "api/server/observe/observe.h"
#include "raft/membership.h"

void srv_info_line(struct buf *b, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if (n > (int)sizeof text - 3) n = (int)sizeof text - 3;
    for (int i = 0; i < n; i++) {
        if (text[i] == '\r' || text[i] == '\n') text[i] = ' ';
    }
    buf_append(b, text, (size_t)n);
    buf_append(b, "\r\n", 2);
}

/* Snapshots play the part of Redis's RDB saves; there is no AOF (the raft
 * log is the durable record). */
void srv_info_persistence(struct keel_server *srv, struct buf *b)
{
    struct keel_node_status st;
    struct keel_node_metrics m;
    keel_node_status(srv->node, &st);
    keel_node_metrics(srv->node, &m);
    srv_info_line(b, "# Persistence");
    srv_info_line(b, "loading:0");
    srv_info_line(b, "async_loading:0");
    srv_info_line(b, "rdb_changes_since_last_save:%llu",
         (unsigned long long)(st.applied_index > st.snapshot_index ? st.applied_index - st.snapshot_index : 0));
    srv_info_line(b, "rdb_last_save_time:%lld", (long long)(st.snapshot_at_ms / 1000));
    srv_info_line(b, "rdb_last_bgsave_status:%s", m.snapshot_errors ? "err" : "ok");
    srv_info_line(b, "rdb_last_bgsave_time_sec:%llu", (unsigned long long)(m.snapshot_ns / 1000000000));
    srv_info_line(b, "rdb_saves:%llu", (unsigned long long)m.snapshots_taken);
    srv_info_line(b, "rdb_last_cow_size:0");
    srv_info_line(b, "aof_enabled:0");
    srv_info_line(b, "aof_rewrite_in_progress:0");
    srv_info_line(b, "keel_snapshot_index:%llu", (unsigned long long)st.snapshot_index);
    srv_info_line(b, "keel_snapshot_last_size_bytes:%llu", (unsigned long long)m.snapshot_bytes);
    srv_info_line(b, "keel_snapshots_installed:%llu", (unsigned long long)m.snapshots_installed);
    srv_info_line(b, "keel_snapshot_errors:%llu", (unsigned long long)m.snapshot_errors);
    srv_info_line(b, "keel_snapshots_refused:%llu", (unsigned long long)m.snapshots_refused);
}

/* Keel's raft section: this node's view of the cluster (keelctl, the tests
 * and operators read it). */
void srv_info_raft(struct keel_server *srv, const struct keel_node_status *st, const char *leader_addr,
                   struct buf *b)
{
    srv_info_line(b, "# Raft");
    srv_info_line(b, "node_id:%llu", (unsigned long long)st->id);
    srv_info_line(b, "role:%s", keel_role_name(st->role));
    srv_info_line(b, "leader_id:%llu", (unsigned long long)st->leader_id);
    srv_info_line(b, "leader_client_addr:%s", leader_addr);
    srv_info_line(b, "term:%llu", (unsigned long long)st->term);
    srv_info_line(b, "commit_index:%llu", (unsigned long long)st->commit_index);
    srv_info_line(b, "applied_index:%llu", (unsigned long long)st->applied_index);
    srv_info_line(b, "last_index:%llu", (unsigned long long)st->last_index);
    srv_info_line(b, "snapshot_index:%llu", (unsigned long long)st->snapshot_index);
    /* -1: no snapshot taken or installed since this process started */
    srv_info_line(b, "snapshot_age_s:%lld",
                  st->snapshot_at_ms ? (long long)(srv_wall_ms() - st->snapshot_at_ms) / 1000 : -1LL);
    srv_info_line(b, "leader_ready:%d", st->leader_ready);
    struct keel_node_clock ck;
    keel_node_clock(srv->node, &ck);
    srv_info_line(b, "cluster_time_ms:%lld", (long long)ck.now_ms);
    srv_info_line(b, "cluster_clock:%s", ck.leading ? "leader" : ck.warm ? "follower" : "cold");
    srv_info_line(b, "clock_skew_ms:%lld", (long long)ck.skew_ms);
    srv_info_line(b, "clock_steps_ignored:%llu", (unsigned long long)ck.steps);
    srv_info_line(b, "clock_slewed_ms:%lld", (long long)ck.slewed_ms);
    srv_info_line(b, "inflight_writes:%u", st->inflight);
    /* A zone whose loss alone would take the quorum with it. */
    srv_info_line(b, "keel_zone_majority:%s", srv->zone_majority);
    char members[512] = "";
    size_t off = 0;
    for (unsigned i = 0; i < st->members && off < sizeof members - 32; i++) {
        off += (size_t)snprintf(members + off, sizeof members - off, "%s%llu:%s", i ? "," : "",
                                (unsigned long long)st->member_ids[i],
                                st->member_roles[i] == 'v'   ? "voter"
                                : st->member_roles[i] == 's' ? "standby"
                                                            : "spare");
    }
    srv_info_line(b, "members:%s", members);
    srv_info_line(b, "voters:%u", st->voters);
    /* Damaged raft files set aside at start (the log says which). */
    struct keel_node_metrics nm;
    keel_node_metrics(srv->node, &nm);
    srv_info_line(b, "raft_damaged_files_set_aside:%u", nm.damaged_set_aside);
    char change[300];
    keel_node_member_status(srv->node, change, sizeof change);
    srv_info_line(b, "member_change:%s", change);
}

/* keel_alarms is what keelctl status reads; one alarm_<name> line each. */
void srv_info_alarms(struct keel_server *srv, struct buf *b)
{
    char list[256];
    alarm_list(srv, list, sizeof list);
    srv_info_line(b, "# Alarms");
    srv_info_line(b, "keel_alarms:%s", list);
    for (int i = 0; i < ALARM_COUNT; i++) {
        const struct alarm *a = alarm_get(srv, i);
        if (a->active) srv_info_line(b, "alarm_%s:%s", alarm_name(i), a->reason);
    }
}

/* KEEL.ALARM LIST | RAISE name reason... | CLEAR name: this node's alarms.
 * LIST answers [name, reason, since (Unix ms)] per active alarm. RAISE and
 * CLEAR are for operators and tests; automatic alarms are re-evaluated
 * within 250 ms, so they only stick for CORRUPT. */
CMD_DECL_LOCAL(cmd_keel_alarm)
{
    char name[32];
    if (slot_arg_is(s, 1, "LIST") && s->argc == 2) {
        unsigned n = 0;
        for (int i = 0; i < ALARM_COUNT; i++) n += alarm_get(s->srv, i)->active;
        resp_array(&s->out, n);
        for (int i = 0; i < ALARM_COUNT; i++) {
            const struct alarm *a = alarm_get(s->srv, i);
            if (!a->active) continue;
            resp_array(&s->out, 3);
            resp_bulk_str(&s->out, alarm_name(i));
            resp_bulk_str(&s->out, a->reason);
            resp_int(&s->out, a->since_ms);
        }
    } else if ((slot_arg_is(s, 1, "RAISE") && s->argc >= 4) || (slot_arg_is(s, 1, "CLEAR") && s->argc == 3)) {
        int id = alarm_lookup(slot_arg(s, 2, name, sizeof name));
        if (id < 0) {
            srv_reply_errorf(&s->out, KEEL_EINVAL, "unknown alarm '%s' (NOLEADER QUORUM_AT_RISK FOLLOWER_LAG SLOW_FSYNC NOSPACE CORRUPT)",
                             name);
        } else if (slot_arg_is(s, 1, "CLEAR")) {
            alarm_clear(s->srv, id);
            obs_refresh(s->srv); /* /health shows it at once */
            resp_ok(&s->out);
        } else {
            char reason[200];
            size_t off = 0;
            reason[0] = 0;
            for (uint32_t i = 3; i < s->argc && off < sizeof reason - 1; i++) {
                int w = snprintf(reason + off, sizeof reason - off, "%s%.*s", i > 3 ? " " : "",
                                 (int)s->argv[i].n, (const char *)s->argv[i].p);
                if (w < 0) break;
                off += (size_t)w;
            }
            alarm_raise(s->srv, id, reason);
            obs_refresh(s->srv);
            resp_ok(&s->out);
        }
    } else {
        srv_reply_error(&s->out, KEEL_EINVAL, "usage: KEEL.ALARM LIST | RAISE name reason... | CLEAR name");
    }
    slot_done(s);
}
