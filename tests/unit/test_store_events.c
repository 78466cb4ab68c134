/* tests: the store's event list (store/events.h), the input of keyspace
 * notifications: which keys each entry changed and how, Redis's event names,
 * batches, sweeps, lazy expiry, errors and skips; the same entries give the
 * same events on two replicas; recording off costs nothing. */
#include "store_fixture.h"

/* The events of the last apply as "name:key name:key ...". */
static const char *evs(struct fx *f)
{
    static char buf[4096];
    const struct keel_events *ev = keel_store_events(f->st);
    size_t n = 0;
    buf[0] = 0;
    for (uint32_t i = 0; i < ev->n && n < sizeof buf; i++) {
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s:%.*s", i ? " " : "",
                              keel_event_name(ev->ev[i].type), (int)ev->ev[i].key.n,
                              (const char *)ev->ev[i].key.p);
    }
    return buf;
}

#define EVS(f, want)                                                                           \
    do {                                                                                       \
        const char *got_ = evs(f);                                                             \
        if (strcmp(got_, want) != 0) fail_msg("events: want \"%s\", got \"%s\"", want, got_); \
        assert_int_equal(keel_store_events((f)->st)->index, (f)->index);                       \
    } while (0)

static void test_strings(void **state)
{
    struct fx *f = *state;
    keel_store_record_events(f->st, true);
    f->ts = 1000;
    do_set(f, "k", "v", 0, 0);
    EVS(f, "new:k set:k");
    do_set(f, "k", "v", 5000, 0);
    EVS(f, "set:k expire:k");
    do_set(f, "k", "w", 0, KEEL_SET_KEEPTTL);
    EVS(f, "set:k");
    do_set(f, "k", "x", 0, KEEL_SET_NX); /* not set: nothing */
    EVS(f, "");
    /* Already expired (PXAT in the past): set and gone at once, with the
     * events Redis gives it, set and expire now and expired when found. */
    do_set(f, "k", "x", 500, 0);
    EVS(f, "set:k expire:k expired:k");
    do_set(f, "gone", "x", 500, 0);
    EVS(f, "new:gone set:gone expire:gone expired:gone");
    do_incrby(f, "n", 5);
    EVS(f, "new:n incrby:n");
    do_set(f, "s", "abc", 0, 0);
    do_incrby(f, "s", 1); /* not an integer: an error, no event */
    EVS(f, "");
    do_del(f, LIST("n", "missing", "s"));
    EVS(f, "del:n del:s");
    do_set(f, "t", "v", 0, 0);
    do_expire(f, "t", 9000, 0);
    EVS(f, "expire:t");
    do_persist(f, "t");
    EVS(f, "persist:t");
    do_persist(f, "t"); /* no expiry: nothing */
    EVS(f, "");
    do_expire(f, "t", 10, 0); /* in the past: deleted */
    EVS(f, "del:t");

    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_append(&e, S("a"), S("xy"));
    apply_enc(f, &e);
    EVS(f, "new:a append:a");
    enc_begin(f, &e);
    keel_enc_append(&e, S("a"), S("z"));
    apply_enc(f, &e);
    EVS(f, "append:a");
    enc_begin(f, &e);
    keel_enc_getex(&e, S("a"), 7000, 0);
    apply_enc(f, &e);
    EVS(f, "expire:a");
    enc_begin(f, &e);
    keel_enc_getex(&e, S("a"), 0, KEEL_GETEX_PERSIST);
    apply_enc(f, &e);
    EVS(f, "persist:a");
    enc_begin(f, &e);
    keel_enc_getdel(&e, S("a"));
    apply_enc(f, &e);
    EVS(f, "del:a");
}

static void test_cas_and_hashes(void **state)
{
    struct fx *f = *state;
    keel_store_record_events(f->st, true);
    f->ts = 1000;
    do_cas(f, "c", KEEL_CAS_VALUE | KEEL_CAS_ABSENT, 0, "", "1", 0);
    EVS(f, "new:c set:c");
    do_cas(f, "c", KEEL_CAS_VALUE, 0, "nope", "2", 0); /* no match */
    EVS(f, "");
    do_cas(f, "c", KEEL_CAS_VALUE | KEEL_CAS_DELETE, 0, "1", "", 0);
    EVS(f, "del:c");

    do_hset(f, "h", LIST("a", "1", "b", "2"));
    EVS(f, "new:h hset:h");
    do_hset(f, "h", LIST("a", "1"));
    EVS(f, "hset:h");
    do_hincrby(f, "h", "a", 4);
    EVS(f, "hincrby:h");
    do_hdel(f, "h", LIST("zz"));
    EVS(f, "");
    do_hdel(f, "h", LIST("a"));
    EVS(f, "hdel:h");
    do_hdel(f, "h", LIST("b")); /* the last field: the key goes too */
    EVS(f, "hdel:h del:h");
    do_set(f, "str", "v", 0, 0);
    do_hset(f, "str", LIST("a", "1")); /* WRONGTYPE */
    EVS(f, "");
    /* An expired hash found by a hash write: "expired", then a new key. */
    do_hset(f, "eh", LIST("a", "1"));
    do_expire(f, "eh", 1500, 0);
    f->ts = 2000;
    do_hincrby(f, "eh", "a", 1);
    EVS(f, "expired:eh new:eh hincrby:eh");
}

static void test_batch_sweep_lazy(void **state)
{
    struct fx *f = *state;
    keel_store_record_events(f->st, true);
    f->ts = 1000;
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_batch_begin(&e);
    keel_enc_set(&e, S("x"), S("1"), 0, 0);
    keel_enc_incrby(&e, S("y"), 2);
    const struct keel_slice pairs[] = {S("f"), S("v")};
    keel_enc_hset(&e, S("h"), pairs, 1);
    apply_enc(f, &e);
    EVS(f, "new:x set:x new:y incrby:y new:h hset:h"); /* one entry: one index */

    /* A batch whose watch fails changes nothing. */
    enc_begin(f, &e);
    keel_enc_batch_begin(&e);
    keel_enc_watch(&e, S("x"), 999);
    keel_enc_set(&e, S("x"), S("2"), 0, 0);
    apply_enc(f, &e);
    EVS(f, "");

    do_set(f, "e1", "v", 1500, 0);
    do_set(f, "e2", "v", 1600, 0);
    do_set(f, "e3", "v", 9000, 0);
    f->ts = 2000;
    do_sweep(f, 100);
    EVS(f, "expired:e1 expired:e2");

    /* A write that finds an expired key reports it as Redis's lazy expiry. */
    f->ts = 9500;
    do_incrby(f, "e3", 1);
    EVS(f, "expired:e3 new:e3 incrby:e3");
}

static void test_off_skip_and_replicas(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    do_set(f, "k", "v", 0, 0); /* recording off by default */
    assert_int_equal(keel_store_events(f->st)->n, 0);
    keel_store_record_events(f->st, true);
    do_set(f, "k", "v", 0, 0);
    EVS(f, "set:k");
    /* A skipped (replayed) entry reports nothing, and says so with index 0. */
    struct keel_enc e;
    uint8_t *buf;
    size_t len;
    enc_begin(f, &e);
    keel_enc_set(&e, S("k"), S("w"), 0, 0);
    enc_take(&e, &buf, &len);
    assert_int_equal(keel_store_apply(f->st, f->index, buf, len, &f->reply), 0);
    assert_int_equal(keel_store_events(f->st)->n, 0);
    assert_int_equal(keel_store_events(f->st)->index, 0);
    free(buf);

    /* Two replicas given the same entries report the same events. */
    struct fx g;
    fx_init(&g, "events-replica", 0);
    keel_store_record_events(g.st, true);
    g.index = f->index;
    uint64_t seed = 42;
    for (int i = 0; i < 300; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        char key[8];
        snprintf(key, sizeof key, "k%u", (unsigned)(seed >> 60));
        enc_begin(f, &e);
        f->ts += (int64_t)(seed >> 58);
        switch ((seed >> 40) % 6) {
            case 0: keel_enc_set(&e, S(key), S("v"), f->ts + 20, 0); break;
            case 1: keel_enc_incrby(&e, S(key), 1); break;
            case 2: keel_enc_del(&e, (struct keel_slice[]){S(key)}, 1); break;
            case 3: keel_enc_expire(&e, S(key), f->ts + 5, 0); break;
            case 4: keel_enc_sweep(&e, 10); break;
            default: keel_enc_append(&e, S(key), S("z")); break;
        }
        enc_take(&e, &buf, &len);
        apply_raw(f, buf, len);
        char mine[4096];
        snprintf(mine, sizeof mine, "%s", evs(f));
        apply_raw(&g, buf, len);
        free(buf);
        assert_string_equal(evs(&g), mine);
        assert_int_equal(keel_store_events(g.st)->index, keel_store_events(f->st)->index);
    }
    fx_fini(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cas_and_hashes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_sweep_lazy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_off_skip_and_replicas, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
