/* tests/integration: member TLS on the raft port (keeld --tls-cluster yes,
 * docs/security.md). Certificates come from examples/tls/make-certs.sh in
 * the test's scratch dir. A TLS cluster elects, replicates, survives a
 * follower restart and a leader kill; a node or client holding another
 * CA's certificate, or none, is refused; forged raft traffic over plain TCP
 * (AppendEntries carrying a SET, RequestVote with term 2^64-1, a 1 GiB
 * announced header) changes nothing; a member certificate claiming another
 * member's id in raft's handshake is cut off, and a node that dials a peer
 * answering with another member's certificate sends it nothing. Every wait
 * is a bounded poll; every process is stopped by pid (kc_stop fails the
 * test if a node does not exit 0, which a sanitizer report prevents). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "kc.h"
#include "kc_tls.h"

static struct kc cl;
static unsigned http_port[KC_MAX];

static int teardown(void **state)
{
    (void)state;
    if (cl.base != NULL) kc_stop(&cl);
    return 0;
}

/* Name n TLS nodes (certificates in <base>/tls, HTTP on for the metrics)
 * without starting them; tls false: the same cluster without TLS. */
static void prepare(unsigned n, bool tls)
{
    kc_prepare(&cl, n, "");
    char dir[600];
    snprintf(dir, sizeof dir, "%s/tls", cl.base);
    kc_certs(dir, "1 2 3 4 5");
    if (tls)
        snprintf(cl.extra, sizeof cl.extra, "--tls-cluster yes --tls-ca-cert-file %s/ca.crt", dir);
    for (unsigned i = 0; i < n; i++) {
        http_port[i] = kc_free_port();
        if (tls)
            snprintf(cl.nodes[i].extra, sizeof cl.nodes[i].extra,
                     "--http-addr 127.0.0.1:%u --tls-cert-file %s/member-%u.crt --tls-key-file %s/member-%u.key",
                     http_port[i], dir, i + 1, dir, i + 1);
        else snprintf(cl.nodes[i].extra, sizeof cl.nodes[i].extra, "--http-addr 127.0.0.1:%u", http_port[i]);
    }
}

static int start(unsigned n, bool tls)
{
    prepare(n, tls);
    for (unsigned i = 0; i < n; i++) kc_start_node(&cl, i);
    int leader = kc_leader(&cl, 15000);
    if (leader < 0) fail_msg("no leader within 15 s of starting %u nodes (tls %d)", n, tls);
    return leader;
}

/* keel_raft_peer_rejected_total{reason="<reason>"} on node i, -1 if unreadable. */
static long rejected(unsigned i, const char *reason)
{
    char sample[128];
    snprintf(sample, sizeof sample, "keel_raft_peer_rejected_total{reason=\"%s\"}", reason);
    return kc_metric(http_port[i], sample);
}

/* Wait up to 10 s for node i's count of reason to reach at least v. */
static bool rejected_reaches(unsigned i, const char *reason, long v)
{
    for (int t = 0; t < 200; t++) {
        if (rejected(i, reason) >= v) return true;
        kc_pause_ms(50);
    }
    return false;
}

static bool log_has(unsigned i, const char *text)
{
    char buf[8192];
    FILE *f = fopen(cl.nodes[i].log, "r");
    if (f == NULL) return false;
    bool found = false;
    while (!found && fgets(buf, sizeof buf, f)) found = strstr(buf, text) != NULL;
    fclose(f);
    return found;
}

struct view
{
    uint64_t term, leader;
};

static struct view view_of(unsigned i)
{
    struct view v = {kc_info_u64(&cl, i, "raft", "term"), kc_info_u64(&cl, i, "raft", "leader_id")};
    return v;
}

/* ---- raft's wire format (raft 0.15, src/uv_encoding.c) ------------------- */

static size_t put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
    return 8;
}

/* raft_uv_tcp's handshake: protocol 1, the claimed id, the address. */
static size_t forge_handshake(uint8_t *b, uint64_t id)
{
    const char *addr = "127.0.0.1:9";
    size_t alen = (strlen(addr) + 1 + 7) / 8 * 8, n = 0;
    n += put64(b + n, 1);
    n += put64(b + n, id);
    n += put64(b + n, alen);
    memset(b + n, 0, alen);
    memcpy(b + n, addr, strlen(addr));
    return n + alen;
}

/* RequestVote (type 3): term, candidate, last index, last term, flags (disrupt). */
static size_t forge_request_vote(uint8_t *b, uint64_t id, uint64_t term)
{
    size_t n = 0;
    n += put64(b + n, 3);
    n += put64(b + n, 40);
    n += put64(b + n, term);
    n += put64(b + n, id);
    n += put64(b + n, 1u << 30);
    n += put64(b + n, term);
    n += put64(b + n, 1); /* disrupt the leader */
    return n;
}

/* AppendEntries (type 1) with one command entry holding a Redis SET as a
 * client would send it; the payload is the entry's bytes. */
static size_t forge_append(uint8_t *b, uint64_t term, uint64_t prev_index, uint64_t prev_term)
{
    static const char cmd[] = "*3\r\n$3\r\nSET\r\n$6\r\nforged\r\n$3\r\nyes\r\n";
    size_t plen = (sizeof cmd - 1 + 7) / 8 * 8, n = 0;
    n += put64(b + n, 1);
    n += put64(b + n, 5 * 8 + 16);
    n += put64(b + n, term);
    n += put64(b + n, prev_index);
    n += put64(b + n, prev_term);
    n += put64(b + n, prev_index + 1); /* leader commit */
    n += put64(b + n, 1);              /* entries */
    n += put64(b + n, term);           /* entry term */
    b[n] = 1;                          /* RAFT_COMMAND */
    memset(b + n + 1, 0, 3);
    b[n + 4] = (uint8_t)plen;
    memset(b + n + 5, 0, 3);
    n += 8;
    memset(b + n, 0, plen);
    memcpy(b + n, cmd, sizeof cmd - 1);
    return n + plen;
}

/* InstallSnapshot (type 5): term, last index and term, configuration
 * index, a one-voter configuration naming the attacker (raft's encoding:
 * version 1, count, then id, address, role; padded to 8), then a snapshot
 * of 64 bytes that would replace the node's data. */
static size_t forge_install_snapshot(uint8_t *b, uint64_t id, uint64_t term, uint64_t index)
{
    uint8_t conf[64];
    size_t cn = 0;
    memset(conf, 0, sizeof conf);
    conf[cn++] = 1;
    cn += put64(conf + cn, 1);
    cn += put64(conf + cn, id);
    memcpy(conf + cn, "127.0.0.1:9", 12);
    cn += 12;
    conf[cn++] = 0; /* RAFT_VOTER */
    cn = (cn + 7) / 8 * 8;
    size_t n = 0;
    n += put64(b + n, 5);
    n += put64(b + n, 6 * 8 + cn);
    n += put64(b + n, term);
    n += put64(b + n, index + 1000);
    n += put64(b + n, term);
    n += put64(b + n, index + 1000);
    n += put64(b + n, cn);
    memcpy(b + n, conf, cn);
    n += cn;
    n += put64(b + n, 64);
    memset(b + n, 0x5a, 64);
    return n + 64;
}

/* Send raw bytes to node i's raft port over plain TCP, then wait (bounded)
 * for the node to close the connection or 1 s to pass. */
static void send_plain(unsigned i, const uint8_t *b, size_t n)
{
    int fd = kc_tcp_connect(cl.nodes[i].raft_port, 5);
    assert_true(fd >= 0);
    (void)!write(fd, b, n);
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char c;
    (void)!read(fd, &c, 1);
    close(fd);
}

/* The attacks of issue 14 on node i, claiming to be member `as`. */
static void attack_plain(unsigned i, uint64_t as, uint64_t term, uint64_t index)
{
    uint8_t b[1024];
    size_t n = forge_handshake(b, as);
    n += forge_append(b + n, term, index, term - 1);
    send_plain(i, b, n);
    n = forge_handshake(b, as);
    n += forge_request_vote(b + n, as, UINT64_MAX);
    send_plain(i, b, n);
    n = forge_handshake(b, as);
    n += put64(b + n, 1);
    n += put64(b + n, 1ull << 30); /* a 1 GiB header announced */
    send_plain(i, b, n);
    n = forge_handshake(b, as);
    n += forge_install_snapshot(b + n, as, term, index);
    send_plain(i, b, n);
}

/* ---- a TLS peer of our own (OpenSSL, blocking) -------------------------- */

static SSL_CTX *ctx_for(const char *cert, const char *key, const char *ca, bool server)
{
    SSL_CTX *x = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    assert_non_null(x);
    if (cert != NULL) {
        assert_int_equal(SSL_CTX_use_certificate_chain_file(x, cert), 1);
        assert_int_equal(SSL_CTX_use_PrivateKey_file(x, key, SSL_FILETYPE_PEM), 1);
    }
    assert_int_equal(SSL_CTX_load_verify_locations(x, ca, NULL), 1);
    SSL_CTX_set_verify(x, SSL_VERIFY_PEER, NULL);
    return x;
}

/* Connect to node i's raft port with TLS (cert may be NULL), then send b.
 * Returns whether the handshake completed as the client saw it, and
 * whether the node then closed the connection within 5 s (*closed). */
static bool tls_attack(unsigned i, const char *cert, const char *key, const char *ca, const uint8_t *b, size_t n,
                       bool *closed)
{
    SSL_CTX *x = ctx_for(cert, key, ca, false);
    int fd = kc_tcp_connect(cl.nodes[i].raft_port, 5);
    assert_true(fd >= 0);
    SSL *s = SSL_new(x);
    SSL_set_fd(s, fd);
    bool ok = SSL_connect(s) == 1;
    *closed = true;
    if (ok) {
        SSL_write(s, b, (int)n);
        char c;
        int r = SSL_read(s, &c, 1); /* raft never answers here: only the close ends it */
        *closed = r <= 0 && SSL_get_error(s, r) != SSL_ERROR_WANT_READ;
    }
    SSL_free(s);
    close(fd);
    SSL_CTX_free(x);
    ERR_clear_error();
    return ok;
}

/* ---- the tests ---------------------------------------------------------- */

static void write_keys(int leader, const char *prefix, int from, int to)
{
    for (int k = from; k < to; k++) {
        redisReply *r = kc_cmd(&cl, (unsigned)leader, "SET %s:%d v%d", prefix, k, k);
        if (!kc_is_status(r, "OK")) fail_msg("SET %s:%d on node %d failed", prefix, k, leader + 1);
        freeReplyObject(r);
    }
}

static void check_keys(unsigned i, const char *prefix, int from, int to)
{
    for (int k = from; k < to; k++) {
        redisReply *r = kc_cmd(&cl, i, "GET %s:%d", prefix, k);
        char want[32];
        snprintf(want, sizeof want, "v%d", k);
        if (r == NULL || r->type != REDIS_REPLY_STRING || strcmp(r->str, want) != 0)
            fail_msg("GET %s:%d on node %u: not the acknowledged value", prefix, k, i + 1);
        freeReplyObject(r);
    }
}

/* Node i has applied at least index (its own state, not the leader's). */
static bool applied(unsigned i, uint64_t index)
{
    for (int t = 0; t < 300; t++) {
        if (kc_info_u64(&cl, i, "raft", "applied_index") >= index) return true;
        kc_pause_ms(50);
    }
    return false;
}

static void test_tls_cluster_works(void **state)
{
    (void)state;
    int leader = start(3, true);
    assert_true(log_has((unsigned)leader, "(member TLS)"));
    write_keys(leader, "a", 0, 50);
    uint64_t idx = kc_info_u64(&cl, (unsigned)leader, "raft", "applied_index");
    for (unsigned i = 0; i < 3; i++) assert_true(applied(i, idx));
    /* A follower restarts: it reconnects through TLS and catches up. */
    unsigned f = ((unsigned)leader + 1) % 3;
    kc_signal(&cl, f, SIGTERM);
    write_keys(leader, "b", 0, 50);
    kc_start_node(&cl, f);
    idx = kc_info_u64(&cl, (unsigned)leader, "raft", "applied_index");
    assert_true(applied(f, idx));
    /* The leader dies: a new one is elected over TLS, and every write
     * acknowledged before is there. */
    kc_signal(&cl, (unsigned)leader, SIGKILL);
    int nl = kc_leader(&cl, 15000);
    if (nl < 0) fail_msg("no new leader within 15 s of killing node %d", leader + 1);
    check_keys((unsigned)nl, "a", 0, 50);
    check_keys((unsigned)nl, "b", 0, 50);
    write_keys(nl, "c", 0, 10);
    for (unsigned i = 0; i < 3; i++) {
        if ((int)i == leader) continue;
        assert_int_equal(rejected(i, "bad_cert") + rejected(i, "id_mismatch") + rejected(i, "no_cert"), 0);
    }
}

static void test_other_ca_refused(void **state)
{
    (void)state;
    prepare(4, true);
    for (unsigned i = 0; i < 3; i++) kc_start_node(&cl, i);
    int leader = kc_leader(&cl, 15000);
    assert_true(leader >= 0);
    write_keys(leader, "k", 0, 5);
    struct view before = view_of((unsigned)leader);
    /* Node 4 holds a certificate for member 4 from another CA (and trusts
     * only that CA): its dials fail and so do its peers' checks of it. */
    char evil[600];
    snprintf(evil, sizeof evil, "%s/evil", cl.base);
    kc_certs(evil, "4");
    snprintf(cl.nodes[3].extra, sizeof cl.nodes[3].extra,
             "--http-addr 127.0.0.1:%u --tls-ca-cert-file %s/ca.crt --tls-cert-file %s/member-4.crt "
             "--tls-key-file %s/member-4.key",
             http_port[3], evil, evil, evil);
    kc_start_node(&cl, 3);
    assert_true(rejected_reaches(3, "bad_cert", 1));
    assert_true(log_has(3, "refused (bad_cert"));
    /* A client presenting the other CA's certificate to a member (which
     * trusts the cluster CA), and one presenting none. */
    char ca[600], cert[600], key[600];
    snprintf(ca, sizeof ca, "%s/tls/ca.crt", cl.base);
    snprintf(cert, sizeof cert, "%s/member-4.crt", evil);
    snprintf(key, sizeof key, "%s/member-4.key", evil);
    uint8_t b[256];
    size_t n = forge_handshake(b, 4);
    n += forge_request_vote(b + n, 4, UINT64_MAX);
    unsigned victim = ((unsigned)leader + 1) % 3;
    long bad = rejected(victim, "bad_cert"), none = rejected(victim, "no_cert");
    bool closed;
    tls_attack(victim, cert, key, ca, b, n, &closed);
    assert_true(closed);
    assert_true(rejected_reaches(victim, "bad_cert", bad + 1));
    tls_attack(victim, NULL, NULL, ca, b, n, &closed);
    assert_true(closed);
    assert_true(rejected_reaches(victim, "no_cert", none + 1));
    /* Nothing moved: same term and leader everywhere, the data intact. */
    for (unsigned i = 0; i < 3; i++) {
        struct view v = view_of(i);
        assert_int_equal(v.term, before.term);
        assert_int_equal(v.leader, before.leader);
    }
    check_keys((unsigned)leader, "k", 0, 5);
    kc_expect(&cl, (unsigned)leader, false, "DBSIZE", "*");
}

/* The forged messages do reach raft on a cluster without TLS (so they are
 * plausible), and change nothing on a TLS cluster. */
static void test_plain_attacks(void **state)
{
    (void)state;
    /* Control: no TLS. A forged RequestVote from a non-member makes a
     * follower's term jump. */
    int leader = start(3, false);
    unsigned f = ((unsigned)leader + 1) % 3;
    uint64_t term = view_of(f).term;
    uint8_t b[256];
    size_t n = forge_handshake(b, 9);
    n += forge_request_vote(b + n, 9, term + 1000);
    send_plain(f, b, n);
    bool jumped = false;
    for (int t = 0; t < 100 && !jumped; t++, kc_pause_ms(50)) jumped = view_of(f).term >= term + 1000;
    assert_true(jumped);
    kc_stop(&cl);

    leader = start(3, true);
    write_keys(leader, "k", 0, 5);
    struct view before = view_of((unsigned)leader);
    uint64_t index = kc_info_u64(&cl, (unsigned)leader, "raft", "last_index");
    long rss[3], handshakes[3];
    for (unsigned i = 0; i < 3; i++) {
        rss[i] = kc_rss_kb(&cl, i);
        handshakes[i] = rejected(i, "handshake");
    }
    for (unsigned i = 0; i < 3; i++) attack_plain(i, before.leader == i + 1 ? 1 + (i + 1) % 3 : before.leader,
                                                   before.term + 1, index);
    for (unsigned i = 0; i < 3; i++) {
        assert_true(rejected_reaches(i, "handshake", handshakes[i] + 4));
        assert_true(log_has(i, "refused (handshake, incoming)"));
    }
    for (unsigned i = 0; i < 3; i++) {
        struct view v = view_of(i);
        assert_int_equal(v.term, before.term);
        assert_int_equal(v.leader, before.leader);
        long grown = kc_rss_kb(&cl, i) - rss[i];
        if (grown > 64 * 1024) fail_msg("node %u grew %ld KiB after the attacks", i + 1, grown);
        kc_expect(&cl, i, false, "GET forged", "(nil)");
    }
    check_keys((unsigned)leader, "k", 0, 5);
    write_keys(leader, "k", 5, 10);
}

/* A member's valid certificate, used to claim another member's id. */
static void test_member_impersonation(void **state)
{
    (void)state;
    int leader = start(3, true);
    write_keys(leader, "k", 0, 5);
    struct view before = view_of((unsigned)leader);
    unsigned f = ((unsigned)leader + 1) % 3, other = ((unsigned)leader + 2) % 3;
    char ca[600], cert[600], key[600];
    snprintf(ca, sizeof ca, "%s/tls/ca.crt", cl.base);
    snprintf(cert, sizeof cert, "%s/tls/member-%u.crt", cl.base, other + 1);
    snprintf(key, sizeof key, "%s/tls/member-%u.key", cl.base, other + 1);
    uint8_t b[256];
    size_t n = forge_handshake(b, before.leader); /* member `other` claims to be the leader */
    n += forge_request_vote(b + n, before.leader, UINT64_MAX);
    long mism = rejected(f, "id_mismatch");
    bool closed;
    assert_true(tls_attack(f, cert, key, ca, b, n, &closed));
    assert_true(closed);
    assert_true(rejected_reaches(f, "id_mismatch", mism + 1));
    assert_true(log_has(f, "refused (id_mismatch, incoming)"));
    /* The same member's certificate with a snapshot that would replace f's data. */
    n = forge_handshake(b, before.leader);
    n += forge_install_snapshot(b + n, before.leader, before.term + 1, 0);
    assert_true(tls_attack(f, cert, key, ca, b, n, &closed));
    assert_true(closed);
    assert_true(rejected_reaches(f, "id_mismatch", mism + 2));
    for (unsigned i = 0; i < 3; i++) {
        struct view v = view_of(i);
        assert_int_equal(v.term, before.term);
        assert_int_equal(v.leader, before.leader);
    }

    /* The dialling side: node `other` is replaced by an impostor holding
     * member f's certificate on its raft address. The leader dials it,
     * sees the wrong id, and closes without sending a byte. */
    kc_signal(&cl, other, SIGTERM);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cl.nodes[other].raft_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(lfd, 4), 0);
    struct timeval tv = {10, 0};
    setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    snprintf(cert, sizeof cert, "%s/tls/member-%u.crt", cl.base, f + 1);
    snprintf(key, sizeof key, "%s/tls/member-%u.key", cl.base, f + 1);
    SSL_CTX *x = ctx_for(cert, key, ca, true);
    long out_mism = rejected((unsigned)leader, "id_mismatch") + rejected(f, "id_mismatch");
    int fd = accept(lfd, NULL, NULL);
    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    SSL *s = SSL_new(x);
    SSL_set_fd(s, fd);
    assert_int_equal(SSL_accept(s), 1); /* the chain is the cluster's: it verifies */
    char got[64];
    int r = SSL_read(s, got, sizeof got);
    assert_true(r <= 0); /* closed: not a byte of raft's handshake */
    SSL_free(s);
    close(fd);
    close(lfd);
    SSL_CTX_free(x);
    ERR_clear_error();
    bool seen = false; /* the dialler is the leader, unless the follower dialled first */
    for (int t = 0; t < 200 && !seen; t++, kc_pause_ms(50))
        seen = rejected((unsigned)leader, "id_mismatch") + rejected(f, "id_mismatch") > out_mism;
    assert_true(seen);
    assert_true(log_has((unsigned)leader, "refused (id_mismatch, outgoing)") ||
                log_has(f, "refused (id_mismatch, outgoing)"));
    kc_start_node(&cl, other);
    check_keys((unsigned)leader, "k", 0, 5);
}

static void test_tls_options(void **state)
{
    char cmd[2048], out[1024], dir[600];
    (void)state;
    kc_prepare(&cl, 1, "");
    snprintf(dir, sizeof dir, "%s/tls", cl.base);
    kc_certs(dir, "1 2");
    struct
    {
        const char *args, *want;
    } cases[] = {
        {"--tls-cluster yes", "needs --tls-cert-file"},
        {"--tls-cluster yes --tls-cert-file D/member-2.crt --tls-key-file D/member-2.key --tls-ca-cert-file D/ca.crt",
         "names member 2, not this node's --id 1"},
        {"--tls-cluster yes --tls-cert-file D/member-1.crt --tls-key-file D/member-2.key --tls-ca-cert-file D/ca.crt",
         "does not match"},
        {"--tls-cluster yes --tls-cert-file D/member-1.crt --tls-key-file D/member-1.key --tls-ca-cert-file D/nope",
         "--tls-ca-cert-file"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char args[1024] = "";
        for (const char *p = cases[k].args; *p; p++) {
            if (*p == 'D' && p[1] == '/') strncat(args, dir, sizeof args - strlen(args) - 1);
            else strncat(args, p, 1);
        }
        snprintf(cmd, sizeof cmd, "'%s' --id 1 --data-dir %s/n --raft-addr 127.0.0.1:%u --cluster 1=127.0.0.1:%u %s 2>&1",
                 kc_keeld(), cl.base, cl.nodes[0].raft_port, cl.nodes[0].raft_port, args);
        FILE *p = popen(cmd, "r");
        size_t n = fread(out, 1, sizeof out - 1, p);
        out[n] = 0;
        int rc = pclose(p);
        if (rc == 0 || strstr(out, cases[k].want) == NULL)
            fail_msg("case %zu: want a refusal saying '%s', got (rc %d):\n%s", k, cases[k].want, rc, out);
    }
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_tls_options, teardown),
        cmocka_unit_test_teardown(test_tls_cluster_works, teardown),
        cmocka_unit_test_teardown(test_plain_attacks, teardown),
        cmocka_unit_test_teardown(test_other_ca_refused, teardown),
        cmocka_unit_test_teardown(test_member_impersonation, teardown),
    };
    return cmocka_run_group_tests_name("keeld_tls", tests, NULL, NULL);
}
