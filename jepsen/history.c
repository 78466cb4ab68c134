/* jepsen: the operation history, its JSON Lines and EDN forms, and pairing.
 * See history.h for the format; all JSON goes through jansson. */
#include "jepsen/history.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Compact, sorted keys: equal values get equal text (history.h). */
#define CANON_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS)

static const char *const type_names[] = {"invoke", "ok", "fail", "info"};
static const char *const f_names[] = {"read", "write", "cas", "del", "add", "refresh"};
#define NAMES(a) (sizeof(a) / sizeof((a)[0]))

__attribute__((format(printf, 3, 4))) static void seterr(char *errmsg, size_t size,
                                                         const char *fmt, ...)
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

/* ---- values ------------------------------------------------------------- */

/* Dump and release v (which may be NULL after a failed constructor). */
static char *dump_take(json_t *v)
{
    char *s = v != NULL ? json_dumps(v, CANON_FLAGS) : NULL;
    json_decref(v);
    return s;
}

static json_t *str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

char *jval_str(const char *s)
{
    return dump_take(str_or_null(s));
}

char *jval_cas(const char *expected, const char *new_value)
{
    return dump_take(json_pack("[oo]", str_or_null(expected), str_or_null(new_value)));
}

char *jval_int(int64_t v)
{
    return dump_take(json_integer((json_int_t)v));
}

char *jval_bool(bool v)
{
    return dump_take(json_boolean(v));
}

char *jval_str_array(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < n; i++) {
        if (json_array_append_new(a, json_string(v[i])) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    return dump_take(a);
}

/* Parse value text (NULL is null) into a new reference, or NULL if not JSON. */
static json_t *value_load(const char *text)
{
    return text != NULL ? json_loads(text, JSON_DECODE_ANY, NULL) : json_null();
}

int jval_canon(const char *json, char **out)
{
    json_t *v = value_load(json);
    *out = NULL;
    if (v == NULL) return KEEL_EINVAL;
    if (json_is_null(v)) {
        json_decref(v);
        return 0;
    }
    *out = dump_take(v);
    return *out != NULL ? 0 : KEEL_ENOMEM;
}

/* NULL for null, else the canonical text (*ok cleared if that fails). */
static char *canon_opt(json_t *v, bool *ok)
{
    char *s;
    if (v == NULL || json_is_null(v)) return NULL;
    if ((s = json_dumps(v, CANON_FLAGS)) == NULL) *ok = false;
    return s;
}

int jval_cas_split(const char *json, char **expected, char **new_value)
{
    json_t *v = value_load(json);
    bool ok = true;
    *expected = *new_value = NULL;
    if (v == NULL || !json_is_array(v) || json_array_size(v) != 2) {
        json_decref(v);
        return KEEL_EINVAL;
    }
    *expected = canon_opt(json_array_get(v, 0), &ok);
    *new_value = canon_opt(json_array_get(v, 1), &ok);
    json_decref(v);
    if (ok) return 0;
    free(*expected);
    free(*new_value);
    *expected = *new_value = NULL;
    return KEEL_ENOMEM;
}

/* ---- the history -------------------------------------------------------- */

void jhist_init(struct jhist *h)
{
    h->ops = NULL;
    h->n = h->cap = 0;
}

static void op_free(struct jop *op)
{
    free(op->key);
    free(op->value);
    free(op->error);
}

void jhist_free(struct jhist *h)
{
    for (size_t i = 0; i < h->n; i++) op_free(&h->ops[i]);
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
static int hist_push(struct jhist *h, struct jop *op)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 256;
        struct jop *ops = realloc(h->ops, cap * sizeof *ops);
        if (ops == NULL) {
            op_free(op);
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
        op_free(&c);
        return KEEL_ENOMEM;
    }
    return hist_push(h, &c);
}

/* ---- JSON Lines --------------------------------------------------------- */

int jop_write_jsonl(FILE *f, const struct jop *op)
{
    json_t *o = json_object();
    json_t *v = value_load(op->value);
    int rv = 0;
    if (o == NULL) {
        json_decref(v);
        return KEEL_ENOMEM;
    }
    if (v == NULL) {
        json_decref(o);
        return KEEL_EINVAL;
    }
    /* jansson keeps insertion order, which is the documented field order. */
    if (json_object_set_new(o, "process", json_integer(op->process)) != 0 ||
        json_object_set_new(o, "type", json_string(jop_type_name(op->type))) != 0 ||
        json_object_set_new(o, "f", json_string(jop_f_name(op->f))) != 0 ||
        json_object_set_new(o, "key", str_or_null(op->key)) != 0 ||
        json_object_set_new(o, "value", v) != 0 ||
        (op->ttl_ms >= 0 && json_object_set_new(o, "ttl_ms", json_integer(op->ttl_ms)) != 0) ||
        json_object_set_new(o, "time", json_integer(op->time)) != 0 ||
        (op->error != NULL && json_object_set_new(o, "error", json_string(op->error)) != 0)) {
        rv = KEEL_EINVAL; /* a NULL from json_string(): not UTF-8 (or ENOMEM) */
    } else if (json_dumpf(o, f, 0) != 0 || fputc('\n', f) == EOF) {
        rv = KEEL_EIO;
    }
    json_decref(o);
    return rv;
}

int jhist_write_jsonl(const struct jhist *h, FILE *f)
{
    for (size_t i = 0; i < h->n; i++) {
        int rv = jop_write_jsonl(f, &h->ops[i]);
        if (rv != 0) return rv;
    }
    return 0;
}

/* An optional string field: absent and null give NULL. */
static int get_str(json_t *o, const char *name, bool required, char **out, char *why,
                   size_t size)
{
    json_t *v = json_object_get(o, name);
    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        if (!required) return 0;
        seterr(why, size, "missing \"%s\"", name);
        return KEEL_EMALFORMED;
    }
    if (!json_is_string(v)) {
        seterr(why, size, "\"%s\" is not a string", name);
        return KEEL_EMALFORMED;
    }
    *out = strdup(json_string_value(v));
    return *out != NULL ? 0 : KEEL_ENOMEM;
}

static int get_int(json_t *o, const char *name, bool required, int64_t *out, char *why,
                   size_t size)
{
    json_t *v = json_object_get(o, name);
    if (v == NULL || json_is_null(v)) {
        if (!required) return 0;
        seterr(why, size, "missing \"%s\"", name);
        return KEEL_EMALFORMED;
    }
    if (!json_is_integer(v)) {
        seterr(why, size, "\"%s\" is not an integer", name);
        return KEEL_EMALFORMED;
    }
    *out = json_integer_value(v);
    return 0;
}

static int get_enum(json_t *o, const char *name, int (*parse)(const char *, void *),
                    void *out, char *why, size_t size)
{
    const char *s = json_string_value(json_object_get(o, name));
    if (s == NULL) {
        seterr(why, size, "\"%s\" is missing or not a string", name);
        return KEEL_EMALFORMED;
    }
    if (parse(s, out) != 0) {
        seterr(why, size, "unknown %s \"%s\"", name, s);
        return KEEL_EMALFORMED;
    }
    return 0;
}

static int parse_type(const char *s, void *out)
{
    return jop_type_parse(s, out);
}

static int parse_f(const char *s, void *out)
{
    return jop_f_parse(s, out);
}

/* Decode one parsed line into *op (fields owned by op, freed on error). */
static int op_decode(json_t *o, struct jop *op, char *why, size_t size)
{
    json_t *v;
    int rv;
    memset(op, 0, sizeof *op);
    op->ttl_ms = -1;
    if (!json_is_object(o)) {
        seterr(why, size, "not a JSON object");
        return KEEL_EMALFORMED;
    }
    if ((rv = get_int(o, "process", true, &op->process, why, size)) != 0 ||
        (rv = get_enum(o, "type", parse_type, &op->type, why, size)) != 0 ||
        (rv = get_enum(o, "f", parse_f, &op->f, why, size)) != 0 ||
        (rv = get_str(o, "key", false, &op->key, why, size)) != 0 ||
        (rv = get_int(o, "ttl_ms", false, &op->ttl_ms, why, size)) != 0 ||
        (rv = get_int(o, "time", true, &op->time, why, size)) != 0 ||
        (rv = get_str(o, "error", false, &op->error, why, size)) != 0) {
        op_free(op);
        return rv;
    }
    v = json_object_get(o, "value");
    if (v != NULL && !json_is_null(v) && (op->value = json_dumps(v, CANON_FLAGS)) == NULL) {
        op_free(op);
        return KEEL_ENOMEM;
    }
    return 0;
}

int jhist_read_jsonl(struct jhist *h, FILE *f, char *errmsg, size_t size)
{
    char *line = NULL, why[256];
    size_t cap = 0, lineno = 0;
    ssize_t len;
    int rv = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        json_error_t jerr;
        json_t *o;
        struct jop op;
        lineno++;
        if (strspn(line, " \t\r\n") == (size_t)len) continue;
        o = json_loadb(line, (size_t)len, JSON_REJECT_DUPLICATES, &jerr);
        if (o == NULL) {
            seterr(errmsg, size, "line %zu: %s", lineno, jerr.text);
            rv = KEEL_EMALFORMED;
            break;
        }
        rv = op_decode(o, &op, why, sizeof why);
        json_decref(o);
        if (rv == 0) rv = hist_push(h, &op);
        if (rv == KEEL_EMALFORMED) seterr(errmsg, size, "line %zu: %s", lineno, why);
        if (rv != 0) break;
    }
    if (rv == 0 && ferror(f)) {
        seterr(errmsg, size, "line %zu: read error", lineno + 1);
        rv = KEEL_EIO;
    } else if (rv == KEEL_ENOMEM) {
        seterr(errmsg, size, "line %zu: out of memory", lineno);
    }
    free(line);
    return rv;
}

/* ---- EDN ---------------------------------------------------------------- */

static void edn_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s != 0; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            fprintf(f, "\\%c", c);
        } else if (c == '\n') {
            fputs("\\n", f);
        } else if (c == '\t') {
            fputs("\\t", f);
        } else if (c == '\r') {
            fputs("\\r", f);
        } else if (c < 0x20) {
            fprintf(f, "\\u%04x", c);
        } else {
            fputc(c, f); /* UTF-8 passes through: EDN text is UTF-8 */
        }
    }
    fputc('"', f);
}

static void edn_value(FILE *f, json_t *v)
{
    char buf[40];
    size_t i;
    const char *k;
    json_t *e;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        fputc('{', f);
        i = 0;
        json_object_foreach(v, k, e) {
            fputs(i++ ? ", " : "", f);
            edn_str(f, k);
            fputc(' ', f);
            edn_value(f, e);
        }
        fputc('}', f);
        break;
    case JSON_ARRAY:
        fputc('[', f);
        json_array_foreach(v, i, e) {
            fputs(i ? " " : "", f);
            edn_value(f, e);
        }
        fputc(']', f);
        break;
    case JSON_STRING:
        edn_str(f, json_string_value(v));
        break;
    case JSON_INTEGER:
        fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        /* A real must stay a real when read back: 2.0 is printed "2" by %g. */
        snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
        fprintf(f, "%s%s", buf, strpbrk(buf, ".en") ? "" : ".0");
        break;
    case JSON_TRUE:
        fputs("true", f);
        break;
    case JSON_FALSE:
        fputs("false", f);
        break;
    case JSON_NULL:
        fputs("nil", f);
        break;
    }
}

int jhist_write_edn(const struct jhist *h, FILE *f)
{
    for (size_t i = 0; i < h->n; i++) {
        const struct jop *op = &h->ops[i];
        json_t *v = value_load(op->value);
        if (v == NULL) return KEEL_EINVAL;
        fprintf(f, "{:process %" PRId64 ", :type :%s, :f :%s, :value [", op->process,
                jop_type_name(op->type), jop_f_name(op->f));
        if (op->key != NULL) {
            edn_str(f, op->key);
        } else {
            fputs("nil", f);
        }
        fputc(' ', f);
        edn_value(f, v);
        json_decref(v);
        fputc(']', f);
        if (op->ttl_ms >= 0) fprintf(f, ", :ttl-ms %" PRId64, op->ttl_ms);
        fprintf(f, ", :time %" PRId64, op->time);
        if (op->error != NULL) {
            fputs(", :error ", f);
            edn_str(f, op->error);
        }
        fputs("}\n", f);
    }
    return ferror(f) ? KEEL_EIO : 0;
}

/* ---- pairing ------------------------------------------------------------ */

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
    seterr(errmsg, size, "event %zu (process %" PRId64 "): %s %s the invoke at event %zu",
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
                seterr(errmsg, size, "event %zu (process %" PRId64 "): invoke without a key",
                       i + 1, op->process);
                rv = KEEL_EMALFORMED;
            } else if (open != JPAIR_NONE || dead) {
                seterr(errmsg, size,
                       "event %zu (process %" PRId64 "): invoke while %s at event %zu", i + 1,
                       op->process, dead ? "crashed by the info" : "the op invoked is open",
                       (dead ? ev[j - 1].i : open) + 1);
                rv = KEEL_EMALFORMED;
            }
            open = i;
            continue;
        }
        if (open == JPAIR_NONE) {
            seterr(errmsg, size, "event %zu (process %" PRId64 "): %s with no open invoke",
                   i + 1, op->process, jop_type_name(op->type));
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
    if (rv == KEEL_ENOMEM) seterr(errmsg, size, "out of memory");
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
    if (done != NULL && p->outcome == JOP_OK && (inv->f == JF_READ || inv->f == JF_REFRESH))
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
