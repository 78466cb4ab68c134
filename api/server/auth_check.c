/* api/server: one request against a user's ACL (store/acl.h's acl_check):
 * the command, its keys with what it does to them (command_key_acl), and
 * the channels of PUBLISH/SUBSCRIBE/PSUBSCRIBE. Used by the dispatch gate
 * and by ACL DRYRUN. */
#include <stdlib.h>
#include <string.h>

#include "api/server/auth.h"
#include "store/acl.h"

static bool named(const struct command *cmd, const char *name)
{
    return strcmp(cmd->name, name) == 0;
}

#define ON_STACK 16 /* arguments checked without allocating */

int auth_check(const struct acl_user *u, const struct command *cmd, const struct keel_slice *argv,
               uint32_t argc, uint32_t *arg)
{
    if (arg != NULL) *arg = 0;
    /* +@all ~* &* (the open default user): nothing to look at. */
    if (u->allcommands && u->allkeys && u->allchannels) return ACL_OK;
    /* CLIENT LIST is @admin, CLIENT ID is not: a container's subcommand
     * is checked against its own row. */
    int idx = acl_command_find_sub(cmd->name, strlen(cmd->name), argc > 1 ? (const char *)argv[1].p : NULL,
                                   argc > 1 ? argv[1].n : 0);
    enum acl_verdict v = acl_check(u, idx, NULL, 0, NULL, 0, NULL);
    if (v != ACL_OK) return v;
    int first = cmd->first_key, last = cmd->last_key, step = cmd->key_step;
    if (named(cmd, "watch")) first = 1, last = -1, step = 1;
    /* Keys counted by a numkeys argument (Redis's movable keys): at 1 for
     * SINTERCARD ZUNION ZINTER ZDIFF ZINTERCARD, at 2 for the Z*STORE forms
     * (whose destination, at 1, the table gives). A bad numkeys: the
     * command refuses it. */
    int nk = 0;
    if (named(cmd, "sintercard") || named(cmd, "zunion") || named(cmd, "zinter") || named(cmd, "zdiff") ||
        named(cmd, "zintercard"))
        nk = 1;
    else if (named(cmd, "zunionstore") || named(cmd, "zinterstore") || named(cmd, "zdiffstore"))
        nk = 2;
    int first2 = 0, last2 = -1;
    if (nk > 0 && (int)argc > nk + 1) {
        long long n = 0;
        char buf[24];
        if (argv[nk].n < sizeof buf) {
            memcpy(buf, argv[nk].p, argv[nk].n);
            buf[argv[nk].n] = 0;
            n = strtoll(buf, NULL, 10);
        }
        if (n > 0 && n <= (long long)argc - nk - 1) {
            if (nk == 1) first = 2, last = 1 + (int)n, step = 1;
            else first2 = 3, last2 = 2 + (int)n;
        }
    }
    if ((named(cmd, "lmpop") || named(cmd, "zmpop") || named(cmd, "blmpop") || named(cmd, "bzmpop")) && argc > 2) {
        /* [timeout] numkeys keys...: the same rule as SINTERCARD's. */
        uint32_t at = named(cmd, "lmpop") || named(cmd, "zmpop") ? 1 : 2;
        long long n = 0;
        char buf[24];
        if (argv[at].n < sizeof buf) {
            memcpy(buf, argv[at].p, argv[at].n);
            buf[argv[at].n] = 0;
            n = strtoll(buf, NULL, 10);
        }
        if (n > 0 && n <= (long long)argc - at - 1) first = (int)at + 1, last = (int)at + (int)n, step = 1;
    }
    bool pub = named(cmd, "publish"), sub = named(cmd, "subscribe"), psub = named(cmd, "psubscribe");
    size_t nkeys = 0, nchans = 0;
    struct acl_key keys_s[ON_STACK], *keys = keys_s;
    struct acl_channel chans_s[ON_STACK], *chans = chans_s;
    uint32_t where_s[2 * ON_STACK], *where = where_s;
    if (argc > ON_STACK) {
        keys = calloc(argc, sizeof *keys);
        chans = calloc(argc, sizeof *chans);
        where = calloc(2 * (size_t)argc, sizeof *where);
        if (keys == NULL || chans == NULL || where == NULL) {
            free(keys);
            free(chans);
            free(where);
            return -1;
        }
    }
    if (first > 0 && step > 0) {
        int end = last < 0 ? (int)argc + last : last;
        for (int i = first; i <= end && i < (int)argc; i += step) {
            keys[nkeys] = (struct acl_key){argv[i], command_key_acl(cmd, argv, argc, (uint32_t)i)};
            where[nkeys++] = (uint32_t)i;
        }
    }
    for (int i = first2; first2 > 0 && i <= last2; i++) {
        keys[nkeys] = (struct acl_key){argv[i], command_key_acl(cmd, argv, argc, (uint32_t)i)};
        where[nkeys++] = (uint32_t)i;
    }
    size_t key_slots = nkeys;
    if (pub && argc > 1) {
        chans[nchans] = (struct acl_channel){argv[1], false};
        where[key_slots + nchans++] = 1;
    } else if (sub || psub) {
        for (uint32_t i = 1; i < argc; i++) {
            chans[nchans] = (struct acl_channel){argv[i], psub};
            where[key_slots + nchans++] = i;
        }
    }
    size_t which = 0;
    v = acl_check(u, idx, keys, nkeys, chans, nchans, &which);
    if (arg != NULL) *arg = v == ACL_DENIED_KEY ? where[which] : v == ACL_DENIED_CHANNEL ? where[key_slots + which] : 0;
    if (keys != keys_s) {
        free(keys);
        free(chans);
        free(where);
    }
    return v;
}
