/* store: the replicated command codec, versioned, compact, padded to 8 bytes.
 *
 * Every raft entry Keel proposes is one command:
 *
 *   header (32 bytes, little-endian)
 *     0  u8  magic 0x4B ('K')
 *     1  u8  codec version (1)
 *     2  u8  type (enum store_cmd_type)
 *     3  u8  flags (per type)
 *     4  u32 body length
 *     8  i64 leader timestamp, Unix ms: the only clock apply ever sees
 *    16  u64 client id (0: no dedupe)
 *    24  u64 sequence number within the client
 *   body (per type, below), then zero bytes up to a multiple of 8, because
 *   raft 0.15's disk log corrupts entries whose length is not (raft#180).
 *
 *   str = u32 length, bytes.  i64/u64 = 8 bytes LE.
 *   SET      str key, str value, i64 expire_at (0 none)     flags NX XX KEEPTTL GET
 *   DEL      u32 n, n x str key
 *   INCRBY   str key, i64 delta
 *   EXPIRE   str key, i64 expire_at                          flags NX XX GT LT
 *   PERSIST  str key
 *   HSET     str key, u32 n, n x (str field, str value)   flags NX (HSETNX:
 *            exactly one pair, set only if the field is absent)
 *   HDEL     str key, u32 n, n x str field
 *   HINCRBY  str key, str field, i64 delta
 *   CAS      str key, u64 version, str expected, str value, i64 expire_at
 *                                                            flags VERSION VALUE DELETE
 *   BATCH    u32 w, w x (str key, u64 version), u32 n,
 *            n x (u8 type, u8 flags, u16 0, u32 length, body)  (no nested BATCH/SWEEP)
 *   SWEEP    i64 max keys
 *   APPEND   str key, str value
 *   GETDEL   str key
 *   GETEX    str key, i64 expire_at                          flags PERSIST
 *   ACL      str name, u64 base version, str rules           flags DELETE
 *            one user's whole state as its normalized rule text (acl.h's
 *            acl_describe: passwords only as #<sha256>; a '>' or '<' word,
 *            a cleartext password, is refused), built by the leader from
 *            the user as it was at `base version` (the version of its
 *            system key, 0: absent): apply refuses the entry if the user
 *            changed since. DELETE: rules empty, the user is removed.
 *   RENAME   str key (source), str value (destination)     flags NX
 *            RENAME / RENAMENX: the record moves whole (type, value, expiry)
 *            flags MOVE (with NX): MOVE key db, the value another database's
 *            name of the key
 *   COPY     str key (source), str value (destination)     flags REPLACE
 *   FLUSH    (empty): every key of every database goes but the system keys
 *            ("\xffkeel:" names that are not a database's, storage.h)
 *   FLUSHDB  i64 db (0 .. KEEL_MAX_DATABASES-1): FLUSHDB, database db's keys go
 *   SWAPDB   i64 a, i64 b (0 .. KEEL_MAX_DATABASES-1): the two databases'
 *            keys trade places (store/apply_db.c), O(keys of a and b)
 *   SETRANGE str key, i64 offset (>= 0), str value
 *   MSETNX   u32 n, n x (str key, str value)                  flags ALL
 *            MSETNX: all set (1) if none exists, else nothing (0); ALL is
 *            MSET: every pair set (TTLs dropped), the reply +OK. One entry
 *            however many pairs (up to KEEL_MAX_ARGS), so MSET stays atomic.
 *   SETFLOAT str key, str field, u64 base version, str value  flags HASH
 *            the result of INCRBYFLOAT (HINCRBYFLOAT with HASH: the field;
 *            without it the field is empty), computed and formatted on the
 *            leader from the key as of `base version` (0: absent): apply
 *            writes it only if the key is still at that version, else
 *            replies BUSY and the leader computes it again. No float is
 *            parsed or formatted in apply, so replicas cannot differ.
 *            In a BATCH (INCRBYFLOAT in MULTI) no earlier sub-command may
 *            write its key (the leader refuses that), and a version that
 *            moved on makes the whole batch reply BUSY, changing nothing.
 *   SETBIT   str key, i64 offset (0 .. 2^32-1)             flags ONE
 *            SETBIT key offset 1 (ONE) or 0; replies the bit it replaced
 *   SADD     str key, u32 n, n x str member             (n >= 1)
 *   SREM     str key, u32 n, n x str member             (n >= 1)
 *   SPOP     str key, u64 base version, u32 n, n x str member   flags ONE
 *            SPOP's effect: the members the leader picked at random from
 *            the set as of `base version` (0: absent). Apply removes exactly
 *            those if the key is still at that version, else replies BUSY
 *            and the leader picks again: no randomness reaches apply. ONE
 *            (SPOP without a count, n <= 1): the reply is the member (nil
 *            if none) instead of an array.
 *   SMOVE    str key (source), str value (destination), str field (member)
 *   SSTORE   str key (destination), u32 n, n x str key (sources, n >= 1)
 *            flags: the operation, INTER, UNION or DIFF (exactly one)
 *            SINTERSTORE / SUNIONSTORE / SDIFFSTORE, computed in apply
 *            Members are at most KEEL_MAX_MEMBER bytes (storage.h).
 *   READ     u32 n, n x str arg (a read command's argv, its name first)
 *                                                            flags RESP3
 *            only inside a BATCH (MULTI/EXEC with reads, PING or ECHO):
 *            changes nothing; the node's reader (keel_store_set_reader)
 *            evaluates it against the state the batch has made so far, at
 *            the entry's time, and its RESP reply goes into the batch's
 *            reply. A batch with a READ is remembered by the dedupe table
 *            as "applied, reply lost", so replicas store the same bytes
 *            whatever their reader answered. An empty name with one
 *            argument: the argument is a ready RESP reply (an error the
 *            leader found in a queued command when it encoded EXEC).
 *   LPUSH    str key, u32 n, n x str element (n >= 1)     flags LEFT EXISTS
 *            LPUSH (LEFT) / RPUSH, in argument order; EXISTS: LPUSHX/RPUSHX
 *            (nothing is created: an absent key answers 0)
 *   LPOP     str key, u64 count                           flags LEFT COUNT
 *            LPOP (LEFT) / RPOP; without COUNT count is 1 and the reply the
 *            element (nil if none); with COUNT an array (count 0: empty;
 *            an absent key: a null array). count <= INT64_MAX.
 *   LSET     str key, str field (the index as given), str value (element)
 *            the index is parsed in apply, after the key is found, as
 *            Redis's lsetCommand does (no such key wins over a bad index)
 *   LREM     str key, i64 count, str value (element)
 *   LTRIM    str key, i64 start, i64 stop (num, version as i64)
 *   LINSERT  str key, str field (pivot), str value (element)  flags BEFORE
 *   LMOVE    str key (source), str value (destination)   flags LEFT TO_LEFT
 *            LMOVE from the head (LEFT) or tail to the head (TO_LEFT) or
 *            tail; RPOPLPUSH is LMOVE RIGHT LEFT
 *            List elements are at most KEEL_MAX_MEMBER bytes too.
 *   ZADD     str key, u32 n, n x (str score, str member)   (n >= 1)
 *            flags NX XX GT LT CH INCR; score: the 8 bytes of a double
 *            (LE), never NaN, parsed on the leader; INCR: exactly one pair
 *            (ZADD INCR and ZINCRBY). Apply compares and adds doubles only:
 *            IEEE arithmetic is the same on every replica.
 *   ZREM     str key, u32 n, n x str member             (n >= 1)
 *   ZREMRANGE str key, then by the operation in flags & 7 (one of):
 *            POPMIN, POPMAX  i64 count (>= 0)            flag COUNT: given
 *            RANK     i64 start, i64 end (Redis's indexes, negative from the end)
 *            SCORE    str min, str max (8-byte doubles, not NaN)  flags MINEX MAXEX
 *            LEX      str min, str max (Redis's lex items: "-" "+" "[x" "(x")
 *            ZPOPMIN/ZPOPMAX and ZREMRANGEBYRANK/SCORE/LEX: which members go is
 *            decided in apply from the index, the same on every replica.
 *   MPOP     u32 n, n x str key (n >= 1), u64 count (1 .. INT64_MAX)
 *            flags ZSET LEFT
 *            the pop of LMPOP / ZMPOP and of every blocking pop (BLPOP BRPOP
 *            BLMPOP BZPOPMIN BZPOPMAX BZMPOP, api/server/block.c): from the
 *            first of the keys that exists, up to count items from the head
 *            (LEFT; for ZSET the lowest scores) or the tail (the highest).
 *            The first existing key of another type answers WRONGTYPE and
 *            nothing is popped (Redis checks the keys in order); none
 *            existing answers the null array. Otherwise the reply is
 *            [key, items]: LPOP's COUNT reply, or ZPOPMIN's COUNT reply
 *            (pairs of member and score text).
 *   ZSTORE   str key (destination), u32 n, n x (str key (source), str weight)
 *            flags: the operation (flags & 3: INTER, UNION or DIFF, the
 *            SSTORE values) and the aggregate (MIN or MAX; neither: SUM).
 *            ZINTERSTORE / ZUNIONSTORE / ZDIFFSTORE, computed in apply from
 *            the sources (sorted sets, or sets whose members score 1); a
 *            weight is the 8 bytes of a double (LE), never NaN, parsed on
 *            the leader (DIFF's are 1 and unused). n >= 1.
 *   ZRANGESTORE str key (destination), str value (source), i64 a, i64 b,
 *            str min, str max        flags: BY (flags & 3) REV MINEX MAXEX
 *            ZRANGESTORE: BY RANK (a start, b end, Redis's indexes; min and
 *            max empty), SCORE (min, max: 8-byte doubles, not NaN; MINEX
 *            MAXEX) or LEX (min, max: Redis's lex items); for SCORE and LEX
 *            a is the offset, b the limit (negative: none). min and max
 *            are the range's own (REV's arguments already swapped). The
 *            members are selected in apply from the source's index.
 *   NOOP     (empty)
 *   HASH     (empty): every replica digests its state as of this entry
 *            (keelctl hashkv), so digests compare at one index
 *            flag CHECK (empty): a round of the periodic consistency check;
 *            each replica digests the state this entry leaves, off the loop
 *            (api/server/consistency.c): the store only notes the request
 *            flag VERDICT: i64 index, u64 digest: the digest a majority of
 *            the voters took at that index; each replica compares its own.
 *            Both change nothing but the applied index and the clock.
 *
 * Decoding validates everything up front (lengths, counts, limits, flags,
 * padding) so that apply can walk lists without further checks. Decoded
 * slices point into the entry buffer.
 *
 * The command's names carry the module's prefix (struct store_cmd,
 * STORE_CMD_*): keel_ is libkeel's public API, whose struct keel_cmd
 * (include/keel/client.h, a pipelined command) is another thing. */
#ifndef KEEL_STORE_CODEC_H
#define KEEL_STORE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/storage.h"

#define KEEL_CODEC_MAGIC 0x4B
#define KEEL_CODEC_VERSION 1
#define STORE_CMD_HEADER 32
#define KEEL_MAX_ENTRY (128u * 1024 * 1024)
#define KEEL_MAX_ARGS (1u << 20)
#define KEEL_MAX_BATCH 10000u
/* The longest float text a SETFLOAT carries (Redis's MAX_LONG_DOUBLE_CHARS). */
#define KEEL_SETFLOAT_MAX 5120u

enum store_cmd_type {
    STORE_CMD_NOOP = 0,
    STORE_CMD_SET = 1,
    STORE_CMD_DEL = 2,
    STORE_CMD_INCRBY = 3,
    STORE_CMD_EXPIRE = 4,
    STORE_CMD_PERSIST = 5,
    STORE_CMD_HSET = 6,
    STORE_CMD_HDEL = 7,
    STORE_CMD_HINCRBY = 8,
    STORE_CMD_CAS = 9,
    STORE_CMD_BATCH = 10,
    STORE_CMD_SWEEP = 11,
    STORE_CMD_APPEND = 12,
    STORE_CMD_GETDEL = 13,
    STORE_CMD_GETEX = 14,
    STORE_CMD_HASH = 15,
    STORE_CMD_ACL = 16,
    STORE_CMD_RENAME = 17,
    STORE_CMD_COPY = 18,
    STORE_CMD_FLUSH = 19,
    STORE_CMD_SETRANGE = 20,
    STORE_CMD_MSETNX = 21,
    STORE_CMD_SETFLOAT = 22,
    STORE_CMD_SADD = 23,
    STORE_CMD_SREM = 24,
    STORE_CMD_SPOP = 25,
    STORE_CMD_SMOVE = 26,
    STORE_CMD_SSTORE = 27,
    STORE_CMD_SETBIT = 28,
    STORE_CMD_READ = 29,
    STORE_CMD_LPUSH = 30,
    STORE_CMD_LPOP = 31,
    STORE_CMD_LSET = 32,
    STORE_CMD_LREM = 33,
    STORE_CMD_LTRIM = 34,
    STORE_CMD_LINSERT = 35,
    STORE_CMD_LMOVE = 36,
    STORE_CMD_ZADD = 37,
    STORE_CMD_ZREM = 38,
    STORE_CMD_ZREMRANGE = 39,
    STORE_CMD_MPOP = 40,
    STORE_CMD_ZSTORE = 41,
    STORE_CMD_ZRANGESTORE = 42,
    STORE_CMD_FLUSHDB = 43,
    STORE_CMD_SWAPDB = 44,
    STORE_CMD__COUNT
};

/* SET */
#define KEEL_SET_NX 0x01
#define KEEL_SET_XX 0x02
#define KEEL_SET_KEEPTTL 0x04
#define KEEL_SET_GET 0x08
/* EXPIRE */
#define KEEL_EXPIRE_NX 0x01
#define KEEL_EXPIRE_XX 0x02
#define KEEL_EXPIRE_GT 0x04
#define KEEL_EXPIRE_LT 0x08
/* CAS: compare the key's version, or its value (absent expected: the key must
 * not exist; version 0 means the same). On a match set the value, or delete. */
#define KEEL_CAS_VERSION 0x01
#define KEEL_CAS_VALUE 0x02
#define KEEL_CAS_DELETE 0x04
#define KEEL_CAS_ABSENT 0x08
/* HSET: HSETNX (one pair; only a new field is set) */
#define KEEL_HSET_NX 0x01
/* RENAME: RENAMENX (only onto an absent key) */
#define KEEL_RENAME_NX 0x01
/* RENAME with NX: MOVE key db, the destination the key's name in another
 * database (storage.h): an absent source answers 0, the events are
 * move_from and move_to */
#define KEEL_RENAME_MOVE 0x02
/* COPY: an existing destination is replaced */
#define KEEL_COPY_REPLACE 0x01
/* MSETNX: ALL is MSET (every pair set, whatever exists) */
#define KEEL_MSETNX_ALL 0x01
/* SETFLOAT: the result goes into a hash field */
#define KEEL_SETFLOAT_HASH 0x01
/* SETBIT: the bit is set to 1 (else 0) */
#define KEEL_SETBIT_ONE 0x01
/* SETBIT's offsets are bits of a string of at most 512 MB, as Redis's. */
#define KEEL_SETBIT_MAX_OFFSET 0xFFFFFFFFll
/* GETEX: drop the expiry instead of setting expire_at */
#define KEEL_GETEX_PERSIST 0x01
/* READ: the reply is for a RESP3 connection (else RESP2) */
#define KEEL_READ_RESP3 0x01
/* HASH: a consistency-check round, or its verdict (exclusive) */
#define KEEL_HASH_CHECK 0x01
#define KEEL_HASH_VERDICT 0x02

/* SPOP: one member, replied as a bulk string (or nil) */
#define KEEL_SPOP_ONE 0x01
/* SSTORE: the set operation (a value, not a bit set) */
#define KEEL_SSTORE_INTER 0x01
#define KEEL_SSTORE_UNION 0x02
#define KEEL_SSTORE_DIFF 0x03

/* Lists: the head end (LPUSH, LPOP; otherwise the tail) */
#define KEEL_LIST_LEFT 0x01
/* LPUSH: only onto an existing list (LPUSHX/RPUSHX) */
#define KEEL_LPUSH_EXISTS 0x02
/* LPOP: with a count (an array reply) */
#define KEEL_LPOP_COUNT 0x02
/* LINSERT: before the pivot (otherwise after) */
#define KEEL_LINSERT_BEFORE 0x01
/* LMOVE: push onto the destination's head (otherwise its tail) */
#define KEEL_LMOVE_TO_LEFT 0x02
/* MPOP: a sorted set (else a list); from the head / the lowest scores */
#define KEEL_MPOP_ZSET 0x01
#define KEEL_MPOP_LEFT 0x02
/* ZADD (Redis's zadd flags; INCR also for ZINCRBY) */
#define KEEL_ZADD_NX 0x01
#define KEEL_ZADD_XX 0x02
#define KEEL_ZADD_GT 0x04
#define KEEL_ZADD_LT 0x08
#define KEEL_ZADD_CH 0x10
#define KEEL_ZADD_INCR 0x20

/* ZREMRANGE: the operation (a value) and its flags */
#define KEEL_ZREM_POPMIN 1
#define KEEL_ZREM_POPMAX 2
#define KEEL_ZREM_RANK 3
#define KEEL_ZREM_SCORE 4
#define KEEL_ZREM_LEX 5
#define KEEL_ZREM_OP 0x07
#define KEEL_ZREM_COUNT 0x08
#define KEEL_ZREM_MINEX 0x10
#define KEEL_ZREM_MAXEX 0x20

/* ZSTORE: the operation is flags & KEEL_ZSTORE_OP (KEEL_SSTORE_INTER, UNION,
 * DIFF); the aggregate MIN or MAX (neither: SUM) */
#define KEEL_ZSTORE_OP 0x03
#define KEEL_ZSTORE_MIN 0x04
#define KEEL_ZSTORE_MAX 0x08

/* ZRANGESTORE: the selection (a value: KEEL_ZSEL_* of store.h) and flags */
#define KEEL_ZRS_BY 0x03
#define KEEL_ZRS_REV 0x04
#define KEEL_ZRS_MINEX 0x08
#define KEEL_ZRS_MAXEX 0x10

/* ACL: remove the user */
#define KEEL_ACL_DELETE 0x01

/* A decoded command. Lists stay encoded: walk them with the iterators. */
struct store_cmd
{
    uint8_t type;
    uint8_t flags;
    int64_t ts;
    uint64_t client;
    uint64_t seq;
    struct keel_slice key;   /* ACL: the user name */
    struct keel_slice field;
    struct keel_slice value; /* ACL: the rules */
    struct keel_slice expect;
    int64_t num;      /* expire_at, delta, sweep max, or a verdict's index */
    uint64_t version; /* CAS; a verdict's digest; ACL's, SETFLOAT's, SPOP's base version; LPOP's and MPOP's count;
                       * LTRIM's stop (as i64) */
    uint32_t count;   /* list items: DEL keys, HSET pairs, HDEL fields, BATCH commands,
                       * READ arguments */
    struct keel_slice list;
    uint32_t nwatch;  /* BATCH */
    struct keel_slice watches;
};

/* Decode and fully validate one entry. Errors: KEEL_EMALFORMED (truncated,
 * bad magic, unknown type or flags, inconsistent lengths, non-zero padding),
 * KEEL_EVERSION (another codec version), KEEL_ETOOBIG (a key, value or count
 * over its limit). msg (may be NULL) receives a short reason, static storage. */
int store_cmd_decode(const void *buf, size_t len, struct store_cmd *cmd, const char **msg);
/* Whether a decoded FLUSHDB, SWAPDB or RENAME (MOVE) holds (codec_db.c):
 * NULL, or why not. Other types: NULL. */
const char *store_db_check(uint8_t type, uint8_t flags, const struct store_cmd *cmd);

/* A cursor over an encoded list. Lists were validated by decode. */
struct keel_iter
{
    const uint8_t *p;
    const uint8_t *end;
};
void keel_iter_init(struct keel_iter *it, struct keel_slice list);
/* Next string of the list; false at the end. */
bool keel_iter_str(struct keel_iter *it, struct keel_slice *s);
/* Next BATCH watch (key, version); false at the end. */
bool keel_iter_watch(struct keel_iter *it, struct keel_slice *key, uint64_t *version);
/* Next BATCH sub-command, decoded into sub (ts/client/seq copied from parent). */
bool store_iter_cmd(struct keel_iter *it, const struct store_cmd *parent, struct store_cmd *sub);

/* ---- encoding (the leader's side) -------------------------------------- */

/* Builds one command in a growing buffer (malloc). Usage: init, then exactly
 * one command call, or batch_begin + watches + command calls; then finish.
 * Errors are sticky: finish reports the first one. */
struct keel_enc
{
    uint8_t *buf;
    size_t len;
    size_t cap;
    int err;
    bool batch;
    bool batch_cmds;  /* the command count slot has been written */
    uint32_t nwatch;
    uint32_t ncmd;
    size_t ncmd_off;
    size_t cmds;      /* commands written (top level: at most 1) */
};

void keel_enc_init(struct keel_enc *e, int64_t ts, uint64_t client, uint64_t seq);
void keel_enc_close(struct keel_enc *e);

void keel_enc_noop(struct keel_enc *e);
void keel_enc_set(struct keel_enc *e, struct keel_slice key, struct keel_slice value,
                  int64_t expire_at, unsigned flags);
void keel_enc_del(struct keel_enc *e, const struct keel_slice *keys, uint32_t n);
void keel_enc_incrby(struct keel_enc *e, struct keel_slice key, int64_t delta);
void keel_enc_expire(struct keel_enc *e, struct keel_slice key, int64_t expire_at,
                     unsigned flags);
void keel_enc_persist(struct keel_enc *e, struct keel_slice key);
/* pairs: field, value, field, value, ... (2n slices) */
void keel_enc_hset(struct keel_enc *e, struct keel_slice key, const struct keel_slice *pairs,
                   uint32_t n);
/* HSETNX: one field, set only if absent (reply 1), else nothing (0). */
void keel_enc_hsetnx(struct keel_enc *e, struct keel_slice key, struct keel_slice field,
                     struct keel_slice value);
void keel_enc_hdel(struct keel_enc *e, struct keel_slice key, const struct keel_slice *fields,
                   uint32_t n);
void keel_enc_hincrby(struct keel_enc *e, struct keel_slice key, struct keel_slice field,
                      int64_t delta);
void keel_enc_cas(struct keel_enc *e, struct keel_slice key, unsigned flags, uint64_t version,
                  struct keel_slice expected, struct keel_slice value, int64_t expire_at);
void keel_enc_sweep(struct keel_enc *e, int64_t max);
void keel_enc_hash(struct keel_enc *e);
/* The consistency check's round, and its verdict (see HASH above). */
void keel_enc_check(struct keel_enc *e);
void keel_enc_verdict(struct keel_enc *e, uint64_t index, uint64_t digest);
void keel_enc_append(struct keel_enc *e, struct keel_slice key, struct keel_slice value);
void keel_enc_getdel(struct keel_enc *e, struct keel_slice key);
void keel_enc_getex(struct keel_enc *e, struct keel_slice key, int64_t expire_at, unsigned flags);
void keel_enc_rename(struct keel_enc *e, struct keel_slice src, struct keel_slice dst,
                     unsigned flags);
void keel_enc_copy(struct keel_enc *e, struct keel_slice src, struct keel_slice dst,
                   unsigned flags);
void keel_enc_flush(struct keel_enc *e);
/* FLUSHDB of database db (0 .. KEEL_MAX_DATABASES-1). */
void keel_enc_flushdb(struct keel_enc *e, int64_t db);
/* SWAPDB a b (each 0 .. KEEL_MAX_DATABASES-1). */
void keel_enc_swapdb(struct keel_enc *e, int64_t a, int64_t b);
void keel_enc_setrange(struct keel_enc *e, struct keel_slice key, int64_t offset,
                       struct keel_slice value);
void keel_enc_setbit(struct keel_enc *e, struct keel_slice key, int64_t offset, bool one);
/* pairs: key, value, key, value, ... (2n slices) */
void keel_enc_msetnx(struct keel_enc *e, const struct keel_slice *pairs, uint32_t n);
/* MSET: an MSETNX entry with KEEL_MSETNX_ALL. */
void keel_enc_mset(struct keel_enc *e, const struct keel_slice *pairs, uint32_t n);
/* field: empty for a string (INCRBYFLOAT); flags KEEL_SETFLOAT_HASH for a
 * hash field (HINCRBYFLOAT). */
void keel_enc_setfloat(struct keel_enc *e, struct keel_slice key, struct keel_slice field,
                       uint64_t base, struct keel_slice value, unsigned flags);
/* Sets. members: n slices. SPOP: the members picked from the set at
 * version base (flags KEEL_SPOP_ONE without a count). SSTORE: op is one of
 * KEEL_SSTORE_*, keys the n source keys. */
void keel_enc_sadd(struct keel_enc *e, struct keel_slice key, const struct keel_slice *members,
                   uint32_t n);
void keel_enc_srem(struct keel_enc *e, struct keel_slice key, const struct keel_slice *members,
                   uint32_t n);
void keel_enc_spop(struct keel_enc *e, struct keel_slice key, uint64_t base,
                   const struct keel_slice *members, uint32_t n, unsigned flags);
void keel_enc_smove(struct keel_enc *e, struct keel_slice src, struct keel_slice dst,
                    struct keel_slice member);
void keel_enc_sstore(struct keel_enc *e, unsigned op, struct keel_slice dst,
                     const struct keel_slice *keys, uint32_t n);
/* Lists. flags: KEEL_LIST_LEFT, KEEL_LPUSH_EXISTS / KEEL_LPOP_COUNT. */
void keel_enc_lpush(struct keel_enc *e, struct keel_slice key, const struct keel_slice *elems,
                    uint32_t n, unsigned flags);
void keel_enc_lpop(struct keel_enc *e, struct keel_slice key, uint64_t count, unsigned flags);
void keel_enc_lset(struct keel_enc *e, struct keel_slice key, struct keel_slice index,
                   struct keel_slice elem);
void keel_enc_lrem(struct keel_enc *e, struct keel_slice key, int64_t count, struct keel_slice elem);
void keel_enc_ltrim(struct keel_enc *e, struct keel_slice key, int64_t start, int64_t stop);
/* flags: KEEL_LINSERT_BEFORE or 0 (after). */
void keel_enc_linsert(struct keel_enc *e, struct keel_slice key, struct keel_slice pivot,
                      struct keel_slice elem, unsigned flags);
/* flags: KEEL_LIST_LEFT (from the head), KEEL_LMOVE_TO_LEFT. */
void keel_enc_lmove(struct keel_enc *e, struct keel_slice src, struct keel_slice dst, unsigned flags);
/* Sorted sets. ZADD: scores[i] goes with members[i]; flags KEEL_ZADD_*. */
void keel_enc_zadd(struct keel_enc *e, struct keel_slice key, const double *scores,
                   const struct keel_slice *members, uint32_t n, unsigned flags);
void keel_enc_zrem(struct keel_enc *e, struct keel_slice key, const struct keel_slice *members,
                   uint32_t n);
/* ZREMRANGE: POP (a, the count; flags | KEEL_ZREM_COUNT when given), RANK
 * (a start, b end), SCORE (min, max as doubles in smin/smax), LEX (lmin,
 * lmax the raw items). Unused arguments are ignored. */
void keel_enc_zremrange(struct keel_enc *e, struct keel_slice key, unsigned flags, int64_t a, int64_t b,
                        double smin, double smax, struct keel_slice lmin, struct keel_slice lmax);
/* MPOP: keys (n >= 1) in order, count >= 1; flags KEEL_MPOP_ZSET, KEEL_MPOP_LEFT. */
void keel_enc_mpop(struct keel_enc *e, const struct keel_slice *keys, uint32_t n, uint64_t count,
                   unsigned flags);
/* ZSTORE: op | aggregate (KEEL_ZSTORE_*), dst, the n source keys and their
 * weights (none NaN). */
void keel_enc_zstore(struct keel_enc *e, unsigned flags, struct keel_slice dst,
                     const struct keel_slice *keys, const double *weights, uint32_t n);
/* ZRANGESTORE: flags KEEL_ZRS_*; a, b as codec.h says; smin, smax for BY
 * SCORE, lmin, lmax (the raw items) for BY LEX; unused arguments ignored. */
void keel_enc_zrangestore(struct keel_enc *e, struct keel_slice dst, struct keel_slice src, unsigned flags,
                          int64_t a, int64_t b, double smin, double smax, struct keel_slice lmin,
                          struct keel_slice lmax);
/* ACL: name, the user's normalized rules (acl_describe), the version of its
 * system key when the rules were computed (0: absent); flags KEEL_ACL_DELETE
 * with empty rules removes it. */
void keel_enc_acl(struct keel_enc *e, struct keel_slice name, uint64_t base,
                  struct keel_slice rules, unsigned flags);
/* A read inside a batch: argv[0] the command's name; flags KEEL_READ_RESP3.
 * KEEL_EINVAL (sticky) outside a batch. */
void keel_enc_read(struct keel_enc *e, const struct keel_slice *argv, uint32_t argc,
                   unsigned flags);
/* A batch holds at most KEEL_MAX_BATCH commands and watches: one more makes
 * the encoder fail with KEEL_ETOOBIG (sticky). */
void keel_enc_batch_begin(struct keel_enc *e);
void keel_enc_watch(struct keel_enc *e, struct keel_slice key, uint64_t version);

/* Whether batch_begin was called (commands now go into the batch). */
static inline bool keel_enc_in_batch(const struct keel_enc *e)
{
    return e->batch;
}

/* Pad, patch lengths and hand the buffer over: *buf is malloc'd and now the
 * caller's. On error nothing is handed over. */
int keel_enc_finish(struct keel_enc *e, uint8_t **buf, size_t *len);

/* Slice helpers. */
static inline struct keel_slice keel_str(const char *s)
{
    struct keel_slice sl = {(const uint8_t *)s, 0};
    while (s[sl.n]) sl.n++;
    return sl;
}

#endif /* KEEL_STORE_CODEC_H */
