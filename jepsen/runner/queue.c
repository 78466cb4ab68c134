/* jepsen: the queue workload's client side (issue 15: lists are queues).
 * Values go in with LPUSH q<i> <value> and come out with BRPOP q<i> 0.5
 * (most dequeues) or RPOP q<i>, on JRUN_QUEUE_KEYS lists; after the faults
 * are healed, the drain RPOPs every list until it answers empty, so that
 * check_queue.c can tell a lost value from one still queued.
 *
 * A dequeue changes the list, so it maps errors like a write: -UNCERTAIN or
 * a lost connection is info (it may have taken a value nobody saw). A nil
 * reply (BRPOP's timeout, RPOP on an empty list) is an ok "empty". */
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jepsen/runner/client.h"
#include "jepsen/runner/run.h"

static void queue_key(struct jrun *run, unsigned i, char *key, size_t size)
{
    snprintf(key, size, "q%u", i % (run->keys < JRUN_QUEUE_KEYS ? run->keys : JRUN_QUEUE_KEYS));
}

/* One dequeue (BRPOP with a 0.5 s timeout, or RPOP); the outcome, and in
 * *empty whether it was an ok nil. */
static enum jop_type dequeue(struct proc *p, const char *key, bool blocking, bool *empty)
{
    proc_emit(p, JOP_INVOKE, JF_DEQUEUE, key, NULL, -1, NULL);
    redisReply *r = blocking ? redisCommand(p->ctx, "BRPOP %s 0.5", key) : redisCommand(p->ctx, "RPOP %s", key);
    char *v = NULL;
    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->type == REDIS_REPLY_STRING)
        v = jval_str(r->element[1]->str); /* BRPOP: [key, value] */
    else if (r != NULL && r->type == REDIS_REPLY_STRING)
        v = jval_str(r->str);
    *empty = r != NULL && r->type == REDIS_REPLY_NIL;
    return proc_finish(p, JF_DEQUEUE, key, r, v, -1, false);
}

void jqueue_op(struct proc *p)
{
    char key[32], val[32];
    queue_key(p->run, (unsigned)proc_rnd(p), key, sizeof key);
    unsigned dice = (unsigned)(proc_rnd(p) % 100);
    if (dice < 50) {
        pthread_mutex_lock(&p->run->mu);
        snprintf(val, sizeof val, "v%llu", (unsigned long long)++p->run->next_value);
        pthread_mutex_unlock(&p->run->mu);
        proc_emit(p, JOP_INVOKE, JF_ENQUEUE, key, jval_str(val), -1, NULL);
        redisReply *r = redisCommand(p->ctx, "LPUSH %s %s", key, val);
        proc_finish(p, JF_ENQUEUE, key, r, jval_str(val), -1, false);
    } else {
        bool empty;
        dequeue(p, key, dice < 85, &empty);
    }
}

/* The drain: on the healed cluster, RPOP each queue until it answers empty
 * (an error or an uncertain outcome retries, at most 100 times a queue). */
int jqueue_drain(struct proc *p)
{
    struct jrun *run = p->run;
    int missing = 0;
    unsigned n = run->keys < JRUN_QUEUE_KEYS ? run->keys : JRUN_QUEUE_KEYS;
    for (unsigned k = 0; k < n; k++) {
        char key[32];
        queue_key(run, k, key, sizeof key);
        int tries = 0;
        bool empty = false;
        while (!empty && tries < 100) {
            if (!proc_connect(p)) {
                tries++;
                usleep(100 * 1000);
                continue;
            }
            enum jop_type t = dequeue(p, key, false, &empty);
            empty &= t == JOP_OK;
            if (t != JOP_OK) tries++, usleep(100 * 1000);
        }
        if (!empty) missing++;
    }
    return missing;
}

static int strp_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Ok enqueues of the key run p[a..b) that no ok dequeue returned,
 * less one for each uncertain dequeue (it may have taken one of them), as
 * check_queue.c counts them. */
int64_t jqueue_unseen(const struct jrun *run, const struct jpair *p, size_t a, size_t b)
{
    const char **out = malloc((b - a + 1) * sizeof *out);
    size_t n = 0;
    int64_t lost = 0, uncertain = 0;
    if (out == NULL) return -1;
    for (size_t i = a; i < b; i++) {
        const char *v = p[i].outcome == JOP_OK ? run->hist.ops[p[i].done].value : NULL;
        if (run->hist.ops[p[i].inv].f != JF_DEQUEUE) continue;
        if (v != NULL) out[n++] = v;
        uncertain += p[i].outcome == JOP_INFO;
    }
    qsort(out, n, sizeof *out, strp_cmp);
    for (size_t i = a; i < b; i++) {
        const struct jop *inv = &run->hist.ops[p[i].inv];
        if (inv->f == JF_ENQUEUE && p[i].outcome == JOP_OK && inv->value != NULL &&
            bsearch(&inv->value, out, n, sizeof *out, strp_cmp) == NULL)
            lost++;
    }
    free(out);
    return lost > uncertain ? lost - uncertain : 0;
}
