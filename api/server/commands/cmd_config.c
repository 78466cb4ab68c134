/* api: CONFIG GET / CONFIG SET for the parameters a running node may change,
 * one row per parameter (Redis's config.c shape): name, how to show it, how
 * to change it. Node-local: a CONFIG SET changes this node only and lasts
 * until it restarts (its keeld option gives the value at start). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/resp/resp_glob.h"
#include "api/server/auth.h"
#include "api/server/commands/commands.h"
#include "api/server/commands/config_tuning.h"
#include "api/server/log.h"
#include "api/server/observe/observe.h"
#include "api/server/pubsub/notify.h"
#include "api/server/tls_rotate.h"

struct config_param
{
    const char *name;
    void (*get)(struct keel_server *srv, char *buf, size_t size);
    /* 0, or -1 with the reason in err */
    int (*set)(struct keel_server *srv, const char *value, char *err, size_t size);
};

static void get_notify(struct keel_server *srv, char *buf, size_t size)
{
    notify_flags_string(srv->notify_flags, buf, size);
}

static int set_notify(struct keel_server *srv, const char *value, char *err, size_t size)
{
    unsigned flags;
    if (notify_parse_flags(value, &flags) != 0) {
        snprintf(err, size, "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
        return -1;
    }
    notify_set_flags(srv, flags);
    return 0;
}

/* notify-keyspace-index yes|no: Keel's "#<raft index>" after each keyspace
 * notification's payload (notify.h). */
static void get_notify_index(struct keel_server *srv, char *buf, size_t size)
{
    snprintf(buf, size, "%s", srv->notify_index ? "yes" : "no");
}

static int set_notify_index(struct keel_server *srv, const char *value, char *err, size_t size)
{
    if (strcasecmp(value, "yes") != 0 && strcasecmp(value, "no") != 0) {
        snprintf(err, size, "argument must be 'yes' or 'no'");
        return -1;
    }
    notify_set_index(srv, strcasecmp(value, "yes") == 0);
    return 0;
}

/* loglevel: also routes raft's tracer (debug traces raft; see keeld.c). */
static const char *level_names[] = {"error", "warn", "info", "debug"};

static void get_loglevel(struct keel_server *srv, char *buf, size_t size)
{
    (void)srv;
    snprintf(buf, size, "%s", level_names[keel_log_level & 3]);
}

static int set_loglevel(struct keel_server *srv, const char *value, char *err, size_t size)
{
    (void)srv;
    int level = keel_log_parse_level(value);
    if (level < 0) {
        snprintf(err, size, "loglevel: want debug, info, warn or error");
        return -1;
    }
    keel_log_set_level(level);
    log_info("loglevel set to %s", level_names[level]);
    return 0;
}

/* consistency-check-interval: seconds between the leader's rounds (0: off);
 * it matters on whichever node leads. */
static void get_check_interval(struct keel_server *srv, char *buf, size_t size)
{
    snprintf(buf, size, "%u", srv->cfg.check_interval_s);
}

static int set_check_interval(struct keel_server *srv, const char *value, char *err, size_t size)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(value, &end, 10);
    if (errno != 0 || *end != 0 || value[0] == 0 || value[0] == '-' || v > 7 * 86400) {
        snprintf(err, size, "consistency-check-interval: want seconds in 0..604800 (0: off)");
        return -1;
    }
    srv->cfg.check_interval_s = (unsigned)v;
    log_info("consistency-check-interval set to %llu s%s", v, v ? "" : " (off)");
    return 0;
}

/* protected-mode yes|no (api/server/protected.h), as Redis lets it change. */
static void get_protected(struct keel_server *srv, char *buf, size_t size)
{
    snprintf(buf, size, "%s", srv->cfg.protected_mode ? "yes" : "no");
}

static int set_protected(struct keel_server *srv, const char *value, char *err, size_t size)
{
    if (strcasecmp(value, "yes") != 0 && strcasecmp(value, "no") != 0) {
        snprintf(err, size, "argument must be 'yes' or 'no'");
        return -1;
    }
    srv->cfg.protected_mode = strcasecmp(value, "yes") == 0;
    if (srv->cfg.protected_mode) log_info("protected-mode set to yes");
    else log_warn("protected-mode set to no: clients from any address are accepted while the default user has no password");
    return 0;
}

/* databases: --databases, fixed at start as Redis's. */
static void get_databases(struct keel_server *srv, char *buf, size_t size)
{
    snprintf(buf, size, "%u", srv->cfg.databases);
}

static int set_databases(struct keel_server *srv, const char *value, char *err, size_t size)
{
    (void)srv;
    (void)value;
    snprintf(err, size, "can't set immutable config");
    return -1;
}

/* tls-cert-file, tls-key-file, tls-ca-cert-file: set together (their set is
 * NULL) by one reload of both TLS contexts (tls_rotate.h), as Redis applies
 * them: a file that does not load is refused and the old ones stay. */
static void get_tls_cert(struct keel_server *srv, char *buf, size_t size)
{
    snprintf(buf, size, "%s", tls_rotate_file(srv, 0));
}

static void get_tls_key(struct keel_server *srv, char *buf, size_t size)
{
    snprintf(buf, size, "%s", tls_rotate_file(srv, 1));
}

static void get_tls_ca(struct keel_server *srv, char *buf, size_t size)
{
    snprintf(buf, size, "%s", tls_rotate_file(srv, 2));
}

static const struct config_param params[] = {
    {"consistency-check-interval", get_check_interval, set_check_interval},
    {"databases", get_databases, set_databases},
    {"loglevel", get_loglevel, set_loglevel},
    {"notify-keyspace-events", get_notify, set_notify},
    {"notify-keyspace-index", get_notify_index, set_notify_index},
    {"protected-mode", get_protected, set_protected},
    {"tls-ca-cert-file", get_tls_ca, NULL},
    {"tls-cert-file", get_tls_cert, NULL},
    {"tls-key-file", get_tls_key, NULL},
};
#define N_PARAMS (sizeof params / sizeof params[0])

static const struct config_param *find(const struct keel_slice *name)
{
    for (size_t i = 0; i < N_PARAMS; i++) {
        if (strlen(params[i].name) == name->n &&
            strncasecmp(params[i].name, (const char *)name->p, name->n) == 0)
            return &params[i];
    }
    return NULL;
}

/* The name of the i-th parameter CONFIG GET knows: Keel's rows, then
 * Redis's tuning parameters (config_tuning.c). */
#define N_ALL (N_PARAMS + 32)
static const char *param_name(size_t i)
{
    if (i >= N_ALL) return NULL; /* more tunings than hit[] holds: never, 18 today */
    return i < N_PARAMS ? params[i].name : i - N_PARAMS < tuning_count() ? tuning_name(i - N_PARAMS) : NULL;
}

/* CONFIG GET pattern [pattern ...]: a map of every matching parameter. */
static void config_get(struct slot *s)
{
    bool hit[N_ALL] = {false};
    size_t n = 0;
    for (uint32_t a = 2; a < s->argc; a++) {
        for (size_t i = 0; param_name(i) != NULL; i++) {
            const char *name = param_name(i);
            if (!hit[i] && resp_glob_match((const char *)s->argv[a].p, s->argv[a].n,
                                           (const uint8_t *)name, strlen(name))) {
                hit[i] = true;
                n++;
            }
        }
    }
    resp_map(&s->out, s->proto, n);
    for (size_t i = 0; param_name(i) != NULL; i++) {
        if (!hit[i]) continue;
        char value[1100];
        if (i < N_PARAMS) params[i].get(s->srv, value, sizeof value);
        else tuning_get(s->srv, i - N_PARAMS, value, sizeof value);
        resp_bulk_str(&s->out, param_name(i));
        resp_bulk_str(&s->out, value);
    }
}

/* The TLS files of a CONFIG SET, all in one reload before the other
 * parameters: true (with the error written) if it was refused. */
static bool config_set_tls(struct slot *s)
{
    char files[3][1024]; /* cert, key, ca (tls_rotate_reload's order) */
    bool given[3] = {false, false, false};
    const char *first = NULL;
    for (uint32_t a = 2; a < s->argc; a += 2) {
        const struct config_param *p = find(&s->argv[a]);
        if (p == NULL || p->set != NULL) continue; /* not a TLS file */
        int i = !strcmp(p->name, "tls-cert-file") ? 0 : !strcmp(p->name, "tls-key-file") ? 1 : 2;
        if (s->argv[a + 1].n >= sizeof files[i] || s->argv[a + 1].n == 0 ||
            memchr(s->argv[a + 1].p, 0, s->argv[a + 1].n) != NULL) {
            srv_reply_errorf(&s->out, KEEL_EINVAL, "CONFIG SET failed (possibly related to argument '%s') - %s",
                             p->name, s->argv[a + 1].n == 0 ? "a file name is needed" : "invalid file name");
            return true;
        }
        slot_arg(s, a + 1, files[i], sizeof files[i]);
        given[i] = true;
        if (first == NULL) first = p->name;
    }
    if (first == NULL) return false;
    char err[600];
    if (tls_rotate_reload(s->srv, given[0] ? files[0] : NULL, given[1] ? files[1] : NULL, given[2] ? files[2] : NULL,
                          "CONFIG SET", err, sizeof err) != 0) {
        srv_reply_errorf(&s->out, KEEL_EINVAL,
                         "CONFIG SET failed (possibly related to argument '%s') - %s; the certificates in use stay",
                         first, err);
        return true;
    }
    return false;
}

/* CONFIG SET name value [name value ...]: every name is checked first.
 * true if s was handed on (requirepass) and must not be ended here. */
static bool config_set(struct slot *s)
{
    if (s->argc < 4 || (s->argc - 2) % 2 != 0) {
        srv_reply_error(&s->out, KEEL_EINVAL, "wrong number of arguments for 'config|set' command");
        return false;
    }
    for (uint32_t a = 2; a < s->argc; a += 2) {
        if (s->argv[a].n == 11 && strncasecmp((const char *)s->argv[a].p, "requirepass", 11) == 0) {
            /* The default user's password: replicated (auth.c), so alone. */
            if (s->in_tx) {
                srv_reply_error(&s->out, KEEL_EINVAL,
                                "CONFIG SET requirepass is a replicated change of the default user: "
                                "Keel does not run it inside MULTI");
                return false;
            }
            if (s->argc != 4) {
                srv_reply_error(&s->out, KEEL_EINVAL,
                                "CONFIG SET requirepass changes the cluster's default user (ACL SETUSER "
                                "default): set it alone, not with other parameters");
                return false;
            }
            auth_requirepass(s, s->argv[3]);
            return true;
        }
        int t = tuning_find(s->argv[a]);
        if (t >= 0) {
            /* Checked here, kept below: a refused value changes nothing. */
            char value[64], err[200];
            if (s->argv[a + 1].n >= sizeof value) snprintf(err, sizeof err, "argument couldn't be parsed into an integer");
            if (s->argv[a + 1].n >= sizeof value ||
                tuning_set(s->srv, (size_t)t, slot_arg(s, a + 1, value, sizeof value), false, err, sizeof err) != 0) {
                srv_reply_errorf(&s->out, KEEL_EINVAL, "CONFIG SET failed (possibly related to argument '%s') - %s",
                                 tuning_name((size_t)t), err);
                return false;
            }
            continue;
        }
        if (find(&s->argv[a]) == NULL) {
            srv_reply_errorf(&s->out, KEEL_EINVAL, "Unknown option or number of arguments for CONFIG SET - '%.*s'",
                             (int)s->argv[a].n, (const char *)s->argv[a].p);
            return false;
        }
    }
    if (config_set_tls(s)) return false;
    for (uint32_t a = 2; a < s->argc; a += 2) {
        const struct config_param *p = find(&s->argv[a]);
        char value[256], err[200];
        int t = tuning_find(s->argv[a]);
        if (t >= 0) {
            tuning_set(s->srv, (size_t)t, slot_arg(s, a + 1, value, sizeof value), true, err, sizeof err);
            continue;
        }
        if (p->set == NULL) continue; /* done by config_set_tls */
        if (s->argv[a + 1].n >= sizeof value) {
            snprintf(err, sizeof err, "value too long");
        } else if (p->set(s->srv, slot_arg(s, a + 1, value, sizeof value), err, sizeof err) == 0) {
            continue;
        }
        srv_reply_errorf(&s->out, KEEL_EINVAL, "CONFIG SET failed (possibly related to argument '%s') - %s",
                         p->name, err);
        return false;
    }
    resp_ok(&s->out);
    return false;
}

CMD_DECL_LOCAL(cmd_config)
{
    if (slot_arg_is(s, 1, "GET") && s->argc >= 3) {
        config_get(s);
    } else if (slot_arg_is(s, 1, "SET")) {
        if (config_set(s)) return;
    } else if (slot_arg_is(s, 1, "RESETSTAT") && s->argc == 2) {
        obs_reset_stats(s->srv); /* what only INFO shows: cmdstats.h */
        resp_ok(&s->out);
    } else {
        srv_reply_errorf(&s->out, KEEL_EINVAL, "unknown subcommand or wrong number of arguments for 'config|%.*s'",
                         (int)s->argv[1].n, (const char *)s->argv[1].p);
    }
    slot_done(s);
}
