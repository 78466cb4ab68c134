/* tests/cluster: a random mixed workload of every command type (sets included), reproducible
 * from its seed, that also counts what its counters must add up to. */
#ifndef KEEL_TESTS_WORKLOAD_H
#define KEEL_TESTS_WORKLOAD_H

#include <stdint.h>

#include "store/codec.h"

#define WORKLOAD_COUNTERS 8

struct workload
{
    uint64_t rng;
    /* What each counter key "ctr<i>" must hold once every command whose
     * workload_note_applied() was called has applied exactly once. */
    int64_t counters[WORKLOAD_COUNTERS];
    int last_counter;  /* counter touched by the last command, or -1 */
    int64_t last_delta;
};

void workload_init(struct workload *w, uint64_t seed);
uint64_t workload_rand(struct workload *w);
/* Append one random command to e (already init'ed with ts/client/seq). */
void workload_command(struct workload *w, struct keel_enc *e, int64_t now);
/* The last generated command was applied (exactly once). */
void workload_note_applied(struct workload *w);

#endif /* KEEL_TESTS_WORKLOAD_H */
