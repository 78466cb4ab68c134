/* keelctl: the data commands, each one libkeel call (writes exactly-once).
 * Plain output is the value itself, one per line ((nil) when absent);
 * --json prints {"key": ..., "value": ...} or the command's natural shape. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/keelctl/keelctl.h"

static void print_value(const struct keel_value *v)
{
    if (v->type == KEEL_VALUE_NIL) printf("(nil)\n");
    else if (v->type == KEEL_VALUE_INTEGER) printf("%lld\n", v->integer);
    else if (v->type == KEEL_VALUE_ARRAY)
        for (size_t i = 0; i < v->n; i++) print_value(v->elements[i]);
    else {
        fwrite(v->str, 1, v->len, stdout);
        putchar('\n');
    }
}

/* One command whose reply is printed as is, or as {"key", "value"}. */
static int simple(struct kctl *k, int argc, const char *const *argv)
{
    struct keel_value *v;
    int rc = kctl_call(k, argc, argv, &v);
    if (rc != CLI_OK) return rc;
    if (k->json) {
        json_t *j = json_object();
        if (argc > 1) json_object_set_new(j, "key", json_string(argv[1]));
        json_object_set_new(j, "value", kctl_value_json(v));
        cli_print_json(j);
    } else {
        print_value(v);
    }
    keel_value_free(v);
    return CLI_OK;
}

static int scan(struct kctl *k, const char *pattern)
{
    char cursor[32] = "0";
    json_t *keys = k->json ? json_array() : NULL;
    do {
        const char *argv[] = {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"};
        struct keel_value *v;
        int rc = kctl_call(k, 6, argv, &v);
        if (rc != CLI_OK) {
            json_decref(keys);
            return rc;
        }
        if (v->type != KEEL_VALUE_ARRAY || v->n != 2) {
            keel_value_free(v);
            json_decref(keys);
            fprintf(stderr, "keelctl: scan: unexpected reply\n");
            return CLI_FAILED;
        }
        snprintf(cursor, sizeof cursor, "%s", v->elements[0]->str);
        const struct keel_value *batch = v->elements[1];
        for (size_t i = 0; i < batch->n; i++) {
            if (keys) json_array_append_new(keys, json_stringn(batch->elements[i]->str, batch->elements[i]->len));
            else print_value(batch->elements[i]);
        }
        keel_value_free(v);
    } while (strcmp(cursor, "0") != 0);
    if (keys) cli_print_json(keys);
    return CLI_OK;
}

static int hgetall(struct kctl *k, const char *key)
{
    const char *argv[] = {"HGETALL", key};
    struct keel_value *v;
    int rc = kctl_call(k, 2, argv, &v);
    if (rc != CLI_OK) return rc;
    json_t *obj = json_object();
    for (size_t i = 0; i + 1 < v->n; i += 2) {
        if (k->json) json_object_set_new(obj, v->elements[i]->str, json_stringn(v->elements[i + 1]->str, v->elements[i + 1]->len));
        else printf("%s\t%s\n", v->elements[i]->str, v->elements[i + 1]->str);
    }
    if (k->json) {
        json_t *j = json_object();
        json_object_set_new(j, "key", json_string(key));
        json_object_set_new(j, "value", obj);
        cli_print_json(j);
    } else {
        json_decref(obj);
    }
    keel_value_free(v);
    return CLI_OK;
}

int kctl_data(struct kctl *k, int argc, char **argv)
{
    const char *cmd = argv[0];
    if (!strcmp(cmd, "get") && argc == 2) return simple(k, 2, (const char *[]){"GET", argv[1]});
    if (!strcmp(cmd, "set") && argc == 3) return simple(k, 3, (const char *[]){"SET", argv[1], argv[2]});
    if (!strcmp(cmd, "set") && argc == 5 && !strcmp(argv[3], "--ttl"))
        return simple(k, 5, (const char *[]){"SET", argv[1], argv[2], "PX", argv[4]});
    if (!strcmp(cmd, "del") && argc >= 2) {
        const char *av[64] = {"DEL"};
        if (argc > 63) return CLI_USAGE;
        for (int i = 1; i < argc; i++) av[i] = argv[i];
        return simple(k, argc, av);
    }
    if (!strcmp(cmd, "scan") && argc <= 2) return scan(k, argc == 2 ? argv[1] : "*");
    if (!strcmp(cmd, "ttl") && argc == 2) return simple(k, 2, (const char *[]){"PTTL", argv[1]});
    if (!strcmp(cmd, "expire") && argc == 3) return simple(k, 3, (const char *[]){"PEXPIRE", argv[1], argv[2]});
    if (!strcmp(cmd, "incr") && argc == 2) return simple(k, 2, (const char *[]){"INCR", argv[1]});
    if (!strcmp(cmd, "incr") && argc == 3) return simple(k, 3, (const char *[]){"INCRBY", argv[1], argv[2]});
    if (!strcmp(cmd, "hget") && argc == 3) return simple(k, 3, (const char *[]){"HGET", argv[1], argv[2]});
    if (!strcmp(cmd, "hset") && argc >= 4 && argc % 2 == 0 && argc < 64) {
        const char *av[64] = {"HSET"};
        for (int i = 1; i < argc; i++) av[i] = argv[i];
        return simple(k, argc, av);
    }
    if (!strcmp(cmd, "hgetall") && argc == 2) return hgetall(k, argv[1]);
    return CLI_USAGE;
}
