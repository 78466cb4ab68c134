/* tests/fuzz: the ACL rule grammar (store/acl.c). The input is ACL SETUSER's
 * arguments, one per line. Whatever they are, SETUSER accepts or refuses
 * them with a reason, never crashes; an accepted user's description (the
 * text the leader replicates) always passes the codec, contains no '>' or
 * '<' word, and rebuilds the very same user (same description, same
 * command bits). The check and the glob run on the input's bytes too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/acl.h"
#include "store/codec.h"

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_acl: %s\n", what);
        abort();
    }
}

static void roundtrip(const struct acl_user *u)
{
    struct buf d1, d2;
    buf_init(&d1);
    buf_init(&d2);
    acl_describe(u, &d1);
    check(!d1.oom, "out of memory");
    if (d1.len <= ACL_MAX_RULES) {
        struct keel_enc e;
        uint8_t *buf = NULL;
        size_t len = 0;
        struct store_cmd cmd;
        const char *why = NULL;
        keel_enc_init(&e, 1, 0, 0);
        keel_enc_acl(&e, (struct keel_slice){(const uint8_t *)"u", 1}, 0,
                     (struct keel_slice){d1.p, d1.len}, 0);
        check(keel_enc_finish(&e, &buf, &len) == 0, "encode");
        int rc = store_cmd_decode(buf, len, &cmd, &why);
        if (rc != 0) fprintf(stderr, "decode: %s: %.*s\n", why, (int)d1.len, (char *)d1.p);
        check(rc == 0, "the codec refuses a description");
        free(buf);
    }
    /* rebuild from the words */
    struct acl_user v;
    check(acl_user_init(&v, "u", 1) == 0, "init");
    const char *err;
    size_t at = 0;
    while (at < d1.len) {
        size_t end = at;
        while (end < d1.len && d1.p[end] != ' ') end++;
        check(d1.p[at] != '>' && d1.p[at] != '<', "cleartext word in a description");
        check(acl_rule(&v, d1.p + at, end - at, &err) == 0, "a description word is refused");
        at = end + 1;
    }
    acl_describe(&v, &d2);
    check(d1.len == d2.len && memcmp(d1.p, d2.p, d1.len) == 0, "description differs");
    check(memcmp(u->allowed, v.allowed, acl_commands_n) == 0, "command bits differ");
    acl_user_close(&v);
    buf_close(&d1);
    buf_close(&d2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct keel_slice rules[64];
    size_t n = 0, at = 0;
    while (at < size && n < 64) {
        const uint8_t *nl = memchr(data + at, '\n', size - at);
        size_t end = nl ? (size_t)(nl - data) : size;
        rules[n++] = (struct keel_slice){data + at, end - at};
        at = end + 1;
    }
    struct acl_user u;
    char msg[512];
    check(acl_user_init(&u, "u", 1) == 0, "init");
    int rc = acl_setuser(&u, rules, n, msg, sizeof msg);
    check(rc == 0 || (rc == KEEL_EINVAL && msg[0] != 0), "refused without a reason");
    roundtrip(&u);
    /* the check with the input as a key, a channel and a pattern */
    struct acl_key k = {{data, size}, ACL_KEY_READ};
    struct acl_channel c = {{data, size}, size % 2 == 0};
    (void)acl_check(&u, (int)(size % (acl_commands_n + 1)) - 1, &k, 1, &c, 1, NULL);
    (void)acl_glob(data, size / 2, data + size / 2, size - size / 2);
    (void)acl_password_ok(&u, data, size);
    acl_user_close(&u);
    return 0;
}
