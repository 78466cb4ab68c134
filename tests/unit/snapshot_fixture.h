/* tests: the fixture of the snapshot tests (test_snapshot*.c): NENV scratch
 * envs and the images taken from them, freed by teardown; filling, reading,
 * snapshotting, resealing and restoring with checks. */
#ifndef KEEL_TESTS_SNAPSHOT_FIXTURE_H
#define KEEL_TESTS_SNAPSHOT_FIXTURE_H

#include "tests/unit/storage_fixture.h"

#include "storage/snapshot.h"

#define NENV 3
/* Up to NENV envs, each in its own scratch dir, plus images to free. */
struct fx
{
    char *dir[NENV];
    char boot[NENV][PATH_MAX];
    struct keel_storage_options opts[NENV];
    struct keel_storage *s[NENV];
    struct keel_snapshot snap;
    bool have_snap;
    uint8_t *image;
    uint8_t *image2;
};

int setup(void **state);
int teardown(void **state);
bool env_open(struct fx *f, int i);
void env_close(struct fx *f, int i);
void fill(struct keel_storage *s, uint64_t from, uint64_t to, uint64_t per_txn);
void put_str(struct keel_storage *s, const char *key, const char *val, uint64_t applied);
int get_str(struct keel_storage *s, const char *key, char *out, size_t size);
uint64_t key_count(struct keel_storage *s);
void snap_create(struct fx *f, struct keel_storage *s);
uint8_t *image_of(const struct keel_snapshot *snap, size_t *len);
void reseal(uint8_t *image);
int restore(struct keel_storage *s, const uint8_t *image, size_t len, bool *replaced,
            char *errmsg);
void check_b_intact(struct fx *f, uint64_t *digest, uint64_t *applied, int round);

#endif /* KEEL_TESTS_SNAPSHOT_FIXTURE_H */
