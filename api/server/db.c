/* api/server: databases, the rewriting of a command's keys into its
 * database's stored names. See db.h and storage.h (KEEL_DB_PREFIX). */
#include <stdlib.h>
#include <string.h>

#include "api/server/db.h"
#include "api/server/syskey.h"

bool srv_cmd_keys(const struct command *cmd, const struct keel_slice *argv, uint32_t argc,
                  struct srv_keys *k)
{
    k->first = cmd->first_key;
    k->last = cmd->last_key < 0 ? (int)argc + cmd->last_key : cmd->last_key;
    k->step = cmd->key_step;
    k->first2 = 0;
    k->last2 = -1;
    /* Keys counted by a numkeys argument (Redis's movable keys), as
     * auth_check.c finds them: numkeys at `at`, the keys after it; for the
     * Z*STORE forms they come after the destination the table gives
     * (`second`). A bad numkeys: the command refuses it. */
    static const struct
    {
        const char *name;
        uint32_t at;
        bool second;
    } movable[] = {
        {"sintercard", 1, false}, {"lmpop", 1, false},      {"zmpop", 1, false},
        {"blmpop", 2, false},     {"bzmpop", 2, false},     {"zunion", 1, false},
        {"zinter", 1, false},     {"zdiff", 1, false},      {"zintercard", 1, false},
        {"zunionstore", 2, true}, {"zinterstore", 2, true}, {"zdiffstore", 2, true},
    };
    for (size_t i = 0; i < sizeof movable / sizeof movable[0]; i++) {
        uint32_t at = movable[i].at;
        int64_t n = 0;
        if (strcmp(cmd->name, movable[i].name) != 0 || argc <= at + 1) continue;
        if (!store_parse_int(argv[at].p, argv[at].n, &n) || n <= 0 || n > (int64_t)argc - at - 1) continue;
        if (movable[i].second) {
            k->first2 = (int)at + 1;
            k->last2 = (int)at + (int)n;
        } else {
            k->first = (int)at + 1;
            k->last = (int)at + (int)n;
            k->step = 1;
        }
    }
    if (k->first <= 0 || k->step <= 0) k->first = 0, k->last = -1, k->step = 1;
    return k->first > 0 || k->first2 > 0;
}

bool srv_cmd_key_at(const struct srv_keys *k, uint32_t i)
{
    int j = (int)i;
    return (k->first > 0 && j >= k->first && j <= k->last && (j - k->first) % k->step == 0) ||
           (k->first2 > 0 && j >= k->first2 && j <= k->last2);
}

struct keel_slice srv_db_key(unsigned db, struct keel_slice key, uint8_t *out)
{
    if (db == 0) return key;
    memcpy(out, KEEL_DB_PREFIX, KEEL_DB_PREFIX_LEN);
    out[KEEL_DB_PREFIX_LEN] = (uint8_t)db;
    memcpy(out + KEEL_DB_KEY_OVERHEAD, key.p, key.n);
    return (struct keel_slice){out, key.n + KEEL_DB_KEY_OVERHEAD};
}

struct keel_slice srv_db_start(unsigned db, uint8_t *out)
{
    memcpy(out, KEEL_DB_PREFIX, KEEL_DB_PREFIX_LEN);
    out[KEEL_DB_PREFIX_LEN] = (uint8_t)db;
    return (struct keel_slice){out, KEEL_DB_KEY_OVERHEAD};
}

bool srv_db_rewrite_argv(const struct command *cmd, unsigned db, struct keel_slice **argv,
                         uint8_t **argbuf, uint32_t argc)
{
    struct srv_keys k;
    if (db == 0 || !srv_cmd_keys(cmd, *argv, argc, &k)) return true;
    size_t bytes = 1;
    for (uint32_t i = 0; i < argc; i++) bytes += (*argv)[i].n + KEEL_DB_KEY_OVERHEAD;
    struct keel_slice *nv = malloc(argc * sizeof *nv);
    uint8_t *buf = malloc(bytes), *p = buf;
    if (nv == NULL || buf == NULL) {
        free(nv);
        free(buf);
        return false;
    }
    for (uint32_t i = 0; i < argc; i++) {
        if (srv_cmd_key_at(&k, i)) nv[i] = srv_db_key(db, (*argv)[i], p);
        else {
            if ((*argv)[i].n > 0) memcpy(p, (*argv)[i].p, (*argv)[i].n);
            nv[i] = (struct keel_slice){p, (*argv)[i].n};
        }
        p += nv[i].n;
    }
    free(*argv);
    free(*argbuf);
    *argv = nv;
    *argbuf = buf;
    return true;
}

bool srv_db_rewrite(struct slot *s)
{
    if (s->db_keyed || s->db == 0) return true;
    if (!srv_db_rewrite_argv(s->cmd, s->db, &s->argv, &s->argbuf, s->argc)) {
        srv_reply_error(&s->out, KEEL_ENOMEM, "out of memory");
        return false;
    }
    s->db_keyed = true;
    return true;
}

bool srv_db_index(struct slot *s, uint32_t at, unsigned *db)
{
    int64_t v;
    if (!store_parse_int(s->argv[at].p, s->argv[at].n, &v) || v < INT32_MIN || v > INT32_MAX) {
        srv_reply_error(&s->out, KEEL_ENOTINT, "value is not an integer or out of range");
        return false;
    }
    if (v < 0 || v >= (int64_t)s->srv->cfg.databases) {
        srv_reply_error(&s->out, KEEL_EINVAL, "DB index is out of range");
        return false;
    }
    *db = (unsigned)v;
    return true;
}

struct count_walk
{
    struct srv_db_counts *dbs;
    uint64_t sys_keys, sys_expires;
};

static int count_cb(void *arg, struct keel_slice key, const struct keel_record *rec)
{
    struct count_walk *w = arg;
    int db = storage_key_db(key, NULL);
    /* Past the reserved range's short names and the long keys (whose
     * positions are in it whatever their names): done. */
    if (db == 0 && key.n <= KEEL_KEY_INLINE) return 1;
    if (db < 0) {
        w->sys_keys++;
        w->sys_expires += rec->expire_at != 0;
    } else if (db > 0) {
        w->dbs[db].keys++;
        w->dbs[db].expires += rec->expire_at != 0;
    }
    return 0;
}

int srv_db_count_all(struct keel_read *rd, uint64_t total_keys, uint64_t total_expires,
                     struct srv_db_counts *out)
{
    struct count_walk w = {out, 0, 0};
    memset(out, 0, KEEL_MAX_DATABASES * sizeof *out);
    int rc = keel_read_scan(rd, keel_str(SYSKEY_PREFIX), count_cb, &w);
    if (rc != 0 && rc != 1) return rc;
    uint64_t keys = w.sys_keys, expires = w.sys_expires;
    for (unsigned i = 1; i < KEEL_MAX_DATABASES; i++) {
        keys += out[i].keys;
        expires += out[i].expires;
    }
    out[0].keys = total_keys > keys ? total_keys - keys : 0;
    out[0].expires = total_expires > expires ? total_expires - expires : 0;
    return 0;
}

int srv_db_count(struct keel_read *rd, unsigned db, struct srv_db_counts *out)
{
    struct srv_db_counts all[KEEL_MAX_DATABASES];
    int rc = srv_db_count_all(rd, keel_read_count(rd), 0, all);
    if (rc == 0) *out = all[db];
    return rc;
}

bool srv_db_keyless(const struct command *cmd)
{
    static const char *const names[] = {"dbsize", "flushdb", "keys", "randomkey", "scan"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(cmd->name, names[i]) == 0) return true;
    return false;
}
