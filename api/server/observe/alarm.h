/* api: alarms: conditions an operator must see, raised and cleared by the
 * node itself (every 250 ms, api/server/observe/observe.c), except CORRUPT: the periodic
 * consistency check (api/server/consistency.h) raises it on a replica whose state
 * differs from the majority's (and on the leader, naming that replica) and
 * clears it once a later check agrees; keelctl hashkv raises it on the
 * leader too; an operator may clear it (KEEL.ALARM CLEAR CORRUPT).
 *
 * Each transition is logged (warn on raise, info on clear) and handed to
 * alarm_hook as a JSON event. Alarms live in this process only: a
 * restart starts with none (CORRUPT included: the next check finds it).
 *
 * Everything here runs on the loop thread. */
#ifndef KEEL_API_ALARM_H
#define KEEL_API_ALARM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ALARMS(X)                                                                          \
    X(NOLEADER, "no leader known for longer than --alarm-noleader-ms")                     \
    X(QUORUM_AT_RISK, "leader: only a bare majority of voters answers; one more loss stops writes") \
    X(FOLLOWER_LAG, "a replica (or this node) is more than --health-max-lag entries behind") \
    X(SLOW_FSYNC, "raft log appends: p99 over the last 5 s above --alarm-slow-fsync-ms")  \
    X(NOSPACE, "live data at the --quota, free disk under --min-free-disk (16 MiB at least) or the disk reserve released: writes refused") \
    X(CORRUPT, "a replica's state digest differed from the majority's (consistency check, keelctl hashkv)") \
    X(CLOCK_SKEW, "this node's wall clock is over 1 s from the cluster clock: not followed (a step?)") \
    X(CERT_EXPIRY, "a TLS certificate this node presents or trusts expires within --tls-cert-expiry-warn-days")

enum {
#define ALARM_ENUM(name, help) ALARM_##name,
    ALARMS(ALARM_ENUM)
#undef ALARM_ENUM
    ALARM_COUNT
};

struct keel_server;
struct slot;

struct alarm
{
    bool active;
    char reason[200];
    int64_t since_ms;   /* wall clock of the raise */
    uint64_t raised;    /* times raised since start */
};

const char *alarm_name(int id);
const char *alarm_help(int id);
/* ALARM_* by name (any case), or -1. */
int alarm_lookup(const char *name);
const struct alarm *alarm_get(const struct keel_server *srv, int id);
/* "NOSPACE,CORRUPT" (or "" when none) into buf. */
void alarm_list(const struct keel_server *srv, char *buf, size_t size);

/* Raise (or update the reason of) / clear an alarm: logged and hooked on
 * each transition only. */
void alarm_raise(struct keel_server *srv, int id, const char *reason);
void alarm_clear(struct keel_server *srv, int id);

/* Re-evaluate every automatic alarm from the node's current state. */
void alarms_evaluate(struct keel_server *srv);

/* On the leader, before proposing the write s (encoded as `len` bytes):
 * true, with -OOM written into s->out, if NOSPACE refuses it. Deletions are
 * always allowed, so that space can be won back. */
bool alarm_refuses_write(struct slot *s, size_t len);

/* The notification hook: every raise and clear, as one JSON object
 *   {"event":"alarm","node":1,"alarm":"NOSPACE","active":true,"reason":"..."}
 * NULL: only logged. Set by the pub/sub side (notify_keel_event). */
extern void (*alarm_hook)(struct keel_server *srv, const char *json);

#endif /* KEEL_API_ALARM_H */
