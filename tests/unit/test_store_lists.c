/* tests: lists in the state machine: LPUSH/RPUSH (X) and LPOP/RPOP as
 * apply runs them, the list reads (LLEN LINDEX LRANGE through keel_read_*),
 * and the storage contract under them: a list's items go with its record
 * whatever removes it (DEL, SET over it, expiry, FLUSH, RENAME onto it,
 * popping the last item), COPY gives the copy its own, and the keyspace
 * events. */
#include <lmdb.h>

#include "storage/env.h"
#include "storage/image.h"
#include "store_fixture.h"

/* ---- helpers ------------------------------------------------------------ */

static const struct keel_reply *push(struct fx *f, const char *key, unsigned flags,
                                     const char *const *m, uint32_t n)
{
    struct keel_enc e;
    struct keel_slice *v = calloc(n ? n : 1, sizeof *v);
    assert_non_null(v);
    for (uint32_t i = 0; i < n; i++) v[i] = keel_str(m[i]);
    enc_begin(f, &e);
    keel_enc_lpush(&e, S(key), v, n, flags);
    free(v);
    return apply_enc(f, &e);
}
#define LPUSH(f, key, ...) push((f), (key), KEEL_LIST_LEFT, LIST(__VA_ARGS__))
#define RPUSH(f, key, ...) push((f), (key), 0, LIST(__VA_ARGS__))

static const struct keel_reply *pop(struct fx *f, const char *key, uint64_t count, unsigned flags)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_lpop(&e, S(key), count, flags);
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

static int join_cb(void *arg, struct keel_slice m, struct keel_slice data)
{
    char *out = arg;
    size_t n = strlen(out);
    (void)m;
    snprintf(out + n, 256 - n, "%s%.*s", n ? "," : "", (int)data.n, (const char *)data.p);
    return 0;
}

/* The list at key as "a,b,c" through LRANGE 0 -1 ("-" absent, "!" wrong
 * type), checking LLEN and LINDEX of every item against it. */
static const char *items(struct fx *f, const char *key, char *out)
{
    struct keel_read rd;
    struct keel_coll coll;
    uint64_t off, n;
    out[0] = 0;
    assert_int_equal(keel_read_begin(f->st, f->ts, &rd), 0);
    int rc = keel_read_list(&rd, S(key), &coll);
    if (rc == KEEL_ENOTFOUND) strcpy(out, "-");
    else if (rc == KEEL_EWRONGTYPE) strcpy(out, "!");
    else {
        assert_int_equal(rc, 0);
        assert_true(store_list_range((int64_t)coll.count, 0, -1, &off, &n));
        assert_int_equal(n, coll.count);
        assert_int_equal(keel_read_list_walk(&rd, &coll, off, n, join_cb, out), 0);
        char one[256] = "";
        for (int64_t i = 0; i < (int64_t)coll.count; i++) {
            struct keel_slice it, back;
            assert_int_equal(keel_read_list_at(&rd, &coll, i, &it), 0);
            assert_int_equal(keel_read_list_at(&rd, &coll, i - (int64_t)coll.count, &back), 0);
            assert_true(it.n == back.n && memcmp(it.p, back.p, it.n) == 0);
            join_cb(one, it, it);
        }
        assert_string_equal(one, out);
        struct keel_slice none;
        assert_int_equal(keel_read_list_at(&rd, &coll, (int64_t)coll.count, &none), KEEL_ENOTFOUND);
    }
    keel_read_end(&rd);
    return out;
}

#define ITEMS(f, key, want)                                \
    do {                                                   \
        char buf_[256];                                    \
        assert_string_equal(items((f), (key), buf_), (want)); \
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

/* The image check passes on the store as it is: every list's items at
 * positions inside its head..tail, counted right. */
static void sound(struct fx *f)
{
    char errmsg[KEEL_ERRMSG_SIZE];
    struct keel_snapshot snap;
    struct keel_image_report rep;
    assert_int_equal(keel_storage_snapshot_create(keel_store_storage(f->st), &snap, errmsg), 0);
    size_t len = KEEL_SNAPSHOT_HEADER + snap.data_len;
    uint8_t *img = malloc(len);
    assert_non_null(img);
    memcpy(img, snap.header, KEEL_SNAPSHOT_HEADER);
    memcpy(img + KEEL_SNAPSHOT_HEADER, snap.data, snap.data_len);
    keel_snapshot_release(&snap);
    if (keel_image_check(img, len, 0, &rep, errmsg) != 0) fail_msg("image check: %s", errmsg);
    free(img);
}

static const struct keel_reply *lset(struct fx *f, const char *key, const char *index, const char *v)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_lset(&e, S(key), S(index), S(v));
    return apply_enc(f, &e);
}

static const struct keel_reply *lrem(struct fx *f, const char *key, int64_t count, const char *v)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_lrem(&e, S(key), count, S(v));
    return apply_enc(f, &e);
}

static const struct keel_reply *ltrim(struct fx *f, const char *key, int64_t start, int64_t stop)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_ltrim(&e, S(key), start, stop);
    return apply_enc(f, &e);
}

static const struct keel_reply *linsert(struct fx *f, const char *key, bool before, const char *pivot,
                                        const char *v)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_linsert(&e, S(key), S(pivot), S(v), before ? KEEL_LINSERT_BEFORE : 0);
    return apply_enc(f, &e);
}

static const struct keel_reply *lmove(struct fx *f, const char *src, const char *dst, unsigned flags)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_lmove(&e, S(src), S(dst), flags);
    return apply_enc(f, &e);
}

/* ---- tests -------------------------------------------------------------- */

static void test_push_pop(void **state)
{
    struct fx *f = *state;
    struct keel_reply_reader rd;
    f->ts = 1000;
    EXPECT(LPUSH(f, "l", "b", "a"), WANT_INT(2));
    EXPECT(RPUSH(f, "l", "c", "d"), WANT_INT(4));
    ITEMS(f, "l", "a,b,c,d");
    EXPECT(push(f, "nosuch", KEEL_LPUSH_EXISTS, LIST("x")), WANT_INT(0));
    assert_false(stored(f, "nosuch"));
    EXPECT(push(f, "l", KEEL_LPUSH_EXISTS | KEEL_LIST_LEFT, LIST("z")), WANT_INT(5));
    ITEMS(f, "l", "z,a,b,c,d");
    EXPECT(pop(f, "l", 1, KEEL_LIST_LEFT), WANT_BULK("z"));
    EXPECT(pop(f, "l", 1, 0), WANT_BULK("d"));
    keel_reply_reader_init(&rd, pop(f, "l", 2, KEEL_LPOP_COUNT));
    RD(&rd, WANT_ARRAY(2));
    RD(&rd, WANT_BULK("c")); /* from the tail inwards */
    RD(&rd, WANT_BULK("b"));
    RD_END(&rd);
    EXPECT(pop(f, "l", 0, KEEL_LPOP_COUNT | KEEL_LIST_LEFT), WANT_ARRAY(0));
    ITEMS(f, "l", "a");
    keel_reply_reader_init(&rd, pop(f, "l", 7, KEEL_LPOP_COUNT | KEEL_LIST_LEFT));
    RD(&rd, WANT_ARRAY(1));
    RD(&rd, WANT_BULK("a"));
    RD_END(&rd);
    assert_false(stored(f, "l"));
    assert_int_equal(subkeys(f), 0);
    EXPECT(pop(f, "l", 1, KEEL_LIST_LEFT), WANT_NIL);
    keel_reply_reader_init(&rd, pop(f, "l", 3, KEEL_LPOP_COUNT));
    struct keel_reply_item it;
    assert_int_equal(keel_reply_next(&rd, &it), 0);
    assert_int_equal(it.kind, KEEL_REPLY_NIL_ARRAY);
    /* Grow both ends well past the start and walk ranges across them. */
    for (int i = 0; i < 50; i++) {
        char v[8];
        snprintf(v, sizeof v, "%d", i);
        EXPECT(i % 2 ? RPUSH(f, "n", v) : LPUSH(f, "n", v), WANT_INT(i + 1));
    }
    struct keel_read r;
    struct keel_coll coll;
    struct keel_slice s;
    assert_int_equal(keel_read_begin(f->st, f->ts, &r), 0);
    assert_int_equal(keel_read_list(&r, S("n"), &coll), 0);
    assert_int_equal(coll.count, 50);
    assert_int_equal(keel_read_list_at(&r, &coll, 0, &s), 0);
    assert_memory_equal(s.p, "48", 2);
    assert_int_equal(keel_read_list_at(&r, &coll, -1, &s), 0);
    assert_memory_equal(s.p, "49", 2);
    char out[256] = "";
    assert_int_equal(keel_read_list_walk(&r, &coll, 23, 4, join_cb, out), 0);
    assert_string_equal(out, "2,0,1,3");
    keel_read_end(&r);
}

static void test_range_clamp(void **state)
{
    uint64_t off, n;
    (void)state;
    assert_true(store_list_range(5, 0, -1, &off, &n) && off == 0 && n == 5);
    assert_true(store_list_range(5, -2, 100, &off, &n) && off == 3 && n == 2);
    assert_true(store_list_range(5, -100, 1, &off, &n) && off == 0 && n == 2);
    assert_false(store_list_range(5, 3, 2, &off, &n));
    assert_false(store_list_range(5, 5, 9, &off, &n));
    assert_false(store_list_range(5, 0, -6, &off, &n));
    assert_false(store_list_range(0, 0, -1, &off, &n));
}

static void test_wrongtype(void **state)
{
    struct fx *f = *state;
    struct keel_read rd;
    struct keel_coll coll;
    f->ts = 1000;
    EXPECT(do_set(f, "str", "v", 0, 0), WANT_OK);
    EXPECT(LPUSH(f, "str", "x"), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(push(f, "str", KEEL_LPUSH_EXISTS, LIST("x")), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(pop(f, "str", 1, 0), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(pop(f, "str", 0, KEEL_LPOP_COUNT), WANT_ERR(KEEL_EWRONGTYPE));
    assert_int_equal(keel_read_begin(f->st, f->ts, &rd), 0);
    assert_int_equal(keel_read_list(&rd, S("str"), &coll), KEEL_EWRONGTYPE);
    keel_read_end(&rd);
    EXPECT(RPUSH(f, "l", "a"), WANT_INT(1));
    EXPECT(get(f, "l", 1000), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(do_set(f, "l", "now a string", 0, 0), WANT_OK);
    assert_int_equal(subkeys(f), 0);
}

static void test_subkeys_freed(void **state)
{
    struct fx *f = *state;
    const char *keys[] = {"a", "b", "c", "d"};
    f->ts = 1000;
    for (int i = 0; i < 4; i++) EXPECT(RPUSH(f, keys[i], "1", "2", "3"), WANT_INT(3));
    assert_int_equal(subkeys(f), 12);
    EXPECT(do_del(f, LIST("a")), WANT_INT(1));
    assert_int_equal(subkeys(f), 9);
    /* RENAME onto a list: the destination's items go, the source's stay. */
    EXPECT(pop(f, "b", 1, KEEL_LIST_LEFT), WANT_BULK("1"));
    EXPECT(two_keys(f, false, "b", "c"), WANT_OK);
    assert_int_equal(subkeys(f), 5);
    ITEMS(f, "c", "2,3");
    ITEMS(f, "b", "-");
    /* COPY: the copy has its own items. */
    EXPECT(two_keys(f, true, "c", "e"), WANT_INT(1));
    EXPECT(pop(f, "c", 1, KEEL_LIST_LEFT), WANT_BULK("2"));
    ITEMS(f, "e", "2,3");
    ITEMS(f, "c", "3");
    assert_int_equal(subkeys(f), 6);
    EXPECT(LPUSH(f, "e", "1"), WANT_INT(3));
    ITEMS(f, "e", "1,2,3");
    /* Expiry: a sweep deletes it, items too. */
    EXPECT(do_expire(f, "d", 1500, 0), WANT_INT(1));
    f->ts = 2000;
    do_sweep(f, 10);
    assert_false(stored(f, "d"));
    assert_int_equal(subkeys(f), 4);
    /* FLUSH. */
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_flush(&e);
    EXPECT(apply_enc(f, &e), WANT_OK);
    assert_int_equal(subkeys(f), 0);
    EXPECT(RPUSH(f, "a", "z"), WANT_INT(1));
    ITEMS(f, "a", "z");
}

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
    LPUSH(f, "a", "1", "2");
    assert_string_equal(evs(f), "new:a/n lpush:a/l");
    RPUSH(f, "a", "3");
    assert_string_equal(evs(f), "rpush:a/l");
    push(f, "b", KEEL_LPUSH_EXISTS, LIST("1"));
    assert_string_equal(evs(f), ""); /* nothing created, nothing said */
    pop(f, "a", 1, KEEL_LIST_LEFT);
    assert_string_equal(evs(f), "lpop:a/l");
    pop(f, "a", 0, KEEL_LPOP_COUNT);
    assert_string_equal(evs(f), "");
    pop(f, "a", 5, KEEL_LPOP_COUNT);
    assert_string_equal(evs(f), "rpop:a/l del:a/g");
    pop(f, "a", 1, 0);
    assert_string_equal(evs(f), "");
}

static void test_edit(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(RPUSH(f, "l", "a", "b", "c", "b", "a"), WANT_INT(5));
    EXPECT(lset(f, "l", "1", "B"), WANT_OK);
    EXPECT(lset(f, "l", "-1", "A"), WANT_OK);
    ITEMS(f, "l", "a,B,c,b,A");
    EXPECT(lset(f, "l", "5", "x"), WANT_ERR(KEEL_EINVAL));
    EXPECT(lset(f, "l", "1x", "x"), WANT_ERR(KEEL_ENOTINT));
    EXPECT(lset(f, "nosuch", "1x", "x"), WANT_ERR(KEEL_EINVAL)); /* no such key first */
    /* LREM renumbers what follows the first removed item. */
    EXPECT(RPUSH(f, "r", "x", "y", "x", "z", "x"), WANT_INT(5));
    EXPECT(lrem(f, "r", -2, "x"), WANT_INT(2));
    ITEMS(f, "r", "x,y,z");
    EXPECT(lrem(f, "r", 1, "nope"), WANT_INT(0));
    EXPECT(LPUSH(f, "r", "x"), WANT_INT(4));
    EXPECT(lrem(f, "r", 0, "x"), WANT_INT(2));
    ITEMS(f, "r", "y,z");
    EXPECT(lrem(f, "r", INT64_MIN, "y"), WANT_INT(1));
    EXPECT(lrem(f, "r", 0, "z"), WANT_INT(1));
    assert_false(stored(f, "r"));
    EXPECT(lrem(f, "r", 0, "z"), WANT_INT(0));
    /* LINSERT before the head, after the tail, in the middle. */
    EXPECT(RPUSH(f, "i", "a", "b", "c"), WANT_INT(3));
    EXPECT(linsert(f, "i", true, "a", "z"), WANT_INT(4));
    EXPECT(linsert(f, "i", false, "c", "d"), WANT_INT(5));
    EXPECT(linsert(f, "i", true, "b", "m"), WANT_INT(6));
    ITEMS(f, "i", "z,a,m,b,c,d");
    EXPECT(linsert(f, "i", true, "nope", "m"), WANT_INT(-1));
    EXPECT(linsert(f, "nosuch", true, "a", "m"), WANT_INT(0));
    assert_false(stored(f, "nosuch"));
    /* LTRIM at both ends; an empty range deletes the key. */
    EXPECT(ltrim(f, "i", 1, -2), WANT_OK);
    ITEMS(f, "i", "a,m,b,c");
    EXPECT(ltrim(f, "i", -2, 100), WANT_OK);
    ITEMS(f, "i", "b,c");
    EXPECT(LPUSH(f, "i", "0"), WANT_INT(3));
    ITEMS(f, "i", "0,b,c");
    EXPECT(ltrim(f, "nosuch", 0, 1), WANT_OK);
    sound(f);
    EXPECT(ltrim(f, "i", 3, 1), WANT_OK);
    assert_false(stored(f, "i"));
    EXPECT(do_set(f, "str", "v", 0, 0), WANT_OK);
    EXPECT(lset(f, "str", "0", "x"), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(lrem(f, "str", 0, "x"), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(ltrim(f, "str", 0, 1), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(linsert(f, "str", true, "a", "x"), WANT_ERR(KEEL_EWRONGTYPE));
    sound(f);
}

static void test_lmove(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(RPUSH(f, "a", "1", "2", "3"), WANT_INT(3));
    EXPECT(lmove(f, "a", "b", KEEL_LMOVE_TO_LEFT), WANT_BULK("3")); /* RPOPLPUSH */
    EXPECT(lmove(f, "a", "b", KEEL_LIST_LEFT), WANT_BULK("1"));
    ITEMS(f, "b", "3,1");
    EXPECT(lmove(f, "b", "b", KEEL_LIST_LEFT), WANT_BULK("3")); /* a rotation */
    ITEMS(f, "b", "1,3");
    EXPECT(lmove(f, "a", "b", KEEL_LMOVE_TO_LEFT), WANT_BULK("2"));
    assert_false(stored(f, "a"));
    ITEMS(f, "b", "2,1,3");
    EXPECT(lmove(f, "a", "b", 0), WANT_NIL);
    EXPECT(do_set(f, "str", "v", 0, 0), WANT_OK);
    EXPECT(lmove(f, "b", "str", 0), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(lmove(f, "str", "b", 0), WANT_ERR(KEEL_EWRONGTYPE));
    ITEMS(f, "b", "2,1,3");
    assert_int_equal(subkeys(f), 3);
    sound(f);
    keel_store_record_events(f->st, true);
    lmove(f, "b", "c", KEEL_LIST_LEFT);
    assert_string_equal(evs(f), "new:c/n rpush:c/l lpop:b/l");
    lmove(f, "c", "b", KEEL_LMOVE_TO_LEFT);
    assert_string_equal(evs(f), "lpush:b/l rpop:c/l del:c/g");
    lset(f, "b", "0", "x");
    assert_string_equal(evs(f), "lset:b/l");
    lrem(f, "b", 0, "x");
    assert_string_equal(evs(f), "lrem:b/l");
    linsert(f, "b", true, "1", "y");
    assert_string_equal(evs(f), "linsert:b/l");
    ltrim(f, "b", 0, -1);
    assert_string_equal(evs(f), "ltrim:b/l");
    ltrim(f, "b", 1, 0);
    assert_string_equal(evs(f), "ltrim:b/l del:b/g");
    assert_int_equal(subkeys(f), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_push_pop, setup, teardown),
        cmocka_unit_test(test_range_clamp),
        cmocka_unit_test_setup_teardown(test_wrongtype, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subkeys_freed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lmove, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
