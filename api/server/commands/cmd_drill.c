/* api: KEEL.DRILL, the faults keelctl drill injects into a live cluster.
 * Refused unless the node was started with --enable-drills.
 *
 *   KEEL.DRILL CRASH         reply +OK, then stop hard (SIGKILL ourselves,
 *                            as a power cut would: no handover, no flush)
 *   KEEL.DRILL ISOLATE ms    drop every raft connection and refuse new ones
 *                            for ms (1..600000): a partition of this node
 *   KEEL.DRILL STALL ms      reply +OK, then block the event loop for ms
 *                            (1..60000), as a long synchronous step would:
 *                            raft misses heartbeats, signals wait (the
 *                            stop's hard bound still holds, keeld_stop.h)
 *
 * Served by the node that receives them, never forwarded: a drill names its
 * victim. */
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "api/server/commands/commands.h"
#include "api/server/log.h"
#include "raft/busy.h"

static uv_timer_t crash_timer;
static uv_timer_t stall_timer;
static unsigned long stall_ms;
static bool stalling;          /* until the timer's handle is closed */

static void stall_closed_cb(uv_handle_t *h)
{
    (void)h;
    stalling = false;
}

static void stall_cb(uv_timer_t *t)
{
    (void)t;
    log_warn("KEEL.DRILL STALL: blocking the event loop for %lu ms", stall_ms);
    const char *busy = keel_busy_begin("in KEEL.DRILL STALL");
    struct timespec ts = {(time_t)(stall_ms / 1000), (long)(stall_ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0) continue;
    keel_busy_end(busy);
    uv_close((uv_handle_t *)&stall_timer, stall_closed_cb);
}

static void crash_cb(uv_timer_t *t)
{
    (void)t;
    log_warn("KEEL.DRILL CRASH: stopping hard now");
    kill(getpid(), SIGKILL);
}

CMD_DECL_LOCAL(cmd_keel_drill)
{
    char buf[32];
    if (!s->srv->cfg.enable_drills) {
        srv_reply_error(&s->out, KEEL_EINVAL, "drills are disabled on this node (start keeld with --enable-drills)");
        slot_done(s);
        return;
    }
    if (s->argc == 2 && slot_arg_is(s, 1, "CRASH")) {
        uv_loop_t *loop = s->srv->loop;
        resp_ok(&s->out);
        slot_done(s); /* may free s */
        /* A moment for the +OK to leave: the drill tells "crashed on
         * request" from "the connection broke". */
        uv_timer_init(loop, &crash_timer);
        uv_timer_start(&crash_timer, crash_cb, 20, 0);
        return;
    }
    if (s->argc == 3 && slot_arg_is(s, 1, "ISOLATE")) {
        char *end;
        unsigned long ms = strtoul(slot_arg(s, 2, buf, sizeof buf), &end, 10);
        if (*end != 0 || ms == 0 || ms > 600000) {
            srv_reply_error(&s->out, KEEL_EINVAL, "KEEL.DRILL ISOLATE wants 1..600000 ms");
        } else {
            log_warn("KEEL.DRILL ISOLATE: dropping raft traffic for %lu ms", ms);
            keel_node_isolate(s->srv->node, (unsigned)ms);
            resp_ok(&s->out);
        }
        slot_done(s);
        return;
    }
    if (s->argc == 3 && slot_arg_is(s, 1, "STALL")) {
        char *end;
        unsigned long ms = strtoul(slot_arg(s, 2, buf, sizeof buf), &end, 10);
        if (*end != 0 || ms == 0 || ms > 60000 || stalling) {
            srv_reply_error(&s->out, KEEL_EINVAL, "KEEL.DRILL STALL wants 1..60000 ms, one at a time");
            slot_done(s);
            return;
        }
        uv_loop_t *loop = s->srv->loop;
        resp_ok(&s->out);
        slot_done(s); /* may free s */
        stall_ms = ms;
        stalling = true;
        uv_timer_init(loop, &stall_timer);
        uv_timer_start(&stall_timer, stall_cb, 20, 0);
        return;
    }
    srv_reply_error(&s->out, KEEL_EINVAL, "usage: KEEL.DRILL CRASH | ISOLATE ms | STALL ms");
    slot_done(s);
}
