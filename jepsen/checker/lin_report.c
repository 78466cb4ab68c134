/* jepsen: the register checker's reports: for a key not linearizable, the
 * deepest dead end of the search (the ops placed last, the op that could not
 * be placed, the ops concurrent with it) or the read of a value nobody
 * wrote; for an undecided key, why. */
#include <stdlib.h>

#include "jepsen/checker/lin_internal.h"

#define NEAR 10 /* concurrent ops shown around it */

static void report_head(FILE *f, const struct key *k, size_t checked)
{
    fprintf(f, "key \"%s\": %zu ops, %zu searched (dropped: %zu failed, %zu reads without a "
               "result, %zu info writes nobody observed)\n",
            k->p[0].key, k->np, checked, k->n_fail, k->n_read, k->n_unobserved);
}

static void report_op(FILE *f, const struct key *k, const struct lop *o, const char *indent)
{
    fputs(indent, f);
    jpair_describe(f, k->h, o->p);
    fputc('\n', f);
}

static bool overlaps(const struct lop *a, const struct lop *b)
{
    return a->p->t_inv <= b->p->t_ret && b->p->t_inv <= a->p->t_ret;
}

static void report_stuck(FILE *f, const struct key *k, const struct search *s)
{
    const struct lop *x = &s->ops[s->stuck];
    uint32_t before[NEAR / 2], nb = 0;
    report_head(f, k, s->n);
    fprintf(f, "not linearizable: the search placed at most %zu of them in a legal order, "
               "leaving the register %s%s.\n",
            s->best, s->stuck_state == ABSENT ? "" : "holding ", lin_val_text(k, s->stuck_state));
    if (s->ntrail > 0) fprintf(f, "The last ops placed, with the value after each:\n");
    for (size_t j = 0; j < s->ntrail; j++) {
        fprintf(f, "  => %-10s ", lin_val_text(k, s->trail[j].state));
        report_op(f, k, &s->ops[s->trail[j].op], "");
    }
    fprintf(f, "No legal order places this op before it completed:\n");
    report_op(f, k, x, "  ");
    for (uint32_t j = s->stuck; j-- > 0 && nb < NEAR / 2;) {
        if (overlaps(&s->ops[j], x)) before[nb++] = j;
    }
    fprintf(f, "Ops concurrent with it (at most %d):%s\n", NEAR,
            nb == 0 && (s->stuck + 1 >= s->n || s->ops[s->stuck + 1].p->t_inv > x->p->t_ret)
                ? " none"
                : "");
    while (nb > 0) report_op(f, k, &s->ops[before[--nb]], "  ");
    for (size_t j = s->stuck + 1, na = 0; j < s->n && na < NEAR / 2; j++) {
        if (s->ops[j].p->t_inv > x->p->t_ret) break;
        report_op(f, k, &s->ops[j], "  ");
        na++;
    }
}

static void report_never(FILE *f, const struct key *k, const struct lop *o, size_t checked)
{
    report_head(f, k, checked);
    fprintf(f, "not linearizable: this %s %s, which no write or cas to the key wrote "
               "(failed ones aside):\n",
            o->kind == L_READ ? "read returned" : "cas expected", lin_val_text(k, o->a));
    report_op(f, k, o, "  ");
}

int lin_report(const struct key *k, const struct search *s, int verdict, size_t checked,
               char **report)
{
    size_t len;
    FILE *f;
    if ((f = open_memstream(report, &len)) == NULL) return KEEL_ENOMEM;
    if (verdict == S_INVALID && !s->stuck_seen) { /* found before searching */
        for (size_t i = 0; i < k->np; i++) {
            if (k->all[i].kind != L_DROP && k->all[i].never) {
                report_never(f, k, &k->all[i], checked);
                break;
            }
        }
    } else if (verdict == S_INVALID) {
        report_stuck(f, k, s);
    } else {
        report_head(f, k, checked);
        fprintf(f, "undecided: the search gave up after %zu configurations (%s)\n", s->memo.n,
                verdict == S_TIME ? "time budget spent" : "state budget per key reached");
    }
    return fclose(f) != 0 ? KEEL_ENOMEM : 0;
}

char *lin_report_skipped(const char *key)
{
    char *rep = NULL;
    size_t len;
    FILE *f = open_memstream(&rep, &len);
    if (f == NULL) return NULL;
    fprintf(f, "key \"%s\": undecided: the time budget was spent before its turn\n", key);
    if (fclose(f) == 0) return rep;
    free(rep);
    return NULL;
}
