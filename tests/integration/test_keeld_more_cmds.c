/* tests/integration: the Redis commands of issue 15 item 2 (the missing
 * commands of the types Keel has), one test per family, each run on the
 * leader and on a follower of a real three-node cluster (a follower forwards
 * writes and reads), replies compared exactly as text: +status, -error,
 * :integer, "bulk", (nil), [a,b] for arrays. The expected replies are
 * Redis 7.2's (src/t_string.c, t_hash.c, db.c, expire.c and its
 * tests/unit/type/string.tcl, hash.tcl, keyspace.tcl, expire.tcl). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc.h"

static struct kc cluster;
static int leader;

static int setup(void **state)
{
    (void)state;
    leader = kc_start_leader(&cluster, 3, "");
    return leader < 0;
}

static int teardown(void **state)
{
    (void)state;
    kc_stop(&cluster);
    return 0;
}

/* The leader, then a follower. */
static unsigned node_at(unsigned k)
{
    return k == 0 ? (unsigned)leader : ((unsigned)leader + 1) % 3;
}

/* C(want, fmt, ...): run the formatted command on node i, compare its reply. */
#define C(want, ...)                                         \
    do {                                                     \
        char cmd_[512];                                      \
        snprintf(cmd_, sizeof cmd_, __VA_ARGS__);            \
        kc_expect(&cluster, i, true, cmd_, want);            \
    } while (0)

static void strings_on(unsigned i, const char *k)
{
    /* SETEX / PSETEX: SET with EX / PX */
    C("+OK", "SETEX %s:ex 100 v", k);
    C("\"v\"", "GET %s:ex", k);
    C(":100", "TTL %s:ex", k);
    C("-ERR invalid expire time in 'setex' command", "SETEX %s:ex 0 v", k);
    C("-ERR invalid expire time in 'setex' command", "SETEX %s:ex -10 v", k);
    C("-ERR value is not an integer or out of range", "SETEX %s:ex 1.5 v", k);
    C("-ERR wrong number of arguments for 'setex' command", "SETEX %s:ex 10", k);
    C("+OK", "PSETEX %s:px 100000 w", k);
    C(":100", "TTL %s:px", k);
    C("\"w\"", "GET %s:px", k);
    C("-ERR invalid expire time in 'psetex' command", "PSETEX %s:px 0 v", k);
    /* SETNX: 1 set, 0 not; an expired key counts as absent */
    C(":1", "SETNX %s:nx a", k);
    C(":0", "SETNX %s:nx b", k);
    C("\"a\"", "GET %s:nx", k);
    C(":1", "HSET %s:h f v", k);
    C(":0", "SETNX %s:h x", k); /* any type blocks it */
    /* GETSET: the old value (nil if none), the TTL dropped */
    C("(nil)", "GETSET %s:gs 1", k);
    C("\"1\"", "GETSET %s:gs 2", k);
    C(":1", "EXPIRE %s:gs 100", k);
    C("\"2\"", "GETSET %s:gs 3", k);
    C(":-1", "TTL %s:gs", k);
    C("-WRONGTYPE Operation against a key holding the wrong kind of value", "GETSET %s:h x", k);
}

static void test_strings(void **state)
{
    (void)state;
    char k[16];
    for (unsigned n = 0; n < 2; n++) {
        snprintf(k, sizeof k, "s%u", n);
        strings_on(node_at(n), k);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
