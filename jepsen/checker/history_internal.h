/* jepsen: helpers shared by the history's files (history.c, history_value.c,
 * history_jsonl.c, history_edn.c, history_pairs.c). Not for the checkers or
 * the runner: they see only history.h.
 *
 * Ownership follows history.h: a struct jop inside a struct jhist owns its
 * strings; hist_push() takes over the strings of the op it is given. */
#ifndef KEEL_JEPSEN_HISTORY_INTERNAL_H
#define KEEL_JEPSEN_HISTORY_INTERNAL_H

#include <jansson.h>
#include <stddef.h>

#include "jepsen/checker/history.h"

/* Compact, sorted keys: equal values get equal text (history.h). */
#define HIST_CANON_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS)

/* snprintf into errmsg, which may be NULL (size 0): then nothing is said. */
__attribute__((format(printf, 3, 4))) void hist_seterr(char *errmsg, size_t size,
                                                       const char *fmt, ...);

/* ---- values (history_value.c) ------------------------------------------- */

/* A new reference: a JSON string, or JSON null when s is NULL. NULL on
 * ENOMEM (or s not UTF-8). */
json_t *hist_str_or_null(const char *s);
/* Parse value text (NULL is null) into a new reference, or NULL if not JSON. */
json_t *hist_value_load(const char *text);

/* ---- the history (history.c) -------------------------------------------- */

/* Free an op's strings (not the op). */
void hist_op_free(struct jop *op);
/* Append *op, taking ownership of its strings (freed on failure too).
 * 0 or KEEL_ENOMEM. */
int hist_push(struct jhist *h, struct jop *op);

#endif /* KEEL_JEPSEN_HISTORY_INTERNAL_H */
