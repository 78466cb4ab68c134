/* jepsen: client processes. Each thread plays one process at a time: it
 * invokes an operation, waits for its outcome, and records both. A reply
 * maps to an outcome by what Keel promises about it:
 *
 *   ok    the command's reply;
 *   fail  Keel says it did not happen: -TRYAGAIN, -BUSY, -MOVED, -OOM,
 *         -ERR before proposing, a cas whose precondition did not hold,
 *         EXEC aborted by WATCH; and every read that did not complete (a
 *         read changes nothing, so "did not happen" is always true of it);
 *   info  anything else: -UNCERTAIN, a timeout, a lost connection. The
 *         process then retires and the thread continues as a fresh one
 *         (history.h: one outstanding operation per process, forever).
 *
 * Clients talk to every node (rotating on errors), so followers forward.
 * The register, set, counter and session workloads are here; the queue's is
 * in queue.c, through the helpers client.h shares. */
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jepsen/runner/client.h"
#include "jepsen/runner/run.h"
#include "jepsen/runner/secure.h"

uint64_t proc_rnd(struct proc *p)
{
    p->rng ^= p->rng << 13;
    p->rng ^= p->rng >> 7;
    p->rng ^= p->rng << 17;
    return p->rng;
}

static void disconnect(struct proc *p)
{
    if (p->ctx) redisFree(p->ctx);
    p->ctx = NULL;
}

bool proc_connect(struct proc *p)
{
    if (p->ctx != NULL && p->ctx->err == 0) return true;
    disconnect(p);
    p->ctx = jrun_connect(p->run, p->node, (unsigned)(p->run->op_timeout_s * 1000), false);
    if (p->ctx == NULL) {
        p->node = (p->node + 1) % p->run->n;
        return false;
    }
    return true;
}

/* After an info the process retires: a new id, a new connection. */
static void retire(struct proc *p)
{
    disconnect(p);
    pthread_mutex_lock(&p->run->mu);
    p->id = p->run->next_process++;
    pthread_mutex_unlock(&p->run->mu);
    p->seq = 0;
    p->node = (p->node + 1) % p->run->n;
}

void proc_emit(struct proc *p, enum jop_type type, enum jop_f f, const char *key, char *value,
                 int64_t ttl, const char *error)
{
    struct jop op = {.process = p->id, .type = type, .f = f, .key = (char *)key, .value = value,
                     .ttl_ms = ttl, .time = jrun_now(), .error = (char *)error};
    jrun_record(p->run, &op);
    free(value);
}

/* The outcome of an error reply to a command that may write. */
static enum jop_type write_error(const redisReply *r)
{
    static const char *const not_done[] = {"TRYAGAIN", "BUSY", "MOVED", "OOM", "ERR", "NOPROTO"};
    for (size_t i = 0; i < sizeof not_done / sizeof *not_done; i++) {
        size_t n = strlen(not_done[i]);
        if (strncmp(r->str, not_done[i], n) == 0 && (r->str[n] == ' ' || r->str[n] == 0))
            return JOP_FAIL;
    }
    return JOP_INFO; /* UNCERTAIN, or a word we do not know: assume the worst */
}

/* Finish an op from a reply; returns the outcome (and retires on info). */
enum jop_type proc_finish(struct proc *p, enum jop_f f, const char *key, redisReply *r,
                            char *ok_value, int64_t ttl, bool is_read)
{
    enum jop_type t;
    char err[160] = "";
    if (r == NULL) {
        snprintf(err, sizeof err, "%s", p->ctx ? p->ctx->errstr : "not connected");
        t = is_read ? JOP_FAIL : JOP_INFO;
    } else if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, sizeof err, "%s", r->str);
        t = is_read ? JOP_FAIL : write_error(r);
    } else {
        t = JOP_OK;
    }
    if (t == JOP_OK) {
        proc_emit(p, t, f, key, ok_value, ttl, NULL);
    } else {
        free(ok_value);
        proc_emit(p, t, f, key, NULL, ttl, err);
    }
    if (r == NULL || t == JOP_INFO) retire(p);
    else if (t == JOP_FAIL) p->node = (p->node + 1) % p->run->n, disconnect(p);
    if (r) freeReplyObject(r);
    return t;
}

static char *reply_value(const redisReply *r)
{
    if (r->type == REDIS_REPLY_STRING) return jval_str(r->str);
    return NULL; /* nil: absent */
}

/* ---- register: read, write, cas (WATCH/GET/MULTI/SET/EXEC), del ---------- */

static void register_op(struct proc *p)
{
    char key[32], val[32];
    snprintf(key, sizeof key, "r%u", (unsigned)(proc_rnd(p) % p->run->keys));
    unsigned dice = (unsigned)(proc_rnd(p) % 100);
    pthread_mutex_lock(&p->run->mu);
    snprintf(val, sizeof val, "v%llu", (unsigned long long)++p->run->next_value);
    pthread_mutex_unlock(&p->run->mu);
    if (dice < 45) {
        proc_emit(p, JOP_INVOKE, JF_READ, key, NULL, -1, NULL);
        redisReply *r = redisCommand(p->ctx, "GET %s", key);
        proc_finish(p, JF_READ, key, r, r && r->type != REDIS_REPLY_ERROR ? reply_value(r) : NULL, -1, true);
    } else if (dice < 75) {
        proc_emit(p, JOP_INVOKE, JF_WRITE, key, jval_str(val), -1, NULL);
        redisReply *r = redisCommand(p->ctx, "SET %s %s", key, val);
        proc_finish(p, JF_WRITE, key, r, jval_str(val), -1, false);
    } else if (dice < 80) {
        proc_emit(p, JOP_INVOKE, JF_DEL, key, NULL, -1, NULL);
        redisReply *r = redisCommand(p->ctx, "DEL %s", key);
        proc_finish(p, JF_DEL, key, r, NULL, -1, false);
    } else {
        /* cas [expected, new]: expected is a recent value of this key as
         * this process guesses it; often right, sometimes not. */
        char exp[32];
        bool absent = proc_rnd(p) % 8 == 0;
        snprintf(exp, sizeof exp, "v%llu", (unsigned long long)(strtoull(val + 1, NULL, 10) - 1 - proc_rnd(p) % 4));
        const char *e = absent ? NULL : exp;
        proc_emit(p, JOP_INVOKE, JF_CAS, key, jval_cas(e, val), -1, NULL);
        redisReply *r = redisCommand(p->ctx, "WATCH %s", key);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            proc_finish(p, JF_CAS, key, r, NULL, -1, true); /* nothing proposed yet */
            return;
        }
        freeReplyObject(r);
        r = redisCommand(p->ctx, "GET %s", key);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            proc_finish(p, JF_CAS, key, r, NULL, -1, true);
            return;
        }
        bool match = absent ? r->type == REDIS_REPLY_NIL
                            : r->type == REDIS_REPLY_STRING && strcmp(r->str, exp) == 0;
        freeReplyObject(r);
        if (!match) {
            r = redisCommand(p->ctx, "UNWATCH");
            if (r) freeReplyObject(r);
            proc_emit(p, JOP_FAIL, JF_CAS, key, NULL, -1, "precondition");
            return;
        }
        redisAppendCommand(p->ctx, "MULTI");
        redisAppendCommand(p->ctx, "SET %s %s", key, val);
        redisAppendCommand(p->ctx, "EXEC");
        redisReply *m = NULL, *q = NULL;
        r = NULL;
        if (redisGetReply(p->ctx, (void **)&m) == REDIS_OK && redisGetReply(p->ctx, (void **)&q) == REDIS_OK)
            redisGetReply(p->ctx, (void **)&r);
        if (m) freeReplyObject(m);
        if (q) freeReplyObject(q);
        if (r != NULL && r->type == REDIS_REPLY_NIL) { /* the watch fired: not applied */
            freeReplyObject(r);
            proc_emit(p, JOP_FAIL, JF_CAS, key, NULL, -1, "watched key changed");
            return;
        }
        if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
            r->element[0]->type == REDIS_REPLY_ERROR) {
            /* EXEC's one reply is the SET's outcome */
            redisReply *inner = r->element[0];
            r->element[0] = NULL;
            r->elements = 0;
            freeReplyObject(r);
            proc_finish(p, JF_CAS, key, inner, NULL, -1, false);
            return;
        }
        proc_finish(p, JF_CAS, key, r, jval_cas(e, val), -1, false);
    }
}

/* ---- set: HSET set <element> 1; the final read is HGETALL ---------------- *
 * With --set-type set: SADD set <element>, the final read SMEMBERS.        */

static void set_op(struct proc *p)
{
    char elem[32];
    pthread_mutex_lock(&p->run->mu);
    snprintf(elem, sizeof elem, "e%llu", (unsigned long long)++p->run->next_value);
    pthread_mutex_unlock(&p->run->mu);
    proc_emit(p, JOP_INVOKE, JF_ADD, "set", jval_str(elem), -1, NULL);
    redisReply *r = p->run->native_set ? redisCommand(p->ctx, "SADD set %s", elem)
                                       : redisCommand(p->ctx, "HSET set %s 1", elem);
    proc_finish(p, JF_ADD, "set", r, jval_str(elem), -1, false);
}

/* ---- counter: KEEL.REQ <client> <seq> INCRBY counter d, retried ------------ */

static void counter_op(struct proc *p)
{
    int64_t d = 1 + (int64_t)(proc_rnd(p) % 5);
    p->seq++;
    proc_emit(p, JOP_INVOKE, JF_ADD, "counter", jval_int(d), -1, NULL);
    /* A retry with the same (client, seq) applies at most once: an uncertain
     * outcome becomes certain if a retry gets through. */
    redisReply *r = NULL;
    bool was_uncertain = false;
    for (int attempt = 0; attempt < 3; attempt++) {
        if (r) freeReplyObject(r);
        r = p->ctx ? redisCommand(p->ctx, "KEEL.REQ %lld %llu INCRBY counter %lld", (long long)p->id + 1,
                                  (unsigned long long)p->seq, (long long)d)
                   : NULL;
        bool uncertain = r == NULL || (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "UNCERTAIN", 9) == 0);
        if (!uncertain) break;
        was_uncertain = true;
        disconnect(p);
        p->node = (p->node + 1) % p->run->n;
        proc_connect(p);
    }
    /* A retry refused outright says nothing about an earlier attempt that
     * may have applied: unless a retry got the answer, the op stays
     * uncertain (found by the matrix: counted as failed, it was applied). */
    if (was_uncertain && r != NULL && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "UNCERTAIN", 9) != 0) {
        char err[160];
        snprintf(err, sizeof err, "uncertain, then %s", r->str);
        freeReplyObject(r);
        proc_emit(p, JOP_INFO, JF_ADD, "counter", NULL, -1, err);
        retire(p);
        return;
    }
    proc_finish(p, JF_ADD, "counter", r, jval_int(d), -1, false);
}

/* ---- session: SET PX, PEXPIRE (refresh), GET ----------------------------- */

/* Session keys s<i> are refreshed dozens of times a second, so they almost
 * never lapse: they test "never vanish early" and "never come back". Lapsing
 * keys t<j> are written once each (j counts up; reused after LAPSE_KEYS
 * writes, a quarter of a minute at least) and then only read, around and
 * after their expiry, so an expiry that comes late is seen ("outlived",
 * check_session.c). */
#define LAPSE_KEYS 1024
#define LAPSE_READ_BACK 256 /* reads pick among the last this many written */

static void session_op(struct proc *p)
{
    char key[32], val[32];
    snprintf(key, sizeof key, "s%u", (unsigned)(proc_rnd(p) % p->run->keys));
    unsigned dice = (unsigned)(proc_rnd(p) % 100);
    int64_t ttl = 1000 + (int64_t)(proc_rnd(p) % 3000);
    if (dice >= 85) {
        pthread_mutex_lock(&p->run->mu);
        uint64_t n = p->run->next_lapse;
        if (dice < 88) n = ++p->run->next_lapse; /* 3 in 100 ops write one */
        pthread_mutex_unlock(&p->run->mu);
        if (n == 0) return;
        if (dice >= 88) n -= proc_rnd(p) % (n < LAPSE_READ_BACK ? n : LAPSE_READ_BACK);
        snprintf(key, sizeof key, "t%u", (unsigned)(n % LAPSE_KEYS));
        dice = dice < 88 ? 50 : 0; /* a write or a read, below */
    }
    if (dice < 40) {
        proc_emit(p, JOP_INVOKE, JF_READ, key, NULL, -1, NULL);
        redisReply *r = redisCommand(p->ctx, "GET %s", key);
        proc_finish(p, JF_READ, key, r, r && r->type != REDIS_REPLY_ERROR ? reply_value(r) : NULL, -1, true);
    } else if (dice < 60) {
        pthread_mutex_lock(&p->run->mu);
        snprintf(val, sizeof val, "v%llu", (unsigned long long)++p->run->next_value);
        pthread_mutex_unlock(&p->run->mu);
        proc_emit(p, JOP_INVOKE, JF_WRITE, key, jval_str(val), ttl, NULL);
        redisReply *r = redisCommand(p->ctx, "SET %s %s PX %lld", key, val, (long long)ttl);
        proc_finish(p, JF_WRITE, key, r, jval_str(val), ttl, false);
    } else {
        proc_emit(p, JOP_INVOKE, JF_REFRESH, key, NULL, ttl, NULL);
        redisReply *r = redisCommand(p->ctx, "PEXPIRE %s %lld", key, (long long)ttl);
        char *v = r && r->type == REDIS_REPLY_INTEGER ? jval_bool(r->integer == 1) : NULL;
        proc_finish(p, JF_REFRESH, key, r, v, ttl, false);
    }
}

void *jclient_main(void *arg)
{
    struct jrun *run = arg;
    struct proc p = {.run = run};
    pthread_mutex_lock(&run->mu);
    p.id = run->next_process++;
    pthread_mutex_unlock(&run->mu);
    p.node = (unsigned)p.id % run->n;
    p.rng = run->seed * 0x9e3779b97f4a7c15ull + (uint64_t)p.id + 1;
    while (!run->stop) {
        if (!proc_connect(&p)) {
            usleep(50 * 1000); /* nothing invoked: no history event */
            continue;
        }
        switch (run->workload) {
            case JW_REGISTER: register_op(&p); break;
            case JW_SET: set_op(&p); break;
            case JW_COUNTER: counter_op(&p); break;
            case JW_SESSION: session_op(&p); break;
            case JW_QUEUE: jqueue_op(&p); break;
        }
        usleep((useconds_t)(proc_rnd(&p) % 10000)); /* 0-10 ms between ops */
    }
    disconnect(&p);
    return NULL;
}

/* Final reads, after every fault is healed: each key read until one read
 * succeeds (bounded), so the checkers see the settled state. */
int jclient_final(struct jrun *run)
{
    struct proc p = {.run = run, .rng = run->seed + 7};
    pthread_mutex_lock(&run->mu);
    p.id = run->next_process++;
    pthread_mutex_unlock(&run->mu);
    if (run->workload == JW_QUEUE) {
        int missing = jqueue_drain(&p);
        disconnect(&p);
        return missing;
    }
    unsigned nkeys = run->workload == JW_REGISTER || run->workload == JW_SESSION ? run->keys : 1;
    int missing = 0;
    for (unsigned k = 0; k < nkeys; k++) {
        char key[32];
        if (run->workload == JW_REGISTER) snprintf(key, sizeof key, "r%u", k);
        else if (run->workload == JW_SESSION) snprintf(key, sizeof key, "s%u", k);
        else snprintf(key, sizeof key, "%s", run->workload == JW_SET ? "set" : "counter");
        bool done = false;
        for (int tries = 0; tries < 100 && !done; tries++) {
            if (!proc_connect(&p)) {
                usleep(100 * 1000);
                continue;
            }
            proc_emit(&p, JOP_INVOKE, JF_READ, key, NULL, -1, NULL);
            const char *read = run->workload != JW_SET ? "GET %s" : run->native_set ? "SMEMBERS %s" : "HGETALL %s";
            redisReply *r = redisCommand(p.ctx, read, key);
            char *v = NULL;
            if (r != NULL && r->type == REDIS_REPLY_ARRAY) {
                /* HGETALL: element, "1", ...; SMEMBERS: the elements. */
                size_t step = run->native_set ? 1 : 2, n = r->elements / step;
                const char **els = calloc(n + 1, sizeof *els);
                for (size_t i = 0; els && i < n; i++) els[i] = r->element[i * step]->str;
                v = els ? jval_str_array(els, n) : NULL;
                free(els);
            } else if (r != NULL && r->type == REDIS_REPLY_STRING) {
                v = run->workload == JW_COUNTER ? jval_int(strtoll(r->str, NULL, 10)) : jval_str(r->str);
            } else if (r != NULL && r->type == REDIS_REPLY_NIL && run->workload == JW_SET) {
                v = jval_str_array(NULL, 0);
            }
            done = proc_finish(&p, JF_READ, key, r, v, -1, true) == JOP_OK;
            if (!done) usleep(100 * 1000);
        }
        if (!done) missing++;
    }
    disconnect(&p);
    return missing;
}
