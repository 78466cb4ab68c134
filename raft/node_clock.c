/* raft: the node's cluster clock (raft/clock.h) wired to the node: started
 * from the replicated clock, moved on by every apply (fsm.c), by role
 * changes and by a leader's answer (KEEL.CLOCK), compared with the wall clock
 * every CORRECT_MS, and read by the layers above for stamps and expiry. */
#include "raft/node_internal.h"

#define CORRECT_MS 100

static int64_t replicated(struct keel_node *n)
{
    int64_t clock = 0;
    keel_store_clock(n->store, &clock); /* on a read error, 0: the max below ignores it */
    return clock;
}

void node_clock_init(struct keel_node *n)
{
    keel_clock_init(&n->clock, replicated(n), keel_clock_mono_us());
    n->fsm.clock = &n->clock;
}

void node_clock_role(struct keel_node *n, int was, int role)
{
    int64_t mono = keel_clock_mono_us();
    if (role == KEEL_ROLE_LEADER) keel_clock_lead(&n->clock, replicated(n), keel_clock_wall_us(), mono);
    else if (was == KEEL_ROLE_LEADER) keel_clock_follow(&n->clock, mono);
}

void node_clock_turn(struct keel_node *n)
{
    uint64_t now = uv_now(n->loop);
    if (n->clock_checked != 0 && now - n->clock_checked < CORRECT_MS) return;
    n->clock_checked = now;
    keel_clock_correct(&n->clock, keel_clock_wall_us(), keel_clock_mono_us());
}

int64_t keel_node_now(struct keel_node *n)
{
    return keel_clock_now_ms(&n->clock, keel_clock_mono_us());
}

bool keel_node_clock_cold(const struct keel_node *n)
{
    return !n->clock.warm;
}

int64_t keel_node_clock_ask(struct keel_node *n)
{
    (void)n;
    return keel_clock_mono_us();
}

bool keel_node_clock_answer(struct keel_node *n, int64_t leader_ms, int64_t asked)
{
    return keel_clock_sync(&n->clock, leader_ms, asked, keel_clock_mono_us());
}

void keel_node_clock(struct keel_node *n, struct keel_node_clock *out)
{
    out->now_ms = keel_node_now(n);
    out->skew_ms = n->clock.skew / 1000;
    out->slewed_ms = n->clock.slewed / 1000;
    out->steps = n->clock.steps;
    out->stepped = n->clock.stepped;
    out->warm = n->clock.warm;
    out->leading = n->clock.leading;
}
