/* tests: BATCH in the state machine: commands applied together with their
 * own replies, sub-command errors, and watches of keys that expired. */
#include "store_fixture.h"

/* ---- BATCH ------------------------------------------------------------- */

static void test_batch(void **state)
{
    struct fx *f = *state;
    struct keel_reply_reader rd;
    struct keel_enc e;
    f->ts = 1000;
    EXPECT(do_set(f, "a", "1", 0, 0), WANT_OK);
    uint64_t va = f->index;
    EXPECT(do_set(f, "b", "2", 0, 0), WANT_OK);
    uint64_t vb = f->index;

    /* Current versions: one reply per sub-command, all applied. */
    enc_begin(f, &e);
    keel_enc_batch_begin(&e);
    keel_enc_watch(&e, S("a"), va);
    keel_enc_watch(&e, S("b"), vb);
    keel_enc_watch(&e, S("c"), 0);
    keel_enc_set(&e, S("a"), S("10"), 0, KEEL_SET_GET);
    keel_enc_incrby(&e, S("b"), 5);
    keel_enc_hset(&e, S("h"), (struct keel_slice[]){S("f"), S("v")}, 1);
    keel_enc_del(&e, (struct keel_slice[]){S("c")}, 1);
    keel_enc_expire(&e, S("b"), 9000, 0);
    keel_reply_reader_init(&rd, apply_enc(f, &e));
    RD(&rd, WANT_ARRAY(5));
    RD(&rd, WANT_BULK("1"));
    RD(&rd, WANT_INT(7));
    RD(&rd, WANT_INT(1));
    RD(&rd, WANT_INT(0));
    RD(&rd, WANT_INT(1));
    RD_END(&rd);
    uint64_t vbatch = f->index;
    EXPECT(get(f, "a", 1000), WANT_BULK("10"));
    EXPECT(get(f, "b", 1000), WANT_BULK("7"));
    EXPECT(pttl(f, "b", 1000), WANT_INT(8000));
    EXPECT(hget(f, "h", "f", 1000), WANT_BULK("v"));
    assert_int_equal(version(f, "a", 1000), vbatch);
    assert_int_equal(version(f, "b", 1000), vbatch);
    assert_int_equal(version(f, "h", 1000), vbatch);

    /* A stale watch: nil, and nothing applied. */
    enc_begin(f, &e);
    keel_enc_batch_begin(&e);
    keel_enc_watch(&e, S("b"), vbatch);
    keel_enc_watch(&e, S("a"), va);
    keel_enc_set(&e, S("z"), S("1"), 0, 0);
    keel_enc_set(&e, S("a"), S("x"), 0, 0);
    keel_enc_incrby(&e, S("b"), 1);
    EXPECT(apply_enc(f, &e), WANT_NIL);
    assert_false(stored(f, "z"));
    EXPECT(get(f, "a", 1000), WANT_BULK("10"));
    EXPECT(get(f, "b", 1000), WANT_BULK("7"));
    assert_int_equal(version(f, "a", 1000), vbatch);

    /* Version 0 on a missing key passes, and fails once the key exists. */
    for (int i = 0; i < 2; i++) {
        enc_begin(f, &e);
        keel_enc_batch_begin(&e);
        keel_enc_watch(&e, S("z"), 0);
        keel_enc_incrby(&e, S("z"), 1);
        if (i == 0) {
            keel_reply_reader_init(&rd, apply_enc(f, &e));
            RD(&rd, WANT_ARRAY(1));
            RD(&rd, WANT_INT(1));
            RD_END(&rd);
        } else {
            EXPECT(apply_enc(f, &e), WANT_NIL);
        }
    }
    EXPECT(get(f, "z", 1000), WANT_BULK("1"));

    /* A batch without watches always runs. */
    enc_begin(f, &e);
    keel_enc_batch_begin(&e);
    keel_enc_persist(&e, S("b"));
    keel_enc_cas(&e, S("a"), KEEL_CAS_VALUE, 0, S("10"), S("11"), 0);
    keel_enc_hincrby(&e, S("h"), S("n"), 2);
    keel_enc_hdel(&e, S("h"), (struct keel_slice[]){S("f")}, 1);
    keel_reply_reader_init(&rd, apply_enc(f, &e));
    RD(&rd, WANT_ARRAY(4));
    RD(&rd, WANT_INT(1));
    RD(&rd, WANT_INT(1));
    RD(&rd, WANT_INT(2));
    RD(&rd, WANT_INT(1));
    RD_END(&rd);
    EXPECT(get(f, "a", 1000), WANT_BULK("11"));
    EXPECT(pttl(f, "b", 1000), WANT_INT(-1));

    /* Sub-commands see each other's effects in order. */
    enc_begin(f, &e);
    keel_enc_batch_begin(&e);
    keel_enc_set(&e, S("q"), S("5"), 0, 0);
    keel_enc_incrby(&e, S("q"), 1);
    keel_enc_set(&e, S("q"), S("x"), 0, KEEL_SET_GET);
    keel_enc_del(&e, (struct keel_slice[]){S("q")}, 1);
    keel_enc_set(&e, S("q"), S("y"), 0, KEEL_SET_XX | KEEL_SET_GET);
    keel_reply_reader_init(&rd, apply_enc(f, &e));
    RD(&rd, WANT_ARRAY(5));
    RD(&rd, WANT_OK);
    RD(&rd, WANT_INT(6));
    RD(&rd, WANT_BULK("6"));
    RD(&rd, WANT_INT(1));
    RD(&rd, WANT_NIL);
    RD_END(&rd);
    assert_false(stored(f, "q"));
}

static void test_batch_sub_errors(void **state)
{
    struct fx *f = *state;
    struct keel_reply_reader rd;
    struct keel_enc e;
    f->ts = 1000;
    EXPECT(do_set(f, "s", "abc", 0, 0), WANT_OK);
    uint64_t vs = f->index;
    /* Errors are items of the array; the other sub-commands still apply. */
    enc_begin(f, &e);
    keel_enc_batch_begin(&e);
    keel_enc_watch(&e, S("s"), vs);
    keel_enc_incrby(&e, S("s"), 1);
    keel_enc_set(&e, S("t"), S("1"), 0, 0);
    keel_enc_hset(&e, S("s"), (struct keel_slice[]){S("f"), S("v")}, 1);
    keel_enc_incrby(&e, S("u"), 2);
    keel_enc_incrby(&e, S("t"), INT64_MAX);
    keel_reply_reader_init(&rd, apply_enc(f, &e));
    RD(&rd, WANT_ARRAY(5));
    RD(&rd, WANT_ERR(KEEL_ENOTINT));
    RD(&rd, WANT_OK);
    RD(&rd, WANT_ERR(KEEL_EWRONGTYPE));
    RD(&rd, WANT_INT(2));
    RD(&rd, WANT_ERR(KEEL_EOVERFLOW));
    RD_END(&rd);
    EXPECT(get(f, "s", 1000), WANT_BULK("abc"));
    assert_int_equal(version(f, "s", 1000), vs);
    EXPECT(get(f, "t", 1000), WANT_BULK("1"));
    EXPECT(get(f, "u", 1000), WANT_BULK("2"));
}

static void test_batch_watch_expired(void **state)
{
    struct fx *f = *state;
    struct keel_enc e;
    f->ts = 1000;
    EXPECT(do_set(f, "k", "v", 2000, 0), WANT_OK);
    uint64_t v = f->index;
    /* Once the watched key expires its version is 0: EXEC aborts (Redis 7). */
    f->ts = 2000;
    enc_begin(f, &e);
    keel_enc_batch_begin(&e);
    keel_enc_watch(&e, S("k"), v);
    keel_enc_set(&e, S("x"), S("1"), 0, 0);
    EXPECT(apply_enc(f, &e), WANT_NIL);
    assert_false(stored(f, "x"));
    enc_begin(f, &e);
    keel_enc_batch_begin(&e);
    keel_enc_watch(&e, S("k"), 0);
    keel_enc_set(&e, S("x"), S("1"), 0, 0);
    struct keel_reply_reader rd;
    keel_reply_reader_init(&rd, apply_enc(f, &e));
    RD(&rd, WANT_ARRAY(1));
    RD(&rd, WANT_OK);
    RD_END(&rd);
}

/* A test reader: answers a READ with its arguments joined by spaces and the
 * value of the key named by argv[1] as the batch sees it, as a bulk. */
static void test_reader(void *arg, struct keel_read *rd, const struct keel_slice *argv,
                        uint32_t argc, int proto, struct keel_reply *reply)
{
    char out[256];
    struct keel_record rec;
    int n = snprintf(out, sizeof out, "%s proto %d argc %u", (const char *)arg, proto, argc);
    if (argc > 1 && keel_read_get(rd, argv[1], &rec) == 0)
        n += snprintf(out + n, sizeof out - (size_t)n, " %.*s=%.*s", (int)argv[1].n,
                      (const char *)argv[1].p, (int)rec.len, (const char *)rec.val);
    keel_reply_resp(reply, out, (size_t)n);
}

/* READ sub-commands go to the node's reader at their place in the batch
 * (seeing the writes before them), at the entry's time; without a reader
 * they answer an error; a batch with a READ is remembered by the dedupe
 * table as "reply lost" whatever the reader said. */
static void test_batch_reads(void **state)
{
    struct fx *f = *state;
    struct keel_reply_reader rd;
    struct keel_reply_item it;
    struct keel_enc e;
    f->ts = 1000;
    EXPECT(do_set(f, "k", "1", 0, 0), WANT_OK);
    for (int with = 0; with < 2; with++) {
        keel_store_set_reader(f->st, with ? test_reader : NULL, "r");
        f->client = 7;
        f->seq = 10 + (uint64_t)with;
        enc_begin(f, &e);
        keel_enc_batch_begin(&e);
        keel_enc_read(&e, (struct keel_slice[]){S("GET"), S("k")}, 2, 0);
        keel_enc_set(&e, S("k"), S(with ? "3" : "2"), 0, 0);
        keel_enc_read(&e, (struct keel_slice[]){S("GET"), S("k")}, 2, KEEL_READ_RESP3);
        keel_reply_reader_init(&rd, apply_enc(f, &e));
        RD(&rd, WANT_ARRAY(3));
        if (with) {
            assert_int_equal(keel_reply_next(&rd, &it), 0);
            assert_int_equal(it.kind, KEEL_REPLY_RESP);
            assert_memory_equal(it.p, "r proto 2 argc 2 k=2", it.n); /* the first round left 2 */
            RD(&rd, WANT_OK);
            assert_int_equal(keel_reply_next(&rd, &it), 0);
            assert_int_equal(it.kind, KEEL_REPLY_RESP);
            assert_memory_equal(it.p, "r proto 3 argc 2 k=3", it.n);
        } else {
            RD(&rd, WANT_ERR(KEEL_EINVAL));
            RD(&rd, WANT_OK);
            RD(&rd, WANT_ERR(KEEL_EINVAL));
        }
        RD_END(&rd);
        /* The retry: applied once, the reply not kept. */
        enc_begin(f, &e);
        keel_enc_batch_begin(&e);
        keel_enc_read(&e, (struct keel_slice[]){S("GET"), S("k")}, 2, 0);
        keel_enc_set(&e, S("k"), S("9"), 0, 0);
        EXPECT(apply_enc(f, &e), WANT_ERR(KEEL_EREPLYLOST));
        EXPECT(get(f, "k", 1000), WANT_BULK(with ? "3" : "2"));
    }
    keel_store_set_reader(f->st, NULL, NULL);
}

/* SETFLOAT in a batch: checked against its key's version before anything
 * applies; a stale one makes the whole batch BUSY (nothing changed, not
 * remembered by the dedupe table), a current one applies in order. */
static void test_batch_setfloat(void **state)
{
    struct fx *f = *state;
    struct keel_reply_reader rd;
    struct keel_enc e;
    f->ts = 1000;
    EXPECT(do_set(f, "fl", "1.5", 0, 0), WANT_OK);
    uint64_t v = f->index;
    f->client = 9;
    for (int stale = 1; stale >= 0; stale--) {
        f->seq = 1; /* the same request, built again after BUSY */
        enc_begin(f, &e);
        keel_enc_batch_begin(&e);
        keel_enc_set(&e, S("other"), S("x"), 0, 0);
        keel_enc_setfloat(&e, S("fl"), S(""), stale ? v - 1 : v, S("2.5"), 0);
        keel_enc_setfloat(&e, S("fh"), S("f"), 0, S("0.5"), KEEL_SETFLOAT_HASH);
        if (stale) {
            EXPECT(apply_enc(f, &e), WANT_ERR(KEEL_EBUSY));
            assert_false(stored(f, "other"));
            assert_false(stored(f, "fh"));
            EXPECT(get(f, "fl", 1000), WANT_BULK("1.5"));
            continue;
        }
        keel_reply_reader_init(&rd, apply_enc(f, &e));
        RD(&rd, WANT_ARRAY(3));
        RD(&rd, WANT_OK);
        RD(&rd, WANT_BULK("2.5"));
        RD(&rd, WANT_BULK("0.5"));
        RD_END(&rd);
    }
    EXPECT(get(f, "fl", 1000), WANT_BULK("2.5"));
    EXPECT(hget(f, "fh", "f", 1000), WANT_BULK("0.5"));
}

/* SPOP in a batch (SPOP queued in MULTI): the same rule as SETFLOAT's. */
static void test_batch_spop(void **state)
{
    struct fx *f = *state;
    struct keel_reply_reader rd;
    struct keel_enc e;
    struct keel_slice ab[] = {S("a"), S("b")}, a[] = {S("a")};
    f->ts = 1000;
    enc_begin(f, &e);
    keel_enc_sadd(&e, S("sp"), ab, 2);
    keel_reply_reader_init(&rd, apply_enc(f, &e));
    RD(&rd, WANT_INT(2));
    uint64_t v = f->index;
    f->client = 9;
    for (int stale = 1; stale >= 0; stale--) {
        f->seq = 1; /* the same request, built again after BUSY */
        enc_begin(f, &e);
        keel_enc_batch_begin(&e);
        keel_enc_set(&e, S("other"), S("x"), 0, 0);
        keel_enc_spop(&e, S("sp"), stale ? v - 1 : v, a, 1, KEEL_SPOP_ONE);
        if (stale) {
            EXPECT(apply_enc(f, &e), WANT_ERR(KEEL_EBUSY));
            assert_false(stored(f, "other"));
            continue;
        }
        keel_reply_reader_init(&rd, apply_enc(f, &e));
        RD(&rd, WANT_ARRAY(2));
        RD(&rd, WANT_OK);
        RD(&rd, WANT_BULK("a"));
        RD_END(&rd);
    }
    assert_true(stored(f, "other"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_sub_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_watch_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_setfloat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_spop, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
