/* jepsen: --secure runs (see secure.h). The workload's user has exactly
 * what register, set, counter, session and queue send (KEEL.REQ is checked by the
 * command it wraps); the checks after bootstrap prove it is not more. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "jepsen/runner/secure.h"
#include "keel/client.h"

#define JSECURE_WORKLOAD_RIGHTS \
    "~* resetchannels -@all +get +set +del +incrby +hset +hgetall +sadd +smembers +lpush +rpop +brpop +pexpire +multi +exec +watch +unwatch +ping"

static void random_password(char *out, size_t size)
{
    unsigned char raw[16];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        for (size_t i = 0; i < sizeof raw; i++) raw[i] = (unsigned char)(rand() & 0xff);
    for (size_t i = 0; i < sizeof raw && 2 * i + 2 < size; i++) snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

int jsecure_prepare(struct jrun *run, const char *out, const char *make_certs, char *errmsg, size_t size)
{
    char cmd[2048], ids[64] = "";
    for (unsigned i = 0; i < run->n; i++) snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%u ", i + 1);
    snprintf(run->tls_dir, sizeof run->tls_dir, "%s/tls", out);
    /* The certificates name members by id (URI SAN); no IP: the hosts'
     * addresses are the namespaces', and libkeel checks the chain only. */
    snprintf(cmd, sizeof cmd, "KEEL_CERT_IP= '%s' '%s' %sclient:jepsen >/dev/null", make_certs, run->tls_dir, ids);
    if (system(cmd) != 0) return snprintf(errmsg, size, "%s failed", cmd), -1;
    snprintf(run->tls_ca, sizeof run->tls_ca, "%s/ca.crt", run->tls_dir);
    snprintf(run->tls_client_cert, sizeof run->tls_client_cert, "%s/client-jepsen.crt", run->tls_dir);
    snprintf(run->tls_client_key, sizeof run->tls_client_key, "%s/client-jepsen.key", run->tls_dir);
    for (unsigned i = 0; i < run->n; i++) {
        snprintf(run->tls_member_cert[i], sizeof run->tls_member_cert[i], "%s/member-%u.crt", run->tls_dir, i + 1);
        snprintf(run->tls_member_key[i], sizeof run->tls_member_key[i], "%s/member-%u.key", run->tls_dir, i + 1);
    }
    random_password(run->admin_password, sizeof run->admin_password);
    random_password(run->worker_password, sizeof run->worker_password);
    run->secure = true;
    return 0;
}

void jsecure_keeld_args(struct jrun *run, unsigned i, const char **argv, unsigned *n, unsigned max)
{
    static const char port[] = JRUN_TLS_PORT_STR;
    const char *args[] = {"--tls-cluster", "yes", "--tls-port", port, "--tls-cert-file", run->tls_member_cert[i],
                          "--tls-key-file", run->tls_member_key[i], "--tls-ca-cert-file", run->tls_ca,
                          "--tls-auth-clients", "yes"};
    if (!run->secure) return;
    for (size_t a = 0; a < sizeof args / sizeof *args && *n < max; a++) argv[(*n)++] = args[a];
}

redisContext *jrun_connect(struct jrun *run, unsigned i, unsigned ms, bool admin)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    redisContext *c = NULL;
    if (!run->secure) {
        c = redisConnectWithTimeout(run->host[i], JRUN_CLIENT_PORT, tv);
    } else {
        char addr[96], err[KEEL_ERRMSG_SIZE];
        snprintf(addr, sizeof addr, "%s:%d", run->host[i], JRUN_TLS_PORT);
        /* Before bootstrap the default user has no password: no AUTH. */
        bool auth = !admin || run->secure_ready;
        struct keel_client_options o = {.tls = true, .tls_ca_file = run->tls_ca,
                                        .tls_cert_file = run->tls_client_cert, .tls_key_file = run->tls_client_key,
                                        .user = admin ? NULL : "jepsen",
                                        .password = !auth ? NULL : admin ? run->admin_password : run->worker_password};
        int fd = -1;
        if (keel_connect_fd(addr, &o, ms, &fd, err, sizeof err) != 0) return NULL;
        c = redisConnectFd(fd);
        if (c == NULL) close(fd);
    }
    if (c == NULL || c->err) {
        if (c) redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

static bool reply_is(const redisReply *r, int type, const char *prefix)
{
    return r && r->type == type && r->str && strncmp(r->str, prefix, strlen(prefix)) == 0;
}

int jsecure_bootstrap(struct jrun *run, int leader, char *errmsg, size_t size)
{
    if (!run->secure) return 0;
    redisContext *c = jrun_connect(run, (unsigned)leader, 5000, true);
    if (c == NULL) return snprintf(errmsg, size, "--secure: no TLS connection to n%d", leader + 1), -1;
    redisReply *a = redisCommand(c, "ACL SETUSER jepsen on >%s " JSECURE_WORKLOAD_RIGHTS, run->worker_password);
    redisReply *b = reply_is(a, REDIS_REPLY_STATUS, "OK")
                        ? redisCommand(c, "CONFIG SET requirepass %s", run->admin_password)
                        : NULL;
    bool ok = reply_is(b, REDIS_REPLY_STATUS, "OK");
    if (!ok)
        snprintf(errmsg, size, "--secure: creating the users: %s",
                 b && b->str ? b->str : a && a->str ? a->str : c->errstr);
    if (a) freeReplyObject(a);
    if (b) freeReplyObject(b);
    redisFree(c);
    if (!ok) return -1;
    run->secure_ready = true;
    /* Every node: jepsen authenticates, may GET, may not KEEL.MEMBER LIST,
     * and the default user needs its password (bounded: users replicate). */
    for (unsigned i = 0; i < run->n; i++) {
        bool checked = false;
        for (int t = 0; t < 100 && !checked; t++) {
            if (t > 0) usleep(100 * 1000);
            redisContext *w = jrun_connect(run, i, 2000, false);
            redisReply *g = w ? redisCommand(w, "GET jepsen:probe") : NULL;
            redisReply *m = w ? redisCommand(w, "KEEL.MEMBER LIST") : NULL;
            checked = g && g->type == REDIS_REPLY_NIL && reply_is(m, REDIS_REPLY_ERROR, "NOPERM");
            if (g) freeReplyObject(g);
            if (m) freeReplyObject(m);
            if (w) redisFree(w);
        }
        if (!checked) return snprintf(errmsg, size, "--secure: user jepsen not working as meant on n%u", i + 1), -1;
    }
    run->secure_ready = false; /* the default user, without its password: refused */
    redisContext *anon = jrun_connect(run, 0, 2000, true);
    redisReply *r = anon ? redisCommand(anon, "GET jepsen:probe") : NULL;
    bool refused = reply_is(r, REDIS_REPLY_ERROR, "NOAUTH");
    if (r) freeReplyObject(r);
    if (anon) redisFree(anon);
    run->secure_ready = true;
    if (!refused) return snprintf(errmsg, size, "--secure: a client without a password was not refused"), -1;
    return 0;
}
