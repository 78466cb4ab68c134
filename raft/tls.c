/* raft: TLS on memory BIOs (see tls.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "raft/tls.h"

struct keel_tls_ctx
{
    SSL_CTX *ctx; /* swapped by keel_tls_ctx_swap; each SSL holds a reference to its own */
    struct keel_tls_expiry expiry;
};

struct keel_tls
{
    SSL *ssl;
    BIO *in;  /* ciphertext from the peer: SSL reads it */
    BIO *out; /* ciphertext for the peer: SSL writes it */
    enum keel_tls_reason reason;
    char detail[160];
};

static void last_error(char *buf, size_t size)
{
    unsigned long e = ERR_peek_last_error();
    if (e == 0) snprintf(buf, size, "unknown error");
    else ERR_error_string_n(e, buf, size);
    ERR_clear_error();
}

/* The member id a certificate names in a URI SAN keel:member:<id>: 0 if it
 * names exactly one, -1 if none, -2 if several or a malformed one. */
static int cert_member_id(X509 *cert, uint64_t *id)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    int found = 0, bad = 0;
    size_t plen = strlen(KEEL_TLS_SAN_PREFIX);
    for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        if (g->type != GEN_URI) continue;
        const unsigned char *d = ASN1_STRING_get0_data(g->d.uniformResourceIdentifier);
        int len = ASN1_STRING_length(g->d.uniformResourceIdentifier);
        if (len <= (int)plen || len > 40 || memcmp(d, KEEL_TLS_SAN_PREFIX, plen) != 0) continue;
        char num[41];
        memcpy(num, d + plen, (size_t)len - plen);
        num[len - plen] = 0;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(num, &end, 10);
        if (num[0] < '1' || num[0] > '9' || *end != 0 || errno != 0 || v == 0) bad = 1;
        else *id = v;
        found++;
    }
    GENERAL_NAMES_free(names);
    if (bad || found > 1) return -2;
    return found == 1 ? 0 : -1;
}

static int verify_own(SSL_CTX *ctx, X509 *cert, char *err, size_t errsize)
{
    X509_STORE_CTX *vc = X509_STORE_CTX_new();
    STACK_OF(X509) *chain = NULL;
    int ok = 0;
    if (vc == NULL) return snprintf(err, errsize, "out of memory"), -1;
    SSL_CTX_get0_chain_certs(ctx, &chain);
    if (X509_STORE_CTX_init(vc, SSL_CTX_get_cert_store(ctx), cert, chain) == 1) {
        ok = X509_verify_cert(vc) == 1;
        if (!ok) snprintf(err, errsize, "%s", X509_verify_cert_error_string(X509_STORE_CTX_get_error(vc)));
    } else {
        last_error(err, errsize);
    }
    X509_STORE_CTX_free(vc);
    return ok ? 0 : -1;
}

/* --tls-protocols: Redis's words, space-separated; TLS 1.2 and 1.3 only
 * (1.0 and 1.1 are deprecated, RFC 8996, and OpenSSL 3's default security
 * level refuses them anyway). */
static int set_protocols(SSL_CTX *x, const char *list, char *err, size_t errsize)
{
    int lo = 0, hi = 0;
    char words[256];
    if (list == NULL || list[0] == 0) list = "TLSv1.2 TLSv1.3";
    snprintf(words, sizeof words, "%s", list);
    for (char *save = NULL, *w = strtok_r(words, " ,", &save); w != NULL; w = strtok_r(NULL, " ,", &save)) {
        int v;
        if (!strcasecmp(w, "TLSv1.2")) v = TLS1_2_VERSION;
        else if (!strcasecmp(w, "TLSv1.3")) v = TLS1_3_VERSION;
        else if (!strcasecmp(w, "TLSv1") || !strcasecmp(w, "TLSv1.1")) {
            snprintf(err, errsize, "--tls-protocols: %s is not offered (deprecated by RFC 8996): use TLSv1.2 and/or TLSv1.3", w);
            return -1;
        } else {
            snprintf(err, errsize, "--tls-protocols: unknown protocol %s (want TLSv1.2 and/or TLSv1.3)", w);
            return -1;
        }
        if (lo == 0 || v < lo) lo = v;
        if (v > hi) hi = v;
    }
    if (lo == 0) {
        snprintf(err, errsize, "--tls-protocols: no protocol named (want TLSv1.2 and/or TLSv1.3)");
        return -1;
    }
    SSL_CTX_set_min_proto_version(x, lo);
    SSL_CTX_set_max_proto_version(x, hi);
    return 0;
}

static int set_ciphers(SSL_CTX *x, const struct keel_tls_options *o, char *err, size_t errsize)
{
    if (o->ciphers != NULL && o->ciphers[0] && SSL_CTX_set_cipher_list(x, o->ciphers) != 1) {
        ERR_clear_error();
        snprintf(err, errsize, "--tls-ciphers %s: no cipher OpenSSL knows matches", o->ciphers);
        return -1;
    }
    if (o->ciphersuites != NULL && o->ciphersuites[0] && SSL_CTX_set_ciphersuites(x, o->ciphersuites) != 1) {
        ERR_clear_error();
        snprintf(err, errsize, "--tls-ciphersuites %s: no TLS 1.3 ciphersuite OpenSSL knows matches", o->ciphersuites);
        return -1;
    }
    return 0;
}

static int check_member(X509 *own, const char *cert_file, uint64_t self_id, char *err, size_t errsize)
{
    uint64_t named = 0;
    int rc = cert_member_id(own, &named);
    if (rc == -1) {
        snprintf(err, errsize, "--tls-cert-file %s names no member id (want a URI SAN %s%" PRIu64 ")", cert_file,
                 KEEL_TLS_SAN_PREFIX, self_id);
        return -1;
    }
    if (rc != 0) {
        snprintf(err, errsize, "--tls-cert-file %s has several or malformed %s SANs (want exactly one)", cert_file,
                 KEEL_TLS_SAN_PREFIX);
        return -1;
    }
    if (named != self_id) {
        snprintf(err, errsize, "--tls-cert-file %s names member %" PRIu64 ", not this node's --id %" PRIu64,
                 cert_file, named, self_id);
        return -1;
    }
    return 0;
}

/* notAfter as Unix seconds (0 if it cannot be read). */
static int64_t not_after(const X509 *x)
{
    struct tm tm;
    const ASN1_TIME *t = X509_get0_notAfter(x);
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
    return (int64_t)timegm(&tm);
}

/* The earliest notAfter of our chain (leaf and intermediates) and of the CA
 * bundle: what CERT_EXPIRY watches (api/server/tls_rotate.c). */
static void find_expiry(SSL_CTX *x, struct keel_tls_expiry *e)
{
    STACK_OF(X509) *chain = NULL;
    X509 *own = SSL_CTX_get0_certificate(x);
    memset(e, 0, sizeof *e);
    if (own != NULL) e->own = not_after(own);
    SSL_CTX_get0_chain_certs(x, &chain);
    for (int i = 0; chain != NULL && i < sk_X509_num(chain); i++) {
        int64_t t = not_after(sk_X509_value(chain, i));
        if (t != 0 && (e->own == 0 || t < e->own)) e->own = t;
    }
    STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(SSL_CTX_get_cert_store(x));
    for (int i = 0; objs != NULL && i < sk_X509_OBJECT_num(objs); i++) {
        X509 *ca = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
        if (ca == NULL) continue;
        int64_t t = not_after(ca);
        if (t != 0 && (e->ca == 0 || t < e->ca)) {
            e->ca = t;
            X509_NAME_oneline(X509_get_subject_name(ca), e->ca_subject, sizeof e->ca_subject);
        }
    }
}

struct keel_tls_ctx *keel_tls_ctx_new(const struct keel_tls_options *o, char *err, size_t errsize)
{
    char why[256];
    bool have_ca = o->ca_file != NULL && o->ca_file[0] != 0;
    if (!have_ca && (o->verify != KEEL_TLS_VERIFY_NONE || o->member_id != 0)) {
        snprintf(err, errsize, "--tls-ca-cert-file is needed to verify peers");
        return NULL;
    }
    struct keel_tls_ctx *c = calloc(1, sizeof *c);
    if (c == NULL || (c->ctx = SSL_CTX_new(TLS_method())) == NULL) {
        free(c);
        snprintf(err, errsize, "cannot create a TLS context");
        return NULL;
    }
    SSL_CTX *x = c->ctx;
    SSL_CTX_set_options(x, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(x, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_verify(x,
                       o->verify == KEEL_TLS_VERIFY_REQUIRE    ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                       : o->verify == KEEL_TLS_VERIFY_OPTIONAL ? SSL_VERIFY_PEER
                                                               : SSL_VERIFY_NONE,
                       NULL);
    SSL_CTX_set_session_cache_mode(x, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(x, 0);
    if (set_protocols(x, o->protocols, err, errsize) != 0 || set_ciphers(x, o, err, errsize) != 0) goto fail;
    if (SSL_CTX_use_certificate_chain_file(x, o->cert_file) != 1) {
        last_error(why, sizeof why);
        snprintf(err, errsize, "--tls-cert-file %s: %s", o->cert_file, why);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(x, o->key_file, SSL_FILETYPE_PEM) != 1) {
        if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
            ERR_clear_error();
            snprintf(err, errsize, "--tls-key-file %s does not match --tls-cert-file %s", o->key_file,
                     o->cert_file);
            goto fail;
        }
        last_error(why, sizeof why);
        snprintf(err, errsize, "--tls-key-file %s: %s", o->key_file, why);
        goto fail;
    }
    if (SSL_CTX_check_private_key(x) != 1) {
        ERR_clear_error();
        snprintf(err, errsize, "--tls-key-file %s does not match --tls-cert-file %s", o->key_file, o->cert_file);
        goto fail;
    }
    if (have_ca && SSL_CTX_load_verify_locations(x, o->ca_file, NULL) != 1) {
        last_error(why, sizeof why);
        snprintf(err, errsize, "--tls-ca-cert-file %s: %s", o->ca_file, why);
        goto fail;
    }
    if (o->member_id != 0) {
        /* A member's certificate is what its peers verify against the same
         * CA: refuse one that cannot pass now. Clients may trust another CA
         * for the server's certificate than the one their own come from, as
         * with Redis, so the client port does not ask this. */
        X509 *own = SSL_CTX_get0_certificate(x);
        if (verify_own(x, own, why, sizeof why) != 0) {
            snprintf(err, errsize, "--tls-cert-file %s does not verify against --tls-ca-cert-file %s: %s",
                     o->cert_file, o->ca_file, why);
            goto fail;
        }
        if (check_member(own, o->cert_file, o->member_id, err, errsize) != 0) goto fail;
    }
    find_expiry(x, &c->expiry);
    return c;
fail:
    keel_tls_ctx_free(c);
    return NULL;
}

void keel_tls_ctx_free(struct keel_tls_ctx *c)
{
    if (c == NULL) return;
    SSL_CTX_free(c->ctx);
    free(c);
}

void keel_tls_ctx_swap(struct keel_tls_ctx *c, struct keel_tls_ctx *next)
{
    /* SSL_new took a reference to c->ctx for every live session: freeing
     * ours leaves the old material to them until they end. */
    SSL_CTX_free(c->ctx);
    c->ctx = next->ctx;
    c->expiry = next->expiry;
    free(next);
}

void keel_tls_ctx_expiry(const struct keel_tls_ctx *c, struct keel_tls_expiry *out)
{
    *out = c->expiry;
}

struct keel_tls *keel_tls_new(struct keel_tls_ctx *c, bool server)
{
    struct keel_tls *s = calloc(1, sizeof *s);
    if (s == NULL) return NULL;
    s->ssl = SSL_new(c->ctx);
    s->in = BIO_new(BIO_s_mem());
    s->out = BIO_new(BIO_s_mem());
    if (s->ssl == NULL || s->in == NULL || s->out == NULL) {
        SSL_free(s->ssl);
        BIO_free(s->in);
        BIO_free(s->out);
        free(s);
        return NULL;
    }
    BIO_set_mem_eof_return(s->in, -1); /* empty: "retry", not end of file */
    BIO_set_mem_eof_return(s->out, -1);
    SSL_set_bio(s->ssl, s->in, s->out); /* the SSL owns both now */
    if (server) SSL_set_accept_state(s->ssl);
    else SSL_set_connect_state(s->ssl);
    return s;
}

void keel_tls_free(struct keel_tls *s)
{
    if (s == NULL) return;
    SSL_free(s->ssl);
    free(s);
}

int keel_tls_feed(struct keel_tls *s, const void *data, size_t n)
{
    if (n > INT32_MAX || BIO_write(s->in, data, (int)n) != (int)n) {
        s->reason = KEEL_TLS_R_HANDSHAKE;
        snprintf(s->detail, sizeof s->detail, "out of memory");
        return KEEL_TLS_ERROR;
    }
    return KEEL_TLS_OK;
}

/* Classify a fatal error: the verification result first, then OpenSSL's queue. */
static int failed(struct keel_tls *s)
{
    long v = SSL_get_verify_result(s->ssl);
    unsigned long e = ERR_peek_last_error();
    if (v != X509_V_OK) {
        s->reason = KEEL_TLS_R_BAD_CERT;
        snprintf(s->detail, sizeof s->detail, "%s", X509_verify_cert_error_string(v));
    } else if (ERR_GET_REASON(e) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
        s->reason = KEEL_TLS_R_NO_CERT;
        snprintf(s->detail, sizeof s->detail, "peer did not send a certificate");
    } else if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
               (ERR_GET_REASON(e) == SSL_R_TLSV1_ALERT_UNKNOWN_CA ||
                ERR_GET_REASON(e) == SSL_R_SSLV3_ALERT_BAD_CERTIFICATE ||
                ERR_GET_REASON(e) == SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED ||
                ERR_GET_REASON(e) == SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED)) {
        /* The peer refused our certificate: it says so in an alert. */
        s->reason = KEEL_TLS_R_BAD_CERT;
        snprintf(s->detail, sizeof s->detail, "peer refused our certificate: %s", ERR_reason_error_string(e));
    } else {
        s->reason = KEEL_TLS_R_HANDSHAKE;
        if (e != 0) ERR_error_string_n(e, s->detail, sizeof s->detail);
        else snprintf(s->detail, sizeof s->detail, "connection ended");
    }
    ERR_clear_error();
    return KEEL_TLS_ERROR;
}

int keel_tls_handshake(struct keel_tls *s)
{
    ERR_clear_error();
    int rc = SSL_do_handshake(s->ssl);
    if (rc == 1) return KEEL_TLS_OK;
    int e = SSL_get_error(s->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return KEEL_TLS_WANT;
    return failed(s);
}

int keel_tls_read(struct keel_tls *s, void *buf, size_t size, size_t *got)
{
    *got = 0;
    ERR_clear_error();
    if (SSL_read_ex(s->ssl, buf, size, got) == 1) return KEEL_TLS_OK;
    int e = SSL_get_error(s->ssl, 0);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return KEEL_TLS_OK;
    if (e == SSL_ERROR_ZERO_RETURN) return KEEL_TLS_CLOSED;
    return failed(s);
}

int keel_tls_write(struct keel_tls *s, const void *data, size_t n)
{
    const char *p = data;
    ERR_clear_error();
    while (n > 0) {
        size_t done = 0;
        if (SSL_write_ex(s->ssl, p, n, &done) != 1) return failed(s);
        p += done;
        n -= done;
    }
    return KEEL_TLS_OK;
}

size_t keel_tls_pending(struct keel_tls *s)
{
    return BIO_ctrl_pending(s->out);
}

size_t keel_tls_drain(struct keel_tls *s, void *buf, size_t size)
{
    if (size > INT32_MAX) size = INT32_MAX;
    int n = BIO_read(s->out, buf, (int)size);
    return n > 0 ? (size_t)n : 0;
}

enum keel_tls_reason keel_tls_reason(const struct keel_tls *s)
{
    return s->reason;
}

const char *keel_tls_detail(const struct keel_tls *s)
{
    return s->detail;
}

bool keel_tls_peer_has_cert(const struct keel_tls *s)
{
    return SSL_get0_peer_certificate(s->ssl) != NULL && SSL_get_verify_result(s->ssl) == X509_V_OK;
}

int keel_tls_peer_member_id(struct keel_tls *s, uint64_t *id)
{
    X509 *peer = SSL_get0_peer_certificate(s->ssl);
    if (peer == NULL || SSL_get_verify_result(s->ssl) != X509_V_OK) return -1;
    return cert_member_id(peer, id) == 0 ? 0 : -1;
}

const char *keel_tls_version(const struct keel_tls *s)
{
    return SSL_get_version(s->ssl);
}
