/* api: disk space across the cluster. A node whose disk is (nearly) full
 * says so in the replicated node table ("\xffkeel:disk:<id>" -> "full"),
 * and the leader refuses writes while a replica it hears from says so:
 * every replica applies every write, so the fullest disk decides, not the
 * leader's. Runs on the loop, from the alarm evaluation (every 250 ms). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/server/commands/commands.h"
#include "api/server/server_internal.h"

#define DISK_FULL "full"

/* The state member `id` last published ("" if none). */
static void published(struct keel_server *srv, uint64_t id, char *out, size_t size)
{
    struct keel_read rd;
    struct keel_record rec;
    char key[64];
    out[0] = 0;
    syskey_disk(id, key, sizeof key);
    if (keel_read_begin(srv->store, 0, &rd) != 0) return;
    if (keel_read_get(&rd, keel_str(key), &rec) == 0)
        snprintf(out, size, "%.*s", (int)(rec.len < size ? rec.len : size - 1), (const char *)rec.val);
    keel_read_end(&rd);
}

static void publish_cb(void *data, int status, const struct keel_reply *reply)
{
    struct keel_server *srv = data;
    (void)status;
    (void)reply;
    srv->disk_publishing = false;
}

/* KEEL.DISK id state: a node's disk state into the node table ("" deletes
 * it). Internal: sent by the node itself, through the forwarder. */
CMD_DECL_ENCODE(cmd_keel_disk)
{
    char key[64], buf[32];
    uint64_t id = strtoull(slot_arg(s, 1, buf, sizeof buf), NULL, 10);
    syskey_disk(id, key, sizeof key);
    struct keel_slice k = keel_str(key);
    if (s->argv[2].n == 0) keel_enc_del(e, &k, 1);
    else keel_enc_set(e, k, s->argv[2], 0, 0);
    return 1;
}

void srv_space_publish(struct keel_server *srv, bool full)
{
    char now[16];
    const char *want = full ? DISK_FULL : "";
    published(srv, srv->cfg.node_id, now, sizeof now);
    if (strcmp(now, want) == 0 || srv->disk_publishing) return;
    if (srv->role == KEEL_ROLE_LEADER && srv->ready) {
        struct keel_enc e;
        uint8_t *buf;
        size_t len;
        char key[64];
        syskey_disk(srv->cfg.node_id, key, sizeof key);
        struct keel_slice k = keel_str(key);
        keel_enc_init(&e, srv_now(srv), 0, 0);
        if (full) keel_enc_set(&e, k, keel_str(want), 0, 0);
        else keel_enc_del(&e, &k, 1);
        if (keel_enc_finish(&e, &buf, &len) == 0) {
            if (keel_node_write(srv->node, buf, len, publish_cb, srv) == 0) srv->disk_publishing = true;
            free(buf);
        }
        keel_enc_close(&e);
    } else if (srv->role == KEEL_ROLE_FOLLOWER && uv_now(srv->loop) - srv->disk_sent_at > 1000) {
        /* Through the leader; a later evaluation sees whether it landed. */
        char id[24];
        snprintf(id, sizeof id, "%llu", (unsigned long long)srv->cfg.node_id);
        struct keel_slice argv[3] = {keel_str("KEEL.DISK"), keel_str(id), keel_str(want)};
        struct slot *s = slot_new(srv, NULL, argv, 3);
        if (s == NULL) return;
        s->cmd = command_lookup(&argv[0]);
        srv->disk_sent_at = uv_now(srv->loop);
        fwd_request(s);
    }
}

bool srv_space_replica_full(struct keel_server *srv, bool (*reachable)(struct keel_server *, uint64_t),
                            char *why, size_t size)
{
    struct keel_node_status st;
    char state[16];
    keel_node_status(srv->node, &st);
    for (unsigned i = 0; i < st.members && i < KEEL_NODE_MAX_PEERS; i++) {
        uint64_t id = st.member_ids[i];
        /* Spares get no entries; an unreachable replica gets none either
         * until it is back, and then says again how its disk is. */
        if (id == srv->cfg.node_id || st.member_roles[i] == 'p' || !reachable(srv, id)) continue;
        published(srv, id, state, sizeof state);
        if (state[0] != 0) {
            snprintf(why, size, "node %llu reports its disk full (its NOSPACE alarm says why)",
                     (unsigned long long)id);
            return true;
        }
    }
    return false;
}
