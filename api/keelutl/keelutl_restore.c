/* keelutl: the commands that write a data directory, run on a node's
 * machine while its keeld is stopped (raft/offline.h takes keeld's lock on
 * the data directory):
 *
 *   backup restore FILE --data-dir DIR --id N --cluster ID=RAFT_ADDR,...
 *       seed a new node directory from a backup; run it for every member of
 *       the new cluster with the same FILE and --cluster, then start them.
 *   recover --data-dir DIR --id N [--force]
 *       after quorum loss, make this node a one-node cluster (raft_recover)
 *       keeping its log; refused while a former member still answers on its
 *       raft address unless --force; says what may have been lost. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/keelutl/keelutl.h"
#include "api/keelutl/keelutl_backup.h"
#include "raft/node.h"
#include "raft/offline.h"

/* Options after the positional words: --data-dir, --id, --cluster, --force. */
struct offline_opts
{
    const char *dir, *cluster;
    unsigned long long id;
    bool force;
};

static int parse_opts(int argc, char **argv, int first, struct offline_opts *o)
{
    memset(o, 0, sizeof *o);
    for (int i = first; i < argc; i++) {
        if (!strcmp(argv[i], "--force")) o->force = true;
        else if (i + 1 >= argc) return -1;
        else if (!strcmp(argv[i], "--data-dir")) o->dir = argv[++i];
        else if (!strcmp(argv[i], "--cluster")) o->cluster = argv[++i];
        else if (!strcmp(argv[i], "--id")) o->id = strtoull(argv[++i], NULL, 10);
        else return -1;
    }
    return o->dir && o->id ? 0 : -1;
}

int kutl_backup_restore(const struct kutl *u, int argc, char **argv)
{
    struct offline_opts o;
    struct keel_peer peers[KEEL_NODE_MAX_PEERS];
    char why[KEEL_ERRMSG_SIZE];
    if (argc < 1 || parse_opts(argc, argv, 1, &o) != 0 || o.cluster == NULL) return CLI_USAGE;
    int n = keel_parse_peers(o.cluster, peers, KEEL_NODE_MAX_PEERS, why);
    if (n < 0) {
        fprintf(stderr, "keelutl: backup restore: --cluster: %s\n", why);
        return CLI_USAGE;
    }
    const char *self = NULL;
    for (int i = 0; i < n; i++)
        if (peers[i].id == o.id) self = peers[i].address;
    if (self == NULL) {
        fprintf(stderr, "keelutl: backup restore: --cluster must list ID=RAFT_ADDR for every member, "
                        "this node (%llu) included\n", o.id);
        return CLI_USAGE;
    }
    struct kutl_backup b;
    /* Only the file's framing here: the seed checks the image in full. */
    if (kutl_backup_open(argv[0], false, &b, why) != 0) {
        fprintf(stderr, "keelutl: backup restore: %s\n", why);
        return CLI_FAILED;
    }
    int rc = keel_offline_seed(o.dir, o.id, self, peers, (unsigned)n, b.image, b.image_len, b.term, why);
    if (rc != 0) {
        fprintf(stderr, "keelutl: backup restore: %s\n", why);
        kutl_backup_close(&b);
        return CLI_FAILED;
    }
    if (u->json) {
        cli_print_json(json_pack("{s:s, s:I, s:I, s:I, s:I}", "data_dir", o.dir, "id", (json_int_t)o.id,
                                  "index", (json_int_t)b.info.applied, "term", (json_int_t)b.term, "keys",
                                  (json_int_t)b.info.keys));
    } else {
        printf("seeded %s as node %llu of a %d-node cluster from %s (index %llu, term %llu, %llu keys)\n"
               "start it: keeld --id %llu --data-dir %s --raft-addr %s --cluster %s\n",
               o.dir, o.id, n, argv[0], (unsigned long long)b.info.applied, (unsigned long long)b.term,
               (unsigned long long)b.info.keys, o.id, o.dir, self, o.cluster);
    }
    kutl_backup_close(&b);
    return CLI_OK;
}

/* Does anything accept a TCP connection at "ip:port" within ms? */
static bool answers(const char *addr, unsigned ms)
{
    char ip[64];
    unsigned port;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    if (sscanf(addr, "%63[^:]:%u", ip, &port) != 2 || inet_pton(AF_INET, ip, &sa.sin_addr) != 1) return false;
    sa.sin_port = htons((uint16_t)port);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    bool up = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (!up && errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int err = 0;
        socklen_t len = sizeof err;
        up = poll(&p, 1, (int)ms) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
    }
    close(fd);
    return up;
}

int kutl_recover(const struct kutl *u, int argc, char **argv)
{
    struct offline_opts o;
    struct keel_recover_report rep;
    char why[KEEL_ERRMSG_SIZE];
    if (parse_opts(argc, argv, 1, &o) != 0 || o.cluster != NULL) return CLI_USAGE;
    if (keel_offline_inspect(o.dir, o.id, &rep, why) != 0) {
        fprintf(stderr, "keelutl: recover: %s\n", why);
        return CLI_FAILED;
    }
    const char *self = NULL;
    char alive[512] = "";
    size_t off = 0;
    unsigned shown = rep.n_members < KEEL_NODE_MAX_PEERS ? rep.n_members : KEEL_NODE_MAX_PEERS;
    for (unsigned i = 0; i < shown; i++) {
        if (rep.members[i].id == o.id) self = rep.members[i].address;
        else if (answers(rep.members[i].address, u->timeout_ms < 2000 ? u->timeout_ms : 2000) && off < 400)
            off += (size_t)snprintf(alive + off, sizeof alive - off, "%s n%llu (%s)", off ? "," : "",
                                    (unsigned long long)rep.members[i].id, rep.members[i].address);
    }
    if (self == NULL) {
        fprintf(stderr, "keelutl: recover: node %llu is not in the configuration this directory holds\n", o.id);
        return CLI_FAILED;
    }
    if (alive[0] && !o.force) {
        fprintf(stderr, "keelutl: recover: refused: former members still answer:%s. Recovering while they\n"
                        "run splits the cluster in two. Stop them first, or pass --force if they are\n"
                        "being replaced and will never start with their old data.\n", alive);
        return CLI_FAILED;
    }
    if (keel_offline_recover(o.dir, o.id, self, &rep, why) != 0) {
        fprintf(stderr, "keelutl: recover: %s\n", why);
        return CLI_FAILED;
    }
    /* Entries after the applied index were in this node's log but it cannot
     * know whether the old majority committed them: they commit now. */
    unsigned long long uncertain = rep.last_index > rep.applied_index ? rep.last_index - rep.applied_index : 0;
    if (u->json) {
        cli_print_json(json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:b}", "id", (json_int_t)o.id,
                                  "last_index", (json_int_t)rep.last_index, "applied_index",
                                  (json_int_t)rep.applied_index, "snapshot_index", (json_int_t)rep.snapshot_index,
                                  "recover_index", (json_int_t)rep.recover_index, "uncertain_entries",
                                  (json_int_t)uncertain, "former_members", (int)rep.n_members, "forced",
                                  alive[0] != 0));
        return CLI_OK;
    }
    printf("recovered %s: node %llu (%s) is now the only member (configuration at index %llu)\n", o.dir, o.id,
           self, (unsigned long long)rep.recover_index);
    printf("its log ends at index %llu; it had applied %llu%s\n", (unsigned long long)rep.last_index,
           (unsigned long long)rep.applied_index, rep.kv_wiped ? " (its LMDB was untrusted: rebuilt from the log)" : "");
    if (uncertain)
        printf("may not have been acknowledged: entries %llu..%llu (%llu) were in this log but may never have\n"
               "been committed; they are committed now (a write whose client saw a timeout may appear)\n",
               (unsigned long long)rep.applied_index + 1, (unsigned long long)rep.last_index, uncertain);
    printf("may be lost: anything the old majority committed after index %llu, if it did (this node\n"
           "never received it). Pick the survivor with the longest log: compare last_index.\n"
           "next: start keeld on %s, then add members back (keelctl member add ID ADDR) and start\n"
           "each with an empty data directory and --join.\n",
           (unsigned long long)rep.last_index, o.dir);
    return CLI_OK;
}
