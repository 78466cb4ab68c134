/* keelctl drill: the built-in load. Writers, each its own libkeel client
 * (so each rides through failover as a service would), write unique keys
 * drill:<run>:<writer>:<seq> = <seq> in a closed loop and read each one
 * back; every outcome is recorded so the checker can read back every
 * acknowledged write afterwards. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/keelctl/keelctl_drill.h"

long long drill_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void note_error(struct drill_writer *w, int rc, const char *server_error)
{
    if (rc == KEEL_EUNCERTAIN) w->err_uncertain++;
    else if (rc == KEEL_ENOTLEADER) w->err_unavailable++;
    else if (server_error != NULL) w->err_server++;
    else w->err_other++;
}

static void *writer_main(void *arg)
{
    struct drill_writer *w = arg;
    struct drill *d = w->d;
    struct keel_client_options o = d->conn;
    o.endpoints = d->endpoints, o.timeout_ms = d->call_timeout_ms;
    struct keel_client *c;
    char err[KEEL_ERRMSG_SIZE], key[96], val[32];
    if (keel_client_open(&o, &c, err, sizeof err) != 0) return NULL;
    while (!d->stop) {
        if (w->n == w->cap) {
            size_t cap = w->cap ? w->cap * 2 : 4096;
            unsigned char *p = realloc(w->outcome, cap);
            if (p == NULL) break;
            w->outcome = p;
            w->cap = cap;
        }
        size_t seq = w->n;
        snprintf(key, sizeof key, "drill:%s:%u:%zu", d->run_id, w->idx, seq);
        snprintf(val, sizeof val, "%zu", seq);
        long long t0 = drill_now_ms();
        struct keel_value *v = NULL;
        int rc = keel_callv(c, &v, err, sizeof err, "SET", key, val, NULL);
        long long t1 = drill_now_ms();
        bool ok = rc == 0 && v->type != KEEL_VALUE_ERROR;
        w->outcome[w->n++] = ok ? DRILL_ACKED : rc == KEEL_EUNCERTAIN ? DRILL_UNCERTAIN : DRILL_FAILED;
        if (ok) {
            w->acked++;
            /* RTO: the first write sent after the fault that succeeded. */
            if (d->fault_at && t0 >= d->fault_at && w->first_ok_after == 0) w->first_ok_after = t1;
        } else {
            note_error(w, rc, rc == 0 ? v->str : NULL);
        }
        keel_value_free(v);
        if (!ok) continue;
        v = NULL;
        rc = keel_callv(c, &v, err, sizeof err, "GET", key, NULL);
        if (rc != 0 || v->type != KEEL_VALUE_STRING || strcmp(v->str, val) != 0) {
            if (rc == 0 && v->type == KEEL_VALUE_NIL) w->stale_reads++; /* acknowledged, then not seen */
            else note_error(w, rc, rc == 0 && v->type == KEEL_VALUE_ERROR ? v->str : NULL);
        } else {
            w->reads++;
        }
        keel_value_free(v);
    }
    keel_client_close(c);
    return NULL;
}

int drill_load_start(struct drill *d)
{
    for (unsigned i = 0; i < d->nwriters; i++) {
        d->writers[i].d = d;
        d->writers[i].idx = i;
        if (pthread_create(&d->writers[i].thread, NULL, writer_main, &d->writers[i]) != 0) return -1;
        d->started++;
    }
    return 0;
}

void drill_load_stop(struct drill *d)
{
    d->stop = true;
    for (unsigned i = 0; i < d->started; i++) pthread_join(d->writers[i].thread, NULL);
    d->started = 0;
}

/* Calls argv0 with up to BATCH keys of the run whose outcome passes the
 * filter; each reply goes to check (may be NULL). */
#define BATCH 500

struct batch
{
    const char *argv[BATCH + 1];
    size_t lens[BATCH + 1];
    char keys[BATCH][96];
    size_t seqs[BATCH];
    unsigned writers[BATCH];
    int n;
};

static int flush(struct keel_client *c, struct drill *d, struct batch *b, bool verify, char *err, size_t size)
{
    if (b->n == 0) return 0;
    for (int i = 0; i < b->n; i++) {
        b->argv[i + 1] = b->keys[i];
        b->lens[i + 1] = strlen(b->keys[i]);
    }
    b->lens[0] = strlen(b->argv[0]);
    struct keel_value *v = NULL;
    int rc = keel_call(c, b->n + 1, b->argv, b->lens, &v, err, size);
    if (rc == 0 && verify) {
        if (v->type != KEEL_VALUE_ARRAY || v->n != (size_t)b->n) {
            snprintf(err, size, "MGET: unexpected reply");
            rc = -1;
        }
        for (int i = 0; rc == 0 && i < b->n; i++) {
            char val[32];
            snprintf(val, sizeof val, "%zu", b->seqs[i]);
            const struct keel_value *e = v->elements[i];
            if (e->type != KEEL_VALUE_STRING || strcmp(e->str, val) != 0) d->lost++;
            d->verified++;
        }
    }
    keel_value_free(v);
    b->n = 0;
    return rc;
}

static int each_key(struct drill *d, bool verify, char *err, size_t size)
{
    struct keel_client_options o = d->conn;
    o.endpoints = d->endpoints, o.timeout_ms = d->call_timeout_ms;
    struct keel_client *c;
    struct batch *b = calloc(1, sizeof *b);
    if (b == NULL || keel_client_open(&o, &c, err, size) != 0) {
        free(b);
        return -1;
    }
    b->argv[0] = verify ? "MGET" : "DEL";
    int rc = 0;
    for (unsigned i = 0; rc == 0 && i < d->nwriters; i++) {
        struct drill_writer *w = &d->writers[i];
        for (size_t seq = 0; rc == 0 && seq < w->n; seq++) {
            if (verify ? w->outcome[seq] != DRILL_ACKED : w->outcome[seq] == DRILL_FAILED) continue;
            snprintf(b->keys[b->n], sizeof b->keys[0], "drill:%s:%u:%zu", d->run_id, i, seq);
            b->seqs[b->n] = seq;
            b->writers[b->n++] = i;
            if (b->n == BATCH) rc = flush(c, d, b, verify, err, size);
        }
    }
    if (rc == 0) rc = flush(c, d, b, verify, err, size);
    keel_client_close(c);
    free(b);
    return rc;
}

/* Read back every acknowledged write through a fresh client (MGET is a
 * linearizable read): a missing or different value is a lost acknowledged
 * write (RPO > 0). -1 when it could not check: not a verdict. */
int drill_verify(struct drill *d, char *err, size_t size)
{
    return each_key(d, true, err, size);
}

/* Delete the drill's keys: every key whose write may have applied. */
void drill_cleanup(struct drill *d)
{
    char err[KEEL_ERRMSG_SIZE];
    each_key(d, false, err, sizeof err);
}

void drill_free(struct drill *d)
{
    for (unsigned i = 0; i < DRILL_MAX_WRITERS; i++) free(d->writers[i].outcome);
    free(d);
}
