/* jepsen: the register checker's model inputs: one key's operations turned
 * into model operations (see lin.c for the rules: fail ops and reads without
 * a result dropped, del a write of absent, cas as [expected, new]), their
 * values numbered, and the info writes nobody observes dropped. The model's
 * step itself is lin_step() in lin_internal.h. */
#include <stdlib.h>
#include <string.h>

#include "jepsen/checker/lin_internal.h"

static int strp_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int32_t val_id(const struct key *k, const char *s)
{
    const char **hit;
    if (s == NULL) return ABSENT;
    hit = bsearch(&s, k->vals, k->nv, sizeof *k->vals, strp_cmp);
    return (int32_t)(hit - k->vals) + 1; /* every value was interned */
}

const char *lin_val_text(const struct key *k, int32_t id)
{
    return id == ABSENT ? "absent" : k->vals[id - 1];
}

int lin_op_load(struct key *k, size_t i, char *errmsg, size_t size)
{
    const struct jpair *p = &k->p[i];
    const struct jop *inv = &k->h->ops[p->inv];
    struct lop *o = &k->all[i];
    const char *what = "value is not JSON";
    int rv = 0;
    *o = (struct lop){.p = p, .kind = L_DROP};
    if (inv->f != JF_READ && inv->f != JF_WRITE && inv->f != JF_CAS && inv->f != JF_DEL) {
        snprintf(errmsg, size, "event %zu: f \"%s\" is not a register operation", p->inv + 1,
                 jop_f_name(inv->f));
        return KEEL_EMALFORMED;
    }
    if (p->outcome == JOP_FAIL) {
        k->n_fail++;
        return 0;
    }
    switch (inv->f) {
    case JF_READ:
        if (p->outcome != JOP_OK) {
            k->n_read++;
            return 0;
        }
        o->kind = L_READ;
        rv = jval_canon(k->h->ops[p->done].value, &o->sa);
        break;
    case JF_WRITE:
        o->kind = L_WRITE;
        rv = jval_canon(inv->value, &o->sa);
        break;
    case JF_DEL:
        o->kind = L_WRITE;
        break;
    default:
        o->kind = p->outcome == JOP_OK ? L_CAS : L_CAS_INFO;
        rv = jval_cas_split(inv->value, &o->sa, &o->sb);
        what = "cas value is not [expected, new]";
        break;
    }
    if (rv == KEEL_EINVAL) {
        snprintf(errmsg, size, "event %zu: %s", p->inv + 1, what);
        rv = KEEL_EMALFORMED;
    }
    return rv;
}

int lin_key_intern(struct key *k)
{
    bool *written, *seen;
    size_t j = 0;
    k->vals = malloc((2 * k->np + 1) * sizeof *k->vals);
    if (k->vals == NULL) return KEEL_ENOMEM;
    for (size_t i = 0; i < k->np; i++) {
        if (k->all[i].sa != NULL) k->vals[k->nv++] = k->all[i].sa;
        if (k->all[i].sb != NULL) k->vals[k->nv++] = k->all[i].sb;
    }
    qsort(k->vals, k->nv, sizeof *k->vals, strp_cmp);
    for (size_t i = 0; i < k->nv; i++) {
        if (j == 0 || strcmp(k->vals[i], k->vals[j - 1]) != 0) k->vals[j++] = k->vals[i];
    }
    k->nv = j;
    written = calloc(k->nv + 1, sizeof *written);
    seen = calloc(k->nv + 1, sizeof *seen);
    if (written == NULL || seen == NULL) {
        free(written);
        free(seen);
        return KEEL_ENOMEM;
    }
    for (size_t i = 0; i < k->np; i++) {
        struct lop *o = &k->all[i];
        o->a = val_id(k, o->sa);
        o->b = val_id(k, o->sb);
        if (o->kind == L_WRITE) written[o->a] = true;
        if (o->kind == L_CAS || o->kind == L_CAS_INFO) written[o->b] = seen[o->a] = true;
        if (o->kind == L_READ) seen[o->a] = true;
    }
    for (size_t i = 0; i < k->np; i++) {
        struct lop *o = &k->all[i];
        bool info = o->p->outcome != JOP_OK;
        bool unseen = (o->kind == L_WRITE && !seen[o->a]) || (o->kind == L_CAS_INFO && !seen[o->b]);
        if (info && unseen) {
            o->kind = L_DROP;
            k->n_unobserved++;
        }
        o->never = (o->kind == L_READ || o->kind == L_CAS) && o->a != ABSENT && !written[o->a];
    }
    free(written);
    free(seen);
    return 0;
}

void lin_key_free(struct key *k)
{
    for (size_t i = 0; k->all != NULL && i < k->np; i++) {
        free(k->all[i].sa);
        free(k->all[i].sb);
    }
    free(k->all);
    free(k->vals);
}
