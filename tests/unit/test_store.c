/* tests: the state machine (store/): command semantics, expiry by log time,
 * the apply contract, dedupe, determinism and map growth. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "testutil.h"

#define S(s) keel_str(s)
/* A list of C strings and its length, for do_del/do_hset/do_hdel. */
#define LIST(...) \
    (const char *[]){__VA_ARGS__}, \
        (uint32_t)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *))

/* ---- fixture ----------------------------------------------------------- */

struct fx
{
    char *dir;
    struct keel_storage *storage;
    struct keel_store *st;
    uint64_t index;          /* index of the last apply */
    int64_t ts;              /* leader timestamp of the next command */
    uint64_t client;         /* dedupe identity of the next command */
    uint64_t seq;
    struct keel_reply reply; /* reply of the last apply */
    struct keel_reply read;  /* reply of the last read */
};

static void fx_init(struct fx *f, const char *tag, uint64_t map_size)
{
    char errmsg[KEEL_ERRMSG_SIZE];
    memset(f, 0, sizeof *f);
    f->dir = test_mkdtemp(tag);
    assert_non_null(f->dir);
    struct keel_storage_options o = {.dir = f->dir, .map_size = map_size};
    int rc = keel_storage_open(&o, &f->storage, NULL, errmsg);
    if (rc != 0) fail_msg("keel_storage_open: %s", errmsg);
    assert_int_equal(keel_store_create(f->storage, &f->st), 0);
    keel_reply_init(&f->reply);
    keel_reply_init(&f->read);
}

static void fx_fini(struct fx *f)
{
    keel_store_destroy(f->st);
    keel_storage_close(f->storage, false);
    test_rmdtemp(f->dir);
    keel_reply_close(&f->reply);
    keel_reply_close(&f->read);
}

static int setup_map(void **state, uint64_t map_size)
{
    struct fx *f = malloc(sizeof *f);
    assert_non_null(f);
    fx_init(f, "test_store", map_size);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_map(state, 0);
}

static int setup_small_map(void **state)
{
    return setup_map(state, 256 * 1024);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    fx_fini(f);
    free(f);
    return 0;
}

static struct keel_store_stats stats(struct fx *f)
{
    struct keel_store_stats s;
    keel_store_stats(f->st, &s);
    return s;
}

/* ---- applying ---------------------------------------------------------- */

/* Apply an entry at the next index; the reply is f->reply. */
static const struct keel_reply *apply_raw(struct fx *f, const void *buf, size_t len)
{
    f->index++;
    int rc = keel_store_apply(f->st, f->index, buf, len, &f->reply);
    if (rc != 0) fail_msg("apply %" PRIu64 ": %s", f->index, keel_store_errmsg(f->st));
    assert_int_equal(keel_storage_applied(f->storage), f->index);
    return &f->reply;
}

static void enc_begin(struct fx *f, struct keel_enc *e)
{
    keel_enc_init(e, f->ts, f->client, f->seq);
}

static void enc_take(struct keel_enc *e, uint8_t **buf, size_t *len)
{
    int rc = keel_enc_finish(e, buf, len);
    keel_enc_close(e);
    assert_int_equal(rc, 0);
}

static const struct keel_reply *apply_enc(struct fx *f, struct keel_enc *e)
{
    uint8_t *buf;
    size_t len;
    enc_take(e, &buf, &len);
    const struct keel_reply *r = apply_raw(f, buf, len);
    free(buf);
    return r;
}

static const struct keel_reply *do_noop(struct fx *f)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_noop(&e);
    return apply_enc(f, &e);
}

static const struct keel_reply *do_set(struct fx *f, const char *key, const char *val,
                                       int64_t expire_at, unsigned flags)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_set(&e, S(key), S(val), expire_at, flags);
    return apply_enc(f, &e);
}

static void slices(struct keel_slice *out, const char *const *in, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) out[i] = S(in[i]);
}

static const struct keel_reply *do_del(struct fx *f, const char *const *keys, uint32_t n)
{
    struct keel_slice s[16];
    struct keel_enc e;
    assert_true(n <= 16);
    slices(s, keys, n);
    enc_begin(f, &e);
    keel_enc_del(&e, s, n);
    return apply_enc(f, &e);
}

static const struct keel_reply *do_incrby(struct fx *f, const char *key, int64_t delta)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_incrby(&e, S(key), delta);
    return apply_enc(f, &e);
}

static const struct keel_reply *do_expire(struct fx *f, const char *key, int64_t at,
                                          unsigned flags)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_expire(&e, S(key), at, flags);
    return apply_enc(f, &e);
}

static const struct keel_reply *do_persist(struct fx *f, const char *key)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_persist(&e, S(key));
    return apply_enc(f, &e);
}

/* items: field, value, field, value... (n strings, n even) */
static const struct keel_reply *do_hset(struct fx *f, const char *key,
                                        const char *const *items, uint32_t n)
{
    struct keel_slice s[16];
    struct keel_enc e;
    assert_true(n <= 16 && n % 2 == 0);
    slices(s, items, n);
    enc_begin(f, &e);
    keel_enc_hset(&e, S(key), s, n / 2);
    return apply_enc(f, &e);
}

static const struct keel_reply *do_hdel(struct fx *f, const char *key,
                                        const char *const *fields, uint32_t n)
{
    struct keel_slice s[16];
    struct keel_enc e;
    assert_true(n <= 16);
    slices(s, fields, n);
    enc_begin(f, &e);
    keel_enc_hdel(&e, S(key), s, n);
    return apply_enc(f, &e);
}

static const struct keel_reply *do_hincrby(struct fx *f, const char *key, const char *field,
                                           int64_t delta)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_hincrby(&e, S(key), S(field), delta);
    return apply_enc(f, &e);
}

static const struct keel_reply *do_cas(struct fx *f, const char *key, unsigned flags,
                                       uint64_t version, const char *expected,
                                       const char *value, int64_t expire_at)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_cas(&e, S(key), flags, version, S(expected), S(value), expire_at);
    return apply_enc(f, &e);
}

static const struct keel_reply *do_sweep(struct fx *f, int64_t max)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_sweep(&e, max);
    return apply_enc(f, &e);
}

/* ---- reading ----------------------------------------------------------- */

static const struct keel_reply *get(struct fx *f, const char *key, int64_t now)
{
    assert_int_equal(keel_store_get(f->st, S(key), now, &f->read), 0);
    return &f->read;
}

static const struct keel_reply *pttl(struct fx *f, const char *key, int64_t now)
{
    assert_int_equal(keel_store_pttl(f->st, S(key), now, &f->read), 0);
    return &f->read;
}

static const struct keel_reply *hget(struct fx *f, const char *key, const char *field,
                                     int64_t now)
{
    assert_int_equal(keel_store_hget(f->st, S(key), S(field), now, &f->read), 0);
    return &f->read;
}

static const struct keel_reply *hgetall(struct fx *f, const char *key, int64_t now)
{
    assert_int_equal(keel_store_hgetall(f->st, S(key), now, &f->read), 0);
    return &f->read;
}

static uint64_t version(struct fx *f, const char *key, int64_t now)
{
    uint64_t v = 12345;
    assert_int_equal(keel_store_version(f->st, S(key), now, &v), 0);
    return v;
}

/* The physical presence of a key, whatever its expiry. */
/* Whether a record is physically present (expired or not). */
static bool stored(struct fx *f, const char *key)
{
    struct keel_txn txn;
    struct keel_record rec;
    assert_int_equal(storage_txn_begin(f->storage, false, &txn), 0);
    int rc = storage_get(&txn, keel_str(key), &rec);
    storage_txn_abort(&txn);
    assert_true(rc == 0 || rc == KEEL_ENOTFOUND);
    return rc == 0;
}

static uint64_t dedupe_count(struct fx *f)
{
    struct keel_txn txn;
    assert_int_equal(storage_txn_begin(f->storage, false, &txn), 0);
    uint64_t n = storage_dedupe_count(&txn);
    storage_txn_abort(&txn);
    return n;
}

/* A recognisable value of n letters (NUL-terminated: buf holds n + 1). */
static void fill_value(char *buf, size_t n, int i)
{
    for (size_t j = 0; j < n; j++) buf[j] = (char)('a' + (i * 7 + (int)j) % 26);
    buf[n] = 0;
}

/* ---- reply checks ------------------------------------------------------ */

/* One expected reply item. */
struct want
{
    char kind;
    int64_t integer; /* INT value, ARRAY count, ERROR code */
    const void *p;   /* STATUS, BULK bytes */
    size_t n;
};

#define WANT_NIL ((struct want){KEEL_REPLY_NIL, 0, NULL, 0})
#define WANT_OK ((struct want){KEEL_REPLY_STATUS, 0, "OK", 2})
#define WANT_INT(v) ((struct want){KEEL_REPLY_INT, (v), NULL, 0})
#define WANT_BULK(s) ((struct want){KEEL_REPLY_BULK, 0, (s), strlen(s)})
#define WANT_BULKN(s, len) ((struct want){KEEL_REPLY_BULK, 0, (s), (len)})
#define WANT_ERR(code) ((struct want){KEEL_REPLY_ERROR, (code), NULL, 0})
#define WANT_ARRAY(count) ((struct want){KEEL_REPLY_ARRAY, (count), NULL, 0})

static void describe(const struct keel_reply_item *it)
{
    switch (it->kind) {
        case KEEL_REPLY_INT:
        case KEEL_REPLY_ARRAY:
            print_error("  got '%c' %" PRId64 "\n", it->kind, it->integer);
            break;
        case KEEL_REPLY_ERROR:
            print_error("  got error %" PRId64 " (%s): %.*s\n", it->integer,
                        keel_strerror((int)it->integer), (int)it->n,
                        it->p ? (const char *)it->p : "");
            break;
        case KEEL_REPLY_BULK:
        case KEEL_REPLY_STATUS:
            print_error("  got '%c' \"%.*s\"\n", it->kind, (int)it->n,
                        it->p ? (const char *)it->p : "");
            break;
        default:
            print_error("  got '%c'\n", it->kind);
    }
}

static void rd_want(struct keel_reply_reader *rd, struct want w, const char *file, int line)
{
    struct keel_reply_item it;
    int rc = keel_reply_next(rd, &it);
    if (rc != 0) {
        print_error("reply: no item (rc %d), wanted '%c'\n", rc, w.kind);
        _fail(file, line);
    }
    bool ok = it.kind == w.kind;
    if (ok) {
        switch (w.kind) {
            case KEEL_REPLY_INT:
            case KEEL_REPLY_ARRAY:
            case KEEL_REPLY_ERROR:
                ok = it.integer == w.integer;
                break;
            case KEEL_REPLY_BULK:
            case KEEL_REPLY_STATUS:
                ok = it.n == w.n && (w.n == 0 || memcmp(it.p, w.p, w.n) == 0);
                break;
        }
    }
    if (!ok) {
        if (w.kind == KEEL_REPLY_BULK || w.kind == KEEL_REPLY_STATUS)
            print_error("reply: wanted '%c' \"%.*s\"\n", w.kind, (int)w.n, (const char *)w.p);
        else
            print_error("reply: wanted '%c' %" PRId64 "\n", w.kind, w.integer);
        describe(&it);
        _fail(file, line);
    }
}

static void rd_end(struct keel_reply_reader *rd, const char *file, int line)
{
    struct keel_reply_item it;
    int rc = keel_reply_next(rd, &it);
    if (rc != KEEL_ENOTFOUND) {
        print_error("reply: trailing item (rc %d)\n", rc);
        if (rc == 0) describe(&it);
        _fail(file, line);
    }
}

static void expect_one(const struct keel_reply *r, struct want w, const char *file, int line)
{
    struct keel_reply_reader rd;
    keel_reply_reader_init(&rd, r);
    rd_want(&rd, w, file, line);
    rd_end(&rd, file, line);
}

/* The whole reply is this one item. */
#define EXPECT(r, w) expect_one((r), (w), __FILE__, __LINE__)
/* Item by item, through a reader. */
#define RD(rd, w) rd_want((rd), (w), __FILE__, __LINE__)
#define RD_END(rd) rd_end((rd), __FILE__, __LINE__)

/* Walk a whole reply stream; fails on a corrupt one. Returns the item count. */
static unsigned reply_items(const struct keel_reply *r)
{
    struct keel_reply_reader rd;
    struct keel_reply_item it;
    unsigned n = 0;
    int rc;
    keel_reply_reader_init(&rd, r);
    while ((rc = keel_reply_next(&rd, &it)) == 0) n++;
    assert_int_equal(rc, KEEL_ENOTFOUND);
    return n;
}

/* ---- SET --------------------------------------------------------------- */

static void test_set_plain(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(get(f, "k", 1000), WANT_NIL);
    EXPECT(do_set(f, "k", "v1", 0, 0), WANT_OK);
    EXPECT(get(f, "k", 1000), WANT_BULK("v1"));
    assert_int_equal(version(f, "k", 1000), f->index);
    EXPECT(pttl(f, "k", 1000), WANT_INT(-1));
    EXPECT(do_set(f, "k", "", 0, 0), WANT_OK);
    EXPECT(get(f, "k", 1000), WANT_BULK(""));
    EXPECT(do_set(f, "k", "v2", 0, 0), WANT_OK);
    EXPECT(get(f, "k", 1000), WANT_BULK("v2"));
    assert_int_equal(version(f, "k", 1000), f->index);
    assert_int_equal(version(f, "other", 1000), 0);
}

static void test_set_nx_xx(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_set(f, "k", "v1", 0, KEEL_SET_NX), WANT_OK);
    uint64_t v1 = f->index;
    EXPECT(do_set(f, "k", "v2", 0, KEEL_SET_NX), WANT_NIL);
    EXPECT(get(f, "k", 1000), WANT_BULK("v1"));
    assert_int_equal(version(f, "k", 1000), v1);

    EXPECT(do_set(f, "m", "v", 0, KEEL_SET_XX), WANT_NIL);
    EXPECT(get(f, "m", 1000), WANT_NIL);
    assert_false(stored(f, "m"));

    EXPECT(do_set(f, "k", "v3", 0, KEEL_SET_XX), WANT_OK);
    EXPECT(get(f, "k", 1000), WANT_BULK("v3"));
    assert_int_equal(version(f, "k", 1000), f->index);

    /* NX on an expired key: the key is absent, so NX sets. */
    EXPECT(do_set(f, "e", "old", 1500, 0), WANT_OK);
    f->ts = 1500;
    EXPECT(do_set(f, "e", "new", 0, KEEL_SET_NX), WANT_OK);
    EXPECT(get(f, "e", 1500), WANT_BULK("new"));
    EXPECT(pttl(f, "e", 1500), WANT_INT(-1));
    /* XX on an expired key: absent, so nothing. */
    EXPECT(do_set(f, "x", "old", 1600, 0), WANT_OK);
    f->ts = 1600;
    EXPECT(do_set(f, "x", "new", 0, KEEL_SET_XX), WANT_NIL);
    EXPECT(get(f, "x", 0), WANT_NIL);
}

static void test_set_get(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_set(f, "k", "v1", 0, KEEL_SET_GET), WANT_NIL);
    EXPECT(get(f, "k", 1000), WANT_BULK("v1"));
    EXPECT(do_set(f, "k", "v2", 0, KEEL_SET_GET), WANT_BULK("v1"));
    EXPECT(get(f, "k", 1000), WANT_BULK("v2"));
    assert_int_equal(version(f, "k", 1000), f->index);

    /* NX GET on an existing key: the old value, nothing set (Redis 7). */
    uint64_t v = f->index;
    EXPECT(do_set(f, "k", "v3", 0, KEEL_SET_NX | KEEL_SET_GET), WANT_BULK("v2"));
    EXPECT(get(f, "k", 1000), WANT_BULK("v2"));
    assert_int_equal(version(f, "k", 1000), v);
    /* XX GET on a missing key: nil, nothing set. */
    EXPECT(do_set(f, "m", "v", 0, KEEL_SET_XX | KEEL_SET_GET), WANT_NIL);
    assert_false(stored(f, "m"));
    /* XX GET on an existing key: old value, set. */
    EXPECT(do_set(f, "k", "v4", 0, KEEL_SET_XX | KEEL_SET_GET), WANT_BULK("v2"));
    EXPECT(get(f, "k", 1000), WANT_BULK("v4"));
    /* NX GET on a missing key: nil, set. */
    EXPECT(do_set(f, "n", "v", 0, KEEL_SET_NX | KEEL_SET_GET), WANT_NIL);
    EXPECT(get(f, "n", 1000), WANT_BULK("v"));
}

static void test_set_get_wrongtype(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_hset(f, "h", LIST("f", "v")), WANT_INT(1));
    uint64_t v = f->index;
    EXPECT(do_set(f, "h", "x", 0, KEEL_SET_GET), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(do_set(f, "h", "x", 0, KEEL_SET_GET | KEEL_SET_NX), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(do_set(f, "h", "x", 0, KEEL_SET_GET | KEEL_SET_XX), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(hget(f, "h", "f", 1000), WANT_BULK("v"));
    assert_int_equal(version(f, "h", 1000), v);
    /* Without GET, SET replaces a key of any type, as in Redis. */
    EXPECT(do_set(f, "h", "x", 0, 0), WANT_OK);
    EXPECT(get(f, "h", 1000), WANT_BULK("x"));
    EXPECT(hget(f, "h", "f", 1000), WANT_ERR(KEEL_EWRONGTYPE));
}

static void test_set_ttl(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    /* expire_at is absolute. */
    EXPECT(do_set(f, "k", "v1", 5000, 0), WANT_OK);
    EXPECT(pttl(f, "k", 1000), WANT_INT(4000));
    EXPECT(pttl(f, "k", 2500), WANT_INT(2500));
    EXPECT(get(f, "k", 4999), WANT_BULK("v1"));
    EXPECT(get(f, "k", 5000), WANT_NIL);

    /* KEEPTTL keeps the old expiry. */
    f->ts = 2000;
    EXPECT(do_set(f, "k", "v2", 0, KEEL_SET_KEEPTTL), WANT_OK);
    EXPECT(get(f, "k", 2000), WANT_BULK("v2"));
    EXPECT(pttl(f, "k", 2000), WANT_INT(3000));
    assert_int_equal(version(f, "k", 2000), f->index);
    /* KEEPTTL on a key without TTL, or a missing key: none. */
    EXPECT(do_set(f, "p", "v", 0, KEEL_SET_KEEPTTL), WANT_OK);
    EXPECT(pttl(f, "p", 2000), WANT_INT(-1));
    EXPECT(do_set(f, "p", "v", 0, KEEL_SET_KEEPTTL), WANT_OK);
    EXPECT(pttl(f, "p", 2000), WANT_INT(-1));

    /* A plain SET clears the TTL. */
    EXPECT(do_set(f, "k", "v3", 0, 0), WANT_OK);
    EXPECT(pttl(f, "k", 2000), WANT_INT(-1));
    EXPECT(get(f, "k", 999999), WANT_BULK("v3"));

    /* A SET with a new expiry replaces the old one. */
    EXPECT(do_set(f, "k", "v4", 6000, 0), WANT_OK);
    EXPECT(do_set(f, "k", "v5", 9000, 0), WANT_OK);
    EXPECT(pttl(f, "k", 2000), WANT_INT(7000));
    EXPECT(do_set(f, "k", "v6", 4000, 0), WANT_OK);
    EXPECT(pttl(f, "k", 2000), WANT_INT(2000));
    assert_false(stored(f, "zz"));
}

static void test_set_expired_at_once(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    /* Expiry at the entry's own timestamp: set and gone at once. */
    EXPECT(do_set(f, "new", "v", 1000, 0), WANT_OK);
    assert_false(stored(f, "new"));
    EXPECT(get(f, "new", 0), WANT_NIL);
    /* Overwriting an existing key with an expiry in the past deletes it. */
    EXPECT(do_set(f, "k", "v", 0, 0), WANT_OK);
    EXPECT(do_set(f, "k", "v2", 500, 0), WANT_OK);
    assert_false(stored(f, "k"));
    assert_int_equal(version(f, "k", 0), 0);
    /* With GET, the old value still comes back. */
    EXPECT(do_set(f, "g", "old", 0, 0), WANT_OK);
    EXPECT(do_set(f, "g", "new", 1, KEEL_SET_GET), WANT_BULK("old"));
    assert_false(stored(f, "g"));
    /* The same applies to a hash overwritten by a past-expiry SET. */
    EXPECT(do_hset(f, "h", LIST("a", "1")), WANT_INT(1));
    EXPECT(do_set(f, "h", "v", 999, 0), WANT_OK);
    assert_false(stored(f, "h"));
    /* An expiry one ms ahead survives. */
    EXPECT(do_set(f, "s", "v", 1001, 0), WANT_OK);
    EXPECT(get(f, "s", 1000), WANT_BULK("v"));
    EXPECT(pttl(f, "s", 1000), WANT_INT(1));
}

static void test_set_versions(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_set(f, "a", "1", 0, 0), WANT_OK);
    uint64_t va = f->index;
    EXPECT(do_set(f, "b", "1", 0, 0), WANT_OK);
    uint64_t vb = f->index;
    EXPECT(do_noop(f), WANT_OK);
    EXPECT(do_set(f, "c", "1", 0, 0), WANT_OK);
    assert_int_equal(version(f, "a", 1000), va);
    assert_int_equal(version(f, "b", 1000), vb);
    assert_int_equal(version(f, "c", 1000), f->index);
    /* Every kind of change moves the version to its index. */
    EXPECT(do_incrby(f, "a", 1), WANT_INT(2));
    assert_int_equal(version(f, "a", 1000), f->index);
    EXPECT(do_expire(f, "a", 90000, 0), WANT_INT(1));
    assert_int_equal(version(f, "a", 1000), f->index);
    EXPECT(do_persist(f, "a"), WANT_INT(1));
    assert_int_equal(version(f, "a", 1000), f->index);
    /* Commands that change nothing leave it. */
    uint64_t v = f->index;
    EXPECT(do_persist(f, "a"), WANT_INT(0));
    EXPECT(do_expire(f, "a", 90000, KEEL_EXPIRE_XX), WANT_INT(0));
    EXPECT(do_set(f, "a", "x", 0, KEEL_SET_NX), WANT_NIL);
    EXPECT(do_del(f, LIST("zz")), WANT_INT(0));
    assert_int_equal(version(f, "a", 1000), v);
}

/* ---- DEL --------------------------------------------------------------- */

static void test_del(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_set(f, "a", "1", 0, 0), WANT_OK);
    EXPECT(do_set(f, "b", "2", 0, 0), WANT_OK);
    EXPECT(do_set(f, "c", "3", 2000, 0), WANT_OK);
    EXPECT(do_set(f, "d", "4", 0, 0), WANT_OK);
    EXPECT(do_hset(f, "h", LIST("f", "v")), WANT_INT(1));

    EXPECT(do_del(f, LIST("a", "a", "b", "missing", "h", "a")), WANT_INT(3));
    assert_false(stored(f, "a"));
    assert_false(stored(f, "b"));
    assert_false(stored(f, "h"));
    EXPECT(get(f, "d", 1000), WANT_BULK("4"));
    EXPECT(do_del(f, LIST("a")), WANT_INT(0));

    /* An expired key counts 0 (and is gone afterwards). */
    f->ts = 2000;
    assert_true(stored(f, "c"));
    EXPECT(do_del(f, LIST("c", "d")), WANT_INT(1));
    assert_false(stored(f, "c"));
    assert_false(stored(f, "d"));
}

/* ---- INCRBY ------------------------------------------------------------ */

static void test_incrby(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_incrby(f, "n", 5), WANT_INT(5));
    EXPECT(get(f, "n", 1000), WANT_BULK("5"));
    EXPECT(do_incrby(f, "n", -7), WANT_INT(-2));
    EXPECT(get(f, "n", 1000), WANT_BULK("-2"));
    EXPECT(do_incrby(f, "n", 2), WANT_INT(0));
    EXPECT(get(f, "n", 1000), WANT_BULK("0"));
    assert_int_equal(version(f, "n", 1000), f->index);
    EXPECT(pttl(f, "n", 1000), WANT_INT(-1));

    /* Not an integer: error, value and version unchanged. */
    EXPECT(do_set(f, "s", "abc", 0, 0), WANT_OK);
    uint64_t v = f->index;
    EXPECT(do_incrby(f, "s", 1), WANT_ERR(KEEL_ENOTINT));
    EXPECT(get(f, "s", 1000), WANT_BULK("abc"));
    assert_int_equal(version(f, "s", 1000), v);

    /* A hash: WRONGTYPE, unchanged. */
    EXPECT(do_hset(f, "h", LIST("f", "1")), WANT_INT(1));
    v = f->index;
    EXPECT(do_incrby(f, "h", 1), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(hget(f, "h", "f", 1000), WANT_BULK("1"));
    assert_int_equal(version(f, "h", 1000), v);

    /* Overflow both ways: error, unchanged. */
    EXPECT(do_set(f, "max", "9223372036854775807", 0, 0), WANT_OK);
    v = f->index;
    EXPECT(do_incrby(f, "max", 1), WANT_ERR(KEEL_EOVERFLOW));
    EXPECT(do_incrby(f, "max", INT64_MAX), WANT_ERR(KEEL_EOVERFLOW));
    EXPECT(get(f, "max", 1000), WANT_BULK("9223372036854775807"));
    assert_int_equal(version(f, "max", 1000), v);
    EXPECT(do_incrby(f, "max", 0), WANT_INT(INT64_MAX));
    EXPECT(do_incrby(f, "max", INT64_MIN), WANT_INT(-1));
    EXPECT(do_set(f, "min", "-9223372036854775808", 0, 0), WANT_OK);
    EXPECT(do_incrby(f, "min", -1), WANT_ERR(KEEL_EOVERFLOW));
    EXPECT(do_incrby(f, "min", INT64_MIN), WANT_ERR(KEEL_EOVERFLOW));
    EXPECT(get(f, "min", 1000), WANT_BULK("-9223372036854775808"));
    EXPECT(do_incrby(f, "min", INT64_MAX), WANT_INT(-1));
    EXPECT(do_incrby(f, "fresh", INT64_MIN), WANT_INT(INT64_MIN));
    EXPECT(get(f, "fresh", 1000), WANT_BULK("-9223372036854775808"));

    /* INCRBY keeps the key's TTL. */
    EXPECT(do_set(f, "t", "1", 9000, 0), WANT_OK);
    EXPECT(do_incrby(f, "t", 1), WANT_INT(2));
    EXPECT(pttl(f, "t", 1000), WANT_INT(8000));
    EXPECT(get(f, "t", 8999), WANT_BULK("2"));
    EXPECT(get(f, "t", 9000), WANT_NIL);
}

static void test_incrby_parse(void **state)
{
    struct fx *f = *state;
    /* Redis string2ll rules: no spaces, sign only '-', no leading zeros, no
     * "-0", within int64. */
    static const char *const bad[] = {
        " 1", "1 ", "01", "+1", "1a", "", "-", "-0", "00", "--1", "1.0", "0x10", "1e3",
        "9223372036854775808", "-9223372036854775809", "99999999999999999999",
        "18446744073709551616", "123456789012345678901", "\t1", "1\n",
    };
    static const struct { const char *s; int64_t next; } good[] = {
        {"0", 1}, {"-1", 0}, {"10", 11}, {"9223372036854775806", INT64_MAX},
        {"-9223372036854775808", INT64_MIN + 1}, {"-10", -9}, {"1234567890", 1234567891},
    };
    char key[32];
    f->ts = 1000;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(key, sizeof key, "bad%zu", i);
        EXPECT(do_set(f, key, bad[i], 0, 0), WANT_OK);
        struct keel_reply_reader rd;
        struct keel_reply_item it;
        keel_reply_reader_init(&rd, do_incrby(f, key, 1));
        assert_int_equal(keel_reply_next(&rd, &it), 0);
        if (it.kind != KEEL_REPLY_ERROR || it.integer != KEEL_ENOTINT)
            fail_msg("INCRBY accepted \"%s\"", bad[i]);
        EXPECT(get(f, key, 1000), WANT_BULK(bad[i]));
        /* HINCRBY follows the same rules. */
        EXPECT(do_hset(f, "h", LIST("f", bad[i])), WANT_INT(i == 0));
        EXPECT(do_hincrby(f, "h", "f", 1), WANT_ERR(KEEL_ENOTINT));
    }
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(key, sizeof key, "good%zu", i);
        EXPECT(do_set(f, key, good[i].s, 0, 0), WANT_OK);
        EXPECT(do_incrby(f, key, 1), WANT_INT(good[i].next));
        EXPECT(do_hset(f, "h", LIST("f", good[i].s)), WANT_INT(0));
        EXPECT(do_hincrby(f, "h", "f", 1), WANT_INT(good[i].next));
    }
}

/* ---- EXPIRE / PERSIST -------------------------------------------------- */

static void test_expire(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_expire(f, "missing", 5000, 0), WANT_INT(0));
    EXPECT(do_expire(f, "missing", 500, 0), WANT_INT(0));
    assert_false(stored(f, "missing"));

    EXPECT(do_set(f, "k", "v", 0, 0), WANT_OK);
    /* No TTL counts as infinite (Redis 7). */
    EXPECT(do_expire(f, "k", 5000, KEEL_EXPIRE_XX), WANT_INT(0));
    EXPECT(do_expire(f, "k", 5000, KEEL_EXPIRE_GT), WANT_INT(0));
    EXPECT(do_expire(f, "k", 5000, KEEL_EXPIRE_XX | KEEL_EXPIRE_LT), WANT_INT(0));
    EXPECT(pttl(f, "k", 1000), WANT_INT(-1));
    EXPECT(do_expire(f, "k", 5000, KEEL_EXPIRE_LT), WANT_INT(1));
    EXPECT(pttl(f, "k", 1000), WANT_INT(4000));
    assert_int_equal(version(f, "k", 1000), f->index);
    EXPECT(do_expire(f, "k", 6000, KEEL_EXPIRE_NX), WANT_INT(0));
    EXPECT(pttl(f, "k", 1000), WANT_INT(4000));
    /* GT: strictly greater. */
    EXPECT(do_expire(f, "k", 4000, KEEL_EXPIRE_GT), WANT_INT(0));
    EXPECT(do_expire(f, "k", 5000, KEEL_EXPIRE_GT), WANT_INT(0));
    EXPECT(do_expire(f, "k", 6000, KEEL_EXPIRE_GT), WANT_INT(1));
    EXPECT(pttl(f, "k", 1000), WANT_INT(5000));
    /* LT: strictly less. */
    EXPECT(do_expire(f, "k", 7000, KEEL_EXPIRE_LT), WANT_INT(0));
    EXPECT(do_expire(f, "k", 6000, KEEL_EXPIRE_LT), WANT_INT(0));
    EXPECT(do_expire(f, "k", 3000, KEEL_EXPIRE_LT), WANT_INT(1));
    EXPECT(pttl(f, "k", 1000), WANT_INT(2000));
    /* XX with a TTL, and XX combined with GT / LT. */
    EXPECT(do_expire(f, "k", 8000, KEEL_EXPIRE_XX), WANT_INT(1));
    EXPECT(do_expire(f, "k", 9000, KEEL_EXPIRE_XX | KEEL_EXPIRE_GT), WANT_INT(1));
    EXPECT(do_expire(f, "k", 9500, KEEL_EXPIRE_XX | KEEL_EXPIRE_LT), WANT_INT(0));
    EXPECT(do_expire(f, "k", 8500, KEEL_EXPIRE_XX | KEEL_EXPIRE_LT), WANT_INT(1));
    EXPECT(pttl(f, "k", 1000), WANT_INT(7500));
    /* Plain EXPIRE can shorten or lengthen. */
    EXPECT(do_expire(f, "k", 20000, 0), WANT_INT(1));
    EXPECT(pttl(f, "k", 1000), WANT_INT(19000));
    EXPECT(get(f, "k", 19999), WANT_BULK("v"));

    /* PERSIST: 1 only when a TTL was removed. */
    EXPECT(do_persist(f, "k"), WANT_INT(1));
    EXPECT(pttl(f, "k", 1000), WANT_INT(-1));
    assert_int_equal(version(f, "k", 1000), f->index);
    EXPECT(do_persist(f, "k"), WANT_INT(0));
    EXPECT(do_persist(f, "missing"), WANT_INT(0));
    EXPECT(get(f, "k", 1000), WANT_BULK("v"));
    EXPECT(do_expire(f, "k", 5000, KEEL_EXPIRE_NX), WANT_INT(1));
    EXPECT(pttl(f, "k", 1000), WANT_INT(4000));

    /* A flag that fails beats an expiry in the past: nothing happens. */
    EXPECT(do_expire(f, "k", 500, KEEL_EXPIRE_GT), WANT_INT(0));
    EXPECT(do_expire(f, "k", 500, KEEL_EXPIRE_NX), WANT_INT(0));
    assert_true(stored(f, "k"));
    /* In the past (or now): the key is deleted, reply 1. */
    EXPECT(do_expire(f, "k", 500, 0), WANT_INT(1));
    assert_false(stored(f, "k"));
    EXPECT(do_set(f, "k2", "v", 0, 0), WANT_OK);
    EXPECT(do_expire(f, "k2", 1000, 0), WANT_INT(1));
    assert_false(stored(f, "k2"));
    EXPECT(do_set(f, "k3", "v", 0, 0), WANT_OK);
    EXPECT(do_expire(f, "k3", -5, KEEL_EXPIRE_LT), WANT_INT(1));
    assert_false(stored(f, "k3"));

    /* EXPIRE and PERSIST work on hashes and keep their content. */
    EXPECT(do_hset(f, "h", LIST("a", "1")), WANT_INT(1));
    EXPECT(do_expire(f, "h", 3000, 0), WANT_INT(1));
    EXPECT(hget(f, "h", "a", 2999), WANT_BULK("1"));
    EXPECT(hget(f, "h", "a", 3000), WANT_NIL);
    EXPECT(do_persist(f, "h"), WANT_INT(1));
    EXPECT(hget(f, "h", "a", 99999), WANT_BULK("1"));

    /* PERSIST / EXPIRE on an expired key: 0, as if absent. */
    EXPECT(do_set(f, "e", "v", 1500, 0), WANT_OK);
    f->ts = 1500;
    EXPECT(do_persist(f, "e"), WANT_INT(0));
    EXPECT(do_expire(f, "e", 9000, 0), WANT_INT(0));
    EXPECT(get(f, "e", 0), WANT_NIL);
}

/* ---- expiry by log time ------------------------------------------------ */

static void test_expiry_entry_ts(void **state)
{
    struct fx *f = *state;
    f->ts = 500;
    EXPECT(do_set(f, "k", "5", 1000, 0), WANT_OK);
    EXPECT(do_set(f, "j", "5", 1000, 0), WANT_OK);
    /* Visible to an entry at 999, whatever any clock says. */
    f->ts = 999;
    EXPECT(do_incrby(f, "k", 1), WANT_INT(6));
    EXPECT(pttl(f, "k", 999), WANT_INT(1));
    /* Absent for an entry at 1000: INCRBY starts over, without a TTL. */
    f->ts = 1000;
    EXPECT(do_incrby(f, "k", 1), WANT_INT(1));
    EXPECT(pttl(f, "k", 1000), WANT_INT(-1));
    EXPECT(do_set(f, "j", "x", 0, KEEL_SET_GET), WANT_NIL);
}

static void test_expiry_clock_monotonic(void **state)
{
    struct fx *f = *state;
    f->ts = 100;
    EXPECT(do_set(f, "a", "1", 2000, 0), WANT_OK);
    EXPECT(do_set(f, "b", "x", 2000, 0), WANT_OK);
    EXPECT(do_set(f, "c", "x", 2000, 0), WANT_OK);
    EXPECT(do_set(f, "d", "x", 2000, 0), WANT_OK);
    EXPECT(do_hset(f, "h", LIST("f", "1")), WANT_INT(1));
    EXPECT(do_expire(f, "h", 2000, 0), WANT_INT(1));
    f->ts = 5000;
    EXPECT(do_noop(f), WANT_OK);
    /* A later entry carrying an older timestamp (a leader with a slow clock)
     * still sees them expired: the clock is the max of timestamps seen. */
    f->ts = 100;
    EXPECT(do_incrby(f, "a", 1), WANT_INT(1));
    EXPECT(do_set(f, "b", "y", 0, KEEL_SET_NX | KEEL_SET_GET), WANT_NIL);
    EXPECT(do_expire(f, "c", 9000, 0), WANT_INT(0));
    EXPECT(do_hincrby(f, "h", "f", 1), WANT_INT(1));
    EXPECT(do_del(f, LIST("d")), WANT_INT(0));
    /* Expiries at or before the clock are past, whatever the entry says. */
    EXPECT(do_set(f, "e", "v", 3000, 0), WANT_OK);
    assert_false(stored(f, "e"));
    EXPECT(do_set(f, "e", "v", 5000, 0), WANT_OK);
    assert_false(stored(f, "e"));
    EXPECT(do_set(f, "e", "v", 5001, 0), WANT_OK);
    assert_true(stored(f, "e"));
    /* And a sweep at ts 100 uses the clock too. */
    EXPECT(do_set(f, "s", "v", 0, 0), WANT_OK);
    EXPECT(do_expire(f, "s", 5001, 0), WANT_INT(1));
    f->ts = 5001;
    EXPECT(do_noop(f), WANT_OK);
    f->ts = 100;
    struct keel_reply_reader rd;
    keel_reply_reader_init(&rd, do_sweep(f, 10));
    RD(&rd, WANT_ARRAY(2));
    RD(&rd, WANT_BULK("e"));
    RD(&rd, WANT_BULK("s"));
    RD_END(&rd);
}

/* ---- reads ------------------------------------------------------------- */

static void test_reads(void **state)
{
    struct fx *f = *state;
    struct keel_reply_reader rd;
    f->ts = 1000;
    EXPECT(do_set(f, "s", "v", 3000, 0), WANT_OK);
    uint64_t vs = f->index;
    EXPECT(do_set(f, "p", "x", 0, 0), WANT_OK);
    EXPECT(do_hset(f, "h", LIST("b", "2", "a", "1")), WANT_INT(2));
    EXPECT(do_expire(f, "h", 3000, 0), WANT_INT(1));
    uint64_t vh = f->index;

    EXPECT(get(f, "s", 2999), WANT_BULK("v"));
    EXPECT(get(f, "s", 3000), WANT_NIL);
    EXPECT(get(f, "missing", 0), WANT_NIL);
    EXPECT(pttl(f, "s", 1000), WANT_INT(2000));
    EXPECT(pttl(f, "s", 2999), WANT_INT(1));
    EXPECT(pttl(f, "s", 3000), WANT_INT(-2));
    EXPECT(pttl(f, "p", 1000), WANT_INT(-1));
    EXPECT(pttl(f, "p", INT64_MAX), WANT_INT(-1));
    EXPECT(pttl(f, "missing", 1000), WANT_INT(-2));
    /* A reader whose clock is behind the entries reads at the replicated
     * logical clock (1000 here) instead. */
    EXPECT(pttl(f, "s", 0), WANT_INT(2000));

    EXPECT(hget(f, "h", "a", 2999), WANT_BULK("1"));
    EXPECT(hget(f, "h", "zz", 2999), WANT_NIL);
    EXPECT(hget(f, "h", "a", 3000), WANT_NIL);
    EXPECT(hget(f, "missing", "a", 0), WANT_NIL);
    keel_reply_reader_init(&rd, hgetall(f, "h", 2999));
    RD(&rd, WANT_ARRAY(4));
    RD(&rd, WANT_BULK("a"));
    RD(&rd, WANT_BULK("1"));
    RD(&rd, WANT_BULK("b"));
    RD(&rd, WANT_BULK("2"));
    RD_END(&rd);
    EXPECT(hgetall(f, "h", 3000), WANT_ARRAY(0));
    EXPECT(hgetall(f, "missing", 0), WANT_ARRAY(0));

    assert_int_equal(version(f, "s", 2999), vs);
    assert_int_equal(version(f, "s", 3000), 0);
    assert_int_equal(version(f, "h", 2999), vh);
    assert_int_equal(version(f, "h", 3000), 0);
    assert_int_equal(version(f, "missing", 0), 0);

    /* Wrong types. */
    EXPECT(get(f, "h", 1000), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(hget(f, "s", "a", 1000), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(hgetall(f, "p", 1000), WANT_ERR(KEEL_EWRONGTYPE));
    /* A hidden (expired) key of the wrong type is just absent. */
    EXPECT(hget(f, "s", "a", 3000), WANT_NIL);
    EXPECT(get(f, "h", 3000), WANT_NIL);
    /* PTTL of a hash. */
    EXPECT(pttl(f, "h", 1000), WANT_INT(2000));
}

/* ---- hashes ------------------------------------------------------------ */

static void test_hash(void **state)
{
    struct fx *f = *state;
    struct keel_reply_reader rd;
    f->ts = 1000;
    EXPECT(do_hset(f, "h", LIST("a", "1", "b", "2")), WANT_INT(2));
    assert_int_equal(version(f, "h", 1000), f->index);
    EXPECT(do_hset(f, "h", LIST("b", "3", "c", "4")), WANT_INT(1));
    EXPECT(hget(f, "h", "b", 1000), WANT_BULK("3"));
    /* The same field twice in one HSET: one new field, the last value wins. */
    EXPECT(do_hset(f, "h", LIST("d", "5", "d", "6")), WANT_INT(1));
    EXPECT(hget(f, "h", "d", 1000), WANT_BULK("6"));
    EXPECT(do_hset(f, "h", LIST("a", "x", "a", "y")), WANT_INT(0));
    EXPECT(hget(f, "h", "a", 1000), WANT_BULK("y"));
    /* Field order: bytewise, shorter first on a tie. */
    EXPECT(do_hset(f, "h", LIST("zeta", "z", "al", "l", "alpha", "p", "", "e")), WANT_INT(4));
    keel_reply_reader_init(&rd, hgetall(f, "h", 1000));
    RD(&rd, WANT_ARRAY(16));
    static const char *const order[] = {"", "e", "a", "y", "al", "l", "alpha", "p",
                                        "b", "3", "c", "4", "d", "6", "zeta", "z"};
    for (size_t i = 0; i < 16; i++) RD(&rd, WANT_BULK(order[i]));
    RD_END(&rd);

    /* HDEL counts removed fields; a field named twice counts once. */
    uint64_t v = f->index;
    EXPECT(do_hdel(f, "h", LIST("nope")), WANT_INT(0));
    assert_int_equal(version(f, "h", 1000), v);
    EXPECT(do_hdel(f, "h", LIST("a", "zz", "a", "b")), WANT_INT(2));
    assert_int_equal(version(f, "h", 1000), f->index);
    EXPECT(hget(f, "h", "a", 1000), WANT_NIL);
    EXPECT(hget(f, "h", "c", 1000), WANT_BULK("4"));
    EXPECT(do_hdel(f, "missing", LIST("a")), WANT_INT(0));
    assert_false(stored(f, "missing"));
    /* Deleting the last field deletes the key. */
    EXPECT(do_hdel(f, "h", LIST("", "al", "alpha", "c", "d")), WANT_INT(5));
    assert_true(stored(f, "h"));
    EXPECT(do_hdel(f, "h", LIST("zeta", "zeta")), WANT_INT(1));
    assert_false(stored(f, "h"));
    EXPECT(hgetall(f, "h", 1000), WANT_ARRAY(0));
    EXPECT(pttl(f, "h", 1000), WANT_INT(-2));
    /* ... so the name is free for a string. */
    EXPECT(do_incrby(f, "h", 1), WANT_INT(1));
}

static void test_hincrby(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_hincrby(f, "h", "x", 5), WANT_INT(5));
    EXPECT(hget(f, "h", "x", 1000), WANT_BULK("5"));
    assert_int_equal(version(f, "h", 1000), f->index);
    EXPECT(do_hincrby(f, "h", "y", -3), WANT_INT(-3));
    EXPECT(do_hincrby(f, "h", "x", 2), WANT_INT(7));
    EXPECT(hget(f, "h", "y", 1000), WANT_BULK("-3"));

    EXPECT(do_hset(f, "h", LIST("s", "abc", "m", "9223372036854775807")), WANT_INT(2));
    uint64_t v = f->index;
    EXPECT(do_hincrby(f, "h", "s", 1), WANT_ERR(KEEL_ENOTINT));
    EXPECT(hget(f, "h", "s", 1000), WANT_BULK("abc"));
    EXPECT(do_hincrby(f, "h", "m", 1), WANT_ERR(KEEL_EOVERFLOW));
    EXPECT(hget(f, "h", "m", 1000), WANT_BULK("9223372036854775807"));
    EXPECT(do_hincrby(f, "h", "y", INT64_MIN), WANT_ERR(KEEL_EOVERFLOW));
    EXPECT(hget(f, "h", "y", 1000), WANT_BULK("-3"));
    assert_int_equal(version(f, "h", 1000), v);
    /* HINCRBY by 0 on a missing key creates the field. */
    EXPECT(do_hincrby(f, "new", "f", 0), WANT_INT(0));
    EXPECT(hget(f, "new", "f", 1000), WANT_BULK("0"));
}

static void test_hash_wrongtype(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_set(f, "s", "v", 0, 0), WANT_OK);
    uint64_t v = f->index;
    EXPECT(do_hset(f, "s", LIST("f", "v")), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(do_hdel(f, "s", LIST("f")), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(do_hincrby(f, "s", "f", 1), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(get(f, "s", 1000), WANT_BULK("v"));
    assert_int_equal(version(f, "s", 1000), v);

    EXPECT(do_hset(f, "h", LIST("f", "1")), WANT_INT(1));
    v = f->index;
    EXPECT(do_incrby(f, "h", 1), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(do_set(f, "h", "x", 0, KEEL_SET_GET), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(do_cas(f, "h", KEEL_CAS_VALUE, 0, "1", "x", 0), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(hget(f, "h", "f", 1000), WANT_BULK("1"));
    assert_int_equal(version(f, "h", 1000), v);

    /* An expired string no longer blocks hash commands. */
    EXPECT(do_set(f, "e", "v", 1500, 0), WANT_OK);
    f->ts = 1500;
    EXPECT(do_hset(f, "e", LIST("f", "v")), WANT_INT(1));
    EXPECT(pttl(f, "e", 1500), WANT_INT(-1));
    EXPECT(do_set(f, "e2", "v", 1600, 0), WANT_OK);
    f->ts = 1600;
    EXPECT(do_hincrby(f, "e2", "f", 3), WANT_INT(3));
    EXPECT(pttl(f, "e2", 1600), WANT_INT(-1));
}

static void test_hash_keeps_ttl(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_hset(f, "h", LIST("a", "1", "b", "2")), WANT_INT(2));
    EXPECT(do_expire(f, "h", 9000, 0), WANT_INT(1));
    EXPECT(do_hset(f, "h", LIST("c", "3")), WANT_INT(1));
    EXPECT(pttl(f, "h", 1000), WANT_INT(8000));
    EXPECT(do_hincrby(f, "h", "a", 1), WANT_INT(2));
    EXPECT(pttl(f, "h", 1000), WANT_INT(8000));
    EXPECT(do_hdel(f, "h", LIST("b")), WANT_INT(1));
    EXPECT(pttl(f, "h", 1000), WANT_INT(8000));
    /* An expired hash is a new one: no TTL, old fields gone. */
    f->ts = 9000;
    EXPECT(do_hset(f, "h", LIST("z", "1")), WANT_INT(1));
    EXPECT(pttl(f, "h", 9000), WANT_INT(-1));
    struct keel_reply_reader rd;
    keel_reply_reader_init(&rd, hgetall(f, "h", 9000));
    RD(&rd, WANT_ARRAY(2));
    RD(&rd, WANT_BULK("z"));
    RD(&rd, WANT_BULK("1"));
    RD_END(&rd);
    /* HDEL on an expired hash: 0. */
    EXPECT(do_expire(f, "h", 9500, 0), WANT_INT(1));
    f->ts = 9500;
    EXPECT(do_hdel(f, "h", LIST("z")), WANT_INT(0));
    EXPECT(hgetall(f, "h", 9500), WANT_ARRAY(0));
}

/* ---- CAS --------------------------------------------------------------- */

static void test_cas_version(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    /* Version 0: the key must be absent. */
    EXPECT(do_cas(f, "k", KEEL_CAS_VERSION, 0, "", "a", 0), WANT_INT(1));
    uint64_t v1 = f->index;
    EXPECT(get(f, "k", 1000), WANT_BULK("a"));
    assert_int_equal(version(f, "k", 1000), v1);
    EXPECT(do_cas(f, "k", KEEL_CAS_VERSION, 0, "", "b", 0), WANT_INT(0));
    EXPECT(get(f, "k", 1000), WANT_BULK("a"));
    /* The current version matches. */
    EXPECT(do_cas(f, "k", KEEL_CAS_VERSION, v1, "", "b", 0), WANT_INT(1));
    uint64_t v2 = f->index;
    EXPECT(get(f, "k", 1000), WANT_BULK("b"));
    assert_int_equal(version(f, "k", 1000), v2);
    /* A stale one does not. */
    EXPECT(do_cas(f, "k", KEEL_CAS_VERSION, v1, "", "c", 0), WANT_INT(0));
    EXPECT(do_cas(f, "k", KEEL_CAS_VERSION, v2 + 100, "", "c", 0), WANT_INT(0));
    EXPECT(get(f, "k", 1000), WANT_BULK("b"));
    assert_int_equal(version(f, "k", 1000), v2);
    /* With an expiry; then without, which clears it. */
    EXPECT(do_cas(f, "k", KEEL_CAS_VERSION, v2, "", "d", 5000), WANT_INT(1));
    EXPECT(pttl(f, "k", 1000), WANT_INT(4000));
    EXPECT(do_cas(f, "k", KEEL_CAS_VERSION, f->index, "", "e", 0), WANT_INT(1));
    EXPECT(pttl(f, "k", 1000), WANT_INT(-1));
    /* DELETE. */
    uint64_t v3 = version(f, "k", 1000);
    EXPECT(do_cas(f, "k", KEEL_CAS_VERSION | KEEL_CAS_DELETE, v2, "", "", 0), WANT_INT(0));
    assert_true(stored(f, "k"));
    EXPECT(do_cas(f, "k", KEEL_CAS_VERSION | KEEL_CAS_DELETE, v3, "", "", 0), WANT_INT(1));
    assert_false(stored(f, "k"));
    /* Deleting an absent key "at version 0" matches, and changes nothing. */
    EXPECT(do_cas(f, "k", KEEL_CAS_VERSION | KEEL_CAS_DELETE, 0, "", "", 0), WANT_INT(1));
    assert_false(stored(f, "k"));
    /* An expiry already past: matches, and the key is gone. */
    EXPECT(do_cas(f, "k", KEEL_CAS_VERSION, 0, "", "x", 0), WANT_INT(1));
    EXPECT(do_cas(f, "k", KEEL_CAS_VERSION, f->index, "", "y", 1000), WANT_INT(1));
    assert_false(stored(f, "k"));
    /* An expired key has version 0. */
    EXPECT(do_set(f, "e", "v", 1500, 0), WANT_OK);
    uint64_t ve = f->index;
    f->ts = 1500;
    EXPECT(do_cas(f, "e", KEEL_CAS_VERSION, ve, "", "w", 0), WANT_INT(0));
    EXPECT(do_cas(f, "e", KEEL_CAS_VERSION, 0, "", "w", 0), WANT_INT(1));
    EXPECT(get(f, "e", 1500), WANT_BULK("w"));
    /* Version mode does not look at the type: it replaces a hash. */
    EXPECT(do_hset(f, "h", LIST("f", "v")), WANT_INT(1));
    EXPECT(do_cas(f, "h", KEEL_CAS_VERSION, f->index, "", "s", 0), WANT_INT(1));
    EXPECT(get(f, "h", 1500), WANT_BULK("s"));
}

static void test_cas_value(void **state)
{
    struct fx *f = *state;
    f->ts = 1000;
    EXPECT(do_set(f, "k", "x", 0, 0), WANT_OK);
    EXPECT(do_cas(f, "k", KEEL_CAS_VALUE, 0, "x", "y", 0), WANT_INT(1));
    EXPECT(get(f, "k", 1000), WANT_BULK("y"));
    assert_int_equal(version(f, "k", 1000), f->index);
    uint64_t v = f->index;
    EXPECT(do_cas(f, "k", KEEL_CAS_VALUE, 0, "x", "z", 0), WANT_INT(0));
    EXPECT(do_cas(f, "k", KEEL_CAS_VALUE, 0, "yy", "z", 0), WANT_INT(0));
    EXPECT(do_cas(f, "k", KEEL_CAS_VALUE, 0, "", "z", 0), WANT_INT(0));
    EXPECT(get(f, "k", 1000), WANT_BULK("y"));
    assert_int_equal(version(f, "k", 1000), v);
    /* ABSENT: the key must not exist. */
    EXPECT(do_cas(f, "k", KEEL_CAS_VALUE | KEEL_CAS_ABSENT, 0, "", "w", 0), WANT_INT(0));
    EXPECT(get(f, "k", 1000), WANT_BULK("y"));
    EXPECT(do_cas(f, "n", KEEL_CAS_VALUE | KEEL_CAS_ABSENT, 0, "", "w", 7000), WANT_INT(1));
    EXPECT(get(f, "n", 1000), WANT_BULK("w"));
    EXPECT(pttl(f, "n", 1000), WANT_INT(6000));
    /* An absent key matches no expected value, not even "". */
    EXPECT(do_cas(f, "m", KEEL_CAS_VALUE, 0, "", "w", 0), WANT_INT(0));
    assert_false(stored(f, "m"));
    /* The empty value matches "". */
    EXPECT(do_set(f, "e", "", 0, 0), WANT_OK);
    EXPECT(do_cas(f, "e", KEEL_CAS_VALUE, 0, "", "q", 0), WANT_INT(1));
    EXPECT(get(f, "e", 1000), WANT_BULK("q"));
    /* DELETE. */
    EXPECT(do_cas(f, "k", KEEL_CAS_VALUE | KEEL_CAS_DELETE, 0, "x", "", 0), WANT_INT(0));
    assert_true(stored(f, "k"));
    EXPECT(do_cas(f, "k", KEEL_CAS_VALUE | KEEL_CAS_DELETE, 0, "y", "", 0), WANT_INT(1));
    assert_false(stored(f, "k"));
    EXPECT(do_cas(f, "k", KEEL_CAS_VALUE | KEEL_CAS_ABSENT | KEEL_CAS_DELETE, 0, "", "", 0),
           WANT_INT(1));
    assert_false(stored(f, "k"));
    /* A hash: WRONGTYPE in value mode; with ABSENT it simply exists. */
    EXPECT(do_hset(f, "h", LIST("f", "v")), WANT_INT(1));
    v = f->index;
    EXPECT(do_cas(f, "h", KEEL_CAS_VALUE, 0, "v", "s", 0), WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(do_cas(f, "h", KEEL_CAS_VALUE | KEEL_CAS_DELETE, 0, "v", "", 0),
           WANT_ERR(KEEL_EWRONGTYPE));
    EXPECT(do_cas(f, "h", KEEL_CAS_VALUE | KEEL_CAS_ABSENT, 0, "", "s", 0), WANT_INT(0));
    EXPECT(hget(f, "h", "f", 1000), WANT_BULK("v"));
    assert_int_equal(version(f, "h", 1000), v);
    /* An expired key is absent. */
    EXPECT(do_set(f, "t", "old", 1500, 0), WANT_OK);
    f->ts = 1500;
    EXPECT(do_cas(f, "t", KEEL_CAS_VALUE, 0, "old", "new", 0), WANT_INT(0));
    EXPECT(do_cas(f, "t", KEEL_CAS_VALUE | KEEL_CAS_ABSENT, 0, "", "new", 0), WANT_INT(1));
    EXPECT(get(f, "t", 1500), WANT_BULK("new"));
}

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

/* ---- SWEEP ------------------------------------------------------------- */

static void test_sweep(void **state)
{
    struct fx *f = *state;
    struct keel_reply_reader rd;
    f->ts = 10;
    EXPECT(do_set(f, "a", "v", 100, 0), WANT_OK);
    EXPECT(do_set(f, "b", "v", 100, 0), WANT_OK);
    EXPECT(do_set(f, "c", "v", 50, 0), WANT_OK);
    EXPECT(do_set(f, "d", "v", 200, 0), WANT_OK);
    EXPECT(do_set(f, "e", "v", 0, 0), WANT_OK);
    EXPECT(do_set(f, "f", "v", 300, 0), WANT_OK);
    EXPECT(do_hset(f, "g", LIST("x", "y")), WANT_INT(1));
    EXPECT(do_expire(f, "g", 150, 0), WANT_INT(1));
    uint64_t vd = version(f, "d", 0);

    /* Nothing is due yet. */
    EXPECT(do_sweep(f, 10), WANT_ARRAY(0));
    f->ts = 150;
    keel_reply_reader_init(&rd, do_sweep(f, 2));
    RD(&rd, WANT_ARRAY(2));
    RD(&rd, WANT_BULK("c"));
    RD(&rd, WANT_BULK("a"));
    RD_END(&rd);
    assert_int_equal(stats(f).expired, 2);
    assert_false(stored(f, "c"));
    assert_false(stored(f, "a"));
    assert_true(stored(f, "b"));
    /* A second sweep continues; expire_at == ts is due. */
    keel_reply_reader_init(&rd, do_sweep(f, 10));
    RD(&rd, WANT_ARRAY(2));
    RD(&rd, WANT_BULK("b"));
    RD(&rd, WANT_BULK("g"));
    RD_END(&rd);
    assert_int_equal(stats(f).expired, 4);
    EXPECT(do_sweep(f, 10), WANT_ARRAY(0));
    assert_int_equal(stats(f).expired, 4);
    assert_true(stored(f, "d"));
    assert_true(stored(f, "e"));
    assert_true(stored(f, "f"));
    assert_int_equal(version(f, "d", 0), vd);
    f->ts = 200;
    keel_reply_reader_init(&rd, do_sweep(f, 1));
    RD(&rd, WANT_ARRAY(1));
    RD(&rd, WANT_BULK("d"));
    RD_END(&rd);
    assert_int_equal(stats(f).expired, 5);
    /* A key whose TTL was removed or pushed back is not swept. */
    EXPECT(do_persist(f, "f"), WANT_INT(1));
    f->ts = 1000;
    EXPECT(do_sweep(f, 10), WANT_ARRAY(0));
    assert_true(stored(f, "f"));
    assert_true(stored(f, "e"));
}

static int cmp_str(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    size_t nx = strlen(x), ny = strlen(y), n = nx < ny ? nx : ny;
    int c = memcmp(x, y, n);
    return c != 0 ? c : nx < ny ? -1 : nx > ny;
}

/* One sweep over many keys of various lengths and expiries: the keys come back
 * in (expiry, key) order and every one of them is gone. */
static void test_sweep_many(void **state)
{
    struct fx *f = *state;
    enum { N = 300, GROUPS = 3 };
    static char keys[N][64];
    const char *order[N];
    struct keel_reply_reader rd;
    f->ts = 10;
    /* Group g expires at 100 + g; within a group, key order. */
    const char *groups[GROUPS][N];
    size_t ng[GROUPS] = {0, 0, 0};
    for (int i = 0; i < N; i++) {
        int g = (i * 7) % GROUPS;
        snprintf(keys[i], sizeof keys[i], "key-%d-%.*s", (i * 37) % 1000, (i * 13) % 40,
                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        EXPECT(do_set(f, keys[i], keys[i], 100 + g, 0), WANT_OK);
        groups[g][ng[g]++] = keys[i];
    }
    size_t n = 0;
    for (int g = 0; g < GROUPS; g++) {
        qsort(groups[g], ng[g], sizeof(const char *), cmp_str);
        for (size_t i = 0; i < ng[g]; i++) order[n++] = groups[g][i];
    }
    assert_int_equal(n, N);
    EXPECT(do_set(f, "stay", "v", 0, 0), WANT_OK);
    f->ts = 200;
    keel_reply_reader_init(&rd, do_sweep(f, 1000));
    RD(&rd, WANT_ARRAY(N));
    for (size_t i = 0; i < N; i++) RD(&rd, WANT_BULK(order[i]));
    RD_END(&rd);
    for (size_t i = 0; i < N; i++) assert_false(stored(f, keys[i]));
    assert_true(stored(f, "stay"));
    assert_int_equal(stats(f).expired, N);
}

/* ---- apply contract ---------------------------------------------------- */

static void test_apply_skip(void **state)
{
    struct fx *f = *state;
    struct keel_enc e;
    uint8_t *buf;
    size_t len;
    f->ts = 1000;
    EXPECT(do_set(f, "k", "v", 0, 0), WANT_OK);
    EXPECT(do_set(f, "j", "v", 0, 0), WANT_OK);
    uint64_t applied = keel_storage_applied(f->storage);
    assert_int_equal(applied, 2);

    enc_begin(f, &e);
    keel_enc_set(&e, S("k"), S("other"), 0, 0);
    enc_take(&e, &buf, &len);
    for (uint64_t idx = 0; idx <= applied; idx++) {
        assert_int_equal(keel_store_apply(f->st, idx, buf, len, &f->reply), 0);
        EXPECT(&f->reply, WANT_ERR(KEEL_EEXISTS));
    }
    free(buf);
    assert_int_equal(keel_storage_applied(f->storage), applied);
    EXPECT(get(f, "k", 1000), WANT_BULK("v"));
    struct keel_store_stats s = stats(f);
    assert_int_equal(s.skipped, applied + 1);
    assert_int_equal(s.applied, applied);
    /* Indexes may jump forward (entries of other types in between). */
    f->index += 10;
    EXPECT(do_set(f, "k", "w", 0, 0), WANT_OK);
    assert_int_equal(keel_storage_applied(f->storage), applied + 11);
    assert_int_equal(version(f, "k", 1000), applied + 11);
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* Apply a malformed entry: error reply with `code`, index advances, nothing
 * else changes. */
static void apply_rejected(struct fx *f, const void *buf, size_t len, int code)
{
    uint64_t digest_before, digest_after, applied;
    struct keel_store_stats before = stats(f);
    uint64_t v = version(f, "k", 0);
    assert_int_equal(keel_storage_digest(f->storage, &applied, &digest_before), 0);
    apply_raw(f, buf, len);
    struct keel_reply_reader rd;
    struct keel_reply_item it;
    keel_reply_reader_init(&rd, &f->reply);
    assert_int_equal(keel_reply_next(&rd, &it), 0);
    assert_int_equal(it.kind, KEEL_REPLY_ERROR);
    if (code != 0) assert_int_equal(it.integer, code);
    RD_END(&rd);
    struct keel_store_stats after = stats(f);
    assert_int_equal(after.rejected, before.rejected + 1);
    assert_int_equal(after.applied, before.applied + 1);
    EXPECT(get(f, "k", 0), WANT_BULK("v"));
    assert_int_equal(version(f, "k", 0), v);
    assert_int_equal(dedupe_count(f), 0);
    /* The applied index moved (and is part of the digest). */
    assert_int_equal(keel_storage_digest(f->storage, &applied, &digest_after), 0);
    assert_int_equal(applied, f->index);
    assert_int_not_equal(digest_before, digest_after);
}

static void test_apply_malformed(void **state)
{
    struct fx *f = *state;
    struct keel_enc e;
    uint8_t *buf, junk[64];
    size_t len;
    uint64_t rng = 42;
    f->ts = 1000;
    EXPECT(do_set(f, "k", "v", 0, 0), WANT_OK);

    /* Random bytes. */
    for (int i = 0; i < 8; i++) {
        for (size_t j = 0; j < sizeof junk; j++) junk[j] = (uint8_t)xorshift(&rng);
        apply_rejected(f, junk, 40, 0);
    }
    /* Random bytes behind a valid magic and version. */
    for (int i = 0; i < 8; i++) {
        for (size_t j = 0; j < sizeof junk; j++) junk[j] = (uint8_t)xorshift(&rng);
        junk[0] = KEEL_CODEC_MAGIC;
        junk[1] = KEEL_CODEC_VERSION;
        apply_rejected(f, junk, 40, 0);
    }
    apply_rejected(f, junk, 0, KEEL_EMALFORMED);
    apply_rejected(f, junk, 8, KEEL_EMALFORMED);

    /* A valid encoding with one byte patched. Layout of this SET: header
     * (32), key len (4) "k", value len (4) "evil", expire_at (8), pad. */
    f->client = 9;
    f->seq = 1;
    enc_begin(f, &e);
    keel_enc_set(&e, S("k"), S("evil"), 0, 0);
    enc_take(&e, &buf, &len);
    assert_int_equal(len, 56);
    struct { size_t off; uint8_t val; int code; } patches[] = {
        {0, 'X', KEEL_EMALFORMED},          /* magic */
        {1, 2, KEEL_EVERSION},              /* codec version */
        {2, 0xEE, KEEL_EMALFORMED},         /* command type */
        {2, KEEL_CMD__COUNT, KEEL_EMALFORMED},
        {3, KEEL_SET_NX | KEEL_SET_XX, KEEL_EMALFORMED}, /* contradictory flags */
        {3, 0x80, KEEL_EMALFORMED},         /* unknown flag */
        {4, 40, KEEL_EMALFORMED},           /* body length */
        {4, 8, KEEL_EMALFORMED},
        {32, 200, KEEL_EMALFORMED},         /* key length past the end */
        {35, 0x10, KEEL_ETOOBIG},           /* key length over the limit */
        {32, 0, KEEL_EMALFORMED},           /* empty key */
        {37, 0xFF, KEEL_EMALFORMED},        /* value length */
        {52, 0x80, KEEL_EMALFORMED},        /* expire_at negative */
        {53, 1, KEEL_EMALFORMED},           /* non-zero padding */
        {55, 1, KEEL_EMALFORMED},
    };
    for (size_t i = 0; i < sizeof patches / sizeof patches[0]; i++) {
        uint8_t copy[56];
        memcpy(copy, buf, len);
        copy[patches[i].off] = patches[i].val;
        apply_rejected(f, copy, len, patches[i].code);
    }
    /* Truncated, or with extra bytes. */
    apply_rejected(f, buf, len - 8, KEEL_EMALFORMED);
    uint8_t longer[64] = {0};
    memcpy(longer, buf, len);
    apply_rejected(f, longer, 64, KEEL_EMALFORMED);
    apply_rejected(f, buf, len - 1, KEEL_EMALFORMED);

    /* The untouched entry still applies, and (client, seq) was not taken by
     * the rejected ones. */
    EXPECT(apply_raw(f, buf, len), WANT_OK);
    EXPECT(get(f, "k", 0), WANT_BULK("evil"));
    assert_int_equal(version(f, "k", 0), f->index);
    free(buf);

    /* A malformed BATCH sub-command rejects the whole entry. */
    f->client = 0;
    enc_begin(f, &e);
    keel_enc_batch_begin(&e);
    keel_enc_set(&e, S("k"), S("a"), 0, 0);
    keel_enc_set(&e, S("k"), S("b"), 0, KEEL_SET_NX | KEEL_SET_XX);
    enc_take(&e, &buf, &len);
    apply_raw(f, buf, len);
    free(buf);
    EXPECT(&f->reply, WANT_ERR(KEEL_EMALFORMED));
    EXPECT(get(f, "k", 0), WANT_BULK("evil"));
}

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

/* ---- restart ----------------------------------------------------------- */

static void fx_reopen(struct fx *f)
{
    char errmsg[KEEL_ERRMSG_SIZE];
    keel_store_destroy(f->st);
    keel_storage_close(f->storage, true);
    struct keel_storage_options o = {.dir = f->dir};
    bool wiped = true;
    int rc = keel_storage_open(&o, &f->storage, &wiped, errmsg);
    if (rc != 0) fail_msg("keel_storage_open: %s", errmsg);
    assert_false(wiped);
    assert_int_equal(keel_store_create(f->storage, &f->st), 0);
}

/* The applied index, the logical clock and the dedupe table live in the
 * storage, so they survive a restart. */
static void test_reopen(void **state)
{
    struct fx *f = *state;
    f->ts = 100;
    EXPECT(do_set(f, "e", "1", 2000, 0), WANT_OK);
    f->client = 3;
    f->seq = 1;
    EXPECT(do_incrby(f, "c", 1), WANT_INT(1));
    f->client = 0;
    f->ts = 5000;
    EXPECT(do_noop(f), WANT_OK);
    uint64_t applied = f->index, d1, d2, i1, i2;
    assert_int_equal(keel_storage_digest(f->storage, &i1, &d1), 0);
    fx_reopen(f);
    assert_int_equal(keel_storage_applied(f->storage), applied);
    assert_int_equal(keel_storage_digest(f->storage, &i2, &d2), 0);
    assert_int_equal(i1, i2);
    assert_int_equal(d1, d2);
    /* Replayed entries are skipped. */
    f->client = 3;
    f->seq = 1;
    f->ts = 100;
    assert_int_equal(keel_store_apply(f->st, applied, "", 0, &f->reply), 0);
    EXPECT(&f->reply, WANT_ERR(KEEL_EEXISTS));
    f->index = applied;
    /* The retry is still known; the clock still says 5000. */
    EXPECT(do_incrby(f, "c", 1), WANT_INT(1));
    f->client = 0;
    EXPECT(do_incrby(f, "e", 1), WANT_INT(1));
    EXPECT(do_set(f, "x", "v", 4000, 0), WANT_OK);
    assert_false(stored(f, "x"));
}

/* ---- determinism ------------------------------------------------------- */

#define GEN_NKEYS 24
#define GEN_VBUF 4096

struct gen
{
    uint64_t rng;
    int64_t clock; /* the leader's clock */
    int64_t ts;    /* timestamp of the entry being generated */
    uint64_t next_seq[5];
    uint64_t used_client[64];
    uint64_t used_seq[64];
    unsigned nused;
    uint8_t vbuf[8][GEN_VBUF];
};

static const char *const gen_keys[GEN_NKEYS] = {
    "k0",  "k1",  "k2",  "k3",  "k4",  "k5",  "k6",  "k7",  "k8",  "k9",  "k10", "k11",
    "k12", "k13", "k14", "k15", "k16", "k17", "k18", "k19", "k20", "k21", "k22", "k23"};
static const char *const gen_fields[] = {"a", "b", "c", "dd", "e"};
static const char *const gen_vals[] = {"0", "1", "-1", "42", "abc", "",
                                       "9223372036854775807", "-9223372036854775808",
                                       " 7", "07"};

static uint64_t below(struct gen *g, uint64_t n)
{
    return xorshift(&g->rng) % n;
}

static bool chance(struct gen *g, unsigned pct)
{
    return below(g, 100) < pct;
}

#define PICK(g, arr) (arr)[below((g), sizeof(arr) / sizeof((arr)[0]))]

static struct keel_slice gen_value(struct gen *g, unsigned slot)
{
    if (chance(g, 70)) return S(PICK(g, gen_vals));
    size_t n = chance(g, 25) ? below(g, GEN_VBUF) : below(g, 64);
    for (size_t i = 0; i < n; i++) g->vbuf[slot][i] = (uint8_t)xorshift(&g->rng);
    return (struct keel_slice){g->vbuf[slot], n};
}

static int64_t gen_expire(struct gen *g)
{
    if (chance(g, 50)) return 0;
    int64_t at = g->ts + (int64_t)below(g, 600) - 100;
    return at < 1 ? 1 : at;
}

static uint64_t gen_version(struct gen *g, struct fx *a, struct keel_slice key)
{
    uint64_t v = 0;
    if (chance(g, 70)) {
        assert_int_equal(keel_store_version(a->st, key, g->ts, &v), 0);
        return v;
    }
    return chance(g, 50) ? 0 : below(g, a->index + 2);
}

/* One command of `type` (SET..CAS) into e. */
static void gen_cmd(struct gen *g, struct keel_enc *e, struct fx *a, unsigned type)
{
    static const unsigned expire_flags[] = {
        0, KEEL_EXPIRE_NX, KEEL_EXPIRE_XX, KEEL_EXPIRE_GT, KEEL_EXPIRE_LT,
        KEEL_EXPIRE_XX | KEEL_EXPIRE_GT, KEEL_EXPIRE_XX | KEEL_EXPIRE_LT,
    };
    static const int64_t deltas[] = {INT64_MAX, INT64_MIN, 1000000007, -3};
    struct keel_slice key = S(PICK(g, gen_keys)), items[8];
    unsigned flags = 0, n;
    switch (type) {
        case KEEL_CMD_SET:
            flags = (unsigned[]){0, KEEL_SET_NX, KEEL_SET_XX}[below(g, 3)];
            if (chance(g, 20)) flags |= KEEL_SET_KEEPTTL;
            if (chance(g, 30)) flags |= KEEL_SET_GET;
            keel_enc_set(e, key, gen_value(g, 0), gen_expire(g), flags);
            break;
        case KEEL_CMD_DEL:
            n = 1 + (unsigned)below(g, 4);
            for (unsigned i = 0; i < n; i++) items[i] = S(PICK(g, gen_keys));
            keel_enc_del(e, items, n);
            break;
        case KEEL_CMD_INCRBY:
            keel_enc_incrby(e, key,
                            chance(g, 10) ? PICK(g, deltas) : (int64_t)below(g, 21) - 10);
            break;
        case KEEL_CMD_EXPIRE:
            keel_enc_expire(e, key,
                            chance(g, 20) ? g->ts - (int64_t)below(g, 200)
                                          : g->ts + (int64_t)below(g, 800),
                            PICK(g, expire_flags));
            break;
        case KEEL_CMD_PERSIST:
            keel_enc_persist(e, key);
            break;
        case KEEL_CMD_HSET:
            n = 1 + (unsigned)below(g, 3);
            for (unsigned i = 0; i < n; i++) {
                items[2 * i] = S(PICK(g, gen_fields));
                items[2 * i + 1] = gen_value(g, i);
            }
            keel_enc_hset(e, key, items, n);
            break;
        case KEEL_CMD_HDEL:
            n = 1 + (unsigned)below(g, 3);
            for (unsigned i = 0; i < n; i++) items[i] = S(PICK(g, gen_fields));
            keel_enc_hdel(e, key, items, n);
            break;
        case KEEL_CMD_HINCRBY:
            keel_enc_hincrby(e, key, S(PICK(g, gen_fields)),
                             chance(g, 10) ? PICK(g, deltas) : (int64_t)below(g, 21) - 10);
            break;
        case KEEL_CMD_CAS: {
            uint64_t version = 0;
            struct keel_slice expect = {NULL, 0};
            if (chance(g, 50)) {
                flags = KEEL_CAS_VERSION;
                version = gen_version(g, a, key);
            } else {
                flags = KEEL_CAS_VALUE;
                if (chance(g, 25)) flags |= KEEL_CAS_ABSENT;
                else expect = gen_value(g, 1);
            }
            if (chance(g, 20)) flags |= KEEL_CAS_DELETE;
            keel_enc_cas(e, key, flags, version, expect, gen_value(g, 2), gen_expire(g));
            break;
        }
        default:
            fail_msg("gen_cmd: type %u", type);
    }
}

/* One random entry (malloc'd into *buf). */
static size_t gen_entry(struct gen *g, struct fx *a, uint8_t **buf)
{
    struct keel_enc e;
    size_t len;
    /* The leader clock moves on; some entries carry an older timestamp (a
     * former leader with a slow clock). */
    g->clock += (int64_t)below(g, 60);
    g->ts = chance(g, 10) ? g->clock - (int64_t)below(g, 3000) : g->clock;
    uint64_t client = 0, seq = 0;
    if (chance(g, 10) && g->nused > 0) {
        unsigned i = (unsigned)below(g, g->nused);
        client = g->used_client[i];
        seq = g->used_seq[i];
    } else if (chance(g, 60)) {
        client = 1 + below(g, 4);
        seq = ++g->next_seq[client];
        unsigned i = g->nused < 64 ? g->nused++ : (unsigned)below(g, 64);
        g->used_client[i] = client;
        g->used_seq[i] = seq;
    }
    keel_enc_init(&e, g->ts, client, seq);
    unsigned pick = (unsigned)below(g, 100);
    if (pick < 10) {
        keel_enc_batch_begin(&e);
        unsigned nw = (unsigned)below(g, 3), nc = 1 + (unsigned)below(g, 4);
        for (unsigned i = 0; i < nw; i++) {
            struct keel_slice key = S(PICK(g, gen_keys));
            keel_enc_watch(&e, key, gen_version(g, a, key));
        }
        for (unsigned i = 0; i < nc; i++)
            gen_cmd(g, &e, a, KEEL_CMD_SET + (unsigned)below(g, KEEL_CMD_CAS));
    } else if (pick < 18) {
        keel_enc_sweep(&e, 1 + (int64_t)below(g, 8));
    } else if (pick < 20) {
        keel_enc_noop(&e);
    } else {
        gen_cmd(g, &e, a, KEEL_CMD_SET + (unsigned)below(g, KEEL_CMD_CAS));
    }
    enc_take(&e, buf, &len);
    if (chance(g, 3)) {
        /* Junk, sometimes behind a valid magic and version. */
        len = 8 * (1 + below(g, 10));
        uint8_t *junk = realloc(*buf, len);
        assert_non_null(junk);
        for (size_t i = 0; i < len; i++) junk[i] = (uint8_t)xorshift(&g->rng);
        if (chance(g, 50)) {
            junk[0] = KEEL_CODEC_MAGIC;
            junk[1] = KEEL_CODEC_VERSION;
            junk[2] = (uint8_t)below(g, KEEL_CMD__COUNT + 1);
        }
        *buf = junk;
    } else if (chance(g, 3)) {
        /* One byte patched: usually rejected, sometimes still valid. Not in
         * the timestamp, which would stay valid and move the logical clock
         * far ahead for good (expiring everything the workload sets). */
        size_t at = below(g, len - 8);
        (*buf)[at < 8 ? at : at + 8] ^= (uint8_t)(1 + below(g, 255));
    }
    return len;
}

/* Apply one entry to every replica at `index`; their replies must be equal. */
static void apply_all(struct fx *const *fx, unsigned n, uint64_t index, const uint8_t *buf,
                      size_t len)
{
    for (unsigned i = 0; i < n; i++) {
        int rc = keel_store_apply(fx[i]->st, index, buf, len, &fx[i]->reply);
        if (rc != 0)
            fail_msg("replica %u, apply %" PRIu64 ": %s", i, index, keel_store_errmsg(fx[i]->st));
        if (i == 0) continue;
        const struct keel_reply *r0 = &fx[0]->reply, *r = &fx[i]->reply;
        if (r->len != r0->len || (r->len > 0 && memcmp(r->buf, r0->buf, r->len) != 0))
            fail_msg("replica %u: reply differs at index %" PRIu64, i, index);
    }
    reply_items(&fx[0]->reply);
}

/* Replicas A (large map), B (tiny map: it grows, re-applying entries after
 * rollbacks) and C (restarted every 500 entries) apply the same random log
 * and must end byte-identical. */
static void test_determinism(void **state)
{
    (void)state;
    struct fx a, b, c;
    struct fx *const all[] = {&a, &b, &c};
    struct gen *g = calloc(1, sizeof *g);
    uint8_t *buf, *prev = NULL;
    size_t len, prev_len = 0;
    uint64_t index = 0, digest[3], applied[3];
    assert_non_null(g);
    g->rng = 0x6b65656c2d746573ull; /* fixed seed */
    g->clock = g->ts = 100000;
    fx_init(&a, "test_store_a", 0);
    fx_init(&b, "test_store_b", 64 * 1024);
    fx_init(&c, "test_store_c", 0);
    for (int i = 0; i < 2000; i++) {
        if (prev != NULL && chance(g, 4)) {
            /* A retried proposal: the very same bytes at a later index. */
            apply_all(all, 3, ++index, prev, prev_len);
        } else if (chance(g, 2)) {
            /* A replayed entry: skipped. */
            apply_all(all, 3, index - below(g, index + 1), prev ? prev : (const uint8_t *)"",
                      prev ? prev_len : 0);
        } else {
            a.index = index;
            len = gen_entry(g, &a, &buf);
            apply_all(all, 3, ++index, buf, len);
            free(prev);
            prev = buf;
            prev_len = len;
        }
        if (i % 500 == 499) fx_reopen(&c);
    }
    free(prev);
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(keel_storage_digest(all[i]->storage, &applied[i], &digest[i]), 0);
        assert_int_equal(applied[i], index);
    }
    assert_int_equal(digest[0], digest[1]);
    assert_int_equal(digest[0], digest[2]);
    struct keel_store_stats sa = stats(&a), sb = stats(&b);
    assert_int_equal(sa.applied, sb.applied);
    assert_int_equal(sa.skipped, sb.skipped);
    assert_int_equal(sa.rejected, sb.rejected);
    assert_int_equal(sa.deduped, sb.deduped);
    assert_int_equal(sa.expired, sb.expired);
    /* The workload did exercise what it is meant to. */
    assert_true(sa.skipped > 0);
    assert_true(sa.rejected > 0);
    assert_true(sa.deduped > 0);
    assert_true(sa.expired > 0);
    assert_true(sb.map_grows > 0);
    assert_int_equal(sa.map_grows, 0);
    /* Same reads on all. */
    for (unsigned k = 0; k < GEN_NKEYS; k++) {
        for (int j = 0; j < 2; j++) {
            int64_t now = g->clock + j * 300;
            for (unsigned i = 0; i < 3; i++) {
                assert_int_equal(keel_store_get(all[i]->st, S(gen_keys[k]), now, &all[i]->read), 0);
                assert_int_equal(all[i]->read.len, a.read.len);
                assert_memory_equal(all[i]->read.buf, a.read.buf, a.read.len);
            }
            for (unsigned i = 0; i < 3; i++) {
                assert_int_equal(keel_store_hgetall(all[i]->st, S(gen_keys[k]), now, &all[i]->read),
                                 0);
                assert_int_equal(all[i]->read.len, a.read.len);
                assert_memory_equal(all[i]->read.buf, a.read.buf, a.read.len);
            }
        }
    }
    fx_fini(&a);
    fx_fini(&b);
    fx_fini(&c);
    free(g);
}

/* ---- map growth -------------------------------------------------------- */

static void test_map_growth(void **state)
{
    struct fx *f = *state;
    enum { N = 300, VAL = 4096 };
    static char val[VAL + 1];
    char key[32];
    f->ts = 1000;
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "key%04d", i);
        fill_value(val, VAL, i);
        EXPECT(do_set(f, key, val, 0, 0), WANT_OK);
        assert_int_equal(version(f, key, 1000), f->index);
    }
    struct keel_store_stats s = stats(f);
    assert_true(s.map_grows >= 3);
    assert_int_equal(s.applied, N);
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "key%04d", i);
        fill_value(val, VAL, i);
        EXPECT(get(f, key, 1000), WANT_BULKN(val, VAL));
    }
    /* A large hash rewritten entry after entry keeps its content. */
    for (int i = 0; i < 40; i++) {
        char field[16];
        snprintf(field, sizeof field, "f%02d", i);
        fill_value(val, VAL, i);
        EXPECT(do_hset(f, "doc", LIST(field, val)), WANT_INT(1));
    }
    fill_value(val, VAL, 39);
    EXPECT(hget(f, "doc", "f39", 1000), WANT_BULKN(val, VAL));
    fill_value(val, VAL, 0);
    EXPECT(hget(f, "doc", "f00", 1000), WANT_BULKN(val, VAL));
}

/* The store's statistics count each entry once, even when a full map made it
 * roll back and apply again. A sweep is made to run into a nearly full map:
 * its deletions and its remembered reply need fresh pages. Several fill
 * levels, since which write hits the end of the map depends on LMDB's page
 * accounting. */
static void test_stats_across_grows(void **state)
{
    (void)state;
    enum { N = 60, VAL = 1000 };
    static char val[VAL + 1];
    char key[160];
    unsigned sweeps_grown = 0;
    fill_value(val, VAL, 1);
    for (unsigned trial = 0; trial < 24; trial++) {
        struct fx one, *f = &one;
        struct keel_space sp;
        fx_init(f, "test_store_grow", 256 * 1024);
        f->ts = 10;
        for (int i = 0; i < N; i++) {
            snprintf(key, sizeof key, "e%03d-%0120d", i, i);
            EXPECT(do_set(f, key, val, 11, 0), WANT_OK);
        }
        /* Fill with keys that stay until trial + 1 pages are left past the
         * end of the data file. */
        for (int i = 0;; i++) {
            assert_true(i < 10000);
            assert_int_equal(keel_storage_space(f->storage, &sp), 0);
            if (sp.map_size - sp.file_bytes <= (trial + 1) * 4096ull) break;
            snprintf(key, sizeof key, "p%06d", i);
            EXPECT(do_set(f, key, val, 0, 0), WANT_OK);
        }
        uint64_t grows = stats(f).map_grows;
        f->ts = 12;
        f->client = 5;
        f->seq = 1;
        struct keel_reply_reader rd;
        struct keel_reply_item it;
        keel_reply_reader_init(&rd, do_sweep(f, 1000));
        assert_int_equal(keel_reply_next(&rd, &it), 0);
        assert_int_equal(it.kind, KEEL_REPLY_ARRAY);
        assert_int_equal(it.integer, N);
        if (stats(f).map_grows > grows) sweeps_grown++;
        assert_int_equal(stats(f).expired, N);
        assert_int_equal(stats(f).applied, f->index);
        /* And a retry answered from the table counts once as well. */
        keel_reply_reader_init(&rd, do_sweep(f, 1000));
        RD(&rd, WANT_ARRAY(N));
        assert_int_equal(stats(f).deduped, 1);
        assert_int_equal(stats(f).expired, N);
        fx_fini(f);
    }
    print_message("sweeps that grew the map: %u of 24\n", sweeps_grown);
    assert_true(sweeps_grown > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_set_plain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_nx_xx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_get_wrongtype, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_ttl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_expired_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_del, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incrby, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incrby_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_entry_ts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_clock_monotonic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hincrby, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_wrongtype, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_keeps_ttl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cas_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cas_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_sub_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_watch_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_skip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedupe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedupe_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedupe_big_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedupe_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedupe_bound_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test_setup_teardown(test_map_growth, setup_small_map, teardown),
        cmocka_unit_test(test_stats_across_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
