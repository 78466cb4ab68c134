/* raft: TLS on memory buffers, for connections a libuv loop drives (OpenSSL 3).
 *
 * No sockets here: the caller feeds the ciphertext it read (keel_tls_feed),
 * drives the handshake, takes plaintext out (keel_tls_read), puts plaintext
 * in (keel_tls_write) and sends whatever ciphertext is due
 * (keel_tls_drain) after each of those. So the same engine serves the raft
 * transport's bridge (transport_tls.c) and the client port
 * (api/server/conn_tls.c).
 *
 * Between members it is mutual: both ends present a certificate and verify
 * the peer's chain against one CA (TLS 1.2 at least; 1.3 is negotiated
 * between two Keel nodes). A member certificate names its member id in a
 * URI subject alternative name "keel:member:<id>" (docs/security.md);
 * exactly one such SAN is allowed. The client port asks what
 * --tls-auth-clients says and needs no member id. Loop thread only, except
 * keel_tls_ctx_new which may run anywhere. */
#ifndef KEEL_RAFT_TLS_H
#define KEEL_RAFT_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEEL_TLS_SAN_PREFIX "keel:member:"

struct keel_tls_ctx;
struct keel_tls;

/* What the peer must show (Redis's tls-auth-clients yes|optional|no). */
enum keel_tls_verify {
    KEEL_TLS_VERIFY_REQUIRE = 0, /* a certificate that verifies against the CA */
    KEEL_TLS_VERIFY_OPTIONAL,    /* none, or one that verifies */
    KEEL_TLS_VERIFY_NONE,        /* none asked for */
};

struct keel_tls_options
{
    const char *cert_file; /* a PEM chain, leaf first */
    const char *key_file;
    const char *ca_file;   /* needed unless verify is KEEL_TLS_VERIFY_NONE */
    enum keel_tls_verify verify;
    /* Non-zero (members): our certificate must verify against the CA now and
     * name exactly this member id. */
    uint64_t member_id;
    /* Redis's option values; NULL or "": the defaults (TLS 1.2 and 1.3,
     * OpenSSL's cipher lists). protocols: "TLSv1.2 TLSv1.3" or either. */
    const char *protocols;
    const char *ciphers;      /* TLS 1.2 (--tls-ciphers) */
    const char *ciphersuites; /* TLS 1.3 (--tls-ciphersuites) */
};

/* Load the certificate, its key and the CA bundle; the key must match the
 * certificate. NULL with a one-line reason in err, naming the keeld option
 * at fault. */
struct keel_tls_ctx *keel_tls_ctx_new(const struct keel_tls_options *o, char *err, size_t errsize);
void keel_tls_ctx_free(struct keel_tls_ctx *c);

/* Rotation without a restart: c takes next's certificate, key and CA (next
 * is consumed). Sessions begun from now on use them; sessions already
 * running keep the material they began with (OpenSSL counts the old
 * context's references) until they end. Build next with keel_tls_ctx_new
 * first: a file that does not load never reaches c. */
void keel_tls_ctx_swap(struct keel_tls_ctx *c, struct keel_tls_ctx *next);

/* The earliest notAfter (Unix seconds, 0: none) of the certificates c
 * presents (leaf and intermediates) and of its CA bundle. */
struct keel_tls_expiry
{
    int64_t own;
    int64_t ca;
    char ca_subject[128]; /* the CA that expires first */
};
void keel_tls_ctx_expiry(const struct keel_tls_ctx *c, struct keel_tls_expiry *out);

enum {
    KEEL_TLS_ERROR = -1, /* fatal: keel_tls_reason says why */
    KEEL_TLS_OK = 0,
    KEEL_TLS_WANT = 1,   /* needs more input (feed, then call again) */
    KEEL_TLS_CLOSED = 2, /* the peer ended the session cleanly */
};

/* Why a session failed: short words used as metric labels. */
enum keel_tls_reason {
    KEEL_TLS_R_NONE = 0,
    KEEL_TLS_R_NO_CERT,      /* the peer sent no certificate */
    KEEL_TLS_R_BAD_CERT,     /* chain did not verify: other CA, expired, not yet valid, bad signature */
    KEEL_TLS_R_HANDSHAKE,    /* not TLS, or a TLS protocol error */
};

struct keel_tls *keel_tls_new(struct keel_tls_ctx *c, bool server);
void keel_tls_free(struct keel_tls *s);

/* Ciphertext read from the peer. KEEL_TLS_OK or KEEL_TLS_ERROR (no memory). */
int keel_tls_feed(struct keel_tls *s, const void *data, size_t n);
/* Advance the handshake: OK once done (the peer's chain verified), WANT, or ERROR. */
int keel_tls_handshake(struct keel_tls *s);
/* Plaintext out, at most size bytes: OK with *got (0: nothing yet), CLOSED or ERROR. */
int keel_tls_read(struct keel_tls *s, void *buf, size_t size, size_t *got);
/* Plaintext in (all of it is taken): OK or ERROR. After the handshake only. */
int keel_tls_write(struct keel_tls *s, const void *data, size_t n);
/* Ciphertext to send: how much is waiting, and take up to size of it. */
size_t keel_tls_pending(struct keel_tls *s);
size_t keel_tls_drain(struct keel_tls *s, void *buf, size_t size);

enum keel_tls_reason keel_tls_reason(const struct keel_tls *s);
/* After a failed handshake: OpenSSL's words for it ("certificate has expired", ...). */
const char *keel_tls_detail(const struct keel_tls *s);
/* Did the peer present a certificate (that verified: else the handshake failed)? */
bool keel_tls_peer_has_cert(const struct keel_tls *s);
/* The member id the verified peer certificate names: 0, or -1 if it names
 * none or more than one. */
int keel_tls_peer_member_id(struct keel_tls *s, uint64_t *id);
const char *keel_tls_version(const struct keel_tls *s);

#endif /* KEEL_RAFT_TLS_H */
