/* jepsen: the set checker (see jcheck_set() in check.h). Each key is a set,
 * judged against its final read: what was acknowledged must be there, and
 * nothing may be there that no add could have put there. */
#include <stdlib.h>
#include <string.h>

#include "jepsen/checker/check_internal.h"

struct set_stats
{
    size_t adds, ok, lost, unexpected, recovered, duplicates;
};

struct elem
{
    const char *s; /* borrowed from a json_t kept alive by the caller */
    const struct jpair *p;
};

static int elem_cmp(const void *a, const void *b)
{
    const struct elem *x = a, *y = b;
    int c = strcmp(x->s, y->s);
    return c != 0 ? c : x->p < y->p ? -1 : x->p > y->p;
}

static int strp_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool has(const char *const *v, size_t n, const char *s)
{
    return bsearch(&s, v, n, sizeof *v, strp_cmp) != NULL;
}

/* Judge one set against its final read (the last ok read invoked). */
static int set_judge(struct set_stats *st, const struct jhist *h, const struct elem *adds,
                     size_t na, const struct jpair *read, const char **seen, size_t ns,
                     bool *bad, FILE *rep)
{
    size_t lost = 0, unexpected = 0, dups = 0, j = 0;
    for (size_t i = 1; i < ns; i++) dups += strcmp(seen[i - 1], seen[i]) == 0;
    fprintf(rep, "final read (%zu elements):\n", ns);
    describe(rep, h, read);
    for (size_t i = 0; i < na; i++) {
        bool present = has(seen, ns, adds[i].s);
        const struct jpair *p = adds[i].p;
        st->ok += p->outcome == JOP_OK;
        st->recovered += p->outcome == JOP_INFO && present;
        if (p->outcome == JOP_OK && p->t_ret < read->t_inv && !present) {
            if (lost++ == 0) fprintf(rep, "lost (acknowledged, then missing):\n");
            if (lost <= CHECK_SHOW) describe(rep, h, p);
        }
    }
    /* An element is explained by an add of it, not failed, invoked in time. */
    for (size_t i = 0; i < ns; i++) {
        bool explained = false;
        if (i > 0 && strcmp(seen[i - 1], seen[i]) == 0) continue;
        while (j < na && strcmp(adds[j].s, seen[i]) < 0) j++;
        for (size_t k = j; k < na && strcmp(adds[k].s, seen[i]) == 0; k++) {
            explained |= adds[k].p->outcome != JOP_FAIL && adds[k].p->t_inv <= read->t_ret;
        }
        if (explained) continue;
        if (unexpected++ == 0) fprintf(rep, "unexpected (no add could have put it there):\n");
        if (unexpected <= CHECK_SHOW) fprintf(rep, "  \"%s\"\n", seen[i]);
    }
    if (dups > 0) fprintf(rep, "%zu elements appear more than once in the read\n", dups);
    st->lost += lost;
    st->unexpected += unexpected;
    st->duplicates += dups;
    *bad = lost > 0 || unexpected > 0 || dups > 0;
    return 0;
}

static int set_key(void *stats, const struct jhist *h, const struct jpair *p, size_t n,
                   const struct jbudget *b, bool *bad, bool *undecided, FILE *rep,
                   char *errmsg, size_t size)
{
    struct set_stats *st = stats;
    const struct jpair *read = NULL;
    struct elem *adds = malloc((n + 1) * sizeof *adds);
    json_t **vals = calloc(n + 1, sizeof *vals), *rv_json = NULL;
    const char **seen = NULL;
    size_t na = 0, ns = 0;
    int rv = 0;
    if (adds == NULL || vals == NULL) rv = KEEL_ENOMEM;
    for (size_t i = 0; i < n && rv == 0; i++) {
        const struct jop *inv = inv_of(h, &p[i]);
        if (inv->f == JF_READ) {
            if (p[i].outcome == JOP_OK) read = &p[i]; /* sorted: the last one wins */
        } else if (inv->f != JF_ADD) {
            rv = malformed(errmsg, size, &p[i], "not a set operation (add or read)");
        } else if ((vals[na] = load(inv->value)) == NULL || !json_is_string(vals[na])) {
            rv = malformed(errmsg, size, &p[i], "a set element must be a string");
        } else {
            adds[na].s = json_string_value(vals[na]);
            adds[na++].p = &p[i];
        }
    }
    st->adds += na;
    if (rv == 0 && read == NULL) {
        fprintf(rep, "undecided: no ok read of this set\n");
        *undecided = true;
        for (size_t i = 0; i < na; i++) st->ok += adds[i].p->outcome == JOP_OK;
    } else if (rv == 0) {
        json_t *e;
        size_t k;
        rv_json = load(result_of(h, read));
        if (rv_json == NULL || !json_is_array(rv_json)) {
            rv = malformed(errmsg, size, read, "a set read must return an array");
        } else if ((seen = malloc((json_array_size(rv_json) + 1) * sizeof *seen)) == NULL) {
            rv = KEEL_ENOMEM;
        }
        json_array_foreach(rv_json, k, e) {
            if (rv != 0) break;
            if (!json_is_string(e)) rv = malformed(errmsg, size, read, "set element not a string");
            seen[ns++] = json_string_value(e);
        }
        if (rv == 0) {
            qsort(seen, ns, sizeof *seen, strp_cmp);
            qsort(adds, na, sizeof *adds, elem_cmp);
            rv = set_judge(st, h, adds, na, read, seen, ns, bad, rep);
        }
    }
    for (size_t i = 0; vals != NULL && i <= na; i++) json_decref(vals[i]);
    json_decref(rv_json);
    free(vals);
    free(adds);
    free(seen);
    (void)b;
    return rv;
}

static void set_summary(const void *stats, FILE *f)
{
    const struct set_stats *s = stats;
    fprintf(f, "%zu adds, %zu ok, %zu lost, %zu unexpected, %zu recovered (info, present), "
               "%zu duplicates",
            s->adds, s->ok, s->lost, s->unexpected, s->recovered, s->duplicates);
}

int jcheck_set(const struct jhist *h, const struct jbudget *b, struct jresult *out)
{
    struct set_stats st = {0};
    return check_keys("set", set_key, set_summary, &st, h, b, out);
}
