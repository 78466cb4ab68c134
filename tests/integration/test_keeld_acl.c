/* tests/integration: users and ACL on a real three-node cluster: AUTH and
 * HELLO AUTH with Redis 7.2's replies, -NOAUTH, CONFIG SET requirepass
 * replicated from a follower, users surviving a restart of every node, and
 * no cleartext password in any node's files. Every wait is a bounded poll. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kc.h"

#define PASS "s3cret-Pw-41x"

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

/* Poll (bounded, 10 s) until a fresh unauthenticated GET on node i gets want. */
static void await_unauth_get(unsigned i, const char *want)
{
    char got[512] = "";
    for (int tries = 0; tries < 200; tries++) {
        redisContext *ctx = kc_raw(&cluster, i);
        redisReply *r = redisCommand(ctx, "GET probe");
        if (r != NULL) {
            kc_reply_text(r, true, got, sizeof got);
            freeReplyObject(r);
        }
        redisFree(ctx);
        if (kc_text_matches(got, want)) return;
        kc_pause_ms(50);
    }
    fail_msg("node %u: GET probe: want %s, got %s", i + 1, want, got);
}

static unsigned a_follower(void)
{
    int leader = kc_leader(&cluster, 10000);
    assert_true(leader >= 0);
    return (unsigned)(leader + 1) % cluster.n;
}


/* A plain TCP connection to node i's client port. */
static int raw_fd(unsigned i)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cluster.nodes[i].client_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* Send req; the reply (all that arrives until 200 ms of quiet, at most 5 s)
 * must start with want. */
static void raw_expect(int fd, unsigned i, const char *req, const char *want)
{
    char got[8192];
    size_t n = 0;
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    long long deadline = kc_now_ms() + 5000;
    while (kc_now_ms() < deadline && n < sizeof got - 1) {
        struct pollfd p = {fd, POLLIN, 0};
        int wait = n >= strlen(want) ? 200 : 1000;
        if (poll(&p, 1, wait) <= 0) {
            if (n >= strlen(want)) break;
            continue;
        }
        ssize_t k = read(fd, got + n, sizeof got - 1 - n);
        if (k <= 0) break;
        n += (size_t)k;
    }
    got[n] = 0;
    if (strncmp(got, want, strlen(want)) != 0) fail_msg("node %u: %s  want %s  got  %s", i + 1, req, want, got);
}

#define WRONGPASS "-WRONGPASS invalid username-password pair or user is disabled."
#define NOAUTH "-NOAUTH Authentication required."

/* With the default user open (nopass), AUTH is Redis's odd case. */
static void test_auth_open_default(void **state)
{
    (void)state;
    for (unsigned i = 0; i < cluster.n; i++) {
        redisContext *ctx = kc_raw(&cluster, i);
        kc_on(ctx, i, "-ERR AUTH <password> called without any password configured for the default user. "
                   "Are you sure your configuration is correct?", "AUTH whatever");
        kc_on(ctx, i, "+OK", "AUTH default whatever"); /* nopass: any password */
        kc_on(ctx, i, WRONGPASS, "AUTH nosuchuser whatever");
        kc_on(ctx, i, "-ERR syntax error", "AUTH a b c");
        kc_on(ctx, i, "-ERR wrong number of arguments for 'auth' command", "AUTH");
        kc_on(ctx, i, "[\"server\",\"keel\",*", "HELLO 2 AUTH default x SETNAME app");
        kc_on(ctx, i, "+OK", "SET open%u v", i);
        redisFree(ctx);
    }
    assert_true(kc_info_u64(&cluster, 0, "stats", "acl_access_denied_auth") >= 1);
}

#define ALICE_PW "alice-Pw-7"
#define ALICE_HASH "21489036ac1be3694a3d7ebd45032bd7eae9f55df4c7c25700516ed92557d10a"

/* Poll (bounded, 10 s) until node i's ACL GETUSER name reads want. */
static void await_getuser(unsigned i, const char *name, const char *want)
{
    char got[4096] = "";
    for (int tries = 0; tries < 200; tries++) {
        redisReply *r = kc_cmd(&cluster, i, "ACL GETUSER %s", name);
        if (r != NULL) {
            kc_reply_text(r, true, got, sizeof got);
            freeReplyObject(r);
        }
        if (kc_text_matches(got, want)) return;
        kc_pause_ms(50);
    }
    fail_msg("node %u: ACL GETUSER %s: want %s, got %s", i + 1, name, want, got);
}

/* ACL SETUSER on a follower is on every node once committed; the other
 * subcommands with Redis 7.2's replies. */
static void test_acl_commands(void **state)
{
    (void)state;
    unsigned f = a_follower();
    kc_expect(&cluster, f, true, "ACL SETUSER alice on >" ALICE_PW " ~session:* +@read", "+OK");
    const char *alice = "[\"flags\",[\"on\",\"sanitize-payload\"],\"passwords\",[\"" ALICE_HASH "\"],"
                        "\"commands\",\"-@all +@read\",\"keys\",\"~session:*\",\"channels\",\"\","
                        "\"selectors\",[]]";
    for (unsigned i = 0; i < cluster.n; i++) await_getuser(i, "alice", alice);
    for (unsigned i = 0; i < cluster.n; i++) {
        kc_expect(&cluster, i, true, "ACL GETUSER default",
                  "[\"flags\",[\"on\",\"nopass\",\"sanitize-payload\"],\"passwords\",[],\"commands\",\"+@all\","
                  "\"keys\",\"~*\",\"channels\",\"&*\",\"selectors\",[]]");
        kc_expect(&cluster, i, true, "ACL GETUSER nobody", "(nil)");
        kc_expect(&cluster, i, true, "ACL LIST",
                  "[\"user alice on sanitize-payload #" ALICE_HASH " ~session:* resetchannels -@all +@read\","
                  "\"user default on nopass sanitize-payload ~* &* +@all\"]");
        kc_expect(&cluster, i, true, "ACL USERS", "[\"alice\",\"default\"]");
        kc_expect(&cluster, i, true, "ACL WHOAMI", "\"default\"");
        kc_expect(&cluster, i, true, "ACL DRYRUN alice GET session:1", "+OK");
        kc_expect(&cluster, i, true, "ACL DRYRUN alice GET other",
                  "\"User alice has no permissions to access the 'other' key\"");
        kc_expect(&cluster, i, true, "ACL DRYRUN alice SET session:1 v",
                  "\"User alice has no permissions to run the 'set' command\"");
        kc_expect(&cluster, i, true, "ACL DRYRUN nobody GET a", "-ERR User 'nobody' not found");
        kc_expect(&cluster, i, true, "ACL DRYRUN alice NOSUCH a", "-ERR Command 'NOSUCH' not found");
        kc_expect(&cluster, i, true, "ACL DRYRUN alice GET", "-ERR wrong number of arguments for 'get' command");
        kc_expect(&cluster, i, true, "ACL CAT nosuch", "-ERR Unknown category 'nosuch'");
        kc_expect(&cluster, i, true, "ACL CAT keel", "[\"keel.alarm\",\"keel.clock\",*");
        kc_expect(&cluster, i, true, "ACL SETUSER alice nosuchrule",
                  "-ERR Error in ACL SETUSER modifier 'nosuchrule': Syntax error");
        kc_expect(&cluster, i, true, "ACL SAVE",
                  "-ERR This Redis instance is not configured to use an ACL file. You may want to specify users "
                  "via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis "
                  "configuration file set) in order to store users in the Redis configuration.");
        kc_expect(&cluster, i, true, "ACL LOAD", "-ERR This Redis instance is not configured to use an ACL file.*");
        kc_expect(&cluster, i, true, "ACL DELUSER default", "-ERR The 'default' user cannot be removed");

        kc_expect(&cluster, i, true, "ACL LOG RESET", "+OK");
        redisContext *ctx = kc_raw(&cluster, i);
        kc_on(ctx, i, WRONGPASS, "AUTH alice wrong");
        kc_on(ctx, i, WRONGPASS, "AUTH alice wrong");
        kc_on(ctx, i, "+OK", "AUTH alice " ALICE_PW);
        /* alice has +@read only: ACL is @admin (as Redis's acl|whoami is not @read). */
        kc_on(ctx, i, "-NOPERM User alice has no permissions to run the 'acl|whoami' command", "ACL WHOAMI");
        redisFree(ctx);
        ctx = kc_raw(&cluster, i);
        kc_on(ctx, i, "[\"server\",\"keel\",*", "HELLO 2 AUTH alice " ALICE_PW);
        kc_on(ctx, i, "-NOPERM User alice has no permissions to run the 'acl|whoami' command", "ACL WHOAMI");
        redisFree(ctx);
        /* Repeats are one ACL LOG entry (same reason, object, user), newest first. */
        kc_expect(&cluster, i, true, "ACL LOG 1",
                  "[[\"count\",:2,\"reason\",\"command\",\"context\",\"toplevel\",\"object\",\"acl|whoami\","
                  "\"username\",\"alice\",\"age-seconds\",*");
        redisReply *r = kc_cmd(&cluster, i, "ACL LOG");
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_ARRAY);
        assert_int_equal(r->elements, 2);
        assert_int_equal(r->element[0]->elements, 20);
        const redisReply *auth = r->element[1];
        assert_int_equal(auth->element[1]->integer, 2);
        assert_string_equal(auth->element[3]->str, "auth");
        assert_string_equal(auth->element[5]->str, "toplevel");
        assert_string_equal(auth->element[7]->str, "AUTH");
        assert_string_equal(auth->element[9]->str, "alice");
        const char *fields[] = {"count", "reason", "context", "object", "username", "age-seconds", "client-info",
                                "entry-id", "timestamp-created", "timestamp-last-updated"};
        for (unsigned k = 0; k < 10; k++) assert_string_equal(r->element[0]->element[2 * k]->str, fields[k]);
        freeReplyObject(r);
        kc_expect(&cluster, i, true, "ACL LOG RESET", "+OK");
        kc_expect(&cluster, i, true, "ACL LOG", "[]");
    }
    /* Users are system keys: no keyspace command shows them. */
    kc_expect(&cluster, 0, true, "ACL SETUSER bob on >bobpw -@all", "+OK");
    kc_expect(&cluster, 0, true, "ACL SETUSER carol on >carolpw -@all", "+OK");
    for (unsigned i = 0; i < cluster.n; i++) await_getuser(i, "carol", "[\"flags\",[\"on\",*");
    for (unsigned i = 0; i < cluster.n; i++) {
        redisReply *keys = kc_cmd(&cluster, i, "KEYS *");
        redisReply *scan = kc_cmd(&cluster, i, "SCAN 0 COUNT 100000");
        redisReply *size = kc_cmd(&cluster, i, "DBSIZE");
        assert_non_null(keys);
        assert_non_null(scan);
        assert_non_null(size);
        assert_int_equal(keys->type, REDIS_REPLY_ARRAY);
        assert_int_equal(size->integer, (long long)keys->elements);
        for (size_t k = 0; k < keys->elements; k++)
            if (strstr(keys->element[k]->str, "acl") != NULL) fail_msg("KEYS shows %s", keys->element[k]->str);
        assert_int_equal(scan->element[1]->elements, keys->elements);
        for (size_t k = 0; k < scan->element[1]->elements; k++)
            if (strstr(scan->element[1]->element[k]->str, "acl") != NULL)
                fail_msg("SCAN shows %s", scan->element[1]->element[k]->str);
        freeReplyObject(keys);
        freeReplyObject(scan);
        freeReplyObject(size);
    }
    /* Two SETUSERs of one user pipelined on the leader: both are encoded
     * from the same state, so the second's entry is refused BUSY when it
     * applies; it is rebuilt once from the new state and succeeds. */
    int leader = kc_leader(&cluster, 10000);
    redisContext *pipe = kc_raw(&cluster, (unsigned)leader);
    for (int round = 0; round < 5; round++) {
        redisAppendCommand(pipe, "ACL SETUSER dave%d on ~a:*", round);
        redisAppendCommand(pipe, "ACL SETUSER dave%d ~b:*", round);
        for (int k = 0; k < 2; k++) {
            redisReply *r = NULL;
            assert_int_equal(redisGetReply(pipe, (void **)&r), REDIS_OK);
            if (!kc_is_status(r, "OK")) fail_msg("pipelined ACL SETUSER %d: %s", k, r->str);
            freeReplyObject(r);
        }
        char get[32], want[160];
        snprintf(get, sizeof get, "ACL GETUSER dave%d", round);
        snprintf(want, sizeof want, "[\"flags\",[\"on\",\"sanitize-payload\"],\"passwords\",[],\"commands\",\"-@all\","
                 "\"keys\",\"~a:* ~b:*\",*");
        kc_expect(&cluster, (unsigned)leader, true, get, want);
    }
    redisFree(pipe);
    kc_expect(&cluster, (unsigned)leader, true, "ACL DELUSER dave0 dave1 dave2 dave3 dave4", ":5");

    /* DELUSER of several, one unknown: one entry, the count of removed. */
    kc_expect(&cluster, f, true, "ACL DELUSER bob carol nobody", ":2");
    kc_expect(&cluster, f, true, "ACL DELUSER bob", ":0");
    for (unsigned i = 0; i < cluster.n; i++) await_getuser(i, "carol", "(nil)");
}

#define NOKEY "-NOPERM No permissions to access a key"
#define NOCHAN "-NOPERM No permissions to access a channel"

/* A connection to node i authenticated as user/pass. */
static redisContext *as_user(unsigned i, const char *user, const char *pass)
{
    redisContext *ctx = kc_raw(&cluster, i);
    kc_on(ctx, i, "+OK", "AUTH %s %s", user, pass);
    return ctx;
}

/* Wait (bounded, 5 s) until the node closes ctx's connection by itself:
 * nothing is sent, so it must be the node's own sweep that closes it. */
static void await_closed(redisContext *ctx, unsigned i)
{
    long long deadline = kc_now_ms() + 5000;
    while (kc_now_ms() < deadline) {
        struct pollfd p = {ctx->fd, POLLIN, 0};
        if (poll(&p, 1, 100) > 0) {
            char b[64];
            if (read(ctx->fd, b, sizeof b) <= 0) return; /* EOF: closed */
        }
    }
    fail_msg("node %u: the connection of a removed or disabled user is still open", i + 1);
}

/* Every request checked before it is routed, on the leader and on the
 * followers (which check before forwarding); denials in ACL LOG. */
static void test_acl_checks(void **state)
{
    (void)state;
    int leader = kc_leader(&cluster, 10000);
    assert_true(leader >= 0);
    kc_expect(&cluster, (unsigned)leader, true, "SET session:1 s1", "+OK");
    kc_expect(&cluster, (unsigned)leader, true, "SET other o", "+OK");
    kc_expect(&cluster, (unsigned)leader, true,
              "ACL SETUSER ops on >ops-pw ~* &* +@all -@admin -@dangerous", "+OK");
    kc_expect(&cluster, (unsigned)leader, true, "ACL SETUSER news on >news-pw ~* &news.* +@all -@admin", "+OK");
    for (unsigned i = 0; i < cluster.n; i++) await_getuser(i, "news", "[\"flags\",[\"on\",*");
    for (unsigned i = 0; i < cluster.n; i++) {
        kc_expect(&cluster, i, true, "ACL LOG RESET", "+OK");
        uint64_t cmd0 = kc_info_u64(&cluster, i, "stats", "acl_access_denied_cmd");
        uint64_t key0 = kc_info_u64(&cluster, i, "stats", "acl_access_denied_key");
        uint64_t chan0 = kc_info_u64(&cluster, i, "stats", "acl_access_denied_channel");

        /* ~session:* +@read: reads of session:*, nothing else. */
        redisContext *ctx = as_user(i, "alice", ALICE_PW);
        kc_on(ctx, i, "\"s1\"", "GET session:1");
        kc_on(ctx, i, "[\"s1\",(nil)]", "MGET session:1 session:2");
        kc_on(ctx, i, NOKEY, "GET other");
        kc_on(ctx, i, NOKEY, "MGET session:1 other");
        /* More keys than the check holds on its stack. */
        char many[1024] = "MGET";
        for (int k = 0; k < 40; k++) snprintf(many + strlen(many), sizeof many - strlen(many), " session:%d", k);
        kc_on(ctx, i, "[(nil),\"s1\",(nil),*", "%s", many);
        kc_on(ctx, i, NOKEY, "%s other", many);
        kc_on(ctx, i, "-NOPERM User alice has no permissions to run the 'set' command", "SET session:1 v");
        kc_on(ctx, i, "-NOPERM User alice has no permissions to run the 'del' command", "DEL session:1");
        kc_on(ctx, i, "-NOPERM User alice has no permissions to run the 'expire' command", "EXPIRE session:1 10");
        kc_on(ctx, i, "-NOPERM User alice has no permissions to run the 'publish' command", "PUBLISH c m");
        kc_on(ctx, i, "-NOPERM User alice has no permissions to run the 'multi' command", "MULTI");
        redisFree(ctx);

        /* Everything but @admin/@dangerous: data yes, the cluster's controls no. */
        ctx = as_user(i, "ops", "ops-pw");
        kc_on(ctx, i, "+OK", "SET ops%u v", i);
        kc_on(ctx, i, "\"v\"", "GET ops%u", i);
        kc_on(ctx, i, "-NOPERM User ops has no permissions to run the 'keel.member' command", "KEEL.MEMBER LIST");
        kc_on(ctx, i, "-NOPERM User ops has no permissions to run the 'keel.member' command", "KEEL.MEMBER REMOVE 1");
        kc_on(ctx, i, "-NOPERM User ops has no permissions to run the 'keel.transfer' command", "KEEL.TRANSFER");
        kc_on(ctx, i, "-NOPERM User ops has no permissions to run the 'keel.alarm' command", "KEEL.ALARM CLEAR CORRUPT");
        kc_on(ctx, i, "-NOPERM User ops has no permissions to run the 'keel.snapshot' command", "KEEL.SNAPSHOT BEGIN");
        kc_on(ctx, i, "-NOPERM User ops has no permissions to run the 'keel.drill' command", "KEEL.DRILL LIST");
        kc_on(ctx, i, "-NOPERM User ops has no permissions to run the 'config|set' command", "CONFIG SET loglevel debug");
        kc_on(ctx, i, "-NOPERM User ops has no permissions to run the 'config|set' command",
           "CONFIG SET requirepass x");
        kc_on(ctx, i, "-NOPERM User ops has no permissions to run the 'acl|setuser' command", "ACL SETUSER ops +@all");
        /* Subcommands have their own categories, as in Redis. */
        kc_on(ctx, i, "\"ops\"", "ACL WHOAMI");
        kc_on(ctx, i, "[*", "ACL CAT");
        kc_on(ctx, i, ":*", "CLIENT ID");
        kc_on(ctx, i, "-NOPERM User ops has no permissions to run the 'client|list' command", "CLIENT LIST");
        /* In MULTI a denial aborts the transaction, as Redis. */
        kc_on(ctx, i, "+OK", "MULTI");
        kc_on(ctx, i, "+QUEUED", "SET opsm%u v", i);
        kc_on(ctx, i, "-NOPERM User ops has no permissions to run the 'keel.transfer' command", "KEEL.TRANSFER");
        kc_on(ctx, i, "-EXECABORT*", "EXEC");
        kc_on(ctx, i, "(nil)", "GET opsm%u", i);
        redisFree(ctx);

        /* Channels: &news.* */
        ctx = as_user(i, "news", "news-pw");
        kc_on(ctx, i, ":*", "PUBLISH news.today hi");
        kc_on(ctx, i, NOCHAN, "PUBLISH sport hi");
        kc_on(ctx, i, NOCHAN, "SUBSCRIBE news.a sport");
        kc_on(ctx, i, NOCHAN, "PSUBSCRIBE news.*x");
        redisFree(ctx);

        /* The denials, newest first, in this node's ACL LOG. */
        redisReply *r = kc_cmd(&cluster, i, "ACL LOG 100");
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_ARRAY);
        char seen[2048] = "";
        for (size_t k = 0; k < r->elements; k++) {
            const redisReply *e = r->element[k];
            size_t n = strlen(seen);
            snprintf(seen + n, sizeof seen - n, "%s/%s/%s/%s ", e->element[3]->str, e->element[7]->str,
                     e->element[9]->str, e->element[5]->str);
        }
        freeReplyObject(r);
        const char *want[] = {"key/other/alice/toplevel", "command/set/alice/toplevel",
                              "command/keel.transfer/ops/multi", "command/keel.member/ops/toplevel",
                              "command/config|set/ops/toplevel", "channel/sport/news/toplevel",
                              "channel/news.*x/news/toplevel"};
        for (size_t k = 0; k < sizeof want / sizeof want[0]; k++)
            if (strstr(seen, want[k]) == NULL) fail_msg("node %u: ACL LOG lacks %s: %s", i + 1, want[k], seen);
        assert_true(kc_info_u64(&cluster, i, "stats", "acl_access_denied_cmd") >= cmd0 + 12);
        assert_true(kc_info_u64(&cluster, i, "stats", "acl_access_denied_key") >= key0 + 2);
        assert_true(kc_info_u64(&cluster, i, "stats", "acl_access_denied_channel") >= chan0 + 3);
    }
    /* A user removed or disabled loses its connections, on every node. */
    kc_expect(&cluster, (unsigned)leader, true, "ACL SETUSER temp1 on >t ~* +@all", "+OK");
    kc_expect(&cluster, (unsigned)leader, true, "ACL SETUSER temp2 on >t ~* +@all", "+OK");
    for (unsigned i = 0; i < cluster.n; i++) await_getuser(i, "temp2", "[\"flags\",[\"on\",*");
    redisContext *t1[KC_MAX], *t2[KC_MAX];
    for (unsigned i = 0; i < cluster.n; i++) {
        t1[i] = as_user(i, "temp1", "t");
        t2[i] = as_user(i, "temp2", "t");
    }
    kc_expect(&cluster, a_follower(), true, "ACL DELUSER temp1", ":1");
    kc_expect(&cluster, a_follower(), true, "ACL SETUSER temp2 off", "+OK");
    for (unsigned i = 0; i < cluster.n; i++) {
        await_closed(t1[i], i);
        await_closed(t2[i], i);
        redisFree(t1[i]);
        redisFree(t2[i]);
        redisContext *ctx = kc_raw(&cluster, i);
        kc_on(ctx, i, WRONGPASS, "AUTH temp2 t"); /* off */
        redisFree(ctx);
    }
}

/* CONFIG SET requirepass on a follower: replicated; then AUTH/HELLO paths. */
static void test_requirepass_and_auth(void **state)
{
    (void)state;
    unsigned f = a_follower();
    kc_expect(&cluster, f, true, "CONFIG SET requirepass " PASS, "+OK");
    for (unsigned i = 0; i < cluster.n; i++) await_unauth_get(i, NOAUTH);
    snprintf(cluster.auth_pass, sizeof cluster.auth_pass, "%s", PASS);
    uint64_t failed0 = kc_info_u64(&cluster, 0, "stats", "acl_access_denied_auth");
    for (unsigned i = 0; i < cluster.n; i++) {
        redisContext *ctx = kc_raw(&cluster, i);
        kc_on(ctx, i, NOAUTH, "PING");
        kc_on(ctx, i, NOAUTH, "SET k%u v", i);
        kc_on(ctx, i, NOAUTH, "KEEL.MEMBER LIST");
        kc_on(ctx, i, NOAUTH, "CONFIG SET requirepass x");
        kc_on(ctx, i, "-ERR unknown command 'NOSUCH', with args beginning with: ", "NOSUCH"); /* Redis's order */
        kc_on(ctx, i, "-NOAUTH HELLO must be called with the client already authenticated, otherwise the "
                   "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and "
                   "select the RESP protocol version at the same time", "HELLO 3");
        kc_on(ctx, i, WRONGPASS, "AUTH wrong");
        kc_on(ctx, i, WRONGPASS, "AUTH default wrong");
        kc_on(ctx, i, WRONGPASS, "HELLO 3 AUTH default wrong");
        kc_on(ctx, i, NOAUTH, "GET k");
        kc_on(ctx, i, "+OK", "AUTH " PASS);
        kc_on(ctx, i, "+OK", "SET auth%u v%u", i, i); /* a follower forwards it */
        kc_on(ctx, i, "\"v*", "GET auth%u", i);
        kc_on(ctx, i, "+RESET", "RESET");
        kc_on(ctx, i, NOAUTH, "GET auth%u", i);
        kc_on(ctx, i, "+OK", "AUTH default " PASS);
        kc_on(ctx, i, "\"v*", "GET auth%u", i);
        redisFree(ctx);

        /* RESP3 (hiredis 0.14 reads no maps): a raw socket. */
        int fd = raw_fd(i);
        raw_expect(fd, i, "HELLO 3 AUTH default wrong\r\n", WRONGPASS "\r\n");
        raw_expect(fd, i, "HELLO 3 AUTH default " PASS " SETNAME app\r\n", "%7\r\n");
        raw_expect(fd, i, "CLIENT GETNAME\r\n", "$3\r\napp\r\n");
        raw_expect(fd, i, "SET hello v\r\n", "+OK\r\n");
        close(fd);

        ctx = kc_raw(&cluster, i);
        kc_on(ctx, i, "[\"server\",\"keel\",*", "HELLO 2 AUTH default " PASS);
        kc_on(ctx, i, "+OK", "QUIT");
        redisFree(ctx);

        ctx = kc_raw(&cluster, i);
        kc_on(ctx, i, "+OK", "QUIT"); /* allowed before AUTH */
        redisFree(ctx);
    }
    /* Real clients: redis-py (username/password) and redis-cli (--user --pass). */
    char cmd[2048], dir[1024];
    snprintf(dir, sizeof dir, "%s", __FILE__);
    *strrchr(dir, '/') = 0;
    int n = snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/redis_py_acl.py' '%s' '%s'", dir, PASS, ALICE_PW);
    for (unsigned i = 0; i < cluster.n; i++)
        n += snprintf(cmd + n, sizeof cmd - (size_t)n, " %u", cluster.nodes[i].client_port);
    if (system(cmd) != 0) fail_msg("redis-py: %s failed", cmd);
    for (unsigned i = 0; i < cluster.n; i++) {
        char out[256] = "";
        snprintf(cmd, sizeof cmd, "redis-cli -p %u --user alice --pass '%s' --no-auth-warning GET session:1 2>&1",
                 cluster.nodes[i].client_port, ALICE_PW);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        if (fgets(out, sizeof out, p) == NULL) out[0] = 0;
        assert_int_equal(pclose(p), 0);
        assert_string_equal(out, "s1\n");
    }
    /* Counted on the node that refused: each refused 3 (AUTH x2, HELLO). */
    assert_true(kc_info_u64(&cluster, 0, "stats", "acl_access_denied_auth") >= failed0 + 3);
    kc_expect(&cluster, 0, true, "CONFIG SET requirepass x maxmemory 1",
              "-ERR CONFIG SET requirepass changes the cluster's default user*");
}

/* The password survives a restart of every node; no node's files hold it. */
static void test_restart_and_no_cleartext(void **state)
{
    (void)state;
    for (unsigned i = 0; i < cluster.n; i++) kc_signal(&cluster, i, SIGTERM);
    for (unsigned i = 0; i < cluster.n; i++) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "grep -r -a -q -F -e '%s' -e '%s' '%s'", PASS, ALICE_PW, cluster.nodes[i].dir);
        int rc = system(cmd);
        if (rc == 0) fail_msg("node %u: the cleartext password is in %s", i + 1, cluster.nodes[i].dir);
        assert_int_equal(WEXITSTATUS(rc), 1); /* grep ran and found nothing */
    }
    for (unsigned i = 0; i < cluster.n; i++) kc_start_node(&cluster, i);
    assert_true(kc_leader(&cluster, 15000) >= 0);
    for (unsigned i = 0; i < cluster.n; i++) {
        await_unauth_get(i, NOAUTH);
        redisContext *ctx = kc_raw(&cluster, i);
        kc_on(ctx, i, WRONGPASS, "AUTH wrong");
        kc_on(ctx, i, "+OK", "AUTH " PASS);
        kc_on(ctx, i, "\"v*", "GET auth%u", i);
        kc_on(ctx, i, "+OK", "AUTH alice " ALICE_PW); /* users survive too */
        redisFree(ctx);
    }
    /* Back to an open default, from the leader this time. */
    int leader = kc_leader(&cluster, 10000);
    redisReply *r = kc_cmd(&cluster, (unsigned)leader, "CONFIG SET requirepass %s", "");
    assert_true(kc_is_status(r, "OK"));
    freeReplyObject(r);
    cluster.auth_pass[0] = 0;
    for (unsigned i = 0; i < cluster.n; i++) await_unauth_get(i, "(nil)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_open_default),
        cmocka_unit_test(test_acl_commands),
        cmocka_unit_test(test_acl_checks),
        cmocka_unit_test(test_requirepass_and_auth),
        cmocka_unit_test(test_restart_and_no_cleartext),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
