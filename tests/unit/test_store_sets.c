/* tests: sets in the state machine: SADD SREM SPOP SMOVE and the *STORE
 * forms as apply runs them, the set reads, and the storage contract under
 * them: a collection's sub-keys go with its record whatever removes it
 * (DEL, SET over it, expiry, FLUSH, RENAME onto it, an emptied set), COPY
 * gives the copy its own, and members too long for an LMDB key work. */
#include <lmdb.h>

#include "storage/env.h"
#include "store_fixture.h"

/* ---- helpers ------------------------------------------------------------ */

static struct keel_slice *slices(const char *const *items, uint32_t n)
{
    struct keel_slice *v = calloc(n ? n : 1, sizeof *v);
    assert_non_null(v);
    for (uint32_t i = 0; i < n; i++) v[i] = keel_str(items[i]);
    return v;
}

static const struct keel_reply *sadd(struct fx *f, const char *key, const char *const *m, uint32_t n)
{
    struct keel_enc e;
    struct keel_slice *v = slices(m, n);
    enc_begin(f, &e);
    keel_enc_sadd(&e, S(key), v, n);
    free(v);
    return apply_enc(f, &e);
}

static const struct keel_reply *srem(struct fx *f, const char *key, const char *const *m, uint32_t n)
{
    struct keel_enc e;
    struct keel_slice *v = slices(m, n);
    enc_begin(f, &e);
    keel_enc_srem(&e, S(key), v, n);
    free(v);
    return apply_enc(f, &e);
}

static const struct keel_reply *spop(struct fx *f, const char *key, uint64_t base, const char *const *m,
                                     uint32_t n, unsigned flags)
{
    struct keel_enc e;
    struct keel_slice *v = slices(m, n);
    enc_begin(f, &e);
    keel_enc_spop(&e, S(key), base, v, n, flags);
    free(v);
    return apply_enc(f, &e);
}

static const struct keel_reply *smove(struct fx *f, const char *src, const char *dst, const char *m)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_smove(&e, S(src), S(dst), S(m));
    return apply_enc(f, &e);
}

static const struct keel_reply *sstore(struct fx *f, unsigned op, const char *dst, const char *const *k,
                                       uint32_t n)
{
    struct keel_enc e;
    struct keel_slice *v = slices(k, n);
    enc_begin(f, &e);
    keel_enc_sstore(&e, op, S(dst), v, n);
    free(v);
    return apply_enc(f, &e);
}

static const struct keel_reply *two_keys(struct fx *f, bool copy, const char *a, const char *b)
{
    struct keel_enc e;
    enc_begin(f, &e);
    if (copy) keel_enc_copy(&e, S(a), S(b), KEEL_COPY_REPLACE);
    else keel_enc_rename(&e, S(a), S(b), 0);
    return apply_enc(f, &e);
}

/* The set at key as sorted "a,b,c" ("-" absent, "!" wrong type). */
struct join
{
    char *out;
    int n;
};

static int join_cb(void *arg, struct keel_slice m, struct keel_slice data)
{
    struct join *j = arg;
    size_t n = strlen(j->out);
    (void)data;
    snprintf(j->out + n, 256 - n, "%s%.*s", j->n++ ? "," : "", (int)m.n, (const char *)m.p);
    return 0;
}

static const char *members(struct fx *f, const char *key, char *out)
{
    struct keel_read rd;
    struct keel_coll coll;
    out[0] = 0;
    assert_int_equal(keel_read_begin(f->st, f->ts, &rd), 0);
    int rc = keel_read_set(&rd, S(key), &coll);
    if (rc == KEEL_ENOTFOUND) strcpy(out, "-");
    else if (rc == KEEL_EWRONGTYPE) strcpy(out, "!");
    else {
        assert_int_equal(rc, 0);
        struct join j = {out, 0};
        assert_int_equal(keel_read_members(&rd, &coll, join_cb, &j), 0);
    }
    keel_read_end(&rd);
    return out;
}

#define MEMBERS(f, key, want)                               \
    do {                                                    \
        char buf_[256];                                     \
        assert_string_equal(members((f), (key), buf_), (want)); \
    } while (0)

/* Sub-keys in the members DB, whoever owns them. */
static uint64_t subkeys(struct fx *f)
{
    struct keel_txn txn;
    MDB_stat st;
    struct keel_storage *s = keel_store_storage(f->st);
    assert_int_equal(storage_txn_begin(s, false, &txn), 0);
    assert_int_equal(mdb_stat(txn.mdb, s->members, &st), 0);
    storage_txn_abort(&txn);
    return st.ms_entries;
}

/* ---- tests -------------------------------------------------------------- */

static void test_sadd_srem(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(sadd(f, "s", LIST("b", "a", "c", "a")), WANT_INT(3));
    uint64_t v1 = f->index;
    MEMBERS(f, "s", "a,b,c");
    EXPECT(sadd(f, "s", LIST("a", "d")), WANT_INT(1));
    /* Adding nothing new changes nothing, the version included. */
    uint64_t v2 = f->index;
    EXPECT(sadd(f, "s", LIST("a")), WANT_INT(0));
    assert_int_equal(version(f, "s", 1000), v2);
    assert_true(v2 > v1);
    EXPECT(srem(f, "s", LIST("a", "zz", "a")), WANT_INT(1));
    EXPECT(srem(f, "nosuch", LIST("a")), WANT_INT(0));
    MEMBERS(f, "s", "b,c,d");
    assert_int_equal(subkeys(f), 3);
    /* The empty member is a member like any other. */
    EXPECT(sadd(f, "s", LIST("")), WANT_INT(1));
    MEMBERS(f, "s", ",b,c,d");
    EXPECT(srem(f, "s", LIST("", "b", "c", "d")), WANT_INT(4));
    /* Emptied: the key is gone, and so is every sub-key. */
    assert_false(stored(f, "s"));
    assert_int_equal(subkeys(f), 0);
    MEMBERS(f, "s", "-");
}

static void test_wrongtype(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_set(f, "str", "v", 0, 0), WANT_OK);
    EXPECT(do_hset(f, "h", LIST("f", "v")), WANT_INT(1));
    EXPECT(sadd(f, "s", LIST("x")), WANT_INT(1));
    EXPECT(sadd(f, "str", LIST("x")), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(srem(f, "h", LIST("x")), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(smove(f, "str", "s", "x"), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(smove(f, "s", "str", "x"), WANT_ERR(KEEL_EWRONGTYPE));
    /* Redis answers a missing source before looking at the destination. */
    EXPECT(smove(f, "nosuch", "str", "x"), WANT_INT(0));
    EXPECT(sstore(f, KEEL_SSTORE_UNION, "d", LIST("s", "str")), WANT_ERR(KEEL_EWRONGTYPE));
    assert_false(stored(f, "d"));
    EXPECT(get(f, "s", 1000), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(hget(f, "s", "f", 1000), WANT_ERR(KEEL_EWRONGTYPE));
    MEMBERS(f, "str", "!");
    /* SET replaces a set (and frees its members). */
    EXPECT(do_set(f, "s", "now a string", 0, 0), WANT_OK);
    EXPECT(get(f, "s", 1000), WANT_BULK("now a string"));
    assert_int_equal(subkeys(f), 0);
}

static void test_spop(void **state)
{
    struct fx *f = *state;
    struct keel_reply_reader rd;
    f->ts = 1000;
    EXPECT(sadd(f, "s", LIST("a", "b", "c")), WANT_INT(3));
    uint64_t v = f->index;
    /* A pick against another version: BUSY, nothing removed. */
    EXPECT(spop(f, "s", v - 1, LIST("a"), KEEL_SPOP_ONE), WANT_ERR(KEEL_EBUSY));
    MEMBERS(f, "s", "a,b,c");
    EXPECT(spop(f, "s", v, LIST("b"), KEEL_SPOP_ONE), WANT_BULK("b"));
    v = f->index;
    keel_reply_reader_init(&rd, spop(f, "s", v, LIST("c", "a"), 0));
    RD(&rd, WANT_ARRAY(2));
    RD(&rd, WANT_BULK("c"));
    RD(&rd, WANT_BULK("a"));
    RD_END(&rd);
    assert_false(stored(f, "s"));
    assert_int_equal(subkeys(f), 0);
    /* Absent at version 0: nil without a count, an empty array with one. */
    EXPECT(spop(f, "s", 0, NULL, 0, KEEL_SPOP_ONE), WANT_NIL);
    EXPECT(spop(f, "s", 0, NULL, 0, 0), WANT_ARRAY(0));
    EXPECT(sadd(f, "t", LIST("x")), WANT_INT(1));
    EXPECT(spop(f, "t", f->index, NULL, 0, 0), WANT_ARRAY(0)); /* count 0 */
    MEMBERS(f, "t", "x");
}

static void test_smove(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(sadd(f, "a", LIST("1", "2")), WANT_INT(2));
    EXPECT(smove(f, "a", "b", "1"), WANT_INT(1));
    MEMBERS(f, "a", "2");
    MEMBERS(f, "b", "1");
    EXPECT(smove(f, "a", "b", "nope"), WANT_INT(0));
    EXPECT(smove(f, "a", "a", "2"), WANT_INT(1)); /* same key: is it there? */
    EXPECT(smove(f, "a", "a", "9"), WANT_INT(0));
    EXPECT(sadd(f, "b", LIST("2")), WANT_INT(1));
    EXPECT(smove(f, "a", "b", "2"), WANT_INT(1)); /* already in b: a empties */
    assert_false(stored(f, "a"));
    MEMBERS(f, "b", "1,2");
    assert_int_equal(subkeys(f), 2);
}

static void test_sstore(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(sadd(f, "x", LIST("a", "b", "c")), WANT_INT(3));
    EXPECT(sadd(f, "y", LIST("c", "d")), WANT_INT(2));
    EXPECT(sstore(f, KEEL_SSTORE_INTER, "d", LIST("x", "y")), WANT_INT(1));
    MEMBERS(f, "d", "c");
    EXPECT(sstore(f, KEEL_SSTORE_UNION, "d", LIST("x", "y", "nosuch")), WANT_INT(4));
    MEMBERS(f, "d", "a,b,c,d");
    EXPECT(sstore(f, KEEL_SSTORE_DIFF, "d", LIST("x", "y", "nosuch")), WANT_INT(2));
    MEMBERS(f, "d", "a,b");
    /* The destination among the sources. */
    EXPECT(sstore(f, KEEL_SSTORE_DIFF, "x", LIST("x", "d")), WANT_INT(1));
    MEMBERS(f, "x", "c");
    /* An empty result deletes the destination, whatever its type. */
    EXPECT(do_set(f, "str", "v", 0, 0), WANT_OK);
    EXPECT(sstore(f, KEEL_SSTORE_INTER, "str", LIST("x", "nosuch")), WANT_INT(0));
    assert_false(stored(f, "str"));
    /* A result replaces a string and drops the destination's TTL. */
    EXPECT(do_set(f, "str", "v", 5000, 0), WANT_OK);
    EXPECT(sstore(f, KEEL_SSTORE_UNION, "str", LIST("y")), WANT_INT(2));
    EXPECT(pttl(f, "str", 1000), WANT_INT(-1));
    MEMBERS(f, "str", "c,d");
    /* x{c}, y{c,d}, d{a,b}, str{c,d}: nothing orphaned along the way. */
    assert_int_equal(subkeys(f), 7);
}

/* Space accounting counts the members DB's pages (quota admission uses it). */
static void test_space(void **state)
{
    struct fx *f = *state;
    struct keel_space before, after;
    char m[64][16];
    const char *ms[64];
    f->ts = 1000;
    assert_int_equal(keel_storage_space(keel_store_storage(f->st), &before), 0);
    for (int round = 0; round < 40; round++) {
        for (int i = 0; i < 64; i++) {
            snprintf(m[i], sizeof m[i], "m%02d-%04d", round, i);
            ms[i] = m[i];
        }
        EXPECT(sadd(f, "big", ms, 64), WANT_INT(64));
    }
    assert_int_equal(keel_storage_space(keel_store_storage(f->st), &after), 0);
    assert_int_equal(after.keys, before.keys + 1);
    /* 2560 sub-keys of ~21 bytes: well over 16 pages whatever the fill. */
    assert_true(after.live_bytes >= before.live_bytes + 16 * 4096);
}

static void test_subkeys_freed(void **state)
{
    struct fx *f = *state;
    const char *keys[] = {"a", "b", "c", "d"};
    f->ts = 1000;
    for (int i = 0; i < 4; i++) EXPECT(sadd(f, keys[i], LIST("1", "2", "3")), WANT_INT(3));
    assert_int_equal(subkeys(f), 12);
    EXPECT(do_del(f, LIST("a")), WANT_INT(1));
    assert_int_equal(subkeys(f), 9);
    /* RENAME onto a set: the destination's members go, the source's stay. */
    EXPECT(srem(f, "b", LIST("1")), WANT_INT(1));
    EXPECT(two_keys(f, false, "b", "c"), WANT_OK);
    assert_int_equal(subkeys(f), 5);
    MEMBERS(f, "c", "2,3");
    MEMBERS(f, "b", "-");
    /* COPY: the copy has its own members. */
    EXPECT(two_keys(f, true, "c", "e"), WANT_INT(1));
    EXPECT(srem(f, "c", LIST("2")), WANT_INT(1));
    MEMBERS(f, "e", "2,3");
    MEMBERS(f, "c", "3");
    assert_int_equal(subkeys(f), 6);
    /* Expiry: a sweep deletes it, members too. */
    EXPECT(do_expire(f, "d", 1500, 0), WANT_INT(1));
    f->ts = 2000;
    do_sweep(f, 10);
    assert_false(stored(f, "d"));
    assert_int_equal(subkeys(f), 3);
    /* FLUSH. */
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_flush(&e);
    EXPECT(apply_enc(f, &e), WANT_OK);
    assert_int_equal(subkeys(f), 0);
    /* Ids are never reused: a new set after all that still works. */
    EXPECT(sadd(f, "a", LIST("z")), WANT_INT(1));
    MEMBERS(f, "a", "z");
}

static void test_long_members(void **state)
{
    struct fx *f = *state;
    struct keel_enc e;
    char *m600 = malloc(601), *m70k = malloc(70001), *m70k2 = malloc(70001);
    assert_true(m600 && m70k && m70k2);
    fill_value(m600, 600, 1);
    fill_value(m70k, 70000, 2);
    fill_value(m70k2, 70000, 3);
    f->ts = 1000;
    /* 502 bytes is the longest member that is its own sub-key; 503 is hashed. */
    char m502[503], m503[504];
    memset(m502, 'k', 502), m502[502] = 0;
    memset(m503, 'k', 503), m503[503] = 0;
    EXPECT(sadd(f, "s", LIST(m600, m70k, m70k2, m502, m503, "short")), WANT_INT(6));
    EXPECT(sadd(f, "s", LIST(m70k, m503)), WANT_INT(0));
    struct keel_read rd;
    struct keel_coll coll;
    struct keel_members all;
    assert_int_equal(keel_read_begin(f->st, f->ts, &rd), 0);
    assert_int_equal(keel_read_set(&rd, S("s"), &coll), 0);
    assert_int_equal(coll.count, 6);
    assert_int_equal(keel_read_ismember(&rd, &coll, S(m70k2)), 0);
    m70k2[69999] ^= 1; /* same length, one bit off: not a member */
    assert_int_equal(keel_read_ismember(&rd, &coll, S(m70k2)), KEEL_ENOTFOUND);
    m70k2[69999] ^= 1;
    keel_members_init(&all);
    assert_int_equal(keel_read_members_all(&rd, &coll, &all), 0);
    assert_int_equal(all.n, 6);
    size_t total = 0;
    for (size_t i = 0; i < all.n; i++) total += keel_members_at(&all, i).n;
    assert_int_equal(total, 600 + 70000 + 70000 + 502 + 503 + 5);
    keel_members_close(&all);
    keel_read_end(&rd);
    EXPECT(srem(f, "s", LIST(m70k, m600, m503)), WANT_INT(3));
    assert_int_equal(keel_read_begin(f->st, f->ts, &rd), 0);
    assert_int_equal(keel_read_set(&rd, S("s"), &coll), 0);
    assert_int_equal(coll.count, 3);
    assert_int_equal(keel_read_ismember(&rd, &coll, S(m70k)), KEEL_ENOTFOUND);
    assert_int_equal(keel_read_ismember(&rd, &coll, S(m70k2)), 0);
    assert_int_equal(keel_read_ismember(&rd, &coll, S(m502)), 0);
    keel_read_end(&rd);
    assert_int_equal(subkeys(f), 3);
    /* Over KEEL_MAX_MEMBER: decode refuses the entry. */
    char *huge = malloc(KEEL_MAX_MEMBER + 2);
    assert_non_null(huge);
    memset(huge, 'h', KEEL_MAX_MEMBER + 1);
    enc_begin(f, &e);
    keel_enc_sadd(&e, S("s"), &(struct keel_slice){(uint8_t *)huge, KEEL_MAX_MEMBER + 1}, 1);
    EXPECT(apply_enc(f, &e), WANT_ERR(KEEL_ETOOBIG));
    free(huge);
    free(m600);
    free(m70k);
    free(m70k2);
}

/* The keyspace events of each set command, as Redis's t_set.c notifies. */
static const char *evs(struct fx *f)
{
    static char buf[512];
    const struct keel_events *ev = keel_store_events(f->st);
    size_t n = 0;
    buf[0] = 0;
    for (uint32_t i = 0; i < ev->n && n < sizeof buf; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s:%.*s/%c", i ? " " : "",
                              keel_event_name(ev->ev[i].type), (int)ev->ev[i].key.n,
                              (const char *)ev->ev[i].key.p, keel_event_class(ev->ev[i].type));
    return buf;
}

static void test_events(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    keel_store_record_events(f->st, true);
    sadd(f, "a", LIST("1", "2"));
    assert_string_equal(evs(f), "new:a/n sadd:a/s"); /* created: "new" first */
    sadd(f, "a", LIST("1"));
    assert_string_equal(evs(f), ""); /* nothing added, nothing said */
    smove(f, "a", "b", "1");
    assert_string_equal(evs(f), "srem:a/s new:b/n sadd:b/s");
    srem(f, "a", LIST("2"));
    assert_string_equal(evs(f), "srem:a/s del:a/g");
    srem(f, "b", LIST("zz"));
    assert_string_equal(evs(f), "");
    spop(f, "b", version(f, "b", 1000), LIST("1"), KEEL_SPOP_ONE);
    assert_string_equal(evs(f), "spop:b/s del:b/g");
    sadd(f, "x", LIST("1"));
    sstore(f, KEEL_SSTORE_INTER, "d", LIST("x"));
    assert_string_equal(evs(f), "new:d/n sinterstore:d/s");
    sstore(f, KEEL_SSTORE_UNION, "d", LIST("x"));
    assert_string_equal(evs(f), "sunionstore:d/s");
    sstore(f, KEEL_SSTORE_DIFF, "d", LIST("x", "x"));
    assert_string_equal(evs(f), "del:d/g");
    sstore(f, KEEL_SSTORE_DIFF, "d", LIST("x", "x"));
    assert_string_equal(evs(f), ""); /* no destination to delete */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sadd_srem, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrongtype, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_smove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sstore, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subkeys_freed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_members, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_space, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
