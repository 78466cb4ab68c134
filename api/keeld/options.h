/* api: keeld's options, declared once in a table that drives the flags, the
 * config file and --help: name, type, default, bounds, help text. */
#ifndef KEEL_API_OPTIONS_H
#define KEEL_API_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct keeld_options
{
    uint64_t id;
    char data_dir[4096];
    char aclfile[4096];
    char raft_addr[64];
    char client_addr[64];
    char cluster[1024];
    char join[64];
    char join_user[128];          /* --join through a client port: AUTH as this user ("": default) */
    char join_password_file[1024]; /* its password, one line; "": no AUTH */
    char log_level[16];
    uint64_t election_ms;
    uint64_t heartbeat_ms;
    uint64_t snapshot_threshold;
    uint64_t snapshot_trailing;
    uint64_t install_snapshot_ms;
    bool sync_snapshots;
    uint64_t databases;
    uint64_t max_clients;
    uint64_t max_clients_per_user;
    uint64_t auth_timeout;
    uint64_t max_pipeline;
    uint64_t max_output;
    uint64_t max_bulk;
    uint64_t max_args;
    uint64_t max_inflight;
    uint64_t idle_timeout;
    bool redirect;
    uint64_t forward_timeout_ms;
    uint64_t member_timeout_ms;
    bool unsafe_local_reads; /* test builds only: see options.c */
    uint64_t test_slow_append_ms; /* test builds only: see options.c */
    uint64_t map_size;
    uint64_t quota;
    uint64_t sweep_interval_ms;
    bool enable_drills;      /* KEEL.DRILL may crash or isolate this node */
    char zone[64];           /* failure-domain label (--zone) */
    char raft_route[2048];   /* ADDR=VIA,...: simulated zones (examples/local-cluster.sh) */
    char backup_dir[1024];   /* scheduled backups, "": off */
    uint64_t backup_interval_s;
    uint64_t backup_keep;
    char notify_keyspace_events[32];
    bool notify_keyspace_index;
    /* observability */
    char http_addr[64];
    uint64_t http_max_conns;
    bool http_tls;                /* HTTPS with --http-tls-cert-file, else --tls-cert-file (docs/security.md) */
    char http_tls_cert_file[1024];
    char http_tls_key_file[1024];
    char http_token_file[1024];   /* bearer token for /metrics and /status, "": none */
    uint64_t health_max_lag;
    uint64_t alarm_noleader_ms;
    uint64_t alarm_slow_fsync_ms;
    uint64_t min_free_disk;
    uint64_t check_interval_s; /* --consistency-check-interval, 0: off */
    uint64_t disk_reserve;
    uint64_t shutdown_timeout_ms;  /* bound on a stop (api/keeld/keeld_stop.c) */
    /* TLS (docs/security.md): member TLS on the raft port (tls_cluster) and
     * the client TLS port (tls_port) share the certificate, key and CA, as
     * in Redis. */
    bool tls_cluster;
    char tls_cert_file[1024];
    char tls_key_file[1024];
    char tls_ca_cert_file[1024];
    uint64_t tls_port;           /* 0: none */
    char tls_auth_clients[16];   /* yes, no or optional */
    char tls_protocols[64];
    char tls_ciphers[1024];
    char tls_ciphersuites[1024];
    uint64_t tls_cert_expiry_warn_days; /* CERT_EXPIRY (api/server/tls_rotate.h) */
    bool protected_mode;                /* Redis's protected-mode (api/server/protected.h) */
    bool insecure;                      /* skip the start-up refusals of non-loopback binds */
};

/* Defaults, then the config file named by --config (if any), then flags.
 * Returns 0; 1 after printing --help; -1 with a one-line reason in errmsg. */
int keeld_options_parse(int argc, char **argv, struct keeld_options *o, char *errmsg,
                        size_t size);
void keeld_options_help(FILE *out);

#endif /* KEEL_API_OPTIONS_H */
