/* libkeel: replies (hiredis's, copied into the caller's struct keel_value)
 * and the commands it makes exactly-once. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/client/client_internal.h"

void keel_value_free(struct keel_value *v)
{
    if (v == NULL) return;
    for (size_t i = 0; i < v->n; i++) keel_value_free(v->elements[i]);
    free(v->elements);
    free(v->str);
    free(v);
}

struct keel_value *client_value_from(const redisReply *r)
{
    struct keel_value *v = calloc(1, sizeof *v);
    if (v == NULL) return NULL;
    switch (r->type) {
        case REDIS_REPLY_STRING: v->type = KEEL_VALUE_STRING; break;
        case REDIS_REPLY_STATUS: v->type = KEEL_VALUE_STATUS; break;
        case REDIS_REPLY_ERROR: v->type = KEEL_VALUE_ERROR; break;
        case REDIS_REPLY_INTEGER: v->type = KEEL_VALUE_INTEGER; break;
        case REDIS_REPLY_ARRAY: v->type = KEEL_VALUE_ARRAY; break;
        default: v->type = KEEL_VALUE_NIL; break;
    }
    v->integer = r->integer;
    if (v->type == KEEL_VALUE_STRING || v->type == KEEL_VALUE_STATUS || v->type == KEEL_VALUE_ERROR) {
        v->str = malloc(r->len + 1);
        if (v->str == NULL) goto oom;
        memcpy(v->str, r->str, r->len);
        v->str[r->len] = 0;
        v->len = r->len;
    }
    if (v->type == KEEL_VALUE_ARRAY && r->elements > 0) {
        v->elements = calloc(r->elements, sizeof *v->elements);
        if (v->elements == NULL) goto oom;
        for (size_t i = 0; i < r->elements; i++) {
            v->n = i + 1;
            v->elements[i] = client_value_from(r->element[i]);
            if (v->elements[i] == NULL) goto oom;
        }
    }
    return v;
oom:
    keel_value_free(v);
    return NULL;
}

/* keeld's data writes (its command table's WRITE entries); the integration
 * test checks this list against COMMAND on a live node. Sorted. */
static const char *const writes[] = {
    "append", "blmove", "blmpop", "blpop", "brpop", "brpoplpush", "bzmpop", "bzpopmax", "bzpopmin",
    "copy", "decr", "decrby", "del", "expire", "expireat", "flushall", "flushdb", "getdel", "getex",
    "getset", "hdel", "hincrby", "hincrbyfloat", "hmset", "hset", "hsetnx", "incr", "incrby",
    "incrbyfloat", "linsert", "lmove", "lmpop", "lpop", "lpush", "lpushx", "lrem", "lset", "ltrim",
    "move", "mset", "msetnx", "persist", "pexpire", "pexpireat", "psetex", "rename", "renamenx", "rpop",
    "rpoplpush", "rpush", "rpushx", "sadd", "sdiffstore", "set", "setbit", "setex", "setnx",
    "setrange", "sinterstore", "smove", "spop", "srem", "sunionstore", "swapdb", "unlink", "zadd",
    "zdiffstore", "zincrby", "zinterstore", "zmpop", "zpopmax", "zpopmin", "zrangestore", "zrem",
    "zremrangebylex", "zremrangebyrank", "zremrangebyscore", "zunionstore",
};

bool keel_is_write(const char *name, size_t len)
{
    char lower[32]; /* the longest name, zremrangebyscore, is 16 */
    if (len == 0 || len >= sizeof lower) return false;
    for (size_t i = 0; i < len; i++) lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    lower[len] = 0;
    size_t lo = 0, hi = sizeof writes / sizeof *writes;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(lower, writes[mid]);
        if (c == 0) return true;
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return false;
}
