/* api: the command handlers, by file, referenced from the command table. */
#ifndef KEEL_API_COMMANDS_H
#define KEEL_API_COMMANDS_H

#include "api/server/server_internal.h"

/* Keel's release (HELLO's version, INFO's keel_version). */
#define KEEL_VERSION "0.1.0"
/* The Redis release whose behaviour Keel follows (INFO's redis_version):
 * clients and tools choose features by it. */
#define KEEL_REDIS_COMPAT_VERSION "7.2.6"

/* Expiry helpers: unit is "EX", "PX", "EXAT" or "PXAT" (any case). */
/* SET/GETEX: a positive relative time or an absolute one; errors like Redis. */
bool srv_expiry_from(struct slot *s, const char *unit, long long v, int64_t *expire_at,
                     const char *cmd);
/* EXPIRE family: any value; a result at or before now deletes the key. */
bool srv_expiry_at(struct slot *s, const char *unit, long long v, int64_t *at);

/* cmd_string.c */
CMD_DECL_READ(cmd_get);
CMD_DECL_READ(cmd_mget);
CMD_DECL_READ(cmd_exists);
CMD_DECL_READ(cmd_type);
CMD_DECL_READ(cmd_strlen);
CMD_DECL_READ(cmd_ttl);
CMD_DECL_READ(cmd_pttl);
CMD_DECL_READ(cmd_scan);
CMD_DECL_READ(cmd_keys);
CMD_DECL_ENCODE(cmd_set);
CMD_DECL_ENCODE(cmd_getdel);
CMD_DECL_ENCODE(cmd_getex);
CMD_DECL_ENCODE(cmd_mset);
CMD_DECL_ENCODE(cmd_del);
CMD_DECL_ENCODE(cmd_incr);
CMD_DECL_ENCODE(cmd_decr);
CMD_DECL_ENCODE(cmd_incrby);
CMD_DECL_ENCODE(cmd_decrby);
CMD_DECL_ENCODE(cmd_append);
CMD_DECL_ENCODE(cmd_expire);
CMD_DECL_ENCODE(cmd_pexpire);
CMD_DECL_ENCODE(cmd_expireat);
CMD_DECL_ENCODE(cmd_pexpireat);
CMD_DECL_ENCODE(cmd_persist);

/* cmd_string_ext.c */
CMD_DECL_ENCODE(cmd_setex);
CMD_DECL_ENCODE(cmd_psetex);
CMD_DECL_ENCODE(cmd_setnx);
CMD_DECL_REPLY(cmd_setnx_reply);
CMD_DECL_ENCODE(cmd_getset);
CMD_DECL_READ(cmd_getrange);
CMD_DECL_READ(cmd_getbit);
CMD_DECL_ENCODE(cmd_setbit);
CMD_DECL_READ(cmd_lcs);
CMD_DECL_READ(cmd_memory);
/* HSCAN SSCAN ZSCAN's shared parts (cmd_keyspace.c), in Redis's order: the
 * cursor (false: "invalid cursor" written), the reply for an absent key
 * (cursor 0, nothing), then MATCH and COUNT (false: the error written). */
bool srv_scan_cursor(struct slot *s);
void srv_scan_empty(struct slot *s);
bool srv_scan_options(struct slot *s, const char **pattern, size_t *plen);
CMD_DECL_ENCODE(cmd_setrange);
CMD_DECL_ENCODE(cmd_msetnx);

/* cmd_float.c; a write built again after BUSY at most SRV_FLOAT_REDOS times */
#define SRV_FLOAT_REDOS 16
CMD_DECL_ENCODE(cmd_incrbyfloat);
CMD_DECL_ENCODE(cmd_hincrbyfloat);
CMD_DECL_REPLY(cmd_float_reply);

/* cmd_hash_ext.c */
CMD_DECL_READ(cmd_hkeys);
CMD_DECL_READ(cmd_hvals);
CMD_DECL_READ(cmd_hstrlen);
CMD_DECL_READ(cmd_hrandfield);
CMD_DECL_READ(cmd_hscan);
CMD_DECL_ENCODE(cmd_hsetnx);

/* cmd_keyspace.c */
/* A node-local random number (not for anything that reaches the log). */
uint64_t srv_random(void);
CMD_DECL_READ(cmd_expiretime);
CMD_DECL_READ(cmd_pexpiretime);
CMD_DECL_READ(cmd_touch);
CMD_DECL_READ(cmd_randomkey);
CMD_DECL_LOCAL(cmd_time);
CMD_DECL_ENCODE(cmd_rename);
CMD_DECL_ENCODE(cmd_renamenx);
CMD_DECL_ENCODE(cmd_copy);
CMD_DECL_ENCODE(cmd_flush);
/* cmd_db.c */
CMD_DECL_ENCODE(cmd_move);
CMD_DECL_ENCODE(cmd_swapdb);

/* cmd_hash.c */
CMD_DECL_ENCODE(cmd_hset);
CMD_DECL_REPLY(cmd_hmset_reply);
CMD_DECL_READ(cmd_hget);
CMD_DECL_READ(cmd_hmget);
CMD_DECL_READ(cmd_hgetall);
CMD_DECL_READ(cmd_hexists);
CMD_DECL_READ(cmd_hlen);
CMD_DECL_ENCODE(cmd_hdel);
CMD_DECL_ENCODE(cmd_hincrby);

/* cmd_set.c */
CMD_DECL_ENCODE(cmd_sadd);
CMD_DECL_ENCODE(cmd_srem);
CMD_DECL_ENCODE(cmd_smove);
CMD_DECL_ENCODE(cmd_spop);
CMD_DECL_REPLY(cmd_spop_reply);
CMD_DECL_READ(cmd_sismember);
CMD_DECL_READ(cmd_smismember);
CMD_DECL_READ(cmd_scard);
CMD_DECL_READ(cmd_smembers);
/* cmd_set_ops.c */
CMD_DECL_READ(cmd_sinter);
CMD_DECL_READ(cmd_sunion);
CMD_DECL_READ(cmd_sdiff);
CMD_DECL_READ(cmd_sintercard);
CMD_DECL_ENCODE(cmd_sinterstore);
CMD_DECL_ENCODE(cmd_sunionstore);
CMD_DECL_ENCODE(cmd_sdiffstore);
CMD_DECL_READ(cmd_srandmember);
CMD_DECL_READ(cmd_sscan);

/* cmd_list.c */
CMD_DECL_ENCODE(cmd_lpush);
CMD_DECL_ENCODE(cmd_rpush);
CMD_DECL_ENCODE(cmd_lpushx);
CMD_DECL_ENCODE(cmd_rpushx);
CMD_DECL_ENCODE(cmd_lpop);
CMD_DECL_ENCODE(cmd_rpop);
CMD_DECL_READ(cmd_llen);
CMD_DECL_READ(cmd_lindex);
CMD_DECL_READ(cmd_lrange);
/* cmd_list_ext.c */
CMD_DECL_ENCODE(cmd_lset);
CMD_DECL_ENCODE(cmd_lrem);
CMD_DECL_ENCODE(cmd_ltrim);
CMD_DECL_ENCODE(cmd_linsert);
CMD_DECL_ENCODE(cmd_lmove);
CMD_DECL_ENCODE(cmd_rpoplpush);
CMD_DECL_READ(cmd_lpos);
/* cmd_block.c: multi-key and blocking pops (block.c waits) */
CMD_DECL_ENCODE(cmd_lmpop);
CMD_DECL_ENCODE(cmd_zmpop);
CMD_DECL_ENCODE(cmd_blpop);
CMD_DECL_ENCODE(cmd_brpop);
CMD_DECL_ENCODE(cmd_bzpopmin);
CMD_DECL_ENCODE(cmd_bzpopmax);
CMD_DECL_ENCODE(cmd_blmove);
CMD_DECL_ENCODE(cmd_brpoplpush);
CMD_DECL_ENCODE(cmd_blmpop);
CMD_DECL_ENCODE(cmd_bzmpop);
CMD_DECL_REPLY(cmd_lmpop_reply);
CMD_DECL_REPLY(cmd_blpop_reply);
CMD_DECL_REPLY(cmd_zmpop_reply);
CMD_DECL_REPLY(cmd_bzpop_reply);
CMD_DECL_REPLY(cmd_blmove_reply);
/* cmd_zset.c */
CMD_DECL_ENCODE(cmd_zadd);
CMD_DECL_ENCODE(cmd_zincrby);
CMD_DECL_REPLY(cmd_zadd_reply);
CMD_DECL_ENCODE(cmd_zrem);
CMD_DECL_READ(cmd_zscore);
CMD_DECL_READ(cmd_zmscore);
CMD_DECL_READ(cmd_zcard);
CMD_DECL_READ(cmd_zcount);
CMD_DECL_READ(cmd_zlexcount);
CMD_DECL_ENCODE(cmd_zpopmin);
CMD_DECL_ENCODE(cmd_zpopmax);
CMD_DECL_REPLY(cmd_zpop_reply);
CMD_DECL_ENCODE(cmd_zremrangebyrank);
CMD_DECL_ENCODE(cmd_zremrangebyscore);
CMD_DECL_ENCODE(cmd_zremrangebylex);
/* A score as RESP: a bulk string, RESP3's double. */
void zset_reply_score(struct buf *b, int proto, double d);
/* min and max at argv[i], argv[j] (Redis's zslParseRange); writes the error. */
bool zset_parse_range(struct slot *s, uint32_t i, uint32_t j, struct keel_zrange *z);
/* The live sorted set at argv[1] (id 0 if absent): 0 or a storage error;
 * *wrong after writing WRONGTYPE. */
int zset_load(struct slot *s, struct keel_read *rd, struct keel_coll *coll, bool *wrong);
/* cmd_zrange.c */
enum { ZBY_AUTO, ZBY_RANK, ZBY_SCORE, ZBY_LEX };
enum { ZDIR_AUTO, ZDIR_FWD, ZDIR_REV };
/* Redis's zrangeGenericCommand's parsing: the source key at argv[at], the
 * range after it, the options (store: no WITHSCORES, as ZRANGESTORE);
 * by and dir fixed by the command or AUTO. False after writing the error. */
bool zset_parse_zrange(struct slot *s, uint32_t at, bool store, int by, int dir, struct keel_zsel *sel,
                       bool *withscores);
/* A result as ZRANGE replies it: members, with scores flat (RESP2) or in
 * pairs (RESP3). */
void zset_reply_zres(struct slot *s, const struct keel_zres *res, bool withscores);
CMD_DECL_READ(cmd_zrange);
CMD_DECL_READ(cmd_zrevrange);
CMD_DECL_READ(cmd_zrangebyscore);
CMD_DECL_READ(cmd_zrevrangebyscore);
CMD_DECL_READ(cmd_zrangebylex);
CMD_DECL_READ(cmd_zrevrangebylex);
CMD_DECL_READ(cmd_zrank);
CMD_DECL_READ(cmd_zrevrank);
CMD_DECL_READ(cmd_zscan);

/* cmd_zset_ops.c */
CMD_DECL_READ(cmd_zunion);
CMD_DECL_READ(cmd_zinter);
CMD_DECL_READ(cmd_zdiff);
CMD_DECL_READ(cmd_zintercard);
CMD_DECL_ENCODE(cmd_zunionstore);
CMD_DECL_ENCODE(cmd_zinterstore);
CMD_DECL_ENCODE(cmd_zdiffstore);
CMD_DECL_ENCODE(cmd_zrangestore);
/* cmd_zrandmember.c */
CMD_DECL_READ(cmd_zrandmember);

/* cmd_server.c */
CMD_DECL_LOCAL(cmd_ping);
CMD_DECL_LOCAL(cmd_echo);
CMD_DECL_READ(cmd_ping_tx);
CMD_DECL_READ(cmd_echo_tx);
CMD_DECL_LOCAL(cmd_hello);
CMD_DECL_LOCAL(cmd_quit);
CMD_DECL_LOCAL(cmd_select);
CMD_DECL_LOCAL(cmd_command);
CMD_DECL_LOCAL(cmd_client);
CMD_DECL_LOCAL(cmd_info); /* cmd_info.c */
CMD_DECL_LOCAL(cmd_role);
CMD_DECL_LOCAL(cmd_readonly);
CMD_DECL_LOCAL(cmd_readwrite);
CMD_DECL_READ(cmd_dbsize);
CMD_DECL_LOCAL(cmd_keel_fwd);
CMD_DECL_LOCAL(cmd_keel_fwdsync);
CMD_DECL_LOCAL(cmd_keel_req);
CMD_DECL_ENCODE(cmd_keel_publish);
CMD_DECL_ENCODE(cmd_keel_disk);

/* auth.c */
CMD_DECL_LOCAL(cmd_auth);
/* cmd_acl.c */
CMD_DECL_LOCAL(cmd_acl);

/* clock_sync.c */
CMD_DECL_LOCAL(cmd_keel_clock);

/* cmd_member.c */
CMD_DECL_LOCAL(cmd_keel_join);
CMD_DECL_LOCAL(cmd_keel_member);
CMD_DECL_LOCAL(cmd_keel_transfer);

/* cmd_admin.c */
CMD_DECL_ENCODE(cmd_keel_hashkv);
CMD_DECL_LOCAL(cmd_keel_hashkv_last);
CMD_DECL_LOCAL(cmd_keel_snapshot);

/* consistency.c */
CMD_DECL_LOCAL(cmd_keel_digest);

/* cmd_drill.c */
CMD_DECL_LOCAL(cmd_keel_drill);
/* cmd_observe.c */
CMD_DECL_LOCAL(cmd_keel_alarm);
/* One "name:value" line of an INFO section and its CRLF, at most 509 bytes
 * of text; CR and LF in the text (alarm reasons are free text) become
 * spaces, so a line can never break INFO's framing. */
void srv_info_line(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void srv_info_persistence(struct keel_server *srv, struct buf *b);
void srv_info_alarms(struct keel_server *srv, struct buf *b);
void srv_info_raft(struct keel_server *srv, const struct keel_node_status *st, const char *leader_addr,
                   struct buf *b);

/* cmd_config.c */
CMD_DECL_LOCAL(cmd_config);

/* acl_file.c: ACL LOAD (ends s; as_write proposes or forwards it) and ACL
 * SAVE (writes the reply) against --aclfile. */
void acl_file_load(struct slot *s, void (*as_write)(struct slot *, const struct command *));
void acl_file_save(struct slot *s);

/* cmd_multi.c */
CMD_DECL_LOCAL(cmd_multi);
CMD_DECL_LOCAL(cmd_exec);
CMD_DECL_LOCAL(cmd_discard);
/* The batch's RESP reply p[0..n) with EXEC's AUTHs (s->tx_conn) run now
 * and their replies at their places, into s->out (cmd_multi.c). */
void srv_tx_splice(struct slot *s, const uint8_t *p, size_t n);

/* cmd_tx.c */
CMD_DECL_ENCODE(cmd_keel_tx);
CMD_DECL_REPLY(cmd_keel_tx_reply);

/* cmd_watch.c */
CMD_DECL_LOCAL(cmd_watch);
CMD_DECL_LOCAL(cmd_unwatch);
CMD_DECL_READ(cmd_unwatch_tx);
CMD_DECL_READ(cmd_keel_versions);
CMD_DECL_LOCAL(cmd_keel_watchv);

/* cmd_pubsub.c */
CMD_DECL_LOCAL(cmd_subscribe);
CMD_DECL_LOCAL(cmd_psubscribe);
CMD_DECL_LOCAL(cmd_unsubscribe);
CMD_DECL_LOCAL(cmd_punsubscribe);
CMD_DECL_LOCAL(cmd_publish);
CMD_DECL_LOCAL(cmd_pubsub);
CMD_DECL_LOCAL(cmd_reset);

/* cmd_config.c */
CMD_DECL_LOCAL(cmd_config);

#endif /* KEEL_API_COMMANDS_H */
