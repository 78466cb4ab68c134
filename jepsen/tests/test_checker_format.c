/* tests: the history formats (jepsen/checker/history.h): JSON Lines round
 * trips, values, EDN text, and malformed input and pairings refused. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jepsen/checker/check.h"
#include "jepsen/checker/history.h"
#include "tests/lib/testlib.h"
#include "jepsen/tests/checker_fixture.h"

/* ---- the format ---------------------------------------------------------- */

/* A history touching every field and value shape. */
static void sample(struct jhist *h)
{
    struct jop ops[] = {
        {3, JOP_INVOKE, JF_WRITE, "k1", Q("v7"), -1, 123456789, NULL},
        {3, JOP_OK, JF_WRITE, "k1", Q("v7"), -1, 123456999, NULL},
        {4, JOP_INVOKE, JF_CAS, "k1", "[null,\"a\"]", -1, 200000000, NULL},
        {4, JOP_INFO, JF_CAS, "k1", "[null,\"a\"]", -1, 300000000, "timeout"},
        {5, JOP_INVOKE, JF_READ, "k\"2", NULL, -1, 400000000, NULL},
        {5, JOP_FAIL, JF_READ, "k\"2", NULL, -1, 400000001, "-TRYAGAIN not\nleader"},
        {6, JOP_INVOKE, JF_WRITE, "s", Q("caf\xc3\xa9"), 1500, 5, NULL},
        {6, JOP_OK, JF_REFRESH, "s", "true", 1500, 6, NULL},
        {7, JOP_INVOKE, JF_READ, "set", NULL, -1, 7, NULL},
        {7, JOP_OK, JF_READ, "set", "[\"a\",\"b\"]", -1, 8, NULL},
        {8, JOP_INVOKE, JF_ADD, "c", "-12", -1, 9, NULL},
        {8, JOP_OK, JF_ADD, "c", "-12", -1, 10, NULL},
        {9, JOP_INVOKE, JF_DEL, "k1", NULL, -1, 11, NULL},
        {9, JOP_OK, JF_DEL, "k1", "{\"b\":1.5,\"a\":false}", -1, 12, NULL},
    };
    jhist_init(h);
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        assert_int_equal(jhist_add(h, &ops[i]), 0);
    }
}

static char *to_text(const struct jhist *h, int (*write)(const struct jhist *, FILE *))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(write(h, f), 0);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static void assert_same_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        assert_ptr_equal(a, b);
    } else {
        assert_string_equal(a, b);
    }
}

static void test_jsonl_roundtrip(void **state)
{
    static const char first_line[] = "{\"process\": 3, \"type\": \"invoke\", \"f\": \"write\", "
                                     "\"key\": \"k1\", \"value\": \"v7\", \"time\": 123456789}\n";
    struct jhist h, back;
    char *text, *again, errmsg[KEEL_ERRMSG_SIZE];
    FILE *f;
    (void)state;
    sample(&h);
    text = to_text(&h, jhist_write_jsonl);
    /* the field order of the format, one event per line */
    assert_int_equal(strncmp(text, first_line, strlen(first_line)), 0);
    assert_contains(text, "\"value\": \"café\", \"ttl_ms\": 1500, \"time\": 5}");
    assert_contains(text, "\"time\": 300000000, \"error\": \"timeout\"}");
    f = fmemopen(text, strlen(text), "r");
    jhist_init(&back);
    assert_int_equal(jhist_read_jsonl(&back, f, errmsg, sizeof errmsg), 0);
    fclose(f);
    assert_int_equal(back.n, h.n);
    for (size_t i = 0; i < h.n; i++) {
        const struct jop *a = &h.ops[i], *b = &back.ops[i];
        assert_true(a->process == b->process && a->time == b->time && a->ttl_ms == b->ttl_ms);
        assert_int_equal(a->type, b->type);
        assert_int_equal(a->f, b->f);
        assert_same_str(a->key, b->key);
        assert_same_str(a->error, b->error);
        if (i != 13) assert_same_str(a->value, b->value);
    }
    /* an object value comes back canonical: compact, keys sorted */
    assert_string_equal(back.ops[13].value, "{\"a\":false,\"b\":1.5}");
    /* a second round trip is byte for byte the first */
    again = to_text(&back, jhist_write_jsonl);
    jhist_free(&back);
    f = fmemopen(again, strlen(again), "r");
    assert_int_equal(jhist_read_jsonl(&back, f, errmsg, sizeof errmsg), 0);
    fclose(f);
    {
        char *third = to_text(&back, jhist_write_jsonl);
        assert_string_equal(third, again);
        free(third);
    }
    free(text);
    free(again);
    jhist_free(&back);
    jhist_free(&h);
}

static void assert_text(char *got, const char *want)
{
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_values(void **state)
{
    static const char *const elems[] = {"b", "a"};
    char *a, *b;
    (void)state;
    assert_text(jval_str("a\"b"), "\"a\\\"b\"");
    assert_text(jval_str(NULL), "null");
    assert_text(jval_cas(NULL, "x"), "[null,\"x\"]");
    assert_text(jval_int(-5), "-5");
    assert_text(jval_bool(true), "true");
    assert_text(jval_str_array(elems, 2), "[\"b\",\"a\"]");
    assert_int_equal(jval_canon(" { \"b\" :1, \"a\" : [ 1 , 2 ] } ", &a), 0);
    assert_text(a, "{\"a\":[1,2],\"b\":1}");
    assert_int_equal(jval_canon("null", &a), 0);
    assert_null(a);
    assert_int_equal(jval_canon("nope", &a), KEEL_EINVAL);
    assert_int_equal(jval_cas_split("[ null, \"v1\" ]", &a, &b), 0);
    assert_null(a);
    assert_text(b, "\"v1\"");
    assert_int_equal(jval_cas_split("[\"v0\"]", &a, &b), KEEL_EINVAL);
    assert_true(a == NULL && b == NULL);
}

static void test_edn(void **state)
{
    static const char want[] =
        "{:process 3, :type :invoke, :f :write, :value [\"k1\" \"v7\"], :time 123456789}\n"
        "{:process 3, :type :ok, :f :write, :value [\"k1\" \"v7\"], :time 123456999}\n"
        "{:process 4, :type :invoke, :f :cas, :value [\"k1\" [nil \"a\"]], :time 200000000}\n"
        "{:process 4, :type :info, :f :cas, :value [\"k1\" [nil \"a\"]], :time 300000000, "
        ":error \"timeout\"}\n"
        "{:process 5, :type :invoke, :f :read, :value [\"k\\\"2\" nil], :time 400000000}\n"
        "{:process 5, :type :fail, :f :read, :value [\"k\\\"2\" nil], :time 400000001, "
        ":error \"-TRYAGAIN not\\nleader\"}\n"
        "{:process 6, :type :invoke, :f :write, :value [\"s\" \"caf\xc3\xa9\"], :ttl-ms 1500, "
        ":time 5}\n"
        "{:process 6, :type :ok, :f :refresh, :value [\"s\" true], :ttl-ms 1500, :time 6}\n"
        "{:process 7, :type :invoke, :f :read, :value [\"set\" nil], :time 7}\n"
        "{:process 7, :type :ok, :f :read, :value [\"set\" [\"a\" \"b\"]], :time 8}\n"
        "{:process 8, :type :invoke, :f :add, :value [\"c\" -12], :time 9}\n"
        "{:process 8, :type :ok, :f :add, :value [\"c\" -12], :time 10}\n"
        "{:process 9, :type :invoke, :f :del, :value [\"k1\" nil], :time 11}\n"
        "{:process 9, :type :ok, :f :del, :value [\"k1\" {\"b\" 1.5, \"a\" false}], "
        ":time 12}\n";
    struct jhist h;
    char *text;
    (void)state;
    sample(&h);
    text = to_text(&h, jhist_write_edn);
    assert_string_equal(text, want);
    free(text);
    jhist_free(&h);
}

static void read_bad(const char *text, const char *want)
{
    char errmsg[KEEL_ERRMSG_SIZE] = "";
    struct jhist h;
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    jhist_init(&h);
    assert_int_equal(jhist_read_jsonl(&h, f, errmsg, sizeof errmsg), KEEL_EMALFORMED);
    assert_contains(errmsg, want);
    fclose(f);
    jhist_free(&h);
}

static void test_jsonl_malformed(void **state)
{
    static const char good[] =
        "{\"process\": 1, \"type\": \"invoke\", \"f\": \"read\", \"key\": \"k\", \"value\": "
        "null, \"time\": 1}\n";
    char buf[512];
    (void)state;
    snprintf(buf, sizeof buf, "%s\n%s{\"process\": 1, \"type\": \"ok\"", good, good);
    read_bad(buf, "line 4: '}' expected"); /* blank line 2 still counts */
    snprintf(buf, sizeof buf, "%s[1, 2]\n", good);
    read_bad(buf, "line 2: not a JSON object");
    read_bad("{\"process\": \"1\", \"type\": \"invoke\", \"f\": \"read\", \"time\": 1}\n",
             "line 1: \"process\" is not an integer");
    read_bad("{\"process\": 1, \"type\": \"done\", \"f\": \"read\", \"time\": 1}\n",
             "line 1: unknown type \"done\"");
    read_bad("{\"process\": 1, \"type\": \"ok\", \"f\": \"scan\", \"time\": 1}\n",
             "line 1: unknown f \"scan\"");
    read_bad("{\"process\": 1, \"type\": \"ok\", \"f\": \"read\"}\n", "line 1: missing \"time\"");
    read_bad("{\"process\": 1, \"process\": 2, \"type\": \"ok\", \"f\": \"read\", \"time\": 1}\n",
             "line 1: ");
}

/* Pairing rules, reported by every checker as KEEL_EMALFORMED. */
static void pair_bad(struct jhist *h, enum jworkload w, const char *want)
{
    struct jresult r;
    assert_int_equal(jcheck(w, h, NULL, &r), KEEL_EMALFORMED);
    assert_int_equal(r.verdict, JV_UNKNOWN);
    assert_contains(r.errmsg, want);
    jresult_free(&r);
    jhist_free(h);
}

static void test_pairing_malformed(void **state)
{
    struct jhist h;
    (void)state;
    jhist_init(&h);
    event(&h, 1, JOP_OK, JF_READ, "k", NULL, -1, 5);
    pair_bad(&h, JW_REGISTER, "event 1 (process 1): ok with no open invoke");
    jhist_init(&h);
    event(&h, 1, JOP_INVOKE, JF_READ, "k", NULL, -1, 5);
    event(&h, 1, JOP_INVOKE, JF_READ, "k", NULL, -1, 6);
    pair_bad(&h, JW_SET, "event 2 (process 1): invoke while the op invoked is open at event 1");
    jhist_init(&h);
    op(&h, 1, JF_WRITE, "k", Q("a"), JOP_INFO, NULL, 0, 1);
    op(&h, 1, JF_WRITE, "k", Q("b"), JOP_OK, NULL, 2, 3);
    pair_bad(&h, JW_REGISTER, "event 3 (process 1): invoke while crashed by the info at event 2");
    jhist_init(&h);
    event(&h, 1, JOP_INVOKE, JF_READ, "k", NULL, -1, 5);
    event(&h, 1, JOP_OK, JF_WRITE, "k", NULL, -1, 6);
    pair_bad(&h, JW_COUNTER, "its f differs");
    jhist_init(&h);
    event(&h, 1, JOP_INVOKE, JF_READ, "k", NULL, -1, 5);
    event(&h, 1, JOP_OK, JF_READ, "k", NULL, -1, 4);
    pair_bad(&h, JW_SESSION, "its time is before");
    jhist_init(&h);
    event(&h, 1, JOP_INVOKE, JF_READ, NULL, NULL, -1, 5);
    pair_bad(&h, JW_REGISTER, "invoke without a key");
    jhist_init(&h); /* value shapes and workload operations */
    op(&h, 1, JF_CAS, "k", Q("x"), JOP_OK, NULL, 0, 1);
    pair_bad(&h, JW_REGISTER, "event 1: cas value is not [expected, new]");
    jhist_init(&h);
    op(&h, 1, JF_ADD, "k", Q("x"), JOP_OK, NULL, 0, 1);
    pair_bad(&h, JW_REGISTER, "event 1: f \"add\" is not a register operation");
    jhist_init(&h);
    op(&h, 1, JF_ADD, "k", Q("x"), JOP_OK, NULL, 0, 1);
    pair_bad(&h, JW_COUNTER, "event 1: delta not an integer");
    jhist_init(&h);
    op(&h, 1, JF_ADD, "k", "3", JOP_OK, NULL, 0, 1);
    pair_bad(&h, JW_SET, "event 1: a set element must be a string");
    jhist_init(&h);
    op(&h, 1, JF_REFRESH, "k", NULL, JOP_OK, "true", 0, 1);
    pair_bad(&h, JW_SESSION, "event 1: a refresh needs ttl_ms");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsonl_roundtrip),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_edn),
        cmocka_unit_test(test_jsonl_malformed),
        cmocka_unit_test(test_pairing_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
