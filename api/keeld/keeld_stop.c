/* api: keeld's bounded stop. See keeld_stop.h. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/keeld/keeld_stop.h"
#include "api/server/log.h"
#include "raft/busy.h"

#define TICK_MS 100
#define FLUSH_MS 500 /* step 4: connections still writing their last replies */

enum phase { RUNNING, HANDOVER, CLOSING, FLUSHING, STOPPING, DONE };
static const char *const phase_name[] = {
    "running", "handing leadership over", "closing the node", "flushing client replies",
    "stopping the server", "stopped",
};

static struct keeld_stop_config cfg;
static sigset_t signals;
static uv_async_t wake;
static uv_timer_t tick;
static enum phase phase;
static uint64_t phase_until;       /* monotonic ms: the current phase's own limit */
static uint64_t last_said;         /* monotonic ms of the last progress line */
static _Atomic int signalled;      /* the first signal, 0: none yet */
static _Atomic uint64_t started;   /* monotonic ms of the first signal */
static atomic_bool finished;
static pthread_mutex_t report_mu = PTHREAD_MUTEX_INITIALIZER;
static char report[1024];          /* what the loop last said it waited for */
static _Atomic uint64_t report_at; /* when it said so */

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool keeld_stopping(void)
{
    return atomic_load(&signalled) != 0;
}

void keeld_stop_finished(void)
{
    atomic_store(&finished, true);
}

/* ---- what the stop waits for (loop thread) ----------------------------- */

static void compose(char *buf, size_t size)
{
    char node[512] = "", server[512] = "";
    if (phase == DONE) {
        /* Everything is closed; the loop only waits for pool work the
         * freed server left behind. */
        snprintf(buf, size, "server work still on the libuv pool (a backup being written, a "
                            "consistency digest)");
        return;
    }
    if (*cfg.node != NULL) keel_node_close_report(*cfg.node, node, sizeof node);
    if (*cfg.server != NULL) keel_server_close_report(*cfg.server, server, sizeof server);
    snprintf(buf, size, "%s%s%s", node, node[0] && server[0] ? "; " : "",
             node[0] || server[0] ? server : "nothing known (the loop turns)");
}

static void publish(void)
{
    char now[sizeof report];
    compose(now, sizeof now);
    pthread_mutex_lock(&report_mu);
    memcpy(report, now, sizeof report);
    pthread_mutex_unlock(&report_mu);
    atomic_store(&report_at, mono_ms());
}

/* ---- the steps (loop thread) ------------------------------------------- */

static void server_stopped_cb(void *data)
{
    keel_server_free(data); /* after the node: its writes pointed at the server */
    *cfg.server = NULL;
    phase = DONE;
    log_info("stopped in %llu ms", (unsigned long long)(mono_ms() - atomic_load(&started)));
    uv_close((uv_handle_t *)&wake, NULL);
    /* The tick stays (unreferenced, so it keeps nothing alive) to bound a
     * backup still being written on the pool, which the loop waits for. */
    if (cfg.finished != NULL) cfg.finished();
}

static void stop_server(void)
{
    phase = STOPPING;
    if (keel_server_clients(*cfg.server) > 0)
        log_warn("closing %u client connection(s) whose last replies are not all written",
                 keel_server_clients(*cfg.server));
    keel_server_stop(*cfg.server, server_stopped_cb, *cfg.server);
}

static void node_closed_cb(void *data)
{
    (void)data;
    *cfg.node = NULL; /* freed: the logger must not ask it for the role any more */
    log_info("node closed: raft log and LMDB closed cleanly");
    phase = FLUSHING;
    phase_until = mono_ms() + FLUSH_MS;
    if (keel_server_clients(*cfg.server) == 0) stop_server();
}

static void close_node(void)
{
    phase = CLOSING;
    keel_server_drain(*cfg.server);
    log_info("closing the node: pending writes end with -UNCERTAIN, clients are disconnected");
    keel_node_close(*cfg.node, node_closed_cb, NULL);
}

static void transfer_cb(void *data, uint64_t leader)
{
    (void)data;
    struct keel_node_status st;
    if (phase != HANDOVER) return; /* gave up waiting: the close cancelled it */
    keel_node_status(*cfg.node, &st);
    if (leader != 0 && leader != st.id)
        log_info("leadership handed to node %llu", (unsigned long long)leader);
    else
        log_warn("leadership transfer ended with %s: stopping anyway",
                 leader == 0 ? "no new leader known yet" : "this node still the leader");
    close_node();
}

static void bound_reached(void)
{
    char what[sizeof report];
    compose(what, sizeof what);
    log_error("stop did not finish within %u ms (--shutdown-timeout): still %s, waiting for: %s; "
              "exiting with status %d without a clean close (a restart replays the log)",
              cfg.bound_ms, phase_name[phase], what, KEELD_EXIT_STOP_TIMEOUT);
    fflush(stderr);
    _exit(KEELD_EXIT_STOP_TIMEOUT);
}

static void tick_cb(uv_timer_t *t)
{
    uint64_t now = mono_ms();
    (void)t;
    publish();
    if (now - atomic_load(&started) >= cfg.bound_ms) bound_reached();
    if (phase == HANDOVER && now >= phase_until) {
        log_warn("leadership handover not done within %llu ms: stopping without it",
                 (unsigned long long)(now - atomic_load(&started)));
        close_node();
    } else if (phase == FLUSHING && (keel_server_clients(*cfg.server) == 0 || now >= phase_until)) {
        stop_server();
    }
    if (now - last_said >= 1000) {
        last_said = now;
        pthread_mutex_lock(&report_mu);
        log_info("stopping for %llu ms (%s): waiting for %s",
                 (unsigned long long)(now - atomic_load(&started)), phase_name[phase], report);
        pthread_mutex_unlock(&report_mu);
    }
}

static void begin(int sig)
{
    struct keel_node_status st;
    uint64_t t0 = atomic_load(&started);
    last_said = mono_ms();
    log_info("signal %d: stopping, within %u ms (--shutdown-timeout)", sig, cfg.bound_ms);
    uv_timer_start(&tick, tick_cb, TICK_MS, TICK_MS);
    uv_unref((uv_handle_t *)&tick);
    keel_server_quiesce(*cfg.server);
    keel_node_status(*cfg.node, &st);
    /* A leader hands over first, so clients see a short pause, not an
     * election timeout. */
    if (st.role == KEEL_ROLE_LEADER && st.voters > 1 &&
        keel_node_transfer(*cfg.node, 0, transfer_cb, NULL) == 0) {
        phase = HANDOVER;
        phase_until = t0 + cfg.bound_ms / 3;
        return;
    }
    close_node();
}

static void wake_cb(uv_async_t *h)
{
    int sig = atomic_load(&signalled);
    (void)h;
    if (sig != 0 && phase == RUNNING) begin(sig);
}

/* ---- the signal thread ------------------------------------------------- */

static void *signal_main(void *arg)
{
    int sig = 0;
    (void)arg;
    while (sigwait(&signals, &sig) != 0) continue;
    atomic_store(&started, mono_ms());
    atomic_store(&signalled, sig);
    uv_async_send(&wake);
    /* The loop ends the stop itself at the bound; this is for a loop that
     * cannot, stuck in one long synchronous step. Later signals stay
     * pending: the stop is already bounded. */
    uint64_t deadline = atomic_load(&started) + cfg.bound_ms + 500;
    for (uint64_t now = mono_ms(); now < deadline && !atomic_load(&finished); now = mono_ms()) {
        uint64_t ms = deadline - now < 50 ? deadline - now : 50;
        struct timespec ts = {0, (long)ms * 1000000};
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&finished)) return NULL;
    char last[sizeof report];
    uint64_t since = 0, said = atomic_load(&report_at), now = mono_ms();
    const char *busy = keel_busy_now(&since);
    pthread_mutex_lock(&report_mu);
    memcpy(last, report, sizeof last);
    pthread_mutex_unlock(&report_mu);
    if (busy != NULL)
        log_error("stop did not finish within %u ms (--shutdown-timeout): the event loop is stuck "
                  "%s (for %llu ms); exiting with status %d without a clean close",
                  cfg.bound_ms, busy, (unsigned long long)(now - since), KEELD_EXIT_STOP_TIMEOUT);
    else
        log_error("stop did not finish within %u ms (--shutdown-timeout): the event loop has not "
                  "run for %llu ms; it last waited for: %s; exiting with status %d without a "
                  "clean close",
                  cfg.bound_ms, (unsigned long long)(said ? now - said : now - atomic_load(&started)),
                  said ? last : "(the stop had not begun: still starting)", KEELD_EXIT_STOP_TIMEOUT);
    fflush(stderr);
    _exit(KEELD_EXIT_STOP_TIMEOUT);
}

int keeld_stop_init(const struct keeld_stop_config *c)
{
    pthread_t th;
    cfg = *c;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    int rc = uv_async_init(cfg.loop, &wake, wake_cb);
    if (rc == 0) rc = uv_timer_init(cfg.loop, &tick);
    if (rc != 0) return rc;
    rc = pthread_create(&th, NULL, signal_main, NULL);
    if (rc == 0) pthread_detach(th);
    return rc;
}
