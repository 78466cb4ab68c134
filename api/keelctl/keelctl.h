/* keelctl: the operator's online CLI (libkeel, hiredis and jansson; never
 * raft or LMDB: the offline commands are keelutl's). Shared by its files:
 * keelctl.c (options, dispatch, help), keelctl_data.c (get set del ...),
 * keelctl_status.c (status, health), keelctl_member.c (member, leader),
 * keelctl_backup.c (backup save), keelctl_offline.c (what is keelutl's).
 * Exit codes: api/cli/cli.h (CLI_*), documented in `keelctl help`. */
#ifndef KEEL_API_KEELCTL_H
#define KEEL_API_KEELCTL_H

#include <jansson.h>
#include <stdbool.h>

#include "api/cli/cli.h"
#include "keel/client.h"

struct kctl
{
    const char *endpoints;   /* --endpoints, else $KEEL_ENDPOINTS, else 127.0.0.1:7379 */
    unsigned timeout_ms;     /* --timeout */
    bool json;               /* --json: one JSON document on stdout */
    bool color;              /* stdout is a terminal and NO_COLOR is unset */
    bool progress;           /* stderr is a terminal: progress bars */
    /* --tls --cacert --cert --key --sni --user, the password from
     * --password-file, $KEELCTL_PASSWORD or $REDISCLI_AUTH (never argv):
     * every connection keelctl makes, through libkeel or kctl_dial. */
    struct keel_client_options conn;
    struct keel_client *c;   /* opened on first use */
    char err[KEEL_ERRMSG_SIZE];
};

/* The client, opened on first use; NULL with the reason printed. */
struct keel_client *kctl_client(struct kctl *k);
/* Run argv through libkeel. The exit code; *reply set (the caller frees it)
 * when 0. A server error reply is printed and gives CLI_FAILED. */
int kctl_call(struct kctl *k, int argc, const char *const *argv, struct keel_value **reply);
/* The exit code for a libkeel code, with err printed on stderr. */
int kctl_fail(struct kctl *k, int rc, const char *what);
/* A value as JSON (strings, integers, arrays, null). */
json_t *kctl_value_json(const struct keel_value *v);

#define KCTL_MAX_NODES 16
#define KCTL_MAX_ARGS 255 /* words after the options that keelctl keeps */

/* One node as status sees it (keelctl_status.c). */
struct kctl_row
{
    long long id;            /* -1: unknown (an endpoint outside the membership) */
    char addr[80];           /* client address; "" if not published yet */
    char member_role[16];    /* voter, standby, spare, or "" */
    bool reachable;
    char error[128];
    char role[16];
    unsigned long long term, leader, commit, applied, snapshot, db_bytes, lag;
    long long snapshot_age_s; /* -1: none since the node started */
    char zone[64];           /* --zone label, "" none */
    char zone_majority[64];  /* this node's view: a zone holding a majority of voters */
    char alarms[128];        /* "NOSPACE,CORRUPT" (INFO keel_alarms), "" for none */
    char check_state[16];    /* INFO keel_check_state: ok, damaged, repairing, repaired */
    char corrupt_members[64]; /* the leader's last check: "2,3", "" none */
};

/* Every member (from the first endpoint that lists them) and every
 * endpoint, each asked for INFO within the timeout. Returns the row count. */
int kctl_collect(struct kctl *k, struct kctl_row *rows);
/* A hiredis connection to addr with timeout ms (TLS and AUTH as k->conn
 * says; k NULL: plain, for clusters keelctl starts itself), or NULL with
 * why filled. */
struct redisContext *kctl_dial(const struct kctl *k, const char *addr, unsigned ms, char *why, size_t size);

/* The command families: argv starts at the command name. */
int kctl_data(struct kctl *k, int argc, char **argv);
int kctl_status(struct kctl *k, int argc, char **argv);
int kctl_health(struct kctl *k, int argc, char **argv);
int kctl_member(struct kctl *k, int argc, char **argv);
int kctl_leader(struct kctl *k, int argc, char **argv);
int kctl_hashkv(struct kctl *k, int argc, char **argv);
int kctl_check(struct kctl *k, int argc, char **argv);
int kctl_drill(struct kctl *k, int argc, char **argv);
int kctl_backup(struct kctl *k, int argc, char **argv);

/* keelctl_offline.c: keelctl and keelutl (the offline tool).
 * Is argv (from the command name on) one of the offline commands keelctl
 * had before keelutl: recover, backup inspect, backup restore (or their
 * old name, snapshot inspect|restore, if cli_old_name has not run)? */
bool kctl_offline_word(int argc, char *const *argv);
/* Print the keelutl command to run instead (the same words); CLI_USAGE. */
int kctl_offline_moved(const struct kctl *k, int argc, char *const *argv);
/* Run keelutl (the one beside this keelctl, else $PATH's) with --timeout
 * and argv, and wait: its exit status; 127 if it could not be started,
 * 128 + N if signal N killed it. quiet: its stdout goes to /dev/null (its
 * stderr stays ours). */
int kctl_keelutl_run(const struct kctl *k, int argc, char *const *argv, bool quiet);

#endif /* KEEL_API_KEELCTL_H */
