/* tests/integration: what the TLS and HTTP tests share: the certificate
 * script (examples/tls/make-certs.sh, or $KEEL_MAKE_CERTS), redis-cli, a loopback TCP
 * connection with timeouts, and one sample of a node's /metrics. */
#ifndef KEEL_TESTS_KC_TLS_H
#define KEEL_TESTS_KC_TLS_H

/* The script's path. */
const char *kc_make_certs(void);
/* Certificates for the space-separated ids (and client:NAME) in dir, a CA
 * made there on first use; fails the test if the script does. */
void kc_certs(const char *dir, const char *ids);
/* redis-cli ($REDIS_CLI, else the one on PATH). */
const char *kc_redis_cli(void);
/* A TCP connection to 127.0.0.1:port with send/receive timeouts of
 * timeout_s; -1 if refused. The caller closes it. */
int kc_tcp_connect(unsigned port, unsigned timeout_s);
/* The value of one sample ("name{labels}" as printed) of the /metrics
 * served on http_port; -1 if unreadable or absent. */
long kc_metric(unsigned http_port, const char *sample);

#endif /* KEEL_TESTS_KC_TLS_H */
