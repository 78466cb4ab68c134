/* examples/hello_keel: the smallest libkeel program, built against the
 * installed headers and library only:
 *
 *   cc hello_keel.c $(pkg-config --cflags --libs keel) -o hello_keel
 *   ./hello_keel [ENDPOINTS]
 *
 * Sets hello-keel to "world" and reads it back through any member of the
 * cluster (libkeel finds the leader). Exit 0 and "world" on stdout; 1 with
 * the code's text (keel_strerror) and libkeel's reason, naming every
 * endpoint tried, on stderr; 2 on bad usage. tests/install builds it
 * against a `cmake --install` tree and runs it. */
#include <stdio.h>
#include <string.h>

#include <keel/client.h>

static int fail(int rc, const char *what, const char *why)
{
    fprintf(stderr, "hello_keel: %s: %s (%s)\n", what, keel_strerror(rc), why);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc > 2) {
        fprintf(stderr, "usage: hello_keel [HOST:PORT,...]\n");
        return 2;
    }
    struct keel_client_options o = {.endpoints = argc == 2 ? argv[1] : NULL, .timeout_ms = 2000};
    struct keel_client *c;
    struct keel_value *r;
    char err[KEEL_ERRMSG_SIZE];
    int rc = keel_client_open(&o, &c, err, sizeof err);
    if (rc != 0) return fail(rc, "open", err);
    rc = keel_callv(c, &r, err, sizeof err, "SET", "hello-keel", "world", NULL);
    if (rc == 0) {
        keel_value_free(r);
        rc = keel_callv(c, &r, err, sizeof err, "GET", "hello-keel", NULL);
    }
    if (rc != 0) {
        keel_client_close(c);
        return fail(rc, "call", err);
    }
    int status = r->type == KEEL_VALUE_STRING ? 0 : 1;
    printf("%s\n", r->str != NULL ? r->str : "(nil)");
    keel_value_free(r);
    keel_client_close(c);
    return status;
}
