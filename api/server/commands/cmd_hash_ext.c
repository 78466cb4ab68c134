/* api: the hash commands Redis has beside HSET and HGET: HKEYS HVALS HSTRLEN
 * HRANDFIELD HSCAN (reads), HSETNX and HINCRBYFLOAT (writes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/resp/resp_glob.h"
#include "api/server/commands/commands.h"

/* The live hash at argv[1] into *h (NULL if absent): 0, or a storage error;
 * *wrong after writing WRONGTYPE. */
static int load(struct slot *s, struct keel_read *rd, const struct keel_hash **h, bool *wrong)
{
    struct keel_record rec;
    *h = NULL;
    *wrong = false;
    int rc = keel_read_get(rd, s->argv[1], &rec);
    if (rc == KEEL_ENOTFOUND) return 0;
    if (rc != 0) return rc;
    rc = keel_read_hash(rd, &rec, h);
    if (rc == KEEL_EWRONGTYPE) {
        srv_reply_error(&s->out, KEEL_EWRONGTYPE, NULL);
        *h = NULL;
        *wrong = true;
        return 0;
    }
    return rc;
}

/* HKEYS and HVALS: one side of every pair, in field order. */
static int one_side(struct slot *s, struct keel_read *rd, bool values)
{
    const struct keel_hash *h;
    bool wrong;
    int rc = load(s, rd, &h, &wrong);
    if (rc != 0 || wrong) return rc;
    uint32_t n = h ? h->n : 0;
    resp_array(&s->out, n);
    for (uint32_t i = 0; i < n; i++) {
        const struct keel_slice *x = values ? &h->items[i].v : &h->items[i].f;
        resp_bulk(&s->out, x->p, x->n);
    }
    return 0;
}

CMD_DECL_READ(cmd_hkeys)
{
    return one_side(s, rd, false);
}

CMD_DECL_READ(cmd_hvals)
{
    return one_side(s, rd, true);
}

CMD_DECL_READ(cmd_hstrlen)
{
    const struct keel_hash *h;
    bool wrong;
    int rc = load(s, rd, &h, &wrong);
    if (rc != 0 || wrong) return rc;
    const struct hash_field *f = h ? hash_find(h, s->argv[2]) : NULL;
    resp_int(&s->out, f ? (int64_t)f->v.n : 0);
    return 0;
}

/* The most elements a negative HRANDFIELD count may ask for: Redis streams
 * any number; Keel builds the reply in memory, so it bounds it. */
#define HRANDFIELD_MAX_REPEAT (1u << 20)

static void pair(struct slot *s, const struct hash_field *f, bool withvalues)
{
    if (withvalues && s->proto >= 3) resp_array(&s->out, 2);
    resp_bulk(&s->out, f->f.p, f->f.n);
    if (withvalues) resp_bulk(&s->out, f->v.p, f->v.n);
}

/* HRANDFIELD key [count [WITHVALUES]]: chosen on the node that answers (a
 * read changes nothing, so nothing random reaches the log). */
CMD_DECL_READ(cmd_hrandfield)
{
    const struct keel_hash *h;
    bool wrong, withvalues = false;
    long long l = 0;
    if (s->argc >= 3) {
        if (!srv_arg_int(s, 2, &l)) return 0;
        if (l == INT64_MIN) {
            srv_reply_error(&s->out, KEEL_EINVAL, "value is out of range, must be between "
                            "-9223372036854775807 and 9223372036854775807");
            return 0;
        }
        if (s->argc > 4 || (s->argc == 4 && !slot_arg_is(s, 3, "WITHVALUES"))) {
            srv_syntax_error(s);
            return 0;
        }
        if (s->argc == 4) {
            withvalues = true;
            if (l < -INT64_MAX / 2 || l > INT64_MAX / 2) {
                srv_reply_error(&s->out, KEEL_EINVAL, "value is out of range");
                return 0;
            }
        }
    }
    int rc = load(s, rd, &h, &wrong);
    if (rc != 0 || wrong) return rc;
    if (s->argc == 2) {
        if (h == NULL) resp_null(&s->out, s->proto);
        else pair(s, &h->items[srv_random() % h->n], false);
        return 0;
    }
    uint64_t count = l < 0 ? (uint64_t)-l : (uint64_t)l;
    if (h == NULL || count == 0) {
        resp_array(&s->out, 0);
        return 0;
    }
    if (l < 0) {
        if (count > HRANDFIELD_MAX_REPEAT) {
            srv_reply_errorf(&s->out, KEEL_EINVAL, "a negative HRANDFIELD count may ask for at most "
                             "%u elements in Keel", HRANDFIELD_MAX_REPEAT);
            return 0;
        }
        resp_array(&s->out, withvalues && s->proto < 3 ? 2 * count : count);
        for (uint64_t i = 0; i < count; i++) pair(s, &h->items[srv_random() % h->n], withvalues);
        return 0;
    }
    uint32_t n = count >= h->n ? h->n : (uint32_t)count;
    uint32_t *idx = malloc((h->n ? h->n : 1) * sizeof *idx);
    if (idx == NULL) return KEEL_ENOMEM;
    for (uint32_t i = 0; i < h->n; i++) idx[i] = i;
    /* A partial Fisher-Yates shuffle: n distinct fields. */
    for (uint32_t i = 0; i < n && n < h->n; i++) {
        uint32_t j = i + (uint32_t)(srv_random() % (h->n - i));
        uint32_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    resp_array(&s->out, withvalues && s->proto < 3 ? 2 * (size_t)n : n);
    for (uint32_t i = 0; i < n; i++) pair(s, &h->items[idx[i]], withvalues);
    free(idx);
    return 0;
}

/* HSCAN key cursor [MATCH pattern] [COUNT count]: a Keel hash is one small
 * document held whole, so like Redis with a listpack-encoded hash, the
 * first call returns every (matching) pair and cursor 0, whatever COUNT. */
CMD_DECL_READ(cmd_hscan)
{
    const struct keel_hash *h;
    bool wrong;
    const char *pattern = NULL;
    size_t plen = 0;
    if (!srv_scan_cursor(s)) return 0;
    int rc = load(s, rd, &h, &wrong);
    if (rc != 0 || wrong) return rc;
    if (h == NULL) { /* Redis answers an absent key before reading the options */
        srv_scan_empty(s);
        return 0;
    }
    if (!srv_scan_options(s, &pattern, &plen)) return 0;
    uint32_t n = 0;
    for (uint32_t i = 0; i < h->n; i++)
        n += pattern == NULL || resp_glob_match(pattern, plen, h->items[i].f.p, h->items[i].f.n);
    resp_array(&s->out, 2);
    resp_bulk_str(&s->out, "0");
    resp_array(&s->out, 2 * (size_t)n);
    for (uint32_t i = 0; i < h->n; i++) {
        if (pattern != NULL && !resp_glob_match(pattern, plen, h->items[i].f.p, h->items[i].f.n)) continue;
        resp_bulk(&s->out, h->items[i].f.p, h->items[i].f.n);
        resp_bulk(&s->out, h->items[i].v.p, h->items[i].v.n);
    }
    return 0;
}

/* HSETNX key field value: 1 set, 0 the field was there. */
CMD_DECL_ENCODE(cmd_hsetnx)
{
    if (!srv_check_key(s, s->argv[1])) return -1;
    keel_enc_hsetnx(e, s->argv[1], s->argv[2], s->argv[3]);
    return 1;
}
