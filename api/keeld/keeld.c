/* api: keeld, the Keel node daemon: options, data directory, the node and
 * its RESP server on one libuv loop, signals and a clean shutdown. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/keeld/keeld_stop.h"
#include "api/keeld/options.h"
#include "api/server/log.h"
#include "api/server/observe/alarm.h"
#include "api/server/observe/http.h"
#include "api/server/observe/metrics.h"
#include "api/server/protected.h"
#include "api/server/server.h"
#include "keel/client.h"
#include "raft/tls.h"

static struct keeld_options opts;
static uv_loop_t *loop;
static struct keel_node *node;
static struct keel_server *server;
static uv_timer_t watchdog;
static uv_signal_t hup; /* SIGHUP: reload the certificates */
static int exit_code;

static const char *role_now(void)
{
    struct keel_node_status st;
    if (node == NULL) return "-";
    keel_node_status(node, &st);
    return keel_role_name(st.role);
}

/* One line, then a non-zero exit: for bad options and unusable directories. */
__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "keeld: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

/* What to do about an errno met on the data directory. */
static const char *dir_step(int err)
{
    switch (err) {
        case EACCES:
        case EPERM:
        case EROFS:
            return " (run keeld as a user that may write there, on a writable file system: ls -ld, chown -R)";
        case ENOTDIR:
        case EEXIST:
            return " (--data-dir must name a directory, or a path keeld may create)";
        case ENOSPC:
            return " (the disk is full: free some space)";
        default:
            return "";
    }
}

/* mkdir -p, then take an exclusive lock so two daemons never share it. */
static void prepare_dir(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            die("data dir: cannot create %s: %s%s", path, strerror(errno), dir_step(errno));
        *p = '/';
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        die("data dir: cannot create %s: %s%s", path, strerror(errno), dir_step(errno));
    snprintf(path, sizeof path, "%s/LOCK", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) die("data dir %s: cannot open %s: %s%s", dir, path, strerror(errno), dir_step(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) die("data dir %s is in use by another keeld", dir);
    /* fd stays open (and locked) for the life of the process */
}

static bool raft_dir_pristine(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/raft/metadata1", dir);
    return access(path, F_OK) != 0;
}

/* raft's tracer (core and libuv backend) at debug level. It may run on a
 * libuv pool thread: log.c then leaves the role out. */
static void raft_trace(const char *file, int line, const char *msg)
{
    log_debug("raft: %s (%s:%d)", msg, file, line);
}

static void loglevel_changed(int level)
{
    if (node != NULL) keel_node_set_tracer(node, raft_trace, level >= KLOG_DEBUG);
}

static void stop_finished(void)
{
    uv_close((uv_handle_t *)&watchdog, NULL);
    uv_close((uv_handle_t *)&hup, NULL);
}

/* A fatal apply error or an unexpected unavailable node: stop at once and
 * let the supervisor restart us; the disk state is consistent. */
static void watchdog_cb(uv_timer_t *t)
{
    const char *msg;
    (void)t;
    if (node == NULL || keeld_stopping()) return;
    if (keel_node_fatal(node, &msg)) {
        log_error("fatal: %s; exiting so that a restart replays the log", msg);
        exit(70);
    }
    struct keel_node_status st;
    keel_node_status(node, &st);
    if (st.role == KEEL_ROLE_UNAVAILABLE) {
        log_error("raft became unavailable; exiting so that a restart recovers");
        exit(70);
    }
}

/* --join-password-file's password, read at start; "": none. */
static char join_password[512];

/* --join without member TLS: ask a member, through libkeel, to add us
 * (KEEL.JOIN id raft_addr), authenticated as --join-user when
 * --join-password-file is given (a cluster whose default user has a
 * password answers -NOAUTH otherwise). The member forwards to the leader,
 * which adds us as a spare, catches us up and makes us a voter before it
 * answers. Retried every second until +OK. A thread of its own with a
 * blocking client: it touches nothing of the loop's. (With member TLS the
 * server joins on the member channel instead: keel_server_join.) */
static void join_main(void *arg)
{
    char id[24], err[KEEL_ERRMSG_SIZE];
    struct keel_client *c;
    (void)arg;
    /* Catching up may take a while: one call waits up to 30 s. */
    struct keel_client_options o = {.endpoints = opts.join, .timeout_ms = 30000};
    if (keel_client_open(&o, &c, err, sizeof err) != 0) {
        log_error("--join %s: %s", opts.join, err);
        return;
    }
    snprintf(id, sizeof id, "%llu", (unsigned long long)opts.id);
    const char *user = opts.join_user[0] ? opts.join_user : "default";
    for (unsigned attempt = 1; !keeld_stopping(); attempt++) {
        struct keel_value *r = NULL;
        int rc = 0;
        /* Each attempt authenticates first: libkeel may have reconnected. */
        if (join_password[0]) {
            rc = keel_callv(c, &r, err, sizeof err, "AUTH", user, join_password, NULL);
            if (rc == 0 && r->type == KEEL_VALUE_ERROR) {
                log_warn("join through %s (attempt %u): AUTH as %s: %s", opts.join, attempt, user, r->str);
                rc = -1;
                err[0] = 0;
            }
            keel_value_free(r);
            r = NULL;
        }
        if (rc == 0) rc = keel_callv(c, &r, err, sizeof err, "KEEL.JOIN", id, opts.raft_addr, NULL);
        bool ok = rc == 0 && r->type == KEEL_VALUE_STATUS && strcmp(r->str, "OK") == 0;
        if (ok) log_info("joined the cluster through %s", opts.join);
        else if (rc == 0) log_warn("join through %s (attempt %u): %s", opts.join, attempt, r->str ? r->str : "?");
        else if (err[0]) log_warn("join through %s (attempt %u): %s", opts.join, attempt, err);
        keel_value_free(r);
        if (ok) break;
        sleep(1);
    }
    keel_client_close(c);
}

/* The password file: one line, the trailing newline dropped. */
static void read_join_password(void)
{
    if (!opts.join_password_file[0]) return;
    FILE *f = fopen(opts.join_password_file, "r");
    if (f == NULL) die("--join-password-file %s: %s", opts.join_password_file, strerror(errno));
    size_t n = fread(join_password, 1, sizeof join_password - 1, f);
    bool more = fgetc(f) != EOF;
    fclose(f);
    join_password[n] = 0;
    while (n > 0 && (join_password[n - 1] == '\n' || join_password[n - 1] == '\r')) join_password[--n] = 0;
    if (more || n == 0 || strchr(join_password, '\n') != NULL)
        die("--join-password-file %s: want one line holding the password", opts.join_password_file);
    struct stat st;
    if (stat(opts.join_password_file, &st) == 0 && (st.st_mode & 077) != 0)
        log_warn("--join-password-file %s can be read by group or others: chmod 600 it", opts.join_password_file);
}

/* A raft peer refused by member TLS (the transport rate-limits these). */
static void peer_refused(const char *msg)
{
    log_warn("%s", msg);
}

/* SIGHUP: reload the TLS certificate, key and CA (api/server/tls_rotate.h). */
static void sighup_cb(uv_signal_t *h, int signum)
{
    char err[600];
    (void)h;
    (void)signum;
    if (server == NULL || keeld_stopping()) {
        log_info("SIGHUP before the server started or while stopping: nothing reloaded");
        return;
    }
    keel_server_tls_reload(server, "SIGHUP", err, sizeof err);
}

int main(int argc, char **argv)
{
    char errmsg[KEEL_NODE_ERRMSG_SIZE];
    struct keel_peer peers[KEEL_NODE_MAX_PEERS];
    int n_peers = 0;

    if (argc == 2 && strcmp(argv[1], "--list-metrics") == 0) {
        metrics_list(stdout);
        return 0;
    }
    int rc = keeld_options_parse(argc, argv, &opts, errmsg, sizeof errmsg);
    if (rc == 1) return 0;
    if (rc != 0) die("%s", errmsg);
    int level = keel_log_parse_level(opts.log_level);
    if (level < 0) die("--log-level %s: want error, warn, info or debug", opts.log_level);
    keel_log_level = level;
    keel_log_init(opts.id, role_now);
    read_join_password(); /* before anything touches the data directory */
    /* The HTTP endpoint's certificate, key and token are read now, before
     * raft starts: a file that is missing or wrong stops keeld here. */
    static struct http_secrets http_sec;
    char warning[256];
    bool own = opts.http_tls_cert_file[0] != 0;
    if (http_secrets_load(own ? "http-tls-cert-file" : "tls-cert-file",
                          opts.http_tls ? (own ? opts.http_tls_cert_file : opts.tls_cert_file) : NULL,
                          own ? "http-tls-key-file" : "tls-key-file", own ? opts.http_tls_key_file : opts.tls_key_file,
                          opts.http_token_file[0] ? opts.http_token_file : NULL, &http_sec, errmsg, sizeof errmsg, warning,
                          sizeof warning) != 0)
        die("%s", errmsg);
    if (warning[0]) log_warn("%s", warning);
    if (http_sec.token != NULL && !opts.http_tls)
        log_warn("--http-token-file without --http-tls yes: the token crosses the network in clear");
    signal(SIGPIPE, SIG_IGN);
    /* SIGTERM and SIGINT stay blocked in every thread (threads started later
     * inherit the mask): one thread takes them with sigwait (keeld_stop.c),
     * so that a signal during start-up (replaying a long log can take
     * seconds) still means a clean stop, and the stop is bounded even when
     * the loop is stuck. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    /* glibc raises its mmap threshold to the size of the largest block freed
     * (up to 32 MiB), so after raft frees a snapshot's compression buffer,
     * blocks of that size stay in the heap: RSS grew with the database under
     * load. A fixed threshold returns big blocks to the kernel at once. */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    setenv("UV_THREADPOOL_SIZE", "8", 0); /* snapshot copies share the pool with raft's I/O */

    if (opts.cluster[0]) {
        n_peers = keel_parse_peers(opts.cluster, peers, KEEL_NODE_MAX_PEERS, errmsg);
        if (n_peers < 0) die("--cluster: %s", errmsg);
        bool self = false;
        for (int i = 0; i < n_peers; i++) {
            if (peers[i].id == opts.id) {
                self = true;
                if (strcmp(peers[i].address, opts.raft_addr) != 0)
                    die("--cluster gives this node's raft address as %s, not --raft-addr",
                        peers[i].address);
            }
        }
        if (!self) die("--cluster does not list this node's id");
    }
    /* Protected mode (api/server/protected.h): ports open to other hosts
     * without TLS or a password are refused before anything starts. */
    struct protected_binds pb = {
        .raft_addr = opts.raft_addr, .tls_cluster = opts.tls_cluster, .client_addr = opts.client_addr,
        .tls_port = (unsigned)opts.tls_port, .tls_auth_clients_yes = !strcmp(opts.tls_auth_clients, "yes"),
        .protected_mode = opts.protected_mode,
    };
    char open_why[600];
    if (protected_check_binds(&pb, open_why, sizeof open_why) != 0) {
        if (!opts.insecure) die("%s", open_why);
        log_warn("--insecure: starting anyway: %s", open_why);
    } else if (opts.insecure) {
        log_warn("--insecure given, but no port is open beyond what protected mode allows");
    }
    if (!opts.protected_mode)
        log_warn("--protected-mode no: clients from any address are accepted while the default user has no password");
    /* Before anything starts: a TLS port that cannot serve is a refusal. */
    struct keel_tls_ctx *client_tls = NULL;
    static struct keel_tls_options to; /* kept: a reload (tls_rotate.c) builds from it */
    if (opts.tls_port != 0) {
        char why[512];
        to = (struct keel_tls_options){
            .cert_file = opts.tls_cert_file, .key_file = opts.tls_key_file, .ca_file = opts.tls_ca_cert_file,
            .verify = !strcmp(opts.tls_auth_clients, "yes")  ? KEEL_TLS_VERIFY_REQUIRE
                      : !strcmp(opts.tls_auth_clients, "no") ? KEEL_TLS_VERIFY_NONE
                                                             : KEEL_TLS_VERIFY_OPTIONAL,
            .protocols = opts.tls_protocols, .ciphers = opts.tls_ciphers, .ciphersuites = opts.tls_ciphersuites,
        };
        client_tls = keel_tls_ctx_new(&to, why, sizeof why);
        if (client_tls == NULL) die("--tls-port: %s", why);
    }
    prepare_dir(opts.data_dir);
    bool pristine = raft_dir_pristine(opts.data_dir);
    if (pristine && n_peers == 0 && opts.join[0] == 0)
        die("%s holds no cluster yet: the first start needs --cluster or --join", opts.data_dir);

    loop = uv_default_loop();
    /* SIGHUP reloads the certificates (docs/security.md): handled from here
     * on, so that it never stops keeld (its default action). */
    uv_signal_init(loop, &hup);
    uv_signal_start(&hup, sighup_cb, SIGHUP);
    uv_unref((uv_handle_t *)&hup);
    struct keeld_stop_config stop = {.loop = loop, .node = &node, .server = &server,
                                     .bound_ms = (unsigned)opts.shutdown_timeout_ms,
                                     .finished = stop_finished};
    if (keeld_stop_init(&stop) != 0) die("cannot start the signal thread");
    struct keel_node_options no = {
        .id = opts.id, .dir = opts.data_dir, .address = opts.raft_addr, .peers = peers,
        .n_peers = (unsigned)n_peers, .election_ms = (unsigned)opts.election_ms,
        .heartbeat_ms = (unsigned)opts.heartbeat_ms,
        .snapshot_threshold = (unsigned)opts.snapshot_threshold,
        .snapshot_trailing = (unsigned)opts.snapshot_trailing,
        .install_snapshot_ms = (unsigned)opts.install_snapshot_ms,
        .sync_snapshots = opts.sync_snapshots, .map_size = opts.map_size, .quota = opts.quota,
        .disk_reserve = opts.disk_reserve,
        .raft_routes = opts.raft_route, .test_append_delay_ms = (unsigned)opts.test_slow_append_ms,
        .tls_cert_file = opts.tls_cluster ? opts.tls_cert_file : NULL,
        .tls_key_file = opts.tls_key_file, .tls_ca_file = opts.tls_ca_cert_file,
        .warn = peer_refused,
    };
    rc = keel_node_create(loop, &no, &node, errmsg);
    if (rc != 0) {
        if (node != NULL) keel_node_close(node, NULL, NULL);
        die("%s", errmsg);
    }
    if (keel_node_wiped(node)) log_warn("LMDB was not closed cleanly before a reboot: rebuilding it from the raft log");
    keel_node_set_tracer(node, raft_trace, keel_log_level >= KLOG_DEBUG);
    keel_log_level_hook = loglevel_changed;
    rc = keel_node_start(node, errmsg);
    if (rc != 0) die("%s", errmsg);
    for (const char *p = keel_node_start_notes(node); *p;) {
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        log_warn("%.*s", len, p);
        p += len + (nl != NULL);
    }
    struct keel_server_config sc = {
        .node_id = opts.id, .client_addr = opts.client_addr,
        .databases = (unsigned)opts.databases,
        .max_clients = (unsigned)opts.max_clients,
        .max_clients_per_user = opts.max_clients_per_user != 0 ? (unsigned)opts.max_clients_per_user
                                                               : (unsigned)(opts.max_clients + 1) / 2,
        .auth_timeout_s = (unsigned)opts.auth_timeout, .max_pipeline = (unsigned)opts.max_pipeline,
        .max_output = opts.max_output, .max_bulk = opts.max_bulk, .max_args = (unsigned)opts.max_args,
        .max_inflight = (unsigned)opts.max_inflight, .idle_timeout_s = (unsigned)opts.idle_timeout,
        .redirect = opts.redirect, .forward_timeout_ms = (unsigned)opts.forward_timeout_ms,
        .member_timeout_ms = (unsigned)opts.member_timeout_ms, .unsafe_local_reads = opts.unsafe_local_reads, .sweep_interval_ms = (unsigned)opts.sweep_interval_ms,
        .enable_drills = opts.enable_drills, .zone = opts.zone, .backup_dir = opts.backup_dir,
        .backup_interval_s = (unsigned)opts.backup_interval_s, .backup_keep = (unsigned)opts.backup_keep,
        .notify_keyspace_events = opts.notify_keyspace_events,
        .notify_keyspace_index = opts.notify_keyspace_index,
        .http_addr = opts.http_addr, .http_max_conns = (unsigned)opts.http_max_conns, .data_dir = opts.data_dir,
        .aclfile = opts.aclfile,
        .http_cert_pem = http_sec.cert_pem, .http_key_pem = http_sec.key_pem, .http_token = http_sec.token,
        .health_max_lag = opts.health_max_lag, .alarm_noleader_ms = (unsigned)opts.alarm_noleader_ms,
        .alarm_slow_fsync_ms = (unsigned)opts.alarm_slow_fsync_ms, .min_free_disk = opts.min_free_disk,
        .check_interval_s = (unsigned)opts.check_interval_s,
        .tls_port = (unsigned)opts.tls_port, .tls = client_tls,
        .tls_cert_file = opts.tls_cert_file, .tls_key_file = opts.tls_key_file, .tls_ca_file = opts.tls_ca_cert_file,
        .tls_options = client_tls ? &to : NULL, .tls_expiry_warn_days = (unsigned)opts.tls_cert_expiry_warn_days,
        .protected_mode = opts.protected_mode,
        .http_cert_file = own ? opts.http_tls_cert_file : opts.tls_cert_file,
        .http_key_file = own ? opts.http_tls_key_file : opts.tls_key_file, .http_follows_tls = !own,
    };
    if (keel_server_create(loop, node, &sc, &server, errmsg) != 0 ||
        keel_server_start(server, errmsg) != 0)
        die("%s", errmsg);
    uv_timer_init(loop, &watchdog);
    uv_timer_start(&watchdog, watchdog_cb, 100, 100);
    if (opts.unsafe_local_reads)
        log_warn("--unsafe-local-reads: reads are served from local state and may be STALE (test hook)");
    char tls_note[64] = "";
    if (opts.tls_port != 0)
        snprintf(tls_note, sizeof tls_note, " (TLS on port %u, client certificates: %s)", (unsigned)opts.tls_port,
                 opts.tls_auth_clients);
    log_info("keeld started: raft %s%s, clients %s%s, data %s", opts.raft_addr,
             opts.tls_cluster ? " (member TLS)" : "", opts.client_addr, tls_note, opts.data_dir);
    uv_thread_t joiner;
    if (opts.join[0] && pristine && opts.tls_cluster) {
        if (keel_server_join(server, opts.join, opts.raft_addr, errmsg) != 0) die("--join %s: %s", opts.join, errmsg);
        log_info("joining through the member channel at %s (raft address)", opts.join);
    } else if (opts.join[0] && pristine) {
        uv_thread_create(&joiner, join_main, NULL);
    }
    else if (opts.join[0]) log_info("already a member: --join %s ignored", opts.join);
    uv_run(loop, UV_RUN_DEFAULT);
    keeld_stop_finished();
    uv_loop_close(loop);
    http_secrets_free(&http_sec);
    keel_tls_ctx_free(client_tls);
    return exit_code;
}
