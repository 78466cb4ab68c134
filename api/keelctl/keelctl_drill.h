/* keelctl drill: shared by keelctl_drill.c (the fault, the timings, the
 * report) and keelctl_drill_load.c (the writers and the read-back). */
#ifndef KEEL_API_KEELCTL_DRILL_H
#define KEEL_API_KEELCTL_DRILL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "api/keelctl/keelctl.h"

#define DRILL_MAX_WRITERS 32

enum { DRILL_FAILED = 0, DRILL_ACKED = 1, DRILL_UNCERTAIN = 2 };

struct drill;

struct drill_writer
{
    struct drill *d;
    unsigned idx;
    pthread_t thread;
    unsigned char *outcome;     /* per sequence number: DRILL_* */
    size_t n, cap;
    unsigned long long acked, reads, stale_reads;
    unsigned long long err_uncertain, err_unavailable, err_server, err_other;
    long long first_ok_after;   /* ms: completion of the first write sent after the fault */
};

struct drill
{
    const char *endpoints;
    struct keel_client_options conn; /* TLS and AUTH (endpoints, timeout: from the two fields) */
    unsigned call_timeout_ms;
    char run_id[24];
    unsigned nwriters, started;
    volatile bool stop;
    volatile long long fault_at; /* ms, monotonic; 0 before the fault */
    struct drill_writer writers[DRILL_MAX_WRITERS];
    unsigned long long verified, lost;
};

long long drill_now_ms(void);
/* Start d->nwriters writers; -1 if a thread could not start. */
int drill_load_start(struct drill *d);
void drill_load_stop(struct drill *d);
int drill_verify(struct drill *d, char *err, size_t size);
void drill_cleanup(struct drill *d);
/* Free d and what its writers recorded (after drill_load_stop). */
void drill_free(struct drill *d);
/* keelctl_drill_quorum.c: quorum loss and recovery on a test cluster it
 * starts itself (keeld from keeld_path, NULL: next to keelctl). */
int kctl_drill_quorum(struct kctl *k, const char *keeld_path, double seconds_without_quorum);

#endif /* KEEL_API_KEELCTL_DRILL_H */
