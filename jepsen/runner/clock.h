/* jepsen: the `clock` nemesis's means. Keel's TTLs run on a cluster clock
 * driven by each node's monotonic clock (raft/clock.h), the wall clock only
 * slewing it; stepping wall clocks checks that they do not follow. Each node runs under
 * libfaketime (Debian package libfaketime) with an offset file of its own;
 * writing the file steps that node's CLOCK_REALTIME at once. The monotonic
 * clock (raft's timers, the client's history times) is left alone. */
#ifndef KEEL_JEPSEN_CLOCK_H
#define KEEL_JEPSEN_CLOCK_H

#include <stdbool.h>
#include <stddef.h>

#include "jepsen/runner/run.h"

struct jclock
{
    bool on;                             /* the clock nemesis is in the run */
    char file[JRUN_MAX_NODES][1024];     /* each node's offset file */
    double offset_s[JRUN_MAX_NODES];     /* as last written */
    double max_skew_s;                   /* the widest spread ever applied */
};

/* Find libfaketime and write a zero offset for each of n nodes under dir.
 * -1 with a reason when libfaketime is missing. */
int jclock_init(struct jclock *c, const char *dir, unsigned n, char *errmsg, size_t size);
/* Around spawning node i: put libfaketime in the environment the child
 * inherits (set true), then take it out again (false). No-op when off. */
void jclock_env(const struct jclock *c, unsigned i, bool set);
/* Step node i's clock to real time + secs. */
int jclock_set(struct jclock *c, unsigned i, double secs);
/* Every node back to real time. */
void jclock_reset(struct jclock *c, unsigned n);

#endif /* KEEL_JEPSEN_CLOCK_H */
