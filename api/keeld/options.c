/* api: keeld's option table and its parsers. See options.h. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/keeld/options.h"

enum { T_U64, T_STR, T_BOOL, T_ADDR, T_ADDR0, T_SECS };

struct option_def
{
    const char *name;
    int type;
    size_t offset;
    size_t size;      /* strings: buffer size */
    const char *dflt;
    uint64_t min;
    uint64_t max;
    const char *help;
};

#define U64(n, f, d, lo, hi, h) {n, T_U64, offsetof(struct keeld_options, f), 0, d, lo, hi, h}
#define STR(n, f, d, h) {n, T_STR, offsetof(struct keeld_options, f), sizeof(((struct keeld_options *)0)->f), d, 0, 0, h}
#define ADDR(n, f, d, h) {n, T_ADDR, offsetof(struct keeld_options, f), sizeof(((struct keeld_options *)0)->f), d, 0, 0, h}
/* Seconds, with an optional unit: 90, 90s, 15m, 1h, 2d. */
#define SECS(n, f, d, lo, hi, h) {n, T_SECS, offsetof(struct keeld_options, f), 0, d, lo, hi, h}
/* An address whose port may be 0 (off). */
#define ADDR0(n, f, d, h) {n, T_ADDR0, offsetof(struct keeld_options, f), sizeof(((struct keeld_options *)0)->f), d, 0, 0, h}
#define BOOL(n, f, d, h) {n, T_BOOL, offsetof(struct keeld_options, f), 0, d, 0, 1, h}

static const struct option_def options[] = {
    U64("id", id, "0", 1, UINT32_MAX, "this node's id (> 0), required"),
    STR("data-dir", data_dir, "", "data directory (created if missing), required"),
    /* Not read at start: the users are the replicated state's (acl_file.c). */
    STR("aclfile", aclfile, "", "ACL SAVE writes this node's users here; ACL LOAD replaces the cluster's with it"),
    ADDR("raft-addr", raft_addr, "", "IPv4:PORT for raft traffic between nodes, required"),
    ADDR0("client-addr", client_addr, "127.0.0.1:7379",
          "IPv4:PORT for RESP clients; port 0 turns plaintext off (Redis's port 0), leaving --tls-port"),
    STR("cluster", cluster, "", "initial voters, ID=IPv4:PORT,... (raft addresses); needed on first start"),
    ADDR("join", join, "", "a member's client address (raft address if --tls-cluster): join on first start"),
    /* 600 ms: a follower's timer is drawn from [T, 2T), and raft 0.15's
     * leader stickiness plus a pre-vote lost to a longer log can cost a
     * second draw, so a leader crash costs at most about 4T before a new
     * leader commits: 2.4 s, inside the 3 s promise (docs/keeld.md). */
    U64("election-timeout", election_ms, "600", 50, 60000, "raft election timeout, ms"),
    U64("heartbeat-timeout", heartbeat_ms, "60", 10, 10000, "raft heartbeat interval, ms"),
    U64("snapshot-threshold", snapshot_threshold, "16384", 16, 1000000000, "entries between snapshots"),
    U64("snapshot-trailing", snapshot_trailing, "16384", 16, 1000000000, "entries kept behind a snapshot"),
    /* raft 0.15 resends a snapshot only after this long: an InstallSnapshot
     * lost with a restarting follower leaves it behind for that time. */
    U64("install-snapshot-timeout", install_snapshot_ms, "10000", 100, 3600000,
        "ms before an unanswered snapshot is sent again (raise for multi-GB snapshots on slow links)"),
    BOOL("sync-snapshots", sync_snapshots, "no", "copy snapshots on the event loop (small databases only)"),
    /* Redis's default; 256 at most: a database's stored names carry its
     * index in one byte (storage.h's KEEL_DB_PREFIX). */
    U64("databases", databases, "16", 1, 256, "databases (SELECT 0 .. N-1), as Redis's --databases"),
    U64("max-clients", max_clients, "10000", 1, 1000000, "client connections accepted"),
    /* So that one user (or whoever reaches the port, as `default`) cannot
     * take every connection and lock the others out (auth_limit.c). */
    U64("max-clients-per-user", max_clients_per_user, "0", 0, 1000000,
        "client connections one user may hold on this node (unauthenticated ones count as default); 0: half of --max-clients"),
    U64("auth-timeout", auth_timeout, "10", 0, 3600,
        "close a client that has not authenticated after this many seconds, while default needs a password (0: never)"),
    U64("max-pipeline", max_pipeline, "1024", 1, 1000000, "commands pending per connection before it stops being read"),
    U64("max-output", max_output, "67108864", 65536, 1ull << 40, "unsent reply bytes per connection before it stops being read"),
    U64("max-bulk", max_bulk, "67108864", 1024, 67108864, "largest bulk string in a request, bytes"),
    U64("max-args", max_args, "1048576", 16, 16777216, "most arguments in one request"),
    U64("max-inflight", max_inflight, "4096", 1, 1000000, "writes outstanding in raft before clients stop being read"),
    U64("idle-timeout", idle_timeout, "0", 0, 31536000, "close clients idle this many seconds (0: never)"),
    BOOL("redirect", redirect, "no", "followers answer -MOVED instead of forwarding"),
    /* A forwarded request the leader has not started by then is refused
     * there, and its client told -UNCERTAIN (if sent) or -TRYAGAIN: a write
     * held up by a partition or a paused leader never lands long after its
     * client gave up (forward.c). */
    U64("forward-timeout", forward_timeout_ms, "5000", 100, 3600000,
        "ms a follower waits for the leader to answer a forwarded request; the leader refuses it after that"),
    U64("member-timeout", member_timeout_ms, "30000", 1000, 86400000,
        "ms a membership change may take (catching up a new voter included) unless it says TIMEOUT"),
#ifdef KEEL_TEST_HOOKS
    /* Deliberately broken, so the jepsen suite can show that it catches
     * stale reads. Not compiled into release builds, and refused unless the
     * environment says a test asked for it. */
    BOOL("unsafe-local-reads", unsafe_local_reads, "no",
         "TEST BUILDS ONLY, BREAKS LINEARIZABILITY: every read from local state on any node; needs KEEL_TEST_UNSAFE=1"),
    /* A slow disk, for the membership tests: a node that cannot keep up. */
    U64("test-slow-append-ms", test_slow_append_ms, "0", 0, 10000,
        "TEST BUILDS ONLY: every raft log append blocks the loop this many ms (a slow disk)"),
#endif
    U64("map-size", map_size, "1073741824", 1048576, 1ull << 44, "initial LMDB map size, bytes (it grows)"),
    U64("quota", quota, "0", 0, 1ull << 50, "live data quota, bytes (0: none)"),
    U64("sweep-interval", sweep_interval_ms, "100", 10, 60000, "how often the leader looks for expired keys, ms"),
    STR("raft-route", raft_route, "",
        "ADDR=VIA,...: dial VIA whenever raft dials ADDR (simulated zones behind a delaying relay)"),
    STR("zone", zone, "", "failure-domain label (data centre, availability zone): shown by keelctl status; "
        "placement is checked against it"),
    STR("backup-dir", backup_dir, "", "the leader writes a checksummed backup here every --backup-interval "
        "(keelutl backup inspect/restore read them); none: off"),
    SECS("backup-interval", backup_interval_s, "1h", 1, 366 * 86400, "time between scheduled backups"),
    U64("backup-keep", backup_keep, "24", 1, 100000, "scheduled backups kept (the oldest are deleted)"),
    /* Off by default: KEEL.DRILL kills or isolates the node on request. */
    BOOL("enable-drills", enable_drills, "no",
         "allow KEEL.DRILL CRASH|ISOLATE (keelctl drill): the node stops hard or drops its peer traffic on request"),
    STR("notify-keyspace-events", notify_keyspace_events, "",
        "keyspace notifications, Redis's flag letters (e.g. KEA; CONFIG SET changes it live)"),
    /* Keel's own: Redis's payloads stay the default, so clients written for
     * Redis read them unchanged. */
    BOOL("notify-keyspace-index", notify_keyspace_index, "no",
         "append \"#<raft index>\" to every keyspace notification's payload (set#1234; CONFIG SET changes it live)"),
    STR("log-level", log_level, "info", "error, warn, info or debug (CONFIG SET loglevel changes it; debug also traces raft)"),
    ADDR("http-addr", http_addr, "", "IPv4:PORT for HTTP /metrics /health /ready /status (default: off)"),
    U64("http-max-conns", http_max_conns, "64", 1, 10000, "HTTP connections served at once"),
    /* One endpoint: --http-tls turns it to HTTPS, as Redis's tls-cluster
     * turns a channel to TLS with the shared --tls-cert-file/--tls-key-file. */
    BOOL("http-tls", http_tls, "no",
         "HTTPS only on --http-addr, with --http-tls-cert-file/--http-tls-key-file or else --tls-cert-file/--tls-key-file"),
    STR("http-tls-cert-file", http_tls_cert_file, "", "the HTTPS certificate (PEM, chain after it); none: --tls-cert-file"),
    STR("http-tls-key-file", http_tls_key_file, "", "its private key (PEM, unencrypted); none: --tls-key-file"),
    STR("http-token-file", http_token_file, "",
        "a file holding a bearer token: /metrics and /status then need Authorization: Bearer <token> "
        "(/health and /ready stay open)"),
    U64("health-max-lag", health_max_lag, "1000", 0, 1ull << 40,
        "entries a replica may trail before /health fails and FOLLOWER_LAG is raised"),
    U64("alarm-noleader-ms", alarm_noleader_ms, "3000", 0, 3600000, "NOLEADER after this long without a leader, ms"),
    U64("alarm-slow-fsync-ms", alarm_slow_fsync_ms, "500", 0, 3600000,
        "SLOW_FSYNC when raft log appends' p99 over 5 s is above this, ms"),
    /* etcd checks every few minutes too (--experimental-corrupt-check-time);
     * each round walks every key once per replica, off the loop. */
    SECS("consistency-check-interval", check_interval_s, "5m", 0, 7 * 86400,
         "every this long the replicas compare digests of their state; one that differs from the majority "
         "raises CORRUPT, refuses local reads and reinstalls the leader's image (0: off)"),
    /* A stop under load waits for the handover, appends in flight (raft
     * 0.15, see raft/node.c), raft's own disk and pool work and an LMDB
     * sync: seconds at worst normally; past this keeld exits anyway. */
    U64("shutdown-timeout", shutdown_timeout_ms, "5000", 1000, 600000,
        "SIGTERM/SIGINT: exit within this many ms; past it, log what the stop still waited for and exit 75"),
    U64("min-free-disk", min_free_disk, "67108864", 0, 1ull << 50,
        "NOSPACE (writes refused) when the data directory's disk has less free, bytes (never under 16 MiB)"),
    U64("disk-reserve", disk_reserve, "67108864", 0, 1ull << 50,
        "bytes kept allocated in <data-dir>/disk-reserve and released when the disk fills, so that a full "
        "node still applies, deletes and starts (0: none)"),
    /* Redis's names (docs/security.md). */
    STR("join-user", join_user, "", "ACL user --join authenticates as (without --tls-cluster); default: default"),
    STR("join-password-file", join_password_file, "",
        "file holding that user's password (one line), for --join without --tls-cluster"),
    BOOL("tls-cluster", tls_cluster, "no",
         "mutual TLS on the raft port: peers must present a certificate from --tls-ca-cert-file naming "
         "their member id (URI SAN keel:member:<id>)"),
    STR("tls-cert-file", tls_cert_file, "",
        "this node's certificate (PEM, chain after it), for the raft port (naming its --id) and the TLS port"),
    STR("tls-key-file", tls_key_file, "", "the private key of --tls-cert-file (PEM)"),
    STR("tls-ca-cert-file", tls_ca_cert_file, "",
        "the CA certificate(s) raft peers and TLS clients are verified against (PEM)"),
    U64("tls-port", tls_port, "0", 0, 65535,
        "TLS port for RESP clients on --client-addr's host (Redis's tls-port); 0: none"),
    STR("tls-auth-clients", tls_auth_clients, "yes",
        "TLS clients must present a certificate from --tls-ca-cert-file (yes), may (optional) or are not asked (no)"),
    STR("tls-protocols", tls_protocols, "TLSv1.2 TLSv1.3", "TLS versions the TLS port accepts"),
    STR("tls-ciphers", tls_ciphers, "", "TLS 1.2 ciphers of the TLS port, OpenSSL's list syntax (default: OpenSSL's)"),
    STR("tls-ciphersuites", tls_ciphersuites, "",
        "TLS 1.3 ciphersuites of the TLS port, OpenSSL's syntax (default: OpenSSL's)"),
    /* Redis's name and default (docs/security.md, "Protected mode"). */
    BOOL("protected-mode", protected_mode, "yes",
         "while the default user has no password, accept clients only from loopback (or with a verified TLS "
         "client certificate); others get -DENIED"),
    BOOL("insecure", insecure, "no",
         "start even with --raft-addr off loopback without --tls-cluster yes, or a client port off loopback "
         "with --protected-mode no (logged as a warning): only on a network you trust"),
    U64("tls-cert-expiry-warn-days", tls_cert_expiry_warn_days, "14", 0, 3650,
        "raise CERT_EXPIRY when a certificate presented or trusted (CA) expires within this many days; "
        "SIGHUP or CONFIG SET tls-cert-file reloads the certificates"),
};

#define N_OPTIONS (sizeof options / sizeof options[0])

static bool valid_addr(const char *v, bool port0)
{
    unsigned a, b, c, d, port;
    char extra;
    return sscanf(v, "%u.%u.%u.%u:%u%c", &a, &b, &c, &d, &port, &extra) == 5 && a < 256 &&
           b < 256 && c < 256 && d < 256 && (port > 0 || port0) && port < 65536;
}

static unsigned addr_port(const char *v)
{
    const char *colon = strrchr(v, ':');
    return colon ? (unsigned)strtoul(colon + 1, NULL, 10) : 0;
}

static int set(struct keeld_options *o, const struct option_def *d, const char *v, char *errmsg,
               size_t size)
{
    char *field = (char *)o + d->offset;
    switch (d->type) {
        case T_U64: {
            char *end;
            errno = 0;
            unsigned long long x = strtoull(v, &end, 10);
            if (errno != 0 || *end != 0 || v[0] == 0 || v[0] == '-' || x < d->min || x > d->max) {
                snprintf(errmsg, size, "--%s %s: want an integer in %llu..%llu", d->name, v,
                         (unsigned long long)d->min, (unsigned long long)d->max);
                return -1;
            }
            *(uint64_t *)field = x;
            return 0;
        }
        case T_SECS: {
            char *end;
            errno = 0;
            unsigned long long x = strtoull(v, &end, 10);
            unsigned long long unit = !strcmp(end, "") || !strcmp(end, "s") ? 1
                                      : !strcmp(end, "m")                  ? 60
                                      : !strcmp(end, "h")                  ? 3600
                                      : !strcmp(end, "d")                  ? 86400
                                                                           : 0;
            if (errno != 0 || unit == 0 || v[0] == 0 || v[0] == '-' || x * unit < d->min || x * unit > d->max) {
                snprintf(errmsg, size, "--%s %s: want a duration in %llu..%llu s (e.g. 90, 15m, 1h)", d->name,
                         v, (unsigned long long)d->min, (unsigned long long)d->max);
                return -1;
            }
            *(uint64_t *)field = x * unit;
            return 0;
        }
        case T_BOOL:
            if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1")) *(bool *)field = true;
            else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0")) *(bool *)field = false;
            else {
                snprintf(errmsg, size, "--%s %s: want yes or no", d->name, v);
                return -1;
            }
            return 0;
        case T_ADDR:
        case T_ADDR0:
            if (v[0] != 0 && !valid_addr(v, d->type == T_ADDR0)) {
                snprintf(errmsg, size, "--%s %s: want IPv4:PORT (raft 0.15 takes no host names)",
                         d->name, v);
                return -1;
            }
            /* fall through */
        default:
            if (strlen(v) >= d->size) {
                snprintf(errmsg, size, "--%s: value too long", d->name);
                return -1;
            }
            strcpy(field, v);
            return 0;
    }
}

static const struct option_def *find(const char *name)
{
    for (size_t i = 0; i < N_OPTIONS; i++) {
        if (!strcmp(options[i].name, name)) return &options[i];
    }
    return NULL;
}

void keeld_options_help(FILE *out)
{
    fprintf(out, "usage: keeld [--config FILE] [--OPTION VALUE]...\n\n"
                 "A Keel node: a Raft-replicated key-value store speaking RESP.\n"
                 "A config file holds one \"OPTION VALUE\" per line (# starts a comment);\n"
                 "flags override it.\n\n");
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option_def *d = &options[i];
        char range[64] = "";
        if (d->type == T_U64) snprintf(range, sizeof range, " [%llu..%llu]",
                                       (unsigned long long)d->min, (unsigned long long)d->max);
        fprintf(out, "  --%-20s %s (default: %s)%s\n", d->name, d->help,
                d->dflt[0] ? d->dflt : "none", range);
    }
}

static int load_file(const char *path, struct keeld_options *o, char *errmsg, size_t size)
{
    char line[2048];
    int lineno = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(errmsg, size, "config %s: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        char *name = line + strspn(line, " \t");
        size_t len = strlen(name);
        while (len > 0 && strchr(" \t\r\n", name[len - 1])) name[--len] = 0;
        if (len == 0) continue;
        char *value = name + strcspn(name, " \t=");
        if (*value) {
            *value++ = 0;
            value += strspn(value, " \t=");
        }
        const struct option_def *d = find(name);
        if (d == NULL || !strcmp(name, "config")) {
            snprintf(errmsg, size, "config %s:%d: unknown option %s", path, lineno, name);
            fclose(f);
            return -1;
        }
        if (set(o, d, value, errmsg, size) != 0) {
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

/* The client port's TLS options, as Redis refuses them. */
static int check_client_tls(const struct keeld_options *o, char *errmsg, size_t size)
{
    const char *auth = o->tls_auth_clients;
    if (strcmp(auth, "yes") && strcmp(auth, "no") && strcmp(auth, "optional"))
        return snprintf(errmsg, size, "--tls-auth-clients %s: want yes, no or optional", auth), -1;
    unsigned port = addr_port(o->client_addr);
    if (port == 0 && o->tls_port == 0)
        return snprintf(errmsg, size, "--client-addr %s turns the plaintext port off, and there is no --tls-port",
                        o->client_addr), -1;
    if (o->tls_port == 0) return 0;
    if (!o->tls_cert_file[0] || !o->tls_key_file[0])
        return snprintf(errmsg, size, "--tls-port needs --tls-cert-file and --tls-key-file"), -1;
    if (strcmp(auth, "no") != 0 && !o->tls_ca_cert_file[0])
        return snprintf(errmsg, size,
                        "--tls-auth-clients %s needs --tls-ca-cert-file (client certificates are verified against "
                        "it; --tls-auth-clients no asks for none)", auth), -1;
    if (o->tls_port == port)
        return snprintf(errmsg, size, "--tls-port %u is also --client-addr's port", (unsigned)o->tls_port), -1;
    char host[64], raft_host[64];
    snprintf(host, sizeof host, "%.*s", (int)(strrchr(o->client_addr, ':') - o->client_addr), o->client_addr);
    snprintf(raft_host, sizeof raft_host, "%.*s", (int)(strrchr(o->raft_addr, ':') - o->raft_addr), o->raft_addr);
    if (o->tls_port == addr_port(o->raft_addr) && !strcmp(host, raft_host))
        return snprintf(errmsg, size, "--tls-port %u is also --raft-addr's port", (unsigned)o->tls_port), -1;
    return 0;
}

int keeld_options_parse(int argc, char **argv, struct keeld_options *o, char *errmsg, size_t size)
{
    memset(o, 0, sizeof *o);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        if (set(o, &options[i], options[i].dflt, errmsg, size) != 0 && options[i].type != T_U64) return -1;
    }
    o->id = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            keeld_options_help(stdout);
            return 1;
        }
        if (!strcmp(argv[i], "--config")) {
            if (i + 1 >= argc) {
                snprintf(errmsg, size, "--config needs a file");
                return -1;
            }
            if (load_file(argv[i + 1], o, errmsg, size) != 0) return -1;
        }
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config")) {
            i++;
            continue;
        }
        const struct option_def *d = strncmp(argv[i], "--", 2) == 0 ? find(argv[i] + 2) : NULL;
        if (d == NULL) {
            snprintf(errmsg, size, "unknown option %s (see keeld --help)", argv[i]);
            return -1;
        }
        if (d->type == T_BOOL && (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)) {
            *(bool *)((char *)o + d->offset) = true;
            continue;
        }
        if (i + 1 >= argc) {
            snprintf(errmsg, size, "--%s needs a value", d->name);
            return -1;
        }
        if (set(o, d, argv[++i], errmsg, size) != 0) return -1;
    }
    if (o->id == 0) return snprintf(errmsg, size, "--id is required (> 0)"), -1;
    if (o->data_dir[0] == 0) return snprintf(errmsg, size, "--data-dir is required"), -1;
    if (o->raft_addr[0] == 0) return snprintf(errmsg, size, "--raft-addr is required"), -1;
    if (o->heartbeat_ms >= o->election_ms)
        return snprintf(errmsg, size, "--heartbeat-timeout must be below --election-timeout"), -1;
    if (o->snapshot_trailing < o->snapshot_threshold)
        return snprintf(errmsg, size, "--snapshot-trailing must be at least --snapshot-threshold"), -1;
    if (o->unsafe_local_reads && (getenv("KEEL_TEST_UNSAFE") == NULL || strcmp(getenv("KEEL_TEST_UNSAFE"), "1") != 0))
        return snprintf(errmsg, size, "--unsafe-local-reads is for tests only (set KEEL_TEST_UNSAFE=1)"), -1;
    if (o->join[0] && o->cluster[0])
        return snprintf(errmsg, size, "--join and --cluster exclude each other"), -1;
    if ((o->join_user[0] || o->join_password_file[0]) && (!o->join[0] || o->tls_cluster))
        return snprintf(errmsg, size, "--join-user and --join-password-file are for --join without --tls-cluster "
                                      "(with it, the member certificate is the credential)"), -1;
    if (o->join_user[0] && !o->join_password_file[0])
        return snprintf(errmsg, size, "--join-user needs --join-password-file"), -1;
    if ((o->http_tls || o->http_token_file[0]) && !o->http_addr[0])
        return snprintf(errmsg, size, "--%s needs --http-addr", o->http_tls ? "http-tls yes" : "http-token-file"), -1;
    if (!o->http_tls && (o->http_tls_cert_file[0] || o->http_tls_key_file[0]))
        return snprintf(errmsg, size, "--http-tls-cert-file and --http-tls-key-file need --http-tls yes"), -1;
    if (!o->http_tls_cert_file[0] != !o->http_tls_key_file[0])
        return snprintf(errmsg, size, "--http-tls-cert-file and --http-tls-key-file go together"), -1;
    if (o->http_tls && !o->http_tls_cert_file[0] && !(o->tls_cert_file[0] && o->tls_key_file[0]))
        return snprintf(errmsg, size,
                        "--http-tls yes needs --http-tls-cert-file and --http-tls-key-file (or --tls-cert-file and "
                        "--tls-key-file)"),
               -1;
    if (o->tls_cluster && (!o->tls_cert_file[0] || !o->tls_key_file[0] || !o->tls_ca_cert_file[0]))
        return snprintf(errmsg, size, "--tls-cluster yes needs --tls-cert-file, --tls-key-file and --tls-ca-cert-file"),
               -1;
    if (!strcmp(o->raft_addr, o->client_addr))
        return snprintf(errmsg, size, "--raft-addr and --client-addr must differ"), -1;
    return check_client_tls(o, errmsg, size);
}
