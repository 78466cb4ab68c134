/* tests: the ACL user model (store/acl.h): Redis 7.2's ACL SETUSER grammar
 * and error texts, the ACL LIST / GETUSER description (cases from Redis's
 * tests/unit/acl.tcl), passwords as SHA-256, the command table, and the
 * permission check (commands, categories, keys with %R/%W, channels). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/acl.h"

#define SHA_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* ACL SETUSER <u> with the space-separated rules of `line`; returns the rc,
 * msg gets the error. */
static int setuser(struct acl_user *u, const char *line, char *msg, size_t size)
{
    struct keel_slice rules[64];
    size_t n = 0;
    const char *p = line;
    while (*p) {
        const char *e = strchr(p, ' ');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        assert_true(n < 64);
        rules[n++] = (struct keel_slice){(const uint8_t *)p, len};
        p += len;
        if (*p) p++;
    }
    msg[0] = 0;
    return acl_setuser(u, rules, n, msg, size);
}

static void ok(struct acl_user *u, const char *line)
{
    char msg[512];
    int rc = setuser(u, line, msg, sizeof msg);
    if (rc != 0) fail_msg("SETUSER %s: %d %s", line, rc, msg);
}

static void bad(struct acl_user *u, const char *line, const char *want)
{
    char msg[512];
    struct buf before, after;
    buf_init(&before);
    buf_init(&after);
    acl_describe(u, &before);
    assert_int_equal(setuser(u, line, msg, sizeof msg), KEEL_EINVAL);
    if (strcmp(msg, want) != 0) fail_msg("SETUSER %s:\n got  %s\n want %s", line, msg, want);
    acl_describe(u, &after); /* all or nothing */
    assert_int_equal(before.len, after.len);
    assert_memory_equal(before.p, after.p, before.len);
    buf_close(&before);
    buf_close(&after);
}

/* The ACL LIST line, after "user <name> ". */
static void describes(const struct acl_user *u, const char *want)
{
    struct buf b;
    buf_init(&b);
    acl_describe(u, &b);
    buf_append(&b, "", 1);
    if (strcmp((char *)b.p, want) != 0) fail_msg("describe:\n got  %s\n want %s", b.p, want);
    buf_close(&b);
}

static void commands(const struct acl_user *u, const char *want)
{
    struct buf b;
    buf_init(&b);
    acl_describe_commands(u, &b);
    buf_append(&b, "", 1);
    if (strcmp((char *)b.p, want) != 0) fail_msg("commands:\n got  %s\n want %s", b.p, want);
    buf_close(&b);
}

static struct acl_user mk(const char *name)
{
    struct acl_user u;
    assert_int_equal(acl_user_init(&u, name, strlen(name)), 0);
    return u;
}

/* ---- table ------------------------------------------------------------------ */

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < acl_commands_n; i++) {
        const char *n = acl_command_categories[i].name;
        if (i > 0) assert_true(strcmp(acl_command_categories[i - 1].name, n) < 0);
        for (const char *p = n; *p; p++) assert_false(*p >= 'A' && *p <= 'Z');
        assert_int_equal(acl_command_find(n, strlen(n)), (int)i);
        assert_int_not_equal(acl_command_categories[i].cats, 0);
        /* Redis: every command is either @fast or @slow, never both. */
        uint32_t speed = acl_command_categories[i].cats & (ACL_CAT_FAST | ACL_CAT_SLOW);
        if (speed != ACL_CAT_FAST && speed != ACL_CAT_SLOW) fail_msg("%s: fast/slow", n);
        /* Keel's own commands are @keel, and only they. */
        bool keel = strncmp(n, "keel.", 5) == 0;
        assert_int_equal(!!(acl_command_categories[i].cats & ACL_CAT_KEEL), keel);
    }
    assert_true(acl_command_find("GET", 3) >= 0);
    assert_true(acl_command_find("HgetAll", 7) >= 0);
    assert_int_equal(acl_command_find("nosuch", 6), -1);
    assert_int_equal(acl_command_find("ge", 2), -1);
    assert_int_equal(acl_command_find("gett", 4), -1);
    int xa = acl_command_find("xadd", 4); /* streams: not in Keel */
    assert_true(xa >= 0);
    assert_false(acl_command_categories[xa].flags & ACL_CMD_KEEL);
    int get = acl_command_find("get", 3);
    assert_true(acl_command_categories[get].flags & ACL_CMD_KEEL);
    assert_int_equal(acl_category_find("READ", 4), ACL_CAT_READ);
    assert_int_equal(acl_category_find("keel", 4), ACL_CAT_KEEL);
    assert_int_equal(acl_category_find("all", 3), 0);
    assert_int_equal(acl_category_find("nosuch", 6), 0);
    /* The admin commands the issue names need @admin and @dangerous. */
    static const char *const admin[] = {"keel.member", "keel.transfer", "keel.alarm",
                                        "keel.snapshot", "config", "keel.drill"};
    for (size_t i = 0; i < 6; i++) {
        int id = acl_command_find(admin[i], strlen(admin[i]));
        assert_true(id >= 0);
        uint32_t c = acl_command_categories[id].cats;
        assert_true((c & ACL_CAT_ADMIN) && (c & ACL_CAT_DANGEROUS));
    }
}

/* ---- grammar and description --------------------------------------------------- */

static void test_new_and_default(void **state)
{
    (void)state;
    struct acl_user u = mk("newuser");
    describes(&u, "off sanitize-payload resetchannels -@all");
    acl_user_close(&u);
    assert_int_equal(acl_user_init_default(&u), 0);
    describes(&u, "on nopass sanitize-payload ~* &* +@all");
    acl_user_close(&u);
}

static void test_describe_forms(void **state)
{
    (void)state;
    struct acl_user u = mk("alice");
    ok(&u, "on >abc ~session:* -@all +get");
    describes(&u, "on sanitize-payload #" SHA_ABC " ~session:* resetchannels -@all +get");
    /* The same password twice is kept once; #hash is the same password. */
    ok(&u, ">abc #" SHA_ABC);
    describes(&u, "on sanitize-payload #" SHA_ABC " ~session:* resetchannels -@all +get");
    ok(&u, ">");
    describes(&u, "on sanitize-payload #" SHA_ABC " #" SHA_EMPTY
                  " ~session:* resetchannels -@all +get");
    ok(&u, "<abc !" SHA_EMPTY);
    describes(&u, "on sanitize-payload ~session:* resetchannels -@all +get");
    ok(&u, ">x nopass");
    describes(&u, "on nopass sanitize-payload ~session:* resetchannels -@all +get");
    ok(&u, ">x resetpass");
    describes(&u, "on sanitize-payload ~session:* resetchannels -@all +get");
    ok(&u, "nopass resetpass");
    describes(&u, "on sanitize-payload ~session:* resetchannels -@all +get");
    ok(&u, "skip-sanitize-payload &chan:* &x allkeys");
    describes(&u, "on skip-sanitize-payload ~* resetchannels &chan:* &x -@all +get");
    ok(&u, "allchannels resetkeys %R~r:* %W~w:* %RW~rw %W~r:*");
    describes(&u, "on skip-sanitize-payload ~r:* %W~w:* ~rw &* -@all +get");
    /* %RW~* is a pattern, not allkeys: shown so that it reads back as one */
    ok(&u, "resetkeys %R~* %W~* ~x");
    describes(&u, "on skip-sanitize-payload %RW~* ~x &* -@all +get");
    ok(&u, "reset");
    describes(&u, "off sanitize-payload resetchannels -@all");
    ok(&u, "");
    describes(&u, "off sanitize-payload resetchannels -@all");
    ok(&u, "ON OFF On NoPass AllKeys");
    describes(&u, "on nopass sanitize-payload ~* resetchannels -@all");
    acl_user_close(&u);

    /* acl.tcl: "Test R+W is the same as all permissions" */
    u = mk("selector-rw-info");
    ok(&u, "%R~foo %W~foo %RW~bar");
    describes(&u, "off sanitize-payload ~foo ~bar resetchannels -@all");
    struct buf b;
    buf_init(&b);
    acl_describe_key(&u.keys[0], &b);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.p, "~foo", 4);
    buf_close(&b);
    acl_user_close(&u);
}

/* acl.tcl: "ACL GETUSER provides correct results" (the command rules). */
static void test_command_rules(void **state)
{
    (void)state;
    struct acl_user u = mk("adv-test");
    ok(&u, "+@all -@hash -@slow +hget");
    commands(&u, "+@all -@hash -@slow +hget");
    ok(&u, "-@hash");
    commands(&u, "+@all -@slow +hget -@hash");
    ok(&u, "+@hash");
    commands(&u, "+@all -@slow +hget +@hash");
    ok(&u, "-@all");
    commands(&u, "-@all");
    ok(&u, "-@string -@slow +@all");
    commands(&u, "+@all");
    ok(&u, "-@all +@HASH +@hash +@HaSh");
    commands(&u, "-@all +@hash");
    ok(&u, "-@all +HGET +hget +hGeT");
    commands(&u, "-@all +hget");
    ok(&u, "-@all +@hash +@slow +@set +@set +@slow +@hash");
    commands(&u, "-@all +@set +@slow +@hash");
    ok(&u, "-@all +hget -hset +hset -hget");
    commands(&u, "-@all +hset -hget");
    ok(&u, "nocommands +get");
    commands(&u, "-@all +get");
    ok(&u, "allcommands -keel.member");
    commands(&u, "+@all -keel.member");
    /* -@all ... +@all: a command added then the whole set: +@all compacts. */
    ok(&u, "-@all +get +@all");
    commands(&u, "+@all");
    /* Redis commands Keel lacks are accepted in rules. */
    ok(&u, "-@all +lpush +@list -@sortedset");
    commands(&u, "-@all +lpush +@list -@sortedset");
    acl_user_close(&u);
}

static void test_errors(void **state)
{
    (void)state;
    struct acl_user u = mk("e");
    ok(&u, "on >pw ~k");
    bad(&u, "+@nosuchcategory",
        "Error in ACL SETUSER modifier '+@nosuchcategory': Unknown command or category name in ACL");
    bad(&u, "+nosuchcommand",
        "Error in ACL SETUSER modifier '+nosuchcommand': Unknown command or category name in ACL");
    bad(&u, "-nosuchcommand",
        "Error in ACL SETUSER modifier '-nosuchcommand': Unknown command or category name in ACL");
    bad(&u, "+get|x", "Error in ACL SETUSER modifier '+get|x': Unknown command or category name in ACL");
    bad(&u, "*xyz", "Error in ACL SETUSER modifier '*xyz': Syntax error");
    bad(&u, "on +get badrule", "Error in ACL SETUSER modifier 'badrule': Syntax error");
    bad(&u, "+", "Error in ACL SETUSER modifier '+': Syntax error");
    bad(&u, "(~x +get)", "Error in ACL SETUSER modifier '(~x': Syntax error");
    bad(&u, "clearselectors", "Error in ACL SETUSER modifier 'clearselectors': Syntax error");
    bad(&u, "%~x", "Error in ACL SETUSER modifier '%~x': Syntax error");
    bad(&u, "%RR~x", "Error in ACL SETUSER modifier '%RR~x': Syntax error");
    bad(&u, "%RX~x", "Error in ACL SETUSER modifier '%RX~x': Syntax error");
    bad(&u, "%RW", "Error in ACL SETUSER modifier '%RW': Syntax error");
    bad(&u, "<nosuchpass",
        "Error in ACL SETUSER modifier '<nosuchpass': The password you are trying to remove "
        "from the user does not exist");
    bad(&u, "#abc",
        "Error in ACL SETUSER modifier '#abc': The password hash must be exactly 64 characters "
        "and contain only lowercase hexadecimal characters");
    bad(&u, "#BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
        "Error in ACL SETUSER modifier '#BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD': "
        "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters");
    bad(&u, "!" SHA_EMPTY,
        "Error in ACL SETUSER modifier '!" SHA_EMPTY
        "': The password you are trying to remove from the user does not exist");
    ok(&u, "allkeys allchannels");
    bad(&u, "~foo",
        "Error in ACL SETUSER modifier '~foo': Adding a pattern after the * pattern (or the "
        "'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start "
        "with an empty list of patterns");
    bad(&u, "%R~foo",
        "Error in ACL SETUSER modifier '%R~foo': Adding a pattern after the * pattern (or the "
        "'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start "
        "with an empty list of patterns");
    bad(&u, "&foo",
        "Error in ACL SETUSER modifier '&foo': Adding a pattern after the * pattern (or the "
        "'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to "
        "start with an empty list of channels");
    /* Patterns with control bytes would not survive the space-separated form. */
    ok(&u, "resetkeys");
    struct keel_slice tab = {(const uint8_t *)"~a\tb", 4};
    char msg[256];
    assert_int_equal(acl_setuser(&u, &tab, 1, msg, sizeof msg), KEEL_EINVAL);
    assert_string_equal(msg, "Error in ACL SETUSER modifier '~a\tb': Syntax error");
    /* A binary password is fine: it is hashed. */
    struct keel_slice bin = {(const uint8_t *)">a\0 b", 5};
    assert_int_equal(acl_setuser(&u, &bin, 1, msg, sizeof msg), 0);
    assert_true(acl_password_ok(&u, (const uint8_t *)"a\0 b", 4));
    acl_user_close(&u);

    assert_true(acl_name_valid((const uint8_t *)"alice", 5));
    assert_false(acl_name_valid((const uint8_t *)"al ice", 6));
    assert_false(acl_name_valid((const uint8_t *)"al\0ce", 5));
    assert_false(acl_name_valid((const uint8_t *)"", 0));
}

/* ---- passwords ---------------------------------------------------------------- */

static void test_passwords(void **state)
{
    (void)state;
    char hex[ACL_HASH_HEX + 1];
    assert_int_equal(acl_hash_password((const uint8_t *)"abc", 3, hex), 0);
    assert_string_equal(hex, SHA_ABC);
    assert_int_equal(acl_hash_password((const uint8_t *)"", 0, hex), 0);
    assert_string_equal(hex, SHA_EMPTY);

    struct acl_user u = mk("p");
    ok(&u, ">abc >def");
    /* off: nobody gets in, whatever the password */
    assert_false(acl_password_ok(&u, (const uint8_t *)"abc", 3));
    ok(&u, "on");
    assert_true(acl_password_ok(&u, (const uint8_t *)"abc", 3));
    assert_true(acl_password_ok(&u, (const uint8_t *)"def", 3));
    assert_false(acl_password_ok(&u, (const uint8_t *)"ab", 2));
    assert_false(acl_password_ok(&u, (const uint8_t *)"", 0));
    ok(&u, "resetpass");
    assert_false(acl_password_ok(&u, (const uint8_t *)"abc", 3));
    ok(&u, "nopass");
    assert_true(acl_password_ok(&u, (const uint8_t *)"anything", 8));
    acl_user_close(&u);
}

/* ---- checks ---------------------------------------------------------------------- */

static int cmd(const char *name)
{
    int id = acl_command_find(name, strlen(name));
    assert_true(id >= 0);
    return id;
}

static enum acl_verdict run(const struct acl_user *u, const char *name)
{
    return acl_check(u, cmd(name), NULL, 0, NULL, 0, NULL);
}

static enum acl_verdict key(const struct acl_user *u, const char *name, const char *k,
                            uint8_t flags)
{
    struct acl_key kk = {{(const uint8_t *)k, strlen(k)}, flags};
    return acl_check(u, cmd(name), &kk, 1, NULL, 0, NULL);
}

static void test_check_commands(void **state)
{
    (void)state;
    struct acl_user u = mk("c");
    ok(&u, "on nopass allkeys allchannels");
    assert_int_equal(run(&u, "get"), ACL_DENIED_CMD); /* -@all */
    assert_int_equal(run(&u, "auth"), ACL_OK);        /* no-auth commands always run */
    assert_int_equal(run(&u, "hello"), ACL_OK);
    ok(&u, "+get");
    assert_int_equal(run(&u, "get"), ACL_OK);
    assert_int_equal(run(&u, "set"), ACL_DENIED_CMD);
    ok(&u, "+@write");
    assert_int_equal(run(&u, "set"), ACL_OK);
    assert_int_equal(run(&u, "del"), ACL_OK);
    assert_int_equal(run(&u, "hget"), ACL_DENIED_CMD);
    ok(&u, "-@string");
    assert_int_equal(run(&u, "get"), ACL_DENIED_CMD);
    assert_int_equal(run(&u, "set"), ACL_DENIED_CMD);
    assert_int_equal(run(&u, "hset"), ACL_OK);
    ok(&u, "+@all -@dangerous");
    assert_int_equal(run(&u, "get"), ACL_OK);
    assert_int_equal(run(&u, "keys"), ACL_DENIED_CMD);
    assert_int_equal(run(&u, "keel.member"), ACL_DENIED_CMD);
    assert_int_equal(run(&u, "keel.hashkv"), ACL_OK);
    /* An unknown command: only a user with every command may run it. */
    assert_int_equal(acl_check(&u, -1, NULL, 0, NULL, 0, NULL), ACL_DENIED_CMD);
    ok(&u, "+@all");
    assert_int_equal(acl_check(&u, -1, NULL, 0, NULL, 0, NULL), ACL_OK);
    /* +cmd after -@all, then -@cat that contains it: the later rule wins. */
    ok(&u, "-@all +get -@read");
    assert_int_equal(run(&u, "get"), ACL_DENIED_CMD);
    ok(&u, "-@all -@read +get");
    assert_int_equal(run(&u, "get"), ACL_OK);
    assert_int_equal(run(&u, "mget"), ACL_DENIED_CMD);
    ok(&u, "-@all +@keel -@dangerous");
    assert_int_equal(run(&u, "keel.hashkv"), ACL_OK);
    assert_int_equal(run(&u, "keel.transfer"), ACL_DENIED_CMD);
    /* Every category allows exactly its commands. */
    for (size_t c = 0; c < acl_categories_n; c++) {
        char rule[40];
        snprintf(rule, sizeof rule, "-@all +@%s", acl_categories[c].name);
        ok(&u, rule);
        for (size_t i = 0; i < acl_commands_n; i++) {
            bool in = acl_command_categories[i].cats & acl_categories[c].bit;
            bool noauth = acl_command_categories[i].flags & ACL_CMD_NOAUTH;
            assert_int_equal(acl_check(&u, (int)i, NULL, 0, NULL, 0, NULL) == ACL_OK, in || noauth);
        }
        snprintf(rule, sizeof rule, "+@all -@%s", acl_categories[c].name);
        ok(&u, rule);
        for (size_t i = 0; i < acl_commands_n; i++) {
            bool in = acl_command_categories[i].cats & acl_categories[c].bit;
            bool noauth = acl_command_categories[i].flags & ACL_CMD_NOAUTH;
            assert_int_equal(acl_check(&u, (int)i, NULL, 0, NULL, 0, NULL) == ACL_OK, !in || noauth);
        }
    }
    acl_user_close(&u);
}

/* A container's subcommands are checked against their own rows, with
 * Redis 7.2's categories: -@admin takes CLIENT LIST and ACL SETUSER, not
 * CLIENT ID or ACL WHOAMI; +client covers them all; +config|get is a rule. */
static int sub_id(const char *cmd, const char *sub)
{
    return acl_command_find_sub(cmd, strlen(cmd), sub, sub != NULL ? strlen(sub) : 0);
}

static void test_subcommands(void **state)
{
    (void)state;
    assert_int_equal(sub_id("client", "LIST"), acl_command_find("client|list", 11));
    assert_int_equal(sub_id("CLIENT", "list"), acl_command_find("client|list", 11));
    assert_int_equal(sub_id("client", "nosuch"), acl_command_find("client", 6));
    assert_int_equal(sub_id("client", NULL), acl_command_find("client", 6));
    assert_int_equal(sub_id("get", "list"), acl_command_find("get", 3)); /* not a container */
    assert_int_equal(sub_id("nosuch", "x"), -1);
    struct acl_user u = mk("s");
    ok(&u, "on nopass allkeys allchannels +@all -@admin");
    assert_int_equal(acl_check(&u, sub_id("client", "list"), NULL, 0, NULL, 0, NULL), ACL_DENIED_CMD);
    assert_int_equal(acl_check(&u, sub_id("client", "id"), NULL, 0, NULL, 0, NULL), ACL_OK);
    assert_int_equal(acl_check(&u, sub_id("acl", "whoami"), NULL, 0, NULL, 0, NULL), ACL_OK);
    assert_int_equal(acl_check(&u, sub_id("acl", "cat"), NULL, 0, NULL, 0, NULL), ACL_OK);
    assert_int_equal(acl_check(&u, sub_id("acl", "setuser"), NULL, 0, NULL, 0, NULL), ACL_DENIED_CMD);
    assert_int_equal(acl_check(&u, sub_id("config", "get"), NULL, 0, NULL, 0, NULL), ACL_DENIED_CMD);
    ok(&u, "+config|get");
    commands(&u, "+@all -@admin +config|get");
    assert_int_equal(acl_check(&u, sub_id("config", "get"), NULL, 0, NULL, 0, NULL), ACL_OK);
    assert_int_equal(acl_check(&u, sub_id("config", "set"), NULL, 0, NULL, 0, NULL), ACL_DENIED_CMD);
    /* +client: the container and every subcommand; it replaces the rules
     * of its subcommands, as Redis's ACLSelectorRemoveCommandRule does. */
    ok(&u, "-client|id");
    assert_int_equal(acl_check(&u, sub_id("client", "id"), NULL, 0, NULL, 0, NULL), ACL_DENIED_CMD);
    ok(&u, "+client");
    commands(&u, "+@all -@admin +config|get +client");
    assert_int_equal(acl_check(&u, sub_id("client", "list"), NULL, 0, NULL, 0, NULL), ACL_OK);
    assert_int_equal(acl_check(&u, sub_id("client", "id"), NULL, 0, NULL, 0, NULL), ACL_OK);
    ok(&u, "-client");
    assert_int_equal(acl_check(&u, sub_id("client", "setname"), NULL, 0, NULL, 0, NULL), ACL_DENIED_CMD);
    /* Redis's first-argument rules have no row: unknown. */
    struct keel_slice bad = {(const uint8_t *)"+select|0", 9};
    char msg[256];
    assert_int_not_equal(acl_setuser(&u, &bad, 1, msg, sizeof msg), 0);
    /* -@all +@connection: CLIENT LIST is @connection too (as in Redis). */
    ok(&u, "-@all +@connection");
    assert_int_equal(acl_check(&u, sub_id("client", "list"), NULL, 0, NULL, 0, NULL), ACL_OK);
    assert_int_equal(acl_check(&u, sub_id("acl", "whoami"), NULL, 0, NULL, 0, NULL), ACL_DENIED_CMD);
    acl_user_close(&u);
}

static void test_check_keys(void **state)
{
    (void)state;
    struct acl_user u = mk("k");
    ok(&u, "on nopass +@all");
    /* No patterns: no key at all (keyless commands still run). */
    assert_int_equal(key(&u, "get", "a", ACL_KEY_READ), ACL_DENIED_KEY);
    assert_int_equal(run(&u, "ping"), ACL_OK);
    ok(&u, "~session:* %R~ro:* %W~wo:*");
    assert_int_equal(key(&u, "get", "session:1", ACL_KEY_READ), ACL_OK);
    assert_int_equal(key(&u, "set", "session:1", ACL_KEY_WRITE), ACL_OK);
    assert_int_equal(key(&u, "get", "other", ACL_KEY_READ), ACL_DENIED_KEY);
    assert_int_equal(key(&u, "get", "ro:1", ACL_KEY_READ), ACL_OK);
    assert_int_equal(key(&u, "set", "ro:1", ACL_KEY_WRITE), ACL_DENIED_KEY);
    assert_int_equal(key(&u, "set", "wo:1", ACL_KEY_WRITE), ACL_OK);
    assert_int_equal(key(&u, "get", "wo:1", ACL_KEY_READ), ACL_DENIED_KEY);
    /* read-modify-write (INCR, GETDEL) needs both */
    assert_int_equal(key(&u, "incr", "ro:1", ACL_KEY_ALL), ACL_DENIED_KEY);
    assert_int_equal(key(&u, "incr", "session:x", ACL_KEY_ALL), ACL_OK);
    /* the first denied key is named */
    struct acl_key ks[3] = {{{(const uint8_t *)"session:a", 9}, ACL_KEY_READ},
                            {{(const uint8_t *)"ro:b", 4}, ACL_KEY_READ},
                            {{(const uint8_t *)"nope", 4}, ACL_KEY_READ}};
    size_t which = 99;
    assert_int_equal(acl_check(&u, cmd("mget"), ks, 3, NULL, 0, &which), ACL_DENIED_KEY);
    assert_int_equal(which, 2);
    /* a command denial comes before any key */
    ok(&u, "-mget");
    assert_int_equal(acl_check(&u, cmd("mget"), ks, 3, NULL, 0, &which), ACL_DENIED_CMD);
    ok(&u, "allkeys");
    assert_int_equal(key(&u, "get", "anything", ACL_KEY_ALL), ACL_OK);
    acl_user_close(&u);
}

static void test_check_channels(void **state)
{
    (void)state;
    struct acl_user u = mk("ch");
    ok(&u, "on nopass +@all allkeys");
    struct acl_channel c = {{(const uint8_t *)"news.1", 6}, false};
    size_t which = 9;
    assert_int_equal(acl_check(&u, cmd("publish"), NULL, 0, &c, 1, &which), ACL_DENIED_CHANNEL);
    assert_int_equal(which, 0);
    ok(&u, "&news.*");
    assert_int_equal(acl_check(&u, cmd("publish"), NULL, 0, &c, 1, NULL), ACL_OK);
    /* PSUBSCRIBE's patterns match the user's patterns literally */
    struct acl_channel p = {{(const uint8_t *)"news.*", 6}, true};
    assert_int_equal(acl_check(&u, cmd("psubscribe"), NULL, 0, &p, 1, NULL), ACL_OK);
    struct acl_channel p2 = {{(const uint8_t *)"news.1", 6}, true};
    assert_int_equal(acl_check(&u, cmd("psubscribe"), NULL, 0, &p2, 1, NULL), ACL_DENIED_CHANNEL);
    struct acl_channel p3 = {{(const uint8_t *)"*", 1}, true};
    assert_int_equal(acl_check(&u, cmd("psubscribe"), NULL, 0, &p3, 1, NULL), ACL_DENIED_CHANNEL);
    ok(&u, "allchannels");
    assert_int_equal(acl_check(&u, cmd("psubscribe"), NULL, 0, &p3, 1, NULL), ACL_OK);
    acl_user_close(&u);
}

static void test_glob(void **state)
{
    (void)state;
    static const struct
    {
        const char *pat, *s;
        bool match;
    } cases[] = {
        {"*", "", true},          {"*", "abc", true},         {"a*", "abc", true},
        {"a*", "bac", false},     {"*c", "abc", true},        {"a?c", "abc", true},
        {"a?c", "ac", false},     {"a[bc]d", "acd", true},    {"a[bc]d", "aed", false},
        {"a[^bc]d", "aed", true}, {"a[^bc]d", "abd", false},  {"a[b-d]e", "ace", true},
        {"a[d-b]e", "ace", true}, {"a[b-d]e", "aae", false},  {"a\\*b", "a*b", true},
        {"a\\*b", "axb", false},  {"*a*b*", "xxaxxbxx", true}, {"*a*b*", "xxbxxa", false},
        {"session:*", "session:", true}, {"", "", true},      {"", "a", false},
        {"a**", "a", true},       {"h?llo", "hello", true},   {"[\\]]", "]", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool m = acl_glob((const uint8_t *)cases[i].pat, strlen(cases[i].pat),
                          (const uint8_t *)cases[i].s, strlen(cases[i].s));
        if (m != cases[i].match) fail_msg("glob %s %s: %d", cases[i].pat, cases[i].s, m);
    }
}

/* The description is the replicated form: rebuilding a user from its words
 * gives back the same description and the same permissions. */
static void test_describe_roundtrip(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "on >a >b ~x:* %R~r %W~w &c:* +@all -@dangerous +keys -flushall",
        "off nopass allkeys allchannels -@all +@read -@hash +hget",
        "on skip-sanitize-payload resetchannels &a &b nocommands +@keel -keel.member +ping",
        "+@all -@all",
        "%WR~* ~x %R~* %W~*",
    };
    for (size_t i = 0; i < 5; i++) {
        struct acl_user u = mk("r"), v = mk("r");
        ok(&u, lines[i]);
        struct buf d1, d2;
        buf_init(&d1);
        buf_init(&d2);
        acl_describe(&u, &d1);
        buf_append(&d1, "", 1);
        ok(&v, (const char *)d1.p);
        acl_describe(&v, &d2);
        buf_append(&d2, "", 1);
        assert_string_equal(d1.p, d2.p);
        assert_memory_equal(u.allowed, v.allowed, acl_commands_n);
        assert_int_equal(u.allcommands, v.allcommands);
        buf_close(&d1);
        buf_close(&d2);
        acl_user_close(&u);
        acl_user_close(&v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_new_and_default),
        cmocka_unit_test(test_describe_forms),
        cmocka_unit_test(test_command_rules),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_passwords),
        cmocka_unit_test(test_check_commands),
        cmocka_unit_test(test_subcommands),
        cmocka_unit_test(test_check_keys),
        cmocka_unit_test(test_check_channels),
        cmocka_unit_test(test_glob),
        cmocka_unit_test(test_describe_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
