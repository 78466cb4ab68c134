/* jepsen: pairing, the operations of a history: each invoke matched with its
 * completion under the rules of history.h (jhist_pairs), and the one-line
 * description reports give an operation (jpair_describe). */
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "jepsen/checker/history_internal.h"

/* An event by process: sorted, each process's events in history order. */
struct pent
{
    int64_t process;
    size_t i;
};

static int pent_cmp(const void *a, const void *b)
{
    const struct pent *x = a, *y = b;
    if (x->process != y->process) return x->process < y->process ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static int pair_cmp(const void *a, const void *b)
{
    const struct jpair *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c != 0) return c;
    if (x->t_inv != y->t_inv) return x->t_inv < y->t_inv ? -1 : 1;
    return x->inv < y->inv ? -1 : x->inv > y->inv;
}

/* Check that completion d matches open invoke o; 0 or KEEL_EMALFORMED. */
static int pair_check(const struct jhist *h, size_t o, size_t d, char *errmsg, size_t size)
{
    const struct jop *inv = &h->ops[o], *done = &h->ops[d];
    const char *what = NULL;
    if (done->f != inv->f) {
        what = "its f differs from";
    } else if (done->key != NULL && strcmp(done->key, inv->key) != 0) {
        what = "its key differs from";
    } else if (done->time < inv->time) {
        what = "its time is before";
    }
    if (what == NULL) return 0;
    hist_seterr(errmsg, size, "event %zu (process %" PRId64 "): %s %s the invoke at event %zu",
                d + 1, done->process, jop_type_name(done->type), what, o + 1);
    return KEEL_EMALFORMED;
}

int jhist_pairs(const struct jhist *h, struct jpair **out, size_t *n, char *errmsg,
                size_t size)
{
    struct pent *ev = malloc((h->n ? h->n : 1) * sizeof *ev);
    struct jpair *pairs = malloc((h->n ? h->n : 1) * sizeof *pairs);
    size_t np = 0, open = JPAIR_NONE;
    bool dead = false;
    int rv = 0;
    *out = NULL;
    *n = 0;
    if (ev == NULL || pairs == NULL) {
        rv = KEEL_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < h->n; i++) ev[i] = (struct pent){h->ops[i].process, i};
    qsort(ev, h->n, sizeof *ev, pent_cmp);
    /* Walk each process's events in history order. */
    for (size_t j = 0; j <= h->n && rv == 0; j++) {
        const struct jop *op;
        size_t i;
        if (j > 0 && (j == h->n || ev[j].process != ev[j - 1].process)) {
            if (open != JPAIR_NONE) {
                const struct jop *o = &h->ops[open];
                pairs[np++] = (struct jpair){o->key, open, JPAIR_NONE, JOP_INFO, o->time,
                                             INT64_MAX};
            }
            open = JPAIR_NONE;
            dead = false;
        }
        if (j == h->n) break;
        i = ev[j].i;
        op = &h->ops[i];
        if (op->type == JOP_INVOKE) {
            if (op->key == NULL) {
                hist_seterr(errmsg, size,
                            "event %zu (process %" PRId64 "): invoke without a key", i + 1,
                            op->process);
                rv = KEEL_EMALFORMED;
            } else if (open != JPAIR_NONE || dead) {
                hist_seterr(errmsg, size,
                            "event %zu (process %" PRId64 "): invoke while %s at event %zu",
                            i + 1, op->process,
                            dead ? "crashed by the info" : "the op invoked is open",
                            (dead ? ev[j - 1].i : open) + 1);
                rv = KEEL_EMALFORMED;
            }
            open = i;
            continue;
        }
        if (open == JPAIR_NONE) {
            hist_seterr(errmsg, size,
                        "event %zu (process %" PRId64 "): %s with no open invoke", i + 1,
                        op->process, jop_type_name(op->type));
            rv = KEEL_EMALFORMED;
        } else if ((rv = pair_check(h, open, i, errmsg, size)) == 0) {
            const struct jop *o = &h->ops[open];
            pairs[np++] = (struct jpair){o->key, open, i, op->type, o->time,
                                         op->type == JOP_INFO ? INT64_MAX : op->time};
            dead = op->type == JOP_INFO;
            open = JPAIR_NONE;
        }
    }
    if (rv == 0) {
        qsort(pairs, np, sizeof *pairs, pair_cmp);
        *out = pairs;
        *n = np;
        pairs = NULL;
    }
out:
    if (rv == KEEL_ENOMEM) hist_seterr(errmsg, size, "out of memory");
    free(ev);
    free(pairs);
    return rv;
}

int jpair_describe(FILE *f, const struct jhist *h, const struct jpair *p)
{
    const struct jop *inv = &h->ops[p->inv];
    const struct jop *done = p->done != JPAIR_NONE ? &h->ops[p->done] : NULL;
    fprintf(f, "#%zu process %" PRId64 " %s", p->inv + 1, inv->process, jop_f_name(inv->f));
    if (inv->value != NULL) fprintf(f, " %s", inv->value);
    if (inv->ttl_ms >= 0) fprintf(f, " ttl_ms=%" PRId64, inv->ttl_ms);
    fprintf(f, " -> %s", jop_type_name(p->outcome));
    if (done != NULL && p->outcome == JOP_OK && (inv->f == JF_READ || inv->f == JF_REFRESH || inv->f == JF_DEQUEUE))
        fprintf(f, " %s", done->value != NULL ? done->value : "null");
    if (done != NULL && done->error != NULL) fprintf(f, " (%s)", done->error);
    if (done != NULL) {
        fprintf(f, "  [invoke %" PRId64 ", %s %" PRId64 "]", inv->time,
                jop_type_name(done->type), done->time);
    } else {
        fprintf(f, "  [invoke %" PRId64 ", never completed]", inv->time);
    }
    return ferror(f) ? KEEL_EIO : 0;
}
