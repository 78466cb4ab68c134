/* tests: the state machine's commands of issue 15 item 2: HSETNX (an HSET
 * flag), RENAME/RENAMENX, COPY, FLUSH, SETRANGE, SETBIT, MSETNX and the float
 * results of INCRBYFLOAT/HINCRBYFLOAT (SETFLOAT), applied as every replica
 * applies them. */
#include "store_fixture.h"

static const struct keel_reply *do_hsetnx(struct fx *f, const char *key, const char *field,
                                          const char *value)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_hsetnx(&e, S(key), S(field), S(value));
    return apply_enc(f, &e);
}

static void test_hsetnx(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_hsetnx(f, "h", "a", "1"), WANT_INT(1));
    assert_int_equal(version(f, "h", 1000), f->index);
    uint64_t v = f->index;
    EXPECT(do_hsetnx(f, "h", "a", "2"), WANT_INT(0));
    EXPECT(hget(f, "h", "a", 1000), WANT_BULK("1"));
    assert_int_equal(version(f, "h", 1000), v); /* nothing written */
    EXPECT(do_hsetnx(f, "h", "b", "2"), WANT_INT(1));
    EXPECT(hget(f, "h", "b", 1000), WANT_BULK("2"));
    EXPECT(do_set(f, "s", "x", 0, 0), WANT_OK);
    EXPECT(do_hsetnx(f, "s", "a", "1"), WANT_ERR(KEEL_EWRONGTYPE));
    /* An expired hash is absent: the field is new. */
    EXPECT(do_hset(f, "e", LIST("a", "old")), WANT_INT(1));
    EXPECT(do_expire(f, "e", 1500, 0), WANT_INT(1));
    f->ts = 1500;
    EXPECT(do_hsetnx(f, "e", "a", "new"), WANT_INT(1));
    EXPECT(hget(f, "e", "a", 1500), WANT_BULK("new"));
    EXPECT(pttl(f, "e", 1500), WANT_INT(-1));
}

static const struct keel_reply *do_rename(struct fx *f, const char *from, const char *to,
                                          unsigned flags)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_rename(&e, S(from), S(to), flags);
    return apply_enc(f, &e);
}

static const struct keel_reply *do_copy(struct fx *f, const char *from, const char *to,
                                        unsigned flags)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_copy(&e, S(from), S(to), flags);
    return apply_enc(f, &e);
}

static void test_rename(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_rename(f, "a", "b", 0), WANT_ERR(KEEL_EINVAL));
    EXPECT(do_rename(f, "a", "b", KEEL_RENAME_NX), WANT_ERR(KEEL_EINVAL));
    EXPECT(do_set(f, "a", "1", 5000, 0), WANT_OK);
    EXPECT(do_rename(f, "a", "b", 0), WANT_OK);
    EXPECT(get(f, "a", 1000), WANT_NIL);
    EXPECT(get(f, "b", 1000), WANT_BULK("1"));
    EXPECT(pttl(f, "b", 1000), WANT_INT(4000)); /* the expiry moves with it */
    assert_int_equal(version(f, "b", 1000), f->index);
    /* Onto itself: OK (NX: 0), nothing written. */
    uint64_t v = f->index;
    EXPECT(do_rename(f, "b", "b", 0), WANT_OK);
    EXPECT(do_rename(f, "b", "b", KEEL_RENAME_NX), WANT_INT(0));
    assert_int_equal(version(f, "b", 1000), v);
    /* Onto an existing key: replaced (whatever its type); NX: refused. */
    EXPECT(do_hset(f, "h", LIST("f", "v")), WANT_INT(1));
    EXPECT(do_rename(f, "b", "h", KEEL_RENAME_NX), WANT_INT(0));
    EXPECT(get(f, "b", 1000), WANT_BULK("1"));
    EXPECT(do_rename(f, "h", "b", 0), WANT_OK);
    EXPECT(hget(f, "b", "f", 1000), WANT_BULK("v"));
    EXPECT(pttl(f, "b", 1000), WANT_INT(-1));
    EXPECT(do_rename(f, "b", "c", KEEL_RENAME_NX), WANT_INT(1));
    EXPECT(hget(f, "c", "f", 1000), WANT_BULK("v"));
    assert_false(stored(f, "b"));
    /* An expired source is absent; an expired destination is free. */
    EXPECT(do_set(f, "old", "x", 1500, 0), WANT_OK);
    EXPECT(do_set(f, "src", "y", 0, 0), WANT_OK);
    f->ts = 1500;
    EXPECT(do_rename(f, "old", "z", 0), WANT_ERR(KEEL_EINVAL));
    EXPECT(do_set(f, "old2", "x", 1600, 0), WANT_OK);
    f->ts = 1600;
    EXPECT(do_rename(f, "src", "old2", KEEL_RENAME_NX), WANT_INT(1));
    EXPECT(get(f, "old2", 1600), WANT_BULK("y"));
    EXPECT(pttl(f, "old2", 1600), WANT_INT(-1));
}

static void test_copy(void **state)
{
    struct fx *f = *state;
    struct keel_reply_reader rd;
    f->ts = 1000;
    EXPECT(do_copy(f, "a", "b", 0), WANT_INT(0));
    EXPECT(do_copy(f, "a", "a", 0), WANT_ERR(KEEL_EINVAL));
    EXPECT(do_hset(f, "a", LIST("f", "1", "g", "2")), WANT_INT(2));
    EXPECT(do_expire(f, "a", 9000, 0), WANT_INT(1));
    EXPECT(do_copy(f, "a", "b", 0), WANT_INT(1));
    keel_reply_reader_init(&rd, hgetall(f, "b", 1000));
    RD(&rd, WANT_ARRAY(4));
    RD(&rd, WANT_BULK("f"));
    RD(&rd, WANT_BULK("1"));
    RD(&rd, WANT_BULK("g"));
    RD(&rd, WANT_BULK("2"));
    RD_END(&rd);
    EXPECT(pttl(f, "b", 1000), WANT_INT(8000));
    EXPECT(hget(f, "a", "f", 1000), WANT_BULK("1")); /* the source stays */
    /* The copy is its own: changing it leaves the source. */
    EXPECT(do_hset(f, "b", LIST("f", "x")), WANT_INT(0));
    EXPECT(hget(f, "a", "f", 1000), WANT_BULK("1"));
    EXPECT(do_set(f, "s", "str", 0, 0), WANT_OK);
    EXPECT(do_copy(f, "s", "b", 0), WANT_INT(0));
    EXPECT(do_copy(f, "s", "b", KEEL_COPY_REPLACE), WANT_INT(1));
    EXPECT(get(f, "b", 1000), WANT_BULK("str"));
    EXPECT(pttl(f, "b", 1000), WANT_INT(-1));
}

static const struct keel_reply *do_flush(struct fx *f)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_flush(&e);
    return apply_enc(f, &e);
}

static void test_flush(void **state)
{
    struct fx *f = *state;
    char key[32];
    f->ts = 1000;
    EXPECT(do_flush(f), WANT_OK);
    /* More keys than one round of the flush, around the system keys. */
    for (int i = 0; i < 2500; i++) {
        snprintf(key, sizeof key, "k%05d", i);
        EXPECT(do_set(f, key, "v", i % 3 ? 0 : 900000, 0), WANT_OK);
    }
    EXPECT(do_set(f, "\xffkeel:node:1", "127.0.0.1:1", 0, 0), WANT_OK);
    EXPECT(do_set(f, "\xffkeel:acl:bob", "on", 0, 0), WANT_OK);
    EXPECT(do_set(f, "\xff\xff" "after", "v", 0, 0), WANT_OK);
    EXPECT(do_set(f, "\xff" "keek", "v", 0, 0), WANT_OK);
    EXPECT(do_hset(f, "h", LIST("f", "v")), WANT_INT(1));
    EXPECT(do_flush(f), WANT_OK);
    for (int i = 0; i < 2500; i++) {
        snprintf(key, sizeof key, "k%05d", i);
        assert_false(stored(f, key));
    }
    assert_false(stored(f, "h"));
    assert_false(stored(f, "\xff\xff" "after"));
    assert_false(stored(f, "\xff" "keek"));
    EXPECT(get(f, "\xffkeel:node:1", 1000), WANT_BULK("127.0.0.1:1"));
    EXPECT(get(f, "\xffkeel:acl:bob", 1000), WANT_BULK("on"));
    /* The expiry index went with the keys: a sweep finds nothing. */
    f->ts = 2000000;
    EXPECT(do_sweep(f, 100), WANT_ARRAY(0));
}

static const struct keel_reply *do_setrange(struct fx *f, const char *key, int64_t off,
                                            const char *value)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_setrange(&e, S(key), off, S(value));
    return apply_enc(f, &e);
}

static void test_setrange(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_setrange(f, "k", 5, ""), WANT_INT(0));
    assert_false(stored(f, "k"));
    EXPECT(do_setrange(f, "k", 2, "ab"), WANT_INT(4));
    EXPECT(get(f, "k", 1000), WANT_BULKN("\0\0ab", 4));
    EXPECT(do_setrange(f, "k", 0, "xyz"), WANT_INT(4));
    EXPECT(get(f, "k", 1000), WANT_BULK("xyzb"));
    EXPECT(do_setrange(f, "k", 1, ""), WANT_INT(4));
    EXPECT(do_setrange(f, "k", 6, "q"), WANT_INT(7));
    EXPECT(get(f, "k", 1000), WANT_BULKN("xyzb\0\0q", 7));
    /* The TTL stays. */
    EXPECT(do_expire(f, "k", 5000, 0), WANT_INT(1));
    EXPECT(do_setrange(f, "k", 0, "X"), WANT_INT(7));
    EXPECT(pttl(f, "k", 1000), WANT_INT(4000));
    /* Keel's value limit instead of Redis's 512 MB. */
    EXPECT(do_setrange(f, "k", KEEL_MAX_VALUE, "a"), WANT_ERR(KEEL_ETOOBIG));
    EXPECT(do_setrange(f, "new", (int64_t)KEEL_MAX_VALUE - 1, "ab"), WANT_ERR(KEEL_ETOOBIG));
    EXPECT(do_setrange(f, "new", INT64_MAX, "a"), WANT_ERR(KEEL_ETOOBIG));
    assert_false(stored(f, "new"));
    EXPECT(do_hset(f, "h", LIST("f", "v")), WANT_INT(1));
    EXPECT(do_setrange(f, "h", 0, "a"), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(do_setrange(f, "h", 0, ""), WANT_ERR(KEEL_EWRONGTYPE));
}

static const struct keel_reply *do_setbit(struct fx *f, const char *key, int64_t off, bool one)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_setbit(&e, S(key), off, one);
    return apply_enc(f, &e);
}

/* SETBIT: bit 0 is the high bit of byte 0; the string grows with zeros;
 * the reply is the bit replaced; the TTL stays; other types refused. */
static void test_setbit(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_setbit(f, "b", 1, true), WANT_INT(0));
    EXPECT(get(f, "b", 1000), WANT_BULKN("\x40", 1));
    EXPECT(do_setbit(f, "b", 1, true), WANT_INT(1));
    EXPECT(do_setbit(f, "b", 17, true), WANT_INT(0));
    EXPECT(get(f, "b", 1000), WANT_BULKN("\x40\0\x40", 3));
    EXPECT(do_setbit(f, "b", 1, false), WANT_INT(1));
    EXPECT(do_setbit(f, "b", 1, false), WANT_INT(0));
    EXPECT(get(f, "b", 1000), WANT_BULKN("\0\0\x40", 3));
    /* Clearing a bit past the end still grows the string, as Redis. */
    EXPECT(do_setbit(f, "b", 39, false), WANT_INT(0));
    EXPECT(get(f, "b", 1000), WANT_BULKN("\0\0\x40\0\0", 5));
    EXPECT(do_expire(f, "b", 5000, 0), WANT_INT(1));
    EXPECT(do_setbit(f, "b", 0, true), WANT_INT(0));
    EXPECT(pttl(f, "b", 1000), WANT_INT(4000));
    EXPECT(get(f, "b", 1000), WANT_BULKN("\x80\0\x40\0\0", 5));
    /* Keel's value limit instead of Redis's 512 MB. */
    EXPECT(do_setbit(f, "big", (int64_t)KEEL_MAX_VALUE * 8, true), WANT_ERR(KEEL_ETOOBIG));
    assert_false(stored(f, "big"));
    EXPECT(do_hset(f, "h", LIST("f", "v")), WANT_INT(1));
    EXPECT(do_setbit(f, "h", 0, true), WANT_ERR(KEEL_EWRONGTYPE));
}

static const struct keel_reply *do_msetnx(struct fx *f, const char *const *items, uint32_t n)
{
    struct keel_slice s[16];
    struct keel_enc e;
    assert_true(n <= 16 && n % 2 == 0);
    for (uint32_t i = 0; i < n; i++) s[i] = S(items[i]);
    enc_begin(f, &e);
    keel_enc_msetnx(&e, s, n / 2);
    return apply_enc(f, &e);
}

static void test_msetnx(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_msetnx(f, LIST("a", "1", "b", "2")), WANT_INT(1));
    EXPECT(get(f, "b", 1000), WANT_BULK("2"));
    EXPECT(do_msetnx(f, LIST("c", "3", "b", "x")), WANT_INT(0));
    assert_false(stored(f, "c"));
    EXPECT(get(f, "b", 1000), WANT_BULK("2"));
    /* The same key twice: the last value wins. */
    EXPECT(do_msetnx(f, LIST("d", "1", "d", "2")), WANT_INT(1));
    EXPECT(get(f, "d", 1000), WANT_BULK("2"));
    /* Any type counts as existing; an expired key does not. */
    EXPECT(do_hset(f, "h", LIST("f", "v")), WANT_INT(1));
    EXPECT(do_msetnx(f, LIST("e", "1", "h", "2")), WANT_INT(0));
    EXPECT(do_set(f, "gone", "v", 1500, 0), WANT_OK);
    f->ts = 1500;
    EXPECT(do_msetnx(f, LIST("gone", "back")), WANT_INT(1));
    EXPECT(get(f, "gone", 1500), WANT_BULK("back"));
}

static const struct keel_reply *do_mset(struct fx *f, const char *const *items, uint32_t n)
{
    struct keel_slice s[16];
    struct keel_enc e;
    assert_true(n <= 16 && n % 2 == 0);
    for (uint32_t i = 0; i < n; i++) s[i] = S(items[i]);
    enc_begin(f, &e);
    keel_enc_mset(&e, s, n / 2);
    return apply_enc(f, &e);
}

/* MSET (MSETNX with ALL): every pair set over whatever is there, any type,
 * TTLs dropped, +OK. */
static void test_mset(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_set(f, "a", "old", 5000, 0), WANT_OK);
    EXPECT(do_hset(f, "h", LIST("f", "v")), WANT_INT(1));
    EXPECT(do_mset(f, LIST("a", "1", "h", "2", "n", "3", "n", "4")), WANT_OK);
    EXPECT(get(f, "a", 1000), WANT_BULK("1"));
    EXPECT(pttl(f, "a", 1000), WANT_INT(-1));
    EXPECT(get(f, "h", 1000), WANT_BULK("2"));
    EXPECT(get(f, "n", 1000), WANT_BULK("4"));
}

static const struct keel_reply *do_setfloat(struct fx *f, const char *key, const char *field,
                                            uint64_t base, const char *value, unsigned flags)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_setfloat(&e, S(key), S(field), base, S(value), flags);
    return apply_enc(f, &e);
}

static void test_setfloat(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_setfloat(f, "n", "", 0, "1.5", 0), WANT_BULK("1.5"));
    uint64_t v = f->index;
    EXPECT(get(f, "n", 1000), WANT_BULK("1.5"));
    /* Computed from an older version: refused, nothing written. */
    EXPECT(do_setfloat(f, "n", "", v - 1, "9", 0), WANT_ERR(KEEL_EBUSY));
    EXPECT(do_setfloat(f, "n", "", 0, "9", 0), WANT_ERR(KEEL_EBUSY));
    EXPECT(get(f, "n", 1000), WANT_BULK("1.5"));
    assert_int_equal(version(f, "n", 1000), v);
    EXPECT(do_expire(f, "n", 5000, 0), WANT_INT(1));
    EXPECT(do_setfloat(f, "n", "", f->index, "3", 0), WANT_BULK("3"));
    EXPECT(pttl(f, "n", 1000), WANT_INT(4000)); /* the TTL stays */
    /* A hash field. */
    EXPECT(do_hset(f, "h", LIST("a", "1")), WANT_INT(1));
    EXPECT(do_setfloat(f, "h", "b", f->index, "2.25", KEEL_SETFLOAT_HASH), WANT_BULK("2.25"));
    EXPECT(hget(f, "h", "b", 1000), WANT_BULK("2.25"));
    EXPECT(hget(f, "h", "a", 1000), WANT_BULK("1"));
    EXPECT(do_setfloat(f, "h", "b", 3, "7", KEEL_SETFLOAT_HASH), WANT_ERR(KEEL_EBUSY));
    EXPECT(do_setfloat(f, "nh", "x", 0, "1", KEEL_SETFLOAT_HASH), WANT_BULK("1"));
    EXPECT(hget(f, "nh", "x", 1000), WANT_BULK("1"));
    /* A refused entry is not remembered by the dedupe table: the leader's
     * rebuilt entry, with the same client and seq, applies. */
    f->client = 9;
    f->seq = 1;
    EXPECT(do_setfloat(f, "n", "", 1, "8", 0), WANT_ERR(KEEL_EBUSY));
    EXPECT(do_setfloat(f, "n", "", version(f, "n", 1000), "8", 0), WANT_BULK("8"));
    EXPECT(do_setfloat(f, "n", "", 1, "9", 0), WANT_BULK("8")); /* a retry: remembered */
}

/* The events of the last apply as "name:key name:key ..." (test_store_events'
 * form). */
static const char *evs(struct fx *f)
{
    static char buf[1024];
    const struct keel_events *ev = keel_store_events(f->st);
    size_t n = 0;
    buf[0] = 0;
    for (uint32_t i = 0; i < ev->n && n < sizeof buf; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s:%.*s", i ? " " : "",
                              keel_event_name(ev->ev[i].type), (int)ev->ev[i].key.n,
                              (const char *)ev->ev[i].key.p);
    return buf;
}

#define EVS(f, want) assert_string_equal(evs(f), want)

/* Redis 7.2's events for these commands: new (its dbAdd: a created key,
 * RENAME's and COPY's destination always) before rename_from + rename_to,
 * copy_to, setrange, incrbyfloat, hincrbyfloat, set per MSETNX key, hset
 * (HSETNX); nothing when nothing changed, nor for FLUSHDB. */
static void test_events(void **state)
{
    struct fx *f = *state;
    keel_store_record_events(f->st, true);
    f->ts = 1000;
    do_set(f, "a", "1", 0, 0);
    do_rename(f, "a", "b", 0);
    EVS(f, "new:b rename_from:a rename_to:b");
    do_set(f, "a", "1", 0, 0);
    do_rename(f, "a", "b", 0); /* over a taken key: "new" all the same */
    EVS(f, "new:b rename_from:a rename_to:b");
    do_rename(f, "b", "b", 0);
    EVS(f, "");
    do_copy(f, "b", "c", 0);
    EVS(f, "new:c copy_to:c");
    do_copy(f, "b", "c", 0);
    EVS(f, "");
    do_copy(f, "b", "c", KEEL_COPY_REPLACE);
    EVS(f, "new:c copy_to:c");
    do_setrange(f, "c", 1, "x");
    EVS(f, "setrange:c");
    do_setrange(f, "c", 1, "");
    EVS(f, "");
    do_setrange(f, "sr", 2, "x");
    EVS(f, "new:sr setrange:sr");
    do_msetnx(f, LIST("m1", "1", "m2", "2"));
    EVS(f, "new:m1 set:m1 new:m2 set:m2");
    do_msetnx(f, LIST("d1", "1", "d1", "2")); /* the second is an overwrite */
    EVS(f, "new:d1 set:d1 set:d1");
    do_msetnx(f, LIST("m3", "1", "m2", "2"));
    EVS(f, "");
    do_hsetnx(f, "h", "f", "v");
    EVS(f, "new:h hset:h");
    do_hsetnx(f, "h", "f", "v");
    EVS(f, "");
    do_setfloat(f, "n", "", 0, "1.5", 0);
    EVS(f, "new:n incrbyfloat:n");
    do_setfloat(f, "n", "", version(f, "n", 1000), "3", 0);
    EVS(f, "incrbyfloat:n");
    do_setfloat(f, "h", "g", version(f, "h", 1000), "2.5", KEEL_SETFLOAT_HASH);
    EVS(f, "hincrbyfloat:h");
    do_setfloat(f, "h", "g", 1, "2.5", KEEL_SETFLOAT_HASH);
    EVS(f, "");
    do_flush(f);
    EVS(f, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hsetnx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rename, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setrange, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setbit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_msetnx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setfloat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
