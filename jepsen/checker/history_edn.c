/* jepsen: the history as Jepsen/Knossos EDN (see jhist_write_edn() in
 * history.h), so a verdict can be cross-checked with Jepsen's own tools. */
#include <inttypes.h>
#include <string.h>

#include "jepsen/checker/history_internal.h"

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
        json_t *v = hist_value_load(op->value);
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
