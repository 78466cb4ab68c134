/* libkeel internals shared by its files: client.c (endpoints, connection),
 * client_call.c (the retry loop), client_value.c (replies). */
#ifndef KEEL_API_CLIENT_INTERNAL_H
#define KEEL_API_CLIENT_INTERNAL_H

#include <hiredis/hiredis.h>
#include <stdint.h>
#include <sys/time.h>

#include "keel/client.h"

#define MAX_ENDPOINTS 16
#define MAX_ARGS 1024

struct endpoint
{
    char host[64];
    int port;
    char text[80];
    char why[96];          /* the last failure here, for error messages */
};

struct keel_client
{
    struct keel_client_options o;
    struct endpoint ep[MAX_ENDPOINTS];
    unsigned n;
    unsigned cur;          /* the endpoint connected to, or the next to try */
    redisContext *ctx;     /* NULL: not connected */
    char now_at[80];       /* "host:port" of ctx */
    char hint[80];         /* the leader's address, from ROLE or -MOVED */
    uint64_t id, seq, rng;
};

int64_t client_now_ms(void);
struct timeval client_tv(int64_t ms);
bool client_is_timeout(const redisContext *ctx);
/* Connect (the hinted leader first, else the current endpoint, then the
 * leader its ROLE names) before deadline: 0, or -1 with the reason noted on
 * the endpoint and the next one made current. */
int client_connect(struct keel_client *c, int64_t deadline);
void client_drop(struct keel_client *c);
/* Note why on the endpoint connected to, drop it, and move to the next. */
void client_give_up(struct keel_client *c, const char *why);
/* Sleep a capped exponential backoff with jitter, never past deadline. */
void client_backoff(struct keel_client *c, unsigned round, int64_t deadline);
/* "no leader after N ms: ep why, ep why" (or "outcome unknown ..."). */
void client_describe(struct keel_client *c, bool maybe, unsigned timeout_ms, char *errmsg, size_t size);

/* A deep copy of r, owned by the caller (keel_value_free); NULL: no memory. */
struct keel_value *client_value_from(const redisReply *r);

#endif /* KEEL_API_CLIENT_INTERNAL_H */
