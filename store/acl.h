/* store: Redis 7.2's ACL user model (src/acl.c), replicated.
 *
 * A user is what ACL SETUSER builds: on/off, passwords as SHA-256 hashes
 * (never cleartext), nopass, key patterns (~pat, %R~pat, %W~pat, allkeys),
 * channel patterns (&pat, allchannels) and command rules (+cmd, -cmd,
 * +@cat, -@cat, allcommands, nocommands), with Redis's grammar, error
 * texts and ACL LIST form (acl_describe). Selectors "(...)" and
 * "+cmd|sub" first-arg rules are not supported (refused as syntax errors
 * and unknown commands).
 *
 * Category membership of every command comes from one table,
 * acl_command_categories (acl_table.c), which also lists the Redis commands
 * Keel does not have (so ACL rules written for Redis are accepted).
 *
 * Everything here is deterministic: the only hashing (>pass -> #hash) runs
 * on the leader while it builds the rule text that goes into the raft log.
 * Pure functions on memory; no store, no storage. */
#ifndef KEEL_STORE_ACL_H
#define KEEL_STORE_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "storage/storage.h"

/* Where the users live: one system key per user (the server keeps clients
 * off "\xffkeel:", api/server/syskey.h). */
#define KEEL_ACL_PREFIX "\xffkeel:acl:"

/* The categories (Redis's names, plus @keel for Keel's admin commands). */
#define ACL_CAT_KEYSPACE (1u << 0)
#define ACL_CAT_READ (1u << 1)
#define ACL_CAT_WRITE (1u << 2)
#define ACL_CAT_SET (1u << 3)
#define ACL_CAT_SORTEDSET (1u << 4)
#define ACL_CAT_LIST (1u << 5)
#define ACL_CAT_HASH (1u << 6)
#define ACL_CAT_STRING (1u << 7)
#define ACL_CAT_BITMAP (1u << 8)
#define ACL_CAT_HYPERLOGLOG (1u << 9)
#define ACL_CAT_GEO (1u << 10)
#define ACL_CAT_STREAM (1u << 11)
#define ACL_CAT_PUBSUB (1u << 12)
#define ACL_CAT_ADMIN (1u << 13)
#define ACL_CAT_FAST (1u << 14)
#define ACL_CAT_SLOW (1u << 15)
#define ACL_CAT_BLOCKING (1u << 16)
#define ACL_CAT_DANGEROUS (1u << 17)
#define ACL_CAT_CONNECTION (1u << 18)
#define ACL_CAT_TRANSACTION (1u << 19)
#define ACL_CAT_SCRIPTING (1u << 20)
#define ACL_CAT_KEEL (1u << 21)

/* Per-command flags in the table. */
#define ACL_CMD_KEEL 0x01   /* Keel implements it (else: Redis only, for rules) */
#define ACL_CMD_NOAUTH 0x02 /* runs whatever the user (AUTH, HELLO: Redis's no-auth) */
#define ACL_CMD_SUB 0x04       /* "container|sub": a subcommand's own row */
#define ACL_CMD_CONTAINER 0x08 /* has subcommand rows ("client") */

struct acl_command
{
    const char *name; /* lower case */
    uint32_t cats;
    uint8_t flags;
};

/* The one table, sorted by name; acl_commands_n entries. */
extern const struct acl_command acl_command_categories[];
extern const size_t acl_commands_n;

struct acl_category
{
    const char *name; /* without the @ */
    uint32_t bit;
};
extern const struct acl_category acl_categories[];
extern const size_t acl_categories_n;

/* The table index of a command (case-insensitive), -1 if unknown. */
int acl_command_find(const char *name, size_t n);
/* The row a request name [sub ...] is checked against: the subcommand's
 * own row "name|sub" if name is a container and sub has one, else name's
 * (-1 if unknown). sub may be NULL. */
int acl_command_find_sub(const char *name, size_t n, const char *sub, size_t subn);
/* A category's bit by name without '@' (case-insensitive), 0 if unknown. */
uint32_t acl_category_find(const char *name, size_t n);

/* ---- users -------------------------------------------------------------- */

#define ACL_KEY_READ 0x1
#define ACL_KEY_WRITE 0x2
#define ACL_KEY_ALL (ACL_KEY_READ | ACL_KEY_WRITE)
#define ACL_HASH_HEX 64           /* a password hash: 64 lowercase hex digits */
#define ACL_MAX_NAME 256          /* a user name, bytes (Keel's limit) */
#define ACL_MAX_RULES (64u * 1024) /* a user's normalized rule text, bytes */

struct acl_pattern
{
    char *pat;
    size_t n;
    uint8_t flags; /* ACL_KEY_* (channels: 0) */
};

struct acl_user
{
    char *name;
    size_t name_n;
    bool on;
    bool nopass;
    bool skip_sanitize;   /* skip-sanitize-payload (accepted, shown, no effect in Keel) */
    char (*pass)[ACL_HASH_HEX + 1];
    size_t npass;
    bool allkeys;
    struct acl_pattern *keys;
    size_t nkeys;
    bool allchannels;
    struct acl_pattern *chans;
    size_t nchans;
    bool allcommands;     /* Redis's SELECTOR_FLAG_ALLCOMMANDS */
    bool future;          /* Redis's reserved bit: set by +@all only */
    uint8_t *allowed;     /* one byte per acl_command_categories entry */
    char *rules;          /* the ordered command rules ("+get -@write"), NUL-ended */
};

/* A new user as Redis creates one: off, sanitize-payload, no passwords, no
 * keys, resetchannels, -@all. KEEL_ENOMEM on failure (u is then empty). */
int acl_user_init(struct acl_user *u, const char *name, size_t n);
/* Redis's default user: on nopass ~* &* +@all. */
int acl_user_init_default(struct acl_user *u);
void acl_user_close(struct acl_user *u);
/* A deep copy. */
int acl_user_copy(struct acl_user *dst, const struct acl_user *src);

/* Whether name is a valid user name: 1..ACL_MAX_NAME bytes, no spaces or
 * NUL (Redis: "Usernames can't contain spaces or null characters"). */
bool acl_name_valid(const uint8_t *p, size_t n);

/* Apply one ACL SETUSER rule (Redis's ACLSetUser) to u. Returns 0, or
 * KEEL_EINVAL with err set to Redis's reason ("Syntax error", "Unknown
 * command or category name in ACL", ...), or KEEL_ENOMEM. On error u may be
 * partly changed: ACL SETUSER applies rules to a copy (acl_setuser). */
int acl_rule(struct acl_user *u, const uint8_t *op, size_t n, const char **err);

/* ACL SETUSER name rule...: apply rules in order to a copy of *u and, if all
 * succeed, replace *u. On a bad rule: KEEL_EINVAL, *u unchanged, and msg
 * gets Redis's whole error: "Error in ACL SETUSER modifier '<rule>': <why>". */
int acl_setuser(struct acl_user *u, const struct keel_slice *rules, size_t n, char *msg,
                size_t size);

/* Redis's ACL LIST line after "user <name> ": flags, #hashes, keys,
 * channels, commands ("on #<hash> ~k:* resetchannels -@all +get").
 * Appended to out. This is also the normalized form that is replicated:
 * applying its words to a new user gives back the same user. */
void acl_describe(const struct acl_user *u, struct buf *out);
/* The command part alone ("-@all +get"): ACL GETUSER's "commands". */
void acl_describe_commands(const struct acl_user *u, struct buf *out);
/* One key pattern as ACL GETUSER shows it ("~k", "%R~k"). */
void acl_describe_key(const struct acl_pattern *p, struct buf *out);

/* SHA-256 of pass as 64 lowercase hex digits + NUL (Redis's ACLHashPassword).
 * 0, or KEEL_ENOMEM (OpenSSL could not allocate). */
int acl_hash_password(const uint8_t *pass, size_t n, char hex[ACL_HASH_HEX + 1]);
/* Whether the password matches (nopass: any), in time independent of where
 * the hashes differ. A disabled user never matches. */
bool acl_password_ok(const struct acl_user *u, const uint8_t *pass, size_t n);

/* ---- checks ------------------------------------------------------------- */

enum acl_verdict { ACL_OK = 0, ACL_DENIED_CMD = 1, ACL_DENIED_KEY = 2, ACL_DENIED_CHANNEL = 3 };

struct acl_key
{
    struct keel_slice key;
    uint8_t flags; /* ACL_KEY_READ and/or ACL_KEY_WRITE: what the command does to it */
};

struct acl_channel
{
    struct keel_slice name;
    bool pattern; /* PSUBSCRIBE's argument: matched literally against the user's patterns */
};

/* Redis's ACLSelectorCheckCmd: may u run the command `cmd` (table index
 * from acl_command_find; -1: unknown, denied unless the user has
 * allcommands) touching these keys and channels? On a denial *which (may be
 * NULL) is the index of the offending key or channel. */
enum acl_verdict acl_check(const struct acl_user *u, int cmd, const struct acl_key *keys,
                           size_t nkeys, const struct acl_channel *chans, size_t nchans,
                           size_t *which);

/* Redis's stringmatchlen (glob: * ? [a-z] [^x] \x), case-sensitive. */
bool acl_glob(const uint8_t *pat, size_t pn, const uint8_t *s, size_t sn);

#endif /* KEEL_STORE_ACL_H */
