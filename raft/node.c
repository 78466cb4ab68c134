/* raft: wiring one node: storage, store, fsm and raft on libuv. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "raft/node.h"

#include <stdarg.h>

__attribute__((format(printf, 3, 4))) static int fail(struct keel_node *n, int code,
                                                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(n->errmsg, sizeof n->errmsg, fmt, ap);
    va_end(ap);
    return code;
}

int keel_node_init(struct keel_node *n, uv_loop_t *loop, const struct keel_node_options *o)
{
    char raftdir[4200], errmsg[KEEL_ERRMSG_SIZE];
    struct keel_storage_options so = {.dir = o->dir, .map_size = o->map_size,
                                      .boot_id_path = o->boot_id_path};
    struct raft_configuration conf;
    int rc;

    memset(n, 0, sizeof *n);
    n->loop = loop;
    rc = keel_storage_open(&so, &n->storage, &n->wiped, errmsg);
    if (rc != 0) return fail(n, rc, "%s", errmsg);
    rc = keel_store_create(n->storage, &n->store);
    if (rc != 0) {
        fail(n, rc, "store: %s", keel_strerror(rc));
        goto err_storage;
    }
    keel_fsm_init(&n->fsm, n->store, !o->sync_snapshots);

    snprintf(raftdir, sizeof raftdir, "%s/raft", o->dir);
    if (mkdir(raftdir, 0700) != 0 && errno != EEXIST) {
        rc = fail(n, KEEL_EIO, "mkdir raft dir: %s", strerror(errno));
        goto err_store;
    }
    if ((rc = raft_uv_tcp_init(&n->transport, loop)) != 0) {
        rc = fail(n, KEEL_EIO, "raft transport: %s", raft_strerror(rc));
        goto err_store;
    }
    if ((rc = raft_uv_init(&n->io, loop, raftdir, &n->transport)) != 0) {
        rc = fail(n, KEEL_EIO, "raft io: %s", n->io.errmsg);
        raft_uv_tcp_close(&n->transport);
        goto err_store;
    }
    /* raft 0.15 installs async_work but leaves io.version at 1, and then
     * refuses a version-3 fsm with snapshot_async (fixed upstream in 0.17.1). */
    n->io.version = 2;
    if ((rc = raft_init(&n->raft, &n->io, &n->fsm.fsm, o->id, o->address)) != 0) {
        rc = fail(n, KEEL_EIO, "raft init: %s", raft_errmsg(&n->raft));
        raft_uv_close(&n->io);
        raft_uv_tcp_close(&n->transport);
        goto err_store;
    }
    n->raft_inited = true;
    keel_fsm_attach(&n->fsm, &n->raft);
    keel_fsm_enable_async(&n->fsm);
    raft_set_election_timeout(&n->raft, o->election_ms ? o->election_ms : 1000);
    raft_set_heartbeat_timeout(&n->raft, o->heartbeat_ms ? o->heartbeat_ms : 100);
    if (o->snapshot_threshold) raft_set_snapshot_threshold(&n->raft, o->snapshot_threshold);
    if (o->snapshot_trailing) raft_set_snapshot_trailing(&n->raft, o->snapshot_trailing);
    raft_set_pre_vote(&n->raft, true);

    /* Every initial voter bootstraps the same configuration; on a restart
     * raft says RAFT_CANTBOOTSTRAP and the stored one stands. */
    raft_configuration_init(&conf);
    for (unsigned i = 0; i < o->n_peers; i++) {
        rc = raft_configuration_add(&conf, o->peers[i].id, o->peers[i].address, RAFT_VOTER);
        if (rc != 0) {
            raft_configuration_close(&conf);
            return fail(n, KEEL_EINVAL, "peers: %s", raft_strerror(rc)); /* close it */
        }
    }
    rc = o->n_peers > 0 ? raft_bootstrap(&n->raft, &conf) : RAFT_CANTBOOTSTRAP;
    raft_configuration_close(&conf);
    if (rc != 0 && rc != RAFT_CANTBOOTSTRAP)
        return fail(n, KEEL_EIO, "bootstrap: %s", raft_errmsg(&n->raft)); /* close it */
    return 0;

err_store:
    keel_fsm_close(&n->fsm);
    keel_store_destroy(n->store);
err_storage:
    keel_storage_close(n->storage, false);
    n->storage = NULL;
    return rc;
}

int keel_node_start(struct keel_node *n)
{
    int rc = raft_start(&n->raft);
    if (rc != 0) return fail(n, KEEL_EIO, "raft start: %s", raft_errmsg(&n->raft));
    if (keel_fsm_fatal(&n->fsm)) return fail(n, n->fsm.fatal, "%s", n->fsm.errmsg);
    return 0;
}

static void node_raft_close_cb(struct raft *r)
{
    struct keel_node *n = (struct keel_node *)((char *)r - offsetof(struct keel_node, raft));
    raft_uv_close(&n->io);
    raft_uv_tcp_close(&n->transport);
    keel_fsm_close(&n->fsm);
    keel_store_destroy(n->store);
    /* Clean only if apply never hit a fatal error. */
    keel_storage_close(n->storage, keel_fsm_fatal(&n->fsm) == 0);
    n->storage = NULL;
    if (n->close_cb != NULL) n->close_cb(n);
}

void keel_node_close(struct keel_node *n, keel_node_close_cb cb)
{
    n->close_cb = cb;
    if (n->raft_inited) {
        raft_close(&n->raft, node_raft_close_cb);
    } else if (cb != NULL) {
        cb(n);
    }
}

int keel_parse_peers(const char *text, struct keel_peer *peers, unsigned max, char *errmsg)
{
    unsigned n = 0;
    const char *p = text;
    while (p != NULL && *p != 0) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char item[96];
        unsigned long long id;
        int used = 0;
        if (n == max || len >= sizeof item) goto bad;
        memcpy(item, p, len);
        item[len] = 0;
        if (sscanf(item, "%llu=%n", &id, &used) != 1 || used == 0 || id == 0) goto bad;
        snprintf(peers[n].address, sizeof peers[n].address, "%s", item + used);
        unsigned a, b, c, d, port;
        char extra;
        if (sscanf(peers[n].address, "%u.%u.%u.%u:%u%c", &a, &b, &c, &d, &port, &extra) != 5 ||
            a > 255 || b > 255 || c > 255 || d > 255 || port == 0 || port > 65535)
            goto bad;
        for (unsigned i = 0; i < n; i++) {
            if (peers[i].id == id) goto bad;
        }
        peers[n++].id = id;
        p = end ? end + 1 : NULL;
    }
    return (int)n;
bad:
    snprintf(errmsg, KEEL_ERRMSG_SIZE,
             "bad peer list \"%s\": want ID=IPv4:PORT,... with distinct ids > 0", text);
    return -1;
}
