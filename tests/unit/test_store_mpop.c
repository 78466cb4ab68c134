/* tests: MPOP in the state machine (LMPOP ZMPOP and the blocking pops):
 * the first existing key is popped, a key of another type answers
 * WRONGTYPE and pops nothing, no key the null array; the reply shapes; the
 * events; and an empty pop is not kept by the dedupe table, so a blocked
 * client's next attempt with the same identity pops for real. */
#include "store_fixture.h"

static const struct keel_reply *mpop(struct fx *f, const char *const *keys, uint32_t n, uint64_t count,
                                     unsigned flags)
{
    struct keel_enc e;
    struct keel_slice v[8];
    for (uint32_t i = 0; i < n; i++) v[i] = keel_str(keys[i]);
    enc_begin(f, &e);
    keel_enc_mpop(&e, v, n, count, flags);
    return apply_enc(f, &e);
}
#define MPOP(f, count, flags, ...) mpop((f), LIST(__VA_ARGS__), (count), (flags))

static const struct keel_reply *rpush(struct fx *f, const char *key, const char *const *m, uint32_t n)
{
    struct keel_enc e;
    struct keel_slice v[8];
    for (uint32_t i = 0; i < n; i++) v[i] = keel_str(m[i]);
    enc_begin(f, &e);
    keel_enc_lpush(&e, S(key), v, n, 0);
    return apply_enc(f, &e);
}

static const struct keel_reply *zadd(struct fx *f, const char *key, double sc, const char *m)
{
    struct keel_enc e;
    struct keel_slice v = keel_str(m);
    enc_begin(f, &e);
    keel_enc_zadd(&e, S(key), &sc, &v, 1, 0);
    return apply_enc(f, &e);
}

static bool nil_array(const struct keel_reply *r)
{
    struct keel_reply_reader rd;
    struct keel_reply_item it;
    keel_reply_reader_init(&rd, r);
    return keel_reply_next(&rd, &it) == 0 && it.kind == KEEL_REPLY_NIL_ARRAY && keel_reply_next(&rd, &it) != 0;
}

static void test_lists(void **state)
{
    struct fx *f = *state;
    struct keel_reply_reader rd;
    assert_true(nil_array(MPOP(f, 1, KEEL_MPOP_LEFT, "a", "b")));
    EXPECT(rpush(f, "b", LIST("1", "2", "3")), WANT_INT(3));
    /* [key, [items]]: from the head, then from the tail inwards. */
    keel_reply_reader_init(&rd, MPOP(f, 2, KEEL_MPOP_LEFT, "a", "b", "c"));
    RD(&rd, WANT_ARRAY(2));
    RD(&rd, WANT_BULK("b"));
    RD(&rd, WANT_ARRAY(2));
    RD(&rd, WANT_BULK("1"));
    RD(&rd, WANT_BULK("2"));
    RD_END(&rd);
    EXPECT(rpush(f, "c", LIST("x")), WANT_INT(1));
    keel_reply_reader_init(&rd, MPOP(f, 5, 0, "a", "b", "c"));
    RD(&rd, WANT_ARRAY(2));
    RD(&rd, WANT_BULK("b"));
    RD(&rd, WANT_ARRAY(1));
    RD(&rd, WANT_BULK("3"));
    RD_END(&rd);
    /* b is gone with its last item: c next. */
    keel_reply_reader_init(&rd, MPOP(f, 1, 0, "a", "b", "c"));
    RD(&rd, WANT_ARRAY(2));
    RD(&rd, WANT_BULK("c"));
    RD(&rd, WANT_ARRAY(1));
    RD(&rd, WANT_BULK("x"));
    RD_END(&rd);
    assert_true(nil_array(MPOP(f, 1, 0, "a", "b", "c")));
}

static void test_wrongtype(void **state)
{
    struct fx *f = *state;
    EXPECT(do_set(f, "s", "v", 0, 0), WANT_OK);
    EXPECT(rpush(f, "l", LIST("1")), WANT_INT(1));
    /* The first existing key decides, as Redis walks them. */
    EXPECT(MPOP(f, 1, KEEL_MPOP_LEFT, "none", "s", "l"), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(MPOP(f, 1, KEEL_MPOP_ZSET, "l"), WANT_ERR(KEEL_EWRONGTYPE));
    struct keel_reply_reader rd;
    keel_reply_reader_init(&rd, MPOP(f, 1, KEEL_MPOP_LEFT, "none", "l", "s"));
    RD(&rd, WANT_ARRAY(2));
    RD(&rd, WANT_BULK("l"));
    RD(&rd, WANT_ARRAY(1));
    RD(&rd, WANT_BULK("1"));
    RD_END(&rd);
}

static void test_zsets(void **state)
{
    struct fx *f = *state;
    struct keel_reply_reader rd;
    EXPECT(zadd(f, "z", 2, "b"), WANT_INT(1));
    EXPECT(zadd(f, "z", 1, "a"), WANT_INT(1));
    EXPECT(zadd(f, "z", 3, "c"), WANT_INT(1));
    /* [key, [[member, score], ...]], lowest first for LEFT (MIN). */
    keel_reply_reader_init(&rd, MPOP(f, 2, KEEL_MPOP_ZSET | KEEL_MPOP_LEFT, "y", "z"));
    RD(&rd, WANT_ARRAY(2));
    RD(&rd, WANT_BULK("z"));
    RD(&rd, WANT_ARRAY(2));
    RD(&rd, WANT_ARRAY(2));
    RD(&rd, WANT_BULK("a"));
    RD(&rd, WANT_BULK("1"));
    RD(&rd, WANT_ARRAY(2));
    RD(&rd, WANT_BULK("b"));
    RD(&rd, WANT_BULK("2"));
    RD_END(&rd);
    keel_reply_reader_init(&rd, MPOP(f, 9, KEEL_MPOP_ZSET, "z"));
    RD(&rd, WANT_ARRAY(2));
    RD(&rd, WANT_BULK("z"));
    RD(&rd, WANT_ARRAY(1));
    RD(&rd, WANT_ARRAY(2));
    RD(&rd, WANT_BULK("c"));
    RD(&rd, WANT_BULK("3"));
    RD_END(&rd);
    assert_true(nil_array(MPOP(f, 1, KEEL_MPOP_ZSET, "z")));
}

/* A blocked client's attempts share its (client, seq): the empty one is
 * not remembered, the successful one is. */
static void test_dedupe(void **state)
{
    struct fx *f = *state;
    f->client = 7;
    f->seq = 1;
    assert_true(nil_array(MPOP(f, 1, KEEL_MPOP_LEFT, "q")));
    f->client = 0;
    EXPECT(rpush(f, "q", LIST("v", "w")), WANT_INT(2));
    f->client = 7;
    struct keel_reply_reader rd;
    keel_reply_reader_init(&rd, MPOP(f, 1, KEEL_MPOP_LEFT, "q"));
    RD(&rd, WANT_ARRAY(2));
    RD(&rd, WANT_BULK("q"));
    RD(&rd, WANT_ARRAY(1));
    RD(&rd, WANT_BULK("v"));
    RD_END(&rd);
    /* A retry of the same identity: the remembered reply, nothing popped. */
    keel_reply_reader_init(&rd, MPOP(f, 1, KEEL_MPOP_LEFT, "q"));
    RD(&rd, WANT_ARRAY(2));
    RD(&rd, WANT_BULK("q"));
    RD(&rd, WANT_ARRAY(1));
    RD(&rd, WANT_BULK("v"));
    RD_END(&rd);
    f->client = 0;
    keel_reply_reader_init(&rd, MPOP(f, 5, KEEL_MPOP_LEFT, "q"));
    RD(&rd, WANT_ARRAY(2));
    RD(&rd, WANT_BULK("q"));
    RD(&rd, WANT_ARRAY(1));
    RD(&rd, WANT_BULK("w"));
    RD_END(&rd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrongtype, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zsets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedupe, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
