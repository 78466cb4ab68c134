/* raft: what the loop thread is doing while it is stuck in one long
 * synchronous step (installing a snapshot image, replaying the log, syncing
 * and closing LMDB), readable from any thread: keeld's stop watchdog names
 * it when the loop itself cannot answer (api/keeld/keeld_stop.c).
 *
 * One marker for the process (keeld runs one node); with several nodes in
 * one process (tests) the latest step wins, which only affects that
 * message. `what` must be a string literal. */
#ifndef KEEL_RAFT_BUSY_H
#define KEEL_RAFT_BUSY_H

#include <stdint.h>

/* Mark the start of a step; returns the marker it replaces, for
 * keel_busy_end (steps nest: a restore inside the log replay). */
const char *keel_busy_begin(const char *what);
void keel_busy_end(const char *previous);
/* The current step or NULL; *since_ms (may be NULL): when it began, on the
 * CLOCK_MONOTONIC clock in ms. */
const char *keel_busy_now(uint64_t *since_ms);

#endif /* KEEL_RAFT_BUSY_H */
