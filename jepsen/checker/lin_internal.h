/* jepsen: what the register checker's files share: lin.c (the driver, one
 * key and one history at a time), lin_model.c (a key's operations as model
 * operations), lin_search.c (Wing & Gong's search with Lowe's memo) and
 * lin_report.c (what a report says). See lin.c for the model and the search.
 *
 * Ownership: a struct key borrows the history and its pairs; its all[] and
 * the value strings in it are its own (lin_key_free). A struct search owns
 * its arrays (lin_search_free), but its copies of the model operations still
 * point into the key (pairs, value strings): the key must outlive it. */
#ifndef KEEL_JEPSEN_LIN_INTERNAL_H
#define KEEL_JEPSEN_LIN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "jepsen/checker/check.h"

enum { L_READ, L_WRITE, L_CAS, L_CAS_INFO, L_DROP };
enum { S_VALID, S_INVALID, S_TIME, S_STATES, S_NOMEM };

#define ABSENT 0
#define TRAIL 6 /* linearized ops shown before the stuck one */

/* One operation of a key, as the search sees it. */
struct lop
{
    const struct jpair *p;
    int kind;      /* L_*; del is a write of ABSENT */
    char *sa, *sb; /* canonical values (owned): read/write value, cas e and n */
    int32_t a, b;  /* the same as value ids: 0 absent, i + 1 for vals[i] */
    bool never;    /* reads or expects a value nobody wrote */
};

struct lent;  /* lin_search.c: a call or return in the search's list */
struct mslot; /* lin_search.c: a slot of the memo's hash table */

struct memo
{
    struct mslot *s;
    size_t cap, n;
    uint64_t *pool;
    size_t pn, pcap;
};

struct frame
{
    uint32_t op;
    int32_t state; /* on the stack: before the op; in the trail: after it */
};

struct search
{
    const struct lop *ops; /* only the checked ones, in invoke order */
    size_t n;
    struct lent *e; /* 2n entries, then the list head */
    int32_t *call;  /* op -> its call entry */
    uint64_t *bits, *zob;
    uint32_t lo; /* lowest op not linearized */
    int64_t hi;  /* highest op linearized, -1 if none */
    uint64_t hash;
    struct memo memo;
    struct frame *stack;
    size_t depth;
    /* The deepest dead end, for the report. */
    bool stuck_seen;
    size_t best;
    uint32_t stuck;
    int32_t stuck_state;
    struct frame trail[TRAIL];
    size_t ntrail;
};

struct limits
{
    double deadline; /* CLOCK_MONOTONIC seconds; 0: none */
    size_t max_states;
};

/* One key's operations (lin_model.c). */
struct key
{
    const struct jhist *h;
    const struct jpair *p; /* the key's operations, np of them */
    size_t np;
    struct lop *all;    /* one per operation; kind L_DROP when not checked */
    const char **vals;  /* distinct values, sorted; borrowed from all[] */
    size_t nv;
    size_t n_fail, n_read, n_unobserved; /* dropped, by reason */
};

/* ---- the model ---------------------------------------------------------- *
 * static inline: the search calls it at every step. */

/* Apply o to register state s: false if o is not legal in s, else *next is
 * the state after it. */
static inline bool lin_step(const struct lop *o, int32_t s, int32_t *next)
{
    switch (o->kind) {
    case L_READ:
        *next = s;
        return s == o->a;
    case L_WRITE:
        *next = o->a;
        return true;
    case L_CAS:
        *next = o->b;
        return s == o->a;
    default: /* L_CAS_INFO: may apply; if it did, its precondition held */
        *next = s == o->a ? o->b : s;
        return true;
    }
}

/* ---- loading a key (lin_model.c) ---------------------------------------- */

/* Fill k->all[i] from the i-th operation (k->all allocated by the caller).
 * 0, KEEL_EMALFORMED (errmsg says which event and why) or KEEL_ENOMEM. */
int lin_op_load(struct key *k, size_t i, char *errmsg, size_t size);
/* Number the distinct values, then drop the info writes nobody observes and
 * mark the reads of values nobody wrote. 0 or KEEL_ENOMEM. */
int lin_key_intern(struct key *k);
void lin_key_free(struct key *k);
/* A value id as report text: "absent" or the value's canonical JSON. */
const char *lin_val_text(const struct key *k, int32_t id);

/* ---- the search (lin_search.c) ------------------------------------------ */

/* CLOCK_MONOTONIC, in seconds. */
double lin_now_s(void);
/* Build the search over k's operations that are not L_DROP. 0 or
 * KEEL_ENOMEM; call lin_search_free() either way. */
int lin_search_init(struct search *s, const struct key *k);
/* S_VALID, S_INVALID (the deepest dead end noted in s), S_TIME, S_STATES or
 * S_NOMEM. */
int lin_search_run(struct search *s, const struct limits *lim);
void lin_search_free(struct search *s);

/* ---- reports (lin_report.c) --------------------------------------------- */

/* The report of a key judged S_INVALID, S_TIME or S_STATES (*report
 * malloc'd, owned by the caller even on error). 0 or KEEL_ENOMEM. */
int lin_report(const struct key *k, const struct search *s, int verdict, size_t checked,
               char **report);
/* The report of a key the time budget left unchecked; NULL on ENOMEM. */
char *lin_report_skipped(const char *key);

#endif /* KEEL_JEPSEN_LIN_INTERNAL_H */
