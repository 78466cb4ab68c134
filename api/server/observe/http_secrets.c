/* api: reading the HTTP endpoint's certificate, key and token. See http.h.
 *
 * keeld reads them before raft starts, so that a missing file, a key that
 * does not match its certificate or an unusable token stops it with one
 * line instead of a node that runs without the protection it was asked for.
 * OpenSSL checks the pair here; libmicrohttpd (GnuTLS) loads it again when
 * the endpoint starts. */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/server/observe/http.h"

#define FILE_MAX (1 << 20)
#define TOKEN_MIN 16
#define TOKEN_MAX 4096

/* The whole file as a string (*len bytes before the NUL added); NULL with errmsg set. */
static char *slurp(const char *option, const char *path, struct stat *st, size_t *len, char *errmsg, size_t size)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(errmsg, size, "--%s %s: %s", option, path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    if (fstat(fileno(f), st) != 0 || !S_ISREG(st->st_mode)) {
        snprintf(errmsg, size, "--%s %s: not a regular file", option, path);
    } else if (st->st_size > FILE_MAX) {
        snprintf(errmsg, size, "--%s %s: larger than %d bytes", option, path, FILE_MAX);
    } else if ((buf = malloc((size_t)st->st_size + 1)) == NULL) {
        snprintf(errmsg, size, "--%s %s: out of memory", option, path);
    } else {
        size_t n = fread(buf, 1, (size_t)st->st_size, f);
        if (ferror(f)) {
            snprintf(errmsg, size, "--%s %s: %s", option, path, strerror(errno));
            free(buf);
            buf = NULL;
        } else {
            buf[n] = 0;
            *len = n;
        }
    }
    fclose(f);
    return buf;
}

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

/* Does key_pem hold an unencrypted key matching the first certificate of cert_pem? */
static int check_pair(const char *cert_option, const char *cert_file, const char *cert_pem, const char *key_option,
                      const char *key_file, const char *key_pem, char *errmsg, size_t size)
{
    BIO *cb = BIO_new_mem_buf(cert_pem, -1), *kb = BIO_new_mem_buf(key_pem, -1);
    X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
    EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, no_passphrase, NULL) : NULL;
    int rc = -1;
    if (x == NULL) snprintf(errmsg, size, "--%s %s: no PEM certificate in it", cert_option, cert_file);
    else if (k == NULL)
        snprintf(errmsg, size, "--%s %s: no unencrypted PEM private key in it", key_option, key_file);
    else if (X509_check_private_key(x, k) != 1)
        snprintf(errmsg, size, "--%s %s does not match the certificate in --%s %s", key_option, key_file,
                 cert_option, cert_file);
    else rc = 0;
    ERR_clear_error();
    EVP_PKEY_free(k);
    X509_free(x);
    BIO_free(kb);
    BIO_free(cb);
    return rc;
}

static char *load_token(const char *path, char *errmsg, size_t size, char *warning, size_t wsize)
{
    struct stat st;
    size_t len = 0;
    char *t = slurp("http-token-file", path, &st, &len, errmsg, size);
    if (t == NULL) return NULL;
    size_t n = len;
    if (n > 0 && t[n - 1] == '\n') t[--n] = 0;
    if (n > 0 && t[n - 1] == '\r') t[--n] = 0;
    const char *why = NULL;
    if (strlen(t) != n) why = "holds a NUL byte";
    else if (n < TOKEN_MIN) why = "is shorter than 16 characters (make one with: openssl rand -hex 32)";
    else if (n > TOKEN_MAX) why = "is longer than 4096 characters";
    for (size_t i = 0; why == NULL && i < n; i++) {
        if (t[i] <= ' ' || t[i] > '~') why = "holds a space, a control character or non-ASCII: want one line of visible ASCII";
    }
    if (why != NULL) {
        snprintf(errmsg, size, "--http-token-file %s: the token %s", path, why);
        explicit_bzero(t, len);
        free(t);
        return NULL;
    }
    if (st.st_mode & 077)
        snprintf(warning, wsize, "--http-token-file %s is readable by group or others (mode %03o): chmod 600 it", path,
                 (unsigned)(st.st_mode & 0777));
    return t;
}

int http_secrets_load(const char *cert_option, const char *cert_file, const char *key_option,
                      const char *key_file, const char *token_file, struct http_secrets *out, char *errmsg,
                      size_t size, char *warning, size_t wsize)
{
    struct stat st;
    size_t len;
    memset(out, 0, sizeof *out);
    if (wsize) warning[0] = 0;
    if (cert_file != NULL) {
        if ((out->cert_pem = slurp(cert_option, cert_file, &st, &len, errmsg, size)) == NULL ||
            (out->key_pem = slurp(key_option, key_file, &st, &len, errmsg, size)) == NULL ||
            check_pair(cert_option, cert_file, out->cert_pem, key_option, key_file, out->key_pem, errmsg, size) != 0)
            goto fail;
    }
    if (token_file != NULL && (out->token = load_token(token_file, errmsg, size, warning, wsize)) == NULL) goto fail;
    return 0;
fail:
    http_secrets_free(out);
    return -1;
}

static void wipe(char **p)
{
    if (*p == NULL) return;
    explicit_bzero(*p, strlen(*p));
    free(*p);
    *p = NULL;
}

void http_secrets_free(struct http_secrets *s)
{
    free(s->cert_pem);
    s->cert_pem = NULL;
    wipe(&s->key_pem);
    wipe(&s->token);
}
