/* tests/fuzz: the replicated command codec (store/codec.c). Every input is
 * decoded; a decoded command's lists are walked with the iterators (decode
 * promised they are valid, so a walk must end exactly at the list's end) and
 * then it is applied to a scratch store, as a follower applies whatever the
 * log holds: apply may reject the command, never crash or fail fatally. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/env.h"
#include "store/store.h"

static struct keel_storage *storage;
static struct keel_store *store;
static uint64_t next_index = 1;
static char dir[64];

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_codec: %s\n", what);
        abort();
    }
}

static void walk(const struct store_cmd *c, unsigned depth)
{
    struct keel_iter it;
    struct keel_slice s;
    uint32_t n = 0;
    if (c->type == STORE_CMD_BATCH) {
        uint64_t version;
        keel_iter_init(&it, c->watches);
        while (keel_iter_watch(&it, &s, &version)) n++;
        check(n == c->nwatch && it.p == it.end, "watch list");
        struct store_cmd sub;
        n = 0;
        keel_iter_init(&it, c->list);
        while (store_iter_cmd(&it, c, &sub)) {
            check(depth == 0 && sub.type != STORE_CMD_BATCH, "nested batch");
            walk(&sub, depth + 1);
            n++;
        }
        check(n == c->count && it.p == it.end, "batch list");
    } else if (c->type == STORE_CMD_DEL || c->type == STORE_CMD_HDEL || c->type == STORE_CMD_HSET) {
        keel_iter_init(&it, c->list);
        while (keel_iter_str(&it, &s)) n++;
        check(n == (c->type == STORE_CMD_HSET ? 2 * c->count : c->count) && it.p == it.end, "list");
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char errmsg[KEEL_ERRMSG_SIZE];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/keel-fuzz-codec-%d", tmp ? tmp : "/tmp", (int)getpid());
    check(mkdir(dir, 0700) == 0, "mkdir");
    struct keel_storage_options o = {.dir = dir, .map_size = 64 << 20};
    check(keel_storage_open(&o, &storage, NULL, errmsg) == 0, errmsg);
    check(keel_store_create(storage, &store) == 0, "store");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct store_cmd c;
    const char *msg = NULL;
    /* A private, aligned copy, as raft hands apply a buffer of its own. */
    uint8_t *buf = malloc(size ? size : 1);
    if (buf == NULL) return 0;
    memcpy(buf, data, size);
    if (store_cmd_decode(buf, size, &c, &msg) == 0) {
        walk(&c, 0);
        struct keel_reply reply;
        keel_reply_init(&reply);
        int rc = keel_store_apply(store, next_index++, buf, size, &reply);
        if (rc != 0) fprintf(stderr, "fuzz_codec: apply: %s\n", keel_store_errmsg(store));
        check(rc == 0, "apply failed fatally on a decoded command");
        keel_reply_close(&reply);
    } else {
        check(msg != NULL, "decode error without a reason");
    }
    free(buf);
    return 0;
}
