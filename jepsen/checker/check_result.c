/* jepsen: checker results: workload and verdict names, the dispatch on the
 * workload, the shared tail that finishes every checker's result
 * (check_finish), and a result's JSON line. */
#include <stdlib.h>
#include <string.h>

#include "jepsen/checker/check_internal.h"

/* ---- names and dispatch ------------------------------------------------- */

static const char *const workload_names[] = {"register", "set", "counter", "session", "queue"};
static const char *const verdict_names[] = {"valid", "invalid", "unknown"};

const char *jworkload_name(enum jworkload w)
{
    return (unsigned)w < 5 ? workload_names[w] : "?";
}

int jworkload_parse(const char *s, enum jworkload *out)
{
    for (unsigned i = 0; i < 5; i++) {
        if (strcmp(s, workload_names[i]) == 0) {
            *out = (enum jworkload)i;
            return 0;
        }
    }
    return KEEL_EINVAL;
}

const char *jverdict_name(enum jverdict v)
{
    return (unsigned)v < 3 ? verdict_names[v] : "?";
}

int jcheck(enum jworkload w, const struct jhist *h, const struct jbudget *b,
           struct jresult *out)
{
    switch (w) {
    case JW_REGISTER:
        return jcheck_register(h, b, out);
    case JW_SET:
        return jcheck_set(h, b, out);
    case JW_COUNTER:
        return jcheck_counter(h, b, out);
    case JW_SESSION:
        return jcheck_session(h, b, out);
    case JW_QUEUE:
        return jcheck_queue(h, b, out);
    }
    memset(out, 0, sizeof *out);
    out->verdict = JV_UNKNOWN;
    snprintf(out->errmsg, sizeof out->errmsg, "unknown workload %d", (int)w);
    return KEEL_EINVAL;
}

/* ---- results ----------------------------------------------------------- */

int check_finish(struct jresult *out, int rv, char *first, check_head_fn head,
                 const void *ctx)
{
    size_t len;
    FILE *f;
    if (rv == 0 && (f = open_memstream(&out->report, &len)) != NULL) {
        out->verdict = out->bad_keys ? JV_INVALID : out->unknown_keys ? JV_UNKNOWN : JV_VALID;
        head(f, out, ctx);
        if (first != NULL) fputs(first, f);
        if (fclose(f) != 0) rv = KEEL_ENOMEM;
    } else if (rv == 0) {
        rv = KEEL_ENOMEM;
    }
    free(first);
    if (rv != 0) out->verdict = JV_UNKNOWN;
    if (rv == KEEL_ENOMEM && out->errmsg[0] == 0)
        snprintf(out->errmsg, sizeof out->errmsg, "out of memory");
    return rv;
}

void jresult_free(struct jresult *r)
{
    free(r->report);
    free(r->bad_key);
    memset(r, 0, sizeof *r);
    r->verdict = JV_UNKNOWN;
}

int jresult_json(const struct jresult *r, enum jworkload w, FILE *f)
{
    json_t *o = json_object();
    json_t *valid = r->verdict == JV_UNKNOWN ? json_string("unknown")
                                              : json_boolean(r->verdict == JV_VALID);
    int rv = 0;
    if (o == NULL || valid == NULL ||
        json_object_set_new(o, "valid", valid) != 0 ||
        json_object_set_new(o, "workload", json_string(jworkload_name(w))) != 0 ||
        json_object_set_new(o, "ops", json_integer((json_int_t)r->ops_checked)) != 0 ||
        json_object_set_new(o, "keys", json_integer((json_int_t)r->keys)) != 0 ||
        json_object_set_new(o, "bad_keys", json_integer((json_int_t)r->bad_keys)) != 0 ||
        json_object_set_new(o, "unknown_keys", json_integer((json_int_t)r->unknown_keys)) != 0 ||
        json_object_set_new(o, "bad_key",
                            r->bad_key ? json_string(r->bad_key) : json_null()) != 0 ||
        json_object_set_new(o, "report",
                            json_string(r->report ? r->report : r->errmsg)) != 0) {
        rv = KEEL_ENOMEM;
    } else if (json_dumpf(o, f, 0) != 0 || fputc('\n', f) == EOF) {
        rv = KEEL_EIO;
    }
    json_decref(o);
    return rv;
}
