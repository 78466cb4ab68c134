/* tests: the store fixture shared by test_store_commands and test_store_contract:
 * a store on a scratch LMDB, one helper per command, reads and reply checks. */
#ifndef KEEL_TESTS_UNIT_STORE_FIXTURE_H
#define KEEL_TESTS_UNIT_STORE_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

#define S(s) keel_str(s)
/* A list of C strings and its length, for do_del/do_hset/do_hdel. */
#define LIST(...) \
    (const char *[]){__VA_ARGS__}, \
        (uint32_t)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *))

/* ---- fixture ----------------------------------------------------------- */

struct fx
{
    char *dir;
    struct keel_storage *storage;
    struct keel_store *st;
    uint64_t index;          /* index of the last apply */
    int64_t ts;              /* leader timestamp of the next command */
    uint64_t client;         /* dedupe identity of the next command */
    uint64_t seq;
    struct keel_reply reply; /* reply of the last apply */
    struct keel_reply read;  /* reply of the last read */
};

/* A store on a fresh scratch directory (map_size 0: the default). */
void fx_init(struct fx *f, const char *tag, uint64_t map_size);
/* Destroy the store, close the storage, remove the directory. */
void fx_fini(struct fx *f);
/* Close and reopen the storage and store on the same directory (a restart). */
void fx_reopen(struct fx *f);

/* cmocka setup/teardown: *state is a malloc'd struct fx. */
int setup(void **state);
int setup_small_map(void **state); /* a 256 KiB map, made to grow */
int teardown(void **state);

struct keel_store_stats stats(struct fx *f);

/* ---- applying ---------------------------------------------------------- */

/* Apply an entry at the next index; the reply is f->reply. */
const struct keel_reply *apply_raw(struct fx *f, const void *buf, size_t len);
/* Start an entry with f's timestamp, client and seq. */
void enc_begin(struct fx *f, struct keel_enc *e);
/* Finish e into a malloc'd *buf and close it. */
void enc_take(struct keel_enc *e, uint8_t **buf, size_t *len);
/* Finish e and apply it at the next index. */
const struct keel_reply *apply_enc(struct fx *f, struct keel_enc *e);

/* One command each, applied at the next index; the reply is f->reply. */
const struct keel_reply *do_noop(struct fx *f);
const struct keel_reply *do_set(struct fx *f, const char *key, const char *val,
                                int64_t expire_at, unsigned flags);
const struct keel_reply *do_del(struct fx *f, const char *const *keys, uint32_t n);
const struct keel_reply *do_incrby(struct fx *f, const char *key, int64_t delta);
const struct keel_reply *do_expire(struct fx *f, const char *key, int64_t at, unsigned flags);
const struct keel_reply *do_persist(struct fx *f, const char *key);
/* items: field, value, field, value... (n strings, n even) */
const struct keel_reply *do_hset(struct fx *f, const char *key, const char *const *items,
                                 uint32_t n);
const struct keel_reply *do_hdel(struct fx *f, const char *key, const char *const *fields,
                                 uint32_t n);
const struct keel_reply *do_hincrby(struct fx *f, const char *key, const char *field,
                                    int64_t delta);
const struct keel_reply *do_cas(struct fx *f, const char *key, unsigned flags, uint64_t version,
                                const char *expected, const char *value, int64_t expire_at);
const struct keel_reply *do_sweep(struct fx *f, int64_t max);

/* ---- reading ----------------------------------------------------------- */

/* Reads at time `now`; the reply is f->read. */
const struct keel_reply *get(struct fx *f, const char *key, int64_t now);
const struct keel_reply *pttl(struct fx *f, const char *key, int64_t now);
const struct keel_reply *hget(struct fx *f, const char *key, const char *field, int64_t now);
const struct keel_reply *hgetall(struct fx *f, const char *key, int64_t now);
uint64_t version(struct fx *f, const char *key, int64_t now);
/* Whether a record is physically present (expired or not). */
bool stored(struct fx *f, const char *key);
/* Entries in the dedupe table. */
uint64_t dedupe_count(struct fx *f);
/* A recognisable value of n letters (NUL-terminated: buf holds n + 1). */
void fill_value(char *buf, size_t n, int i);

/* ---- reply checks ------------------------------------------------------ */

/* One expected reply item. */
struct want
{
    char kind;
    int64_t integer; /* INT value, ARRAY count, ERROR code */
    const void *p;   /* STATUS, BULK bytes */
    size_t n;
};

#define WANT_NIL ((struct want){KEEL_REPLY_NIL, 0, NULL, 0})
#define WANT_OK ((struct want){KEEL_REPLY_STATUS, 0, "OK", 2})
#define WANT_INT(v) ((struct want){KEEL_REPLY_INT, (v), NULL, 0})
#define WANT_BULK(s) ((struct want){KEEL_REPLY_BULK, 0, (s), strlen(s)})
#define WANT_BULKN(s, len) ((struct want){KEEL_REPLY_BULK, 0, (s), (len)})
#define WANT_ERR(code) ((struct want){KEEL_REPLY_ERROR, (code), NULL, 0})
#define WANT_ARRAY(count) ((struct want){KEEL_REPLY_ARRAY, (count), NULL, 0})

/* The next item is w; fails at file:line otherwise. */
void rd_want(struct keel_reply_reader *rd, struct want w, const char *file, int line);
/* No item is left. */
void rd_end(struct keel_reply_reader *rd, const char *file, int line);
/* The whole reply is the one item w. */
void expect_one(const struct keel_reply *r, struct want w, const char *file, int line);
/* Walk a whole reply stream; fails on a corrupt one. Returns the item count. */
unsigned reply_items(const struct keel_reply *r);

/* The whole reply is this one item. */
#define EXPECT(r, w) expect_one((r), (w), __FILE__, __LINE__)
/* Item by item, through a reader. */
#define RD(rd, w) rd_want((rd), (w), __FILE__, __LINE__)
#define RD_END(rd) rd_end((rd), __FILE__, __LINE__)

#endif /* KEEL_TESTS_UNIT_STORE_FIXTURE_H */
