/* jepsen: the nodes and the nemesis schedule. Owns the hosts (net.h), the
 * keeld processes on them, and the faults: every `interval` seconds one
 * nemesis from the list (chosen at random, seeded), or two combined, is
 * applied, held for half an interval, and healed. Each fault is recorded in run->faults. */
#ifndef KEEL_JEPSEN_SCHEDULE_H
#define KEEL_JEPSEN_SCHEDULE_H

#include "jepsen/runner/clock.h"
#include "jepsen/net/net.h"
#include "jepsen/runner/run.h"

#define JSCHED_MAX_NEMESES 16

struct jschedule
{
    struct jrun *run;      /* borrowed */
    struct jnet net;
    bool net_up;
    char mode[128];
    int kinds[JSCHED_MAX_NEMESES];
    unsigned nkinds;
    double interval_s;
    const char *keeld;     /* borrowed from argv */
    const char *const *args;
    unsigned nargs;
    bool unsafe;           /* --unsafe-local-reads asked for: allow it (test hook) */
    const char *dir;
    uint64_t rng;
    bool members_changed;  /* a member nemesis ran: restore on heal */
    struct jclock clock;   /* libfaketime offsets, when `clock` is listed */
};

/* The nemesis names, comma-separated, for usage messages. */
const char *jschedule_names(void);
/* Parse the nemesis list and set up the hosts; run->host[] is filled. */
int jschedule_init(struct jschedule *s, struct jrun *run, const char *nemeses, double interval_s,
                   const char *keeld, const char *const *args, unsigned nargs, const char *dir,
                   char *errmsg, size_t size);
const char *jschedule_hosts_mode(const struct jschedule *s);
/* Start (or restart) every node that is not running. */
int jschedule_start_nodes(struct jschedule *s, char *errmsg, size_t size);
/* Faults until time_s have passed; returns with every fault healed and
 * every node running. */
void jschedule_run(struct jschedule *s, double time_s);
/* SIGTERM every node (SIGKILL after 10 s), reap them, tear the hosts down.
 * Returns how many nodes did not exit 0 (a crash on the way out, or a
 * sanitizer report, is a bug too). */
int jschedule_shutdown(struct jschedule *s);

#endif /* KEEL_JEPSEN_SCHEDULE_H */
