/* tests/integration: what the TLS, HTTP and client-library tests share: the
 * certificate script (examples/tls/make-certs.sh, or $KEEL_MAKE_CERTS),
 * redis-cli, a shell command's output, a loopback TCP connection with
 * timeouts, and one sample of a node's /metrics. */
#ifndef KEEL_TESTS_KC_TLS_H
#define KEEL_TESTS_KC_TLS_H

#include <stddef.h>

/* The script's path. */
const char *kc_make_certs(void);
/* Certificates for the space-separated ids (and client:NAME) in dir, a CA
 * made there on first use; fails the test if the script does. */
void kc_certs(const char *dir, const char *ids);
/* redis-cli ($REDIS_CLI, else the one on PATH). */
const char *kc_redis_cli(void);
/* Run the printf-formatted shell command (pipes allowed) under `timeout
 * timeout_s`, stderr with stdout; its output, trailing newlines cut, in out.
 * Returns its exit status (128 if it did not exit). */
int kc_sh(unsigned timeout_s, char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* A TCP connection to 127.0.0.1:port with send/receive timeouts of
 * timeout_s; -1 if refused. The caller closes it. */
int kc_tcp_connect(unsigned port, unsigned timeout_s);
/* The value of one sample ("name{labels}" as printed) of the /metrics
 * served on http_port; -1 if unreadable or absent. */
long kc_metric(unsigned http_port, const char *sample);

#endif /* KEEL_TESTS_KC_TLS_H */
