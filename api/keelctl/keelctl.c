/* keelctl: options, dispatch and help (see keelctl.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/keelctl/keelctl.h"

struct entry
{
    const char *name;
    int (*run)(struct kctl *k, int argc, char **argv);
    const char *synopsis;
    const char *help;
};

static const struct entry entries[] = {
    {"get", kctl_data, "get KEY", "Print the value of KEY, or (nil)."},
    {"set", kctl_data, "set KEY VALUE [--ttl MS]", "Set KEY to VALUE, expiring after MS milliseconds if given."},
    {"del", kctl_data, "del KEY...", "Delete keys; prints how many existed."},
    {"scan", kctl_data, "scan [PATTERN]", "Print every key matching the glob PATTERN (default *), in order."},
    {"ttl", kctl_data, "ttl KEY", "Milliseconds KEY has left: -1 no expiry, -2 absent."},
    {"expire", kctl_data, "expire KEY MS", "Expire KEY after MS milliseconds; prints 1, or 0 if absent."},
    {"incr", kctl_data, "incr KEY [BY]", "Add BY (default 1) to the integer at KEY; prints the result."},
    {"hget", kctl_data, "hget KEY FIELD", "Print one field of the hash at KEY."},
    {"hset", kctl_data, "hset KEY FIELD VALUE [FIELD VALUE]...", "Set fields of the hash at KEY."},
    {"hgetall", kctl_data, "hgetall KEY", "Print every field of the hash at KEY."},
    {"status", kctl_status, "status",
     "One row per member (found through any endpoint): id, client address, role, term, leader, commit\n"
     "and applied index, lag behind the leader's commit, snapshot index, database size, alarms, and\n"
     "whether it answered (or the error). --json: {\"nodes\": [...]}"},
    {"health", kctl_health, "health [--max-lag N]",
     "Exit 0 only when there is one leader and every member answers and has applied within N entries\n"
     "(default 1000) of the leader's commit; otherwise print what is wrong and exit 1."},
    {"member", kctl_member, "member list | add ID RAFT_ADDR [--standby] | promote ID | remove ID [--force]",
     "Membership, one change at a time, each finished or failed (saying why) within --timeout. add:\n"
     "the node joins as a non-voter, is caught up, then becomes a voter, so it must be running (keeld\n"
     "--join ANY_MEMBER, empty data directory; --join alone also adds it); raise --timeout for a large\n"
     "database. --standby: it replicates and never votes, and may be added before it starts. promote:\n"
     "standby to voter. remove is refused if it would leave one voter, or fewer answering voters than\n"
     "a quorum; --force does it anyway. Changes are idempotent: retry after a timeout."},
    {"hashkv", kctl_hashkv, "hashkv",
     "Commit a check entry; every member digests its state as of that entry, and the digests are\n"
     "compared. A member whose digest differs from the leader's has diverged: reported as CORRUPTION.\n"
     "Exit 0 only when every member was compared and matched."},
    {"backup", kctl_backup, "backup save FILE",
     "Stream a consistent backup from the leader (every write acknowledged before the call is in it)\n"
     "into FILE, with its index, term, members and checksums; checked in full (keelutl backup\n"
     "inspect) before it is renamed into place. Inspecting and restoring a backup work on files\n"
     "offline: they are keelutl's (keelutl help backup). The old name, snapshot save, still works."},
    {"check", kctl_check, "check perf [--rate N] [--clients N] [--duration S]",
     "A paced write load (SET of 256-byte values under keelctl-perf:, deleted afterwards; default\n"
     "1000 writes/s from 32 clients for 10 s) after measuring the round trip (PING) and one client's\n"
     "commit latency. PASS (exit 0) when throughput reaches 90% of the rate, p99 under load is at most\n"
     "500 ms, one client's commit p99 at most 100 ms, and no write failed; FAIL (exit 1) says which."},
    {"drill", kctl_drill,
     "drill leader-transfer|leader-crash|follower-crash|isolate|zone-loss|quorum-loss [--duration S]\n"
     "      [--max-rto MS] [--node ID] [--zone Z] [--isolate S] [--writers N] [--settle S] [--keeld PATH]",
     "Rehearse a failure on a live cluster while a built-in load writes and reads unique keys, then\n"
     "read back every acknowledged write. Reports time to a new leader, RTO (fault to the first write\n"
     "after it that succeeded), RPO (acknowledged writes lost), client errors by kind, and health\n"
     "before and after. crash/isolate need the nodes started with --enable-drills; crashed nodes are\n"
     "left to their supervisor. Exit 1 when RPO > 0 or RTO > --max-rto (default 10000 ms).\n"
     "quorum-loss runs on a three-node test cluster it starts itself (keeld: --keeld, else next to\n"
     "keelctl): both followers and their disks are lost for --duration seconds, then the survivor is\n"
     "recovered (keelutl recover), two empty nodes join, and every acknowledged write is read back."},
    {"leader", kctl_leader, "leader transfer [--to ID]",
     "Hand leadership to ID (default: the most up-to-date voter); prints the new leader."},
};

#define NENTRIES (sizeof entries / sizeof *entries)

static void usage(FILE *f)
{
    fprintf(f, "usage: keelctl [--endpoints H:P,...] [--timeout 5s] [--json] [--tls --cacert FILE [--cert FILE\n"
               "               --key FILE] [--sni NAME]] [--user NAME] [--password-file FILE] COMMAND [ARGS]\n\n"
               "commands:\n");
    for (size_t i = 0; i < NENTRIES; i++) fprintf(f, "  %s\n", entries[i].synopsis);
    fprintf(f, "\n--endpoints defaults to $KEEL_ENDPOINTS, else 127.0.0.1:7379; any member will do.\n"
               "--tls, --cacert, --cert, --key and --sni are redis-cli's: TLS to the nodes' --tls-port\n"
               "(--endpoints must then name TLS ports). --user NAME authenticates as an ACL user (AUTH\n"
               "NAME password); the password is read from --password-file FILE (its first line), else\n"
               "$KEELCTL_PASSWORD, else $REDISCLI_AUTH, never from the command line.\n"
               "keelctl help COMMAND explains one. 'snapshot save' is the old name of 'backup save'\n"
               "and still works.\n\n"
               "exit status: 0 done, 1 failed (refused by the server, or unhealthy), 2 bad usage,\n"
               "3 cluster unreachable or without a leader (nothing changed), 4 a write's outcome is\n"
               "unknown (it may have applied).\n");
}

static int help(const char *cmd)
{
    if (cmd == NULL) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(cmd, "snapshot")) cmd = "backup"; /* the old name */
    for (size_t i = 0; i < NENTRIES; i++) {
        if (strcmp(entries[i].name, cmd) != 0) continue;
        printf("usage: keelctl %s\n\n%s\n", entries[i].synopsis, entries[i].help);
        return CLI_OK;
    }
    if (!strcmp(cmd, "recover")) {
        fprintf(stderr, "keelctl: 'recover' works on a data directory offline: it is keelutl's "
                        "(keelutl help recover)\n");
        return CLI_USAGE;
    }
    fprintf(stderr, "keelctl: no command '%s' (keelctl help lists them)\n", cmd);
    return CLI_USAGE;
}

struct keel_client *kctl_client(struct kctl *k)
{
    if (k->c) return k->c;
    struct keel_client_options o = k->conn;
    o.endpoints = k->endpoints, o.timeout_ms = k->timeout_ms;
    if (keel_client_open(&o, &k->c, k->err, sizeof k->err) != 0) {
        fprintf(stderr, "keelctl: %s\n", k->err);
        k->c = NULL;
    }
    return k->c;
}

int kctl_fail(struct kctl *k, int rc, const char *what)
{
    fprintf(stderr, "keelctl: %s: %s\n", what, k->err);
    return rc == KEEL_EUNCERTAIN ? CLI_UNKNOWN : rc == KEEL_ENOTLEADER ? CLI_UNAVAILABLE : CLI_FAILED;
}

int kctl_call(struct kctl *k, int argc, const char *const *argv, struct keel_value **reply)
{
    *reply = NULL;
    if (kctl_client(k) == NULL) return CLI_USAGE;
    size_t *lens = malloc((size_t)argc * sizeof *lens);
    if (lens == NULL) return CLI_FAILED;
    for (int i = 0; i < argc; i++) lens[i] = strlen(argv[i]);
    int rc = keel_call(k->c, argc, argv, lens, reply, k->err, sizeof k->err);
    free(lens);
    if (rc != 0) return kctl_fail(k, rc, argv[0]);
    if ((*reply)->type == KEEL_VALUE_ERROR) {
        fprintf(stderr, "keelctl: %s: %s\n", argv[0], (*reply)->str);
        keel_value_free(*reply);
        *reply = NULL;
        return CLI_FAILED;
    }
    return CLI_OK;
}

json_t *kctl_value_json(const struct keel_value *v)
{
    switch (v->type) {
        case KEEL_VALUE_INTEGER: return json_integer(v->integer);
        case KEEL_VALUE_STRING:
        case KEEL_VALUE_STATUS:
        case KEEL_VALUE_ERROR: return json_stringn(v->str, v->len);
        case KEEL_VALUE_ARRAY: {
            json_t *a = json_array();
            for (size_t i = 0; i < v->n; i++) json_array_append_new(a, kctl_value_json(v->elements[i]));
            return a;
        }
        default: return json_null();
    }
}

static int run(struct kctl *k, int n, char **rest);

/* The password: --password-file's first line, else $KEELCTL_PASSWORD, else
 * $REDISCLI_AUTH (taken out of the environment so that keelutl, started by
 * keelctl, does not inherit it). *out is malloc'd (wiped and freed by the
 * caller), NULL if there is none. CLI_USAGE with the reason printed. */
static int read_password(const char *file, char **out)
{
    *out = NULL;
    if (file != NULL) {
        FILE *f = fopen(file, "r");
        if (f == NULL) return fprintf(stderr, "keelctl: --password-file %s: %s\n", file, strerror(errno)), CLI_USAGE;
        char *line = NULL;
        size_t cap = 0;
        ssize_t n = getline(&line, &cap, f);
        fclose(f);
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (n <= 0) {
            if (line) explicit_bzero(line, cap);
            free(line);
            return fprintf(stderr, "keelctl: --password-file %s: no password on its first line\n", file), CLI_USAGE;
        }
        *out = line;
        return CLI_OK;
    }
    const char *names[] = {"KEELCTL_PASSWORD", "REDISCLI_AUTH"};
    for (int i = 0; i < 2 && *out == NULL; i++) {
        const char *v = getenv(names[i]);
        if (v && *v && (*out = strdup(v)) == NULL) return CLI_FAILED;
    }
    unsetenv("KEELCTL_PASSWORD");
    unsetenv("REDISCLI_AUTH");
    return CLI_OK;
}

/* The connection options; 1 if argv[i] was one (*i moved past its value),
 * 0 if not, -1 on a usage error (printed). */
static int conn_option(struct kctl *k, int argc, char **argv, int *i, const char **password_file)
{
    const char *a = argv[*i];
    static const char *const valued[] = {"--cacert", "--cert", "--key", "--sni", "--user", "--password-file"};
    if (!strcmp(a, "--tls")) return k->conn.tls = true, 1;
    if (!strcmp(a, "--pass") || !strcmp(a, "-a") || !strcmp(a, "--password")) {
        fprintf(stderr, "keelctl: %s: a password on the command line is visible to every user of this machine;\n"
                        "use --password-file FILE or $KEELCTL_PASSWORD (or $REDISCLI_AUTH)\n", a);
        return -1;
    }
    for (size_t v = 0; v < sizeof valued / sizeof *valued; v++) {
        if (strcmp(a, valued[v]) != 0) continue;
        if (*i + 1 >= argc) return fprintf(stderr, "keelctl: %s needs a value\n", a), -1;
        const char *val = argv[++*i];
        switch (v) {
            case 0: k->conn.tls_ca_file = val; break;
            case 1: k->conn.tls_cert_file = val; break;
            case 2: k->conn.tls_key_file = val; break;
            case 3: k->conn.tls_server_name = val; break;
            case 4: k->conn.user = val; break;
            default: *password_file = val; break;
        }
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct kctl k = {.timeout_ms = 5000};
    const char *password_file = NULL;
    signal(SIGPIPE, SIG_IGN); /* status and hashkv write to nodes that may have just died */
    char *rest[KCTL_MAX_ARGS + 1];
    int n = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int c = conn_option(&k, argc, argv, &i, &password_file);
        if (c < 0) return CLI_USAGE;
        if (c > 0) continue;
        if (!strcmp(a, "--json")) k.json = true;
        else if (!strcmp(a, "--endpoints") || !strcmp(a, "--timeout")) {
            if (i + 1 >= argc) return fprintf(stderr, "keelctl: %s needs a value\n", a), CLI_USAGE;
            if (a[2] == 'e') k.endpoints = argv[++i];
            else if ((k.timeout_ms = cli_parse_duration(argv[++i])) == 0)
                return fprintf(stderr, "keelctl: --timeout %s: want e.g. 5s or 500ms\n", argv[i]), CLI_USAGE;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) return help(NULL);
        else if (n < KCTL_MAX_ARGS) rest[n++] = argv[i];
    }
    rest[n] = NULL;
    if (!k.conn.tls && (k.conn.tls_ca_file || k.conn.tls_cert_file || k.conn.tls_key_file || k.conn.tls_server_name))
        return fprintf(stderr, "keelctl: --cacert, --cert, --key and --sni need --tls\n"), CLI_USAGE;
    char *password = NULL;
    int prc = read_password(password_file, &password);
    if (prc != CLI_OK) return prc;
    k.conn.password = password;
    int rc = run(&k, n, rest);
    keel_client_close(k.c); /* wipes libkeel's copy */
    if (password) explicit_bzero(password, strlen(password));
    free(password);
    return rc;
}

static int run(struct kctl *k, int n, char **rest)
{
    k->color = isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;
    k->progress = isatty(STDERR_FILENO) && !k->json;
    if (n == 0) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (!strcmp(rest[0], "help")) return help(n > 1 ? rest[1] : NULL);
    cli_old_name("keelctl", n, rest); /* snapshot save|inspect|restore: backup ... */
    if (kctl_offline_word(n, rest)) return kctl_offline_moved(k, n, rest);
    for (size_t i = 0; i < NENTRIES; i++) {
        if (strcmp(entries[i].name, rest[0]) != 0) continue;
        int rc = entries[i].run(k, n, rest);
        if (rc == CLI_USAGE) fprintf(stderr, "usage: keelctl %s\n", entries[i].synopsis);
        return rc;
    }
    fprintf(stderr, "keelctl: no command '%s' (keelctl help lists them)\n", rest[0]);
    return CLI_USAGE;
}
