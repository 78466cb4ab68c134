/* api/server: databases (SELECT n). The design is storage.h's
 * (KEEL_DB_PREFIX): a key of database n >= 1 is stored under a reserved
 * prefix, the byte n and its name; database 0's keys under their names.
 *
 * The node that receives a client's command checks it (ACL key patterns,
 * reserved keys) on the names the client gave, then rewrites its keys into
 * the stored names of the connection's database (srv_db_rewrite). What it
 * proposes or forwards then carries the stored names: the leader, the log
 * and every replica see one keyspace and need no notion of databases,
 * except the commands that name no key (KEYS, SCAN, RANDOMKEY, DBSIZE,
 * FLUSHDB, SWAPDB): those read s->db, which KEEL.FWD carries after the
 * protocol ("3:1", forward_conn.c). In MULTI the queued commands are
 * rewritten when they are queued, with the database the SELECTs queued
 * before them chose (conn->multi_db), as Redis runs them.
 *
 * Blocked pops (block.c) wait on their argv's keys, which are stored
 * names by then, and are poked by the applied entries' events, which carry
 * stored names too: a BLPOP in database 1 is woken by writes to database
 * 1's key only. Replies that name a key (BLPOP, LMPOP, ... in
 * cmd_block.c; KEYS, SCAN, RANDOMKEY; notifications) give the client's
 * name back, without the prefix. */
#ifndef KEEL_API_SERVER_DB_H
#define KEEL_API_SERVER_DB_H

#include <stdbool.h>
#include <stdint.h>

#include "api/server/server_internal.h"

/* Where a command's keys are: first..last by step (last inclusive), and
 * first2..last2 (the Z*STORE forms' sources after their destination). */
struct srv_keys
{
    int first, last, step, first2, last2;
};
/* The keys of cmd in argv[0..argc), the numkeys commands' included (as
 * auth_check.c finds them); false if it names none. */
bool srv_cmd_keys(const struct command *cmd, const struct keel_slice *argv, uint32_t argc,
                  struct srv_keys *k);
/* Whether argument i is one of k's keys. */
bool srv_cmd_key_at(const struct srv_keys *k, uint32_t i);
/* Rewrite the keys of cmd in *argv (owned with *argbuf, both replaced)
 * into database db's stored names. false: out of memory (nothing changed). */
bool srv_db_rewrite_argv(const struct command *cmd, unsigned db, struct keel_slice **argv,
                         uint8_t **argbuf, uint32_t argc);
/* s's keys into s->db's stored names, once (s->db_keyed). false: out of
 * memory, the error written into s->out. */
bool srv_db_rewrite(struct slot *s);
/* The stored name of database db's key into out (KEEL_DB_KEY_OVERHEAD +
 * key.n bytes at least); returns its slice. db 0: key itself. */
struct keel_slice srv_db_key(unsigned db, struct keel_slice key, uint8_t *out);
/* Where a walk of database db >= 1's keys starts: its prefix, into out
 * (KEEL_DB_KEY_OVERHEAD bytes). */
struct keel_slice srv_db_start(unsigned db, uint8_t *out);
/* SELECT's and the DB options' index: false after writing Redis's error
 * ("value is not an integer or out of range" or "DB index is out of range"). */
bool srv_db_index(struct slot *s, uint32_t at, unsigned *db);
struct srv_db_counts
{
    uint64_t keys, expires;
};
/* Every database's keys and keys with a TTL into out[KEEL_MAX_DATABASES],
 * given the keyspace's totals (system keys included). One walk over the
 * reserved range, which holds the databases >= 1, the system keys and the
 * long keys: O(keys outside database 0 + long keys), database 0's being
 * what is left. DBSIZE and INFO keyspace use it. */
int srv_db_count_all(struct keel_read *rd, uint64_t total_keys, uint64_t total_expires,
                     struct srv_db_counts *out);
/* Database db's counts (DBSIZE): as srv_db_count_all. */
int srv_db_count(struct keel_read *rd, unsigned db, struct srv_db_counts *out);
/* Whether cmd names no key yet acts on one database (KEYS, SCAN, ...): it
 * cannot be queued in MULTI in a database other than 0. */
bool srv_db_keyless(const struct command *cmd);

#endif /* KEEL_API_SERVER_DB_H */
