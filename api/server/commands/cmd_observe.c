/* api: the operator's view of observability over RESP: KEEL.ALARM, and the
 * INFO sections Persistence and Alarms. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/server/commands/commands.h"
#include "api/server/observe/observe.h"

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
    buf_append(b, "\r\n", 2);
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
    buf_append(b, "\r\n", 2);
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
