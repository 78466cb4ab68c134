/* api/server: blocked clients (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP
 * BZPOPMIN BZPOPMAX BZMPOP): the leader's waiter lists, their timeouts, and
 * waking a waiter when an applied write touches one of its keys (block.c
 * says how). Loop thread only. */
#ifndef KEEL_API_BLOCK_H
#define KEEL_API_BLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "api/server/server_internal.h"

/* Create (keel_server_create) and close (keel_server_stop: its handles
 * close, then it frees itself) the server's blocking state. */
int block_create(struct keel_server *srv);
void block_stop(struct keel_server *srv);

/* The pop of s (a CMD_BLOCKING command on its connection, not in MULTI)
 * found nothing: park s in the waiter list (or keep its place there), or
 * answer its timeout. s->out is discarded. */
void block_wait(struct slot *s);
/* Whether none of the keys of s, armed by its encoder, exists in the
 * applied state: then its first attempt parks at once (srv_dispatch_write)
 * instead of proposing a pop that would find nothing. Not for a request with
 * a dedupe identity: its retry must reach apply, which may hold its reply. */
bool block_park_first(const struct slot *s);
/* s is being answered or freed (slot_done, slot_free): forget its waiter. */
void block_forget(struct slot *s);
/* Its connection closed (conn_close, after s->conn became NULL): a parked
 * s, with no pop in flight, ends now; one in flight ends when its pop comes
 * back. A forwarded one's connection to the leader is dropped. */
void block_conn_gone(struct slot *s);
/* This node stopped leading, or stops: parked clients get a retryable error. */
void block_release_all(struct keel_server *srv, const char *why);
/* After each applied entry (notify.c's hook): wake the waiters on its keys. */
void block_on_apply(struct keel_server *srv, const struct keel_events *ev);
/* Whether the store must record events for us (a client is parked). */
bool block_wanted(const struct keel_server *srv);
/* INFO's blocked_clients. */
unsigned block_count(const struct keel_server *srv);
/* CLIENT UNBLOCK id [TIMEOUT|ERROR]: 1 if that client was parked (and is
 * answered now), else 0. */
int block_unblock(struct keel_server *srv, uint64_t conn_id, bool error);

/* A forwarded blocking pop's own connection to the leader (forward.c):
 * one per request, so a client waiting for minutes holds up nobody's
 * replies on the shared forwarding connection. Released once answered;
 * destroyed outside the forwarder's own callbacks. */
struct forwarder *block_fwd_take(struct keel_server *srv);
void block_fwd_release(struct keel_server *srv, struct forwarder *f);
/* The server's timer: their deadlines (fwd_expire). */
void block_tick(struct keel_server *srv);

/* cmd_block.c: the timeout of a blocking command s as Redis parses it, in
 * ms (0: forever); false if it does not parse (the leader will say why). */
bool block_timeout_ms(const struct slot *s, uint64_t *ms);

#endif /* KEEL_API_BLOCK_H */
