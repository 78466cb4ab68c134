/* tests/fuzz: the restore path. Input: the LMDB part of a snapshot image
 * (the fuzzer mutates pages; the header and its checksums are made here, or
 * the checksums would stop almost every input). Every input goes through
 * keel_image_check_data with the LMDB walk in this process, so a crash in
 * LMDB is a crash of the target: the checks let a damaged image through.
 * An accepted image must then restore into a scratch env, open, digest as
 * the check said, read every key through the store (strings, hashes, TTLs,
 * the expiry index) and take writes through apply: never a crash, and the
 * digest must match (else abort: a finding). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/env.h"
#include "storage/image.h"
#include "store/store.h"

static char base[64];

static void die(const char *what, int rc, const char *msg)
{
    fprintf(stderr, "fuzz_restore: %s: %d %s\n", what, rc, msg ? msg : "");
    abort();
}

#define TOUCH 16 /* keys read that are then changed through apply */

struct reader
{
    struct keel_store *st;
    unsigned n;
    struct
    {
        uint8_t key[KEEL_MAX_KEY];
        size_t len;
        bool hash;
    } touch[TOUCH];
};

static int each_key(void *arg, struct keel_slice key, const struct keel_record *rec)
{
    struct reader *r = arg;
    struct keel_reply reply;
    keel_reply_init(&reply);
    int64_t now = 1700000000000;
    if (keel_store_get(r->st, key, now, &reply) != 0 ||
        keel_store_pttl(r->st, key, now, &reply) != 0 ||
        (rec->type == KEEL_TYPE_HASH && keel_store_hgetall(r->st, key, now, &reply) != 0))
        die("read", 0, keel_store_errmsg(r->st));
    keel_reply_close(&reply);
    if (r->n < TOUCH) {
        memcpy(r->touch[r->n].key, key.p, key.n);
        r->touch[r->n].len = key.n;
        r->touch[r->n].hash = rec->type == KEEL_TYPE_HASH;
    }
    r->n++;
    return 0;
}

static int count_cb(void *arg, struct keel_slice key, const struct keel_record *rec)
{
    (void)key;
    (void)rec;
    (*(unsigned *)arg)++;
    return 0;
}

/* Apply one encoded command at index; a fatal error is a finding. */
static void apply(struct keel_store *st, uint64_t index, struct keel_enc *e)
{
    uint8_t *buf;
    size_t len;
    struct keel_reply reply;
    if (keel_enc_finish(e, &buf, &len) != 0) die("encode", 0, NULL);
    keel_reply_init(&reply);
    int rc = keel_store_apply(st, index, buf, len, &reply);
    if (rc != 0) die("apply", rc, keel_store_errmsg(st));
    keel_reply_close(&reply);
    free(buf);
}

static void exercise(const uint8_t *img, size_t len, const struct keel_image_report *rep)
{
    char dir[128], errmsg[KEEL_ERRMSG_SIZE];
    static unsigned seq;
    struct keel_storage *s;
    struct keel_store *st;
    bool replaced;
    snprintf(dir, sizeof dir, "%s/%u", base, seq++);
    if (mkdir(dir, 0700) != 0) die("mkdir", 0, dir);
    struct keel_storage_options o = {.dir = dir, .map_size = 64 << 20};
    int rc = keel_storage_open(&o, &s, NULL, errmsg);
    if (rc != 0) die("open", rc, errmsg);
    rc = keel_storage_restore(s, img, len, rep, &replaced, errmsg);
    if (rc != 0) die("restore of an accepted image", rc, errmsg);
    if (!replaced) { /* applied index 0: nothing newer than the empty env */
        if (rep->applied != 0) die("an image newer than an empty env was not restored", 0, NULL);
        keel_storage_close(s, false);
        storage_rmtree(dir);
        return;
    }
    uint64_t applied, digest;
    if ((rc = keel_storage_digest(s, &applied, &digest)) != 0) die("digest", rc, keel_storage_errmsg(s));
    /* An image of an older format is migrated as it is restored (format 4
     * builds the sorted sets' rank index: derived sub-keys the digest
     * covers), so only a current one must keep the check's digest. */
    if (applied != rep->applied || (rep->format == STORAGE_FORMAT && digest != rep->digest))
        die("digest differs from the check's", 0, NULL);
    if ((rc = keel_store_create(s, &st)) != 0) die("store", rc, NULL);
    /* Every record, expired or not, then every live key through the store. */
    struct keel_txn txn;
    struct keel_slice first, none = {NULL, 0};
    unsigned all = 0;
    if (storage_txn_begin(s, false, &txn) != 0) die("begin", 0, keel_storage_errmsg(s));
    if (storage_scan(&txn, none, count_cb, &all) != 0) die("scan", 0, keel_storage_errmsg(s));
    storage_txn_abort(&txn);
    if (all != rep->keys) die("key count differs from the check's", (int)all, NULL);
    struct keel_read rd;
    static struct reader r; /* 16 keys of up to 64 KiB: not on the stack */
    memset(&r, 0, sizeof r);
    r.st = st;
    if (keel_read_begin(st, 1700000000000, &rd) != 0) die("read begin", 0, keel_store_errmsg(st));
    if (keel_read_scan(&rd, none, each_key, &r) != 0) die("live scan", 0, keel_store_errmsg(st));
    keel_read_expired(&rd, INT64_MAX, &first);
    keel_read_end(&rd);
    /* Writes: each of the first keys read changed (HSET or APPEND) and
     * deleted, a new key with a TTL, a sweep of everything expired, a HASH. */
    struct keel_enc e;
    uint64_t at = applied;
    for (unsigned i = 0; i < r.n && i < TOUCH; i++) {
        struct keel_slice k = {r.touch[i].key, r.touch[i].len};
        struct keel_slice pair[] = {keel_str("fuzz"), keel_str("1")};
        keel_enc_init(&e, 1800000000000, 0, 0);
        if (r.touch[i].hash) keel_enc_hset(&e, k, pair, 1);
        else keel_enc_append(&e, k, keel_str("+"));
        apply(st, ++at, &e);
        keel_enc_init(&e, 1800000000000, 0, 0);
        keel_enc_del(&e, &k, 1);
        apply(st, ++at, &e);
    }
    applied = at;
    keel_enc_init(&e, 1800000000000, 7, applied + 1);
    keel_enc_set(&e, keel_str("fuzz-new"), keel_str("v"), 1800000001000, 0);
    apply(st, applied + 1, &e);
    keel_enc_init(&e, 1800000000001, 7, applied + 2);
    keel_enc_sweep(&e, 1000);
    apply(st, applied + 2, &e);
    keel_enc_init(&e, 1800000000002, 0, 0);
    keel_enc_hash(&e);
    apply(st, applied + 3, &e);
    keel_store_destroy(st);
    keel_storage_close(s, false);
    storage_rmtree(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(base, sizeof base, "%s/keel-fuzz-restore-%d", tmp ? tmp : "/tmp", (int)getpid());
    if (mkdir(base, 0700) != 0) die("mkdir", 0, base);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct keel_image_report rep;
    char errmsg[KEEL_ERRMSG_SIZE];
    if (keel_image_check_data(data, size, KEEL_IMAGE_IN_PROCESS, &rep, errmsg) != 0) return 0;
    /* Accepted: give it the header a leader would. */
    size_t len = KEEL_SNAPSHOT_HEADER + size;
    uint8_t *img = calloc(1, len);
    if (img == NULL) return 0;
    memcpy(img, KEEL_SNAPSHOT_MAGIC, 8);
    img[8] = KEEL_SNAPSHOT_VERSION;
    img[12] = KEEL_SNAPSHOT_HEADER;
    le64_store(img + 16, rep.applied);
    le64_store(img + 40, rep.keys);
    memcpy(img + KEEL_SNAPSHOT_HEADER, data, size);
    keel_image_reseal(img, len);
    if (keel_snapshot_verify(img, len, &rep.info, errmsg) != 0) die("header", 0, errmsg);
    exercise(img, len, &rep);
    free(img);
    return 0;
}
