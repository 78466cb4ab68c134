/* api: keeld's stop: SIGTERM or SIGINT to exit, bounded by --shutdown-timeout.
 *
 * The order, each step logged:
 *  1. the server quiesces: no new clients, nothing more read or parsed;
 *  2. a leader hands leadership over (raft_transfer), waiting at most a
 *     third of the bound; raft then fails the writes it still holds
 *     (-UNCERTAIN to their clients);
 *  3. the server drains (forwarded requests answered, each connection
 *     closes once its pending replies are written, so clients reconnect
 *     elsewhere) and the node closes: raft's connections cut, appends in
 *     flight waited for, raft_close (remaining writes -UNCERTAIN), LMDB
 *     synced and marked clean;
 *  4. connections still flushing get half a second, then the server stops
 *     and keeld exits 0.
 * While stopping, keeld logs every second what it is waiting for. At the
 * bound it logs what it was still waiting for and exits with status 75,
 * without a clean close: a restart is safe (the raft log is the source of
 * truth and LMDB survives a process exit), only slower.
 *
 * The signals are taken by a thread of their own (sigwait), which also
 * enforces the bound, half a second later, when the event loop cannot:
 * stuck in one long synchronous step (raft/busy.h names it). A signal
 * during start-up starts the stop, and the bound, at once. */
#ifndef KEEL_API_KEELD_STOP_H
#define KEEL_API_KEELD_STOP_H

#include <stdbool.h>
#include <uv.h>

#include "api/server/server.h"
#include "raft/node.h"

/* The exit status of a stop that ran past --shutdown-timeout. */
#define KEELD_EXIT_STOP_TIMEOUT 75

struct keeld_stop_config
{
    uv_loop_t *loop;
    struct keel_node **node;       /* set to NULL once the node is closed */
    struct keel_server **server;   /* set to NULL once the server is freed */
    unsigned bound_ms;             /* --shutdown-timeout */
    void (*finished)(void);        /* stopped: close keeld's own handles */
};

/* Main thread, with SIGTERM and SIGINT blocked (every thread started later
 * inherits that), before anything slow: from now on a signal stops keeld.
 * Returns 0 or a libuv/pthread error. */
int keeld_stop_init(const struct keeld_stop_config *c);
/* A stop was asked for (any thread). */
bool keeld_stopping(void);
/* Main thread, after uv_run returned: the bound stands down. */
void keeld_stop_finished(void);

#endif /* KEEL_API_KEELD_STOP_H */
