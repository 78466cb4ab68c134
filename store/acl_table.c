/* store: the ACL command table: every command's categories, in one place.
 *
 * One row per command name (lower case, sorted: acl_command_find searches
 * it), with Redis 7.2's ACL categories (src/commands.def) and @keel for
 * Keel's own KEEL.* commands. ACL_CMD_KEEL marks the commands Keel has
 * (api/server/commands/cmd_table.c); the others are Redis commands Keel
 * lacks, listed so that rules written for Redis (+@list, -flushall) are
 * accepted, and ready for when Keel adds them. Container commands (CLIENT,
 * CONFIG, ACL, PUBSUB, OBJECT, ...) are one row each: their subcommands
 * have a row of their own ("client|list", ACL_CMD_SUB) with Redis's
 * categories for that subcommand, so that -@admin takes CLIENT LIST but
 * leaves CLIENT ID, and +config|get is a rule. The container's row
 * (ACL_CMD_CONTAINER) is what +client/-client name; a subcommand without a
 * row of its own is checked against it.
 *
 * Keel's admin commands are @keel @admin (and @dangerous where they can
 * take the cluster down or leak its data: KEEL.MEMBER, KEEL.TRANSFER,
 * KEEL.ALARM, KEEL.SNAPSHOT, KEEL.DRILL, the internal ones). */
#include <string.h>

#include "store/acl.h"

const struct acl_command acl_command_categories[] = {
    {"acl", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS, ACL_CMD_KEEL | ACL_CMD_CONTAINER},
    {"acl|cat", ACL_CAT_SLOW, ACL_CMD_KEEL | ACL_CMD_SUB},
    {"acl|deluser", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS, ACL_CMD_KEEL | ACL_CMD_SUB},
    {"acl|dryrun", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS, ACL_CMD_KEEL | ACL_CMD_SUB},
    {"acl|genpass", ACL_CAT_SLOW, ACL_CMD_SUB},
    {"acl|getuser", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS, ACL_CMD_KEEL | ACL_CMD_SUB},
    {"acl|help", ACL_CAT_SLOW, ACL_CMD_SUB},
    {"acl|list", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS, ACL_CMD_KEEL | ACL_CMD_SUB},
    {"acl|load", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS, ACL_CMD_KEEL | ACL_CMD_SUB},
    {"acl|log", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS, ACL_CMD_KEEL | ACL_CMD_SUB},
    {"acl|save", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS, ACL_CMD_KEEL | ACL_CMD_SUB},
    {"acl|setuser", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS, ACL_CMD_KEEL | ACL_CMD_SUB},
    {"acl|users", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS, ACL_CMD_KEEL | ACL_CMD_SUB},
    {"acl|whoami", ACL_CAT_SLOW, ACL_CMD_KEEL | ACL_CMD_SUB},
    {"append", ACL_CAT_WRITE | ACL_CAT_STRING | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"auth", ACL_CAT_FAST | ACL_CAT_CONNECTION, ACL_CMD_KEEL | ACL_CMD_NOAUTH},
    {"bgrewriteaof", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS, 0},
    {"bgsave", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS, 0},
    {"bitcount", ACL_CAT_READ | ACL_CAT_BITMAP | ACL_CAT_SLOW, 0},
    {"blmove", ACL_CAT_WRITE | ACL_CAT_LIST | ACL_CAT_SLOW | ACL_CAT_BLOCKING, ACL_CMD_KEEL},
    {"blmpop", ACL_CAT_WRITE | ACL_CAT_LIST | ACL_CAT_SLOW | ACL_CAT_BLOCKING, ACL_CMD_KEEL},
    {"blpop", ACL_CAT_WRITE | ACL_CAT_LIST | ACL_CAT_SLOW | ACL_CAT_BLOCKING, ACL_CMD_KEEL},
    {"brpop", ACL_CAT_WRITE | ACL_CAT_LIST | ACL_CAT_SLOW | ACL_CAT_BLOCKING, ACL_CMD_KEEL},
    {"brpoplpush", ACL_CAT_WRITE | ACL_CAT_LIST | ACL_CAT_SLOW | ACL_CAT_BLOCKING, ACL_CMD_KEEL},
    {"bzmpop", ACL_CAT_WRITE | ACL_CAT_SORTEDSET | ACL_CAT_SLOW | ACL_CAT_BLOCKING, ACL_CMD_KEEL},
    {"bzpopmax", ACL_CAT_WRITE | ACL_CAT_SORTEDSET | ACL_CAT_FAST | ACL_CAT_BLOCKING, ACL_CMD_KEEL},
    {"bzpopmin", ACL_CAT_WRITE | ACL_CAT_SORTEDSET | ACL_CAT_FAST | ACL_CAT_BLOCKING, ACL_CMD_KEEL},
    {"client", ACL_CAT_SLOW | ACL_CAT_CONNECTION, ACL_CMD_KEEL | ACL_CMD_CONTAINER},
    {"client|caching", ACL_CAT_SLOW | ACL_CAT_CONNECTION, ACL_CMD_SUB},
    {"client|getname", ACL_CAT_SLOW | ACL_CAT_CONNECTION, ACL_CMD_KEEL | ACL_CMD_SUB},
    {"client|getredir", ACL_CAT_SLOW | ACL_CAT_CONNECTION, ACL_CMD_SUB},
    {"client|help", ACL_CAT_SLOW | ACL_CAT_CONNECTION, ACL_CMD_SUB},
    {"client|id", ACL_CAT_SLOW | ACL_CAT_CONNECTION, ACL_CMD_KEEL | ACL_CMD_SUB},
    {"client|info", ACL_CAT_SLOW | ACL_CAT_CONNECTION, ACL_CMD_KEEL | ACL_CMD_SUB},
    {"client|kill", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS | ACL_CAT_CONNECTION, ACL_CMD_SUB},
    {"client|list", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS | ACL_CAT_CONNECTION, ACL_CMD_KEEL | ACL_CMD_SUB},
    {"client|no-evict", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS | ACL_CAT_CONNECTION, ACL_CMD_SUB},
    {"client|no-touch", ACL_CAT_SLOW | ACL_CAT_CONNECTION, ACL_CMD_SUB},
    {"client|pause", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS | ACL_CAT_CONNECTION, ACL_CMD_SUB},
    {"client|reply", ACL_CAT_SLOW | ACL_CAT_CONNECTION, ACL_CMD_SUB},
    {"client|setinfo", ACL_CAT_SLOW | ACL_CAT_CONNECTION, ACL_CMD_KEEL | ACL_CMD_SUB},
    {"client|setname", ACL_CAT_SLOW | ACL_CAT_CONNECTION, ACL_CMD_KEEL | ACL_CMD_SUB},
    {"client|tracking", ACL_CAT_SLOW | ACL_CAT_CONNECTION, ACL_CMD_SUB},
    {"client|trackinginfo", ACL_CAT_SLOW | ACL_CAT_CONNECTION, ACL_CMD_SUB},
    {"client|unblock", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS | ACL_CAT_CONNECTION, ACL_CMD_KEEL | ACL_CMD_SUB},
    {"client|unpause", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS | ACL_CAT_CONNECTION, ACL_CMD_SUB},
    {"cluster", ACL_CAT_SLOW, 0},
    {"command", ACL_CAT_SLOW | ACL_CAT_CONNECTION, ACL_CMD_KEEL | ACL_CMD_CONTAINER},
    {"command|count", ACL_CAT_SLOW | ACL_CAT_CONNECTION, ACL_CMD_KEEL | ACL_CMD_SUB},
    {"command|docs", ACL_CAT_SLOW | ACL_CAT_CONNECTION, ACL_CMD_KEEL | ACL_CMD_SUB},
    {"command|getkeys", ACL_CAT_SLOW | ACL_CAT_CONNECTION, ACL_CMD_SUB},
    {"command|getkeysandflags", ACL_CAT_SLOW | ACL_CAT_CONNECTION, ACL_CMD_SUB},
    {"command|help", ACL_CAT_SLOW | ACL_CAT_CONNECTION, ACL_CMD_SUB},
    {"command|info", ACL_CAT_SLOW | ACL_CAT_CONNECTION, ACL_CMD_KEEL | ACL_CMD_SUB},
    {"command|list", ACL_CAT_SLOW | ACL_CAT_CONNECTION, ACL_CMD_SUB},
    {"config", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS, ACL_CMD_KEEL | ACL_CMD_CONTAINER},
    {"config|get", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS, ACL_CMD_KEEL | ACL_CMD_SUB},
    {"config|help", ACL_CAT_SLOW, ACL_CMD_SUB},
    {"config|resetstat", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS, ACL_CMD_KEEL | ACL_CMD_SUB},
    {"config|rewrite", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS, ACL_CMD_SUB},
    {"config|set", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS, ACL_CMD_KEEL | ACL_CMD_SUB},
    {"copy", ACL_CAT_KEYSPACE | ACL_CAT_WRITE | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"dbsize", ACL_CAT_KEYSPACE | ACL_CAT_READ | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"debug", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS, 0},
    {"decr", ACL_CAT_WRITE | ACL_CAT_STRING | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"decrby", ACL_CAT_WRITE | ACL_CAT_STRING | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"del", ACL_CAT_KEYSPACE | ACL_CAT_WRITE | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"discard", ACL_CAT_FAST | ACL_CAT_TRANSACTION, ACL_CMD_KEEL},
    {"dump", ACL_CAT_KEYSPACE | ACL_CAT_READ | ACL_CAT_SLOW, 0},
    {"echo", ACL_CAT_FAST | ACL_CAT_CONNECTION, ACL_CMD_KEEL},
    {"eval", ACL_CAT_SLOW | ACL_CAT_SCRIPTING, 0},
    {"evalsha", ACL_CAT_SLOW | ACL_CAT_SCRIPTING, 0},
    {"exec", ACL_CAT_SLOW | ACL_CAT_TRANSACTION, ACL_CMD_KEEL},
    {"exists", ACL_CAT_KEYSPACE | ACL_CAT_READ | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"expire", ACL_CAT_KEYSPACE | ACL_CAT_WRITE | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"expireat", ACL_CAT_KEYSPACE | ACL_CAT_WRITE | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"expiretime", ACL_CAT_KEYSPACE | ACL_CAT_READ | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"failover", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS, 0},
    {"flushall", ACL_CAT_KEYSPACE | ACL_CAT_WRITE | ACL_CAT_SLOW | ACL_CAT_DANGEROUS, ACL_CMD_KEEL},
    {"flushdb", ACL_CAT_KEYSPACE | ACL_CAT_WRITE | ACL_CAT_SLOW | ACL_CAT_DANGEROUS, ACL_CMD_KEEL},
    {"function", ACL_CAT_SLOW | ACL_CAT_SCRIPTING, 0},
    {"geoadd", ACL_CAT_WRITE | ACL_CAT_GEO | ACL_CAT_SLOW, 0},
    {"get", ACL_CAT_READ | ACL_CAT_STRING | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"getbit", ACL_CAT_READ | ACL_CAT_BITMAP | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"getdel", ACL_CAT_WRITE | ACL_CAT_STRING | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"getex", ACL_CAT_WRITE | ACL_CAT_STRING | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"getrange", ACL_CAT_READ | ACL_CAT_STRING | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"getset", ACL_CAT_WRITE | ACL_CAT_STRING | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"hdel", ACL_CAT_WRITE | ACL_CAT_HASH | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"hello", ACL_CAT_FAST | ACL_CAT_CONNECTION, ACL_CMD_KEEL | ACL_CMD_NOAUTH},
    {"hexists", ACL_CAT_READ | ACL_CAT_HASH | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"hget", ACL_CAT_READ | ACL_CAT_HASH | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"hgetall", ACL_CAT_READ | ACL_CAT_HASH | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"hincrby", ACL_CAT_WRITE | ACL_CAT_HASH | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"hincrbyfloat", ACL_CAT_WRITE | ACL_CAT_HASH | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"hkeys", ACL_CAT_READ | ACL_CAT_HASH | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"hlen", ACL_CAT_READ | ACL_CAT_HASH | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"hmget", ACL_CAT_READ | ACL_CAT_HASH | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"hmset", ACL_CAT_WRITE | ACL_CAT_HASH | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"hrandfield", ACL_CAT_READ | ACL_CAT_HASH | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"hscan", ACL_CAT_READ | ACL_CAT_HASH | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"hset", ACL_CAT_WRITE | ACL_CAT_HASH | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"hsetnx", ACL_CAT_WRITE | ACL_CAT_HASH | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"hstrlen", ACL_CAT_READ | ACL_CAT_HASH | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"hvals", ACL_CAT_READ | ACL_CAT_HASH | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"incr", ACL_CAT_WRITE | ACL_CAT_STRING | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"incrby", ACL_CAT_WRITE | ACL_CAT_STRING | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"incrbyfloat", ACL_CAT_WRITE | ACL_CAT_STRING | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"info", ACL_CAT_SLOW | ACL_CAT_DANGEROUS, ACL_CMD_KEEL},
    {"keel.alarm", ACL_CAT_KEEL | ACL_CAT_ADMIN | ACL_CAT_DANGEROUS | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"keel.clock", ACL_CAT_KEEL | ACL_CAT_ADMIN | ACL_CAT_DANGEROUS | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"keel.digest", ACL_CAT_KEEL | ACL_CAT_ADMIN | ACL_CAT_DANGEROUS | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"keel.disk", ACL_CAT_KEEL | ACL_CAT_ADMIN | ACL_CAT_DANGEROUS | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"keel.drill", ACL_CAT_KEEL | ACL_CAT_ADMIN | ACL_CAT_DANGEROUS | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"keel.fwd", ACL_CAT_KEEL | ACL_CAT_ADMIN | ACL_CAT_DANGEROUS | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"keel.fwdsync", ACL_CAT_KEEL | ACL_CAT_ADMIN | ACL_CAT_DANGEROUS | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"keel.hashkv", ACL_CAT_KEEL | ACL_CAT_ADMIN | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"keel.hashkv.last", ACL_CAT_KEEL | ACL_CAT_ADMIN | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"keel.join", ACL_CAT_KEEL | ACL_CAT_ADMIN | ACL_CAT_DANGEROUS | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"keel.member", ACL_CAT_KEEL | ACL_CAT_ADMIN | ACL_CAT_DANGEROUS | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"keel.publish", ACL_CAT_KEEL | ACL_CAT_ADMIN | ACL_CAT_DANGEROUS | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"keel.req", ACL_CAT_KEEL | ACL_CAT_ADMIN | ACL_CAT_DANGEROUS | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"keel.snapshot", ACL_CAT_KEEL | ACL_CAT_ADMIN | ACL_CAT_DANGEROUS | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"keel.transfer", ACL_CAT_KEEL | ACL_CAT_ADMIN | ACL_CAT_DANGEROUS | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"keel.tx", ACL_CAT_KEEL | ACL_CAT_ADMIN | ACL_CAT_DANGEROUS | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"keel.versions", ACL_CAT_KEEL | ACL_CAT_KEYSPACE | ACL_CAT_READ | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"keel.watchv", ACL_CAT_KEEL | ACL_CAT_FAST | ACL_CAT_TRANSACTION, ACL_CMD_KEEL},
    {"keys", ACL_CAT_KEYSPACE | ACL_CAT_READ | ACL_CAT_SLOW | ACL_CAT_DANGEROUS, ACL_CMD_KEEL},
    {"lastsave", ACL_CAT_ADMIN | ACL_CAT_FAST | ACL_CAT_DANGEROUS, 0},
    {"latency", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS, 0},
    {"lcs", ACL_CAT_READ | ACL_CAT_STRING | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"lindex", ACL_CAT_READ | ACL_CAT_LIST | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"linsert", ACL_CAT_WRITE | ACL_CAT_LIST | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"llen", ACL_CAT_READ | ACL_CAT_LIST | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"lmove", ACL_CAT_WRITE | ACL_CAT_LIST | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"lmpop", ACL_CAT_WRITE | ACL_CAT_LIST | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"lolwut", ACL_CAT_READ | ACL_CAT_FAST, 0},
    {"lpop", ACL_CAT_WRITE | ACL_CAT_LIST | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"lpos", ACL_CAT_READ | ACL_CAT_LIST | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"lpush", ACL_CAT_WRITE | ACL_CAT_LIST | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"lpushx", ACL_CAT_WRITE | ACL_CAT_LIST | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"lrange", ACL_CAT_READ | ACL_CAT_LIST | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"lrem", ACL_CAT_WRITE | ACL_CAT_LIST | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"lset", ACL_CAT_WRITE | ACL_CAT_LIST | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"ltrim", ACL_CAT_WRITE | ACL_CAT_LIST | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"memory", ACL_CAT_SLOW, ACL_CMD_KEEL | ACL_CMD_CONTAINER},
    {"memory|doctor", ACL_CAT_SLOW, ACL_CMD_SUB},
    {"memory|help", ACL_CAT_SLOW, ACL_CMD_KEEL | ACL_CMD_SUB},
    {"memory|malloc-stats", ACL_CAT_SLOW, ACL_CMD_SUB},
    {"memory|purge", ACL_CAT_SLOW, ACL_CMD_SUB},
    {"memory|stats", ACL_CAT_SLOW, ACL_CMD_SUB},
    {"memory|usage", ACL_CAT_READ | ACL_CAT_SLOW, ACL_CMD_KEEL | ACL_CMD_SUB},
    {"mget", ACL_CAT_READ | ACL_CAT_STRING | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"module", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS, 0},
    {"monitor", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS, 0},
    {"move", ACL_CAT_KEYSPACE | ACL_CAT_WRITE | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"mset", ACL_CAT_WRITE | ACL_CAT_STRING | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"msetnx", ACL_CAT_WRITE | ACL_CAT_STRING | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"multi", ACL_CAT_FAST | ACL_CAT_TRANSACTION, ACL_CMD_KEEL},
    {"object", ACL_CAT_KEYSPACE | ACL_CAT_READ | ACL_CAT_SLOW, 0},
    {"persist", ACL_CAT_KEYSPACE | ACL_CAT_WRITE | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"pexpire", ACL_CAT_KEYSPACE | ACL_CAT_WRITE | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"pexpireat", ACL_CAT_KEYSPACE | ACL_CAT_WRITE | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"pexpiretime", ACL_CAT_KEYSPACE | ACL_CAT_READ | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"pfadd", ACL_CAT_WRITE | ACL_CAT_HYPERLOGLOG | ACL_CAT_FAST, 0},
    {"pfcount", ACL_CAT_READ | ACL_CAT_HYPERLOGLOG | ACL_CAT_SLOW, 0},
    {"ping", ACL_CAT_FAST | ACL_CAT_CONNECTION, ACL_CMD_KEEL},
    {"psetex", ACL_CAT_WRITE | ACL_CAT_STRING | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"psubscribe", ACL_CAT_PUBSUB | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"pttl", ACL_CAT_KEYSPACE | ACL_CAT_READ | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"publish", ACL_CAT_PUBSUB | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"pubsub", ACL_CAT_PUBSUB | ACL_CAT_SLOW, ACL_CMD_KEEL | ACL_CMD_CONTAINER},
    {"pubsub|channels", ACL_CAT_PUBSUB | ACL_CAT_SLOW, ACL_CMD_KEEL | ACL_CMD_SUB},
    {"pubsub|help", ACL_CAT_SLOW, ACL_CMD_SUB},
    {"pubsub|numpat", ACL_CAT_PUBSUB | ACL_CAT_SLOW, ACL_CMD_KEEL | ACL_CMD_SUB},
    {"pubsub|numsub", ACL_CAT_PUBSUB | ACL_CAT_SLOW, ACL_CMD_KEEL | ACL_CMD_SUB},
    {"pubsub|shardchannels", ACL_CAT_PUBSUB | ACL_CAT_SLOW, ACL_CMD_SUB},
    {"pubsub|shardnumsub", ACL_CAT_PUBSUB | ACL_CAT_SLOW, ACL_CMD_SUB},
    {"punsubscribe", ACL_CAT_PUBSUB | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"quit", ACL_CAT_FAST | ACL_CAT_CONNECTION, ACL_CMD_KEEL | ACL_CMD_NOAUTH},
    {"randomkey", ACL_CAT_KEYSPACE | ACL_CAT_READ | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"readonly", ACL_CAT_FAST | ACL_CAT_CONNECTION, ACL_CMD_KEEL},
    {"readwrite", ACL_CAT_FAST | ACL_CAT_CONNECTION, ACL_CMD_KEEL},
    {"rename", ACL_CAT_KEYSPACE | ACL_CAT_WRITE | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"renamenx", ACL_CAT_KEYSPACE | ACL_CAT_WRITE | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"replicaof", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS, 0},
    {"reset", ACL_CAT_FAST | ACL_CAT_CONNECTION, ACL_CMD_KEEL | ACL_CMD_NOAUTH},
    {"restore", ACL_CAT_KEYSPACE | ACL_CAT_WRITE | ACL_CAT_SLOW | ACL_CAT_DANGEROUS, 0},
    {"role", ACL_CAT_ADMIN | ACL_CAT_FAST | ACL_CAT_DANGEROUS, ACL_CMD_KEEL},
    {"rpop", ACL_CAT_WRITE | ACL_CAT_LIST | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"rpoplpush", ACL_CAT_WRITE | ACL_CAT_LIST | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"rpush", ACL_CAT_WRITE | ACL_CAT_LIST | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"rpushx", ACL_CAT_WRITE | ACL_CAT_LIST | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"sadd", ACL_CAT_WRITE | ACL_CAT_SET | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"save", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS, 0},
    {"scan", ACL_CAT_KEYSPACE | ACL_CAT_READ | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"scard", ACL_CAT_READ | ACL_CAT_SET | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"script", ACL_CAT_SLOW | ACL_CAT_SCRIPTING, 0},
    {"sdiff", ACL_CAT_READ | ACL_CAT_SET | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"sdiffstore", ACL_CAT_WRITE | ACL_CAT_SET | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"select", ACL_CAT_FAST | ACL_CAT_CONNECTION, ACL_CMD_KEEL},
    {"set", ACL_CAT_WRITE | ACL_CAT_STRING | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"setbit", ACL_CAT_WRITE | ACL_CAT_BITMAP | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"setex", ACL_CAT_WRITE | ACL_CAT_STRING | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"setnx", ACL_CAT_WRITE | ACL_CAT_STRING | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"setrange", ACL_CAT_WRITE | ACL_CAT_STRING | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"shutdown", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS, 0},
    {"sinter", ACL_CAT_READ | ACL_CAT_SET | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"sintercard", ACL_CAT_READ | ACL_CAT_SET | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"sinterstore", ACL_CAT_WRITE | ACL_CAT_SET | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"sismember", ACL_CAT_READ | ACL_CAT_SET | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"slaveof", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS, 0},
    {"slowlog", ACL_CAT_ADMIN | ACL_CAT_SLOW | ACL_CAT_DANGEROUS, 0},
    {"smembers", ACL_CAT_READ | ACL_CAT_SET | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"smismember", ACL_CAT_READ | ACL_CAT_SET | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"smove", ACL_CAT_WRITE | ACL_CAT_SET | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"sort", ACL_CAT_WRITE | ACL_CAT_SET | ACL_CAT_SORTEDSET | ACL_CAT_LIST | ACL_CAT_SLOW | ACL_CAT_DANGEROUS, 0},
    {"spop", ACL_CAT_WRITE | ACL_CAT_SET | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"spublish", ACL_CAT_PUBSUB | ACL_CAT_FAST, 0},
    {"srandmember", ACL_CAT_READ | ACL_CAT_SET | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"srem", ACL_CAT_WRITE | ACL_CAT_SET | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"sscan", ACL_CAT_READ | ACL_CAT_SET | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"ssubscribe", ACL_CAT_PUBSUB | ACL_CAT_SLOW, 0},
    {"strlen", ACL_CAT_READ | ACL_CAT_STRING | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"subscribe", ACL_CAT_PUBSUB | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"substr", ACL_CAT_READ | ACL_CAT_STRING | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"sunion", ACL_CAT_READ | ACL_CAT_SET | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"sunionstore", ACL_CAT_WRITE | ACL_CAT_SET | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"sunsubscribe", ACL_CAT_PUBSUB | ACL_CAT_SLOW, 0},
    {"swapdb", ACL_CAT_KEYSPACE | ACL_CAT_WRITE | ACL_CAT_FAST | ACL_CAT_DANGEROUS, ACL_CMD_KEEL},
    {"time", ACL_CAT_FAST, ACL_CMD_KEEL},
    {"touch", ACL_CAT_KEYSPACE | ACL_CAT_READ | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"ttl", ACL_CAT_KEYSPACE | ACL_CAT_READ | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"type", ACL_CAT_KEYSPACE | ACL_CAT_READ | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"unlink", ACL_CAT_KEYSPACE | ACL_CAT_WRITE | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"unsubscribe", ACL_CAT_PUBSUB | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"unwatch", ACL_CAT_FAST | ACL_CAT_TRANSACTION, ACL_CMD_KEEL},
    {"wait", ACL_CAT_SLOW | ACL_CAT_CONNECTION, 0},
    {"watch", ACL_CAT_FAST | ACL_CAT_TRANSACTION, ACL_CMD_KEEL},
    {"xadd", ACL_CAT_WRITE | ACL_CAT_STREAM | ACL_CAT_FAST, 0},
    {"xrange", ACL_CAT_READ | ACL_CAT_STREAM | ACL_CAT_SLOW, 0},
    {"xread", ACL_CAT_READ | ACL_CAT_STREAM | ACL_CAT_SLOW | ACL_CAT_BLOCKING, 0},
    {"zadd", ACL_CAT_WRITE | ACL_CAT_SORTEDSET | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"zcard", ACL_CAT_READ | ACL_CAT_SORTEDSET | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"zcount", ACL_CAT_READ | ACL_CAT_SORTEDSET | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"zdiff", ACL_CAT_READ | ACL_CAT_SORTEDSET | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"zdiffstore", ACL_CAT_WRITE | ACL_CAT_SORTEDSET | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"zincrby", ACL_CAT_WRITE | ACL_CAT_SORTEDSET | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"zinter", ACL_CAT_READ | ACL_CAT_SORTEDSET | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"zintercard", ACL_CAT_READ | ACL_CAT_SORTEDSET | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"zinterstore", ACL_CAT_WRITE | ACL_CAT_SORTEDSET | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"zlexcount", ACL_CAT_READ | ACL_CAT_SORTEDSET | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"zmpop", ACL_CAT_WRITE | ACL_CAT_SORTEDSET | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"zmscore", ACL_CAT_READ | ACL_CAT_SORTEDSET | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"zpopmax", ACL_CAT_WRITE | ACL_CAT_SORTEDSET | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"zpopmin", ACL_CAT_WRITE | ACL_CAT_SORTEDSET | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"zrandmember", ACL_CAT_READ | ACL_CAT_SORTEDSET | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"zrange", ACL_CAT_READ | ACL_CAT_SORTEDSET | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"zrangebylex", ACL_CAT_READ | ACL_CAT_SORTEDSET | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"zrangebyscore", ACL_CAT_READ | ACL_CAT_SORTEDSET | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"zrangestore", ACL_CAT_WRITE | ACL_CAT_SORTEDSET | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"zrank", ACL_CAT_READ | ACL_CAT_SORTEDSET | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"zrem", ACL_CAT_WRITE | ACL_CAT_SORTEDSET | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"zremrangebylex", ACL_CAT_WRITE | ACL_CAT_SORTEDSET | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"zremrangebyrank", ACL_CAT_WRITE | ACL_CAT_SORTEDSET | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"zremrangebyscore", ACL_CAT_WRITE | ACL_CAT_SORTEDSET | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"zrevrange", ACL_CAT_READ | ACL_CAT_SORTEDSET | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"zrevrangebylex", ACL_CAT_READ | ACL_CAT_SORTEDSET | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"zrevrangebyscore", ACL_CAT_READ | ACL_CAT_SORTEDSET | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"zrevrank", ACL_CAT_READ | ACL_CAT_SORTEDSET | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"zscan", ACL_CAT_READ | ACL_CAT_SORTEDSET | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"zscore", ACL_CAT_READ | ACL_CAT_SORTEDSET | ACL_CAT_FAST, ACL_CMD_KEEL},
    {"zunion", ACL_CAT_READ | ACL_CAT_SORTEDSET | ACL_CAT_SLOW, ACL_CMD_KEEL},
    {"zunionstore", ACL_CAT_WRITE | ACL_CAT_SORTEDSET | ACL_CAT_SLOW, ACL_CMD_KEEL},
};
const size_t acl_commands_n = sizeof acl_command_categories / sizeof acl_command_categories[0];

const struct acl_category acl_categories[] = {
    {"keyspace", ACL_CAT_KEYSPACE},   {"read", ACL_CAT_READ},
    {"write", ACL_CAT_WRITE},         {"set", ACL_CAT_SET},
    {"sortedset", ACL_CAT_SORTEDSET}, {"list", ACL_CAT_LIST},
    {"hash", ACL_CAT_HASH},           {"string", ACL_CAT_STRING},
    {"bitmap", ACL_CAT_BITMAP},       {"hyperloglog", ACL_CAT_HYPERLOGLOG},
    {"geo", ACL_CAT_GEO},             {"stream", ACL_CAT_STREAM},
    {"pubsub", ACL_CAT_PUBSUB},       {"admin", ACL_CAT_ADMIN},
    {"fast", ACL_CAT_FAST},           {"slow", ACL_CAT_SLOW},
    {"blocking", ACL_CAT_BLOCKING},   {"dangerous", ACL_CAT_DANGEROUS},
    {"connection", ACL_CAT_CONNECTION}, {"transaction", ACL_CAT_TRANSACTION},
    {"scripting", ACL_CAT_SCRIPTING}, {"keel", ACL_CAT_KEEL},
};
const size_t acl_categories_n = sizeof acl_categories / sizeof acl_categories[0];

/* Compare name[0..n) case-insensitively with the NUL-ended lower-case s. */
static int cmp(const char *name, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char a = (unsigned char)name[i], b = (unsigned char)s[i];
        if (a >= 'A' && a <= 'Z') a = (unsigned char)(a - 'A' + 'a');
        if (b == 0) return 1;
        if (a != b) return a < b ? -1 : 1;
    }
    return s[n] == 0 ? 0 : -1;
}

int acl_command_find(const char *name, size_t n)
{
    size_t lo = 0, hi = acl_commands_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp(name, n, acl_command_categories[mid].name);
        if (c == 0) return (int)mid;
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return -1;
}

int acl_command_find_sub(const char *name, size_t n, const char *sub, size_t subn)
{
    int id = acl_command_find(name, n);
    if (id < 0 || sub == NULL || !(acl_command_categories[id].flags & ACL_CMD_CONTAINER)) return id;
    char full[64];
    if (n + 1 + subn > sizeof full) return id;
    memcpy(full, name, n);
    full[n] = '|';
    memcpy(full + n + 1, sub, subn);
    int s = acl_command_find(full, n + 1 + subn);
    return s >= 0 ? s : id;
}

uint32_t acl_category_find(const char *name, size_t n)
{
    if (n == 3 && cmp(name, n, "all") == 0) return 0; /* +@all is a rule of its own */
    for (size_t i = 0; i < acl_categories_n; i++)
        if (cmp(name, n, acl_categories[i].name) == 0) return acl_categories[i].bit;
    return 0;
}
