/* store: the keys each applied entry changed, and how: the input of keyspace
 * notifications (api/server/pubsub/notify.c).
 *
 * While recording is on (keel_store_record_events), every apply fills one
 * list: the entry's raft index and, in order, one {event, key} per change,
 * named as Redis names its keyspace events. It is built only from the entry,
 * the index and the stored state, like the apply itself, so every replica
 * reports the same events for the same entry. Keys are copied: the list is
 * valid until the next apply, whatever the entry buffer or LMDB do. */
#ifndef KEEL_STORE_EVENTS_H
#define KEEL_STORE_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/storage.h"

/* Redis's event names (keel_event_name); the class each belongs to is
 * Redis's too (notify-keyspace-events' letters): generic (g), string ($),
 * list (l), set (s), hash (h), sorted set (z), expired (x), evicted (e),
 * stream (t), module (d), new key (n). A new event is one enum value and
 * one row of events.c's table; api/server/pubsub/notify.c maps every class
 * letter, so nothing else changes. */
enum keel_event_type {
    KEEL_EV_SET = 0,     /* $ SET, MSET, CAS that wrote */
    KEEL_EV_DEL,         /* g DEL, GETDEL, an expiry at or before now, an emptied hash */
    KEEL_EV_EXPIRE,      /* g EXPIRE family, SET/GETEX with a time */
    KEEL_EV_EXPIRED,     /* x the sweep, or a lazily expired key found by a write */
    KEEL_EV_INCRBY,      /* $ INCR DECR INCRBY DECRBY */
    KEEL_EV_APPEND,      /* $ */
    KEEL_EV_HSET,        /* h HSET HMSET */
    KEEL_EV_HDEL,        /* h */
    KEEL_EV_HINCRBY,     /* h */
    KEEL_EV_PERSIST,     /* g PERSIST, GETEX PERSIST */
    KEEL_EV_RENAME_FROM, /* g RENAME RENAMENX: the source */
    KEEL_EV_RENAME_TO,   /* g ... and the destination */
    KEEL_EV_COPY_TO,     /* g COPY: the destination */
    KEEL_EV_SETRANGE,    /* $ */
    KEEL_EV_INCRBYFLOAT, /* $ */
    KEEL_EV_HINCRBYFLOAT, /* h */
    KEEL_EV_SETBIT,      /* $ */
    KEEL_EV_NEW,         /* n a key created (Redis's dbAdd): before the command's own event */
    KEEL_EV_SADD,        /* s SADD, SMOVE's destination */
    KEEL_EV_SREM,        /* s SREM, SMOVE's source */
    KEEL_EV_SPOP,        /* s */
    KEEL_EV_SINTERSTORE, /* s */
    KEEL_EV_SUNIONSTORE, /* s */
    KEEL_EV_SDIFFSTORE,  /* s */
    KEEL_EV_LPUSH,       /* l LPUSH LPUSHX */
    KEEL_EV_RPUSH,       /* l RPUSH RPUSHX */
    KEEL_EV_LPOP,        /* l */
    KEEL_EV_RPOP,        /* l */
    KEEL_EV_LSET,        /* l */
    KEEL_EV_LREM,        /* l */
    KEEL_EV_LTRIM,       /* l */
    KEEL_EV_LINSERT,     /* l */
    KEEL_EV_ZADD,        /* z ZADD */
    KEEL_EV_ZINCR,       /* z ZINCRBY, ZADD INCR */
    KEEL_EV_ZREM,        /* z ZREM */
    KEEL_EV_ZPOPMIN,     /* z */
    KEEL_EV_ZPOPMAX,     /* z */
    KEEL_EV_ZREMRANGEBYRANK,  /* z */
    KEEL_EV_ZREMRANGEBYSCORE, /* z */
    KEEL_EV_ZREMRANGEBYLEX,   /* z */
    KEEL_EV_ZUNIONSTORE, /* z */
    KEEL_EV_ZINTERSTORE, /* z */
    KEEL_EV_ZDIFFSTORE,  /* z */
    KEEL_EV_ZRANGESTORE, /* z */
    KEEL_EV_MOVE_FROM,   /* g MOVE: the key in its source database */
    KEEL_EV_MOVE_TO,     /* g MOVE: the key in its destination database */
    KEEL_EV_SWAPPED,     /* (no class: never published, as Redis's SWAPDB) a key SWAPDB moved,
                          * under its new name: wakes the clients blocked on it (block.c) */
    KEEL_EV__COUNT
};

struct keel_event
{
    uint8_t type;          /* enum keel_event_type */
    struct keel_slice key; /* points into the list's own copy */
    size_t off;            /* private: the key's offset in the copy */
};

struct keel_events
{
    uint64_t index;        /* the raft index of the entry */
    uint32_t n;            /* 0: nothing changed, recording off, or skipped */
    struct keel_event *ev;
    bool truncated;        /* out of memory: some events are missing */
    /* private */
    bool on;
    uint32_t cap;
    uint8_t *keys;
    size_t keys_len;
    size_t keys_cap;
};

/* "set", "del", ...; "?" for an unknown type. */
const char *keel_event_name(unsigned type);
/* Redis's class letter of the event ('g', '$', 'h', 'x', 'n', ...). */
/* Redis's class letter of the event: 'g', '$', 'h', 's', 'l', 'z' or 'x'. */
char keel_event_class(unsigned type);

/* Internal to store/ (events.c). */
void events_init(struct keel_events *ev);
void events_close(struct keel_events *ev);
void events_reset(struct keel_events *ev, uint64_t index);
void events_add(struct keel_events *ev, unsigned type, struct keel_slice key);
/* Point each key into the copy (it may have moved while growing). */
void events_finish(struct keel_events *ev);

#endif /* KEEL_STORE_EVENTS_H */
