/* tests/unit: the server's command table (api/server/commands/cmd_table.c)
 * and the ACL's (store/acl_table.c) name the same commands, so every
 * command Keel serves has ACL categories and every command the ACL marks as
 * Keel's is served; and what each command does to its keys (for %R~/%W~)
 * is what Redis 7.2's key specs say for a sample. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "api/server/server_internal.h"
#include "store/acl.h"

static void test_same_commands(void **state)
{
    (void)state;
    for (unsigned i = 0; i < command_count; i++) {
        const char *name = command_table[i].name;
        int k = acl_command_find(name, strlen(name));
        if (k < 0) fail_msg("%s is served but has no row in acl_command_categories", name);
        if (!(acl_command_categories[k].flags & ACL_CMD_KEEL))
            fail_msg("%s is served but acl_command_categories does not mark it ACL_CMD_KEEL", name);
        if (acl_command_categories[k].cats == 0) fail_msg("%s has no category", name);
    }
    for (size_t k = 0; k < acl_commands_n; k++) {
        if (!(acl_command_categories[k].flags & ACL_CMD_KEEL)) continue;
        struct keel_slice name = keel_str(acl_command_categories[k].name);
        const char *bar = strchr(acl_command_categories[k].name, '|');
        if (acl_command_categories[k].flags & ACL_CMD_SUB) { /* its container is served, and is a container */
            assert_non_null(bar);
            name.n = (size_t)(bar - acl_command_categories[k].name);
            int c = acl_command_find((const char *)name.p, name.n);
            assert_true(c >= 0 && (acl_command_categories[c].flags & ACL_CMD_CONTAINER));
        } else {
            assert_null(bar);
        }
        if (command_lookup(&name) == NULL)
            fail_msg("%s is marked ACL_CMD_KEEL but the server has no such command", acl_command_categories[k].name);
    }
}

/* What the command line does to its key at argv[at]. */
static uint8_t flags_at(const char *line, uint32_t at)
{
    struct keel_slice argv[8];
    uint32_t argc = 0;
    static char buf[256];
    strcpy(buf, line);
    for (char *w = strtok(buf, " "); w != NULL && argc < 8; w = strtok(NULL, " ")) argv[argc++] = keel_str(w);
    const struct command *cmd = command_lookup(&argv[0]);
    assert_non_null(cmd);
    return command_key_acl(cmd, argv, argc, at);
}

static uint8_t flags_of(const char *line)
{
    return flags_at(line, 1);
}

static void test_key_flags(void **state)
{
    (void)state;
    assert_int_equal(flags_of("GET k"), ACL_KEY_READ);
    assert_int_equal(flags_of("SET k v"), ACL_KEY_WRITE);
    assert_int_equal(flags_of("SET k v GET"), ACL_KEY_ALL);
    assert_int_equal(flags_of("INCR k"), ACL_KEY_ALL);
    assert_int_equal(flags_of("DEL k"), ACL_KEY_WRITE);
    assert_int_equal(flags_of("EXISTS k"), 0);
    assert_int_equal(flags_of("HGETALL k"), ACL_KEY_READ);
    assert_int_equal(flags_of("HSET k f v"), ACL_KEY_WRITE);
    assert_int_equal(flags_of("GETDEL k"), ACL_KEY_ALL);
    /* Commands of issue 15; two-key ones per key, as Redis 7.2's key specs. */
    assert_int_equal(flags_at("RENAME a b", 1), ACL_KEY_ALL);
    assert_int_equal(flags_at("RENAME a b", 2), ACL_KEY_WRITE);
    assert_int_equal(flags_at("RENAMENX a b", 2), ACL_KEY_WRITE);
    assert_int_equal(flags_at("COPY a b", 1), ACL_KEY_READ);
    assert_int_equal(flags_at("COPY a b REPLACE", 2), ACL_KEY_WRITE);
    assert_int_equal(flags_of("GETSET k v"), ACL_KEY_ALL);
    assert_int_equal(flags_of("SETNX k v"), ACL_KEY_WRITE);
    assert_int_equal(flags_of("INCRBYFLOAT k 1"), ACL_KEY_ALL);
    assert_int_equal(flags_of("HINCRBYFLOAT k f 1"), ACL_KEY_ALL);
    assert_int_equal(flags_of("GETRANGE k 0 1"), ACL_KEY_READ);
    assert_int_equal(flags_of("HSTRLEN k f"), 0);
    assert_int_equal(flags_of("TOUCH k"), 0);
    assert_int_equal(flags_of("EXPIRETIME k"), 0);
    assert_int_equal(flags_of("HSCAN k 0"), ACL_KEY_READ);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_commands),
        cmocka_unit_test(test_key_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
