/* storage: whole-env views: the replica digest and space accounting. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "storage/env.h"
#include "storage/snapshot.h"

void storage_digest_add(XXH3_state_t *st, uint8_t tag, const MDB_val *k, const MDB_val *v)
{
    uint8_t hdr[17];
    hdr[0] = tag;
    le64_store(hdr + 1, k->mv_size);
    le64_store(hdr + 9, v->mv_size);
    XXH3_64bits_update(st, hdr, sizeof hdr);
    XXH3_64bits_update(st, k->mv_data, k->mv_size);
    XXH3_64bits_update(st, v->mv_data, v->mv_size);
}

static int digest_dbi(MDB_txn *txn, MDB_dbi dbi, uint8_t tag, XXH3_state_t *st)
{
    MDB_cursor *c;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, dbi, &c);
    if (rc != 0) return rc;
    while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) storage_digest_add(st, tag, &k, &v);
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Every tree of s as txn sees it; an LMDB or errno code. Touches nothing
 * of s but its dbi handles, so any thread may run it on its own txn. */
static int digest_all(struct keel_storage *s, MDB_txn *txn, uint64_t *digest)
{
    XXH3_state_t *st = XXH3_createState();
    int rc = 0;
    if (st == NULL) return ENOMEM;
    XXH3_64bits_reset(st);
    MDB_dbi dbis[] = {s->data, s->exp, s->meta, s->dd, s->ddts, s->members};
    for (unsigned i = 0; rc == 0 && i < sizeof dbis / sizeof dbis[0]; i++) {
        rc = digest_dbi(txn, dbis[i], (uint8_t)i, st);
    }
    *digest = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return rc;
}

int storage_digest_txn(struct keel_txn *t, uint64_t *digest)
{
    int rc = digest_all(t->s, t->mdb, digest);
    return rc != 0 ? storage_error(t->s, rc, "digest") : 0;
}

int keel_storage_digest_begin(struct keel_storage *s, struct keel_digest_job *j)
{
    MDB_txn *txn;
    memset(j, 0, sizeof *j);
    /* Pinned first: a restore on this thread cannot swap the env between
     * the txn's start and the pool thread's walk. */
    keel_storage_pin(s);
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        keel_storage_unpin(s);
        return storage_error(s, rc, "digest: read txn");
    }
    j->s = s;
    j->txn = txn;
    j->applied = s->applied;
    return 0;
}

void keel_storage_digest_run(struct keel_digest_job *j)
{
    /* The env is opened MDB_NOTLS, so a read txn may move to another thread. */
    int rc = digest_all(j->s, j->txn, &j->digest);
    mdb_txn_abort(j->txn);
    j->txn = NULL;
    if (rc != 0) snprintf(j->errmsg, sizeof j->errmsg, "digest: %s", mdb_strerror(rc));
    j->rc = storage_mdb_code(rc);
    keel_storage_unpin(j->s);
}

int keel_storage_digest(struct keel_storage *s, uint64_t *applied, uint64_t *digest)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) return storage_error(s, rc, "digest");
    struct keel_txn t = {txn, s, false};
    rc = storage_digest_txn(&t, digest);
    if (rc == 0) rc = storage_meta_get(&t, "applied", applied);
    mdb_txn_abort(txn);
    return rc;
}

int keel_storage_space(struct keel_storage *s, struct keel_space *space)
{
    MDB_txn *txn;
    MDB_stat st;
    MDB_envinfo info;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) return storage_error(s, rc, "space");
    memset(space, 0, sizeof *space);
    uint64_t pages = 2; /* the two meta pages */
    unsigned psize = 4096;
    MDB_dbi dbis[] = {1 /* MAIN_DBI: the named dbis' directory */, s->data, s->exp, s->meta,
                      s->dd, s->ddts, s->members};
    for (unsigned i = 0; i < sizeof dbis / sizeof dbis[0]; i++) {
        if (mdb_stat(txn, dbis[i], &st) != 0) continue;
        pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
        psize = st.ms_psize;
        if (dbis[i] == s->data) space->keys = st.ms_entries;
        if (dbis[i] == s->exp) space->expires = st.ms_entries;
    }
    mdb_txn_abort(txn);
    mdb_env_info(s->env, &info);
    space->live_bytes = pages * psize;
    space->file_bytes = (info.me_last_pgno + 1) * (uint64_t)psize;
    space->map_size = info.me_mapsize;
    space->quota = s->opts.quota;
    return 0;
}

int keel_storage_quota_check(struct keel_storage *s, uint64_t incoming)
{
    struct keel_space sp;
    if (s->opts.quota == 0) return 0;
    int rc = keel_storage_space(s, &sp);
    if (rc != 0) return rc;
    if (sp.live_bytes + incoming > sp.quota) {
        snprintf(s->errmsg, sizeof s->errmsg, "live data %llu + %llu bytes over the quota of %llu",
                 (unsigned long long)sp.live_bytes, (unsigned long long)incoming,
                 (unsigned long long)sp.quota);
        return KEEL_ENOSPACE;
    }
    return 0;
}
