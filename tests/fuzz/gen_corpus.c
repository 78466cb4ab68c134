/* tests/fuzz: writes the seed corpora of the fuzz targets into DIR/restore,
 * DIR/codec and DIR/resp (usage: fuzz_gen_corpus tests/fuzz/corpus). The
 * output is committed; run it again after a format change. Seeds are small
 * valid inputs of every shape the targets know, so that the fuzzer starts
 * from deep inside the formats. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/env.h"
#include "storage/image.h"
#include "store/store.h"

static const char *out;

static void die(const char *what)
{
    fprintf(stderr, "gen_corpus: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void put(const char *target, const char *name, const void *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", out, target);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", out, target, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0) die(path);
}

/* ---- codec: one command of each type, and a batch ---------------------- */

static uint8_t *enc_done(struct keel_enc *e, size_t *len)
{
    uint8_t *buf;
    if (keel_enc_finish(e, &buf, len) != 0) die("encode");
    return buf;
}

static void codec(struct keel_store *st, uint64_t *index)
{
    struct keel_slice k = keel_str("key"), v = keel_str("value"), f = keel_str("field");
    struct keel_slice pairs[] = {keel_str("a"), keel_str("1"), keel_str("b"), keel_str("2")};
    struct keel_enc e;
    size_t len;
    struct keel_slice members[] = {keel_str("m1"), keel_str(""), keel_str("m3")};
    struct keel_slice zsrc[] = {keel_str("s"), keel_str("nosuch")};
    static const double weights[] = {2.5, -1};
    for (int t = 0; t < 35; t++) {
        keel_enc_init(&e, 1700000000000 + t, t % 2 ? 9 : 0, (uint64_t)t + 1);
        switch (t) {
            case 0: keel_enc_noop(&e); break;
            case 1: keel_enc_set(&e, k, v, 1700000100000, KEEL_SET_GET); break;
            case 2: keel_enc_del(&e, pairs, 2); break;
            case 3: keel_enc_incrby(&e, keel_str("n"), 5); break;
            case 4: keel_enc_expire(&e, k, 1700000200000, KEEL_EXPIRE_GT); break;
            case 5: keel_enc_persist(&e, k); break;
            case 6: keel_enc_hset(&e, keel_str("h"), pairs, 2); break;
            case 7: keel_enc_hdel(&e, keel_str("h"), pairs, 1); break;
            case 8: keel_enc_hincrby(&e, keel_str("h"), f, -3); break;
            case 9: keel_enc_cas(&e, k, KEEL_CAS_VALUE, 0, v, keel_str("new"), 0); break;
            case 10: keel_enc_sweep(&e, 100); break;
            case 11: keel_enc_append(&e, k, v); break;
            case 12: keel_enc_getdel(&e, keel_str("n")); break;
            case 13: keel_enc_getex(&e, k, 1700000300000, 0); break;
            case 14: keel_enc_hash(&e); break;
            case 15:
                keel_enc_batch_begin(&e);
                keel_enc_watch(&e, k, 3);
                keel_enc_set(&e, k, v, 0, 0);
                keel_enc_hset(&e, keel_str("h2"), pairs, 2);
                keel_enc_del(&e, &k, 1);
                break;
            case 16: keel_enc_cas(&e, keel_str("c"), KEEL_CAS_ABSENT, 0, keel_str(""), v, 1700000400000); break;
            case 17: keel_enc_sadd(&e, keel_str("s"), members, 3); break;
            case 18: keel_enc_srem(&e, keel_str("s"), members, 1); break;
            case 19: keel_enc_smove(&e, keel_str("s"), keel_str("s2"), keel_str("m3")); break;
            case 20: keel_enc_sstore(&e, KEEL_SSTORE_UNION, keel_str("s3"), members, 1); break;
            case 21: keel_enc_spop(&e, keel_str("s"), 0, members + 1, 1, KEEL_SPOP_ONE); break;
            case 22: keel_enc_lpush(&e, keel_str("l"), members, 3, KEEL_LIST_LEFT); break;
            case 23: keel_enc_lpop(&e, keel_str("l"), 2, KEEL_LPOP_COUNT); break;
            case 24: keel_enc_lset(&e, keel_str("l"), keel_str("-1"), v); break;
            case 25: keel_enc_linsert(&e, keel_str("l"), v, f, KEEL_LINSERT_BEFORE); break;
            case 26: keel_enc_lrem(&e, keel_str("l"), -1, v); break;
            case 27: keel_enc_ltrim(&e, keel_str("l"), 0, -2); break;
            case 28: keel_enc_lmove(&e, keel_str("l"), keel_str("l2"), KEEL_LMOVE_TO_LEFT); break;
            case 29: keel_enc_mpop(&e, pairs, 2, 2, KEEL_MPOP_LEFT); break;
            case 30: keel_enc_zstore(&e, KEEL_SSTORE_UNION | KEEL_ZSTORE_MAX, keel_str("z"), zsrc, weights, 2); break;
            case 31: keel_enc_zrangestore(&e, keel_str("z2"), keel_str("z"), KEEL_ZRS_REV | 1, 0, -1, 0, 2, v, v); break;
            /* databases (storage.h's KEEL_DB_PREFIX): MOVE, SWAPDB, FLUSHDB */
            case 32:
                keel_enc_rename(&e, keel_str("l2"), keel_str("\xffkeel:\xfe\x01l2"),
                                KEEL_RENAME_NX | KEEL_RENAME_MOVE);
                break;
            case 33: keel_enc_swapdb(&e, 1, 2); break;
            case 34: keel_enc_flushdb(&e, 2); break;
        }
        uint8_t *buf = enc_done(&e, &len);
        char name[32];
        snprintf(name, sizeof name, "cmd-%02d", t);
        put("codec", name, buf, len);
        struct keel_reply r;
        keel_reply_init(&r);
        if (keel_store_apply(st, (*index)++, buf, len, &r) != 0) die("apply");
        keel_reply_close(&r);
        free(buf);
    }
}

/* ---- restore: LMDB copies of small envs -------------------------------- */

static void image(struct keel_storage *s, const char *name, bool compact)
{
    char errmsg[KEEL_ERRMSG_SIZE];
    struct keel_snapshot snap;
    if (keel_storage_snapshot_create(s, &snap, errmsg) != 0) die(errmsg);
    if (compact) {
        put("restore", name, snap.data, snap.data_len);
    } else {
        int fd = memfd_create("plain", MFD_CLOEXEC);
        struct stat st;
        if (fd < 0 || mdb_env_copyfd2(s->env, fd, 0) != 0 || fstat(fd, &st) != 0) die("copy");
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) die("mmap");
        put("restore", name, p, (size_t)st.st_size);
        munmap(p, (size_t)st.st_size);
        close(fd);
    }
    keel_snapshot_release(&snap);
}

static void apply_many(struct keel_store *st, uint64_t *index, int n, size_t vlen)
{
    static char big[9000];
    memset(big, 'x', sizeof big);
    for (int i = 0; i < n; i++) {
        struct keel_enc e;
        size_t len;
        char key[32];
        snprintf(key, sizeof key, "k%03d", i);
        keel_enc_init(&e, 1700000000000 + i, 5, (uint64_t)*index);
        if (i % 3 == 0) {
            struct keel_slice pairs[] = {keel_str("f"), {(const uint8_t *)big, vlen}};
            keel_enc_hset(&e, keel_str(key), pairs, 1);
        } else if (i % 5 == 1) { /* a set: its members in "members", long ones hashed */
            struct keel_slice m[] = {keel_str("m"), {(const uint8_t *)big, vlen}};
            keel_enc_sadd(&e, keel_str(key), m, 2);
        } else {
            keel_enc_set(&e, keel_str(key), (struct keel_slice){(const uint8_t *)big, vlen},
                         i % 4 ? 0 : 1700001000000 + i, 0);
        }
        uint8_t *buf = enc_done(&e, &len);
        struct keel_reply r;
        keel_reply_init(&r);
        if (keel_store_apply(st, (*index)++, buf, len, &r) != 0) die("apply");
        keel_reply_close(&r);
        free(buf);
    }
}

/* Keys over 511 bytes (storage format 3): stored under their hash with the
 * name in the record; some expiring (their expiry entries name them). */
static void apply_long(struct keel_store *st, uint64_t *index)
{
    static const size_t lens[] = {504, 600, 2000, 5000};
    static char key[5000];
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        struct keel_enc e;
        size_t len;
        memset(key, 'a' + (int)i, sizeof key);
        struct keel_slice k = {(const uint8_t *)key, lens[i]};
        keel_enc_init(&e, 1700000020000 + (int64_t)i, 5, (uint64_t)*index);
        if (i == 3) {
            struct keel_slice pairs[] = {k, keel_str("v")}; /* a 5000-byte field too */
            keel_enc_hset(&e, k, pairs, 1);
        } else {
            keel_enc_set(&e, k, keel_str("long"), i % 2 ? 0 : 1700002000000 + (int64_t)i, 0);
        }
        uint8_t *buf = enc_done(&e, &len);
        struct keel_reply r;
        keel_reply_init(&r);
        if (keel_store_apply(st, (*index)++, buf, len, &r) != 0) die("apply");
        keel_reply_close(&r);
        free(buf);
    }
}

/* ---- resp: requests and replies ---------------------------------------- */

static void resp(void)
{
    static const char *const seeds[] = {
        "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n",
        "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
        "PING\r\n",
        "SET \"a b\" 'c d' \"\\x41\\n\"\r\n",
        "*0\r\n",
        "*-1\r\n",
        "*2\r\n$-1\r\n$0\r\n\r\n",
        "+OK\r\n",
        "-ERR bad\r\n",
        ":-42\r\n",
        "*3\r\n$1\r\na\r\n*1\r\n:1\r\n_\r\n",
        "%1\r\n+a\r\n,1.5\r\n",
        "~2\r\n#t\r\n(12345678901234567890\r\n",
        "=15\r\ntxt:Some string\r\n",
        ">2\r\n+message\r\n!3\r\nerr\r\n",
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "seed-%02zu", i);
        put("resp", name, seeds[i], strlen(seeds[i]));
    }
}

int main(int argc, char **argv)
{
    char errmsg[KEEL_ERRMSG_SIZE], dir[] = "/tmp/keel-gen-corpus-XXXXXX";
    struct keel_storage *s = NULL;
    struct keel_store *st = NULL;
    uint64_t index = 1;
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    out = argv[1];
    mkdir(out, 0755);
    if (mkdtemp(dir) == NULL) die("mkdtemp");
    struct keel_storage_options o = {.dir = dir};
    if (keel_storage_open(&o, &s, NULL, errmsg) != 0 || keel_store_create(s, &st) != 0) die(errmsg);
    image(s, "empty", true);
    codec(st, &index);
    image(s, "commands", true);
    apply_many(st, &index, 40, 20);
    image(s, "small", true);
    apply_many(st, &index, 2, 3000); /* overflow pages */
    image(s, "overflow", true);
    apply_long(st, &index);
    image(s, "longkeys", true);
    keel_store_destroy(st);
    keel_storage_close(s, false);
    storage_rmtree(dir);
    /* A plain copy of a fresh env that deleted keys: it has a free list. */
    if (mkdir(dir, 0700) != 0) die(dir);
    index = 1;
    if (keel_storage_open(&o, &s, NULL, errmsg) != 0 || keel_store_create(s, &st) != 0) die(errmsg);
    apply_many(st, &index, 12, 200);
    struct keel_enc e;
    struct keel_slice gone[] = {keel_str("k001"), keel_str("k002"), keel_str("k004"), keel_str("k005")};
    size_t len;
    keel_enc_init(&e, 1700000009999, 0, 0);
    keel_enc_del(&e, gone, 4);
    uint8_t *buf = enc_done(&e, &len);
    struct keel_reply r;
    keel_reply_init(&r);
    if (keel_store_apply(st, index++, buf, len, &r) != 0) die("apply");
    keel_reply_close(&r);
    free(buf);
    image(s, "plain-copy", false);
    keel_store_destroy(st);
    keel_storage_close(s, false);
    storage_rmtree(dir);
    resp();
    return 0;
}
