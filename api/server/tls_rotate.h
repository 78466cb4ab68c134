/* api: certificate rotation without a restart, and the CERT_EXPIRY alarm.
 *
 * Both TLS contexts of a node, member TLS on the raft port (raft/transport.c,
 * through keel_node_tls_ctx) and the client TLS port (conn_tls.c), are
 * reloaded together from --tls-cert-file / --tls-key-file /
 * --tls-ca-cert-file on SIGHUP (keeld.c) and on CONFIG SET of those names
 * (cmd_config.c). A reload builds both new contexts first and swaps them in
 * only if both load and pass the start-up checks (key matches, member
 * certificate verifies against the CA and names this node's id): a bad file
 * changes nothing and the node keeps serving with what it had. New
 * handshakes use the new material; sessions already up keep theirs.
 *
 * CERT_EXPIRY is raised when a loaded certificate, ours (leaf and
 * intermediates) or a CA in --tls-ca-cert-file, expires within
 * --tls-cert-expiry-warn-days; it is evaluated with the other alarms (every
 * 250 ms, from the notAfter dates read at load, so no file is read there).
 * The HTTPS endpoint's pair is reloaded in the same step (the member files
 * when it uses them, else its own), by a new libmicrohttpd daemon on the
 * same socket (http_reload_tls). Loop thread only. */
#ifndef KEEL_API_TLS_ROTATE_H
#define KEEL_API_TLS_ROTATE_H

#include <stddef.h>
#include <stdint.h>

struct keel_server;

enum { TLS_RELOAD_OK, TLS_RELOAD_ERROR, TLS_RELOAD_RESULTS };

/* Reload from the current files, or from other ones (NULL: keep that one).
 * why names the trigger for the log ("SIGHUP", "CONFIG SET"). 0, or -1 with
 * a one-line reason in err (the old material stays in use). Counted in
 * keel_tls_reloads_total{result}. */
int tls_rotate_reload(struct keel_server *srv, const char *cert, const char *key, const char *ca, const char *why,
                      char *err, size_t errsize);

/* The file names now in use ("" if none given). */
const char *tls_rotate_file(const struct keel_server *srv, int which); /* 0 cert, 1 key, 2 ca */

/* The earliest notAfter of what a context presents ("own") and trusts ("ca"),
 * in Unix seconds; 0: no such context. */
struct tls_rotate_expiry
{
    int64_t member_own, member_ca, client_own, client_ca;
};
void tls_rotate_expiry(struct keel_server *srv, struct tls_rotate_expiry *e);

/* alarm.c: raise or clear CERT_EXPIRY. */
void tls_rotate_eval(struct keel_server *srv);

#endif /* KEEL_API_TLS_ROTATE_H */
