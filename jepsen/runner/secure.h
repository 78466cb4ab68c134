/* jepsen: --secure runs (TLS on the raft and client ports, an ACL user for
 * the workload). secure.c makes the certificates (examples/tls/
 * make-certs.sh), adds the TLS options to every keeld, creates the users
 * once the cluster has a leader, and opens every connection the runner
 * makes: the workload's as user `jepsen` (only the commands the workloads
 * send), the runner's own (ROLE, INFO, KEEL.MEMBER) as the default user,
 * both over TLS with a client certificate, authenticated by libkeel. */
#ifndef KEEL_JEPSEN_SECURE_H
#define KEEL_JEPSEN_SECURE_H

#include <hiredis/hiredis.h>
#include <stdbool.h>

#include "jepsen/runner/run.h"

/* Certificates in out/tls for nodes 1..run->n and client:jepsen, and the
 * passwords (random, kept in memory only). 0, or -1 with errmsg. */
int jsecure_prepare(struct jrun *run, const char *out, const char *make_certs, char *errmsg, size_t size);
/* Node i's extra keeld arguments (pointers into run's secure state), added
 * to argv from argv[*n], at most max in all. */
void jsecure_keeld_args(struct jrun *run, unsigned i, const char **argv, unsigned *n, unsigned max);
/* On the leader (index): the jepsen user and the default user's password,
 * then check on every node that jepsen authenticates and is refused an
 * admin command. 0, or -1 with errmsg. */
int jsecure_bootstrap(struct jrun *run, int leader, char *errmsg, size_t size);
/* A connection to node i, each reply bounded by ms: plain (not --secure),
 * else TLS + AUTH as the workload's user or (admin) the default user. NULL
 * when none could be made in ms. */
redisContext *jrun_connect(struct jrun *run, unsigned i, unsigned ms, bool admin);

#endif /* KEEL_JEPSEN_SECURE_H */
