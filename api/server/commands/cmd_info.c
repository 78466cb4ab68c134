/* api: INFO as Redis 7.2 answers it (server.c genRedisInfoString): its
 * sections in its order, its field names where Keel has the number (a field
 * Keel cannot fill honestly is left out rather than faked), Keel's own
 * fields prefixed keel_, then Keel's sections raft, alarms and consistency.
 * INFO [section ...]: none gives the default sections; "default", "all"
 * and "everything" as Redis reads them; names in any case; an unknown name
 * adds nothing; sections are separated by an empty line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "api/server/block.h"
#include "api/server/commands/commands.h"
#include "api/server/db.h"
#include "api/server/consistency.h"
#include "api/server/observe/observe.h"
#include "api/server/pubsub/pubsub.h"

struct info
{
    struct keel_server *srv;
    struct keel_node_status st;
    struct keel_space sp;
    char leader_addr[64];
};

/* Redis's bytesToHuman: "1023B", "1.50K", "2.00M", ... */
static void human(char *out, size_t size, unsigned long long n)
{
    static const char units[] = "KMGTP";
    if (n < 1024) {
        snprintf(out, size, "%lluB", n);
        return;
    }
    double d = (double)n / 1024;
    int u = 0;
    while (d >= 1024 && u < 4) {
        d /= 1024;
        u++;
    }
    snprintf(out, size, "%.2f%c", d, units[u]);
}

/* 40 hex digits, new each start, as Redis's run_id. */
static const char *run_id(void)
{
    static char id[41];
    if (id[0]) return id;
    unsigned char raw[20] = {0};
    FILE *f = fopen("/dev/urandom", "rb");
    size_t got = f ? fread(raw, 1, sizeof raw, f) : 0;
    if (f) fclose(f);
    if (got != sizeof raw) { /* no urandom: time and pid, still unique enough */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned long long x = (unsigned long long)ts.tv_nsec ^ ((unsigned long long)ts.tv_sec << 20) ^
                               (unsigned long long)getpid() << 40;
        for (size_t i = 0; i < sizeof raw; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            raw[i] = (unsigned char)(x >> 56);
        }
    }
    for (size_t i = 0; i < sizeof raw; i++) snprintf(id + 2 * i, 3, "%02x", raw[i]);
    return id;
}

static void server_section(struct info *x, struct buf *b)
{
    struct keel_server *srv = x->srv;
    static struct utsname name;
    if (name.sysname[0] == 0) uname(&name);
    char exe[512] = "";
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    const char *colon = strrchr(srv->client_addr, ':');
    int64_t up = (srv_wall_ms() - srv->obs->started_ms) / 1000;
    srv_info_line(b, "# Server");
    srv_info_line(b, "redis_version:%s", KEEL_REDIS_COMPAT_VERSION);
    srv_info_line(b, "redis_git_sha1:00000000");
    srv_info_line(b, "redis_git_dirty:0");
    srv_info_line(b, "redis_mode:standalone");
    srv_info_line(b, "os:%s %s %s", name.sysname, name.release, name.machine);
    srv_info_line(b, "arch_bits:%d", (int)sizeof(long) * 8);
    srv_info_line(b, "monotonic_clock:POSIX clock_gettime");
    srv_info_line(b, "multiplexing_api:epoll"); /* libuv's, on Linux */
#ifdef __GNUC__
    srv_info_line(b, "gcc_version:%d.%d.%d", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#endif
    srv_info_line(b, "process_id:%ld", (long)getpid());
    srv_info_line(b, "process_supervised:no");
    srv_info_line(b, "run_id:%s", run_id());
    /* Redis's: the plaintext port, or the TLS one when that is off. */
    if (strcmp(colon + 1, "0") != 0) srv_info_line(b, "tcp_port:%s", colon + 1);
    else srv_info_line(b, "tcp_port:%u", srv->cfg.tls_port);
    srv_info_line(b, "server_time_usec:%lld", (long long)srv_wall_ms() * 1000);
    srv_info_line(b, "uptime_in_seconds:%lld", (long long)up);
    srv_info_line(b, "uptime_in_days:%lld", (long long)up / 86400);
    srv_info_line(b, "executable:%s", exe);
    srv_info_line(b, "config_file:");
    srv_info_line(b, "io_threads_active:0");
    /* Redis 7.2's listener lines: one per listening connection type,
     * numbered by type (0 tcp, 1 unix, 2 tls); tcp only when its port is
     * not 0. Redis has no other TLS field in INFO. */
    int hostlen = (int)(colon - srv->client_addr);
    if (strcmp(colon + 1, "0") != 0)
        srv_info_line(b, "listener0:name=tcp,bind=%.*s,port=%s", hostlen, srv->client_addr, colon + 1);
    if (srv->cfg.tls_port != 0)
        srv_info_line(b, "listener2:name=tls,bind=%.*s,port=%u", hostlen, srv->client_addr, srv->cfg.tls_port);
    srv_info_line(b, "keel_version:%s", KEEL_VERSION);
    srv_info_line(b, "node_id:%llu", (unsigned long long)srv->cfg.node_id);
    srv_info_line(b, "keel_zone:%s", srv->zone);
}

static void clients_section(struct info *x, struct buf *b)
{
    struct keel_server *srv = x->srv;
    srv_info_line(b, "# Clients");
    srv_info_line(b, "connected_clients:%u", srv->nconns);
    srv_info_line(b, "cluster_connections:0");
    srv_info_line(b, "maxclients:%u", srv->cfg.max_clients);
    /* This node's clients waiting in a blocking pop (block.c); no client
     * tracking in Keel: truly none. */
    srv_info_line(b, "blocked_clients:%u", block_count(srv));
    srv_info_line(b, "tracking_clients:0");
    srv_info_line(b, "clients_in_timeout_table:0");
    srv_info_line(b, "total_blocking_keys:0");
    srv_info_line(b, "total_blocking_keys_on_nokey:0");
    srv_info_line(b, "keel_maxclients_per_user:%u", srv->cfg.max_clients_per_user);
}

/* used_memory is the live data (what --quota, Keel's maxmemory, bounds);
 * the LMDB file and map sizes follow as keel_ fields. */
static void memory_section(struct info *x, struct buf *b)
{
    char h[32];
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
        fclose(f);
    }
    unsigned long long page = (unsigned long long)sysconf(_SC_PAGESIZE);
    unsigned long long rss_bytes = (unsigned long long)rss * page;
    long phys = sysconf(_SC_PHYS_PAGES);
    unsigned long long total = phys > 0 ? (unsigned long long)phys * page : 0;
    srv_info_line(b, "# Memory");
    srv_info_line(b, "used_memory:%llu", (unsigned long long)x->sp.live_bytes);
    human(h, sizeof h, x->sp.live_bytes);
    srv_info_line(b, "used_memory_human:%s", h);
    srv_info_line(b, "used_memory_rss:%llu", rss_bytes);
    human(h, sizeof h, rss_bytes);
    srv_info_line(b, "used_memory_rss_human:%s", h);
    srv_info_line(b, "total_system_memory:%llu", total);
    human(h, sizeof h, total);
    srv_info_line(b, "total_system_memory_human:%s", h);
    srv_info_line(b, "maxmemory:%llu", (unsigned long long)x->sp.quota);
    human(h, sizeof h, x->sp.quota);
    srv_info_line(b, "maxmemory_human:%s", h);
    srv_info_line(b, "maxmemory_policy:noeviction");
    srv_info_line(b, "mem_allocator:libc");
    srv_info_line(b, "keel_db_file_bytes:%llu", (unsigned long long)x->sp.file_bytes);
    srv_info_line(b, "keel_db_map_bytes:%llu", (unsigned long long)x->sp.map_size);
}

static void persistence_section(struct info *x, struct buf *b)
{
    srv_info_persistence(x->srv, b);
}

static void stats_section(struct info *x, struct buf *b)
{
    struct keel_server *srv = x->srv;
    const struct keel_server_stats *st = &srv->stats;
    struct keel_store_stats ss;
    double ops, in, out;
    keel_store_stats(srv->store, &ss);
    obs_rates_get(srv->obs, &ops, &in, &out);
    srv_info_line(b, "# Stats");
    srv_info_line(b, "total_connections_received:%llu", (unsigned long long)st->connections_total);
    srv_info_line(b, "total_commands_processed:%llu", (unsigned long long)st->commands);
    srv_info_line(b, "instantaneous_ops_per_sec:%lld", (long long)(ops + 0.5));
    srv_info_line(b, "total_net_input_bytes:%llu", (unsigned long long)st->bytes_in);
    srv_info_line(b, "total_net_output_bytes:%llu", (unsigned long long)st->bytes_out);
    srv_info_line(b, "instantaneous_input_kbps:%.2f", in);
    srv_info_line(b, "instantaneous_output_kbps:%.2f", out);
    srv_info_line(b, "rejected_connections:%llu", (unsigned long long)st->rejected_maxclients);
    /* Keys deleted by this replica's expiry sweeps (a write finding an
     * expired key deletes it too, uncounted). */
    srv_info_line(b, "expired_keys:%llu", (unsigned long long)ss.expired);
    srv_info_line(b, "evicted_keys:0"); /* Keel never evicts: writes get -OOM */
    srv_info_line(b, "evicted_clients:0");
    srv_info_line(b, "keyspace_hits:%llu", (unsigned long long)st->keyspace_hits);
    srv_info_line(b, "keyspace_misses:%llu", (unsigned long long)st->keyspace_misses);
    srv_info_line(b, "pubsub_channels:%zu", srv->pubsub ? (size_t)pubsub_channels(srv)->n : (size_t)0);
    srv_info_line(b, "pubsub_patterns:%u", srv->pubsub ? pubsub_numpat(srv) : 0u);
    srv_info_line(b, "pubsubshard_channels:0");
    srv_info_line(b, "total_error_replies:%llu", (unsigned long long)srv->obs->errors.total);
    srv_info_line(b, "acl_access_denied_auth:%llu", (unsigned long long)st->auth_failures);
    srv_info_line(b, "acl_access_denied_cmd:%llu", (unsigned long long)st->denied_cmd);
    srv_info_line(b, "acl_access_denied_key:%llu", (unsigned long long)st->denied_key);
    srv_info_line(b, "acl_access_denied_channel:%llu", (unsigned long long)st->denied_channel);
    srv_info_line(b, "keel_forwarded_commands:%llu", (unsigned long long)st->forwarded);
    /* forwarded to us, refused as past their deadline */
    srv_info_line(b, "keel_forwarded_expired:%llu", (unsigned long long)st->forwarded_expired);
    srv_info_line(b, "keel_protocol_errors:%llu", (unsigned long long)st->protocol_errors);
    srv_info_line(b, "keel_backpressure_pauses:%llu", (unsigned long long)st->reads_paused);
    srv_info_line(b, "keel_rejected_connections_user_limit:%llu", (unsigned long long)st->rejected_user_limit);
    srv_info_line(b, "keel_evicted_unauthenticated_clients:%llu", (unsigned long long)st->evicted_unauthenticated);
    srv_info_line(b, "keel_auth_timeouts:%llu", (unsigned long long)st->auth_timeouts);
    srv_info_line(b, "keel_rejected_nospace:%llu", (unsigned long long)srv->obs->rejected[REJECT_NOSPACE]);
    srv_info_line(b, "keel_rejected_noleader:%llu", (unsigned long long)srv->obs->rejected[REJECT_NOLEADER]);
}

/* The leader is Redis's master, the other members its replicas; offsets
 * are raft indexes (commit on the leader, applied on a follower). */
static void replication_section(struct info *x, struct buf *b)
{
    bool leader = x->st.role == KEEL_ROLE_LEADER;
    srv_info_line(b, "# Replication");
    srv_info_line(b, "role:%s", leader ? "master" : "slave");
    if (!leader) {
        char ip[64] = "";
        unsigned port = 0;
        if (x->leader_addr[0]) sscanf(x->leader_addr, "%63[^:]:%u", ip, &port);
        srv_info_line(b, "master_host:%s", ip);
        srv_info_line(b, "master_port:%u", port);
        srv_info_line(b, "master_link_status:%s", x->leader_addr[0] ? "up" : "down");
        srv_info_line(b, "master_sync_in_progress:0");
        srv_info_line(b, "slave_read_repl_offset:%llu", (unsigned long long)x->st.applied_index);
        srv_info_line(b, "slave_repl_offset:%llu", (unsigned long long)x->st.applied_index);
        srv_info_line(b, "slave_read_only:1"); /* writes are forwarded, never applied here first */
    }
    srv_info_line(b, "connected_slaves:%u", leader && x->st.members > 0 ? x->st.members - 1 : 0);
    /* On the leader, Redis's line per replica it hears from: its client
     * address, and how far raft knows it has the log (offset). */
    struct keel_peer_progress pp[16];
    unsigned np = leader ? keel_node_progress(x->srv->node, pp, 16) : 0, shown = 0;
    for (unsigned i = 0; i < np; i++) {
        char addr[64], ip[64] = "";
        unsigned port = 0;
        if (!pp[i].recent_recv || srv_member_client_addr(x->srv, pp[i].id, addr, sizeof addr) != 0 ||
            sscanf(addr, "%63[^:]:%u", ip, &port) != 2)
            continue;
        srv_info_line(b, "slave%u:ip=%s,port=%u,state=online,offset=%llu,lag=0", shown++, ip, port,
                      (unsigned long long)pp[i].match_index);
    }
    srv_info_line(b, "master_failover_state:no-failover");
    srv_info_line(b, "master_repl_offset:%llu",
                  (unsigned long long)(leader ? x->st.commit_index : x->st.applied_index));
}

static void cpu_section(struct info *x, struct buf *b)
{
    struct rusage self, kids;
    (void)x;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
    srv_info_line(b, "# CPU");
    srv_info_line(b, "used_cpu_sys:%ld.%06ld", (long)self.ru_stime.tv_sec, (long)self.ru_stime.tv_usec);
    srv_info_line(b, "used_cpu_user:%ld.%06ld", (long)self.ru_utime.tv_sec, (long)self.ru_utime.tv_usec);
    srv_info_line(b, "used_cpu_sys_children:%ld.%06ld", (long)kids.ru_stime.tv_sec, (long)kids.ru_stime.tv_usec);
    srv_info_line(b, "used_cpu_user_children:%ld.%06ld", (long)kids.ru_utime.tv_sec, (long)kids.ru_utime.tv_usec);
#ifdef RUSAGE_THREAD
    struct rusage loop; /* INFO runs on the loop thread: it is the main one */
    getrusage(RUSAGE_THREAD, &loop);
    srv_info_line(b, "used_cpu_sys_main_thread:%ld.%06ld", (long)loop.ru_stime.tv_sec, (long)loop.ru_stime.tv_usec);
    srv_info_line(b, "used_cpu_user_main_thread:%ld.%06ld", (long)loop.ru_utime.tv_sec, (long)loop.ru_utime.tv_usec);
#endif
}

static void modules_section(struct info *x, struct buf *b)
{
    (void)x;
    srv_info_line(b, "# Modules"); /* none */
}

static void commandstats_section(struct info *x, struct buf *b)
{
    srv_info_line(b, "# Commandstats");
    obs_info_commandstats(x->srv->obs, b);
}

static void errorstats_section(struct info *x, struct buf *b)
{
    srv_info_line(b, "# Errorstats");
    obs_info_errorstats(x->srv->obs, b);
}

static void latencystats_section(struct info *x, struct buf *b)
{
    srv_info_line(b, "# Latencystats");
    obs_info_latencystats(x->srv->obs, b);
}

static void cluster_section(struct info *x, struct buf *b)
{
    (void)x;
    srv_info_line(b, "# Cluster");
    srv_info_line(b, "cluster_enabled:0"); /* Redis Cluster's: Keel's raft cluster is one shard */
}

/* Each non-empty database, DBSIZE's counts (db.h): Keel's reserved keys
 * (the node table, ACL users) are not the user's. avg_ttl is 0, Redis's
 * "not estimated yet". */
static void keyspace_section(struct info *x, struct buf *b)
{
    static struct srv_db_counts dbs[KEEL_MAX_DATABASES]; /* the loop's only */
    struct keel_read rd;
    int rc = -1;
    if (keel_read_begin(x->srv->store, 0, &rd) == 0) {
        rc = srv_db_count_all(&rd, x->sp.keys, x->sp.expires, dbs);
        keel_read_end(&rd);
    }
    srv_info_line(b, "# Keyspace");
    for (unsigned i = 0; rc == 0 && i < KEEL_MAX_DATABASES; i++) {
        if (dbs[i].keys > 0 || dbs[i].expires > 0)
            srv_info_line(b, "db%u:keys=%llu,expires=%llu,avg_ttl=0", i, (unsigned long long)dbs[i].keys,
                          (unsigned long long)dbs[i].expires);
    }
}

static void raft_section(struct info *x, struct buf *b)
{
    srv_info_raft(x->srv, &x->st, x->leader_addr, b);
}

static void alarms_section(struct info *x, struct buf *b)
{
    srv_info_alarms(x->srv, b);
}

static void consistency_section(struct info *x, struct buf *b)
{
    consistency_info(x->srv, b);
}

/* Redis's order; dflt: in INFO without arguments and INFO default. */
static const struct
{
    const char *name;
    const char *alias;
    bool dflt;
    void (*fn)(struct info *x, struct buf *b);
} sections[] = {
    {"server", NULL, true, server_section},
    {"clients", NULL, true, clients_section},
    {"memory", NULL, true, memory_section},
    {"persistence", NULL, true, persistence_section},
    {"stats", NULL, true, stats_section},
    {"replication", NULL, true, replication_section},
    {"cpu", NULL, true, cpu_section},
    {"modules", "module_list", true, modules_section},
    {"commandstats", NULL, false, commandstats_section},
    {"errorstats", NULL, true, errorstats_section},
    {"latencystats", NULL, false, latencystats_section},
    {"cluster", NULL, true, cluster_section},
    {"keyspace", NULL, true, keyspace_section},
    /* Keel's: built in, so in the default set as in "all". */
    {"raft", NULL, true, raft_section},
    {"alarms", NULL, true, alarms_section},
    {"consistency", NULL, true, consistency_section},
};
#define N_SECTIONS (sizeof sections / sizeof sections[0])

static bool named(struct slot *s, uint32_t a, const char *name)
{
    return name != NULL && s->argv[a].n == strlen(name) && strncasecmp((const char *)s->argv[a].p, name, s->argv[a].n) == 0;
}

CMD_DECL_LOCAL(cmd_info)
{
    struct info x = {.srv = s->srv};
    bool want[N_SECTIONS] = {false};
    bool all = false;
    for (size_t i = 0; i < N_SECTIONS; i++) want[i] = s->argc < 2 && sections[i].dflt;
    for (uint32_t a = 1; a < s->argc; a++) {
        if (named(s, a, "all") || named(s, a, "everything")) all = true;
        for (size_t i = 0; i < N_SECTIONS; i++) {
            if (named(s, a, "default") ? sections[i].dflt : named(s, a, sections[i].name) || named(s, a, sections[i].alias))
                want[i] = true;
        }
    }
    keel_node_status(s->srv->node, &x.st);
    keel_node_space(s->srv->node, &x.sp);
    srv_leader_client_addr(s->srv, x.leader_addr, sizeof x.leader_addr);
    struct buf b;
    buf_init(&b);
    unsigned shown = 0;
    for (size_t i = 0; i < N_SECTIONS; i++) {
        if (!all && !want[i]) continue;
        if (shown++) buf_append(&b, "\r\n", 2);
        sections[i].fn(&x, &b);
    }
    if (s->proto >= 3) {
        char hdr[32];
        int n = snprintf(hdr, sizeof hdr, "=%zu\r\ntxt:", b.len + 4);
        buf_append(&s->out, hdr, (size_t)n);
        buf_append(&s->out, b.p, b.len);
        buf_append(&s->out, "\r\n", 2);
    } else {
        resp_bulk(&s->out, b.p, b.len);
    }
    buf_close(&b);
    slot_done(s);
}
