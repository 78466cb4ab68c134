/* tests: helpers shared by test_storage and test_snapshot: scratch envs with a
 * boot id file, opening them, transactions, files and digests. */
#ifndef KEEL_TESTS_UNIT_STORAGE_FIXTURE_H
#define KEEL_TESTS_UNIT_STORAGE_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/storage.h"
#include "tests/lib/slice.h"
#include "tests/lib/testlib.h"

/* Whether dir/name exists. */
static inline bool exists(const char *dir, const char *name)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* Make a scratch dir for one env (named after tag), write boot_id into the
 * file boot_name in it (its path into boot, PATH_MAX bytes) and point o at
 * both. Returns the malloc'd dir, or NULL. */
static inline char *env_scratch(const char *tag, const char *boot_name, const char *boot_id,
                                char *boot, struct keel_storage_options *o)
{
    char *dir = test_mkdtemp(tag);
    if (dir == NULL) return NULL;
    snprintf(boot, PATH_MAX, "%s/%s", dir, boot_name);
    test_write_text(boot, boot_id);
    o->dir = dir;
    o->boot_id_path = boot;
    return dir;
}

/* A one-field hash value (store/hash.h's encoding) of field f and value v
 * into out (16 + their sizes); returns its size. */
static inline size_t hash_value1(uint8_t *out, const char *f, const uint8_t *v, size_t vn)
{
    size_t fn = strlen(f), o = 0;
    uint32_t words[3] = {1, (uint32_t)fn, (uint32_t)vn};
    memcpy(out + o, &words[0], 4), o += 4;
    memcpy(out + o, &words[1], 4), o += 4;
    memcpy(out + o, f, fn), o += fn;
    memcpy(out + o, &words[2], 4), o += 4;
    memcpy(out + o, v, vn), o += vn;
    return o;
}

/* Close env s cleanly (NULL: not open) and remove its scratch dir. */
static inline void env_remove(struct keel_storage *s, char *dir)
{
    keel_storage_close(s, true);
    test_rmdtemp(dir);
}

/* Open the env of o into *s, failing the test on error; returns whether it
 * was wiped. */
static inline bool env_open_with(const struct keel_storage_options *o, struct keel_storage **s)
{
    char errmsg[KEEL_ERRMSG_SIZE] = "";
    bool wiped = true;
    int rc = keel_storage_open(o, s, &wiped, errmsg);
    if (rc != 0) fail_msg("open %s: %d %s", o->dir, rc, errmsg);
    return wiped;
}

static inline void begin(struct keel_storage *s, bool write, struct keel_txn *txn)
{
    int rc = storage_txn_begin(s, write, txn);
    if (rc != 0) fail_msg("begin: %d %s", rc, keel_storage_errmsg(s));
}

static inline void commit(struct keel_txn *txn)
{
    int rc = storage_txn_commit(txn);
    if (rc != 0) fail_msg("commit: %d %s", rc, keel_storage_errmsg(txn->s));
}

/* The env's digest; its applied index into *applied unless NULL. */
static inline uint64_t digest_of(struct keel_storage *s, uint64_t *applied)
{
    uint64_t d = 0, a = 0;
    assert_int_equal(keel_storage_digest(s, &a, &d), 0);
    if (applied != NULL) *applied = a;
    return d;
}

#endif /* KEEL_TESTS_UNIT_STORAGE_FIXTURE_H */
