/* jepsen: the operation history itself: event names, and the list of events
 * (building, appending, freeing). The history's other files hold its values
 * (history_value.c), its JSON Lines form (history_jsonl.c), its EDN form
 * (history_edn.c) and pairing (history_pairs.c). See history.h for the
 * format. */
#include "jepsen/checker/history.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "jepsen/checker/history_internal.h"

static const char *const type_names[] = {"invoke", "ok", "fail", "info"};
static const char *const f_names[] = {"read", "write", "cas", "del", "add", "refresh", "enqueue", "dequeue"};
#define NAMES(a) (sizeof(a) / sizeof((a)[0]))

void hist_seterr(char *errmsg, size_t size, const char *fmt, ...)
{
    va_list ap;
    if (errmsg == NULL || size == 0) return;
    va_start(ap, fmt);
    vsnprintf(errmsg, size, fmt, ap);
    va_end(ap);
}

const char *jop_type_name(enum jop_type t)
{
    return (unsigned)t < NAMES(type_names) ? type_names[t] : "?";
}

const char *jop_f_name(enum jop_f f)
{
    return (unsigned)f < NAMES(f_names) ? f_names[f] : "?";
}

int jop_type_parse(const char *s, enum jop_type *out)
{
    for (size_t i = 0; i < NAMES(type_names); i++) {
        if (strcmp(s, type_names[i]) == 0) {
            *out = (enum jop_type)i;
            return 0;
        }
    }
    return KEEL_EINVAL;
}

int jop_f_parse(const char *s, enum jop_f *out)
{
    for (size_t i = 0; i < NAMES(f_names); i++) {
        if (strcmp(s, f_names[i]) == 0) {
            *out = (enum jop_f)i;
            return 0;
        }
    }
    return KEEL_EINVAL;
}

/* ---- the history -------------------------------------------------------- */

void jhist_init(struct jhist *h)
{
    h->ops = NULL;
    h->n = h->cap = 0;
}

void hist_op_free(struct jop *op)
{
    free(op->key);
    free(op->value);
    free(op->error);
}

void jhist_free(struct jhist *h)
{
    for (size_t i = 0; i < h->n; i++) hist_op_free(&h->ops[i]);
    free(h->ops);
    jhist_init(h);
}

/* strdup that keeps NULL; *ok is cleared when a copy fails. */
static char *dup_opt(const char *s, bool *ok)
{
    char *d;
    if (s == NULL) return NULL;
    d = strdup(s);
    if (d == NULL) *ok = false;
    return d;
}

/* Append *op, taking ownership of its strings (freed on failure too). */
int hist_push(struct jhist *h, struct jop *op)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 256;
        struct jop *ops = realloc(h->ops, cap * sizeof *ops);
        if (ops == NULL) {
            hist_op_free(op);
            return KEEL_ENOMEM;
        }
        h->ops = ops;
        h->cap = cap;
    }
    h->ops[h->n++] = *op;
    return 0;
}

int jhist_add(struct jhist *h, const struct jop *op)
{
    struct jop c = *op;
    bool ok = true;
    c.key = dup_opt(op->key, &ok);
    c.value = dup_opt(op->value, &ok);
    c.error = dup_opt(op->error, &ok);
    if (!ok) {
        hist_op_free(&c);
        return KEEL_ENOMEM;
    }
    return hist_push(h, &c);
}
