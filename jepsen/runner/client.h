/* jepsen: a client process and the helpers its workloads share (client.c),
 * for the workloads kept in their own files (queue.c). Runner-internal: the
 * rest of the runner sees only jclient_main() and jclient_final() (run.h).
 *
 * A struct proc belongs to the one thread that plays it; its connection is
 * owned by it (proc_connect() makes it, a retire or a fail drops it). */
#ifndef KEEL_JEPSEN_CLIENT_H
#define KEEL_JEPSEN_CLIENT_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdint.h>

#include "jepsen/runner/run.h"

struct proc
{
    struct jrun *run;
    int64_t id;
    unsigned node;
    redisContext *ctx;
    uint64_t rng;
    uint64_t seq;     /* counter: the KEEL.REQ sequence of this process */
};

/* The process's xorshift random numbers (seeded by the run's --seed). */
uint64_t proc_rnd(struct proc *p);
/* Connect to the current node if not connected; false (and the next node
 * chosen) if that fails: nothing was invoked then. */
bool proc_connect(struct proc *p);
/* Record one event now; value is owned (freed here), key and error borrowed. */
void proc_emit(struct proc *p, enum jop_type type, enum jop_f f, const char *key, char *value,
               int64_t ttl, const char *error);
/* Complete an op from its reply r (owned, freed here; NULL: no reply) with
 * ok_value (owned) if it is ok; is_read maps every error to fail. Returns
 * the outcome; on info the process has retired. */
enum jop_type proc_finish(struct proc *p, enum jop_f f, const char *key, redisReply *r,
                          char *ok_value, int64_t ttl, bool is_read);

/* queue.c: one queue operation, and the drain after the faults are healed
 * (the number of queues it could not see empty). */
void jqueue_op(struct proc *p);
int jqueue_drain(struct proc *p);

#endif /* KEEL_JEPSEN_CLIENT_H */
