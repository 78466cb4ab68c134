/* tests/cluster: the random mixed workload. See workload.h. */
#include <stdio.h>
#include <string.h>

#include "storage/storage.h"
#include "store/store.h"
#include "workload.h"
#include "tests/lib/testlib.h"

void workload_init(struct workload *w, uint64_t seed)
{
    memset(w, 0, sizeof *w);
    w->rng = seed ? seed : 88172645463325252ull;
    w->last_counter = -1;
}

uint64_t workload_rand(struct workload *w)
{
    return test_xorshift64(&w->rng);
}

static struct keel_slice pick(struct workload *w, char *buf, const char *prefix, unsigned n)
{
    int len = snprintf(buf, 32, "%s%u", prefix, (unsigned)(workload_rand(w) % n));
    return (struct keel_slice){(const uint8_t *)buf, (size_t)len};
}

static struct keel_slice value(struct workload *w, char *buf, size_t cap)
{
    size_t n = 1 + workload_rand(w) % (cap - 1);
    for (size_t i = 0; i < n; i++) buf[i] = (char)('a' + workload_rand(w) % 26);
    return (struct keel_slice){(const uint8_t *)buf, n};
}

/* One command of a random type (no BATCH: the caller nests those). */
static void one(struct workload *w, struct keel_enc *e, int64_t now, bool in_batch)
{
    char k[32], f[32], v[300], v2[64];
    struct keel_slice keys[4], pairs[6];
    int64_t ttl = (int64_t)(workload_rand(w) % 4000) + 1;
    w->last_counter = -1;
    switch (workload_rand(w) % 27) {
        case 0:
        case 1:
            keel_enc_set(e, pick(w, k, "k", 64), value(w, v, sizeof v),
                         workload_rand(w) % 3 == 0 ? now + ttl : 0,
                         (unsigned)(workload_rand(w) % 2 ? 0 : KEEL_SET_GET));
            break;
        case 2:
            keel_enc_set(e, pick(w, k, "k", 64), value(w, v, 64), 0,
                         workload_rand(w) % 2 ? KEEL_SET_NX : KEEL_SET_XX | KEEL_SET_KEEPTTL);
            break;
        case 3: {
            char kb[4][32];
            uint32_t n = 1 + (uint32_t)(workload_rand(w) % 4);
            for (uint32_t i = 0; i < n; i++) keys[i] = pick(w, kb[i], "k", 64);
            keel_enc_del(e, keys, n);
            break;
        }
        case 4:
        case 5: {
            int i = (int)(workload_rand(w) % WORKLOAD_COUNTERS);
            int64_t d = (int64_t)(workload_rand(w) % 100) - 20;
            /* Batches may abort on their watch: they count elsewhere. */
            snprintf(k, sizeof k, "%sctr%d", in_batch ? "b" : "", i);
            keel_enc_incrby(e, keel_str(k), d);
            if (!in_batch) {
                w->last_counter = i;
                w->last_delta = d;
            }
            break;
        }
        case 6:
            keel_enc_expire(e, pick(w, k, "k", 64), now + ttl,
                            (unsigned)(workload_rand(w) % 2 ? 0 : KEEL_EXPIRE_GT));
            break;
        case 7:
            keel_enc_persist(e, pick(w, k, "k", 64));
            break;
        case 8: {
            char fb[3][32], vb[3][64];
            uint32_t n = 1 + (uint32_t)(workload_rand(w) % 3);
            for (uint32_t i = 0; i < n; i++) {
                pairs[2 * i] = pick(w, fb[i], "f", 8);
                pairs[2 * i + 1] = value(w, vb[i], sizeof vb[i]);
            }
            keel_enc_hset(e, pick(w, k, "h", 16), pairs, n);
            break;
        }
        case 9:
            keys[0] = pick(w, f, "f", 8);
            keel_enc_hdel(e, pick(w, k, "h", 16), keys, 1);
            break;
        case 10:
            keel_enc_hincrby(e, pick(w, k, "h", 16), pick(w, f, "n", 4),
                             (int64_t)(workload_rand(w) % 10));
            break;
        case 13: { /* sets: members are sub-keys, so replicas must agree on them too */
            char mb[3][32];
            uint32_t n = 1 + (uint32_t)(workload_rand(w) % 3);
            for (uint32_t i = 0; i < n; i++) keys[i] = pick(w, mb[i], "m", 16);
            if (workload_rand(w) % 3) keel_enc_sadd(e, pick(w, k, "s", 8), keys, n);
            else keel_enc_srem(e, pick(w, k, "s", 8), keys, n);
            break;
        }
        case 14:
            keel_enc_smove(e, pick(w, k, "s", 8), pick(w, f, "s", 8), pick(w, v2, "m", 16));
            break;
        case 15: { /* a destination among the strings now and then: SET over it, it over SET */
            char kb[2][32];
            keys[0] = pick(w, kb[0], "s", 8);
            keys[1] = pick(w, kb[1], "s", 8);
            keel_enc_sstore(e, 1 + (unsigned)(workload_rand(w) % 3),
                            workload_rand(w) % 4 ? pick(w, k, "s", 8) : pick(w, k, "k", 64), keys, 2);
            break;
        }
        case 16: { /* SPOP at a guessed version: mostly BUSY, sometimes applied */
            char mb[32];
            keys[0] = pick(w, mb, "m", 16);
            keel_enc_spop(e, pick(w, k, "s", 8), workload_rand(w) % 2 ? 0 : workload_rand(w) % 64, keys,
                          1, KEEL_SPOP_ONE);
            break;
        }
        case 17:
            if (workload_rand(w) % 2) keel_enc_rename(e, pick(w, k, "s", 8), pick(w, f, "s", 8), 0);
            else keel_enc_copy(e, pick(w, k, "s", 8), pick(w, f, "s", 8), KEEL_COPY_REPLACE);
            break;
        case 18: { /* lists: items are sub-keys by position; now and then onto a set (WRONGTYPE) */
            char ib[3][32];
            uint32_t n = 1 + (uint32_t)(workload_rand(w) % 3);
            for (uint32_t i = 0; i < n; i++) keys[i] = pick(w, ib[i], "i", 16);
            keel_enc_lpush(e, workload_rand(w) % 8 ? pick(w, k, "l", 8) : pick(w, k, "s", 8), keys, n,
                           (unsigned)(workload_rand(w) % 4));
            break;
        }
        case 19: /* pops (one, a count, none), or a RENAME/COPY of lists */
            if (workload_rand(w) % 4 == 0) {
                if (workload_rand(w) % 2) keel_enc_rename(e, pick(w, k, "l", 8), pick(w, f, "l", 8), 0);
                else keel_enc_copy(e, pick(w, k, "l", 8), pick(w, f, "l", 8), KEEL_COPY_REPLACE);
            } else if (workload_rand(w) % 2) {
                keel_enc_lpop(e, pick(w, k, "l", 8), 1, (unsigned)(workload_rand(w) % 2));
            } else {
                keel_enc_lpop(e, pick(w, k, "l", 8), workload_rand(w) % 4,
                              KEEL_LPOP_COUNT | (unsigned)(workload_rand(w) % 2));
            }
            break;
        case 20: /* edits that renumber (LREM, LINSERT), LSET with a bad index now and then, LTRIM */
            switch (workload_rand(w) % 4) {
                case 0:
                    keel_enc_lrem(e, pick(w, k, "l", 8), (int64_t)(workload_rand(w) % 5) - 2, pick(w, v2, "i", 16));
                    break;
                case 1:
                    keel_enc_linsert(e, pick(w, k, "l", 8), pick(w, f, "i", 16), pick(w, v2, "i", 16),
                                     (unsigned)(workload_rand(w) % 2));
                    break;
                case 2:
                    keel_enc_lset(e, pick(w, k, "l", 8), workload_rand(w) % 8 ? pick(w, f, "", 6) : keel_str("-1x"),
                                  pick(w, v2, "i", 16));
                    break;
                default:
                    keel_enc_ltrim(e, pick(w, k, "l", 8), (int64_t)(workload_rand(w) % 4) - 1,
                                   (int64_t)(workload_rand(w) % 12) - 3);
                    break;
            }
            break;
        case 21: /* LMOVE between lists (a rotation when both picks agree), now and then onto a set */
            keel_enc_lmove(e, pick(w, k, "l", 8), workload_rand(w) % 8 ? pick(w, f, "l", 8) : pick(w, f, "s", 8),
                           (unsigned)(workload_rand(w) % 4));
            break;
        case 22: { /* sorted sets: member, score and index sub-keys must agree */
            static const unsigned fl[] = {0, KEEL_ZADD_NX, KEEL_ZADD_XX | KEEL_ZADD_CH, KEEL_ZADD_GT,
                                          KEEL_ZADD_LT | KEEL_ZADD_CH, KEEL_ZADD_INCR};
            char mb[3][32];
            double sc[3];
            unsigned f0 = fl[workload_rand(w) % 6];
            uint32_t n = f0 == KEEL_ZADD_INCR ? 1 : 1 + (uint32_t)(workload_rand(w) % 3);
            for (uint32_t i = 0; i < n; i++) {
                keys[i] = pick(w, mb[i], "m", 16);
                sc[i] = (double)((int64_t)(workload_rand(w) % 41) - 20) / 4;
            }
            keel_enc_zadd(e, pick(w, k, "z", 8), sc, keys, n, f0);
            break;
        }
        case 23: {
            char mb[2][32];
            keys[0] = pick(w, mb[0], "m", 16);
            keys[1] = pick(w, mb[1], "m", 16);
            if (workload_rand(w) % 3) {
                keel_enc_zrem(e, pick(w, k, "z", 8), keys, 1 + (uint32_t)(workload_rand(w) % 2));
            } else { /* ZPOPMIN/ZPOPMAX or ZREMRANGEBYSCORE: apply picks from the index */
                static const unsigned ops[] = {KEEL_ZREM_POPMIN, KEEL_ZREM_POPMAX, KEEL_ZREM_SCORE};
                unsigned op = ops[workload_rand(w) % 3];
                double lo = (double)((int64_t)(workload_rand(w) % 21) - 10) / 4;
                keel_enc_zremrange(e, pick(w, k, "z", 8), op, 1 + (int64_t)(workload_rand(w) % 2), 0, lo, lo + 1,
                                   keys[0], keys[0]);
            }
            break;
        }
        case 24: { /* LMPOP/ZMPOP and the blocking pops' attempts */
            char kb[3][32];
            uint32_t n = 1 + (uint32_t)(workload_rand(w) % 3);
            bool z = workload_rand(w) % 2;
            for (uint32_t i = 0; i < n; i++) keys[i] = pick(w, kb[i], z ? "z" : "l", 8);
            keel_enc_mpop(e, keys, n, 1 + workload_rand(w) % 3,
                          (z ? KEEL_MPOP_ZSET : 0) | (workload_rand(w) % 2 ? KEEL_MPOP_LEFT : 0));
            break;
        }
        case 25: { /* the sorted-set algebra and ZRANGESTORE, computed in apply */
            char kb[3][32];
            if (workload_rand(w) % 2) {
                static const double wt[] = {1, 2.5, -1};
                static const unsigned ag[] = {0, KEEL_ZSTORE_MIN, KEEL_ZSTORE_MAX};
                uint32_t n = 1 + (uint32_t)(workload_rand(w) % 3);
                for (uint32_t i = 0; i < n; i++) keys[i] = pick(w, kb[i], workload_rand(w) % 4 ? "z" : "s", 8);
                keel_enc_zstore(e, (1 + (unsigned)(workload_rand(w) % 3)) | ag[workload_rand(w) % 3],
                                pick(w, k, "z", 8), keys, wt, n);
            } else {
                unsigned rev = workload_rand(w) % 2 ? KEEL_ZRS_REV : 0;
                int64_t a = (int64_t)(workload_rand(w) % 4) - 1, b = (int64_t)(workload_rand(w) % 6) - 2;
                if (workload_rand(w) % 2)
                    keel_enc_zrangestore(e, pick(w, k, "z", 8), pick(w, f, "z", 8), KEEL_ZSEL_RANK | rev, a, b,
                                         0, 0, keel_str(""), keel_str(""));
                else
                    keel_enc_zrangestore(e, pick(w, k, "z", 8), pick(w, f, "z", 8), KEEL_ZSEL_SCORE | rev, 0,
                                         b, -2, (double)a, keel_str(""), keel_str(""));
            }
            break;
        }
        case 26: /* databases: MOVE into db 1, SWAPDB of 1 and 2, FLUSHDB of one */
            if (in_batch || workload_rand(w) % 4) {
                uint8_t dk[40];
                struct keel_slice src = pick(w, k, "k", 64);
                memcpy(dk, KEEL_DB_PREFIX, KEEL_DB_PREFIX_LEN);
                dk[KEEL_DB_PREFIX_LEN] = 1;
                memcpy(dk + KEEL_DB_KEY_OVERHEAD, src.p, src.n);
                keel_enc_rename(e, src, (struct keel_slice){dk, KEEL_DB_KEY_OVERHEAD + src.n}, KEEL_RENAME_MOVE);
            } else if (workload_rand(w) % 2) {
                keel_enc_swapdb(e, 1, 2); /* not 0: the counters (ctr*) live there */
            } else {
                keel_enc_flushdb(e, 1 + (int64_t)(workload_rand(w) % 2));
            }
            break;
        case 11:
            keel_enc_cas(e, pick(w, k, "k", 64), KEEL_CAS_VERSION, workload_rand(w) % 50,
                         (struct keel_slice){NULL, 0}, value(w, v2, sizeof v2), 0);
            break;
        default: /* 12 */
            keel_enc_cas(e, pick(w, k, "k", 64), KEEL_CAS_VALUE | KEEL_CAS_ABSENT, 0,
                         (struct keel_slice){NULL, 0}, value(w, v2, sizeof v2), now + ttl);
            break;
    }
}

void workload_command(struct workload *w, struct keel_enc *e, int64_t now)
{
    uint64_t r = workload_rand(w) % 20;
    if (r == 0) {
        keel_enc_sweep(e, 1 + (int64_t)(workload_rand(w) % 16));
        w->last_counter = -1;
    } else if (r == 1) {
        char k[32];
        keel_enc_batch_begin(e);
        keel_enc_watch(e, pick(w, k, "k", 64), workload_rand(w) % 3 ? 0 : workload_rand(w) % 40);
        unsigned n = 1 + (unsigned)(workload_rand(w) % 4);
        for (unsigned i = 0; i < n; i++) one(w, e, now, true);
        w->last_counter = -1;
    } else {
        one(w, e, now, false);
    }
}

void workload_note_applied(struct workload *w)
{
    if (w->last_counter >= 0) w->counters[w->last_counter] += w->last_delta;
    w->last_counter = -1;
}
