/* tests: the fixture of the storage env tests (test_storage*.c): NENV
 * scratch envs, each with two boot id files, opened and closed on demand, and
 * reads and writes with checks. */
#ifndef KEEL_TESTS_STORAGE_ENV_FIXTURE_H
#define KEEL_TESTS_STORAGE_ENV_FIXTURE_H

#include "tests/unit/storage_fixture.h"

#define NENV 2
/* Up to NENV envs, each in its own scratch dir, with two boot id files. */
struct fx
{
    char *dir[NENV];
    char boot_a[NENV][PATH_MAX];
    char boot_b[NENV][PATH_MAX];
    struct keel_storage_options opts[NENV];
    struct keel_storage *s[NENV];
};

int setup(void **state);
int teardown(void **state);
bool env_open(struct fx *f, int i);
void env_close(struct fx *f, int i, bool clean);
int put_in(struct keel_txn *txn, const char *key, const char *val, int64_t expire_at);
void put_str(struct keel_storage *s, const char *key, const char *val, int64_t expire_at,
             uint64_t applied);
void del_key(struct keel_storage *s, const char *key);
int get_str(struct keel_storage *s, const char *key, char *out, size_t size,
            struct keel_record *rec_out);
void assert_value(struct keel_storage *s, const char *key, const char *want);
void assert_absent(struct keel_storage *s, const char *key);
void dd_put(struct keel_txn *txn, uint64_t client, uint64_t seq, int64_t ts);
bool dd_has(struct keel_txn *txn, uint64_t client, uint64_t seq);

#endif /* KEEL_TESTS_STORAGE_ENV_FIXTURE_H */
