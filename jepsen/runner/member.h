/* jepsen: the `member` nemesis's requests. Membership changes go through
 * KEEL.MEMBER on any reachable node (a follower forwards them to the
 * leader), from the nemesis thread, with blocking hiredis calls bounded by a
 * timeout. Nothing here owns state: each call borrows the run. */
#ifndef KEEL_JEPSEN_MEMBER_H
#define KEEL_JEPSEN_MEMBER_H

#include <stddef.h>

#include "jepsen/runner/run.h"

enum jmember_result {
    JMEMBER_OK = 0,        /* the change committed (or was already so) */
    JMEMBER_UNCERTAIN = 1, /* timed out or -UNCERTAIN: it may still commit */
    JMEMBER_FAILED = 2,    /* refused by every node tried (what says why) */
};

/* Remove node index i (raft id i + 1), asking every other running node in
 * turn until one answers, for up to timeout_ms. `what` gets the last answer. */
int jmember_remove(struct jrun *run, unsigned i, unsigned timeout_ms, char *what, size_t size);
/* Add node index i back as a voter (raft's catch-up first). */
int jmember_add(struct jrun *run, unsigned i, unsigned timeout_ms, char *what, size_t size);
/* Until every node is a voter in the leader's configuration (adding any that
 * is not), for up to timeout_ms: true once it is. An add that runs out of
 * time leaves the node a standby that keeps replicating: the next try
 * finds it closer. */
bool jmember_restore(struct jrun *run, unsigned timeout_ms);

#endif /* KEEL_JEPSEN_MEMBER_H */
