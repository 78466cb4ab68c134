/* tests: the command codec (store/codec.h) under allocation failure
 * (alloc_fail.h). For each command kind, encoding is run with allocation
 * N = 1, 2, ... failing until it completes: every failing run must end in
 * KEEL_ENOMEM from keel_enc_finish with nothing handed over, the encoder
 * must release everything at keel_enc_close (LeakSanitizer in the Sanitize
 * build), and the run that completes must decode to the command encoded.
 * Values are long enough that the encoder's buffer grows at least once
 * after the header, so a failure lands on every growth step. Decoding allocates nothing: its
 * loop must complete at N = 1. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "store/acl.h"
#include "store/codec.h"
#include "tests/lib/slice.h"
#include "unit/alloc_fail.h"

/* The encoder's buffer starts at 128 bytes (the header's allocation) and
 * doubles as needed: a 1500-byte value takes it to 2048 in one more
 * allocation; keys and fields are held to 500 (KEEL_KEY_INLINE is 511), and
 * the commands with lists of them grow it more than once. */
static char big[1500];
#define KEY_MAX 500

static struct keel_slice big_sl(void)
{
    return sl(big, sizeof big);
}

static struct keel_slice long_key(void)
{
    return sl(big, KEY_MAX);
}

static void enc_noop(struct keel_enc *e) { keel_enc_noop(e); }
static void enc_set(struct keel_enc *e) { keel_enc_set(e, keel_str("k"), big_sl(), 99, KEEL_SET_NX); }
static void enc_del(struct keel_enc *e)
{
    struct keel_slice keys[4] = {long_key(), long_key(), keel_str("c"), long_key()};
    keel_enc_del(e, keys, 4);
}
static void enc_incrby(struct keel_enc *e) { keel_enc_incrby(e, long_key(), -5); }
static void enc_expire(struct keel_enc *e) { keel_enc_expire(e, long_key(), 1234, KEEL_EXPIRE_GT); }
static void enc_persist(struct keel_enc *e) { keel_enc_persist(e, long_key()); }
static void enc_hset(struct keel_enc *e)
{
    struct keel_slice pairs[4] = {keel_str("f1"), big_sl(), keel_str("f2"), big_sl()};
    keel_enc_hset(e, keel_str("h"), pairs, 2);
}
static void enc_hdel(struct keel_enc *e)
{
    struct keel_slice fields[4] = {long_key(), keel_str("f"), long_key(), long_key()};
    keel_enc_hdel(e, keel_str("h"), fields, 4);
}
static void enc_hincrby(struct keel_enc *e) { keel_enc_hincrby(e, long_key(), long_key(), 7); }
static void enc_cas(struct keel_enc *e)
{
    keel_enc_cas(e, keel_str("k"), KEEL_CAS_VALUE, 0, big_sl(), big_sl(), 0);
}
static void enc_batch(struct keel_enc *e)
{
    keel_enc_batch_begin(e);
    keel_enc_watch(e, keel_str("w"), 3);
    keel_enc_set(e, keel_str("k"), big_sl(), 0, 0);
    keel_enc_incrby(e, keel_str("n"), 1);
    keel_enc_hset(e, keel_str("h"), (struct keel_slice[]){keel_str("f"), big_sl()}, 1);
}
static void enc_sweep(struct keel_enc *e) { keel_enc_sweep(e, 100); }
static void enc_append(struct keel_enc *e) { keel_enc_append(e, keel_str("k"), big_sl()); }
static void enc_getdel(struct keel_enc *e) { keel_enc_getdel(e, long_key()); }
static void enc_getex(struct keel_enc *e) { keel_enc_getex(e, long_key(), 0, KEEL_GETEX_PERSIST); }
static void enc_hash(struct keel_enc *e) { keel_enc_hash(e); }
static void enc_check(struct keel_enc *e) { keel_enc_check(e); }
static void enc_verdict(struct keel_enc *e) { keel_enc_verdict(e, 10, 0xfeed); }
static void enc_acl(struct keel_enc *e) { keel_enc_acl(e, keel_str("alice"), 3, big_sl(), 0); }

static const struct kind
{
    const char *name;
    uint8_t type;
    uint8_t flags;
    void (*encode)(struct keel_enc *e);
} kinds[] = {
    {"NOOP", STORE_CMD_NOOP, 0, enc_noop},
    {"SET", STORE_CMD_SET, KEEL_SET_NX, enc_set},
    {"DEL", STORE_CMD_DEL, 0, enc_del},
    {"INCRBY", STORE_CMD_INCRBY, 0, enc_incrby},
    {"EXPIRE", STORE_CMD_EXPIRE, KEEL_EXPIRE_GT, enc_expire},
    {"PERSIST", STORE_CMD_PERSIST, 0, enc_persist},
    {"HSET", STORE_CMD_HSET, 0, enc_hset},
    {"HDEL", STORE_CMD_HDEL, 0, enc_hdel},
    {"HINCRBY", STORE_CMD_HINCRBY, 0, enc_hincrby},
    {"CAS", STORE_CMD_CAS, KEEL_CAS_VALUE, enc_cas},
    {"BATCH", STORE_CMD_BATCH, 0, enc_batch},
    {"SWEEP", STORE_CMD_SWEEP, 0, enc_sweep},
    {"APPEND", STORE_CMD_APPEND, 0, enc_append},
    {"GETDEL", STORE_CMD_GETDEL, 0, enc_getdel},
    {"GETEX", STORE_CMD_GETEX, KEEL_GETEX_PERSIST, enc_getex},
    {"HASH", STORE_CMD_HASH, 0, enc_hash},
    {"HASH CHECK", STORE_CMD_HASH, KEEL_HASH_CHECK, enc_check},
    {"HASH VERDICT", STORE_CMD_HASH, KEEL_HASH_VERDICT, enc_verdict},
    {"ACL", STORE_CMD_ACL, 0, enc_acl},
};
#define NKINDS (sizeof kinds / sizeof *kinds)

struct run
{
    const struct kind *k;
    struct keel_enc e;
    uint8_t *buf;
    size_t len;
};

static int encode_op(void *arg)
{
    struct run *r = arg;
    r->buf = NULL;
    r->len = 0;
    keel_enc_init(&r->e, 1700000000000, 42, 7);
    r->k->encode(&r->e);
    return keel_enc_finish(&r->e, &r->buf, &r->len);
}

static void encode_check(void *arg, int rc, unsigned long n, bool hit)
{
    struct run *r = arg;
    keel_enc_close(&r->e); /* after finish, whatever it said */
    if (hit) {
        if (rc != KEEL_ENOMEM) fail_msg("%s, allocation %lu failing: rc %d, want KEEL_ENOMEM", r->k->name, n, rc);
        assert_null(r->buf); /* nothing handed over */
        return;
    }
    if (rc != 0) fail_msg("%s: rc %d with no allocation failing", r->k->name, rc);
    struct store_cmd cmd;
    const char *msg = NULL;
    int drc = store_cmd_decode(r->buf, r->len, &cmd, &msg);
    if (drc != 0) fail_msg("%s: decode: rc %d: %s", r->k->name, drc, msg ? msg : "");
    assert_int_equal(cmd.type, r->k->type);
    assert_int_equal(cmd.flags, r->k->flags);
    assert_int_equal(cmd.client, 42);
    assert_int_equal(cmd.seq, 7);
    free(r->buf);
    r->buf = NULL;
}

static void encode_each_kind(void **state)
{
    (void)state;
    for (size_t i = 0; i < NKINDS; i++) {
        struct run r = {.k = &kinds[i]};
        unsigned long clean = alloc_fail_loop(kinds[i].name, false, 64, encode_op, encode_check, &r);
        assert_true(clean >= 2); /* every command allocates its buffer */
    }
}

/* Persistent failure: once the allocator fails it keeps failing, which
 * reaches the paths where a second allocation is tried after a first
 * failed (the error must stay sticky, not be overwritten). */
static void encode_each_kind_persistent(void **state)
{
    (void)state;
    for (size_t i = 0; i < NKINDS; i++) {
        struct run r = {.k = &kinds[i]};
        alloc_fail_loop(kinds[i].name, true, 64, encode_op, encode_check, &r);
    }
}

struct dec
{
    const uint8_t *buf;
    size_t len;
    uint8_t type;
};

static int decode_op(void *arg)
{
    struct dec *d = arg;
    struct store_cmd cmd, sub;
    const char *msg;
    int rc = store_cmd_decode(d->buf, d->len, &cmd, &msg);
    if (rc == 0 && cmd.type == STORE_CMD_BATCH) {
        struct keel_iter it;
        keel_iter_init(&it, cmd.list);
        while (store_iter_cmd(&it, &cmd, &sub)) {
        }
    }
    return rc;
}

static void decode_check(void *arg, int rc, unsigned long n, bool hit)
{
    (void)arg;
    assert_int_equal(rc, 0);
    if (hit) fail_msg("decode allocated (allocation %lu failed): it must not", n);
}

static void decode_allocates_nothing(void **state)
{
    (void)state;
    for (size_t i = 0; i < NKINDS; i++) {
        struct run r = {.k = &kinds[i]};
        assert_int_equal(encode_op(&r), 0);
        keel_enc_close(&r.e);
        struct dec d = {r.buf, r.len, kinds[i].type};
        assert_int_equal(alloc_fail_loop(kinds[i].name, false, 4, decode_op, decode_check, &d), 1);
        free(r.buf);
    }
}

/* ACL SETUSER (store/acl.h) under allocation failure: KEEL_ENOMEM, the
 * user exactly as it was (all or nothing), nothing leaked; the run that
 * completes gives the expected description. */
struct acl_run
{
    struct acl_user u;
    char before[512];
};

static void acl_text(const struct acl_user *u, char *out, size_t size)
{
    struct buf b;
    buf_init(&b);
    acl_describe(u, &b);
    buf_append(&b, "", 1);
    assert_false(b.oom);
    snprintf(out, size, "%s", (char *)b.p);
    buf_close(&b);
}

static int acl_op(void *arg)
{
    struct acl_run *r = arg;
    static const char *const words[] = {"on", ">pw", "~session:*", "%R~ro:*", "&news.*",
                                        "-@all", "+@read", "-keys", "+set", "resetchannels",
                                        "&a", "~more:*", "+@hash"};
    struct keel_slice rules[13];
    for (size_t i = 0; i < 13; i++) rules[i] = keel_str(words[i]);
    char msg[256];
    return acl_setuser(&r->u, rules, 13, msg, sizeof msg);
}

static void acl_check_run(void *arg, int rc, unsigned long n, bool hit)
{
    struct acl_run *r = arg;
    char now[512];
    if (hit) {
        if (rc != KEEL_ENOMEM) fail_msg("SETUSER, allocation %lu failing: rc %d", n, rc);
        acl_text(&r->u, now, sizeof now);
        assert_string_equal(now, r->before);
        return;
    }
    assert_int_equal(rc, 0);
    acl_text(&r->u, now, sizeof now);
    assert_string_equal(now, "on sanitize-payload #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 "
                             "~old ~session:* %R~ro:* ~more:* resetchannels &a -@all +@read -keys +set +@hash");
}

static void acl_setuser_oom(void **state)
{
    (void)state;
    for (int persist = 0; persist < 2; persist++) {
        struct acl_run r;
        assert_int_equal(acl_user_init(&r.u, "alice", 5), 0);
        struct keel_slice pre[2] = {keel_str("~old"), keel_str("+get")};
        char msg[128];
        assert_int_equal(acl_setuser(&r.u, pre, 2, msg, sizeof msg), 0);
        acl_text(&r.u, r.before, sizeof r.before);
        alloc_fail_loop("ACL SETUSER", persist, 256, acl_op, acl_check_run, &r);
        acl_user_close(&r.u);
    }
}

static int setup(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof big; i++) big[i] = (char)('a' + i % 26);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encode_each_kind),
        cmocka_unit_test(encode_each_kind_persistent),
        cmocka_unit_test(decode_allocates_nothing),
        cmocka_unit_test(acl_setuser_oom),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
