/* api: the channel table of pub/sub: open addressing with linear probing
 * on an xxhash of the name, backward-shift deletion (no tombstones), kept at
 * most half full. No hash table is linked in already (libuv, raft, LMDB and
 * hiredis keep theirs private), and this one is small. See pubsub.h. */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "api/server/pubsub/pubsub.h"

#define MIN_CAP 16

void chan_table_init(struct chan_table *t)
{
    memset(t, 0, sizeof *t);
}

static void chan_free(struct channel *ch)
{
    free(ch->subs);
    free(ch->name);
    free(ch);
}

void chan_table_close(struct chan_table *t)
{
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i] != NULL) chan_free(t->slots[i]);
    }
    free(t->slots);
    chan_table_init(t);
}

static uint64_t hash_of(const uint8_t *p, size_t n)
{
    return XXH64(p, n, 0);
}

/* The slot holding the channel, or the free slot where it would go. */
static size_t probe(const struct chan_table *t, uint64_t h, const uint8_t *p, size_t n)
{
    size_t mask = t->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct channel *ch = t->slots[i];
        if (ch == NULL) return i;
        if (ch->hash == h && ch->len == n && (n == 0 || memcmp(ch->name, p, n) == 0)) return i;
    }
}

struct channel *chan_find(const struct chan_table *t, const uint8_t *p, size_t n)
{
    if (t->n == 0) return NULL;
    return t->slots[probe(t, hash_of(p, n), p, n)];
}

static int grow(struct chan_table *t)
{
    size_t cap = t->cap ? 2 * t->cap : MIN_CAP;
    struct channel **slots = calloc(cap, sizeof *slots);
    if (slots == NULL) return -1;
    struct chan_table nt = {slots, cap, t->n};
    for (size_t i = 0; i < t->cap; i++) {
        struct channel *ch = t->slots[i];
        if (ch != NULL) slots[probe(&nt, ch->hash, ch->name, ch->len)] = ch;
    }
    free(t->slots);
    *t = nt;
    return 0;
}

struct channel *chan_get(struct chan_table *t, const uint8_t *p, size_t n)
{
    if (2 * (t->n + 1) > t->cap && grow(t) != 0) return NULL;
    uint64_t h = hash_of(p, n);
    size_t i = probe(t, h, p, n);
    if (t->slots[i] != NULL) return t->slots[i];
    struct channel *ch = calloc(1, sizeof *ch);
    if (ch == NULL) return NULL;
    ch->name = malloc(n ? n : 1);
    if (ch->name == NULL) {
        free(ch);
        return NULL;
    }
    if (n > 0) memcpy(ch->name, p, n);
    ch->len = n;
    ch->hash = h;
    t->slots[i] = ch;
    t->n++;
    return ch;
}

void chan_remove(struct chan_table *t, struct channel *ch)
{
    size_t mask = t->cap - 1;
    size_t i = probe(t, ch->hash, ch->name, ch->len);
    if (t->slots[i] != ch) return; /* not ours: cannot happen */
    t->slots[i] = NULL;
    t->n--;
    /* Backward shift: move later members of the run into the hole when
     * their home slot does not lie between the hole and them. */
    for (size_t j = (i + 1) & mask; t->slots[j] != NULL; j = (j + 1) & mask) {
        size_t home = t->slots[j]->hash & mask;
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays) continue;
        t->slots[i] = t->slots[j];
        t->slots[j] = NULL;
        i = j;
    }
    chan_free(ch);
    if (t->n == 0) chan_table_close(t); /* give the slots back */
}
