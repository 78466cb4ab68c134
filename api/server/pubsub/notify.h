/* api: notifications on this node's pub/sub: Redis keyspace notifications
 * for committed entries (__keyspace@0__:<key> <event>, __keyevent@0__:<event>
 * <key>), exactly Redis's by default; with notify-keyspace-index yes each
 * payload is followed by "#<raft index>" ("set#1234"). And Keel's own
 * always-on __keel__:events channel of JSON objects (leader, members,
 * alarms).
 *
 * Every node notifies its own subscribers as it applies entries, leader or
 * follower, so a subscriber anywhere sees every committed change; the index,
 * when asked for, tells it which ones it missed (after a reconnect, or a
 * slow-subscriber close). Nothing is built while nobody subscribes. Loop
 * thread. */
#ifndef KEEL_API_NOTIFY_H
#define KEEL_API_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>

struct keel_server;

/* Redis's notify-keyspace-events classes (its server.h values). Every class
 * letter is accepted; a class fires once the store records an event of it
 * (store/events.h names each event's class). */
enum {
    NOTIFY_KEYSPACE = 1 << 0,  /* K */
    NOTIFY_KEYEVENT = 1 << 1,  /* E */
    NOTIFY_GENERIC = 1 << 2,   /* g */
    NOTIFY_STRING = 1 << 3,    /* $ */
    NOTIFY_LIST = 1 << 4,      /* l */
    NOTIFY_SET = 1 << 5,       /* s */
    NOTIFY_HASH = 1 << 6,      /* h */
    NOTIFY_ZSET = 1 << 7,      /* z */
    NOTIFY_EXPIRED = 1 << 8,   /* x */
    NOTIFY_EVICTED = 1 << 9,   /* e: Keel never evicts */
    NOTIFY_STREAM = 1 << 10,   /* t */
    NOTIFY_KEY_MISS = 1 << 11, /* m: accepted, never fires (reads run outside apply) */
    NOTIFY_MODULE = 1 << 13,   /* d */
    NOTIFY_NEW = 1 << 14,      /* n */
};
/* "A": every class but m and n, as in Redis. */
#define NOTIFY_ALL                                                                          \
    (NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST | NOTIFY_SET | NOTIFY_HASH | NOTIFY_ZSET | \
     NOTIFY_EXPIRED | NOTIFY_EVICTED | NOTIFY_STREAM | NOTIFY_MODULE)

/* Parse Redis's flag letters ("KEA", "Kx", ""): 0, or -1 on an unknown
 * letter. */
int notify_parse_flags(const char *s, unsigned *flags);
/* The flags back as letters, Redis's way and order ("AKE", "g$KE"; n is
 * shown only without A, as Redis's keyspaceEventsFlagsToString does). */
void notify_flags_string(unsigned flags, char *buf, size_t size);
/* Change the flags (CONFIG SET notify-keyspace-events). */
void notify_set_flags(struct keel_server *srv, unsigned flags);
/* Keel's notify-keyspace-index: append "#<raft index>" to every keyspace
 * notification's payload (off: Redis's payloads). */
void notify_set_index(struct keel_server *srv, bool on);

/* Whether the store records keyspace events depends on the subscriptions
 * and on blocked clients (block.c): say that the latter changed. */
void notify_recording_changed(struct keel_server *srv);

/* Hook into the node (keel_server_create) and out again (stop). */
void notify_start(struct keel_server *srv);
void notify_stop(struct keel_server *srv);

/* Publish a JSON object on __keel__:events. json must be one object
 * ("{...}", not owned, only read during the call); "node" (this node's id)
 * and "index" (its applied index now) are added in front of its fields.
 * Skipped at once when nobody subscribes. For the alarms:
 * notify_keel_event(srv, "{\"event\":\"alarm\",...}"). */
void notify_keel_event(struct keel_server *srv, const char *json);

#endif /* KEEL_API_NOTIFY_H */
