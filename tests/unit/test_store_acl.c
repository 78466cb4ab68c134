/* tests: ACL users in the replicated state (store/acl_store.c): the leader's
 * SETUSER/DELUSER encoders, apply, the implicit default user, reads, the
 * ACL version, no cleartext password in any entry or in the stored state,
 * determinism (equal digests) and users surviving restart and a snapshot
 * restored into another store. */
#include "store_fixture.h"

#include "storage/snapshot.h"

#define PW "s3cret-Passw0rd"
#define SHA_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

/* Split a space-separated line into slices (at most 32). */
static size_t split(const char *line, struct keel_slice *v)
{
    size_t n = 0;
    const char *p = line;
    while (*p) {
        const char *e = strchr(p, ' ');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        assert_true(n < 32);
        v[n++] = (struct keel_slice){(const uint8_t *)p, len};
        p += len;
        if (*p) p++;
    }
    return n;
}

/* The leader's SETUSER: the entry (malloc'd), or NULL with msg set. */
static uint8_t *setuser_entry(struct fx *f, const char *name, const char *line, size_t *len,
                              int *rc, char *msg, size_t size)
{
    struct keel_slice rules[32];
    size_t n = split(line, rules);
    struct keel_enc e;
    uint8_t *buf = NULL;
    enc_begin(f, &e);
    *rc = keel_store_acl_setuser(f->st, &e, S(name), rules, n, msg, size);
    if (*rc != 0) {
        keel_enc_close(&e);
        return NULL;
    }
    enc_take(&e, &buf, len);
    return buf;
}

static const struct keel_reply *setuser(struct fx *f, const char *name, const char *line)
{
    char msg[256];
    size_t len;
    int rc;
    uint8_t *buf = setuser_entry(f, name, line, &len, &rc, msg, sizeof msg);
    if (buf == NULL) fail_msg("SETUSER %s %s: %d %s", name, line, rc, msg);
    /* Whatever the rules, no cleartext password is in the entry. */
    assert_null(memmem(buf, len, PW, strlen(PW)));
    const struct keel_reply *r = apply_raw(f, buf, len);
    free(buf);
    return r;
}

/* ACL LIST's line for name ("user <name> <rules>"), or "" if absent. */
static char *list_line(struct fx *f, const char *name)
{
    static char out[1024];
    struct acl_user u;
    int rc = keel_store_acl_get(f->st, S(name), &u);
    out[0] = 0;
    if (rc == KEEL_ENOTFOUND) return out;
    assert_int_equal(rc, 0);
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "user %s ", u.name);
    acl_describe(&u, &b);
    buf_append(&b, "", 1);
    assert_false(b.oom);
    snprintf(out, sizeof out, "%s", (char *)b.p);
    buf_close(&b);
    acl_user_close(&u);
    return out;
}

static int collect_names(void *arg, const struct acl_user *u)
{
    struct buf *b = arg;
    buf_printf(b, "%s%s", b->len ? " " : "", u->name);
    return 0;
}

static char *names(struct fx *f)
{
    static char out[1024];
    struct buf b;
    buf_init(&b);
    assert_int_equal(keel_store_acl_list(f->st, collect_names, &b), 0);
    buf_append(&b, "", 1);
    snprintf(out, sizeof out, "%s", (char *)b.p);
    buf_close(&b);
    return out;
}

static uint64_t acl_version(struct fx *f)
{
    uint64_t v = 99;
    assert_int_equal(keel_store_acl_version(f->st, &v), 0);
    return v;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_default_user(void **state)
{
    struct fx *f = *state;
    assert_string_equal(list_line(f, "default"), "user default on nopass sanitize-payload ~* &* +@all");
    assert_string_equal(names(f), "default");
    assert_string_equal(list_line(f, "nosuch"), "");
    assert_int_equal(acl_version(f), 0);
    /* requirepass: SETUSER default >pw replaces the implicit user */
    EXPECT(setuser(f, "default", ">" PW), WANT_OK);
    char want[256];
    char hex[ACL_HASH_HEX + 1];
    assert_int_equal(acl_hash_password((const uint8_t *)PW, strlen(PW), hex), 0);
    snprintf(want, sizeof want, "user default on sanitize-payload #%s ~* &* +@all", hex);
    assert_string_equal(list_line(f, "default"), want);
    assert_int_equal(acl_version(f), f->index);
    assert_string_equal(names(f), "default");
    /* and the default user cannot be removed */
    char msg[128];
    struct keel_enc e;
    enc_begin(f, &e);
    assert_int_equal(keel_store_acl_deluser(f->st, &e, S("default"), msg, sizeof msg), KEEL_EINVAL);
    assert_string_equal(msg, "The 'default' user cannot be removed");
    keel_enc_close(&e);
}

static void test_setuser_deluser(void **state)
{
    struct fx *f = *state;
    EXPECT(setuser(f, "alice", "on #" SHA_ABC " ~session:* -@all +get"), WANT_OK);
    uint64_t v1 = f->index;
    assert_string_equal(list_line(f, "alice"),
                        "user alice on sanitize-payload #" SHA_ABC " ~session:* resetchannels -@all +get");
    assert_int_equal(acl_version(f), v1);
    /* a later SETUSER starts from the stored user */
    EXPECT(setuser(f, "alice", "+set %R~ro:* &news"), WANT_OK);
    assert_string_equal(list_line(f, "alice"),
                        "user alice on sanitize-payload #" SHA_ABC
                        " ~session:* %R~ro:* resetchannels &news -@all +get +set");
    EXPECT(setuser(f, "bob", ""), WANT_OK);
    assert_string_equal(list_line(f, "bob"), "user bob off sanitize-payload resetchannels -@all");
    EXPECT(setuser(f, "aaa", "on nopass"), WANT_OK);
    EXPECT(setuser(f, "zed", "on nopass"), WANT_OK);
    assert_string_equal(names(f), "aaa alice bob default zed");
    /* UTF-8 patterns go through the log */
    EXPECT(setuser(f, "utf", "~caf\xc3\xa9:* &\xe2\x82\xac"), WANT_OK);
    assert_string_equal(list_line(f, "utf"),
                        "user utf off sanitize-payload ~caf\xc3\xa9:* resetchannels &\xe2\x82\xac -@all");
    /* the check works on what was stored */
    struct acl_user u;
    assert_int_equal(keel_store_acl_get(f->st, S("alice"), &u), 0);
    struct acl_key k = {S("session:1"), ACL_KEY_READ};
    assert_int_equal(acl_check(&u, acl_command_find("get", 3), &k, 1, NULL, 0, NULL), ACL_OK);
    assert_int_equal(acl_check(&u, acl_command_find("del", 3), &k, 1, NULL, 0, NULL), ACL_DENIED_CMD);
    assert_true(acl_password_ok(&u, (const uint8_t *)"abc", 3));
    acl_user_close(&u);

    /* a bad rule: Redis's error, nothing proposed */
    char msg[256];
    size_t len;
    int rc;
    assert_null(setuser_entry(f, "alice", "+get +@nosuch", &len, &rc, msg, sizeof msg));
    assert_int_equal(rc, KEEL_EINVAL);
    assert_string_equal(msg, "Error in ACL SETUSER modifier '+@nosuch': Unknown command or category name in ACL");
    assert_null(setuser_entry(f, "a b", "on", &len, &rc, msg, sizeof msg));
    assert_int_equal(rc, KEEL_EINVAL);
    assert_string_equal(msg, "Usernames can't contain spaces or null characters");

    /* DELUSER */
    struct keel_enc e;
    uint8_t *buf;
    enc_begin(f, &e);
    assert_int_equal(keel_store_acl_deluser(f->st, &e, S("nosuch"), msg, sizeof msg), KEEL_ENOTFOUND);
    keel_enc_close(&e);
    enc_begin(f, &e);
    assert_int_equal(keel_store_acl_deluser(f->st, &e, S("bob"), msg, sizeof msg), 0);
    enc_take(&e, &buf, &len);
    EXPECT(apply_raw(f, buf, len), WANT_INT(1));
    assert_int_equal(acl_version(f), f->index);
    /* the same entry again: bob is gone, its base version no longer matches */
    EXPECT(apply_raw(f, buf, len), WANT_ERR(KEEL_EBUSY));
    free(buf);
    assert_string_equal(list_line(f, "bob"), "");
    assert_string_equal(names(f), "aaa alice default utf zed");
}

/* Two SETUSERs computed from the same state: the second is refused, so a
 * concurrent change is never silently lost. */
static void test_concurrent_setuser(void **state)
{
    struct fx *f = *state;
    EXPECT(setuser(f, "u", "on nopass"), WANT_OK);
    char msg[128];
    size_t l1, l2;
    int rc;
    uint8_t *a = setuser_entry(f, "u", "+get", &l1, &rc, msg, sizeof msg);
    uint8_t *b = setuser_entry(f, "u", "+set", &l2, &rc, msg, sizeof msg);
    assert_non_null(a);
    assert_non_null(b);
    EXPECT(apply_raw(f, a, l1), WANT_OK);
    uint64_t v = acl_version(f);
    EXPECT(apply_raw(f, b, l2), WANT_ERR(KEEL_EBUSY));
    assert_int_equal(acl_version(f), v);
    assert_string_equal(list_line(f, "u"), "user u on nopass sanitize-payload resetchannels -@all +get");
    free(a);
    free(b);
}

/* No cleartext anywhere: not in the entry (checked by setuser), nor in the
 * stored state (the whole data file). */
static void test_no_cleartext(void **state)
{
    struct fx *f = *state;
    EXPECT(setuser(f, "p", "on >" PW " ~* +@all"), WANT_OK);
    EXPECT(setuser(f, "p", "<" PW " >" PW "2"), WANT_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/kv/data.mdb", f->dir);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    static uint8_t data[8u << 20];
    size_t n = fread(data, 1, sizeof data, fp);
    fclose(fp);
    assert_true(n > 0);
    assert_null(memmem(data, n, PW, strlen(PW)));
    struct acl_user u;
    assert_int_equal(keel_store_acl_get(f->st, S("p"), &u), 0);
    assert_true(acl_password_ok(&u, (const uint8_t *)PW "2", strlen(PW) + 1));
    assert_false(acl_password_ok(&u, (const uint8_t *)PW, strlen(PW)));
    acl_user_close(&u);
}

/* Entries a leader would not write: refused at decode (cleartext) or at
 * apply (rules that do not parse), deterministically, changing nothing. */
static void test_bad_entries(void **state)
{
    struct fx *f = *state;
    struct keel_enc e;
    enc_begin(f, &e);
    keel_enc_acl(&e, S("x"), 0, S("on >" PW), 0);
    uint8_t *buf;
    size_t len;
    enc_take(&e, &buf, &len);
    EXPECT(apply_raw(f, buf, len), WANT_ERR(KEEL_EMALFORMED));
    free(buf);
    enc_begin(f, &e);
    keel_enc_acl(&e, S("x"), 0, S("on +nosuchcommand"), 0);
    enc_take(&e, &buf, &len);
    EXPECT(apply_raw(f, buf, len), WANT_ERR(KEEL_EINVAL));
    free(buf);
    enc_begin(f, &e);
    keel_enc_acl(&e, S("x"), 0, S("allkeys ~k"), 0);
    enc_take(&e, &buf, &len);
    EXPECT(apply_raw(f, buf, len), WANT_ERR(KEEL_EINVAL));
    free(buf);
    assert_string_equal(list_line(f, "x"), "");
    assert_int_equal(acl_version(f), 0);
    /* A hand-made entry is stored in canonical form. */
    enc_begin(f, &e);
    keel_enc_acl(&e, S("x"), 0, S("+get ON ~a ~a -@all +GET"), 0);
    enc_take(&e, &buf, &len);
    EXPECT(apply_raw(f, buf, len), WANT_OK);
    free(buf);
    assert_string_equal(list_line(f, "x"), "user x on sanitize-payload ~a resetchannels -@all +get");
    /* delete of the default user, by hand */
    enc_begin(f, &e);
    keel_enc_acl(&e, S("default"), 0, (struct keel_slice){NULL, 0}, KEEL_ACL_DELETE);
    enc_take(&e, &buf, &len);
    EXPECT(apply_raw(f, buf, len), WANT_ERR(KEEL_EINVAL));
    free(buf);
}

static void apply_script(struct fx *f)
{
    EXPECT(do_set(f, "k", "v", 0, 0), WANT_OK);
    EXPECT(setuser(f, "alice", "on >" PW " ~session:* -@all +@read"), WANT_OK);
    EXPECT(setuser(f, "default", "resetpass >" PW), WANT_OK);
    EXPECT(setuser(f, "bob", "on nopass +@all -@dangerous allkeys &c"), WANT_OK);
    EXPECT(setuser(f, "alice", "+@write -keys"), WANT_OK);
}

static void test_deterministic_and_durable(void **state)
{
    struct fx *f = *state;
    struct fx g;
    fx_init(&g, "acl2", 0);
    apply_script(f);
    apply_script(&g);
    uint64_t ia, da, ib, db;
    assert_int_equal(keel_storage_digest(f->storage, &ia, &da), 0);
    assert_int_equal(keel_storage_digest(g.storage, &ib, &db), 0);
    assert_int_equal(ia, ib);
    assert_int_equal(da, db);
    char alice[1024];
    snprintf(alice, sizeof alice, "%s", list_line(f, "alice"));
    assert_string_equal(list_line(&g, "alice"), alice);
    /* a different ACL change changes the digest */
    EXPECT(setuser(&g, "bob", "-get"), WANT_OK);
    EXPECT(setuser(f, "bob", "-set"), WANT_OK);
    assert_int_equal(keel_storage_digest(f->storage, &ia, &da), 0);
    assert_int_equal(keel_storage_digest(g.storage, &ib, &db), 0);
    assert_int_not_equal(da, db);
    fx_fini(&g);

    /* restart */
    uint64_t v = acl_version(f);
    fx_reopen(f);
    assert_string_equal(list_line(f, "alice"), alice);
    assert_int_equal(acl_version(f), v);

    /* a snapshot restored into a fresh store (raft's InstallSnapshot, a backup) */
    struct keel_snapshot snap;
    char errmsg[KEEL_ERRMSG_SIZE] = "";
    assert_int_equal(keel_storage_snapshot_create(f->storage, &snap, errmsg), 0);
    size_t len = KEEL_SNAPSHOT_HEADER + snap.data_len;
    uint8_t *image = malloc(len);
    assert_non_null(image);
    memcpy(image, snap.header, KEEL_SNAPSHOT_HEADER);
    memcpy(image + KEEL_SNAPSHOT_HEADER, snap.data, snap.data_len);
    keel_snapshot_release(&snap);
    fx_init(&g, "acl3", 0);
    assert_string_equal(names(&g), "default");
    bool replaced = false;
    int rc = keel_storage_restore(g.storage, image, len, NULL, &replaced, errmsg);
    if (rc != 0) fail_msg("restore: %d %s", rc, errmsg);
    assert_true(replaced);
    free(image);
    assert_string_equal(list_line(&g, "alice"), alice);
    assert_string_equal(names(&g), "alice bob default");
    assert_int_equal(acl_version(&g), v);
    assert_int_equal(keel_storage_digest(f->storage, &ia, &da), 0);
    assert_int_equal(keel_storage_digest(g.storage, &ib, &db), 0);
    assert_int_equal(da, db);
    fx_fini(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_default_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setuser_deluser, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_setuser, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_cleartext, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deterministic_and_durable, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
