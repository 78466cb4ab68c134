/* tests: databases in the state machine (storage.h's KEEL_DB_PREFIX): a
 * key of database n is stored under the prefix, n and its name, so the
 * same name in two databases is two keys; MOVE (RENAME NX MOVE), FLUSHDB
 * against FLUSH (FLUSHALL), SWAPDB, the sweep expiring every database's
 * keys, and the codec's checks of the new forms. */
#include "store_fixture.h"

#include "store/codec.h"
#include "store/events.h"

#define D1 "\xffkeel:\xfe\x01"
#define D2 "\xffkeel:\xfe\x02"
#define D3 "\xffkeel:\xfe\x03"
#define SYS "\xffkeel:node:1"

static const struct keel_reply *do_raw(struct fx *f, void (*enc)(struct keel_enc *, int64_t, int64_t),
                                       int64_t a, int64_t b)
{
    struct keel_enc e;
    enc_begin(f, &e);
    enc(&e, a, b);
    return apply_enc(f, &e);
}

static void enc_flushdb(struct keel_enc *e, int64_t db, int64_t unused)
{
    (void)unused;
    keel_enc_flushdb(e, db);
}

static void enc_flushall(struct keel_enc *e, int64_t unused1, int64_t unused2)
{
    (void)unused1;
    (void)unused2;
    keel_enc_flush(e);
}

static const struct keel_reply *do_move(struct fx *f, const char *from, const char *to)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_rename(&e, S(from), S(to), KEEL_RENAME_NX | KEEL_RENAME_MOVE);
    return apply_enc(f, &e);
}

static void test_same_name_two_databases(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_set(f, "k", "zero", 0, 0), WANT_OK);
    EXPECT(do_set(f, D1 "k", "one", 0, 0), WANT_OK);
    EXPECT(get(f, "k", 1000), WANT_BULK("zero"));
    EXPECT(get(f, D1 "k", 1000), WANT_BULK("one"));
    EXPECT(get(f, D2 "k", 1000), WANT_NIL);
    EXPECT(do_del(f, LIST(D1 "k")), WANT_INT(1));
    EXPECT(get(f, "k", 1000), WANT_BULK("zero"));
    EXPECT(get(f, D1 "k", 1000), WANT_NIL);
}

static void test_move(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    keel_store_record_events(f->st, true);
    EXPECT(do_set(f, D1 "m", "v", 5000, 0), WANT_OK);
    EXPECT(do_move(f, D1 "m", D2 "m"), WANT_INT(1));
    const struct keel_events *ev = keel_store_events(f->st);
    assert_int_equal(ev->n, 3);
    assert_int_equal(ev->ev[0].type, KEEL_EV_NEW);
    assert_int_equal(ev->ev[1].type, KEEL_EV_MOVE_FROM);
    assert_int_equal(ev->ev[2].type, KEEL_EV_MOVE_TO);
    EXPECT(get(f, D1 "m", 1000), WANT_NIL);
    EXPECT(get(f, D2 "m", 1000), WANT_BULK("v"));
    EXPECT(pttl(f, D2 "m", 1000), WANT_INT(4000)); /* the TTL moves with it */
    /* absent: 0, not RENAME's error; the destination taken: 0 */
    EXPECT(do_move(f, D1 "m", D2 "m"), WANT_INT(0));
    EXPECT(do_set(f, "m", "zero", 0, 0), WANT_OK);
    EXPECT(do_move(f, D2 "m", "m"), WANT_INT(0));
    EXPECT(get(f, "m", 1000), WANT_BULK("zero"));
    EXPECT(get(f, D2 "m", 1000), WANT_BULK("v"));
    /* to and from database 0 */
    EXPECT(do_del(f, LIST("m")), WANT_INT(1));
    EXPECT(do_move(f, D2 "m", "m"), WANT_INT(1));
    EXPECT(get(f, "m", 1000), WANT_BULK("v"));
    EXPECT(do_move(f, "m", D3 "m"), WANT_INT(1));
    EXPECT(get(f, D3 "m", 1000), WANT_BULK("v"));
}

static void test_flushdb_flushall(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_set(f, SYS, "127.0.0.1:1", 0, 0), WANT_OK);
    const char *keys[] = {"a", "b", D1 "a", D1 "b", D2 "a"};
    for (size_t i = 0; i < 5; i++) EXPECT(do_set(f, keys[i], "v", 0, 0), WANT_OK);
    EXPECT(do_hset(f, D1 "h", LIST("f", "v")), WANT_INT(1));
    EXPECT(do_raw(f, enc_flushdb, 1, 0), WANT_OK);
    EXPECT(get(f, D1 "a", 1000), WANT_NIL);
    EXPECT(hget(f, D1 "h", "f", 1000), WANT_NIL);
    EXPECT(get(f, "a", 1000), WANT_BULK("v"));
    EXPECT(get(f, D2 "a", 1000), WANT_BULK("v"));
    EXPECT(do_raw(f, enc_flushdb, 0, 0), WANT_OK); /* database 0: its keys only */
    EXPECT(get(f, "a", 1000), WANT_NIL);
    EXPECT(get(f, "b", 1000), WANT_NIL);
    EXPECT(get(f, D2 "a", 1000), WANT_BULK("v"));
    EXPECT(get(f, SYS, 1000), WANT_BULK("127.0.0.1:1"));
    EXPECT(do_set(f, "a", "v", 0, 0), WANT_OK);
    EXPECT(do_raw(f, enc_flushall, 0, 0), WANT_OK); /* every database */
    EXPECT(get(f, "a", 1000), WANT_NIL);
    EXPECT(get(f, D2 "a", 1000), WANT_NIL);
    EXPECT(get(f, SYS, 1000), WANT_BULK("127.0.0.1:1"));
}

static void test_swapdb(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    char long1[700]; /* a long key (storage.h) of database 1 */
    memset(long1, 'x', sizeof long1);
    memcpy(long1, D1, 8);
    long1[sizeof long1 - 1] = 0;
    EXPECT(do_set(f, D1 "a", "1a", 3000, 0), WANT_OK);
    EXPECT(do_set(f, D1 "both", "1", 0, 0), WANT_OK);
    EXPECT(do_hset(f, D1 "h", LIST("f", "1")), WANT_INT(1));
    EXPECT(do_set(f, long1, "long", 0, 0), WANT_OK);
    EXPECT(do_set(f, D2 "both", "2", 0, 0), WANT_OK);
    EXPECT(do_set(f, D2 "b", "2b", 0, 0), WANT_OK);
    EXPECT(do_set(f, "zero", "0", 0, 0), WANT_OK);
    EXPECT(do_raw(f, keel_enc_swapdb, 1, 2), WANT_OK);
    EXPECT(get(f, D2 "a", 1000), WANT_BULK("1a"));
    EXPECT(pttl(f, D2 "a", 1000), WANT_INT(2000));
    EXPECT(get(f, D2 "both", 1000), WANT_BULK("1"));
    EXPECT(get(f, D1 "both", 1000), WANT_BULK("2"));
    EXPECT(hget(f, D2 "h", "f", 1000), WANT_BULK("1"));
    EXPECT(get(f, D1 "b", 1000), WANT_BULK("2b"));
    EXPECT(get(f, D1 "a", 1000), WANT_NIL);
    EXPECT(get(f, long1, 1000), WANT_NIL);
    long1[7] = 2;
    EXPECT(get(f, long1, 1000), WANT_BULK("long"));
    EXPECT(get(f, "zero", 1000), WANT_BULK("0"));
    /* with database 0 */
    EXPECT(do_raw(f, keel_enc_swapdb, 0, 2), WANT_OK);
    EXPECT(get(f, "a", 1000), WANT_BULK("1a"));
    EXPECT(get(f, "both", 1000), WANT_BULK("1"));
    EXPECT(get(f, D2 "zero", 1000), WANT_BULK("0"));
    EXPECT(get(f, "zero", 1000), WANT_NIL);
    EXPECT(get(f, long1 + 8, 1000), WANT_BULK("long"));
    EXPECT(do_raw(f, keel_enc_swapdb, 3, 3), WANT_OK); /* itself: nothing */
    EXPECT(get(f, "both", 1000), WANT_BULK("1"));
}

static void test_expiry_every_database(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_set(f, D1 "e", "v", 1500, 0), WANT_OK);
    EXPECT(do_set(f, "e", "v", 0, 0), WANT_OK);
    f->ts = 2000;
    keel_store_record_events(f->st, true);
    struct keel_reply_reader rd;
    keel_reply_reader_init(&rd, do_sweep(f, 100));
    RD(&rd, WANT_ARRAY(1));
    RD(&rd, WANT_BULKN(D1 "e", 9));
    RD_END(&rd);
    const struct keel_events *ev = keel_store_events(f->st);
    assert_int_equal(ev->n, 1);
    assert_int_equal(ev->ev[0].type, KEEL_EV_EXPIRED);
    assert_int_equal(ev->ev[0].key.n, 9);
    assert_memory_equal(ev->ev[0].key.p, D1 "e", 9);
    EXPECT(get(f, "e", 2000), WANT_BULK("v"));
}

/* The codec: FLUSHDB and SWAPDB's databases in range, MOVE's form. */
static void test_codec(void **state)
{
    (void)state;
    struct keel_enc e;
    uint8_t *buf;
    size_t len;
    struct store_cmd cmd;
    int64_t bad[][2] = {{-1, 0}, {256, 0}, {0, 256}};
    keel_enc_init(&e, 1, 0, 0);
    keel_enc_swapdb(&e, 3, 255);
    assert_int_equal(keel_enc_finish(&e, &buf, &len), 0);
    keel_enc_close(&e);
    assert_int_equal(store_cmd_decode(buf, len, &cmd, NULL), 0);
    assert_int_equal(cmd.type, STORE_CMD_SWAPDB);
    assert_int_equal(cmd.num, 3);
    assert_int_equal(cmd.version, 255);
    free(buf);
    for (size_t i = 0; i < 3; i++) {
        keel_enc_init(&e, 1, 0, 0);
        keel_enc_swapdb(&e, bad[i][0], bad[i][1]);
        assert_int_equal(keel_enc_finish(&e, &buf, &len), 0);
        keel_enc_close(&e);
        assert_int_equal(store_cmd_decode(buf, len, &cmd, NULL), KEEL_EMALFORMED);
        free(buf);
        keel_enc_init(&e, 1, 0, 0);
        keel_enc_flushdb(&e, bad[i][0] != 0 ? bad[i][0] : bad[i][1]);
        assert_int_equal(keel_enc_finish(&e, &buf, &len), 0);
        keel_enc_close(&e);
        assert_int_equal(store_cmd_decode(buf, len, &cmd, NULL), KEEL_EMALFORMED);
        free(buf);
    }
    keel_enc_init(&e, 1, 0, 0);
    keel_enc_flushdb(&e, 7);
    assert_int_equal(keel_enc_finish(&e, &buf, &len), 0);
    keel_enc_close(&e);
    assert_int_equal(store_cmd_decode(buf, len, &cmd, NULL), 0);
    assert_int_equal(cmd.type, STORE_CMD_FLUSHDB);
    assert_int_equal(cmd.num, 7);
    free(buf);
    /* MOVE: NX, one name, two databases */
    struct
    {
        const char *from, *to;
        unsigned flags;
        int rc;
    } moves[] = {
        {D1 "k", D2 "k", KEEL_RENAME_NX | KEEL_RENAME_MOVE, 0},
        {"k", D2 "k", KEEL_RENAME_NX | KEEL_RENAME_MOVE, 0},
        {D1 "k", D2 "k", KEEL_RENAME_MOVE, KEEL_EMALFORMED},
        {D1 "k", D2 "j", KEEL_RENAME_NX | KEEL_RENAME_MOVE, KEEL_EMALFORMED},
        {D1 "k", D1 "k", KEEL_RENAME_NX | KEEL_RENAME_MOVE, KEEL_EMALFORMED},
        {SYS, D1 "k", KEEL_RENAME_NX | KEEL_RENAME_MOVE, KEEL_EMALFORMED},
    };
    for (size_t i = 0; i < sizeof moves / sizeof moves[0]; i++) {
        keel_enc_init(&e, 1, 0, 0);
        keel_enc_rename(&e, S(moves[i].from), S(moves[i].to), moves[i].flags);
        assert_int_equal(keel_enc_finish(&e, &buf, &len), 0);
        keel_enc_close(&e);
        assert_int_equal(store_cmd_decode(buf, len, &cmd, NULL), moves[i].rc);
        free(buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_same_name_two_databases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_move, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flushdb_flushall, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swapdb, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_every_database, setup, teardown),
        cmocka_unit_test(test_codec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
