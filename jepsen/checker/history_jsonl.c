/* jepsen: the history's JSON Lines form, written by the runner as it goes
 * and read back by the checker. See history.h for the fields; all JSON goes
 * through jansson. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "jepsen/checker/history_internal.h"

int jop_write_jsonl(FILE *f, const struct jop *op)
{
    json_t *o = json_object();
    json_t *v = hist_value_load(op->value);
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
        json_object_set_new(o, "key", hist_str_or_null(op->key)) != 0 ||
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
        hist_seterr(why, size, "missing \"%s\"", name);
        return KEEL_EMALFORMED;
    }
    if (!json_is_string(v)) {
        hist_seterr(why, size, "\"%s\" is not a string", name);
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
        hist_seterr(why, size, "missing \"%s\"", name);
        return KEEL_EMALFORMED;
    }
    if (!json_is_integer(v)) {
        hist_seterr(why, size, "\"%s\" is not an integer", name);
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
        hist_seterr(why, size, "\"%s\" is missing or not a string", name);
        return KEEL_EMALFORMED;
    }
    if (parse(s, out) != 0) {
        hist_seterr(why, size, "unknown %s \"%s\"", name, s);
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
        hist_seterr(why, size, "not a JSON object");
        return KEEL_EMALFORMED;
    }
    if ((rv = get_int(o, "process", true, &op->process, why, size)) != 0 ||
        (rv = get_enum(o, "type", parse_type, &op->type, why, size)) != 0 ||
        (rv = get_enum(o, "f", parse_f, &op->f, why, size)) != 0 ||
        (rv = get_str(o, "key", false, &op->key, why, size)) != 0 ||
        (rv = get_int(o, "ttl_ms", false, &op->ttl_ms, why, size)) != 0 ||
        (rv = get_int(o, "time", true, &op->time, why, size)) != 0 ||
        (rv = get_str(o, "error", false, &op->error, why, size)) != 0) {
        hist_op_free(op);
        return rv;
    }
    v = json_object_get(o, "value");
    if (v != NULL && !json_is_null(v) && (op->value = json_dumps(v, HIST_CANON_FLAGS)) == NULL) {
        hist_op_free(op);
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
            hist_seterr(errmsg, size, "line %zu: %s", lineno, jerr.text);
            rv = KEEL_EMALFORMED;
            break;
        }
        rv = op_decode(o, &op, why, sizeof why);
        json_decref(o);
        if (rv == 0) rv = hist_push(h, &op);
        if (rv == KEEL_EMALFORMED) hist_seterr(errmsg, size, "line %zu: %s", lineno, why);
        if (rv != 0) break;
    }
    if (rv == 0 && ferror(f)) {
        hist_seterr(errmsg, size, "line %zu: read error", lineno + 1);
        rv = KEEL_EIO;
    } else if (rv == KEEL_ENOMEM) {
        hist_seterr(errmsg, size, "line %zu: out of memory", lineno);
    }
    free(line);
    return rv;
}
