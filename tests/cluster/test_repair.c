/* tests/cluster: the raft side of the consistency check's repair
 * (raft/repair.c) on a real node: a damaged env is replaced by an image
 * taken after the repair began, the entries applied since are replayed from
 * the journal, raft takes no snapshot of the damaged env, and every way the
 * journal cannot cover the gap (raft installed a snapshot meanwhile, an
 * image older than the repair) or the image is bad leaves the env as it was.
 * Raft's log and metadata are never touched: the node keeps leading, its
 * log keeps its entries, and a restart replays onto the repaired env. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "storage/snapshot.h"
#include "tests/lib/testlib.h"
#include "uvnode.h"

struct fixture
{
    char *dir;
    char boot[4200];
    char node[4300];
    struct uvnode n;
    bool open;
    uint8_t *image;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    if (fx == NULL) return -1;
    fx->dir = test_mkdtemp("repair");
    snprintf(fx->boot, sizeof fx->boot, "%s/boot", fx->dir);
    snprintf(fx->node, sizeof fx->node, "%s/node", fx->dir);
    test_write_text(fx->boot, "44444444-dddd\n");
    mkdir(fx->node, 0700);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    if (fx->open) uvnode_close(&fx->n);
    free(fx->image);
    test_rmdtemp(fx->dir);
    free(fx);
    return 0;
}

static void open_node(struct fixture *fx)
{
    struct uvnode_opts o = {.dir = fx->node, .boot_id_path = fx->boot, .port = uvnode_free_port(),
                            .threshold = 32, .trailing = 64, .async = false};
    uvnode_open(&fx->n, &o);
    fx->open = true;
}

/* Overwrite key's value behind raft's back, as damaged bytes in data.mdb
 * would: the applied index stays. */
static void damage(struct uvnode *n, const char *key, const char *val)
{
    struct keel_txn txn;
    struct keel_record rec;
    struct keel_slice k = keel_str(key);
    assert_int_equal(storage_txn_begin(n->storage, true, &txn), 0);
    assert_int_equal(storage_get(&txn, k, &rec), 0);
    rec.val = (const uint8_t *)val;
    rec.len = strlen(val);
    assert_int_equal(storage_put(&txn, k, &rec, NULL), 0);
    assert_int_equal(storage_txn_commit(&txn), 0);
}

/* An image of the env as it is now (header and data, one buffer). */
static uint8_t *image_now(struct uvnode *n, size_t *len)
{
    struct keel_snapshot snap;
    char errmsg[KEEL_ERRMSG_SIZE];
    int rc = keel_storage_snapshot_create(n->storage, &snap, errmsg);
    if (rc != 0) fail_msg("snapshot: %s", errmsg);
    *len = KEEL_SNAPSHOT_HEADER + snap.data_len;
    uint8_t *p = malloc(*len);
    assert_non_null(p);
    memcpy(p, snap.header, KEEL_SNAPSHOT_HEADER);
    memcpy(p + KEEL_SNAPSHOT_HEADER, snap.data, snap.data_len);
    keel_snapshot_release(&snap);
    return p;
}

static uint64_t digest(struct uvnode *n)
{
    uint64_t applied, d;
    assert_int_equal(keel_storage_digest(n->storage, &applied, &d), 0);
    return d;
}

static void incr_n(struct uvnode *n, const char *key, int count)
{
    for (int i = 0; i < count; i++) assert_int_equal(uvnode_incr(n, key, 1), 0);
}

static bool no_snapshot_running(void *arg)
{
    return !((struct uvnode *)arg)->fsm->snap_busy;
}

static void test_repair_replays_the_gap(void **state)
{
    struct fixture *fx = *state;
    char errmsg[KEEL_ERRMSG_SIZE];
    size_t len;
    open_node(fx);
    struct uvnode *n = &fx->n;
    incr_n(n, "ctr", 100);
    incr_n(n, "other", 7);
    uint64_t log_before = raft_last_index(&n->node->raft);

    /* The repair begins, the leader's image is taken (at L), then this
     * replica applies 100 more entries to its damaged env: L < A. */
    assert_int_equal(keel_node_repair_begin(n->node), 0);
    fx->image = image_now(n, &len);
    damage(n, "other", "999");
    keel_node_set_damaged(n->node, true);
    /* A snapshot raft began before the damage may still be finishing on
     * the pool (slowly on a loaded machine): count from after it. */
    assert_true(uvnode_run_until(n, no_snapshot_running, n, 10000));
    uint64_t snaps = n->fsm->stats.snapshots;
    incr_n(n, "ctr", 100);
    assert_int_equal(uvnode_get_int(n, "other"), 999);
    /* 100 entries, threshold 32: raft took no snapshot of the damaged env. */
    assert_int_equal(n->fsm->stats.snapshots, snaps);

    int rc = keel_node_repair_install(n->node, fx->image, len, errmsg);
    if (rc != 0) fail_msg("install: %d %s", rc, errmsg);
    assert_non_null(strstr(errmsg, "100 entries replayed"));
    assert_int_equal(uvnode_get_int(n, "ctr"), 200);
    assert_int_equal(uvnode_get_int(n, "other"), 7);
    assert_int_equal(keel_storage_applied(n->storage), raft_last_applied(&n->node->raft));
    assert_int_equal(n->fsm->stats.repairs, 1);
    assert_null(n->fsm->journal);
    assert_false(n->fsm->damaged);
    /* Raft never noticed: same log, still leading, applying on. */
    assert_true(raft_last_index(&n->node->raft) >= log_before + 100);
    incr_n(n, "ctr", 50); /* snapshots resume too */
    assert_true(n->fsm->stats.snapshots > snaps);
    assert_int_equal(uvnode_get_int(n, "ctr"), 250);
    uint64_t d = digest(n);

    /* The repaired env is the node's env: a restart replays onto it. */
    uvnode_close(n);
    fx->open = false;
    open_node(fx);
    assert_int_equal(uvnode_get_int(&fx->n, "ctr"), 250);
    assert_int_equal(uvnode_get_int(&fx->n, "other"), 7);
    assert_int_equal(digest(&fx->n), d);
}

static void test_repair_refusals(void **state)
{
    struct fixture *fx = *state;
    char errmsg[KEEL_ERRMSG_SIZE];
    size_t len;
    open_node(fx);
    struct uvnode *n = &fx->n;
    incr_n(n, "ctr", 20);
    assert_int_equal(keel_node_repair_install(n->node, "x", 1, errmsg), KEEL_EINVAL); /* not begun */

    /* An image older than the repair: the journal does not reach back. */
    fx->image = image_now(n, &len);
    incr_n(n, "ctr", 5);
    assert_int_equal(keel_node_repair_begin(n->node), 0);
    damage(n, "ctr", "-1");
    uint64_t bad = digest(n);
    assert_int_equal(keel_node_repair_install(n->node, fx->image, len, errmsg), KEEL_EBUSY);
    assert_non_null(strstr(errmsg, "older than the repair"));
    assert_int_equal(digest(n), bad);

    /* Raft installed a snapshot meanwhile: the journal has a hole. */
    free(fx->image);
    fx->image = image_now(n, &len);
    fsm_journal_break(n->fsm, "raft installed a snapshot during the transfer");
    assert_int_equal(keel_node_repair_install(n->node, fx->image, len, errmsg), KEEL_EBUSY);
    assert_non_null(strstr(errmsg, "snapshot"));
    assert_int_equal(digest(n), bad);

    /* A damaged image: refused by its checksum, the env kept. */
    assert_int_equal(keel_node_repair_begin(n->node), 0);
    fx->image[len - 10] ^= 0x01;
    assert_int_equal(keel_node_repair_install(n->node, fx->image, len, errmsg), KEEL_ECORRUPT);
    assert_int_equal(digest(n), bad);
    assert_int_equal(uvnode_get_int(n, "ctr"), -1);
    keel_node_repair_end(n->node);
    assert_null(n->fsm->journal);
    incr_n(n, "ctr", 1); /* still a working node */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_repair_replays_the_gap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repair_refusals, setup, teardown),
    };
    return cmocka_run_group_tests_name("repair", tests, NULL, NULL);
}
