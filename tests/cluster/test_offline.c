/* tests/cluster: offline operations on a node directory (raft/offline.h),
 * checked by starting real nodes on canonical raft's uv log afterwards:
 * seeding a new directory from a backup image (the node must restore it
 * through raft's normal load path, not bootstrap, and append after it), and
 * forcing a one-node membership after quorum loss. Also the decoder of
 * raft's configuration encoding, against raft_configuration_encode. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "raft/offline.h"
#include "raft/offline_internal.h"
#include "storage/image.h"
#include "tests/lib/testlib.h"
#include "uvnode.h"

#define NKEYS 5
#define FIRST_INDEX 10 /* the image's keys were applied at 10..14 */
#define IMAGE_APPLIED (FIRST_INDEX + NKEYS - 1)

struct fixture
{
    char *tmp;
    char dir[4200];  /* the node dir to seed: does not exist at first */
    char boot[4200];
    unsigned port;
    char addr[64];
    uint8_t *image;
    size_t len;
};

/* An image of a storage where key<i> was INCRBY'd by 100+i at raft index
 * FIRST_INDEX+i, as a backup file of keel_snapshot_write_fd holds it. */
static uint8_t *make_image(struct fixture *fx, size_t *len)
{
    char src[4300], errmsg[KEEL_ERRMSG_SIZE] = "";
    struct keel_storage_options so = {.dir = src, .map_size = 64u << 20,
                                      .boot_id_path = fx->boot};
    struct keel_storage *s;
    struct keel_store *st;
    struct keel_reply reply;
    struct keel_snapshot snap;

    snprintf(src, sizeof src, "%s/source", fx->tmp);
    assert_int_equal(mkdir(src, 0700), 0);
    if (keel_storage_open(&so, &s, NULL, errmsg) != 0) fail_msg("open: %s", errmsg);
    assert_int_equal(keel_store_create(s, &st), 0);
    keel_reply_init(&reply);
    for (int i = 0; i < NKEYS; i++) {
        struct keel_enc e;
        char key[16];
        uint8_t *cmd;
        size_t n;
        snprintf(key, sizeof key, "key%d", i);
        keel_enc_init(&e, 1700000000000, 77, (uint64_t)i + 1);
        keel_enc_incrby(&e, keel_str(key), 100 + i);
        assert_int_equal(keel_enc_finish(&e, &cmd, &n), 0);
        keel_enc_close(&e);
        assert_int_equal(keel_store_apply(st, FIRST_INDEX + (uint64_t)i, cmd, n, &reply), 0);
        free(cmd);
    }
    keel_reply_close(&reply);
    if (keel_storage_snapshot_create(s, &snap, errmsg) != 0) fail_msg("snapshot: %s", errmsg);
    assert_int_equal(snap.info.applied, IMAGE_APPLIED);
    *len = KEEL_SNAPSHOT_HEADER + snap.data_len;
    uint8_t *p = malloc(*len);
    assert_non_null(p);
    memcpy(p, snap.header, KEEL_SNAPSHOT_HEADER);
    memcpy(p + KEEL_SNAPSHOT_HEADER, snap.data, snap.data_len);
    keel_snapshot_release(&snap);
    keel_store_destroy(st);
    keel_storage_close(s, true);
    return p;
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    if (fx == NULL || (fx->tmp = test_mkdtemp("offline")) == NULL) return -1;
    snprintf(fx->dir, sizeof fx->dir, "%s/node/data", fx->tmp);
    snprintf(fx->boot, sizeof fx->boot, "%s/boot", fx->tmp);
    test_write_text(fx->boot, "44444444-dddd\n");
    fx->port = uvnode_free_port();
    snprintf(fx->addr, sizeof fx->addr, "127.0.0.1:%u", fx->port);
    fx->image = make_image(fx, &fx->len);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    free(fx->image);
    test_rmdtemp(fx->tmp);
    free(fx);
    return 0;
}

static bool exists(const char *dir, const char *name)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static void open_node(struct fixture *fx, struct uvnode *n)
{
    struct uvnode_opts o = {.dir = fx->dir, .boot_id_path = fx->boot, .port = fx->port};
    uvnode_open(n, &o); /* waits (bounded) until it leads */
}

/* The image's keys, key0 incremented `extra` more since. */
static void check_keys(struct uvnode *n, int extra)
{
    for (int i = 0; i < NKEYS; i++) {
        char key[16];
        snprintf(key, sizeof key, "key%d", i);
        assert_int_equal(uvnode_get_int(n, key), 100 + i + (i == 0 ? extra : 0));
    }
}

static uint64_t version_of(struct uvnode *n, const char *key)
{
    uint64_t v = 0;
    assert_int_equal(keel_store_version(n->store, keel_str(key), 0, &v), 0);
    return v;
}

static void seed(struct fixture *fx, const struct keel_peer *voters, unsigned n, uint64_t term)
{
    char errmsg[KEEL_ERRMSG_SIZE] = "";
    int rc = keel_offline_seed(fx->dir, 1, fx->addr, voters, n, fx->image, fx->len, term, errmsg);
    if (rc != 0) fail_msg("seed: %d %s", rc, errmsg);
}

/* ---- configuration decoding ------------------------------------------- */

static void roundtrip(const struct raft_configuration *c)
{
    struct raft_buffer buf;
    struct raft_configuration d;
    assert_int_equal(raft_configuration_encode(c, &buf), 0);
    raft_configuration_init(&d);
    assert_int_equal(offline_conf_decode(buf.base, buf.len, &d), 0);
    assert_int_equal(d.n, c->n);
    for (unsigned i = 0; i < c->n; i++) {
        assert_true(d.servers[i].id == c->servers[i].id);
        assert_string_equal(d.servers[i].address, c->servers[i].address);
        assert_int_equal(d.servers[i].role, c->servers[i].role);
    }
    raft_configuration_close(&d);
    /* Every truncation is refused, none is read past. */
    for (size_t cut = 0; cut + 8 <= buf.len; cut++) {
        size_t len = buf.len - 8 - cut; /* drop the padding and more */
        uint8_t *copy = malloc(len + 1);
        memcpy(copy, buf.base, len);
        raft_configuration_init(&d);
        int rc = offline_conf_decode(copy, len, &d);
        raft_configuration_close(&d);
        free(copy);
        if (len < buf.len - 8) assert_int_equal(rc, RAFT_MALFORMED);
    }
    ((uint8_t *)buf.base)[0] = 2; /* an unknown format */
    raft_configuration_init(&d);
    assert_int_equal(offline_conf_decode(buf.base, buf.len, &d), RAFT_MALFORMED);
    raft_configuration_close(&d);
    raft_free(buf.base);
}

static void test_conf_decode(void **state)
{
    (void)state;
    struct raft_configuration c;
    raft_configuration_init(&c);
    assert_int_equal(raft_configuration_add(&c, 1, "127.0.0.1:9001", RAFT_VOTER), 0);
    roundtrip(&c);
    assert_int_equal(raft_configuration_add(&c, 0x0102030405060708ull, "10.0.0.2:65535",
                                            RAFT_STANDBY), 0);
    assert_int_equal(raft_configuration_add(&c, 3, "192.168.100.200:1", RAFT_SPARE), 0);
    roundtrip(&c);
    raft_configuration_close(&c);
}

/* ---- seed -------------------------------------------------------------- */

static void test_seed_one_voter(void **state)
{
    struct fixture *fx = *state;
    struct keel_peer v = {.id = 1};
    struct keel_node_status st;
    struct uvnode n;

    snprintf(v.address, sizeof v.address, "%s", fx->addr);
    seed(fx, &v, 1, 3);
    /* keeld's "pristine" test (api/keeld/keeld.c) must say no: it would bootstrap. */
    assert_true(exists(fx->dir, "raft/metadata1"));
    assert_false(exists(fx->dir, "kv")); /* filled by raft's restore at start */

    open_node(fx, &n);
    assert_false(n.wiped);
    assert_int_equal(n.fsm->stats.restores, 1);
    check_keys(&n, 0);
    keel_node_status(n.node, &st);
    assert_int_equal(st.snapshot_index, IMAGE_APPLIED);
    /* raft 0.15 makes a lone voter leader without a new term
     * (convertToCandidate's fast path): it leads in the seeded term. */
    assert_int_equal(st.term, 3);
    assert_int_equal(st.members, 1);
    assert_int_equal(uvnode_incr(&n, "fresh", 7), 0);
    assert_int_equal(uvnode_incr(&n, "key0", 1), 0);
    assert_true(version_of(&n, "fresh") > IMAGE_APPLIED);
    assert_int_equal(uvnode_get_int(&n, "key0"), 101);
    uvnode_close(&n);

    /* A restart loads the same snapshot, replays the rest, applies nothing twice. */
    open_node(fx, &n);
    check_keys(&n, 1);
    assert_int_equal(n.fsm->stats.restores, 0); /* the env already held it */
    assert_int_equal(uvnode_get_int(&n, "fresh"), 7);
    uvnode_close(&n);
}

static void test_seed_refusals(void **state)
{
    struct fixture *fx = *state;
    char errmsg[KEEL_ERRMSG_SIZE] = "", kv[4300], lock[4300];
    struct keel_peer v = {.id = 1};
    snprintf(v.address, sizeof v.address, "%s", fx->addr);

    /* A damaged image: refused before anything is created. */
    fx->image[KEEL_SNAPSHOT_HEADER + fx->len / 2 - 32] ^= 0x40;
    assert_int_equal(keel_offline_seed(fx->dir, 1, fx->addr, &v, 1, fx->image, fx->len, 1, errmsg),
                     KEEL_ECORRUPT);
    fx->image[KEEL_SNAPSHOT_HEADER + fx->len / 2 - 32] ^= 0x40;
    assert_false(exists(fx->tmp, "node"));

    /* Valid checksums, damaged pages: refused by the full check, nothing
     * created (the seeded node used to die in LMDB at its first start). */
    static const char *const kinds[] = {"psize0", "root-beyond", "garbage-branch", "tiny"};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        size_t blen;
        uint8_t *bad = keel_image_craft(fx->image, fx->len, kinds[k], &blen);
        assert_non_null(bad);
        errmsg[0] = 0;
        assert_int_equal(keel_offline_seed(fx->dir, 1, fx->addr, &v, 1, bad, blen, 1, errmsg),
                         KEEL_ECORRUPT);
        assert_non_null(strstr(errmsg, "snapshot image: "));
        assert_false(exists(fx->tmp, "node"));
        free(bad);
    }

    /* This node must be a voter, at its own address. */
    struct keel_peer other = {.id = 2, .address = "127.0.0.1:1"};
    assert_int_equal(keel_offline_seed(fx->dir, 1, fx->addr, &other, 1, fx->image, fx->len, 1,
                                       errmsg), KEEL_EINVAL);
    assert_int_equal(keel_offline_seed(fx->dir, 1, "127.0.0.1:2", &v, 1, fx->image, fx->len, 1,
                                       errmsg), KEEL_EINVAL);
    assert_int_equal(keel_offline_seed(fx->dir, 1, fx->addr, &v, 1, fx->image, fx->len, 0,
                                       errmsg), KEEL_EINVAL);
    struct keel_peer dup[2] = {v, v};
    assert_int_equal(keel_offline_seed(fx->dir, 1, fx->addr, dup, 2, fx->image, fx->len, 1,
                                       errmsg), KEEL_EINVAL);
    assert_false(exists(fx->tmp, "node"));

    /* A stale env without a raft log: restore would keep it over the image. */
    char node[4300];
    snprintf(node, sizeof node, "%s/node", fx->tmp);
    snprintf(kv, sizeof kv, "%s/kv", fx->dir);
    assert_int_equal(mkdir(node, 0700), 0);
    assert_int_equal(mkdir(fx->dir, 0700), 0);
    assert_int_equal(mkdir(kv, 0700), 0);
    strcat(kv, "/data.mdb");
    test_write_text(kv, "x");
    assert_int_equal(keel_offline_seed(fx->dir, 1, fx->addr, &v, 1, fx->image, fx->len, 1,
                                       errmsg), KEEL_EEXISTS);
    assert_non_null(strstr(errmsg, "already holds a node"));
    assert_false(exists(fx->dir, "raft/metadata1"));
    unlink(kv);
    kv[strlen(kv) - strlen("/data.mdb")] = 0;
    assert_int_equal(rmdir(kv), 0);

    /* A running keeld's lock. */
    snprintf(lock, sizeof lock, "%s/LOCK", fx->dir);
    int fd = open(lock, O_RDWR | O_CREAT, 0600);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    assert_int_equal(keel_offline_seed(fx->dir, 1, fx->addr, &v, 1, fx->image, fx->len, 1,
                                       errmsg), KEEL_EBUSY);
    assert_false(exists(fx->dir, "raft"));
    close(fd);

    /* Seeded once: a second seed is refused and changes nothing. */
    seed(fx, &v, 1, 1);
    assert_int_equal(keel_offline_seed(fx->dir, 1, fx->addr, &v, 1, fx->image, fx->len, 1,
                                       errmsg), KEEL_EEXISTS);
    assert_non_null(strstr(errmsg, "already holds a node"));
    struct uvnode n;
    open_node(fx, &n);
    check_keys(&n, 0);
    uvnode_close(&n);
}

/* ---- a damaged snapshot of the node's own ------------------------------ */

static void close_flag_cb(void *data);

static void put_cb(struct raft_io_snapshot_put *req, int status)
{
    struct offline_io *o = req->data;
    o->status = status;
    o->done = true;
}

static void io_closed_cb(struct raft_io *io)
{
    ((struct offline_io *)io->data)->closed = true;
}

/* What keel_offline_seed writes, through raft's own uv backend, but with
 * any image: the seed itself refuses damaged ones now. */
static void write_snapshot(struct fixture *fx, const uint8_t *image, size_t len, uint64_t index)
{
    char raftdir[4300], node[4300], errmsg[KEEL_ERRMSG_SIZE];
    struct offline_io o;
    struct raft_snapshot *loaded = NULL;
    struct raft_entry *entries = NULL;
    raft_term term;
    raft_id voted;
    raft_index start;
    size_t n;
    snprintf(node, sizeof node, "%s/node", fx->tmp);
    snprintf(raftdir, sizeof raftdir, "%s/raft", fx->dir);
    assert_int_equal(mkdir(node, 0700), 0);
    assert_int_equal(mkdir(fx->dir, 0700), 0);
    assert_int_equal(mkdir(raftdir, 0700), 0);
    assert_int_equal(offline_io_open(&o, raftdir, errmsg), 0);
    struct raft_io *io = &o.io;
    assert_int_equal(io->init(io, 1, fx->addr), 0);
    io->data = &o;
    assert_int_equal(io->load(io, &term, &voted, &loaded, &start, &entries, &n), 0);
    offline_load_free(loaded, entries, n);
    assert_int_equal(io->set_term(io, 1), 0);
    struct raft_configuration conf;
    raft_configuration_init(&conf);
    assert_int_equal(raft_configuration_add(&conf, 1, fx->addr, RAFT_VOTER), 0);
    struct raft_buffer buf = {.base = (void *)image, .len = len};
    struct raft_snapshot snap = {.index = index, .term = 1, .configuration = conf,
                                 .configuration_index = index, .bufs = &buf, .n_bufs = 1};
    struct raft_io_snapshot_put req = {.data = &o};
    assert_int_equal(io->snapshot_put(io, 0, &req, &snap, put_cb), 0);
    assert_true(offline_io_wait(&o, &o.done));
    assert_int_equal(o.status, 0);
    io->close(io, io_closed_cb);
    assert_true(offline_io_wait(&o, &o.closed));
    offline_io_release(&o);
    raft_configuration_close(&conf);
}

/* raft restores a node's newest snapshot at start (fsm->restore inside
 * raft_start): a damaged one is refused with its reason, the start fails
 * cleanly and the env is left alone. It used to crash the node in LMDB
 * (SIGFPE here) at every start. */
static void test_start_refuses_damaged_snapshot(void **state)
{
    struct fixture *fx = *state;
    char errmsg[KEEL_ERRMSG_SIZE] = "";
    size_t blen;
    uint8_t *bad = keel_image_craft(fx->image, fx->len, "psize0", &blen);
    assert_non_null(bad);
    write_snapshot(fx, bad, blen, IMAGE_APPLIED);
    free(bad);
    struct keel_peer v = {.id = 1};
    snprintf(v.address, sizeof v.address, "%s", fx->addr);
    struct keel_node_options no = {.id = 1, .dir = fx->dir, .address = fx->addr,
                                   .map_size = 64u << 20, .boot_id_path = fx->boot};
    struct keel_node *kn = NULL;
    uv_loop_t loop;
    bool closed = false;
    assert_int_equal(uv_loop_init(&loop), 0);
    int rc = keel_node_create(&loop, &no, &kn, errmsg);
    if (rc != 0) fail_msg("create: %s", errmsg);
    rc = keel_node_start(kn, errmsg);
    if (rc != KEEL_ECORRUPT || strstr(errmsg, "LMDB meta page 1 has page size 0") == NULL)
        fail_msg("start: %d \"%s\"", rc, errmsg);
    /* Which file, why, and the runbook step (raft/node_start.c). */
    assert_non_null(strstr(errmsg, "/raft/snapshot-1-"));
    assert_non_null(strstr(errmsg, ": fsm: restore: snapshot image: "));
    assert_non_null(strstr(errmsg, "docs/recovery.md"));
    keel_node_close(kn, close_flag_cb, &closed);
    while (!closed) uv_run(&loop, UV_RUN_ONCE);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_false(exists(fx->dir, "kv.restore"));
    assert_false(exists(fx->dir, "kv.old"));
}

/* ---- recover ----------------------------------------------------------- */

static void recover(struct fixture *fx, struct keel_recover_report *rep)
{
    char errmsg[KEEL_ERRMSG_SIZE] = "";
    int rc = keel_offline_recover(fx->dir, 1, fx->addr, rep, errmsg);
    if (rc != 0) fail_msg("recover: %d %s", rc, errmsg);
}

/* Seeded for three voters, two of them gone for good: node 1 alone can
 * never commit. Recovery makes it the only voter, keeping its state. */
static void test_recover_seeded(void **state)
{
    struct fixture *fx = *state;
    struct keel_peer v[3] = {{.id = 1}, {.id = 2, .address = "127.0.0.1:1"},
                             {.id = 3, .address = "127.0.0.1:2"}};
    struct keel_recover_report rep;
    struct keel_node_status st;
    struct uvnode n;

    snprintf(v[0].address, sizeof v[0].address, "%s", fx->addr);
    seed(fx, v, 3, 2);
    recover(fx, &rep);
    assert_int_equal(rep.n_members, 3);
    for (unsigned i = 0; i < 3; i++) {
        assert_true(rep.members[i].id == v[i].id);
        assert_string_equal(rep.members[i].address, v[i].address);
        assert_int_equal(rep.member_roles[i], 'v');
    }
    assert_int_equal(rep.snapshot_index, IMAGE_APPLIED);
    assert_int_equal(rep.last_index, IMAGE_APPLIED);
    assert_int_equal(rep.last_term, 2);
    assert_int_equal(rep.term, 2);
    assert_int_equal(rep.applied_index, 0); /* no env yet */
    assert_int_equal(rep.recover_index, IMAGE_APPLIED + 1);

    /* Again: the log already ends in exactly this membership. */
    recover(fx, &rep);
    assert_int_equal(rep.n_members, 1);
    assert_true(rep.members[0].id == 1);
    assert_int_equal(rep.last_index, IMAGE_APPLIED + 1);
    assert_int_equal(rep.last_term, 1); /* raft 0.15 writes it with term 1 */
    assert_int_equal(rep.term, 3);      /* raised by the first recover */
    assert_int_equal(rep.recover_index, 0);

    open_node(fx, &n);
    check_keys(&n, 0);
    keel_node_status(n.node, &st);
    assert_int_equal(st.members, 1);
    assert_int_equal(st.voters, 1);
    assert_int_equal(st.term, 3); /* the lone voter leads in the raised term */
    assert_int_equal(uvnode_incr(&n, "after", 5), 0);
    assert_true(version_of(&n, "after") > IMAGE_APPLIED + 1);
    uint64_t after = version_of(&n, "after");
    uvnode_close(&n);

    /* A node that has applied entries: the report shows LMDB's index too. */
    recover(fx, &rep);
    assert_int_equal(rep.applied_index, after); /* the last command applied */
    assert_true(rep.last_index >= after);
    assert_int_equal(rep.recover_index, 0);
}

static void close_flag_cb(void *data)
{
    *(bool *)data = true;
}

/* The usual case: the membership lives in a log entry (here the bootstrap
 * entry raft writes for three voters), decoded from raft's encoding. */
static void test_recover_log_configuration(void **state)
{
    struct fixture *fx = *state;
    struct keel_peer v[3] = {{.id = 1}, {.id = 2, .address = "127.0.0.1:1"},
                             {.id = 3, .address = "127.0.0.1:2"}};
    char errmsg[KEEL_NODE_ERRMSG_SIZE] = "", node[4300];
    struct keel_recover_report rep;
    struct keel_node *kn = NULL;
    uv_loop_t loop;
    bool closed = false;

    snprintf(v[0].address, sizeof v[0].address, "%s", fx->addr);
    snprintf(node, sizeof node, "%s/node", fx->tmp);
    assert_int_equal(mkdir(node, 0700), 0);
    assert_int_equal(mkdir(fx->dir, 0700), 0);
    struct keel_node_options no = {.id = 1, .dir = fx->dir, .address = fx->addr, .peers = v,
                                   .n_peers = 3, .map_size = 64u << 20, .boot_id_path = fx->boot};
    assert_int_equal(uv_loop_init(&loop), 0);
    int rc = keel_node_create(&loop, &no, &kn, errmsg);
    if (rc != 0) fail_msg("create: %s", errmsg);
    keel_node_close(kn, close_flag_cb, &closed);
    while (!closed) uv_run(&loop, UV_RUN_ONCE);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);

    /* keeld holds the lock while it runs. */
    char lock[4300];
    snprintf(lock, sizeof lock, "%s/LOCK", fx->dir);
    int fd = open(lock, O_RDWR | O_CREAT, 0600);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    assert_int_equal(keel_offline_recover(fx->dir, 1, fx->addr, &rep, errmsg), KEEL_EBUSY);
    close(fd);

    recover(fx, &rep);
    assert_int_equal(rep.n_members, 3);
    for (unsigned i = 0; i < 3; i++) {
        assert_true(rep.members[i].id == v[i].id);
        assert_string_equal(rep.members[i].address, v[i].address);
    }
    assert_int_equal(rep.snapshot_index, 0);
    assert_int_equal(rep.last_index, 1);
    assert_int_equal(rep.last_term, 1);
    assert_int_equal(rep.term, 1);
    assert_int_equal(rep.recover_index, 2);

    struct uvnode n;
    struct keel_node_status st;
    open_node(fx, &n);
    keel_node_status(n.node, &st);
    assert_int_equal(st.term, 2);
    assert_int_equal(st.members, 1);
    assert_int_equal(uvnode_incr(&n, "solo", 3), 0);
    assert_int_equal(uvnode_get_int(&n, "solo"), 3);
    uvnode_close(&n);
}

static void test_recover_nothing(void **state)
{
    struct fixture *fx = *state;
    char errmsg[KEEL_ERRMSG_SIZE] = "";
    struct keel_recover_report rep;
    assert_int_equal(keel_offline_recover(fx->dir, 1, fx->addr, &rep, errmsg), KEEL_ENOTFOUND);
    assert_int_equal(keel_offline_recover(fx->dir, 0, fx->addr, &rep, errmsg), KEEL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conf_decode),
        cmocka_unit_test_setup_teardown(test_seed_one_voter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_refuses_damaged_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seed_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover_seeded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover_log_configuration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover_nothing, setup, teardown),
    };
    return cmocka_run_group_tests_name("offline", tests, NULL, NULL);
}
