/* tests: the storage env tests' shared fixture (storage_env_fixture.h). */
#include "storage_fixture.h"

#include <errno.h>
#include <fcntl.h>

#include "tests/unit/storage_env_fixture.h"

int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (f == NULL) return -1;
    for (int i = 0; i < NENV; i++) {
        f->dir[i] = env_scratch("storage", "boot-a", "11111111-aaaa-4aaa-8aaa-aaaaaaaaaaaa\n",
                                f->boot_a[i], &f->opts[i]);
        if (f->dir[i] == NULL) return -1;
        snprintf(f->boot_b[i], PATH_MAX, "%s/boot-b", f->dir[i]);
        test_write_text(f->boot_b[i], "22222222-bbbb-4bbb-8bbb-bbbbbbbbbbbb\n");
    }
    *state = f;
    return 0;
}

int teardown(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < NENV; i++) env_remove(f->s[i], f->dir[i]);
    free(f);
    return 0;
}

/* Open env i with its current options; returns whether it was wiped. */
bool env_open(struct fx *f, int i)
{
    bool wiped = env_open_with(&f->opts[i], &f->s[i]);
    assert_non_null(f->s[i]);
    return wiped;
}

void env_close(struct fx *f, int i, bool clean)
{
    keel_storage_close(f->s[i], clean);
    f->s[i] = NULL;
}

int put_in(struct keel_txn *txn, const char *key, const char *val, int64_t expire_at)
{
    struct keel_record rec = {KEEL_TYPE_STRING, expire_at, 1, (const uint8_t *)val, strlen(val)};
    return storage_put(txn, cstr(key), &rec, NULL);
}

/* Put one string key in its own txn, optionally moving the applied index. */
void put_str(struct keel_storage *s, const char *key, const char *val, int64_t expire_at,
                    uint64_t applied)
{
    struct keel_txn txn;
    begin(s, true, &txn);
    assert_int_equal(put_in(&txn, key, val, expire_at), 0);
    if (applied != 0) assert_int_equal(storage_set_applied(&txn, applied), 0);
    commit(&txn);
}

void del_key(struct keel_storage *s, const char *key)
{
    struct keel_txn txn;
    begin(s, true, &txn);
    assert_int_equal(storage_del(&txn, cstr(key)), 0);
    commit(&txn);
}

/* The string value of key, or KEEL_ENOTFOUND. */
int get_str(struct keel_storage *s, const char *key, char *out, size_t size,
                   struct keel_record *rec_out)
{
    struct keel_txn txn;
    struct keel_record rec;
    begin(s, false, &txn);
    int rc = storage_get(&txn, cstr(key), &rec);
    if (rc == 0) {
        assert_true(rec.len < size);
        memcpy(out, rec.val, rec.len);
        out[rec.len] = 0;
        if (rec_out != NULL) {
            *rec_out = rec;
            rec_out->val = NULL;
        }
    }
    storage_txn_abort(&txn);
    return rc;
}

void assert_value(struct keel_storage *s, const char *key, const char *want)
{
    char buf[256];
    int rc = get_str(s, key, buf, sizeof buf, NULL);
    if (rc != 0) fail_msg("get %s: %d", key, rc);
    assert_string_equal(buf, want);
}

void assert_absent(struct keel_storage *s, const char *key)
{
    char buf[256];
    assert_int_equal(get_str(s, key, buf, sizeof buf, NULL), KEEL_ENOTFOUND);
}


void dd_put(struct keel_txn *txn, uint64_t client, uint64_t seq, int64_t ts)
{
    char reply[32];
    snprintf(reply, sizeof reply, "r%llu.%llu", (unsigned long long)client,
             (unsigned long long)seq);
    assert_int_equal(storage_dedupe_put(txn, client, seq, ts, cstr(reply)), 0);
}

bool dd_has(struct keel_txn *txn, uint64_t client, uint64_t seq)
{
    struct keel_slice r;
    char want[32];
    int rc = storage_dedupe_get(txn, client, seq, &r);
    if (rc == KEEL_ENOTFOUND) return false;
    assert_int_equal(rc, 0);
    snprintf(want, sizeof want, "r%llu.%llu", (unsigned long long)client,
             (unsigned long long)seq);
    assert_int_equal(r.n, strlen(want));
    assert_memory_equal(r.p, want, r.n);
    return true;
}
