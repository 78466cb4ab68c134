/* tests/unit: protected mode's decisions (api/server/protected.h): which
 * peers are loopback, who is refused, and which option sets keeld refuses
 * to start with. The integration side (a real refusal on a non-loopback
 * bind, -DENIED to a peer outside 127/8) is test_keeld_protected. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "api/server/protected.h"

static struct sockaddr_storage v4(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    in->sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, ip, &in->sin_addr), 1);
    return ss;
}

static struct sockaddr_storage v6(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in6 *in = (struct sockaddr_in6 *)&ss;
    in->sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, ip, &in->sin6_addr), 1);
    return ss;
}

#define SA(x) ((const struct sockaddr *)&(x))

static void test_loopback(void **state)
{
    (void)state;
    struct sockaddr_storage a;
    const char *yes4[] = {"127.0.0.1", "127.0.0.2", "127.255.255.254"};
    const char *no4[] = {"10.0.0.1", "0.0.0.0", "128.0.0.1", "126.255.255.255", "192.168.1.1", "172.16.0.1"};
    for (size_t i = 0; i < sizeof yes4 / sizeof *yes4; i++) {
        a = v4(yes4[i]);
        assert_true(protected_is_loopback(SA(a)));
    }
    for (size_t i = 0; i < sizeof no4 / sizeof *no4; i++) {
        a = v4(no4[i]);
        assert_false(protected_is_loopback(SA(a)));
    }
    a = v6("::1");
    assert_true(protected_is_loopback(SA(a)));
    a = v6("::ffff:127.0.0.9");
    assert_true(protected_is_loopback(SA(a)));
    a = v6("::ffff:10.0.0.1");
    assert_false(protected_is_loopback(SA(a)));
    a = v6("fe80::1");
    assert_false(protected_is_loopback(SA(a)));
    a = v6("::");
    assert_false(protected_is_loopback(SA(a)));
    memset(&a, 0, sizeof a); /* no address (getpeername failed): not loopback */
    assert_false(protected_is_loopback(SA(a)));
    assert_false(protected_is_loopback(NULL));
}

static void test_refuses(void **state)
{
    (void)state;
    struct sockaddr_storage far = v4("10.1.2.3"), near = v4("127.0.0.1"), far6 = v6("2001:db8::1");
    /* Only the four together refuse: protected mode, open default, no verified certificate, not loopback. */
    assert_true(protected_refuses(true, true, false, SA(far)));
    assert_true(protected_refuses(true, true, false, SA(far6)));
    assert_true(protected_refuses(true, true, false, NULL));
    assert_false(protected_refuses(true, true, false, SA(near)));
    assert_false(protected_refuses(false, true, false, SA(far)));
    assert_false(protected_refuses(true, false, false, SA(far)));
    assert_false(protected_refuses(true, true, true, SA(far)));
}

static void test_binds(void **state)
{
    (void)state;
    char err[600];
    struct
    {
        struct protected_binds b;
        const char *want; /* NULL: allowed */
    } cases[] = {
        {{"127.0.0.1:7479", false, "127.0.0.1:7379", 0, false, true}, NULL},
        {{"127.0.0.5:7479", false, "127.0.0.5:7379", 0, false, false}, NULL}, /* loopback, protected mode off */
        {{"0.0.0.0:7479", false, "127.0.0.1:7379", 0, false, true}, "--raft-addr 0.0.0.0:7479 is not a loopback"},
        {{"10.0.0.1:7479", false, "127.0.0.1:7379", 0, false, true}, "turn on --tls-cluster yes"},
        {{"10.0.0.1:7479", true, "127.0.0.1:7379", 0, false, true}, NULL},
        /* a plaintext client port off loopback: protected mode guards it */
        {{"10.0.0.1:7479", true, "10.0.0.1:7379", 0, false, true}, NULL},
        {{"10.0.0.1:7479", true, "0.0.0.0:7379", 0, false, false}, "--client-addr 0.0.0.0:7379 is not a loopback"},
        {{"127.0.0.1:7479", false, "10.0.0.1:7379", 7380, true, false}, "--protected-mode is no"},
        /* TLS only, client certificates required: allowed without protected mode */
        {{"10.0.0.1:7479", true, "10.0.0.1:0", 7380, true, false}, NULL},
        {{"10.0.0.1:7479", true, "10.0.0.1:0", 7380, false, false}, "--tls-auth-clients is not yes"},
        {{"10.0.0.1:7479", true, "10.0.0.1:0", 7380, false, true}, NULL},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        err[0] = 0;
        int rc = protected_check_binds(&cases[k].b, err, sizeof err);
        if (cases[k].want == NULL) {
            if (rc != 0) fail_msg("case %zu refused: %s", k, err);
        } else {
            if (rc == 0 || strstr(err, cases[k].want) == NULL || strchr(err, '\n') != NULL)
                fail_msg("case %zu: want a one-line refusal with '%s', got rc %d: %s", k, cases[k].want, rc, err);
            if (strstr(err, "--insecure") == NULL) fail_msg("case %zu does not name --insecure: %s", k, err);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_refuses),
        cmocka_unit_test(test_binds),
    };
    return cmocka_run_group_tests_name("protected", tests, NULL, NULL);
}
