/* store: Keel's deterministic replicated state machine.
 *
 * keel_store_apply() applies one committed raft entry to the keyspace in one
 * LMDB transaction that also records the entry's index. It is deterministic:
 * the only inputs are the entry bytes, the index and the stored state. Time is
 * the leader's timestamp carried in the entry, made monotonic by the stored
 * logical clock (max of every timestamp applied so far), so a leader with a
 * slower clock can never bring an expired key back. Nothing here reads a clock
 * or a random source.
 *
 * Apply never fails for a reason that could differ between replicas: a bad
 * command commits as a no-op with an error reply. It returns non-zero only for
 * a local fatal condition (disk I/O error, corrupt env, out of memory, map at
 * its limit), after which the node must stop and restart.
 *
 * Threading: the loop thread, except that snapshots may be copied from the
 * storage on a pool thread meanwhile (see storage/snapshot.h). */
#ifndef KEEL_STORE_H
#define KEEL_STORE_H

#include <stdint.h>

#include "storage/storage.h"
#include "store/acl.h"
#include "store/codec.h"
#include "store/events.h"
#include "store/hash.h"
#include "store/reply.h"
#include "store/score.h"

/* Part of the replicated format: every replica must use the same values, so
 * they are constants, not options. A retried (client, seq) is recognised for
 * at least DEDUPE_TTL_MS of log time, unless more than DEDUPE_MAX newer
 * entries pushed it out. Replies bigger than DEDUPE_MAX_REPLY are remembered
 * as "applied, reply lost". */
#define KEEL_DEDUPE_TTL_MS 60000
#define KEEL_DEDUPE_MAX 262144
#define KEEL_DEDUPE_MAX_REPLY 65536
#define KEEL_DEDUPE_EVICT_BUDGET 4

struct keel_store;

struct keel_store_stats
{
    uint64_t applied;     /* entries applied */
    uint64_t skipped;     /* entries at or below the stored index (replay) */
    uint64_t rejected;    /* entries that failed to decode */
    uint64_t deduped;     /* retried proposals answered from the table */
    uint64_t expired;     /* keys deleted by sweeps */
    uint64_t map_grows;
    uint64_t disk_reclaims; /* applies retried after the disk reserve was released */
};

/* Wrap an open storage. The store does not own it: close the store first,
 * then the storage. Errors: KEEL_ENOMEM. */
int keel_store_create(struct keel_storage *storage, struct keel_store **out);
void keel_store_destroy(struct keel_store *st);

struct keel_storage *keel_store_storage(struct keel_store *st);
const char *keel_store_errmsg(const struct keel_store *st);
void keel_store_stats(const struct keel_store *st, struct keel_store_stats *stats);

/* The digest of the state as of the last HASH entry this replica applied
 * (everything before its index), and that index; 0, 0 if none since the
 * store was created. Replicas that agree have equal digests at one index. */
void keel_store_last_hash(const struct keel_store *st, uint64_t *index, uint64_t *digest);

/* The periodic consistency check (HASH entries flagged CHECK or VERDICT,
 * codec.h): what the last keel_store_apply() asks of the node, which acts on
 * it outside apply (api/server/consistency.c). KEEL_CHECK_ROUND: digest the state
 * as this entry left it, as the round at `index`. KEEL_CHECK_VERDICT: a
 * majority of the voters took `digest` at `index`: compare this replica's.
 * KEEL_CHECK_NONE after any other entry, a skipped one or a failure. Valid
 * until the next apply. Apply itself does nothing with either. */
enum { KEEL_CHECK_NONE = 0, KEEL_CHECK_ROUND = 1, KEEL_CHECK_VERDICT = 2 };
struct keel_check_note
{
    int kind;
    uint64_t index;
    uint64_t digest;
};
const struct keel_check_note *keel_store_check_note(const struct keel_store *st);

/* Apply the entry at raft index `index` and write its reply into `reply`
 * (reset first; owned by the caller). An index at or below the stored applied
 * index is skipped (replay after restart or snapshot install): no change, and
 * the reply is an error saying so. Returns 0, or a fatal KEEL_* code with
 * keel_store_errmsg() saying why. */
int keel_store_apply(struct keel_store *st, uint64_t index, const void *buf, size_t len,
                     struct keel_reply *reply);

/* The replicated time, Unix ms (max of the entry's stamp and the replicated
 * clock) of the last entry this store applied, 0 if none since it was
 * created (entries rejected as malformed leave it unchanged). The node's
 * clock (raft/clock.h) follows it; apply itself never reads a clock. */
int64_t keel_store_last_ts(const struct keel_store *st);
/* The replicated clock as stored (0 before any entry): a read txn. */
int keel_store_clock(struct keel_store *st, int64_t *clock);

/* Keyspace events (events.h): record, from the next apply on, which keys
 * each entry changes and how. Off by default, and then costs nothing.
 * Recording never changes what apply does. Loop thread. */
void keel_store_record_events(struct keel_store *st, bool on);
/* The events of the last keel_store_apply(): owned by the store, valid until
 * the next apply. n is 0 when recording is off, the entry changed nothing,
 * was skipped (replay: index 0 then) or failed. */
const struct keel_events *keel_store_events(const struct keel_store *st);

/* ---- local reads (linearizability is the caller's business) ------------ */

/* `now` is the reader's notion of the time in Unix ms, used only to hide keys
 * past their expiry; it is raised to the replicated logical clock, so a
 * reader never shows a key that apply already treats as expired. Each returns 0 with the reply written, or a storage error
 * code (the reply then holds nothing useful). */
int keel_store_get(struct keel_store *st, struct keel_slice key, int64_t now,
                   struct keel_reply *reply);
/* PTTL semantics: -2 absent, -1 no expiry, else milliseconds left. */
int keel_store_pttl(struct keel_store *st, struct keel_slice key, int64_t now,
                    struct keel_reply *reply);
int keel_store_hget(struct keel_store *st, struct keel_slice key, struct keel_slice field,
                    int64_t now, struct keel_reply *reply);
/* Array of field, value, field, value... in field order. */
int keel_store_hgetall(struct keel_store *st, struct keel_slice key, int64_t now,
                       struct keel_reply *reply);
/* The key's version (raft index of its last change), 0 when absent. */
int keel_store_version(struct keel_store *st, struct keel_slice key, int64_t now,
                       uint64_t *version);

/* ---- read transactions for the API's read commands --------------------- */

/* A read of the keyspace at one point: an LMDB read txn, with `now` raised
 * to the replicated logical clock. Hash values decode into the store's
 * scratch hash (one at a time). Loop thread. */
struct keel_read
{
    struct keel_store *st;
    struct keel_txn txn;
    int64_t now;
    uint64_t hits;   /* keel_read_get calls that found a live key (INFO keyspace_hits) */
    uint64_t misses; /* ... and that did not */
};

int keel_read_begin(struct keel_store *st, int64_t now, struct keel_read *rd);
void keel_read_end(struct keel_read *rd);
/* The live record of key: KEEL_ENOTFOUND if absent or expired. */
int keel_read_get(struct keel_read *rd, struct keel_slice key, struct keel_record *rec);
/* Decode a hash record into the store's scratch hash; valid until the next
 * call or the end of the read. KEEL_EWRONGTYPE if rec is no hash. */
int keel_read_hash(struct keel_read *rd, const struct keel_record *rec,
                   const struct keel_hash **hash);
/* ---- sets (store/set_ops.c) --------------------------------------------- */

/* The live set at key: 0 and *coll, KEEL_ENOTFOUND (absent or expired),
 * KEEL_EWRONGTYPE, or a storage error. */
int keel_read_set(struct keel_read *rd, struct keel_slice key, struct keel_coll *coll);
/* 0 if member is in the set coll, else KEEL_ENOTFOUND (or an error). */
int keel_read_ismember(struct keel_read *rd, const struct keel_coll *coll, struct keel_slice member);
/* Every member of the set coll (storage_member_scan's order and rules). */
int keel_read_members(struct keel_read *rd, const struct keel_coll *coll, storage_member_cb cb,
                      void *arg);

/* A list of members copied out of the map (set operations, SPOP's and
 * SRANDMEMBER's picks). Owns its memory: keel_members_close. */
struct keel_members
{
    uint8_t *bytes;
    size_t len, cap;
    size_t *off; /* n+1 offsets into bytes: member i is [off[i], off[i+1]) */
    size_t n, ncap;
    bool oom;
};
void keel_members_init(struct keel_members *ms);
void keel_members_close(struct keel_members *ms);
void keel_members_add(struct keel_members *ms, struct keel_slice m);
static inline struct keel_slice keel_members_at(const struct keel_members *ms, size_t i)
{
    return (struct keel_slice){ms->bytes + ms->off[i], ms->off[i + 1] - ms->off[i]};
}
/* Every member of the set coll into ms (appended); KEEL_ENOMEM. */
int keel_read_members_all(struct keel_read *rd, const struct keel_coll *coll,
                          struct keel_members *ms);
/* SINTER (KEEL_SSTORE_INTER), SUNION, SDIFF of the n keys into out (empty
 * first; no duplicates). limit (SINTERCARD's; 0: none) stops an
 * intersection there. KEEL_EWRONGTYPE if a key holds no set, KEEL_ENOMEM,
 * or a storage error. */
int keel_read_setop(struct keel_read *rd, unsigned op, const struct keel_slice *keys, size_t n,
                    uint64_t limit, struct keel_members *out);

/* ---- lists (store/list_ops.c) ------------------------------------------- */

/* The live list at key: 0 and *coll (count: its length), KEEL_ENOTFOUND,
 * KEEL_EWRONGTYPE, or a storage error. */
int keel_read_list(struct keel_read *rd, struct keel_slice key, struct keel_coll *coll);
/* The item at Redis index (negative: from the tail): KEEL_ENOTFOUND out of
 * range. *item points into the map (valid until the read ends). */
int keel_read_list_at(struct keel_read *rd, const struct keel_coll *coll, int64_t index,
                      struct keel_slice *item);
/* n items from offset off (from the head) in order to cb (data: the item).
 * cb returns 0, or an error code that stops the walk and is returned. */
int keel_read_list_walk(struct keel_read *rd, const struct keel_coll *coll, uint64_t off, uint64_t n,
                        storage_member_cb cb, void *arg);
/* Redis's LRANGE clamping of start..end over a list of len items: false if
 * empty, else the offset and number of items. */
bool store_list_range(int64_t len, int64_t start, int64_t end, uint64_t *off, uint64_t *n);
/* ---- sorted sets (store/zset_read.c) ------------------------------------ */

/* The live sorted set at key: as keel_read_set. */
int keel_read_zset(struct keel_read *rd, struct keel_slice key, struct keel_coll *coll);
/* The member's score: 0 and *score, KEEL_ENOTFOUND, or an error. */
int keel_read_zscore(struct keel_read *rd, const struct keel_coll *coll, struct keel_slice member,
                     double *score);
/* A range by score, each end inclusive or not (Redis's zrangespec). */
struct keel_zrange
{
    double min, max;
    bool minex, maxex;
};
/* Whether no score can be in z (min > max, or equal with an open end). */
bool keel_zrange_empty(const struct keel_zrange *z);
/* The members with scores in z, by (score, member), or in reverse from max:
 * the first `offset` skipped (negative: none at all, as Redis), then at
 * most `limit` (negative: all). cb returns non-zero to stop; that value is
 * returned, -1 (a plain stop) as 0. Cost: one seek (with an offset, a rank
 * descent, O(log n)) plus the entries walked. */
int keel_read_zrange_score(struct keel_read *rd, const struct keel_coll *coll,
                           const struct keel_zrange *z, bool reverse, int64_t offset,
                           int64_t limit, storage_zindex_cb cb, void *arg);
/* The 0-based rank of a member of score `score` (from the top: reverse),
 * O(log n); KEEL_ECORRUPT if the index disagrees with the count. */
int keel_read_zrank(struct keel_read *rd, const struct keel_coll *coll, double score,
                    struct keel_slice member, bool reverse, uint64_t *rank);
/* The members in range z (ZCOUNT): two rank descents, O(log n). */
int keel_read_zcount(struct keel_read *rd, const struct keel_coll *coll, const struct keel_zrange *z,
                     uint64_t *n);

/* A ZRANGE selection (Redis's zrangeGenericCommand after parsing): by rank
 * (start..end, Redis's indexes), by score (z) or by lex (lmin..lmax), in
 * reverse or not; offset and limit (negative: none) for SCORE and LEX. */
enum { KEEL_ZSEL_RANK = 0, KEEL_ZSEL_SCORE = 1, KEEL_ZSEL_LEX = 2 };
struct keel_zsel
{
    int by;
    bool rev;
    int64_t start, end;
    struct keel_zrange z;
    struct keel_lex_end lmin, lmax;
    int64_t offset, limit;
};
struct keel_zres;
/* The selected members of the sorted set coll (id 0: none) with their
 * scores, in the order ZRANGE replies them, appended to out. */
int keel_read_zselect(struct keel_read *rd, const struct keel_coll *coll, const struct keel_zsel *sel,
                      struct keel_zres *out);

/* ---- sorted-set algebra (store/zset_ops.c) ------------------------------ */

/* Members with their scores, copied out of the map. Owns its memory. */
struct keel_zres
{
    struct keel_members ms;
    double *sc; /* sc[i] goes with member i */
    size_t cap;
};
void keel_zres_init(struct keel_zres *z);
void keel_zres_close(struct keel_zres *z);
/* Append (m, score): 0 or KEEL_ENOMEM. */
int keel_zres_add(struct keel_zres *z, struct keel_slice m, double score);
/* A source of ZUNION/ZINTER/ZDIFF: a sorted set, or a set (set: its
 * members score 1), coll.id 0 when absent; weight 1 unless WEIGHTS. */
struct keel_zsrc
{
    struct keel_coll coll;
    bool set;
    double weight;
};
/* The live key as a source (weight untouched): KEEL_EWRONGTYPE if it holds
 * neither a sorted set nor a set. */
int keel_read_zsrc(struct keel_read *rd, struct keel_slice key, struct keel_zsrc *src);
/* Redis's zunionInterDiffGenericCommand over the n sources: flags is
 * KEEL_ZSTORE_* (codec.h: the operation, the aggregate); src may be
 * reordered. The result goes into out (empty first) by (score, member), or
 * with card non-NULL (an intersection: ZINTERCARD) only its size, counting
 * stopped at limit (0: none). */
int keel_read_zsetop(struct keel_read *rd, unsigned flags, struct keel_zsrc *src, size_t n,
                     uint64_t limit, uint64_t *card, struct keel_zres *out);

/* Live keys in order from start; cb returns non-zero to stop. */
int keel_read_scan(struct keel_read *rd, struct keel_slice start, storage_scan_cb cb, void *arg);
/* Keys stored (expired ones not yet swept included, as Redis's DBSIZE). */
uint64_t keel_read_count(struct keel_read *rd);
/* The earliest key due for expiry at `at`: KEEL_ENOTFOUND if none. */
int keel_read_expired(struct keel_read *rd, int64_t at, struct keel_slice *key);

/* ---- reads inside a batch (codec.h, READ) -------------------------------- */

/* The node's reader: evaluates the read command argv[0..argc) as of rd (the
 * batch's write txn, at the entry's time; rd must not be ended) for a client
 * speaking RESP `proto` (2 or 3), and writes exactly one item into reply,
 * normally keel_reply_resp() with the RESP bytes. Called inside apply on
 * every replica, so it must not propose, block or keep rd. Its reply is not
 * part of the replicated state (see codec.h), so it may differ between nodes. */
typedef void (*keel_store_reader)(void *arg, struct keel_read *rd, const struct keel_slice *argv,
                                  uint32_t argc, int proto, struct keel_reply *reply);
/* Install (fn NULL: remove) the reader. Without one a READ replies with an
 * error. Loop thread. */
void keel_store_set_reader(struct keel_store *st, keel_store_reader fn, void *arg);

/* ---- ACL users (acl.h, acl_store.c) ------------------------------------- */

/* The leader's ACL SETUSER: apply rules (ACL SETUSER's arguments) to the
 * user as it is now in the local state (a new user if absent; the implicit
 * default) and encode one ACL entry carrying the result as normalized rule
 * text: '>pass' is already '#<sha256>' here, so no cleartext password ever
 * reaches the log. KEEL_EINVAL with msg holding Redis's error ("Error in ACL
 * SETUSER modifier '...': Syntax error"), or KEEL_ENOMEM/ETOOBIG/a storage
 * error; e is then untouched. */
int keel_store_acl_setuser(struct keel_store *st, struct keel_enc *e, struct keel_slice name,
                           const struct keel_slice *rules, size_t n, char *msg, size_t size);
/* The leader's ACL DELUSER of one name: KEEL_ENOTFOUND when there is no such
 * user (nothing to propose: it counts 0), KEEL_EINVAL for "default" (msg
 * says so). The entry's reply is the integer 1, or 0 if the user went away
 * meanwhile. Several names: one entry each in a BATCH, replies summed. */
int keel_store_acl_deluser(struct keel_store *st, struct keel_enc *e, struct keel_slice name,
                           char *msg, size_t size);
/* A user: 0 with *u filled (acl_user_close it), or KEEL_ENOTFOUND. "default"
 * always exists (on nopass ~* &* +@all until a SETUSER default). */
int keel_store_acl_get(struct keel_store *st, struct keel_slice name, struct acl_user *u);
/* Every user in name order (the implicit default included); cb returns 0 to
 * go on, non-zero to stop (then returned). The user is valid in cb only. */
typedef int (*keel_store_acl_cb)(void *arg, const struct acl_user *u);
int keel_store_acl_list(struct keel_store *st, keel_store_acl_cb cb, void *arg);
/* The raft index of the last applied ACL change (replicated, so also right
 * after a restart, snapshot install or restore), 0 if none ever. A server
 * compares it with what it saw to re-check its connected users. */
int keel_store_acl_version(struct keel_store *st, uint64_t *index);
/* ACL entries applied by this store object (node-local memory): a cheap
 * per-apply signal; keel_store_acl_version is the durable one. */
uint64_t keel_store_acl_changes(const struct keel_store *st);

/* Strict decimal int64 parse, Redis's string2ll rules (no leading zeros,
 * spaces, "+" or "-0"): the same text is an integer for a command's
 * argument and for a stored value. */
bool store_parse_int(const uint8_t *p, size_t n, int64_t *v);

#endif /* KEEL_STORE_H */
