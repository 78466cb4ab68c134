/* libkeel: session helpers (see include/keel/session.h), each one pipeline. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/client/client_internal.h"
#include "keel/session.h"

#define W(s) (s), strlen(s)

/* A command under construction: words borrowed, lengths kept. */
struct words
{
    const char *argv[8];
    size_t lens[8];
    int argc;
};

static void add(struct words *w, const char *p, size_t n)
{
    w->argv[w->argc] = p;
    w->lens[w->argc++] = n;
}

static struct keel_cmd cmd_of(const struct words *w)
{
    return (struct keel_cmd){w->argc, w->argv, w->lens};
}

static void free_all(struct keel_value **r, size_t n)
{
    for (size_t i = 0; i < n; i++) keel_value_free(r[i]);
}

/* A reply that must not be a server error: else KEEL_EINVAL with its text. */
static int check(const struct keel_value *v, char *errmsg, size_t size)
{
    if (v->type != KEEL_VALUE_ERROR) return 0;
    snprintf(errmsg, size, "%s", v->str);
    return KEEL_EINVAL;
}

int keel_session_put(struct keel_client *c, const char *key, size_t n, const char *const *fields,
                     const char *const *values, const size_t *value_lens, uint64_t ttl_ms, char *errmsg,
                     size_t size)
{
    if (n == 0 || n > MAX_ARGS / 2 - 2) return snprintf(errmsg, size, "a session has 1 to %d fields", MAX_ARGS / 2 - 2), KEEL_EINVAL;
    const char **hv = malloc((2 + 2 * n) * sizeof *hv);
    size_t *hl = malloc((2 + 2 * n) * sizeof *hl);
    if (hv == NULL || hl == NULL) {
        free(hv);
        free(hl);
        return snprintf(errmsg, size, "out of memory"), KEEL_ENOMEM;
    }
    hv[0] = "HSET", hl[0] = 4;
    hv[1] = key, hl[1] = strlen(key);
    for (size_t i = 0; i < n; i++) {
        hv[2 + 2 * i] = fields[i], hl[2 + 2 * i] = strlen(fields[i]);
        hv[3 + 2 * i] = values[i], hl[3 + 2 * i] = value_lens ? value_lens[i] : strlen(values[i]);
    }
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%" PRIu64, ttl_ms);
    struct words multi = {0}, del = {0}, exp = {0}, exec = {0};
    add(&multi, W("MULTI"));
    add(&del, W("DEL")), add(&del, W(key));
    add(&exp, W("PEXPIRE")), add(&exp, W(key)), add(&exp, W(ttl));
    add(&exec, W("EXEC"));
    struct keel_cmd cmds[5];
    size_t k = 0;
    cmds[k++] = cmd_of(&multi);
    cmds[k++] = cmd_of(&del);
    cmds[k++] = (struct keel_cmd){(int)(2 + 2 * n), hv, hl};
    if (ttl_ms > 0) cmds[k++] = cmd_of(&exp);
    cmds[k++] = cmd_of(&exec);
    struct keel_value *r[5] = {0};
    int rc = keel_pipeline(c, k, cmds, r, errmsg, size);
    free(hv);
    free(hl);
    if (rc != 0) return rc;
    for (size_t i = 0; i < k && rc == 0; i++) rc = check(r[i], errmsg, size);
    if (rc == 0 && r[k - 1]->type != KEEL_VALUE_ARRAY)
        rc = (snprintf(errmsg, size, "the transaction did not run"), KEEL_EINVAL);
    free_all(r, k);
    return rc;
}

void keel_session_free(struct keel_session *s)
{
    if (s == NULL) return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->fields[i]);
        free(s->values[i]);
    }
    free(s->fields);
    free(s->values);
    free(s->value_lens);
    free(s);
}

static char *dup_value(const struct keel_value *v)
{
    char *p = malloc(v->len + 1);
    if (p) {
        memcpy(p, v->str, v->len);
        p[v->len] = 0;
    }
    return p;
}

int keel_session_get(struct keel_client *c, const char *key, struct keel_session **out, char *errmsg,
                     size_t size)
{
    /* The version first: read before the fields, it can only be older than
     * what they show, so a cas with it never overwrites unseen changes. */
    struct words ver = {0}, all = {0}, ttl = {0};
    add(&ver, W("KEEL.VERSIONS")), add(&ver, W(key));
    add(&all, W("HGETALL")), add(&all, W(key));
    add(&ttl, W("PTTL")), add(&ttl, W(key));
    struct keel_cmd cmds[3] = {cmd_of(&ver), cmd_of(&all), cmd_of(&ttl)};
    struct keel_value *r[3] = {0};
    *out = NULL;
    int rc = keel_pipeline(c, 3, cmds, r, errmsg, size);
    if (rc != 0) return rc;
    for (int i = 0; i < 3 && rc == 0; i++) rc = check(r[i], errmsg, size);
    struct keel_session *s = rc == 0 ? calloc(1, sizeof *s) : NULL;
    if (rc == 0 && s == NULL) rc = (snprintf(errmsg, size, "out of memory"), KEEL_ENOMEM);
    if (rc == 0) {
        s->version = r[0]->type == KEEL_VALUE_ARRAY && r[0]->n == 1 ? (uint64_t)r[0]->elements[0]->integer : 0;
        s->ttl_ms = r[2]->integer;
        s->n = r[1]->type == KEEL_VALUE_ARRAY ? r[1]->n / 2 : 0;
        s->found = s->n > 0;
        if (s->n > 0) {
            s->fields = calloc(s->n, sizeof *s->fields);
            s->values = calloc(s->n, sizeof *s->values);
            s->value_lens = calloc(s->n, sizeof *s->value_lens);
            if (!s->fields || !s->values || !s->value_lens) rc = KEEL_ENOMEM;
            for (size_t i = 0; rc == 0 && i < s->n; i++) {
                s->fields[i] = dup_value(r[1]->elements[2 * i]);
                s->values[i] = dup_value(r[1]->elements[2 * i + 1]);
                s->value_lens[i] = r[1]->elements[2 * i + 1]->len;
                if (!s->fields[i] || !s->values[i]) rc = KEEL_ENOMEM;
            }
            if (rc != 0) snprintf(errmsg, size, "out of memory");
        }
    }
    free_all(r, 3);
    if (rc != 0) {
        if (s && (!s->fields || !s->values)) s->n = 0; /* nothing to free inside */
        keel_session_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

static int one_int(struct keel_client *c, struct words *w, long long *v, char *errmsg, size_t size)
{
    struct keel_cmd cmd = cmd_of(w);
    struct keel_value *r = NULL;
    int rc = keel_pipeline(c, 1, &cmd, &r, errmsg, size);
    if (rc != 0) return rc;
    rc = check(r, errmsg, size);
    if (rc == 0) *v = r->integer;
    keel_value_free(r);
    return rc;
}

int keel_session_refresh(struct keel_client *c, const char *key, uint64_t ttl_ms, bool *found, char *errmsg,
                         size_t size)
{
    char ttl[24];
    long long v = 0;
    snprintf(ttl, sizeof ttl, "%" PRIu64, ttl_ms);
    struct words w = {0};
    add(&w, W("PEXPIRE")), add(&w, W(key)), add(&w, W(ttl));
    int rc = one_int(c, &w, &v, errmsg, size);
    *found = rc == 0 && v == 1;
    return rc;
}

int keel_session_delete(struct keel_client *c, const char *key, bool *found, char *errmsg, size_t size)
{
    long long v = 0;
    struct words w = {0};
    add(&w, W("DEL")), add(&w, W(key));
    int rc = one_int(c, &w, &v, errmsg, size);
    *found = rc == 0 && v == 1;
    return rc;
}

int keel_session_cas(struct keel_client *c, const char *key, uint64_t version, const char *field,
                     const char *value, size_t value_len, bool *swapped, char *errmsg, size_t size)
{
    char ver[24];
    snprintf(ver, sizeof ver, "%" PRIu64, version);
    struct words watch = {0}, multi = {0}, hset = {0}, exec = {0};
    add(&watch, W("KEEL.WATCHV")), add(&watch, W(key)), add(&watch, W(ver));
    add(&multi, W("MULTI"));
    add(&hset, W("HSET")), add(&hset, W(key)), add(&hset, W(field)), add(&hset, value, value_len);
    add(&exec, W("EXEC"));
    struct keel_cmd cmds[4] = {cmd_of(&watch), cmd_of(&multi), cmd_of(&hset), cmd_of(&exec)};
    struct keel_value *r[4] = {0};
    *swapped = false;
    int rc = keel_pipeline(c, 4, cmds, r, errmsg, size);
    if (rc != 0) return rc;
    for (int i = 0; i < 4 && rc == 0; i++) rc = check(r[i], errmsg, size);
    if (rc == 0) *swapped = r[3]->type == KEEL_VALUE_ARRAY; /* nil: the version moved */
    free_all(r, 4);
    return rc;
}
