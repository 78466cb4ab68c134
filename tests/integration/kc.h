/* tests/integration: real keeld processes on loopback, driven through
 * hiredis. Every process a test starts is stopped by pid in kc_stop. */
#ifndef KEEL_TESTS_KC_H
#define KEEL_TESTS_KC_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define KC_MAX 5

struct kc_node
{
    pid_t pid;
    unsigned id;
    unsigned raft_port;
    unsigned client_port;
    char dir[512];
    char log[512];
    char join[64]; /* started with --join this address instead of --cluster */
    char extra[1024]; /* extra keeld flags for this node only (after kc_prepare) */
};

struct kc
{
    char *base;
    unsigned n;
    struct kc_node nodes[KC_MAX];
    char cluster[512];
    char extra[512]; /* extra keeld flags for every node */
    /* When auth_pass is set, kc_connect authenticates every connection it
     * makes (AUTH auth_user auth_pass; user "default" if empty). */
    char auth_user[64];
    char auth_pass[64];
};

/* Make n nodes' directories and ports and start them all. */
void kc_start(struct kc *c, unsigned n, const char *extra);
/* kc_start, then the index of the node every node agrees leads, waiting up
 * to 10 s; the test fails if there is none by then. */
int kc_start_leader(struct kc *c, unsigned n, const char *extra);
/* The same without starting anything: directories named, ports chosen. */
void kc_prepare(struct kc *c, unsigned n, const char *extra);
void kc_start_node(struct kc *c, unsigned i);
/* Start node i without waiting for it to listen. */
void kc_spawn_node(struct kc *c, unsigned i);
/* Add a new node (index c->n) that joins through node `via`. */
unsigned kc_add_node(struct kc *c, unsigned via);
/* The same without starting it: its ports and directory are set, so a test
 * can add it to the membership first (KEEL.MEMBER ADD) and start it later. */
unsigned kc_prepare_node(struct kc *c, unsigned via);
/* Has node i exited by itself (a drill crashed it)? Reaps it if so. */
bool kc_exited(struct kc *c, unsigned i);
/* Send sig to node i; SIGKILL/SIGTERM also reap it. After SIGTERM the node
 * must exit 0 within 10 s (a sanitizer report makes it exit non-zero): the
 * test fails otherwise. */
void kc_signal(struct kc *c, unsigned i, int sig);
/* Stop every node (SIGTERM, each must exit 0) and remove the dirs. */
void kc_stop(struct kc *c);
/* Index of the node every live node agrees leads, waiting up to ms; -1. */
int kc_leader(struct kc *c, unsigned ms);
/* A connection to node i; connecting and every reply bounded by 5 s (by ms). */
redisContext *kc_connect(struct kc *c, unsigned i);
redisContext *kc_connect_within(struct kc *c, unsigned i, unsigned ms);
/* Run a command on node i (fresh connection, kc_connect's bound; ms for
 * one that may wait longer); NULL if there was no reply in time. The
 * caller frees the reply. */
redisReply *kc_cmd(struct kc *c, unsigned i, const char *fmt, ...);
redisReply *kc_cmd_within(struct kc *c, unsigned i, unsigned ms, const char *fmt, ...);
/* Anonymous RSS of node i in KiB (heap and stacks; not the LMDB map or
 * snapshot memfds, which scale with the data, not with the load). */
long kc_rss_kb(struct kc *c, unsigned i);
/* Milliseconds on a monotonic clock. */
long long kc_now_ms(void);
/* A bounded poll: sleep ms between tries (the caller bounds the tries). */
void kc_pause_ms(unsigned ms);
const char *kc_keeld(void);
/* A TCP port on 127.0.0.1 that nothing listens on right now. */
unsigned kc_free_port(void);
/* "127.0.0.1:P1,127.0.0.1:P2,..." of every node's client port. */
void kc_endpoints(const struct kc *c, char *buf, size_t size);
/* Assert that err is libkeel's failure when no node answers: "no leader",
 * every endpoint of eps (kc_endpoints' list) named, and "refused". */
void kc_assert_unreachable(const char *err, const char *eps);
/* Run keelctl ($KEELCTL, else "keelctl") with --endpoints of c's nodes
 * (unless the arguments name their own) and the printf-style arguments.
 * out and err get its stdout and stderr (NUL-terminated, cut at their
 * sizes). Returns its exit status; the test fails if it did not exit. */
int kc_keelctl(const struct kc *c, char *out, size_t outsize, char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Run keelutl ($KEELUTL, else "keelutl"), the offline tool, with the
 * printf-style arguments; as kc_keelctl otherwise. */
int kc_keelutl(const struct kc *c, char *out, size_t outsize, char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* ---- replies (kc_reply.c) ----------------------------------------------- */

/* r as one line of text: +status, -error, :integer, the bulk string (in
 * double quotes if quote_bulk), (nil), [a,b] for an array, its elements
 * written the same way. Cut short at size. */
void kc_reply_text(const redisReply *r, bool quote_bulk, char *out, size_t size);
/* Whether the text got is want; a want that ends in '*' matches any text
 * that starts with the rest. */
bool kc_text_matches(const char *got, const char *want);
/* A connection to node i that does not authenticate (whatever c's auth),
 * with 5 s timeouts. */
redisContext *kc_raw(struct kc *c, unsigned i);
/* Run the command (printf-style; split at spaces as redisCommand does) on
 * ctx, a connection to node i, and fail unless its reply as text matches
 * want (kc_text_matches). */
void kc_on(redisContext *ctx, unsigned i, const char *want, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Run cmd (space-separated words) on node i and fail the test, naming node
 * and command, unless its reply as text (kc_reply_text) matches want. */
void kc_expect(struct kc *c, unsigned i, bool quote_bulk, const char *cmd, const char *want);
/* r is the status reply s; an error reply whose text starts with prefix
 * (false for a NULL reply). */
bool kc_is_status(const redisReply *r, const char *s);
bool kc_is_error(const redisReply *r, const char *prefix);
/* The value of field name in node i's INFO section (a line "name:value"),
 * "" if the node does not answer or has no such field. */
void kc_info(struct kc *c, unsigned i, const char *section, const char *name, char *buf, size_t size);
/* The same as a number; 0 if absent. */
uint64_t kc_info_u64(struct kc *c, unsigned i, const char *section, const char *name);

#endif /* KEEL_TESTS_KC_H */
