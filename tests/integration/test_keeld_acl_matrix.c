/* tests/integration: every ACL category, allowed and denied, on the leader
 * and on a follower (where the check runs before forwarding) of a real
 * three-node cluster. For each category C Keel has commands in, a user
 * "+@C" and a user "+@all -@C" run a fixed set of harmless commands; each
 * must be refused with -NOPERM exactly when Redis 7.2 puts it (or, for
 * subcommands, its own row) in C, or not in C for the second user. The
 * oracle below is Redis 7.2's src/commands.def, written out by hand, not
 * read from Keel's table. Every wait is a bounded poll. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "kc.h"

static struct kc cluster;

static int setup(void **state)
{
    (void)state;
    kc_start(&cluster, 3, "");
    return kc_leader(&cluster, 10000) < 0;
}

static int teardown(void **state)
{
    (void)state;
    kc_stop(&cluster);
    return 0;
}

/* A harmless request and its categories in Redis 7.2. */
struct probe
{
    const char *cmd;
    const char *cats; /* " read string fast " */
};

static const struct probe probes[] = {
    {"GET m:k", " read string fast "},
    {"SET m:k v", " write string slow "},
    {"EXISTS m:k", " keyspace read fast "},
    {"DEL m:none", " keyspace write slow "},
    {"TTL m:k", " keyspace read fast "},
    {"DBSIZE", " keyspace read fast "},
    {"SCAN 0 MATCH m:none", " keyspace read slow "},
    {"KEYS m:none*", " keyspace read slow dangerous "},
    {"HGET m:h f", " read hash fast "},
    {"HSET m:h f v", " write hash fast "},
    {"PUBLISH m:chan x", " pubsub fast "},
    {"PUBSUB NUMPAT", " pubsub slow "},
    {"PING", " fast connection "},
    {"ECHO x", " fast connection "},
    {"CLIENT ID", " slow connection "},
    {"CLIENT LIST", " admin slow dangerous connection "},
    {"CONFIG GET maxclients", " admin slow dangerous "},
    {"ACL WHOAMI", " slow "},
    {"ACL USERS", " admin slow dangerous "},
    {"INFO server", " slow dangerous "},
    {"DISCARD", " fast transaction "}, /* outside MULTI: an error, but not NOPERM */
    {"KEEL.ALARM LIST", " keel admin dangerous slow "},
    {"KEEL.HASHKV", " keel admin slow "},
};
#define NPROBES (sizeof probes / sizeof probes[0])

static const char *const categories[] = {"keyspace", "read",  "write",     "string",     "hash",        "pubsub",
                                         "admin",    "fast",  "slow",      "dangerous",  "connection",  "transaction",
                                         "keel"};
#define NCATS (sizeof categories / sizeof categories[0])

static bool in(const struct probe *p, const char *cat)
{
    char word[32];
    snprintf(word, sizeof word, " %s ", cat);
    return strstr(p->cats, word) != NULL;
}

/* A connection to node i as user; polls (10 s): the node may not have
 * applied the user yet. */
static redisContext *login(unsigned i, const char *user)
{
    struct timeval tv = {5, 0};
    for (int t = 0; t < 200; t++, kc_pause_ms(50)) {
        redisContext *ctx = redisConnectWithTimeout("127.0.0.1", (int)cluster.nodes[i].client_port, tv);
        assert_true(ctx != NULL && ctx->err == 0);
        redisSetTimeout(ctx, tv);
        redisReply *r = redisCommand(ctx, "AUTH %s pw-%s", user, user);
        bool ok = r != NULL && r->type == REDIS_REPLY_STATUS;
        if (r != NULL) freeReplyObject(r);
        if (ok) return ctx;
        redisFree(ctx);
    }
    fail_msg("node %u: AUTH %s never worked", i + 1, user);
    return NULL;
}

/* Run every probe as user on node i: refused iff denied(probe). */
static void run_probes(unsigned i, const char *user, const char *cat, bool allow_in)
{
    redisContext *ctx = login(i, user);
    for (size_t k = 0; k < NPROBES; k++) {
        bool denied = allow_in ? !in(&probes[k], cat) : in(&probes[k], cat);
        redisReply *r = redisCommand(ctx, probes[k].cmd);
        if (r == NULL) fail_msg("node %u, %s: %s: no reply", i + 1, user, probes[k].cmd);
        bool noperm = r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOPERM", 6) == 0;
        if (noperm != denied)
            fail_msg("node %u, user %s (%s@%s): %s: want %s, got %s", i + 1, user, allow_in ? "+" : "+@all -", cat,
                     probes[k].cmd, denied ? "NOPERM" : "not NOPERM", r->type == REDIS_REPLY_ERROR ? r->str : "a reply");
        freeReplyObject(r);
    }
    redisFree(ctx);
}

static void test_every_category(void **state)
{
    (void)state;
    int leader = kc_leader(&cluster, 10000);
    assert_true(leader >= 0);
    unsigned follower = (unsigned)(leader + 1) % cluster.n;
    for (size_t c = 0; c < NCATS; c++) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "ACL SETUSER in-%s on >pw-in-%s ~* &* -@all +@%s", categories[c], categories[c],
                 categories[c]);
        kc_expect(&cluster, follower, true, cmd, "+OK"); /* forwarded, committed */
        snprintf(cmd, sizeof cmd, "ACL SETUSER out-%s on >pw-out-%s ~* &* +@all -@%s", categories[c],
                 categories[c], categories[c]);
        kc_expect(&cluster, follower, true, cmd, "+OK");
    }
    unsigned nodes[2] = {(unsigned)leader, follower};
    for (size_t n = 0; n < 2; n++) {
        for (size_t c = 0; c < NCATS; c++) {
            char user[64];
            snprintf(user, sizeof user, "in-%s", categories[c]);
            run_probes(nodes[n], user, categories[c], true);
            snprintf(user, sizeof user, "out-%s", categories[c]);
            run_probes(nodes[n], user, categories[c], false);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_category),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
