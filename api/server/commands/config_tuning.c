/* api: Redis's memory-layout tuning parameters on Keel.
 *
 * Redis picks a compact encoding for small hashes, sets, sorted sets and
 * lists below thresholds that CONFIG SET tunes (hash-max-listpack-entries
 * and its old ziplist name, set-max-intset-entries, ...). Keel's storage
 * has one layout whatever the size, so these parameters change nothing
 * here; but deployment scripts, client libraries' test suites and Redis's
 * own tests set them, and refusing them would break those for no reason.
 * So Keel accepts them with Redis's types, ranges and error texts, keeps
 * the value per node (CONFIG GET shows it, a restart forgets it, like every
 * CONFIG SET on Keel) and documents that they have no effect
 * (docs/keeld.md, "CONFIG"). Parameters that would change behaviour
 * (maxmemory, save, appendonly, ...) are not here: Keel refuses them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/server/commands/config_tuning.h"
#include "api/server/server_internal.h"

enum tuning_kind { T_SIZE, T_INT, T_BOOL };

struct tuning
{
    const char *name;
    uint8_t slot; /* aliases share a slot */
    uint8_t kind;
    long long dflt;
};

/* Redis 7.2's names, aliases and defaults (config.c). */
static const struct tuning tunings[] = {
    {"hash-max-listpack-entries", 0, T_SIZE, 128}, {"hash-max-ziplist-entries", 0, T_SIZE, 128},
    {"hash-max-listpack-value", 1, T_SIZE, 64},    {"hash-max-ziplist-value", 1, T_SIZE, 64},
    {"set-max-intset-entries", 2, T_SIZE, 512},    {"set-max-listpack-entries", 3, T_SIZE, 128},
    {"set-max-listpack-value", 4, T_SIZE, 64},     {"zset-max-listpack-entries", 5, T_SIZE, 128},
    {"zset-max-ziplist-entries", 5, T_SIZE, 128},  {"zset-max-listpack-value", 6, T_SIZE, 64},
    {"zset-max-ziplist-value", 6, T_SIZE, 64},     {"list-max-listpack-size", 7, T_INT, -2},
    {"list-max-ziplist-size", 7, T_INT, -2},       {"list-compress-depth", 8, T_INT, 0},
    {"stream-node-max-bytes", 9, T_SIZE, 4096},    {"stream-node-max-entries", 10, T_SIZE, 100},
    {"hll-sparse-max-bytes", 11, T_SIZE, 3000},    {"activerehashing", 12, T_BOOL, 1},
};
#define N_TUNINGS (sizeof tunings / sizeof tunings[0])
_Static_assert(13 <= KEEL_TUNING_SLOTS, "server_internal.h holds every slot");

size_t tuning_count(void)
{
    return N_TUNINGS;
}

const char *tuning_name(size_t i)
{
    return tunings[i].name;
}

int tuning_find(struct keel_slice name)
{
    for (size_t i = 0; i < N_TUNINGS; i++)
        if (strlen(tunings[i].name) == name.n && strncasecmp(tunings[i].name, (const char *)name.p, name.n) == 0)
            return (int)i;
    return -1;
}

void tuning_get(struct keel_server *srv, size_t i, char *buf, size_t size)
{
    const struct tuning *t = &tunings[i];
    long long v = srv->tuning_set[t->slot] ? srv->tuning[t->slot] : t->dflt;
    if (t->kind == T_BOOL) snprintf(buf, size, "%s", v ? "yes" : "no");
    else snprintf(buf, size, "%lld", v);
}

int tuning_set(struct keel_server *srv, size_t i, const char *value, bool commit, char *err, size_t size)
{
    const struct tuning *t = &tunings[i];
    long long v;
    if (t->kind == T_BOOL) {
        if (strcasecmp(value, "yes") == 0) v = 1;
        else if (strcasecmp(value, "no") == 0) v = 0;
        else {
            snprintf(err, size, "argument must be 'yes' or 'no'");
            return -1;
        }
    } else {
        char *end;
        errno = 0;
        v = strtoll(value, &end, 10);
        if (errno != 0 || end == value || *end != 0) {
            snprintf(err, size, "argument couldn't be parsed into an integer");
            return -1;
        }
        if (t->kind == T_SIZE && v < 0) {
            snprintf(err, size, "argument must be between 0 and %lld inclusive", (long long)INT64_MAX);
            return -1;
        }
        if (t->kind == T_INT && (v < INT32_MIN || v > INT32_MAX)) {
            snprintf(err, size, "argument must be between %d and %d inclusive", INT32_MIN, INT32_MAX);
            return -1;
        }
    }
    if (commit) {
        srv->tuning[t->slot] = v;
        srv->tuning_set[t->slot] = true;
    }
    return 0;
}
