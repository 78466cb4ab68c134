/* api: syncing a restarted follower's cluster clock with the leader's
 * (raft/clock.h says why): the follower forwards KEEL.CLOCK, the leader
 * answers its keel_node_now, and the answer, if it came back within
 * KEEL_CLOCK_SYNC_MAX_MS, makes the follower's clock warm. Until then the
 * follower's clock is a lower bound (keys kept a little long, never dropped
 * early). At most one question a second; each carries its own send time,
 * so a late answer is judged by its own round trip. */
#include <stdio.h>
#include <stdlib.h>

#include "api/server/commands/commands.h"
#include "api/server/log.h"
#include "api/server/server_internal.h"

#define ASK_EVERY_MS 1000

/* KEEL.CLOCK (internal, forwarded by a follower): this leader's clock. */
CMD_DECL_LOCAL(cmd_keel_clock)
{
    if (s->srv->role != KEEL_ROLE_LEADER) srv_reply_error(&s->out, KEEL_ENOTLEADER, "not the leader");
    else resp_int(&s->out, srv_now(s->srv));
    slot_done(s);
}

static void answer_cb(struct slot *s, const uint8_t *p, size_t n)
{
    struct keel_server *srv = s->srv;
    char buf[32];
    long long ms;
    if (n < 4 || n >= sizeof buf || p[0] != ':') return; /* -TRYAGAIN and the like: ask again later */
    snprintf(buf, sizeof buf, "%.*s", (int)n - 1, (const char *)p + 1);
    if (sscanf(buf, "%lld", &ms) != 1) return;
    if (keel_node_clock_answer(srv->node, ms, s->now)) /* s->now: the mark, see below */
        log_info("cluster clock synced with the leader's");
}

void srv_clock_sync(struct keel_server *srv)
{
    uint64_t now = uv_now(srv->loop);
    if (srv->role != KEEL_ROLE_FOLLOWER || !keel_node_clock_cold(srv->node)) return;
    if (srv->clock_asked_at != 0 && now - srv->clock_asked_at < ASK_EVERY_MS) return;
    struct keel_slice argv[1] = {keel_str("KEEL.CLOCK")};
    struct slot *s = slot_new(srv, NULL, argv, 1);
    if (s == NULL) return;
    s->cmd = command_lookup(&argv[0]);
    s->on_forward_reply = answer_cb;
    srv->clock_asked_at = now;
    s->now = keel_node_clock_ask(srv->node); /* unused otherwise by a slot forwarded from here */
    fwd_request(s); /* answered, or failed (then nothing comes back: asked again) */
}
