/* keelctl hashkv: compare every replica's state at one raft index.
 *
 * KEEL.HASHKV (through libkeel, to the leader) commits a HASH entry; each
 * replica digests its state as of that entry when it applies it. Then every
 * member is asked for the digest it took (KEEL.HASHKV.LAST), polled until it
 * has applied that index or the timeout passes. Equal digests at one index
 * mean equal state; a differing one is corruption (a replica diverged). A
 * node that installed a later snapshot before applying the entry never took
 * that digest: reported as "skipped", not as a verdict. Exit 0 only when
 * every member was compared and matched. */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/keelctl/keelctl.h"

struct digest
{
    long long index;
    char hex[17];
    const char *verdict;  /* "ok", "DIFFERS", "skipped", "unreachable", "behind" */
    char error[128];
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Poll one node until it has the digest at index or a later one. */
static void ask(struct kctl *k, const struct kctl_row *w, long long index, struct digest *d)
{
    long long deadline = now_ms() + k->timeout_ms;
    d->verdict = "unreachable";
    snprintf(d->error, sizeof d->error, "%s", w->addr[0] ? w->error : "client address not known yet");
    if (w->addr[0] == 0) return;
    redisContext *c = kctl_dial(k, w->addr, k->timeout_ms, d->error, sizeof d->error);
    while (c != NULL) {
        redisReply *r = redisCommand(c, "KEEL.HASHKV.LAST");
        if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            snprintf(d->error, sizeof d->error, "%s", r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
            if (r) freeReplyObject(r);
            break;
        }
        d->index = r->element[0]->integer;
        snprintf(d->hex, sizeof d->hex, "%s", r->element[1]->str);
        freeReplyObject(r);
        d->error[0] = 0;
        if (d->index >= index) {
            d->verdict = d->index == index ? "ok" : "skipped";
            break;
        }
        d->verdict = "behind";
        if (now_ms() >= deadline) {
            snprintf(d->error, sizeof d->error, "has not applied index %lld within the timeout", index);
            break;
        }
        usleep(20 * 1000); /* bounded by the deadline above */
    }
    if (c) redisFree(c);
}

/* Raise CORRUPT on the leader (KEEL.ALARM, straight to it: an alarm is a
 * node's own), naming the replicas that differ, so that /health, INFO,
 * /metrics and keelctl status show it until an operator clears it. */
static void raise_corrupt(struct kctl *k, const struct kctl_row *rows, const struct digest *ds, int n,
                          long long index)
{
    char reason[200], why[128];
    size_t off = (size_t)snprintf(reason, sizeof reason, "at index %lld replica(s)", index);
    for (int i = 0; i < n && off < sizeof reason; i++) {
        if (!strcmp(ds[i].verdict, "DIFFERS"))
            off += (size_t)snprintf(reason + off, sizeof reason - off, " n%lld", rows[i].id);
    }
    if (off < sizeof reason) snprintf(reason + off, sizeof reason - off, " differ from the leader");
    for (int i = 0; i < n; i++) {
        if (!rows[i].reachable || strcmp(rows[i].role, "leader") != 0) continue;
        redisContext *c = kctl_dial(k, rows[i].addr, k->timeout_ms, why, sizeof why);
        redisReply *r = c ? redisCommand(c, "KEEL.ALARM RAISE CORRUPT %s", reason) : NULL;
        if (r == NULL || r->type == REDIS_REPLY_ERROR)
            fprintf(stderr, "keelctl: could not raise CORRUPT on the leader %s: %s\n", rows[i].addr,
                    r ? r->str : c ? c->errstr : why);
        if (r) freeReplyObject(r);
        if (c) redisFree(c);
        return;
    }
    fprintf(stderr, "keelctl: no leader found to raise CORRUPT on\n");
}

int kctl_hashkv(struct kctl *k, int argc, char **argv)
{
    (void)argv;
    if (argc != 1) return CLI_USAGE;
    const char *av[] = {"KEEL.HASHKV"};
    struct keel_value *v;
    int rc = kctl_call(k, 1, av, &v);
    if (rc != CLI_OK) return rc;
    if (v->type != KEEL_VALUE_ARRAY || v->n != 2) {
        keel_value_free(v);
        fprintf(stderr, "keelctl: hashkv: unexpected reply\n");
        return CLI_FAILED;
    }
    long long index = v->elements[0]->integer;
    char leader_hex[17];
    snprintf(leader_hex, sizeof leader_hex, "%s", v->elements[1]->str);
    keel_value_free(v);

    struct kctl_row rows[KCTL_MAX_NODES];
    struct digest ds[KCTL_MAX_NODES];
    int n = kctl_collect(k, rows), differ = 0, unchecked = 0;
    for (int i = 0; i < n; i++) {
        memset(&ds[i], 0, sizeof ds[i]);
        ask(k, &rows[i], index, &ds[i]);
        if (!strcmp(ds[i].verdict, "ok") && strcmp(ds[i].hex, leader_hex) != 0) {
            ds[i].verdict = "DIFFERS";
            differ++;
        } else if (strcmp(ds[i].verdict, "ok") != 0) {
            unchecked++;
        }
    }
    if (k->json) {
        json_t *nodes = json_array();
        for (int i = 0; i < n; i++) {
            json_t *o = json_pack("{s:I, s:s, s:s}", "id", (json_int_t)rows[i].id, "address", rows[i].addr,
                                  "verdict", ds[i].verdict);
            if (ds[i].index == index) json_object_set_new(o, "digest", json_string(ds[i].hex));
            if (ds[i].error[0]) json_object_set_new(o, "error", json_string(ds[i].error));
            json_array_append_new(nodes, o);
        }
        cli_print_json(json_pack("{s:I, s:s, s:b, s:o}", "index", (json_int_t)index, "digest", leader_hex,
                                  "consistent", differ == 0, "nodes", nodes));
    } else {
        printf("index %lld, leader's digest %s\n", index, leader_hex);
        printf("%-4s %-21s %-17s %s\n", "ID", "ADDRESS", "DIGEST", "VERDICT");
        for (int i = 0; i < n; i++) {
            char id[16];
            snprintf(id, sizeof id, rows[i].id >= 0 ? "%lld" : "?", rows[i].id);
            const char *on = k->color && !strcmp(ds[i].verdict, "DIFFERS") ? "\033[31m" : "";
            printf("%s%-4s %-21s %-17s %s%s%s%s\n", on, id, rows[i].addr, ds[i].index == index ? ds[i].hex : "-",
                   ds[i].verdict, ds[i].error[0] ? ": " : "", ds[i].error, on[0] ? "\033[0m" : "");
        }
        if (differ) printf("CORRUPTION: %d replica(s) differ from the leader at index %lld\n", differ, index);
    }
    if (differ) raise_corrupt(k, rows, ds, n, index);
    /* 0 only when every member was compared and matched. */
    return differ || unchecked ? CLI_FAILED : CLI_OK;
}
