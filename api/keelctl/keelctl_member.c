/* keelctl: membership and leadership, each one server command through
 * libkeel (which finds the leader; the changes are idempotent there, so a
 * retry after a lost reply does no harm):
 *
 *   member list                     KEEL.MEMBER LIST
 *   member add ID ADDR [--standby]  KEEL.MEMBER ADD ID ADDR TIMEOUT ms [STANDBY]
 *   member promote ID               KEEL.MEMBER PROMOTE ID TIMEOUT ms
 *   member remove ID [--force]      KEEL.MEMBER REMOVE ID TIMEOUT ms [FORCE]
 * (TIMEOUT: a little under --timeout, see change_timeout)
 *   leader transfer [--to ID]       KEEL.TRANSFER [ID] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/keelctl/keelctl.h"

static bool is_id(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    return *s != 0 && *end == 0 && v > 0;
}

static int list(struct kctl *k)
{
    const char *argv[] = {"KEEL.MEMBER", "LIST"};
    struct keel_value *v;
    int rc = kctl_call(k, 2, argv, &v);
    if (rc != CLI_OK) return rc;
    json_t *members = k->json ? json_array() : NULL;
    if (!k->json)
        printf("%-4s %-21s %-21s %-8s %-8s %s\n", "ID", "RAFT ADDRESS", "CLIENT ADDRESS", "ROLE", "ZONE", "LEADER");
    for (size_t i = 0; v->type == KEEL_VALUE_ARRAY && i < v->n; i++) {
        const struct keel_value *m = v->elements[i];
        if (m->type != KEEL_VALUE_ARRAY || m->n < 5) continue;
        long long id = m->elements[0]->integer;
        const char *raft = m->elements[1]->str ? m->elements[1]->str : "";
        const char *client = m->elements[2]->str ? m->elements[2]->str : "";
        const char *role = m->elements[3]->str ? m->elements[3]->str : "";
        bool leader = m->elements[4]->integer != 0;
        const char *zone = m->n >= 6 && m->elements[5]->str ? m->elements[5]->str : "";
        if (members) {
            json_array_append_new(members, json_pack("{s:I, s:s, s:s, s:s, s:b, s:s}", "id", (json_int_t)id,
                                                     "raft_address", raft, "client_address", client,
                                                     "role", role, "leader", leader, "zone", zone));
        } else {
            printf("%-4lld %-21s %-21s %-8s %-8s %s\n", id, raft, client[0] ? client : "-", role,
                   zone[0] ? zone : "-", leader ? "*" : "");
        }
    }
    keel_value_free(v);
    if (members) cli_print_json(json_pack("{s:o}", "members", members));
    return CLI_OK;
}

/* A change whose reply is +OK: say what happened. */
static int change(struct kctl *k, int argc, const char *const *argv, const char *done)
{
    struct keel_value *v;
    int rc = kctl_call(k, argc, argv, &v);
    if (rc != CLI_OK) return rc;
    keel_value_free(v);
    if (k->json) cli_print_json(json_pack("{s:s, s:s}", "result", "ok", "change", done));
    else printf("%s\n", done);
    return CLI_OK;
}

/* The server's TIMEOUT for a change: a little under ours, so that its
 * answer (done, or why not) arrives before we give up, and no step of the
 * change starts after we have. */
static void change_timeout(const struct kctl *k, char *buf, size_t size)
{
    unsigned ms = k->timeout_ms, margin = ms / 10 < 500 ? ms / 10 : 500;
    snprintf(buf, size, "%u", ms - margin > 0 ? ms - margin : 1);
}

int kctl_member(struct kctl *k, int argc, char **argv)
{
    char done[160], timeout[16];
    if (argc == 2 && !strcmp(argv[1], "list")) return list(k);
    change_timeout(k, timeout, sizeof timeout);
    if ((argc == 4 || argc == 5) && !strcmp(argv[1], "add") && is_id(argv[2])) {
        bool standby = argc == 5;
        if (standby && strcmp(argv[4], "--standby") != 0) return CLI_USAGE;
        const char *av[] = {"KEEL.MEMBER", "ADD", argv[2], argv[3], "TIMEOUT", timeout, "STANDBY"};
        snprintf(done, sizeof done, "added node %s at %s as %s", argv[2], argv[3],
                 standby ? "standby" : "voter");
        return change(k, standby ? 7 : 6, av, done);
    }
    if ((argc == 3 || argc == 4) && !strcmp(argv[1], "remove") && is_id(argv[2])) {
        bool force = argc == 4;
        if (force && strcmp(argv[3], "--force") != 0) return CLI_USAGE;
        const char *av[] = {"KEEL.MEMBER", "REMOVE", argv[2], "TIMEOUT", timeout, "FORCE"};
        snprintf(done, sizeof done, "removed node %s", argv[2]);
        return change(k, force ? 6 : 5, av, done);
    }
    if (argc == 3 && !strcmp(argv[1], "promote") && is_id(argv[2])) {
        const char *av[] = {"KEEL.MEMBER", "PROMOTE", argv[2], "TIMEOUT", timeout};
        snprintf(done, sizeof done, "promoted node %s to voter", argv[2]);
        return change(k, 5, av, done);
    }
    return CLI_USAGE;
}

int kctl_leader(struct kctl *k, int argc, char **argv)
{
    const char *to = NULL;
    if (argc < 2 || strcmp(argv[1], "transfer") != 0) return CLI_USAGE;
    if (argc == 4 && !strcmp(argv[2], "--to") && is_id(argv[3])) to = argv[3];
    else if (argc != 2) return CLI_USAGE;
    const char *av[] = {"KEEL.TRANSFER", to};
    struct keel_value *v;
    int rc = kctl_call(k, to ? 2 : 1, av, &v);
    if (rc != CLI_OK) return rc;
    long long leader = v->type == KEEL_VALUE_INTEGER ? v->integer : 0;
    keel_value_free(v);
    if (k->json) cli_print_json(json_pack("{s:I}", "leader", (json_int_t)leader));
    else printf("leader is now node %lld\n", leader);
    if (to != NULL && leader != atoll(to)) {
        fprintf(stderr, "keelctl: leader transfer: node %lld leads, not node %s\n", leader, to);
        return CLI_FAILED;
    }
    return CLI_OK;
}
