/* api: a node's observability state on the loop: alarms, per-command
 * latency, rejections by reason, and the periodic job (every 250 ms and on
 * each role change) that evaluates the alarms and publishes the snapshot
 * the HTTP thread serves (api/server/observe/http.h). Owned by the server (srv->obs). */
#ifndef KEEL_API_OBSERVE_H
#define KEEL_API_OBSERVE_H

#include <uv.h>

#include "api/server/observe/alarm.h"
#include "api/server/observe/cmdstats.h"
#include "api/server/observe/http.h"
#include "keel/error.h"
#include "raft/hist.h"

#define OBS_REFRESH_MS 250
#define OBS_FSYNC_WINDOW 20 /* refreshes: the SLOW_FSYNC window (5 s) */
#define OBS_MAX_PEERS 16

/* Why a request was refused, by the error word of its reply: the table's
 * word for a Keel code (include/keel/error.h), or Redis's MOVED. */
#define REJECT_REASONS(X)                                   \
    X(NOSPACE, "nospace", keel_errword(KEEL_ENOSPACE))      \
    X(NOLEADER, "noleader", keel_errword(KEEL_ENOTLEADER))  \
    X(UNCERTAIN, "uncertain", keel_errword(KEEL_EUNCERTAIN)) \
    X(MOVED, "moved", "MOVED")                              \
    X(PROTOCOL, "protocol", NULL)                           \
    X(MAXCLIENTS, "maxclients", NULL)                       \
    X(USER_LIMIT, "user_limit", NULL)

enum {
#define REJECT_ENUM(e, label, word) REJECT_##e,
    REJECT_REASONS(REJECT_ENUM)
#undef REJECT_ENUM
    REJECT_COUNT
};

struct obs
{
    uv_timer_t timer;
    bool timer_started;
    struct keel_server *srv;
    struct http *http;
    int64_t started_ms;                 /* wall clock at start */
    struct keel_hist *cmd_latency;      /* one per command_table entry */
    struct obs_cmdstat *cmdstats;       /* one per command_table entry (cmdstats.h) */
    struct obs_errors errors;           /* error replies by word (cmdstats.h) */
    struct obs_rates rates;             /* INFO's instantaneous_* (cmdstats.h) */
    uint64_t rejected[REJECT_COUNT];
    /* alarms and what their evaluation remembers */
    struct alarm alarms[ALARM_COUNT];
    uint64_t leader_seen_ms;            /* loop ms a leader was last known */
    struct { uint64_t id; uint64_t seen_ms; } peers[OBS_MAX_PEERS];
    struct keel_hist fsync_ring[OBS_FSYNC_WINDOW];
    unsigned fsync_pos;
    bool nospace_refused;               /* a write hit the quota since the last evaluation */
    bool nospace_disk;                  /* NOSPACE stands for the disk (else the quota) */
    bool reserve_logged;                /* the reserve's state was logged once */
    bool reserve_held;                  /* ... and this is what was logged */
    uint64_t reserve_releases;          /* releases already logged */
    uint64_t disk_looked_ms;            /* loop ms of the last admission look at the disk */
    void (*closed_cb)(struct keel_server *srv);
};

/* Allocate srv->obs. KEEL_ENOMEM. */
int obs_create(struct keel_server *srv);
/* Start the refresh timer and, with cfg.http_addr, the HTTP endpoint.
 * KEEL_EIO / KEEL_EINVAL with errmsg. */
int obs_start(struct keel_server *srv, char *errmsg);
/* Stop the HTTP thread and close the timer; cb runs once it is closed. */
void obs_stop(struct keel_server *srv, void (*cb)(struct keel_server *srv));
void obs_free(struct keel_server *srv);
/* Evaluate the alarms and publish a fresh snapshot now. */
void obs_refresh(struct keel_server *srv);
/* A request finished: its latency, and its refusal if it was one. */
void obs_command_done(struct slot *s);

#endif /* KEEL_API_OBSERVE_H */
