/* jepsen: the history's values: building and splitting canonical JSON text
 * (jval_*, see history.h), and the jansson helpers the other history files
 * share to turn value text into JSON and back. */
#include <stdlib.h>

#include "jepsen/checker/history_internal.h"

/* Dump and release v (which may be NULL after a failed constructor). */
static char *dump_take(json_t *v)
{
    char *s = v != NULL ? json_dumps(v, HIST_CANON_FLAGS) : NULL;
    json_decref(v);
    return s;
}

json_t *hist_str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

char *jval_str(const char *s)
{
    return dump_take(hist_str_or_null(s));
}

char *jval_cas(const char *expected, const char *new_value)
{
    return dump_take(
        json_pack("[oo]", hist_str_or_null(expected), hist_str_or_null(new_value)));
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
json_t *hist_value_load(const char *text)
{
    return text != NULL ? json_loads(text, JSON_DECODE_ANY, NULL) : json_null();
}

int jval_canon(const char *json, char **out)
{
    json_t *v = hist_value_load(json);
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
    if ((s = json_dumps(v, HIST_CANON_FLAGS)) == NULL) *ok = false;
    return s;
}

int jval_cas_split(const char *json, char **expected, char **new_value)
{
    json_t *v = hist_value_load(json);
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
