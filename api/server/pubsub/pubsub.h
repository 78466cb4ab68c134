/* api: publish/subscribe inside one node: the registry of channel and
 * pattern subscriptions, and delivery of messages to connections.
 *
 * Channels live in a hash table (open addressing on xxhash), each with the
 * connections subscribed to it; patterns in one list of (pattern, conn).
 * So a PUBLISH costs O(subscribers of the channel + patterns). Messages are
 * queued in the connection's reply order (RESP2 clients see them between
 * replies, never inside one) and count against --max-output: a subscriber
 * that does not read is closed, like Redis's client-output-buffer-limit
 * pubsub, rather than let the node grow without bound.
 *
 * Nothing here is replicated: PUBLISH reaches this node's subscribers only.
 * Everything runs on the loop thread. */
#ifndef KEEL_API_PUBSUB_H
#define KEEL_API_PUBSUB_H

#include "api/server/server_internal.h"

/* ---- the channel table (pubsub_table.c) ------------------------------- */

struct channel
{
    uint8_t *name;        /* owned */
    size_t len;
    uint64_t hash;
    struct conn **subs;   /* owned array; the connections are not */
    unsigned n;
    unsigned cap;
};

struct chan_table
{
    struct channel **slots; /* NULL: free; a power of two of them */
    size_t cap;
    size_t n;
};

void chan_table_init(struct chan_table *t);
/* Frees every channel (their subscriber arrays too). */
void chan_table_close(struct chan_table *t);
struct channel *chan_find(const struct chan_table *t, const uint8_t *p, size_t n);
/* Find or create; NULL when out of memory. */
struct channel *chan_get(struct chan_table *t, const uint8_t *p, size_t n);
/* Remove ch from the table and free it. */
void chan_remove(struct chan_table *t, struct channel *ch);

/* ---- the registry (pubsub.c) ------------------------------------------ */

/* A connection's subscriptions (conn->ps), created by its first SUBSCRIBE. */
struct conn_pubsub
{
    struct keel_slice *channels; /* owned copies of the names */
    unsigned nchannels;
    struct keel_slice *patterns;
    unsigned npatterns;
    bool doomed;                 /* over the output limit: to be closed */
};

struct pubsub;

/* NULL when out of memory. */
struct pubsub *pubsub_create(void);
void pubsub_destroy(struct pubsub *ps);

/* 1 if subscribed now, 0 if it already was, -1 out of memory. */
int pubsub_subscribe(struct keel_server *srv, struct conn *c, struct keel_slice ch);
int pubsub_psubscribe(struct keel_server *srv, struct conn *c, struct keel_slice pat);
/* 1 if it was subscribed, 0 if not. */
int pubsub_unsubscribe(struct keel_server *srv, struct conn *c, struct keel_slice ch);
int pubsub_punsubscribe(struct keel_server *srv, struct conn *c, struct keel_slice pat);
/* Channels plus patterns the connection is subscribed to. */
unsigned pubsub_count(const struct conn *c);
/* Drop every subscription of c (conn_close, RESET). */
void pubsub_conn_close(struct conn *c);

/* Deliver msg to every subscriber of ch and of a matching pattern; returns
 * how many received it. Slow subscribers over the limit are closed after. */
unsigned pubsub_publish(struct keel_server *srv, struct keel_slice ch, struct keel_slice msg);
/* Whether a keyspace notification could reach anyone: a channel starting
 * with "__key" is subscribed, or any pattern is. */
bool pubsub_keyspace_wanted(const struct keel_server *srv);
/* Whether a message on channel could reach anyone: it has subscribers, or
 * some pattern exists. */
bool pubsub_wanted(const struct keel_server *srv, const char *channel);
/* ">n" (RESP3 push) or "*n": the header of a pub/sub frame. */
void pubsub_header(struct buf *b, int proto, size_t n);

/* PUBSUB's views. */
const struct chan_table *pubsub_channels(const struct keel_server *srv);
unsigned pubsub_numpat(const struct keel_server *srv);

/* cb(data) runs whenever the set of subscriptions changes (notify.c
 * decides whether the store must record keyspace events); NULL: none.
 * A callback, so that pub/sub knows nothing of notify (which publishes
 * through pub/sub). */
void pubsub_on_change(struct pubsub *ps, void (*cb)(void *data), void *data);

#endif /* KEEL_API_PUBSUB_H */
