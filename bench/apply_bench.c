/* bench: how fast the state machine applies commands into LMDB, and how long
 * a snapshot image takes to make, check and restore at a given data size.
 *
 *   apply_bench [--dir DIR] [--count N] [--value-size B] [--snapshot-mb 100,1024]
 *               [--digest-keys 100000,1000000]
 *
 * Apply is measured on the store alone (no raft, no network): the ceiling the
 * layers above can reach. Each command is one LMDB write transaction, as in
 * the node. Snapshot figures: create (compact copy into memory + checksum),
 * verify (checksums), check (keel_image_check: structure + the LMDB walk in
 * a helper), restore (write + fsync + open + swap directories).
 * Digest figures: the replica digest of the consistency check
 * (storage_digest, what a HASH entry costs each replica) per key count. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage/image.h"
#include "store/store.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc, const char *msg)
{
    fprintf(stderr, "apply_bench: %s: %s (%s)\n", what, keel_strerror(rc), msg ? msg : "");
    exit(1);
}

struct env
{
    char dir[4096];
    struct keel_storage *storage;
    struct keel_store *store;
    uint64_t index;
};

static void env_open(struct env *e, const char *base, const char *name)
{
    char errmsg[KEEL_ERRMSG_SIZE], cmd[8300];
    snprintf(e->dir, sizeof e->dir, "%s/%s", base, name);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
    if (system(cmd) != 0 || mkdir(e->dir, 0700) != 0) die("mkdir", KEEL_EIO, strerror(errno));
    struct keel_storage_options o = {.dir = e->dir, .map_size = 4ull << 30};
    int rc = keel_storage_open(&o, &e->storage, NULL, errmsg);
    if (rc != 0) die("open", rc, errmsg);
    if ((rc = keel_store_create(e->storage, &e->store)) != 0) die("store", rc, NULL);
    e->index = keel_storage_applied(e->storage);
}

static void env_close(struct env *e)
{
    keel_store_destroy(e->store);
    keel_storage_close(e->storage, true);
}

/* Encode a SET of key<i> with a value of `size` bytes. */
static uint8_t *encode_set(uint64_t i, size_t size, char *val, size_t *len)
{
    char key[32];
    struct keel_enc enc;
    uint8_t *buf;
    snprintf(key, sizeof key, "key:%012llu", (unsigned long long)i);
    memset(val, 'a' + (int)(i % 26), size);
    keel_enc_init(&enc, 1700000000000LL + (int64_t)i, 0, 0);
    keel_enc_set(&enc, keel_str(key), (struct keel_slice){(uint8_t *)val, size}, 0, 0);
    if (keel_enc_finish(&enc, &buf, len) != 0) die("encode", KEEL_ENOMEM, NULL);
    keel_enc_close(&enc);
    return buf;
}

/* Apply `count` SETs of distinct keys starting at `first`; returns seconds. */
static double fill(struct env *e, uint64_t first, uint64_t count, size_t size)
{
    struct keel_reply reply;
    char *val = malloc(size);
    size_t len;
    keel_reply_init(&reply);
    /* Encoding is the leader's job, outside apply: keep it out of the timing
     * by encoding in batches. */
    enum { BATCH = 4096 };
    uint8_t **cmds = malloc(BATCH * sizeof *cmds);
    size_t *lens = malloc(BATCH * sizeof *lens);
    double spent = 0;
    for (uint64_t done = 0; done < count;) {
        uint64_t n = count - done < BATCH ? count - done : BATCH;
        for (uint64_t j = 0; j < n; j++) {
            cmds[j] = encode_set(first + done + j, size, val, &len);
            lens[j] = len;
        }
        double t0 = now_s();
        for (uint64_t j = 0; j < n; j++) {
            int rc = keel_store_apply(e->store, ++e->index, cmds[j], lens[j], &reply);
            if (rc != 0) die("apply", rc, keel_store_errmsg(e->store));
        }
        spent += now_s() - t0;
        for (uint64_t j = 0; j < n; j++) free(cmds[j]);
        done += n;
    }
    free(cmds);
    free(lens);
    free(val);
    keel_reply_close(&reply);
    return spent;
}

static void bench_apply(const char *base, uint64_t count, size_t size)
{
    struct env e;
    env_open(&e, base, "apply");
    double t = fill(&e, 0, count, size);
    printf("apply  SET new keys      %8llu cmds  %7.2f s  %9.0f cmds/s  (%zu-byte values)\n",
           (unsigned long long)count, t, count / t, size);
    t = fill(&e, 0, count, size);
    printf("apply  SET overwrite     %8llu cmds  %7.2f s  %9.0f cmds/s\n",
           (unsigned long long)count, t, count / t);
    env_close(&e);
}

static void bench_snapshot(const char *base, uint64_t mb, size_t size)
{
    struct env src, dst;
    struct keel_snapshot snap;
    struct keel_space sp;
    char errmsg[KEEL_ERRMSG_SIZE];
    bool replaced;
    env_open(&src, base, "snap-src");
    /* Fill until live data reaches the target size. */
    uint64_t keys = 0, target = mb << 20;
    double t_fill = 0;
    for (;;) {
        keel_storage_space(src.storage, &sp);
        if (sp.live_bytes >= target) break;
        uint64_t step = (target - sp.live_bytes) / (size + 64) + 1;
        if (step > 200000) step = 200000;
        t_fill += fill(&src, keys, step, size);
        keys += step;
    }
    double t0 = now_s();
    int rc = keel_storage_snapshot_create(src.storage, &snap, errmsg);
    if (rc != 0) die("snapshot", rc, errmsg);
    double t_create = now_s() - t0;
    /* What raft would hand to restore: header and data in one buffer. */
    size_t len = KEEL_SNAPSHOT_HEADER + snap.data_len;
    uint8_t *image = malloc(len);
    if (image == NULL) die("malloc", KEEL_ENOMEM, NULL);
    memcpy(image, snap.header, KEEL_SNAPSHOT_HEADER);
    memcpy(image + KEEL_SNAPSHOT_HEADER, snap.data, snap.data_len);
    keel_snapshot_release(&snap);
    t0 = now_s();
    rc = keel_snapshot_verify(image, len, NULL, errmsg);
    if (rc != 0) die("verify", rc, errmsg);
    double t_verify = now_s() - t0;
    t0 = now_s();
    rc = keel_image_check(image, len, 0, NULL, errmsg);
    if (rc != 0) die("image check", rc, errmsg);
    double t_check = now_s() - t0;
    env_open(&dst, base, "snap-dst");
    t0 = now_s();
    rc = keel_storage_restore(dst.storage, image, len, NULL, &replaced, errmsg);
    if (rc != 0 || !replaced) die("restore", rc, errmsg);
    double t_restore = now_s() - t0;
    uint64_t a1, d1, a2, d2;
    keel_storage_digest(src.storage, &a1, &d1);
    keel_storage_digest(dst.storage, &a2, &d2);
    if (a1 != a2 || d1 != d2) die("restore", KEEL_ECORRUPT, "digests differ");
    printf("snapshot %5llu MB live  %8llu keys  image %7.1f MB  create %6.2f s  verify %5.2f s"
           "  check %5.2f s  restore %6.2f s  (fill %.1f s)\n",
           (unsigned long long)mb, (unsigned long long)keys, len / 1048576.0, t_create,
           t_verify, t_check, t_restore, t_fill);
    free(image);
    env_close(&dst);
    env_close(&src);
}

/* The consistency check's digest of `keys` keys: a full walk of every tree
 * (keel_storage_digest), best of three. */
static void bench_digest(const char *base, uint64_t keys, size_t size)
{
    struct env e;
    uint64_t applied, digest;
    env_open(&e, base, "digest");
    fill(&e, 0, keys, size);
    double best = 1e9;
    for (int i = 0; i < 3; i++) {
        double t0 = now_s();
        int rc = keel_storage_digest(e.storage, &applied, &digest);
        if (rc != 0) die("digest", rc, keel_storage_errmsg(e.storage));
        double t = now_s() - t0;
        if (t < best) best = t;
    }
    printf("digest %8llu keys  %7.1f ms  %6.1f ms per 100k keys  (%zu-byte values)\n",
           (unsigned long long)keys, best * 1e3, best * 1e3 * 100000.0 / (double)keys, size);
    env_close(&e);
}

int main(int argc, char **argv)
{
    const char *dir = "/tmp/keel-apply-bench";
    uint64_t count = 500000;
    size_t size = 256;
    char mbs[256] = "100,1024";
    char digests[256] = "100000,1000000";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--count") && i + 1 < argc) count = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--value-size") && i + 1 < argc) size = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--snapshot-mb") && i + 1 < argc) snprintf(mbs, sizeof mbs, "%s", argv[++i]);
        else if (!strcmp(argv[i], "--digest-keys") && i + 1 < argc)
            snprintf(digests, sizeof digests, "%s", argv[++i]);
        else {
            fprintf(stderr, "usage: apply_bench [--dir DIR] [--count N] [--value-size B] "
                            "[--snapshot-mb 100,1024] [--digest-keys 100000,1000000]\n");
            return 2;
        }
    }
    mkdir(dir, 0700);
    bench_apply(dir, count, size);
    for (char *tok = strtok(mbs, ","); tok != NULL; tok = strtok(NULL, ",")) {
        uint64_t mb = strtoull(tok, NULL, 10);
        if (mb > 0) bench_snapshot(dir, mb, size);
    }
    for (char *tok = strtok(digests, ","); tok != NULL; tok = strtok(NULL, ",")) {
        uint64_t keys = strtoull(tok, NULL, 10);
        if (keys > 0) bench_digest(dir, keys, size);
    }
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
