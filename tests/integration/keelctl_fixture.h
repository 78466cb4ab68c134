/* tests/integration: what the keelctl tests (test_keelctl*.c) share: the
 * clusters, keelctl and keelutl run through their real binaries with their
 * stdout, stderr and exit status, and their JSON output parsed. */
#ifndef KEEL_TESTS_KEELCTL_FIXTURE_H
#define KEEL_TESTS_KEELCTL_FIXTURE_H

#include <jansson.h>

#include "kc.h"

extern struct kc cl, cl2; /* cl2: a second cluster, restored from a backup */
extern struct kc *on;     /* the cluster run() talks to */
extern char out[65536];   /* the last run's stdout */
extern char err[8192];    /* and its stderr */

/* Stops both clusters (cmocka teardown). */
int teardown(void **state);
/* keelctl against the cluster `on`, every call bounded by --timeout 3s. */
int run(const char *fmt, ...);
/* keelutl, the offline tool (backup files, data directories), with the
 * same --timeout. */
int util(const char *fmt, ...);
/* out parsed as JSON, after rc was checked to be want. */
json_t *as_json(const char *tool, int rc, int want);
json_t *run_json(int want, const char *fmt, const char *arg);
json_t *util_json(int want, const char *fmt, const char *arg);

#endif /* KEEL_TESTS_KEELCTL_FIXTURE_H */
