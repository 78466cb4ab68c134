/* jepsen: node clocks under libfaketime (see clock.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jepsen/runner/clock.h"

/* The multi-threaded variant: keeld calls the clock from its loop thread
 * and its logger from others. */
static const char *const libs[] = {
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/faketime/libfaketimeMT.so.1",
};
static const char *lib;

int jclock_set(struct jclock *c, unsigned i, double secs)
{
    FILE *f = fopen(c->file[i], "w");
    if (f == NULL) return -1;
    /* libfaketime's relative offset: seconds, a fraction allowed. */
    fprintf(f, "%+.3f\n", secs);
    if (fclose(f) != 0) return -1;
    c->offset_s[i] = secs;
    double lo = 0, hi = 0;
    for (unsigned j = 0; j < JRUN_MAX_NODES; j++) {
        if (c->offset_s[j] < lo) lo = c->offset_s[j];
        if (c->offset_s[j] > hi) hi = c->offset_s[j];
    }
    if (hi - lo > c->max_skew_s) c->max_skew_s = hi - lo;
    return 0;
}

int jclock_init(struct jclock *c, const char *dir, unsigned n, char *errmsg, size_t size)
{
    for (size_t k = 0; lib == NULL && k < sizeof libs / sizeof *libs; k++)
        if (access(libs[k], R_OK) == 0) lib = libs[k];
    if (lib == NULL)
        return snprintf(errmsg, size, "the clock nemesis needs libfaketime (Debian package libfaketime)"), -1;
    c->on = true;
    for (unsigned i = 0; i < n; i++) {
        snprintf(c->file[i], sizeof c->file[i], "%s/n%u.clock", dir, i + 1);
        if (jclock_set(c, i, 0) != 0) return snprintf(errmsg, size, "cannot write %s", c->file[i]), -1;
    }
    return 0;
}

void jclock_env(const struct jclock *c, unsigned i, bool set)
{
    if (!c->on) return;
    if (!set) {
        unsetenv("LD_PRELOAD");
        unsetenv("FAKETIME_TIMESTAMP_FILE");
        return;
    }
    setenv("LD_PRELOAD", lib, 1);
    setenv("FAKETIME_TIMESTAMP_FILE", c->file[i], 1);
    setenv("FAKETIME_NO_CACHE", "1", 1);            /* a step counts at once */
    setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1", 1); /* raft's timers keep real time */
    /* A sanitizer build of keeld wants its runtime first in the list:
     * allow libfaketime ahead of it, keeping the caller's other options. */
    const char *asan = getenv("ASAN_OPTIONS");
    if (asan == NULL || strstr(asan, "verify_asan_link_order") == NULL) {
        char opts[512];
        snprintf(opts, sizeof opts, "%s%sverify_asan_link_order=0", asan ? asan : "", asan && *asan ? ":" : "");
        setenv("ASAN_OPTIONS", opts, 1);
    }
}

void jclock_reset(struct jclock *c, unsigned n)
{
    if (!c->on) return;
    for (unsigned i = 0; i < n; i++)
        if (c->offset_s[i] != 0) jclock_set(c, i, 0);
}
