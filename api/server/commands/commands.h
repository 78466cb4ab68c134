/* api: the command handlers, by file, referenced from the command table. */
#ifndef KEEL_API_COMMANDS_H
#define KEEL_API_COMMANDS_H

#include "api/server/server_internal.h"

/* Expiry helpers: unit is "EX", "PX", "EXAT" or "PXAT" (any case). */
/* SET/GETEX: a positive relative time or an absolute one; errors like Redis. */
bool expiry_from(struct slot *s, const char *unit, long long v, int64_t *expire_at,
                 const char *cmd);
/* EXPIRE family: any value; a result at or before now deletes the key. */
bool expiry_at(struct slot *s, const char *unit, long long v, int64_t *at);

/* cmd_string.c */
DECL_READ(cmd_get);
DECL_READ(cmd_mget);
DECL_READ(cmd_exists);
DECL_READ(cmd_type);
DECL_READ(cmd_strlen);
DECL_READ(cmd_ttl);
DECL_READ(cmd_pttl);
DECL_READ(cmd_scan);
DECL_READ(cmd_keys);
DECL_ENCODE(cmd_set);
DECL_ENCODE(cmd_getdel);
DECL_ENCODE(cmd_getex);
DECL_ENCODE(cmd_mset);
DECL_REPLY(reply_mset);
DECL_ENCODE(cmd_del);
DECL_ENCODE(cmd_incr);
DECL_ENCODE(cmd_decr);
DECL_ENCODE(cmd_incrby);
DECL_ENCODE(cmd_decrby);
DECL_ENCODE(cmd_append);
DECL_ENCODE(cmd_expire);
DECL_ENCODE(cmd_pexpire);
DECL_ENCODE(cmd_expireat);
DECL_ENCODE(cmd_pexpireat);
DECL_ENCODE(cmd_persist);

/* cmd_hash.c */
DECL_ENCODE(cmd_hset);
DECL_REPLY(reply_hmset);
DECL_READ(cmd_hget);
DECL_READ(cmd_hmget);
DECL_READ(cmd_hgetall);
DECL_READ(cmd_hexists);
DECL_READ(cmd_hlen);
DECL_ENCODE(cmd_hdel);
DECL_ENCODE(cmd_hincrby);

/* cmd_server.c */
DECL_LOCAL(cmd_ping);
DECL_LOCAL(cmd_echo);
DECL_LOCAL(cmd_hello);
DECL_LOCAL(cmd_quit);
DECL_LOCAL(cmd_select);
DECL_LOCAL(cmd_command);
DECL_LOCAL(cmd_client);
DECL_LOCAL(cmd_info);
DECL_LOCAL(cmd_role);
DECL_LOCAL(cmd_readonly);
DECL_LOCAL(cmd_readwrite);
DECL_READ(cmd_dbsize);
DECL_LOCAL(cmd_keel_fwd);
DECL_LOCAL(cmd_keel_fwdsync);
DECL_LOCAL(cmd_keel_req);
DECL_ENCODE(cmd_keel_publish);
DECL_ENCODE(cmd_keel_disk);

/* clock_sync.c */
DECL_LOCAL(cmd_keel_clock);

/* cmd_member.c */
DECL_LOCAL(cmd_keel_join);
DECL_LOCAL(cmd_keel_member);
DECL_LOCAL(cmd_keel_transfer);

/* cmd_admin.c */
DECL_ENCODE(cmd_keel_hashkv);
DECL_LOCAL(cmd_keel_hashkv_last);
DECL_LOCAL(cmd_keel_snapshot);

/* consistency.c */
DECL_LOCAL(cmd_keel_digest);

/* cmd_drill.c */
DECL_LOCAL(cmd_keel_drill);
/* cmd_observe.c */
DECL_LOCAL(cmd_keel_alarm);
/* One "name:value" line of an INFO section and its CRLF, at most 509 bytes
 * of text; CR and LF in the text (alarm reasons are free text) become
 * spaces, so a line can never break INFO's framing. */
void info_line(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void info_persistence(struct keel_server *srv, struct buf *b);
void info_alarms(struct keel_server *srv, struct buf *b);

/* cmd_config.c */
DECL_LOCAL(cmd_config);

/* cmd_multi.c */
DECL_LOCAL(cmd_multi);
DECL_LOCAL(cmd_exec);
DECL_LOCAL(cmd_discard);
DECL_LOCAL(cmd_watch);
DECL_LOCAL(cmd_unwatch);
DECL_ENCODE(cmd_keel_tx);
DECL_REPLY(reply_keel_tx);
DECL_READ(cmd_keel_versions);
DECL_LOCAL(cmd_keel_watchv);

/* cmd_pubsub.c */
DECL_LOCAL(cmd_subscribe);
DECL_LOCAL(cmd_psubscribe);
DECL_LOCAL(cmd_unsubscribe);
DECL_LOCAL(cmd_punsubscribe);
DECL_LOCAL(cmd_publish);
DECL_LOCAL(cmd_pubsub);
DECL_LOCAL(cmd_reset);

/* cmd_config.c */
DECL_LOCAL(cmd_config);

#endif /* KEEL_API_COMMANDS_H */
