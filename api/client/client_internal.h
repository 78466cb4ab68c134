/* libkeel internals shared by its files: client_base.c (endpoints, ids,
 * backoff, reply verdicts: everything the sync and async clients share),
 * client.c (the blocking connection), client_call.c (the write wrapping and
 * the blocking retry loop), client_value.c (replies), client_async*.c (the
 * libuv client). */
#ifndef KEEL_API_CLIENT_INTERNAL_H
#define KEEL_API_CLIENT_INTERNAL_H

#include <hiredis/hiredis.h>
#include <stdint.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/time.h>

#include "keel/client.h"

#define MAX_ENDPOINTS 16
#define MAX_ARGS 1024

struct endpoint
{
    char host[64];
    int port;
    char text[80];
    char why[96];          /* the last failure here, for error messages */
};

/* What a client is apart from its connection: the options (defaults
 * filled in), the endpoints, where it is going next, and the id and
 * sequence its writes carry. Both the sync and the async client embed one. */
struct client_base
{
    struct keel_client_options o;
    struct endpoint ep[MAX_ENDPOINTS];
    unsigned n;
    unsigned cur;          /* the endpoint connected to, or the next to try */
    char hint[80];         /* the leader's address, from ROLE or -MOVED */
    uint64_t id, seq, rng;
    /* o.user, o.password and the o.tls_* names point into secrets (the
     * client's copies, wiped by client_base_free); tls is the SSL_CTX. */
    char *secrets;
    size_t secrets_len;
    void *tls;
};

struct keel_client
{
    struct client_base b;
    redisContext *ctx;     /* NULL: not connected */
    char now_at[80];       /* "host:port" of ctx */
    char auth_error[KEEL_ERRMSG_SIZE]; /* a refused AUTH: the call ends KEEL_EAUTH */
};

/* client_base.c */
int client_base_init(struct client_base *b, const struct keel_client_options *o, char *errmsg, size_t size);
/* Wipe and free the copies of the secrets, free the TLS context. */
void client_base_free(struct client_base *b);
int client_split_addr(const char *text, char *host, size_t hsize, int *port);
int64_t client_now_ms(void);
uint64_t client_rnd(struct client_base *b);
/* A pause before retry round `round`: capped exponential, half to all of it. */
int64_t client_backoff_ms(struct client_base *b, unsigned round);
/* Remember why the endpoint whose text is `at` failed (no-op if none is). */
void client_note(struct client_base *b, const char *at, const char *why);
void client_forget_whys(struct client_base *b);
/* "no leader after N ms: ep why, ep why" (or "outcome unknown ..."). */
void client_describe(const struct client_base *b, bool maybe, unsigned timeout_ms, char *errmsg, size_t size);
/* A follower's ROLE names the leader: true with host and port set. */
bool client_role_leader(const redisReply *r, char *host, size_t hsize, int *port);

/* May the client go to the leader a ROLE or -MOVED names? Always in
 * plaintext; with TLS only to one of the endpoints: a node names the
 * leader's plaintext address, which a TLS client cannot use (it stays on
 * the node it reached, which forwards). */
bool client_hint_ok(const struct client_base *b, const char *host, int port);

/* What an answer means for the retry loop. */
enum client_verdict {
    CLIENT_ANSWER,         /* the server's answer, error replies included */
    CLIENT_MOVED,          /* -MOVED: go to the leader it names (b->hint set) now */
    CLIENT_TRYAGAIN,       /* -TRYAGAIN: no leader there now; try another node */
    CLIENT_UNCERTAIN,      /* -UNCERTAIN: the same, and the write may have applied */
    CLIENT_BUSY,           /* -BUSY: the same node, after a pause */
};
enum client_verdict client_verdict(struct client_base *b, const redisReply *r);

/* client_call.c: a command as sent, KEEL.REQ <id> <seq> in front of writes.
 * argv and lens are allocated (client_wire_free); the words themselves are
 * the caller's, except the id and seq, which live in ids. */
struct client_wire
{
    int argc;
    const char **argv;
    size_t *lens;
    char ids[2][24];
    bool write;
};
bool client_word_is(const char *w, size_t n, const char *what);
/* Lay out one command; *in_multi carries MULTI state from command to command
 * (inside MULTI only EXEC is wrapped: the transaction is the one write).
 * Takes the next sequence number for a write. KEEL_EINVAL: bad argc;
 * KEEL_ENOMEM; either way w is released by client_wire_free. */
int client_wire_prepare(struct client_base *b, bool *in_multi, const struct keel_cmd *k, struct client_wire *w);
void client_wire_free(struct client_wire *w);

/* client_tls.c: the SSL_CTX of o's tls_* files (*out NULL on error). */
int client_tls_new(const struct keel_client_options *o, void **out, char *errmsg, size_t size);
void client_tls_free(void *tls);
/* Handshake on the connected socket net before deadline, then bridge it:
 * 0 with *app the plain end (net is then the bridge thread's); else net is
 * still the caller's. KEEL_EIO (why says what failed), KEEL_ENOMEM. */
int client_tls_wrap(void *tls, const char *server_name, int net, int64_t deadline, int *app, char *why,
                    size_t size);

/* client_dial.c: a connected socket to host:port, through TLS and AUTH as
 * b's options say, before deadline; blocking mode. 0; KEEL_EIO (no
 * connection: try elsewhere), KEEL_EAUTH (refused: do not retry),
 * KEEL_EINVAL, KEEL_ENOMEM; why says what, never the password. */
int client_dial_fd(const struct client_base *b, const char *host, int port, int64_t deadline, int *out, char *why,
                   size_t size);

/* client.c */
struct timeval client_tv(int64_t ms);
bool client_is_timeout(const redisContext *ctx);
/* Connect (the hinted leader first, else the current endpoint, then the
 * leader its ROLE names) before deadline: 0, or -1 with the reason noted on
 * the endpoint and the next one made current. */
int client_connect(struct keel_client *c, int64_t deadline);
void client_drop(struct keel_client *c);
/* Note why on the endpoint connected to, drop it, and move to the next. */
void client_give_up(struct keel_client *c, const char *why);
/* Sleep a capped exponential backoff with jitter, never past deadline. */
void client_backoff(struct keel_client *c, unsigned round, int64_t deadline);

/* client_value.c: a deep copy of r, owned by the caller (keel_value_free); NULL: no memory. */
struct keel_value *client_value_from(const redisReply *r);

/* hiredis writes with write(2): a node that died raises SIGPIPE, whose
 * default action kills the process, and the library never exits it. So the
 * sync client blocks SIGPIPE in the calling thread around its I/O and drops
 * one it raised (the EPIPE error is what it acts on). */
struct client_sigpipe
{
    sigset_t old;
    bool pending_before;
};
void client_sigpipe_block(struct client_sigpipe *g);

/* The words of a keel_callv/keel_async_callv list (word, then ap, up to a
 * NULL) into argv/lens: their count, or -1 if there are more than max (an
 * error, never a silently shortened command). */
#define CLIENT_MAX_WORDS 64
int client_words(const char *word, va_list ap, const char **argv, size_t *lens, int max);
void client_sigpipe_restore(struct client_sigpipe *g);

#endif /* KEEL_API_CLIENT_INTERNAL_H */
