/* jepsen: the runner's shared state. One `struct jrun` per run, owned by
 * run.c's main; client threads (client.c), the nemesis thread (schedule.c)
 * and the report (report.c) borrow it. Everything mutable that more than one
 * thread touches is under `mu`. */
#ifndef KEEL_JEPSEN_RUN_H
#define KEEL_JEPSEN_RUN_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "jepsen/checker/check.h"
#include "jepsen/checker/history.h"

#define JRUN_MAX_NODES 5
#define JRUN_MAX_FAULTS 4096
#define JRUN_CLIENT_PORT 7379
#define JRUN_RAFT_PORT 7479
#define JRUN_TLS_PORT 7380     /* --secure: the clients' port (TLS) */
#define JRUN_TLS_PORT_STR "7380"

/* One fault as it happened, for the nemesis log, the timeline and RTO. */
struct jfault
{
    char what[192];     /* "partition-leader n2", "kill n1 n3", ... */
    int64_t start, end; /* monotonic ns; end 0 while in place */
    int64_t rto_ns;     /* start -> first ok write invoked after start; -1 none */
};

#define JRUN_QUEUE_KEYS 3 /* queue workload: lists q0..q2 (fewer if --keys is less) */

struct jrun
{
    /* configuration (read-only once clients start) */
    enum jworkload workload;
    unsigned n;                          /* nodes */
    char host[JRUN_MAX_NODES][64];       /* each node's address */
    unsigned clients;                    /* concurrent client processes */
    unsigned keys;                       /* register/session keys */
    bool native_set;                     /* set workload on a Redis set (SADD/SMEMBERS), not a hash */
    double op_timeout_s;
    uint64_t seed;

    /* --secure (secure.c): TLS on both ports, the workload as user jepsen */
    bool secure;
    bool secure_ready;                   /* the users exist: the default user has its password */
    char tls_dir[512], tls_ca[576], tls_client_cert[576], tls_client_key[576];
    char tls_member_cert[JRUN_MAX_NODES][576], tls_member_key[JRUN_MAX_NODES][576];
    char admin_password[40], worker_password[40];

    /* nodes (the nemesis restarts them) */
    pid_t pid[JRUN_MAX_NODES];           /* 0: not running */
    bool paused[JRUN_MAX_NODES];

    /* shared, under mu */
    pthread_mutex_t mu;
    FILE *history;                       /* history.jsonl, one line per event */
    struct jhist hist;
    int64_t next_process;
    uint64_t next_value;
    uint64_t next_lapse;                 /* session: lapsing keys written so far */
    struct jfault faults[JRUN_MAX_FAULTS];
    unsigned nfaults;
    int64_t ok_writes, ok_reads, fails, infos;
    volatile bool stop;                  /* clients: finish the current op and exit */
    volatile bool final_phase;           /* clients stopped; final reads running */
    double clock_skew_s;                 /* clock nemesis: widest spread applied */
    /* member nemesis: heals that restored every node as a voter, heals
     * that could not within their bound, and the longest restore */
    unsigned member_restores, member_restore_failures;
    int64_t member_restore_worst_ns;
};

/* Monotonic nanoseconds. */
int64_t jrun_now(void);
/* Record one event (invoke or completion) in the history, under mu. A
 * completion of a write-like op that is ok also settles pending RTOs. */
void jrun_record(struct jrun *run, const struct jop *op);
/* Index of the node every live node agrees leads (ROLE), or -1. */
int jrun_leader(struct jrun *run);

/* client.c: the workload's client process loop (a pthread start routine,
 * arg = struct jrun *), and the final reads after the faults are healed. */
void *jclient_main(void *arg);
int jclient_final(struct jrun *run);

/* queue.c: for the report's lost count, the ok enqueues among one key's
 * sorted operations p[a..b) (jhist_pairs()) that no ok dequeue returned,
 * less the key's uncertain dequeues (check_queue.c's rule); -1 on ENOMEM. */
int64_t jqueue_unseen(const struct jrun *run, const struct jpair *p, size_t a, size_t b);

#endif /* KEEL_JEPSEN_RUN_H */
