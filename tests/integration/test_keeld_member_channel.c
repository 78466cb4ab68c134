/* tests/integration: member calls when `default` has a password, and the
 * member channel (docs/security.md, "Member channel"). Real keeld processes
 * on loopback; every wait is a bounded poll; every process stopped by pid.
 *
 * test_tls_cluster_no_plaintext: three nodes with --tls-cluster yes, a TLS
 * client port and --client-addr HOST:0 (no plaintext port anywhere), so
 * followers can only forward on the leader's member channel:
 * - SETs sent to every node over TLS (followers forward) are acknowledged,
 *   then again once `default` has a password, as `default` and as an ACL
 *   user; GETs on every node read them back;
 * - KEEL.FWD and KEEL.FWDSYNC from a client connection are refused even
 *   with the cluster's token (read from a data directory), and the write
 *   they carried is not applied;
 * - the member channel from a certificate of another CA (naming a real
 *   member id), or with no certificate, is refused in the TLS handshake
 *   (counted as bad_cert / no_cert, no reply); with a cluster certificate,
 *   a command that is not a member call gets -NOPERM, KEEL.FWDSYNC is
 *   answered, but not to a cluster certificate of a member not in the
 *   configuration, and KEEL.JOIN for another id than the certificate's is
 *   refused;
 * - a 4th node joins with --join naming a member's raft address and its own
 *   member certificate, becomes a voter and serves the data;
 * - a blocking pop through a follower (its own member-channel connection);
 * - leadership moves (KEEL.TRANSFER): writes to every node still go through;
 * - a damaged replica (bytes flipped in its data.mdb) is repaired from the
 *   leader's image.
 * test_plain_join_and_repair_with_password: no member TLS, `default` has a
 * password: a 4th node joins with --join-user/--join-password-file, one
 * without them is refused (-NOAUTH in its log), and a damaged replica is
 * repaired (its image fetch carries the cluster token, not a client's). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kc.h"
#include "kc_tls.h"

/* raft/transport.h's KEEL_MEMBER_MAGIC: what a member channel starts with. */
#define KEEL_MEMBER_MAGIC_TEST "KEEL-MC1"

static struct kc cl;
static unsigned tls_port[KC_MAX], http_port[KC_MAX];
static char dir[600], odir[600];
static bool tls_mode; /* the cluster under test speaks TLS only */

static int teardown(void **state)
{
    (void)state;
    if (cl.base != NULL) kc_stop(&cl);
    tls_mode = false;
    return 0;
}

/* A shell command bounded by timeout(1): its output in out, trailing
 * newlines cut; its exit status. */
/* redis-cli on node i (TLS when the cluster is TLS only), as user/pass
 * (NULL: no AUTH); cmd is redis-cli's arguments. Output in out. */
static void cli(unsigned i, const char *user, const char *pass, char *out, size_t size, const char *cmd)
{
    char auth[256] = "", how[900];
    if (pass != NULL) snprintf(auth, sizeof auth, "--user '%s' --pass '%s' --no-auth-warning", user, pass);
    if (tls_mode) snprintf(how, sizeof how, "--tls --cacert '%s/ca.crt' -p %u", dir, tls_port[i]);
    else snprintf(how, sizeof how, "-p %u", cl.nodes[i].client_port);
    kc_sh(30, out, size, "'%s' %s -h 127.0.0.1 %s %s", kc_redis_cli(), how, auth, cmd);
}

/* Poll (up to ms) until node i's reply to cmd starts with want. */
static void cli_until(unsigned i, const char *user, const char *pass, const char *cmd, const char *want, unsigned ms)
{
    char out[4096] = "";
    long long end = kc_now_ms() + ms;
    do {
        cli(i, user, pass, out, sizeof out, cmd);
        if (strncmp(out, want, strlen(want)) == 0) return;
        kc_pause_ms(100);
    } while (kc_now_ms() < end);
    fail_msg("node %u: %s answered '%s', not '%s' within %u ms", cl.nodes[i].id, cmd, out, want, ms);
}

static bool rejected_reaches(unsigned i, const char *reason, long v)
{
    char s[128];
    snprintf(s, sizeof s, "keel_raft_peer_rejected_total{reason=\"%s\"}", reason);
    for (int t = 0; t < 200; t++) {
        if (kc_metric(http_port[i], s) >= v) return true;
        kc_pause_ms(50);
    }
    return false;
}

/* Lines of node i's log holding a. */
static int log_count(unsigned i, const char *a)
{
    char line[4096];
    int n = 0;
    FILE *f = fopen(cl.nodes[i].log, "r");
    while (f && fgets(line, sizeof line, f)) n += strstr(line, a) != NULL;
    if (f) fclose(f);
    return n;
}

static bool log_has(unsigned i, const char *a, const char *b)
{
    char line[4096];
    bool found = false;
    FILE *f = fopen(cl.nodes[i].log, "r");
    while (f && !found && fgets(line, sizeof line, f)) found = strstr(line, a) && (b == NULL || strstr(line, b));
    if (f) fclose(f);
    return found;
}

/* ---- the member channel, spoken by hand ---------------------------------- */

/* Dial node i's raft port with TLS, present cert/key (NULL: none), trust
 * ca, send payload inside; the first reply line (up to 10 s) into out, ""
 * if the connection failed or closed without one. */
static void member_call(unsigned i, const char *cert, const char *key, const char *ca, const char *payload, size_t n,
                        char *out, size_t size)
{
    out[0] = 0;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(ctx);
    assert_int_equal(SSL_CTX_load_verify_locations(ctx, ca, NULL), 1);
    if (cert != NULL) {
        assert_int_equal(SSL_CTX_use_certificate_chain_file(ctx, cert), 1);
        assert_int_equal(SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM), 1);
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cl.nodes[i].raft_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) == 1 && SSL_write(ssl, payload, (int)n) == (int)n) {
        size_t got = 0;
        int r;
        while (got < size - 1 && (r = SSL_read(ssl, out + got, (int)(size - 1 - got))) > 0) {
            got += (size_t)r;
            out[got] = 0;
            if (strstr(out, "\r\n") != NULL) break;
        }
        out[got] = 0;
    }
    ERR_clear_error();
    SSL_free(ssl);
    close(fd);
    SSL_CTX_free(ctx);
}

/* The cluster's forwarding token, read from node i's data.mdb. */
static void read_token(unsigned i, char *token, size_t size)
{
    char path[700];
    struct stat st;
    const char *marker = "fwd-token";
    token[0] = 0;
    snprintf(path, sizeof path, "%s/kv/data.mdb", cl.nodes[i].dir);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    char *buf = malloc((size_t)st.st_size);
    assert_non_null(buf);
    assert_int_equal(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
    close(fd);
    for (off_t at = 0; at + 9 + 32 <= st.st_size && token[0] == 0; at++) {
        if (memcmp(buf + at, marker, 9) != 0) continue;
        /* The value follows its key in the leaf: skip to 32 hex digits. */
        for (off_t v = at + 9; v < at + 64 && v + 32 <= st.st_size; v++) {
            bool hex = true;
            for (int k = 0; k < 32 && hex; k++) hex = strchr("0123456789abcdef", buf[v + k]) != NULL && buf[v + k];
            if (hex) {
                snprintf(token, size, "%.32s", buf + v);
                break;
            }
        }
    }
    free(buf);
    if (token[0] == 0) fail_msg("no forwarding token in %s", path);
}

/* ---- a damaged replica ---------------------------------------------------- */

static unsigned long long info_num(unsigned i, const char *user, const char *pass, const char *name)
{
    char out[16384], want[128];
    cli(i, user, pass, out, sizeof out, "INFO consistency");
    snprintf(want, sizeof want, "%s:", name);
    const char *p = strstr(out, want);
    return p ? strtoull(p + strlen(want), NULL, 10) : 0;
}

static void ro_get(unsigned i, const char *user, const char *pass, const char *key, char *out, size_t size)
{
    char cmd[256], auth[256] = "", how[900];
    if (pass != NULL) snprintf(auth, sizeof auth, "--user '%s' --pass '%s' --no-auth-warning", user, pass);
    if (tls_mode) snprintf(how, sizeof how, "--tls --cacert '%s/ca.crt' -p %u", dir, tls_port[i]);
    else snprintf(how, sizeof how, "-p %u", cl.nodes[i].client_port);
    snprintf(cmd, sizeof cmd, "printf 'READONLY\\nGET %s\\n' | '%s' %s -h 127.0.0.1 %s", key, kc_redis_cli(), how, auth);
    kc_sh(30, out, size, "sh -c \"%s\"", cmd);
    /* "OK\nvalue": the second line */
    char *nl = strchr(out, '\n');
    if (nl != NULL) memmove(out, nl + 1, strlen(nl + 1) + 1);
}

static unsigned plant(unsigned i, const char *marker)
{
    char path[700];
    struct stat st;
    snprintf(path, sizeof path, "%s/kv/data.mdb", cl.nodes[i].dir);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    char *buf = malloc((size_t)st.st_size);
    assert_non_null(buf);
    assert_int_equal(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
    size_t n = strlen(marker);
    unsigned hits = 0;
    for (off_t at = 0; at + (off_t)n <= st.st_size; at++) {
        if (memcmp(buf + at, marker, n) != 0) continue;
        char flipped[8];
        for (size_t k = 0; k < 8; k++) flipped[k] = (char)(marker[k] ^ 0x20);
        assert_int_equal(pwrite(fd, flipped, 8, at), 8);
        hits++;
    }
    free(buf);
    close(fd);
    return hits;
}

/* Node `victim` (a follower) holds key = good everywhere; flip its copy and
 * see the check find it and the repair put it right. The check runs every
 * second on every node (--consistency-check-interval 1); it is paused
 * while the damage is planted. */
static void damage_and_repair(unsigned victim, const char *user, const char *pass, const char *key,
                              const char *good)
{
    char out[4096], damaged[256], cmd[128];
    snprintf(damaged, sizeof damaged, "%s", good);
    for (int k = 0; k < 8; k++) damaged[k] = (char)(damaged[k] ^ 0x20);
    unsigned long long repairs = info_num(victim, user, pass, "keel_check_repairs");
    for (unsigned i = 0; i < cl.n; i++)
        if (cl.nodes[i].pid > 0) cli_until(i, user, pass, "CONFIG SET consistency-check-interval 0", "OK", 10000);
    /* Let a round in progress end everywhere before planting. */
    unsigned long long last = 0;
    long long stable = kc_now_ms();
    for (int t = 0; t < 300; t++) {
        unsigned long long at = info_num(0, user, pass, "keel_check_verdict_index");
        if (at != last) last = at, stable = kc_now_ms();
        if (kc_now_ms() - stable > 2500) break;
        kc_pause_ms(100);
    }
    assert_true(plant(victim, good) >= 1);
    ro_get(victim, user, pass, key, out, sizeof out);
    assert_string_equal(out, damaged);
    snprintf(cmd, sizeof cmd, "CONFIG SET consistency-check-interval 1");
    for (unsigned i = 0; i < cl.n; i++)
        if (cl.nodes[i].pid > 0) cli_until(i, user, pass, cmd, "OK", 10000);
    long long end = kc_now_ms() + 60000;
    bool right = false;
    while (!right && kc_now_ms() < end) {
        ro_get(victim, user, pass, key, out, sizeof out);
        right = strcmp(out, good) == 0 && info_num(victim, user, pass, "keel_check_repairs") > repairs;
        if (!right) kc_pause_ms(200);
    }
    if (!right) {
        char show[900];
        snprintf(show, sizeof show, "grep -iE 'repair|forward' '%s' | tail -n 20 >&2", cl.nodes[victim].log);
        if (system(show) != 0) fprintf(stderr, "(no repair lines)\n");
    }
    if (!right) fail_msg("node %u not repaired within 60 s: READONLY GET %s is '%s'", cl.nodes[victim].id, key, out);
    assert_true(log_has(victim, "repair: fetching the leader's image", NULL));
}

/* The index of a node that leads, asked over the client port (up to 30 s). */
static int leader_of(const char *user, const char *pass)
{
    char out[8192];
    for (int t = 0; t < 300; t++) {
        for (unsigned i = 0; i < cl.n; i++) {
            cli(i, user, pass, out, sizeof out, "INFO replication");
            if (strstr(out, "role:master") != NULL) return (int)i;
        }
        kc_pause_ms(100);
    }
    fail_msg("no leader within 30 s");
    return -1;
}

/* The voters KEEL.MEMBER LIST on node i names, polled (up to 60 s) until
 * there are want of them. */
static unsigned voters_within(int i, const char *user, const char *pass, unsigned want)
{
    char out[8192];
    unsigned voters = 0;
    for (int t = 0; t < 600 && voters != want; t++) {
        if (t > 0) kc_pause_ms(100);
        cli((unsigned)i, user, pass, out, sizeof out, "KEEL.MEMBER LIST");
        voters = 0;
        for (const char *p = out; (p = strstr(p, "voter")) != NULL; p++) voters++;
    }
    return voters;
}

/* ---- TLS only ------------------------------------------------------------ */

static void tls_node_flags(unsigned i)
{
    tls_port[i] = kc_free_port();
    http_port[i] = kc_free_port();
    snprintf(cl.nodes[i].extra, sizeof cl.nodes[i].extra,
             "--tls-cluster yes --tls-ca-cert-file %s/ca.crt --tls-cert-file %s/member-%u.crt "
             "--tls-key-file %s/member-%u.key --tls-port %u --tls-auth-clients no --client-addr 127.0.0.1:0 "
             "--http-addr 127.0.0.1:%u --consistency-check-interval 1 --auth-timeout 1",
             dir, dir, cl.nodes[i].id, dir, cl.nodes[i].id, tls_port[i], http_port[i]);
}

static void test_tls_cluster_no_plaintext(void **state)
{
    (void)state;
    char out[8192], cmd[512], token[64], path[700], path2[700], ca[700];
    kc_prepare(&cl, 3, "");
    tls_mode = true;
    snprintf(dir, sizeof dir, "%s/tls", cl.base);
    snprintf(odir, sizeof odir, "%s/other", cl.base);
    kc_certs(dir, "1 2 3 4");
    kc_certs(odir, "1"); /* another CA's certificate naming member 1 */
    for (unsigned i = 0; i < 3; i++) tls_node_flags(i);
    for (unsigned i = 0; i < 3; i++) kc_spawn_node(&cl, i);

    /* 1. Writes to every node over TLS: the followers' go through the
     * leader's member channel (there is no plaintext port to forward to). */
    for (unsigned i = 0; i < 3; i++) {
        snprintf(cmd, sizeof cmd, "SET open:%u v%u", i, i);
        cli_until(i, NULL, NULL, cmd, "OK", 30000);
    }
    int leader = leader_of(NULL, NULL);
    for (unsigned i = 0; i < 3; i++)
        if ((int)i != leader) assert_true(log_has(i, "on its member channel at", NULL));

    /* 2. A password on default, and an ACL user. */
    cli_until(0, NULL, NULL, "ACL SETUSER app on '>app-pw' '~*' '&*' '+@all'", "OK", 10000);
    cli_until(0, NULL, NULL, "CONFIG SET requirepass default-pw", "OK", 10000);
    for (unsigned i = 0; i < 3; i++) cli_until(i, NULL, NULL, "GET open:0", "NOAUTH", 10000);
    for (unsigned i = 0; i < 3; i++) {
        snprintf(cmd, sizeof cmd, "SET app:%u a%u", i, i);
        cli_until(i, "app", "app-pw", cmd, "OK", 10000);
        snprintf(cmd, sizeof cmd, "SET def:%u d%u", i, i);
        cli_until(i, "default", "default-pw", cmd, "OK", 10000);
    }
    /* A member channel is not a client waiting to authenticate: with
     * default behind a password and --auth-timeout 1, the leader keeps the
     * followers' channels (they would dial again, and log it, if closed).
     * Writes through the followers for 3 s, past the timeout twice. */
    int dials[3];
    for (unsigned i = 0; i < 3; i++) dials[i] = log_count(i, "to the leader (member");
    long long until = kc_now_ms() + 3000;
    for (unsigned n = 0; kc_now_ms() < until; n++) {
        unsigned f = (unsigned)(leader + 1 + n % 2) % 3;
        snprintf(cmd, sizeof cmd, "SET idle:%u x", n);
        cli_until(f, "app", "app-pw", cmd, "OK", 10000);
    }
    for (unsigned i = 0; i < 3; i++)
        if (log_count(i, "to the leader (member") != dials[i])
            fail_msg("node %u dialled the leader again: its member channel was closed", i + 1);
    for (unsigned i = 0; i < 3; i++) {
        for (unsigned k = 0; k < 3; k++) {
            char want[16];
            snprintf(cmd, sizeof cmd, "GET app:%u", k);
            snprintf(want, sizeof want, "a%u", k);
            cli(i, "app", "app-pw", out, sizeof out, cmd);
            assert_string_equal(out, want);
        }
    }

    /* A blocking pop through a follower goes on a member-channel
     * connection of its own (api/server/block.c): a timeout, then an item. */
    unsigned fo = (unsigned)(leader + 1) % 3;
    cli(fo, "app", "app-pw", out, sizeof out, "BLPOP mc:b 0.2");
    assert_string_equal(out, "");
    cli(fo, "app", "app-pw", out, sizeof out, "RPUSH mc:b x");
    assert_string_equal(out, "1");
    cli(fo, "app", "app-pw", out, sizeof out, "BLPOP mc:b 0");
    assert_string_equal(out, "mc:b\nx");

    /* 3. KEEL.FWD from a client connection, even with the right token. */
    read_token(0, token, sizeof token);
    for (unsigned i = 0; i < 3; i++) {
        snprintf(cmd, sizeof cmd, "KEEL.FWD %s 2 1 1 0 SET forged:%u x", token, i);
        cli(i, "app", "app-pw", out, sizeof out, cmd);
        if (strstr(out, "only on the member channel") == NULL) fail_msg("node %u: KEEL.FWD answered '%s'", i + 1, out);
        snprintf(cmd, sizeof cmd, "KEEL.FWDSYNC %s", token);
        cli(i, NULL, NULL, out, sizeof out, cmd);
        if (strstr(out, "only on the member channel") == NULL) fail_msg("node %u: KEEL.FWDSYNC answered '%s'", i + 1, out);
    }
    for (unsigned i = 0; i < 3; i++) {
        snprintf(cmd, sizeof cmd, "EXISTS forged:%u", i);
        cli(leader, "app", "app-pw", out, sizeof out, cmd);
        assert_string_equal(out, "0");
    }

    /* 4. The member channel by hand. */
    const char ping[] = KEEL_MEMBER_MAGIC_TEST "*1\r\n$4\r\nPING\r\n";
    long bad = kc_metric(http_port[0], "keel_raft_peer_rejected_total{reason=\"bad_cert\"}");
    long none = kc_metric(http_port[0], "keel_raft_peer_rejected_total{reason=\"no_cert\"}");
    snprintf(path, sizeof path, "%s/member-1.crt", odir);
    snprintf(path2, sizeof path2, "%s/member-1.key", odir);
    snprintf(ca, sizeof ca, "%s/ca.crt", dir);
    member_call(0, path, path2, ca, ping, sizeof ping - 1, out, sizeof out);
    assert_string_equal(out, "");
    assert_true(rejected_reaches(0, "bad_cert", bad + 1));
    member_call(0, NULL, NULL, ca, ping, sizeof ping - 1, out, sizeof out);
    assert_string_equal(out, "");
    assert_true(rejected_reaches(0, "no_cert", none + 1));
    /* A cluster certificate: only member calls, and a join only as itself. */
    snprintf(path, sizeof path, "%s/member-2.crt", dir);
    snprintf(path2, sizeof path2, "%s/member-2.key", dir);
    member_call(0, path, path2, ca, ping, sizeof ping - 1, out, sizeof out);
    if (strncmp(out, "-NOPERM the member channel carries only", 39) != 0) fail_msg("PING answered '%s'", out);
    const char sync[] = KEEL_MEMBER_MAGIC_TEST "*2\r\n$12\r\nKEEL.FWDSYNC\r\n$1\r\n-\r\n";
    member_call(0, path, path2, ca, sync, sizeof sync - 1, out, sizeof out);
    if (out[0] != ':') fail_msg("KEEL.FWDSYNC from member 2 answered '%s'", out);
    /* A cluster certificate of a member not (yet) in the configuration. */
    snprintf(path, sizeof path, "%s/member-4.crt", dir);
    snprintf(path2, sizeof path2, "%s/member-4.key", dir);
    member_call(0, path, path2, ca, sync, sizeof sync - 1, out, sizeof out);
    if (strstr(out, "member 4 is not in the cluster's configuration") == NULL)
        fail_msg("KEEL.FWDSYNC from member 4 answered '%s'", out);
    snprintf(path, sizeof path, "%s/member-2.crt", dir);
    snprintf(path2, sizeof path2, "%s/member-2.key", dir);
    const char join9[] = KEEL_MEMBER_MAGIC_TEST "*3\r\n$9\r\nKEEL.JOIN\r\n$1\r\n9\r\n$15\r\n127.0.0.1:10009\r\n";
    member_call(0, path, path2, ca, join9, sizeof join9 - 1, out, sizeof out);
    if (strncmp(out, "-NOPERM KEEL.JOIN for member 9 from a certificate naming member 2", 64) != 0)
        fail_msg("KEEL.JOIN 9 answered '%s'", out);

    /* 5. A 4th node joins through a member's raft address, with its own
     * member certificate; no plaintext port anywhere. */
    unsigned n4 = kc_prepare_node(&cl, 0);
    snprintf(cl.nodes[n4].join, sizeof cl.nodes[n4].join, "127.0.0.1:%u", cl.nodes[(leader + 1) % 3].raft_port);
    tls_node_flags(n4);
    kc_spawn_node(&cl, n4);
    cli_until(n4, "app", "app-pw", "GET app:2", "a2", 60000);
    assert_int_equal(voters_within(leader, "app", "app-pw", 4), 4);
    assert_true(log_has(n4, "joined the cluster through", "member channel"));

    /* 6. Leadership moves (KEEL.TRANSFER, itself sent to a follower and
     * forwarded): the followers follow it to the new leader's member
     * channel. */
    unsigned next = (unsigned)(leader + 1) % 3;
    char want_id[16];
    snprintf(cmd, sizeof cmd, "KEEL.TRANSFER %u", cl.nodes[next].id);
    snprintf(want_id, sizeof want_id, "%u", cl.nodes[next].id); /* it answers the new leader's id */
    cli_until((unsigned)(leader + 2) % 3, "app", "app-pw", cmd, want_id, 20000);
    leader = leader_of("app", "app-pw");
    assert_int_equal(leader, (int)next);
    for (unsigned i = 0; i < 4; i++) {
        snprintf(cmd, sizeof cmd, "SET moved:%u m%u", i, i);
        cli_until(i, "app", "app-pw", cmd, "OK", 20000);
    }

    /* 7. A damaged follower's replica repaired from the leader's image. */
    const char *good = "precious-tls-value-0123456789abcdefghijklmnopqrstuvwxyz";
    snprintf(cmd, sizeof cmd, "SET victim %s", good);
    cli_until(leader, "app", "app-pw", cmd, "OK", 10000);
    unsigned victim = (unsigned)(leader + 1) % 3;
    for (int t = 0; t < 100; t++) {
        ro_get(victim, "app", "app-pw", "victim", out, sizeof out);
        if (strcmp(out, good) == 0) break;
        kc_pause_ms(100);
    }
    assert_string_equal(out, good);
    damage_and_repair(victim, "app", "app-pw", "victim", good);
}

/* ---- no member TLS: the token, and --join's credentials ------------------- */

static void test_plain_join_and_repair_with_password(void **state)
{
    (void)state;
    char out[8192], path[700];
    kc_prepare(&cl, 3, "--consistency-check-interval 1");
    for (unsigned i = 0; i < 3; i++) kc_start_node(&cl, i);
    int leader = kc_leader(&cl, 15000);
    assert_true(leader >= 0);
    cli_until((unsigned)leader, NULL, NULL, "CONFIG SET requirepass default-pw", "OK", 10000);
    snprintf(cl.auth_pass, sizeof cl.auth_pass, "default-pw");
    for (unsigned i = 0; i < 3; i++) cli_until(i, NULL, NULL, "GET x", "NOAUTH", 10000);

    /* A node without credentials is refused... */
    unsigned bare = kc_prepare_node(&cl, (unsigned)(leader + 1) % 3);
    kc_spawn_node(&cl, bare);
    for (int t = 0; t < 300 && !log_has(bare, "join through", "NOAUTH"); t++) kc_pause_ms(100);
    assert_true(log_has(bare, "join through", "NOAUTH"));
    kc_signal(&cl, bare, SIGTERM);

    /* ... one with --join-user/--join-password-file joins. */
    snprintf(path, sizeof path, "%s/join-pw", cl.base);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("default-pw\n", f);
    fclose(f);
    unsigned n4 = kc_prepare_node(&cl, (unsigned)(leader + 1) % 3);
    snprintf(cl.nodes[n4].extra, sizeof cl.nodes[n4].extra,
             "--join-user default --join-password-file %s --consistency-check-interval 1", path);
    kc_start_node(&cl, n4);
    for (int t = 0; t < 600 && !log_has(n4, "joined the cluster through", NULL); t++) kc_pause_ms(100);
    assert_true(log_has(n4, "joined the cluster through", NULL));
    assert_int_equal(voters_within(leader, "default", "default-pw", 4), 4);
    /* The password never shows in its log. */
    assert_false(log_has(n4, "default-pw", NULL));

    /* A damaged follower's replica repaired. */
    const char *good = "precious-plain-value-0123456789abcdefghijklmnopqrstuvwxyz";
    char cmd[256];
    snprintf(cmd, sizeof cmd, "SET victim %s", good);
    cli_until((unsigned)leader, "default", "default-pw", cmd, "OK", 10000);
    unsigned victim = (unsigned)(leader + 1) % 3;
    for (int t = 0; t < 100; t++) {
        ro_get(victim, "default", "default-pw", "victim", out, sizeof out);
        if (strcmp(out, good) == 0) break;
        kc_pause_ms(100);
    }
    assert_string_equal(out, good);
    damage_and_repair(victim, "default", "default-pw", "victim", good);
}

/* keeld refuses --join's credentials where they mean nothing, and a bad
 * password file, with one line, before it touches a data directory. */
static void test_join_options(void **state)
{
    (void)state;
    char out[2048], base[600], pw[700];
    kc_prepare(&cl, 1, "");
    snprintf(base, sizeof base, "--id 7 --data-dir '%s/d7' --raft-addr 127.0.0.1:%u --client-addr 127.0.0.1:%u",
             cl.base, kc_free_port(), kc_free_port());
    snprintf(pw, sizeof pw, "%s/pw", cl.base);
    FILE *f = fopen(pw, "w");
    assert_non_null(f);
    fputs("line one\nline two\n", f);
    fclose(f);
    /* pw: the password file goes last, with this suffix (NULL: none). */
    static const struct { const char *args, *pw, *want; } cases[] = {
        {"--cluster 7=127.0.0.1:1 --join-user admin --join-password-file", "",
         "--join-user and --join-password-file are for --join without --tls-cluster"},
        {"--join 127.0.0.1:1 --join-user admin", NULL, "--join-user needs --join-password-file"},
        {"--join 127.0.0.1:1 --join-password-file", "", "want one line holding the password"},
        {"--join 127.0.0.1:1 --join-password-file", ".missing", "--join-password-file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[1400];
        if (cases[i].pw != NULL) snprintf(args, sizeof args, "%s '%s%s'", cases[i].args, pw, cases[i].pw);
        else snprintf(args, sizeof args, "%s", cases[i].args);
        int rc = kc_sh(30, out, sizeof out, "'%s' %s %s", kc_keeld(), base, args);
        if (rc != 2 || strstr(out, cases[i].want) == NULL)
            fail_msg("keeld %s: exit %d, '%s' (wanted exit 2 and '%s')", args, rc, out, cases[i].want);
        assert_null(strstr(out, "line one"));
    }
    struct stat st;
    char d7[700];
    snprintf(d7, sizeof d7, "%s/d7", cl.base);
    assert_int_not_equal(stat(d7, &st), 0); /* refused before the data directory was made */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_tls_cluster_no_plaintext, teardown),
        cmocka_unit_test_teardown(test_plain_join_and_repair_with_password, teardown),
        cmocka_unit_test_teardown(test_join_options, teardown),
    };
    return cmocka_run_group_tests_name("keeld_member_channel", tests, NULL, NULL);
}
