/* tests/integration: connections per user on a real three-node cluster
 * (--max-clients-per-user 3 --auth-timeout 2): one user holding its limit
 * locks nobody else out; while default is open its connections are refused
 * past the limit; while it needs a password, unauthenticated connections
 * are timed out and the oldest is closed to make room for a new one; a
 * follower's forwarding connection is neither. Every wait is a bounded poll. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kc.h"

#define LIMIT 3
#define ADMIN_PW "adm-Pw-7731"
#define APP_PW "app-Pw-1209"
#define DEFAULT_PW "def-Pw-5520"

static struct kc cluster;

static int setup(void **state)
{
    (void)state;
    kc_start(&cluster, 3, "--max-clients-per-user 3 --auth-timeout 2");
    return kc_leader(&cluster, 10000) < 0;
}

static int teardown(void **state)
{
    (void)state;
    kc_stop(&cluster);
    return 0;
}

/* Whether the node closed ctx's connection within ms (nothing is sent: it
 * is the node's own doing). */
static bool closed_within(redisContext *ctx, unsigned ms)
{
    long long deadline = kc_now_ms() + ms;
    while (kc_now_ms() < deadline) {
        struct pollfd p = {ctx->fd, POLLIN, 0};
        if (poll(&p, 1, 50) > 0) {
            char b[256];
            if (read(ctx->fd, b, sizeof b) <= 0) return true;
        }
    }
    return false;
}

/* A new connection to node i gets `want` as the first thing it reads
 * (sent unasked, then closed), or, want NULL, answers PING. Polls (10 s):
 * the node counts a closed connection only once it has seen it close. */
static void await_first(unsigned i, const char *want)
{
    char got[512] = "";
    for (int tries = 0; tries < 200; tries++, kc_pause_ms(50)) {
        redisContext *ctx = kc_raw(&cluster, i);
        redisReply *r = redisCommand(ctx, "PING");
        if (r != NULL) {
            kc_reply_text(r, true, got, sizeof got);
            freeReplyObject(r);
        } else {
            snprintf(got, sizeof got, "(no reply: %s)", ctx->errstr);
        }
        redisFree(ctx);
        if (kc_text_matches(got, want != NULL ? want : "+PONG")) return;
    }
    fail_msg("node %u: a new connection: want %s, got %s", i + 1, want != NULL ? want : "+PONG", got);
}

/* INFO's field name, read on ctx. */
static unsigned long long info_on(redisContext *ctx, const char *name)
{
    redisReply *r = redisCommand(ctx, "INFO");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    char key[128];
    snprintf(key, sizeof key, "\n%s:", name);
    const char *at = strstr(r->str, key);
    if (at == NULL) fail_msg("INFO has no %s", name);
    unsigned long long v = strtoull(at + strlen(key), NULL, 10);
    freeReplyObject(r);
    return v;
}

#define OVER_DEFAULT "-ERR max number of clients reached for user 'default'"

/* While default is open, every connection is default: past its limit a
 * new one is told why and closed; a place freed is taken again. */
static void test_open_default(void **state)
{
    (void)state;
    unsigned leader = (unsigned)kc_leader(&cluster, 10000);
    for (unsigned i = 0; i < cluster.n; i++) {
        unsigned node = (leader + i) % cluster.n;
        redisContext *held[LIMIT];
        for (int k = 0; k < LIMIT; k++) {
            held[k] = kc_raw(&cluster, node);
            kc_on(held[k], node, "+PONG", "PING");
        }
        await_first(node, OVER_DEFAULT);
        redisFree(held[0]);
        await_first(node, NULL);
        /* Read on a held connection: a new one may not fit yet. */
        assert_true(info_on(held[1], "keel_rejected_connections_user_limit") >= 1);
        assert_int_equal(info_on(held[1], "keel_maxclients_per_user"), LIMIT);
        for (int k = 1; k < LIMIT; k++) redisFree(held[k]);
    }
}

/* Poll (10 s) until AUTH user pass on a fresh connection to node i works. */
static void await_login(unsigned i, const char *user, const char *pass)
{
    for (int tries = 0; tries < 200; tries++, kc_pause_ms(50)) {
        redisContext *ctx = kc_raw(&cluster, i);
        redisReply *r = redisCommand(ctx, "AUTH %s %s", user, pass);
        bool ok = r != NULL && kc_is_status(r, "OK");
        if (r != NULL) freeReplyObject(r);
        redisFree(ctx);
        if (ok) return;
    }
    fail_msg("node %u: AUTH %s never worked", i + 1, user);
}

/* With default behind a password: app holding its limit locks out nobody
 * else; unauthenticated connections are timed out, and the oldest makes
 * room for a new one; forwarding goes on. */
static void test_closed_default(void **state)
{
    (void)state;
    unsigned leader = (unsigned)kc_leader(&cluster, 10000);
    kc_expect(&cluster, leader, true, "ACL SETUSER admin on >" ADMIN_PW " ~* &* +@all", "+OK");
    kc_expect(&cluster, leader, true, "ACL SETUSER app on >" APP_PW " ~* &* +@all -@admin -@dangerous", "+OK");
    kc_expect(&cluster, leader, true, "CONFIG SET requirepass " DEFAULT_PW, "+OK");
    snprintf(cluster.auth_user, sizeof cluster.auth_user, "admin");
    snprintf(cluster.auth_pass, sizeof cluster.auth_pass, "%s", ADMIN_PW);
    for (unsigned i = 0; i < cluster.n; i++) await_login(i, "admin", ADMIN_PW);

    for (unsigned i = 0; i < cluster.n; i++) {
        unsigned node = (leader + i) % cluster.n;
        /* app at its limit: its next AUTH is refused, the connection stays
         * what it was and can still log in as someone else. */
        redisContext *app[LIMIT];
        for (int k = 0; k < LIMIT; k++) {
            app[k] = kc_raw(&cluster, node);
            kc_on(app[k], node, "+OK", "AUTH app " APP_PW);
        }
        redisContext *extra = kc_raw(&cluster, node);
        kc_on(extra, node, "-ERR max number of clients reached for user 'app'", "AUTH app " APP_PW);
        kc_on(extra, node, "-NOAUTH*", "GET k");
        kc_on(extra, node, "+OK", "AUTH admin " ADMIN_PW);
        kc_on(extra, node, "+OK", "SET limits:%u v", node); /* forwarded from a follower */
        kc_on(extra, node, "\"v\"", "GET limits:%u", node);
        /* default (by name) is one user with the unauthenticated ones */
        kc_on(extra, node, "+OK", "AUTH default " DEFAULT_PW);
        redisFree(extra);

        /* Unauthenticated connections: a new one past the limit closes
         * the oldest, which could do nothing but AUTH. */
        uint64_t evicted = kc_info_u64(&cluster, node, "stats", "keel_evicted_unauthenticated_clients");
        uint64_t timeouts = kc_info_u64(&cluster, node, "stats", "keel_auth_timeouts");
        redisContext *u[LIMIT + 1];
        for (int k = 0; k < LIMIT; k++) {
            u[k] = kc_raw(&cluster, node);
            kc_on(u[k], node, "-NOAUTH*", "GET k");
        }
        u[LIMIT] = kc_raw(&cluster, node);
        kc_on(u[LIMIT], node, "+OK", "AUTH admin " ADMIN_PW);
        assert_true(closed_within(u[0], 5000));
        assert_true(kc_info_u64(&cluster, node, "stats", "keel_evicted_unauthenticated_clients") >= evicted + 1);
        /* The others go too, timed out (--auth-timeout 2) or evicted by
         * newer connections (INFO's below are unauthenticated until their
         * AUTH); the authenticated ones, idle as long, stay. */
        for (int k = 1; k < LIMIT; k++) assert_true(closed_within(u[k], 10000));
        uint64_t gone = kc_info_u64(&cluster, node, "stats", "keel_evicted_unauthenticated_clients") - evicted +
                        kc_info_u64(&cluster, node, "stats", "keel_auth_timeouts") - timeouts;
        if (gone < LIMIT) fail_msg("node %u: %llu unauthenticated connections closed, want %d", node + 1,
                                   (unsigned long long)gone, LIMIT);
        kc_on(u[LIMIT], node, "+PONG", "PING");
        for (int k = 0; k < LIMIT; k++) kc_on(app[k], node, "+PONG", "PING");
        /* Forwarding outlived the timeout: a follower's writes still go. */
        kc_on(app[0], node, "+OK", "SET limits:%u:after v", node);
        for (int k = 0; k <= LIMIT; k++) redisFree(u[k]);
        for (int k = 0; k < LIMIT; k++) redisFree(app[k]);
    }
    /* Nothing that was forwarded went missing. */
    for (unsigned i = 0; i < cluster.n; i++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "EXISTS limits:%u limits:%u:after", i, i);
        kc_expect(&cluster, leader, true, cmd, ":2");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_default),
        cmocka_unit_test(test_closed_default),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
