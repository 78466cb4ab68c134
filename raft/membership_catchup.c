/* raft: catching a new voter up as a standby before it votes (see
 * membership.h), and saying why it did not. */
#include <stdio.h>

#include "raft/membership_internal.h"

/* A node being caught up that has not answered for this long is taken for
 * not running (raft's own default limit for one catch-up round). */
#define UNRESPONSIVE_MS 5000
/* raft 0.15 src/progress.h: PROGRESS__SNAPSHOT, a snapshot is being sent */
#define PROGRESS_SNAPSHOT 2

void membership_catch_up_begin(struct node_membership *mb, uint64_t now)
{
    struct raft *r = &mb->n->raft;
    int i = membership_index(r, mb->id);
    mb->step = S_CATCH_UP;
    mb->cu_start = mb->round_start = now;
    mb->fast_since = 0;
    mb->prev_last = 0;
    mb->round_target = raft_last_index(r);
    mb->cu_last0 = mb->round_target;
    /* leader_state is a union member: valid only while leading */
    bool leading = raft_state(r) == RAFT_LEADER && r->leader_state.progress != NULL;
    mb->cu_match0 = i >= 0 && leading ? r->leader_state.progress[i].match_index : 0;
}

/* Why a standby has not caught up by now. */
static void slow_reason(struct node_membership *mb, uint64_t now, char *why, size_t size)
{
    struct raft *r = &mb->n->raft;
    int i = membership_index(r, mb->id);
    const struct raft_progress *p =
        i >= 0 && raft_state(r) == RAFT_LEADER && r->leader_state.progress ? &r->leader_state.progress[i] : NULL;
    uint64_t m = p ? p->match_index : 0, last = raft_last_index(r), at = membership_seen_at(mb, mb->id);
    double t = (double)(now - mb->cu_start) / 1000, total = (double)(now - mb->started) / 1000;
    if (t < 0.001) t = 0.001;
    if (at == 0 || at < mb->cu_start) {
        say(why, size,
            "node %llu has not answered in %.1f s (is it running? start it with keeld --join: it "
            "joins as a voter by itself)",
            (unsigned long long)mb->id, t);
    } else if (p != NULL && p->state == PROGRESS_SNAPSHOT) {
        say(why, size,
            "node %llu was still receiving a snapshot (of index %llu) after %.1f s: a large database or a "
            "slow link or disk; retry with a longer TIMEOUT",
            (unsigned long long)mb->id, (unsigned long long)p->snapshot_index, total);
    } else {
        say(why, size,
            "node %llu at index %llu of %llu after %.1f s: it replicated %.0f entries/s while the log grew "
            "%.0f/s, and did not stay within %llu ms of the leader (its disk is slow, see SLOW_FSYNC on "
            "node %llu, or its machine overloaded)",
            (unsigned long long)mb->id, (unsigned long long)m, (unsigned long long)last, total,
            (double)(m > mb->cu_match0 ? m - mb->cu_match0 : 0) / t,
            (double)(last > mb->cu_last0 ? last - mb->cu_last0 : 0) / t,
            (unsigned long long)(membership_election_ms(r) / 2), (unsigned long long)mb->id);
    }
}

/* How long a standby must keep up before it is made a voter. */
static uint64_t stable_ms(const struct raft *r)
{
    return membership_election_ms(r) < 1000 ? 1000 : membership_election_ms(r);
}

/* S_CATCH_UP: raft's catch-up rounds (thesis 4.2.1), on a standby that
 * counts for nothing. A round ends when the node has every entry the log
 * had when the round began; a round that ends within half an election
 * timeout is fast. Only a node whose rounds have all been fast for
 * stable_ms is made a voter: one fast round proves little (a node with a
 * slow disk is quick right after the first big batch, and falls behind as
 * the entries it cannot keep up with pile up), and raft_assign's own round
 * must then end at once. A node that has the whole log while no writes
 * come (for a tick) goes at once: there is nothing to keep up with. */
void membership_catch_up(struct node_membership *mb, uint64_t now)
{
    struct raft *r = &mb->n->raft;
    int i = membership_index(r, mb->id);
    char why[400];
    if (i < 0 || r->configuration.servers[i].role != RAFT_STANDBY) {
        say(why, sizeof why, "node %llu stopped being a standby while being caught up",
            (unsigned long long)mb->id);
        membership_finish(mb, KEEL_EBUSY, why);
        return;
    }
    const struct raft_progress *p = &r->leader_state.progress[i];
    uint64_t last = raft_last_index(r), fast = membership_election_ms(r) / 2;
    /* Idle log, all of it there: nothing to keep up with. */
    bool idle = p->match_index >= last && last == mb->prev_last;
    mb->prev_last = last;
    if (p->match_index >= mb->round_target) {
        if (now - mb->round_start > fast) mb->fast_since = 0;
        else if (mb->fast_since == 0) mb->fast_since = now;
        if (idle || (mb->fast_since != 0 && now - mb->fast_since >= stable_ms(r))) {
            mb->step = S_TO_VOTER;
            membership_start_step(mb, now);
            return;
        }
        mb->round_target = last;
        mb->round_start = now;
    } else if (now - mb->round_start > fast) {
        mb->fast_since = 0;
    mb->prev_last = 0; /* this round is slow, whenever it ends */
    }
    uint64_t at = membership_seen_at(mb, mb->id);
    uint64_t heard = at > mb->cu_start ? at : mb->cu_start;
    bool silent = now - heard >= UNRESPONSIVE_MS && p->state != PROGRESS_SNAPSHOT;
    if (now >= mb->deadline || silent) {
        slow_reason(mb, now, why, sizeof why);
        membership_finish(mb, KEEL_EBUSY, why);
    }
}
