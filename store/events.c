/* store: recording the events of one apply. See events.h. */
#include <stdlib.h>
#include <string.h>

#include "store/events.h"

static const struct
{
    const char *name;
    char cls;
} kinds[KEEL_EV__COUNT] = {
    [KEEL_EV_SET] = {"set", '$'},         [KEEL_EV_DEL] = {"del", 'g'},
    [KEEL_EV_EXPIRE] = {"expire", 'g'},   [KEEL_EV_EXPIRED] = {"expired", 'x'},
    [KEEL_EV_INCRBY] = {"incrby", '$'},   [KEEL_EV_APPEND] = {"append", '$'},
    [KEEL_EV_HSET] = {"hset", 'h'},       [KEEL_EV_HDEL] = {"hdel", 'h'},
    [KEEL_EV_HINCRBY] = {"hincrby", 'h'}, [KEEL_EV_PERSIST] = {"persist", 'g'},
    [KEEL_EV_RENAME_FROM] = {"rename_from", 'g'}, [KEEL_EV_RENAME_TO] = {"rename_to", 'g'},
    [KEEL_EV_COPY_TO] = {"copy_to", 'g'},         [KEEL_EV_SETRANGE] = {"setrange", '$'},
    [KEEL_EV_INCRBYFLOAT] = {"incrbyfloat", '$'}, [KEEL_EV_HINCRBYFLOAT] = {"hincrbyfloat", 'h'},
    [KEEL_EV_SETBIT] = {"setbit", '$'},
    [KEEL_EV_NEW] = {"new", 'n'},
    [KEEL_EV_SADD] = {"sadd", 's'},               [KEEL_EV_SREM] = {"srem", 's'},
    [KEEL_EV_SPOP] = {"spop", 's'},               [KEEL_EV_SINTERSTORE] = {"sinterstore", 's'},
    [KEEL_EV_SUNIONSTORE] = {"sunionstore", 's'}, [KEEL_EV_SDIFFSTORE] = {"sdiffstore", 's'},
    [KEEL_EV_LPUSH] = {"lpush", 'l'},             [KEEL_EV_RPUSH] = {"rpush", 'l'},
    [KEEL_EV_LPOP] = {"lpop", 'l'},               [KEEL_EV_RPOP] = {"rpop", 'l'},
    [KEEL_EV_LSET] = {"lset", 'l'},               [KEEL_EV_LREM] = {"lrem", 'l'},
    [KEEL_EV_LTRIM] = {"ltrim", 'l'},             [KEEL_EV_LINSERT] = {"linsert", 'l'},
    [KEEL_EV_ZADD] = {"zadd", 'z'},               [KEEL_EV_ZINCR] = {"zincr", 'z'},
    [KEEL_EV_ZREM] = {"zrem", 'z'},               [KEEL_EV_ZPOPMIN] = {"zpopmin", 'z'},
    [KEEL_EV_ZPOPMAX] = {"zpopmax", 'z'},         [KEEL_EV_ZREMRANGEBYRANK] = {"zremrangebyrank", 'z'},
    [KEEL_EV_ZREMRANGEBYSCORE] = {"zremrangebyscore", 'z'},
    [KEEL_EV_ZREMRANGEBYLEX] = {"zremrangebylex", 'z'},
    [KEEL_EV_ZUNIONSTORE] = {"zunionstore", 'z'}, [KEEL_EV_ZINTERSTORE] = {"zinterstore", 'z'},
    [KEEL_EV_ZDIFFSTORE] = {"zdiffstore", 'z'},   [KEEL_EV_ZRANGESTORE] = {"zrangestore", 'z'},
    [KEEL_EV_MOVE_FROM] = {"move_from", 'g'},     [KEEL_EV_MOVE_TO] = {"move_to", 'g'},
    [KEEL_EV_SWAPPED] = {"swapped", 0},
};

const char *keel_event_name(unsigned type)
{
    return type < KEEL_EV__COUNT ? kinds[type].name : "?";
}

char keel_event_class(unsigned type)
{
    return type < KEEL_EV__COUNT ? kinds[type].cls : '?';
}

void events_init(struct keel_events *ev)
{
    memset(ev, 0, sizeof *ev);
}

void events_close(struct keel_events *ev)
{
    free(ev->ev);
    free(ev->keys);
    events_init(ev);
}

void events_reset(struct keel_events *ev, uint64_t index)
{
    ev->index = index;
    ev->n = 0;
    ev->keys_len = 0;
    ev->truncated = false;
    /* A sweep of thousands of keys must not pin that much memory forever. */
    if (ev->keys_cap > (1u << 20)) {
        free(ev->keys);
        ev->keys = NULL;
        ev->keys_cap = 0;
    }
    if (ev->cap > 4096) {
        free(ev->ev);
        ev->ev = NULL;
        ev->cap = 0;
    }
}

void events_add(struct keel_events *ev, unsigned type, struct keel_slice key)
{
    if (!ev->on || ev->truncated) return;
    if (ev->n == ev->cap) {
        uint32_t cap = ev->cap ? 2 * ev->cap : 16;
        struct keel_event *p = realloc(ev->ev, cap * sizeof *p);
        if (p == NULL) goto oom;
        ev->ev = p;
        ev->cap = cap;
    }
    if (ev->keys_len + key.n > ev->keys_cap) {
        size_t cap = ev->keys_cap ? ev->keys_cap : 1024;
        while (cap < ev->keys_len + key.n) cap *= 2;
        uint8_t *p = realloc(ev->keys, cap);
        if (p == NULL) goto oom;
        ev->keys = p;
        ev->keys_cap = cap;
    }
    /* Copied now: the key may live in the entry or in an LMDB page that the
     * next put or delete reuses. */
    if (key.n > 0) memcpy(ev->keys + ev->keys_len, key.p, key.n);
    ev->ev[ev->n].type = (uint8_t)type;
    ev->ev[ev->n].off = ev->keys_len;
    ev->ev[ev->n].key.n = key.n;
    ev->ev[ev->n].key.p = NULL;
    ev->keys_len += key.n;
    ev->n++;
    return;
oom:
    /* Notifications are best effort; the apply itself must not fail. */
    ev->truncated = true;
}

void events_finish(struct keel_events *ev)
{
    for (uint32_t i = 0; i < ev->n; i++) ev->ev[i].key.p = ev->keys + ev->ev[i].off;
}
