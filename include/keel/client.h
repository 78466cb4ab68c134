/* libkeel: the C client of a Keel cluster.
 *
 * A client holds a list of endpoints (any node's client address; any node
 * serves every command) and one connection, to the leader when it can find
 * it. A call that meets a lost connection, a timeout, -TRYAGAIN, -MOVED or
 * -BUSY is sent again, to the next endpoint, after a capped exponential
 * backoff with jitter, until it gets an answer or its deadline passes.
 *
 * Writes apply once. Every write the client knows (SET, DEL, INCR, HSET,
 * EXPIRE, ...; keel_is_write) carries the client's id and a sequence number
 * (KEEL.REQ), so a retry after an attempt whose outcome was unknown returns
 * the first attempt's reply instead of applying again. A write whose outcome
 * stays unknown at the deadline is reported as KEEL_EUNCERTAIN, never as a
 * failure: it may have been applied. The server remembers a write for 60 s
 * of log time, far beyond any sensible deadline.
 *
 * Ownership: a reply (struct keel_value) belongs to the caller and is freed
 * with keel_value_free. Strings in it are NUL-terminated copies.
 * Threads: a client is used by one thread at a time; one client per thread
 * is the intended use. The library never logs and never exits the process.
 * Errors: int codes from <keel/error.h>, with a one-line reason in the
 * caller's buffer (KEEL_ERRMSG_SIZE is enough), naming each endpoint tried:
 * "no leader: 127.0.0.1:7379 connection refused, 127.0.0.1:7380 timed out". */
#ifndef KEEL_CLIENT_H
#define KEEL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/error.h> /* the codes, and KEEL_API */

struct keel_client;

struct keel_client_options
{
    const char *endpoints;        /* "host:port,host:port,..."; NULL: $KEEL_ENDPOINTS,
                                   * else 127.0.0.1:7379 */
    unsigned timeout_ms;          /* per call, retries included; 0: 5000 */
    unsigned connect_timeout_ms;  /* per connection attempt; 0: 1000 */
    unsigned backoff_min_ms;      /* first pause between rounds; 0: 10 */
    unsigned backoff_max_ms;      /* the cap; 0: 500 */
    uint64_t client_id;           /* for write dedupe; 0: random (it must be unique) */
    /* Authentication: every connection the client opens (failover and
     * leader-following included) sends AUTH [user] password before any
     * command. password NULL: no AUTH. user NULL: the default user (AUTH
     * password). Both are copied at open; the copies are wiped at close.
     * Neither is ever put in an error message. A refusal (-WRONGPASS) ends
     * the call at once with KEEL_EAUTH: it is never retried. */
    const char *user;
    const char *password;
    /* TLS (the nodes' --tls-port): on when tls is true. tls_ca_file: the CA
     * that signed the nodes' certificates (NULL: the system's store).
     * tls_cert_file and tls_key_file: a client certificate, for nodes with
     * --tls-auth-clients yes. The chain is always verified; the name is
     * checked only when tls_server_name is set (it is also sent as SNI):
     * like redis-cli, since nodes are usually addressed by IP. Files are
     * read at open (KEEL_EINVAL if one is unreadable or the key does not
     * match the certificate). */
    bool tls;
    const char *tls_ca_file;
    const char *tls_cert_file;
    const char *tls_key_file;
    const char *tls_server_name;
};

enum keel_value_type {
    KEEL_VALUE_NIL = 0,
    KEEL_VALUE_STRING,
    KEEL_VALUE_STATUS,            /* +OK and its kind */
    KEEL_VALUE_ERROR,             /* a command error the server gave: the call itself succeeded */
    KEEL_VALUE_INTEGER,
    KEEL_VALUE_ARRAY,
};

struct keel_value
{
    enum keel_value_type type;
    long long integer;            /* INTEGER */
    char *str;                    /* STRING, STATUS, ERROR: NUL-terminated */
    size_t len;
    struct keel_value **elements; /* ARRAY */
    size_t n;
};

KEEL_API void keel_value_free(struct keel_value *v);

/* Parse the endpoints (no connection is made yet). KEEL_EINVAL on a bad
 * list. *out is freed with keel_client_close. */
KEEL_API int keel_client_open(const struct keel_client_options *o, struct keel_client **out,
                              char *errmsg, size_t size);
KEEL_API void keel_client_close(struct keel_client *c);
/* The id this client's writes carry. */
KEEL_API uint64_t keel_client_id(const struct keel_client *c);
/* The endpoint the client is connected to now, or "" (valid until the next call). */
KEEL_API const char *keel_client_endpoint(const struct keel_client *c);

/* Run one command. 0 with *reply set (a KEEL_VALUE_ERROR reply is the
 * server's answer, e.g. WRONGTYPE, or NOAUTH when no password was given);
 * KEEL_EAUTH when a node refused the options' user or password (certainly
 * not applied); KEEL_EUNCERTAIN for a write that may or
 * may not have applied; KEEL_ENOTLEADER when no node could serve it before
 * the deadline (certainly not applied); KEEL_EINVAL for an empty command;
 * KEEL_ENOMEM ("out of memory": before sending, nothing was sent; after,
 * the reply could not be copied, and a write may have applied). */
KEEL_API int keel_call(struct keel_client *c, int argc, const char *const *argv, const size_t *lens,
                       struct keel_value **reply, char *errmsg, size_t size);
/* The same, from NUL-terminated words: keel_callv(c, &r, err, sizeof err, "SET", "k", "v", NULL).
 * At most 64 words (KEEL_EINVAL beyond: use keel_call). */
KEEL_API int keel_callv(struct keel_client *c, struct keel_value **reply, char *errmsg, size_t size,
                        const char *word, ...) __attribute__((sentinel));

/* Pipelining: n commands sent at once, n replies read: one round trip.
 * Retried as a whole (each write keeps its sequence number, so none applies
 * twice). MULTI, writes, EXEC in one pipeline is a transaction that applies
 * exactly once; KEEL.WATCHV key version (a version from KEEL.VERSIONS) in
 * front of it makes a compare-and-set. 0 with replies[0..n-1] set (each the
 * caller's), or the codes of keel_call with none set. */
struct keel_cmd
{
    int argc;
    const char *const *argv;
    const size_t *lens;
};
KEEL_API int keel_pipeline(struct keel_client *c, size_t n, const struct keel_cmd *cmds,
                           struct keel_value **replies, char *errmsg, size_t size);

/* One plain connection to one node, for programs that speak RESP
 * themselves (keelctl's per-node questions, the jepsen runner): TCP to addr
 * ("host:port"), then TLS and AUTH as o says (o may be NULL: neither), all
 * within timeout_ms. No failover, no retry. 0 with *fd a connected,
 * authenticated stream socket that carries plain RESP: the TCP socket
 * itself, or (TLS) one end of a socketpair whose other end a thread of
 * libkeel's bridges through TLS until either end closes. The caller closes
 * *fd. KEEL_EAUTH: the node refused the user or password; KEEL_EIO: no
 * connection, or the TLS handshake failed (errmsg says why); KEEL_EINVAL:
 * a bad address or TLS file; KEEL_ENOMEM. */
KEEL_API int keel_connect_fd(const char *addr, const struct keel_client_options *o, unsigned timeout_ms, int *fd,
                             char *errmsg, size_t size);

/* Is name (any case) a write that libkeel makes exactly-once? */
KEEL_API bool keel_is_write(const char *name, size_t len);

#endif /* KEEL_CLIENT_H */
