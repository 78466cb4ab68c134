/* raft: the node's storage as the server reads it (space, disk, quota,
 * digests, backup images). The server reaches LMDB only through these, so
 * the node stays the one owner of its storage: it knows what is pinned
 * when it swaps or closes the env. See node.h. */
#include "raft/node_internal.h"
#include "storage/snapshot.h"

int keel_node_space(struct keel_node *n, struct keel_space *sp)
{
    return keel_storage_space(n->storage, sp);
}

int keel_node_disk(struct keel_node *n, struct keel_disk *d)
{
    return keel_storage_disk(n->storage, d);
}

int keel_node_quota_check(struct keel_node *n, uint64_t incoming)
{
    return keel_storage_quota_check(n->storage, incoming);
}

const char *keel_node_storage_errmsg(struct keel_node *n)
{
    return keel_storage_errmsg(n->storage);
}

int keel_node_digest_begin(struct keel_node *n, struct keel_digest_job *j)
{
    return keel_storage_digest_begin(n->storage, j);
}

void keel_node_digest_run(struct keel_digest_job *j)
{
    keel_storage_digest_run(j);
}

struct keel_node_copy *keel_node_copy_pin(struct keel_node *n)
{
    keel_storage_pin(n->storage);
    return (struct keel_node_copy *)n->storage;
}

int keel_node_copy_run(struct keel_node_copy *c, struct keel_snapshot *snap, char *errmsg)
{
    struct keel_storage *s = (struct keel_storage *)c;
    int rc = keel_storage_snapshot_create(s, snap, errmsg);
    /* Here, on the pool: a closing node's storage waits for the unpin. */
    keel_storage_unpin(s);
    return rc;
}
