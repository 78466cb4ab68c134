/* tests: the state machine's dedupe table: a (client, seq) applies once and
 * its reply is kept, expires with its session, big replies, and the table's
 * bound (the oldest go first; a full table still serves). */
#include "store_fixture.h"
#include "tests/lib/testlib.h"

/* ---- dedupe ------------------------------------------------------------ */

static void test_dedupe(void **state)
{
    struct fx *f = *state;
    struct keel_enc e;
    uint8_t *buf;
    size_t len;
    f->ts = 1000;
    f->client = 7;
    f->seq = 1;
    enc_begin(f, &e);
    keel_enc_incrby(&e, S("c"), 5);
    enc_take(&e, &buf, &len);
    EXPECT(apply_raw(f, buf, len), WANT_INT(5));
    struct keel_reply first;
    keel_reply_init(&first);
    keel_reply_raw(&first, f->reply.buf, f->reply.len);
    uint64_t v = f->index;
    /* The same entry again, at the next index: applied once, same reply. */
    apply_raw(f, buf, len);
    free(buf);
    assert_int_equal(f->reply.len, first.len);
    assert_memory_equal(f->reply.buf, first.buf, first.len);
    EXPECT(get(f, "c", 1000), WANT_BULK("5"));
    assert_int_equal(version(f, "c", 1000), v);
    assert_int_equal(stats(f).deduped, 1);
    assert_int_equal(keel_storage_applied(f->storage), f->index);
    /* A different command under the same (client, seq) too (a retry is
     * answered from the table, whatever it says). */
    f->ts = 1500;
    EXPECT(do_set(f, "c", "zzz", 0, 0), WANT_INT(5));
    EXPECT(do_incrby(f, "other", 1), WANT_INT(5));
    assert_false(stored(f, "other"));
    EXPECT(get(f, "c", 1000), WANT_BULK("5"));
    assert_int_equal(stats(f).deduped, 3);
    keel_reply_close(&first);

    /* Another seq, another client: applied. */
    f->seq = 2;
    EXPECT(do_incrby(f, "c", 5), WANT_INT(10));
    f->client = 8;
    f->seq = 1;
    EXPECT(do_incrby(f, "c", 5), WANT_INT(15));
    EXPECT(do_incrby(f, "c", 5), WANT_INT(15));
    assert_int_equal(dedupe_count(f), 3);
    /* Client 0: no dedupe at all. */
    f->client = 0;
    f->seq = 1;
    EXPECT(do_incrby(f, "c", 5), WANT_INT(20));
    EXPECT(do_incrby(f, "c", 5), WANT_INT(25));
    assert_int_equal(dedupe_count(f), 3);
    assert_int_equal(stats(f).deduped, 4);

    /* Error replies are remembered too: the retry does not re-run. */
    f->client = 7;
    f->seq = 3;
    EXPECT(do_set(f, "s", "abc", 0, 0), WANT_OK);
    f->seq = 4;
    EXPECT(do_incrby(f, "s", 1), WANT_ERR(KEEL_ENOTINT));
    f->client = 0;
    EXPECT(do_set(f, "s", "1", 0, 0), WANT_OK);
    f->client = 7;
    EXPECT(do_incrby(f, "s", 1), WANT_ERR(KEEL_ENOTINT));
    EXPECT(get(f, "s", 1000), WANT_BULK("1"));

    /* And array replies (batches, sweeps). */
    f->seq = 5;
    enc_begin(f, &e);
    keel_enc_batch_begin(&e);
    keel_enc_incrby(&e, S("b"), 1);
    keel_enc_incrby(&e, S("b"), 1);
    enc_take(&e, &buf, &len);
    for (int i = 0; i < 2; i++) {
        struct keel_reply_reader rd;
        keel_reply_reader_init(&rd, apply_raw(f, buf, len));
        RD(&rd, WANT_ARRAY(2));
        RD(&rd, WANT_INT(1));
        RD(&rd, WANT_INT(2));
        RD_END(&rd);
    }
    free(buf);
    EXPECT(get(f, "b", 1000), WANT_BULK("2"));
}

static void test_dedupe_expiry(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    f->client = 7;
    f->seq = 1;
    EXPECT(do_incrby(f, "c", 1), WANT_INT(1));
    for (f->seq = 2; f->seq <= 10; f->seq++) EXPECT(do_noop(f), WANT_OK);
    assert_int_equal(dedupe_count(f), 10);
    /* Still remembered exactly KEEL_DEDUPE_TTL_MS later. */
    f->seq = 1;
    f->ts = 1000 + KEEL_DEDUPE_TTL_MS;
    EXPECT(do_incrby(f, "c", 1), WANT_INT(1));
    assert_int_equal(dedupe_count(f), 10);
    /* One ms later the entries are stale: each apply evicts at most
     * KEEL_DEDUPE_EVICT_BUDGET of them, oldest first. */
    f->client = 0;
    f->ts = 1000 + KEEL_DEDUPE_TTL_MS + 1;
    uint64_t n = 10;
    while (n > 0) {
        EXPECT(do_noop(f), WANT_OK);
        uint64_t want = n > KEEL_DEDUPE_EVICT_BUDGET ? n - KEEL_DEDUPE_EVICT_BUDGET : 0;
        assert_int_equal(dedupe_count(f), want);
        n = want;
    }
    /* The same (client, seq) now applies again. */
    f->client = 7;
    f->seq = 1;
    EXPECT(do_incrby(f, "c", 1), WANT_INT(2));
    EXPECT(do_incrby(f, "c", 1), WANT_INT(2));
    assert_int_equal(dedupe_count(f), 1);
    /* Log time, not the entry's: a retry carrying an old timestamp after the
     * clock moved on is not found either. */
    f->seq = 2;
    f->ts = 5000000;
    EXPECT(do_incrby(f, "c", 1), WANT_INT(3));
    f->ts = 5000000 + KEEL_DEDUPE_TTL_MS + 1;
    f->client = 0;
    EXPECT(do_noop(f), WANT_OK);
    f->client = 7;
    f->ts = 5000000;
    EXPECT(do_incrby(f, "c", 1), WANT_INT(4));
}

/* A reply too big to remember: the retry is still not applied again, and
 * hears that the outcome was lost. */
static void test_dedupe_big_reply(void **state)
{
    struct fx *f = *state;
    enum { BIG = KEEL_DEDUPE_MAX_REPLY + 100 };
    char *big = malloc(BIG + 1);
    assert_non_null(big);
    fill_value(big, BIG, 3);
    f->ts = 1000;
    EXPECT(do_set(f, "k", big, 0, 0), WANT_OK);
    f->client = 7;
    f->seq = 1;
    EXPECT(do_set(f, "k", "small", 0, KEEL_SET_GET), WANT_BULKN(big, BIG));
    uint64_t v = f->index;
    EXPECT(do_set(f, "k", "other", 0, KEEL_SET_GET), WANT_ERR(KEEL_EREPLYLOST));
    EXPECT(get(f, "k", 1000), WANT_BULK("small"));
    assert_int_equal(version(f, "k", 1000), v);
    /* A reply just under the limit is kept whole. */
    f->seq = 2;
    f->client = 0;
    big[KEEL_DEDUPE_MAX_REPLY - 5] = 0; /* bulk item: 5 bytes + value */
    EXPECT(do_set(f, "j", big, 0, 0), WANT_OK);
    f->client = 7;
    EXPECT(do_set(f, "j", "x", 0, KEEL_SET_GET), WANT_BULK(big));
    EXPECT(do_set(f, "j", "y", 0, KEEL_SET_GET), WANT_BULK(big));
    EXPECT(get(f, "j", 1000), WANT_BULK("x"));
    free(big);
}

/* The eviction bound at a small scale, on the storage calls apply uses. */
static void test_dedupe_bound(void **state)
{
    struct fx *f = *state;
    struct keel_txn txn;
    struct keel_slice r;
    const struct keel_slice reply = {(const uint8_t *)"reply", 5};
    assert_int_equal(storage_txn_begin(f->storage, true, &txn), 0);
    for (uint64_t i = 0; i < 20; i++)
        assert_int_equal(storage_dedupe_put(&txn, 1, i, 100 + (int64_t)i, reply), 0);
    assert_int_equal(storage_dedupe_put(&txn, 1, 0, 500, reply), KEEL_EEXISTS);
    assert_int_equal(storage_dedupe_count(&txn), 20);
    /* Over max_entries: the oldest go, `budget` at a time. */
    assert_int_equal(storage_dedupe_evict(&txn, INT64_MIN, 8, 4), 0);
    assert_int_equal(storage_dedupe_count(&txn), 16);
    for (uint64_t i = 0; i < 4; i++)
        assert_int_equal(storage_dedupe_get(&txn, 1, i, &r), KEEL_ENOTFOUND);
    assert_int_equal(storage_dedupe_get(&txn, 1, 4, &r), 0);
    assert_int_equal(r.n, 5);
    assert_memory_equal(r.p, "reply", 5);
    assert_int_equal(storage_dedupe_evict(&txn, INT64_MIN, 8, 4), 0);
    assert_int_equal(storage_dedupe_evict(&txn, INT64_MIN, 8, 100), 0);
    assert_int_equal(storage_dedupe_count(&txn), 8);
    assert_int_equal(storage_dedupe_get(&txn, 1, 11, &r), KEEL_ENOTFOUND);
    assert_int_equal(storage_dedupe_get(&txn, 1, 12, &r), 0);
    /* At the bound and young: nothing goes. */
    assert_int_equal(storage_dedupe_evict(&txn, INT64_MIN, 8, 4), 0);
    assert_int_equal(storage_dedupe_count(&txn), 8);
    /* By age: stamped before older_than. */
    assert_int_equal(storage_dedupe_evict(&txn, 115, 8, 100), 0);
    assert_int_equal(storage_dedupe_count(&txn), 5);
    assert_int_equal(storage_dedupe_get(&txn, 1, 14, &r), KEEL_ENOTFOUND);
    assert_int_equal(storage_dedupe_get(&txn, 1, 15, &r), 0);
    storage_txn_abort(&txn);

    /* Through apply: the count never exceeds KEEL_DEDUPE_MAX + 1, and equals
     * the number of distinct young (client, seq) below it. */
    f->ts = 1000;
    for (uint64_t i = 1; i <= 50; i++) {
        f->client = 1 + i % 3;
        f->seq = i;
        EXPECT(do_noop(f), WANT_OK);
        assert_int_equal(dedupe_count(f), i);
    }
}

/* The real bound: fill the table past KEEL_DEDUPE_MAX through apply (about
 * 2 s in a Debug build), all at one timestamp so only the bound evicts. */
static void test_dedupe_bound_full(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    f->client = 1;
    for (uint64_t i = 1; i <= KEEL_DEDUPE_MAX + 100; i++) {
        f->seq = i;
        EXPECT(do_noop(f), WANT_OK);
        if (i % 4096 == 0 || i > KEEL_DEDUPE_MAX - 2) {
            uint64_t want = i <= KEEL_DEDUPE_MAX + 1 ? i : KEEL_DEDUPE_MAX + 1;
            if (dedupe_count(f) != want) fail_msg("after %" PRIu64 " entries", i);
        }
    }
    /* 99 were pushed out, oldest first. A hit evicts without adding one. */
    f->seq = KEEL_DEDUPE_MAX + 100;
    EXPECT(do_incrby(f, "c", 1), WANT_OK);
    assert_int_equal(dedupe_count(f), KEEL_DEDUPE_MAX);
    f->seq = 101;
    EXPECT(do_incrby(f, "c", 1), WANT_OK);
    assert_int_equal(dedupe_count(f), KEEL_DEDUPE_MAX);
    f->seq = 99;
    EXPECT(do_incrby(f, "c", 1), WANT_INT(1));
    assert_int_equal(dedupe_count(f), KEEL_DEDUPE_MAX + 1);
    f->seq = 100;
    EXPECT(do_incrby(f, "c", 1), WANT_INT(2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dedupe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedupe_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedupe_big_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedupe_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedupe_bound_full, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
