/* tests: the store fixture shared by the store unit tests (see store_fixture.h). */
#include "store_fixture.h"

#include "tests/lib/testlib.h"

/* ---- fixture ----------------------------------------------------------- */

void fx_init(struct fx *f, const char *tag, uint64_t map_size)
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

void fx_fini(struct fx *f)
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

int setup(void **state)
{
    return setup_map(state, 0);
}

int setup_small_map(void **state)
{
    return setup_map(state, 256 * 1024);
}

int teardown(void **state)
{
    struct fx *f = *state;
    fx_fini(f);
    free(f);
    return 0;
}

struct keel_store_stats stats(struct fx *f)
{
    struct keel_store_stats s;
    keel_store_stats(f->st, &s);
    return s;
}

/* ---- applying ---------------------------------------------------------- */

/* Apply an entry at the next index; the reply is f->reply. */
const struct keel_reply *apply_raw(struct fx *f, const void *buf, size_t len)
{
    f->index++;
    int rc = keel_store_apply(f->st, f->index, buf, len, &f->reply);
    if (rc != 0) fail_msg("apply %" PRIu64 ": %s", f->index, keel_store_errmsg(f->st));
    assert_int_equal(keel_storage_applied(f->storage), f->index);
    return &f->reply;
}

void enc_begin(struct fx *f, struct keel_enc *e)
{
    keel_enc_init(e, f->ts, f->client, f->seq);
}

void enc_take(struct keel_enc *e, uint8_t **buf, size_t *len)
{
    int rc = keel_enc_finish(e, buf, len);
    keel_enc_close(e);
    assert_int_equal(rc, 0);
}

const struct keel_reply *apply_enc(struct fx *f, struct keel_enc *e)
{
    uint8_t *buf;
    size_t len;
    enc_take(e, &buf, &len);
    const struct keel_reply *r = apply_raw(f, buf, len);
    free(buf);
    return r;
}

const struct keel_reply *do_noop(struct fx *f)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_noop(&e);
    return apply_enc(f, &e);
}

const struct keel_reply *do_set(struct fx *f, const char *key, const char *val,
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

const struct keel_reply *do_del(struct fx *f, const char *const *keys, uint32_t n)
{
    struct keel_slice s[16];
    struct keel_enc e;
    assert_true(n <= 16);
    slices(s, keys, n);
    enc_begin(f, &e);
    keel_enc_del(&e, s, n);
    return apply_enc(f, &e);
}

const struct keel_reply *do_incrby(struct fx *f, const char *key, int64_t delta)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_incrby(&e, S(key), delta);
    return apply_enc(f, &e);
}

const struct keel_reply *do_expire(struct fx *f, const char *key, int64_t at,
                                   unsigned flags)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_expire(&e, S(key), at, flags);
    return apply_enc(f, &e);
}

const struct keel_reply *do_persist(struct fx *f, const char *key)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_persist(&e, S(key));
    return apply_enc(f, &e);
}

/* items: field, value, field, value... (n strings, n even) */
const struct keel_reply *do_hset(struct fx *f, const char *key,
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

const struct keel_reply *do_hdel(struct fx *f, const char *key,
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

const struct keel_reply *do_hincrby(struct fx *f, const char *key, const char *field,
                                    int64_t delta)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_hincrby(&e, S(key), S(field), delta);
    return apply_enc(f, &e);
}

const struct keel_reply *do_cas(struct fx *f, const char *key, unsigned flags,
                                uint64_t version, const char *expected,
                                const char *value, int64_t expire_at)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_cas(&e, S(key), flags, version, S(expected), S(value), expire_at);
    return apply_enc(f, &e);
}

const struct keel_reply *do_sweep(struct fx *f, int64_t max)
{
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_sweep(&e, max);
    return apply_enc(f, &e);
}

/* ---- reading ----------------------------------------------------------- */

const struct keel_reply *get(struct fx *f, const char *key, int64_t now)
{
    assert_int_equal(keel_store_get(f->st, S(key), now, &f->read), 0);
    return &f->read;
}

const struct keel_reply *pttl(struct fx *f, const char *key, int64_t now)
{
    assert_int_equal(keel_store_pttl(f->st, S(key), now, &f->read), 0);
    return &f->read;
}

const struct keel_reply *hget(struct fx *f, const char *key, const char *field,
                              int64_t now)
{
    assert_int_equal(keel_store_hget(f->st, S(key), S(field), now, &f->read), 0);
    return &f->read;
}

const struct keel_reply *hgetall(struct fx *f, const char *key, int64_t now)
{
    assert_int_equal(keel_store_hgetall(f->st, S(key), now, &f->read), 0);
    return &f->read;
}

uint64_t version(struct fx *f, const char *key, int64_t now)
{
    uint64_t v = 12345;
    assert_int_equal(keel_store_version(f->st, S(key), now, &v), 0);
    return v;
}

/* Whether a record is physically present (expired or not). */
bool stored(struct fx *f, const char *key)
{
    struct keel_txn txn;
    struct keel_record rec;
    assert_int_equal(storage_txn_begin(f->storage, false, &txn), 0);
    int rc = storage_get(&txn, keel_str(key), &rec);
    storage_txn_abort(&txn);
    assert_true(rc == 0 || rc == KEEL_ENOTFOUND);
    return rc == 0;
}

uint64_t dedupe_count(struct fx *f)
{
    struct keel_txn txn;
    assert_int_equal(storage_txn_begin(f->storage, false, &txn), 0);
    uint64_t n = storage_dedupe_count(&txn);
    storage_txn_abort(&txn);
    return n;
}

/* A recognisable value of n letters (NUL-terminated: buf holds n + 1). */
void fill_value(char *buf, size_t n, int i)
{
    for (size_t j = 0; j < n; j++) buf[j] = (char)('a' + (i * 7 + (int)j) % 26);
    buf[n] = 0;
}

/* ---- reply checks ------------------------------------------------------ */

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

void rd_want(struct keel_reply_reader *rd, struct want w, const char *file, int line)
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

void rd_end(struct keel_reply_reader *rd, const char *file, int line)
{
    struct keel_reply_item it;
    int rc = keel_reply_next(rd, &it);
    if (rc != KEEL_ENOTFOUND) {
        print_error("reply: trailing item (rc %d)\n", rc);
        if (rc == 0) describe(&it);
        _fail(file, line);
    }
}

void expect_one(const struct keel_reply *r, struct want w, const char *file, int line)
{
    struct keel_reply_reader rd;
    keel_reply_reader_init(&rd, r);
    rd_want(&rd, w, file, line);
    rd_end(&rd, file, line);
}

/* Walk a whole reply stream; fails on a corrupt one. Returns the item count. */
unsigned reply_items(const struct keel_reply *r)
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

/* ---- restart ----------------------------------------------------------- */

void fx_reopen(struct fx *f)
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
