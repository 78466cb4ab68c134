/* tests: the state machine's commands of issue 15 item 2: HSETNX (an HSET
 * flag), RENAME/RENAMENX, COPY, FLUSH, SETRANGE, MSETNX and the float
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hsetnx, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
