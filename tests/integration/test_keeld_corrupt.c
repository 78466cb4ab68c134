/* tests/integration: silent damage to a replica's data.mdb is found by the
 * periodic consistency check and repaired from the leader (issue 12,
 * defect 3). Three keeld with --consistency-check-interval 1. A value's
 * bytes are flipped in place in one node's data.mdb (pwrite: LMDB maps the
 * file MAP_SHARED, so the running node reads the damaged bytes); its
 * READONLY GET returns the damaged value first, which proves the plant
 * took. Then, within bounded polls: CORRUPT is raised on it (and, for a
 * follower, on the leader naming it), with an error line in its log and a
 * consistency event on __keel__:events; READONLY reads are refused rather
 * than wrong; the leader's image is installed over it and READONLY GET is
 * right again; the alarm clears everywhere; keelctl hashkv agrees on all
 * three; no acknowledged write (made all along through libkeel) was lost.
 * The same for the leader's data, which must hand leadership over first.
 *
 * The check is paused (CONFIG SET consistency-check-interval 0) while the
 * damage is planted, so that the first READONLY GET cannot race a round. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <keel/client.h>

#include "kc.h"

static struct kc cl;
static unsigned http_port[KC_MAX];
static struct keel_client *client;
static char out[65536], err[8192];

#define MAX_ACKED 4096
static unsigned acked; /* w:0 .. w:acked-1 were acknowledged */

static int teardown(void **state)
{
    (void)state;
    if (client != NULL) keel_client_close(client);
    client = NULL;
    if (cl.base != NULL) kc_stop(&cl);
    return 0;
}

/* One acknowledged write through libkeel (it follows the leader). */
static void write_one(void)
{
    char key[32], val[32], errmsg[256];
    struct keel_value *v = NULL;
    snprintf(key, sizeof key, "w:%u", acked);
    snprintf(val, sizeof val, "v%u", acked);
    int rc = keel_callv(client, &v, errmsg, sizeof errmsg, "SET", key, val, NULL);
    if (rc == 0 && v->type == KEEL_VALUE_STATUS && acked < MAX_ACKED) acked++;
    keel_value_free(v);
}

/* GET /metrics from node i: the value of one series, or -1 if absent. */
static double metric(unsigned i, const char *series)
{
    static char buf[1 << 20];
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)http_port[i])};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const char req[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    size_t got = 0;
    ssize_t r;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 && send(fd, req, sizeof req - 1, MSG_NOSIGNAL) > 0)
        while (got < sizeof buf - 1 && (r = recv(fd, buf + got, sizeof buf - 1 - got, 0)) > 0) got += (size_t)r;
    close(fd);
    buf[got] = 0;
    char key[200];
    snprintf(key, sizeof key, "\n%s ", series);
    const char *p = strstr(buf, key);
    return p ? strtod(p + strlen(key), NULL) : -1;
}

/* A number from node i's INFO consistency section (0: absent). */
static unsigned long long info_num(unsigned i, const char *name)
{
    return kc_info_u64(&cl, i, "consistency", name);
}

/* Whether node i has CORRUPT raised; its reason into why. */
static bool corrupt_on(unsigned i, char *why, size_t size)
{
    bool on = false;
    why[0] = 0;
    redisReply *r = kc_cmd(&cl, i, "KEEL.ALARM LIST");
    for (size_t k = 0; r && r->type == REDIS_REPLY_ARRAY && k < r->elements; k++) {
        if (strcmp(r->element[k]->element[0]->str, "CORRUPT") != 0) continue;
        on = true;
        snprintf(why, size, "%s", r->element[k]->element[1]->str);
    }
    if (r) freeReplyObject(r);
    return on;
}

/* READONLY GET key on node i: the value, or "-" and the error text. */
static void ro_get(unsigned i, const char *key, char *buf, size_t size)
{
    redisContext *c = kc_connect(&cl, i);
    redisReply *r = redisCommand(c, "READONLY");
    if (r) freeReplyObject(r);
    r = redisCommand(c, "GET %s", key);
    if (r == NULL) snprintf(buf, size, "-(no reply)");
    else if (r->type == REDIS_REPLY_STRING) snprintf(buf, size, "%s", r->str);
    else if (r->type == REDIS_REPLY_ERROR) snprintf(buf, size, "-%s", r->str);
    else snprintf(buf, size, "-(type %d)", r->type);
    if (r) freeReplyObject(r);
    redisFree(c);
}

static void set_interval(unsigned secs)
{
    for (unsigned i = 0; i < cl.n; i++) {
        redisReply *r = kc_cmd(&cl, i, "CONFIG SET consistency-check-interval %u", secs);
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_STATUS);
        freeReplyObject(r);
    }
}

/* With the check paused: wait until the last round is over everywhere (its
 * verdict applied on every node, no new round for a while), so that no
 * round can see the damage about to be planted. */
static void quiesce(void)
{
    unsigned long long last = 0;
    long long stable_since = kc_now_ms();
    for (int t = 0; t < 200; t++) {
        int leader = kc_leader(&cl, 10000);
        assert_true(leader >= 0);
        unsigned long long at = info_num((unsigned)leader, "keel_check_index");
        bool done = true;
        for (unsigned i = 0; i < cl.n; i++) done &= info_num(i, "keel_check_verdict_index") == at;
        if (at != last) stable_since = kc_now_ms(), last = at;
        if (done && kc_now_ms() - stable_since > 1500) return;
        kc_pause_ms(50);
    }
    fail_msg("the consistency check did not go quiet");
}

/* Flip bytes of every copy of marker in node i's data.mdb, in place. */
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
        char flipped[64];
        for (size_t k = 0; k < 8; k++) flipped[k] = (char)(marker[k] ^ 0x20); /* "precious" -> "PRECIOUS" */
        assert_int_equal(pwrite(fd, flipped, 8, at), 8);
        hits++;
    }
    free(buf);
    close(fd);
    return hits;
}

static bool log_has(unsigned i, const char *a, const char *b)
{
    char line[2048];
    bool found = false;
    FILE *f = fopen(cl.nodes[i].log, "r");
    while (f && !found && fgets(line, sizeof line, f)) found = strstr(line, a) && strstr(line, b);
    if (f) fclose(f);
    return found;
}

/* Wait for a published message on sub holding every string given. */
static void wait_event(redisContext *sub, const char *a, const char *b)
{
    long long deadline = kc_now_ms() + 20000;
    while (kc_now_ms() < deadline) {
        void *v;
        if (redisGetReply(sub, &v) != REDIS_OK) fail_msg("subscriber: %s", sub->errstr);
        redisReply *r = v;
        bool hit = r->type == REDIS_REPLY_ARRAY && r->elements == 3 && r->element[2]->type == REDIS_REPLY_STRING &&
                   strstr(r->element[2]->str, a) && strstr(r->element[2]->str, b);
        freeReplyObject(r);
        if (hit) return;
    }
    fail_msg("no event with %s and %s", a, b);
}

/* Every acknowledged write, on every node, by READONLY reads once each node
 * has caught up. */
static void check_acked(void)
{
    char key[32], want[32], got[128];
    for (unsigned i = 0; i < cl.n; i++) {
        for (unsigned w = 0; w < acked; w++) {
            snprintf(key, sizeof key, "w:%u", w);
            snprintf(want, sizeof want, "v%u", w);
            for (int t = 0; t < 200; t++) {
                ro_get(i, key, got, sizeof got);
                if (strcmp(got, want) == 0) break;
                kc_pause_ms(20);
            }
            if (strcmp(got, want) != 0) fail_msg("node %u: acknowledged %s is %s, not %s", i, key, got, want);
        }
    }
}

static void hashkv_agrees(void)
{
    int rc = 1;
    for (int t = 0; t < 50 && rc != 0; t++) {
        rc = kc_keelctl(&cl, out, sizeof out, err, sizeof err, "--timeout 5s hashkv");
        if (rc != 0) kc_pause_ms(200);
    }
    if (rc != 0) fail_msg("keelctl hashkv: %d\n%s%s", rc, out, err);
    assert_null(strstr(out, "DIFFERS"));
}

/* Damage node `victim`'s copy of key (value good, whose first 8 bytes are
 * "precious"), then see it found and repaired. */
static void damage_and_repair(unsigned victim, const char *key, const char *good, bool is_leader)
{
    char got[256], damaged[256], why[256], vid[16];
    snprintf(damaged, sizeof damaged, "%s", good);
    for (int k = 0; k < 8; k++) damaged[k] = (char)(damaged[k] ^ 0x20);
    snprintf(vid, sizeof vid, "n%u", cl.nodes[victim].id);
    unsigned long long repairs = info_num(victim, "keel_check_repairs");

    set_interval(0);
    quiesce();
    redisContext *sub = kc_connect(&cl, victim);
    redisReply *r = redisCommand(sub, "SUBSCRIBE __keel__:events");
    assert_non_null(r);
    freeReplyObject(r);
    assert_true(plant(victim, good) >= 1);
    /* The plant took: the running node serves the damaged bytes. */
    ro_get(victim, key, got, sizeof got);
    assert_string_equal(got, damaged);
    for (unsigned i = 0; i < cl.n; i++) {
        if (i == victim) continue;
        ro_get(i, key, got, sizeof got);
        assert_string_equal(got, good);
    }

    /* A follower's repair is held up (the leader streams another image, so
     * its KEEL.SNAPSHOT BEGIN gets -BUSY): meanwhile it must refuse. */
    char held[32] = "";
    int leader = kc_leader(&cl, 10000);
    if (!is_leader) {
        r = kc_cmd(&cl, (unsigned)leader, "KEEL.SNAPSHOT BEGIN");
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_ARRAY);
        snprintf(held, sizeof held, "%lld", r->element[0]->integer);
        freeReplyObject(r);
    }

    set_interval(1);
    bool raised = false, named = is_leader, moved = !is_leader;
    for (int t = 0; t < 1000 && !(raised && named && moved); t++) {
        write_one();
        if (!raised && corrupt_on(victim, why, sizeof why)) {
            raised = true;
            assert_non_null(strstr(why, "differs from the majority"));
        }
        ro_get(victim, key, got, sizeof got);
        if (raised && strcmp(got, damaged) == 0) fail_msg("%s served the damaged value with CORRUPT raised", vid);
        leader = kc_leader(&cl, 0);
        if (!named && leader >= 0 && leader != (int)victim && corrupt_on((unsigned)leader, why, sizeof why))
            named = strstr(why, vid) != NULL;
        if (!moved && leader >= 0 && leader != (int)victim) moved = true;
        kc_pause_ms(20);
    }
    if (!raised) fail_msg("CORRUPT not raised on %s within the bound", vid);
    if (!named) fail_msg("the leader's CORRUPT never named %s", vid);
    if (!moved) fail_msg("the damaged leader %s did not hand over", vid);
    assert_true(log_has(victim, "differs from the majority", "consistency check at index"));
    wait_event(sub, "\"event\":\"consistency\"", "\"verdict\":\"differs\"");
    redisFree(sub);
    if (held[0]) {
        /* Repair impossible for now (each attempt ends at the leader's
         * -BUSY and is retried after a backoff): refused with a clear error
         * all along, never wrong. */
        for (int t = 0; t < 1250 && info_num(victim, "keel_check_repair_failures") == 0; t++) {
            ro_get(victim, key, got, sizeof got);
            if (strncmp(got, "-CORRUPT ", 9) != 0 || strstr(got, "consistency check") == NULL)
                fail_msg("READONLY GET on the damaged %s: %s", vid, got);
            assert_true(corrupt_on(victim, why, sizeof why));
            kc_pause_ms(20);
        }
        assert_true(info_num(victim, "keel_check_repair_failures") >= 1);
        assert_true(log_has(victim, "repair failed", "stays CORRUPT"));
        /* The leader's view names it: INFO and keelctl status. */
        char members[64], line[128];
        kc_info(&cl, (unsigned)leader, "consistency", "keel_check_corrupt_members", members, sizeof members);
        assert_int_equal(strtoul(members, NULL, 10), cl.nodes[victim].id);
        assert_int_equal(kc_keelctl(&cl, out, sizeof out, err, sizeof err, "--timeout 5s status"), 0);
        snprintf(line, sizeof line, "the leader's last check found member(s) %u differing", cl.nodes[victim].id);
        if (strstr(out, line) == NULL) fail_msg("keelctl status:\n%s", out);
        snprintf(line, sizeof line, "consistency: %s's state differs from the majority's", vid);
        if (strstr(out, line) == NULL) fail_msg("keelctl status:\n%s", out);
        /* ... and /metrics (refreshed every 250 ms). */
        snprintf(line, sizeof line, "keel_consistency_replica_corrupt{peer=\"%u\"}", cl.nodes[victim].id);
        for (int t = 0; t < 100 && metric((unsigned)leader, line) != 1; t++) kc_pause_ms(50);
        assert_true(metric((unsigned)leader, line) == 1);
        /* The attempt fails at once (-BUSY): /metrics may not have been
         * refreshed since. */
        for (int t = 0; t < 100 && metric(victim, "keel_consistency_damaged") != 1; t++) kc_pause_ms(50);
        assert_true(metric(victim, "keel_consistency_damaged") == 1);
        assert_true(metric(victim, "keel_consistency_mismatches_total") >= 1);
        r = kc_cmd(&cl, (unsigned)kc_leader(&cl, 10000), "KEEL.SNAPSHOT END %s", held);
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_STATUS);
        freeReplyObject(r);
    }

    /* Repaired: right again, the alarm gone everywhere. */
    bool right = false, clear = false;
    for (int t = 0; t < 1500 && !(right && clear); t++) {
        write_one();
        ro_get(victim, key, got, sizeof got);
        if (strcmp(got, damaged) == 0) fail_msg("%s served the damaged value after detection", vid);
        right = strcmp(got, good) == 0;
        clear = right;
        for (unsigned i = 0; i < cl.n && clear; i++) clear = !corrupt_on(i, why, sizeof why);
        kc_pause_ms(20);
    }
    if (!right) fail_msg("%s not repaired within the bound: READONLY GET %s", vid, got);
    if (!clear) fail_msg("CORRUPT still raised: %s", why);
    assert_true(info_num(victim, "keel_check_repairs") > repairs);
    assert_true(info_num(victim, "keel_check_mismatches") >= 1);
    char state[32];
    kc_info(&cl, victim, "consistency", "keel_check_state", state, sizeof state);
    assert_string_equal(state, "ok");
    hashkv_agrees();
    check_acked();
}

static void test_damage_repaired(void **state)
{
    (void)state;
    char eps[256], errmsg[256];
    kc_prepare(&cl, 3, "--consistency-check-interval 1");
    for (unsigned i = 0; i < cl.n; i++) {
        http_port[i] = kc_free_port();
        snprintf(cl.nodes[i].extra, sizeof cl.nodes[i].extra, "--http-addr 127.0.0.1:%u", http_port[i]);
    }
    for (unsigned i = 0; i < cl.n; i++) kc_start_node(&cl, i);
    int leader = kc_leader(&cl, 15000);
    assert_true(leader >= 0);
    /* The digest report is the cluster's own: a client cannot send it. */
    redisReply *r = kc_cmd(&cl, (unsigned)leader, "KEEL.DIGEST 2 1 0123456789abcdef");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_non_null(strstr(r->str, "unknown command"));
    freeReplyObject(r);
    kc_endpoints(&cl, eps, sizeof eps);
    struct keel_client_options o = {.endpoints = eps, .timeout_ms = 10000};
    assert_int_equal(keel_client_open(&o, &client, errmsg, sizeof errmsg), 0);
    for (int i = 0; i < 200; i++) write_one();
    assert_int_equal(acked, 200);
    const char *good_f = "precious-follower-value-0123456789abcdefghijklmnopqrstuvwxyz";
    const char *good_l = "precious-leader-value-zyxwvutsrqponmlkjihgfedcba9876543210";
    struct keel_value *v = NULL;
    assert_int_equal(keel_callv(client, &v, errmsg, sizeof errmsg, "SET", "victim:f", good_f, NULL), 0);
    keel_value_free(v);
    assert_int_equal(keel_callv(client, &v, errmsg, sizeof errmsg, "SET", "victim:l", good_l, NULL), 0);
    keel_value_free(v);
    /* Every node holds both before any damage. */
    char got[256];
    for (unsigned i = 0; i < cl.n; i++) {
        for (int t = 0; t < 250; t++) {
            ro_get(i, "victim:l", got, sizeof got);
            if (strcmp(got, good_l) == 0) break;
            kc_pause_ms(20);
        }
        assert_string_equal(got, good_l);
    }
    /* Rounds ran and agreed meanwhile. */
    for (int t = 0; t < 250 && info_num((unsigned)leader, "keel_check_verdict_index") == 0; t++) kc_pause_ms(20);
    assert_true(info_num((unsigned)leader, "keel_check_verdict_index") > 0);

    unsigned follower = (unsigned)(leader + 1) % cl.n;
    damage_and_repair(follower, "victim:f", good_f, false);

    leader = kc_leader(&cl, 15000);
    assert_true(leader >= 0);
    damage_and_repair((unsigned)leader, "victim:l", good_l, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_damage_repaired, teardown),
    };
    return cmocka_run_group_tests_name("keeld_corrupt", tests, NULL, NULL);
}
