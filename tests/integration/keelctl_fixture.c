/* tests/integration: the keelctl tests' shared fixture (keelctl_fixture.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>

#include "keelctl_fixture.h"

struct kc cl, cl2;
struct kc *on = &cl;
char out[65536];
char err[8192];

int teardown(void **state)
{
    (void)state;
    if (cl.base != NULL) kc_stop(&cl);
    if (cl2.base != NULL) kc_stop(&cl2);
    on = &cl;
    return 0;
}

/* keelctl against the cluster `on`, every call bounded by --timeout 3s. */
int run(const char *fmt, ...)
{
    char args[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return kc_keelctl(on, out, sizeof out, err, sizeof err, "--timeout 3s %s", args);
}

/* keelutl, the offline tool (backup files, data directories), with the
 * same --timeout. */
int util(const char *fmt, ...)
{
    char args[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return kc_keelutl(on, out, sizeof out, err, sizeof err, "--timeout 3s %s", args);
}

/* out parsed as JSON, after rc was checked to be want. */
json_t *as_json(const char *tool, int rc, int want)
{
    if (rc != want) fprintf(stderr, "%s exit %d: %s%s\n", tool, rc, out, err);
    assert_int_equal(rc, want);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    if (j == NULL) fprintf(stderr, "not JSON: %s\n", out);
    assert_non_null(j);
    return j;
}

json_t *run_json(int want, const char *fmt, const char *arg)
{
    return as_json("keelctl", run(fmt, arg), want);
}

json_t *util_json(int want, const char *fmt, const char *arg)
{
    return as_json("keelutl", util(fmt, arg), want);
}
