/* api: the automatic repair of a replica whose state failed the
 * consistency check (consistency.h): the leader's image installed over this
 * replica's env.
 *
 * The image is fetched like a backup (image_fetch.c: KEEL.SNAPSHOT on the
 * leader, whose BEGIN waits for a read barrier there, so the image holds
 * every entry committed before the call, at an index L it records), as
 * member calls through the forwarder: the member channel under member TLS,
 * else the cluster token, never a client's credentials. Before
 * asking, the node starts journaling the entries it applies
 * (keel_node_repair_begin): whatever it applies while the image travels is
 * applied again past L after the install (raft/repair.c). The install goes
 * through the storage's restore path (checksums, written and opened beside
 * the env first, atomic swap), forced, because this env's own index no
 * longer vouches for anything. The raft log and term/vote stay.
 *
 * Only followers repair: a damaged leader hands over first (consistency.c).
 * Any failure (no leader, the leader busy with another image, leadership
 * moving mid-transfer, an image that fails verification) ends the attempt;
 * the replica stays damaged, refusing local reads, and tries again after a
 * backoff (1 s doubling to 30 s). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/server/consistency.h"
#include "api/server/image_fetch.h"
#include "api/server/log.h"

#define REPAIR_TIMEOUT_MS 10000 /* per call; a failed call ends the attempt (retried after the backoff) */

struct repair
{
    struct keel_server *srv;
    struct fetch *fetch;
    char leader[64];
};

static void fetched_cb(void *data, uint8_t *image, size_t size, uint64_t index, const char *why)
{
    struct repair *r = data;
    struct keel_server *srv = r->srv;
    char msg[KEEL_ERRMSG_SIZE], fail[KEEL_ERRMSG_SIZE + 128];
    srv->cons->repair = NULL;
    free(r);
    if (image == NULL) {
        keel_node_repair_end(srv->node);
        consistency_repair_failed(srv, why);
        return;
    }
    int rc = KEEL_EBUSY;
    snprintf(msg, sizeof msg, "this node is no longer a follower");
    if (srv->role == KEEL_ROLE_FOLLOWER) rc = keel_node_repair_install(srv->node, image, size, msg);
    free(image);
    if (rc != 0) {
        keel_node_repair_end(srv->node);
        snprintf(fail, sizeof fail, "installing the leader's image at index %" PRIu64 ": %s", index, msg);
        consistency_repair_failed(srv, fail);
        return;
    }
    consistency_repaired(srv, msg);
}

void srv_repair_tick(struct keel_server *srv)
{
    struct consistency *c = srv->cons;
    char errmsg[KEEL_ERRMSG_SIZE], addr[64];
    struct keel_node_status st;
    if (c->repair != NULL || !c->damaged || srv->stopping || uv_now(srv->loop) < c->repair_next_ms) return;
    /* By id: with plaintext off (--client-addr HOST:0) every node publishes
     * the same client address. */
    keel_node_status(srv->node, &st);
    if (st.leader_id == 0 || st.leader_id == srv->cfg.node_id) {
        consistency_repair_failed(srv, "no leader known to take the image from");
        return;
    }
    struct repair *r = calloc(1, sizeof *r);
    if (r == NULL) return;
    r->srv = srv;
    snprintf(addr, sizeof addr, "member %llu", (unsigned long long)st.leader_id);
    snprintf(r->leader, sizeof r->leader, "%s", addr);
    int rc = keel_node_repair_begin(srv->node); /* before asking: see the top */
    if (rc == 0) rc = fetch_start(srv, REPAIR_TIMEOUT_MS, fetched_cb, r, &r->fetch, errmsg);
    else snprintf(errmsg, sizeof errmsg, "%s", keel_strerror(rc));
    if (rc != 0) {
        keel_node_repair_end(srv->node);
        free(r);
        consistency_repair_failed(srv, errmsg);
        return;
    }
    c->repair = r;
    log_warn("repair: fetching the leader's image from %s to replace this replica's damaged state", addr);
}

void srv_repair_cancel(struct keel_server *srv)
{
    struct repair *r = srv->cons->repair;
    if (r == NULL) return;
    srv->cons->repair = NULL;
    fetch_cancel(r->fetch);
    keel_node_repair_end(srv->node);
    free(r);
}
