/* api: the command table: name, arity, kind, handlers, key positions. Looked
 * up case-insensitively by binary search over a sorted index. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/server/commands/commands.h"
#include "store/acl.h"

#define LOCAL(name, arity, flags, fn) {name, arity, CMD_LOCAL | (flags), fn, NULL, NULL, NULL, 0, 0, 0}
/* A local command that MULTI may queue: `tx` answers it inside the batch. */
#define LOCAL_TX(name, arity, flags, fn, tx) {name, arity, CMD_LOCAL | (flags), fn, tx, NULL, NULL, 0, 0, 0}
#define READ(name, arity, fn, k1, kn, ks) {name, arity, CMD_READ, NULL, fn, NULL, NULL, k1, kn, ks}
#define WRITE(name, arity, enc, rep, k1, kn, ks) {name, arity, CMD_WRITE, NULL, NULL, enc, rep, k1, kn, ks}
/* A blocking pop (block.c): a write that may wait for its key. */
#define BLOCKING(name, arity, enc, rep, k1, kn, ks) \
    {name, arity, CMD_WRITE | CMD_BLOCKING, NULL, NULL, enc, rep, k1, kn, ks}

const struct command command_table[] = {
    LOCAL("acl", -2, 0, cmd_acl), /* refused inside MULTI (dispatch.c) */
    WRITE("append", 3, cmd_append, NULL, 1, 1, 1),
    LOCAL("auth", -2, CMD_TXCONN, cmd_auth),
    BLOCKING("blmove", 6, cmd_blmove, cmd_blmove_reply, 1, 2, 1),
    BLOCKING("blmpop", -5, cmd_blmpop, cmd_lmpop_reply, 0, 0, 0), /* keys after numkeys */
    BLOCKING("blpop", -3, cmd_blpop, cmd_blpop_reply, 1, -2, 1),
    BLOCKING("brpop", -3, cmd_brpop, cmd_blpop_reply, 1, -2, 1),
    BLOCKING("brpoplpush", 4, cmd_brpoplpush, cmd_blmove_reply, 1, 2, 1),
    BLOCKING("bzmpop", -5, cmd_bzmpop, cmd_zmpop_reply, 0, 0, 0), /* keys after numkeys */
    BLOCKING("bzpopmax", -3, cmd_bzpopmax, cmd_bzpop_reply, 1, -2, 1),
    BLOCKING("bzpopmin", -3, cmd_bzpopmin, cmd_bzpop_reply, 1, -2, 1),
    LOCAL("client", -2, CMD_TXCONN, cmd_client),
    LOCAL("command", -1, CMD_TXCONN, cmd_command),
    LOCAL("config", -2, CMD_TXCONN, cmd_config), /* SET requirepass refused inside MULTI */
    WRITE("copy", -3, cmd_copy, NULL, 1, 2, 1),
    READ("dbsize", 1, cmd_dbsize, 0, 0, 0),
    WRITE("decr", 2, cmd_decr, NULL, 1, 1, 1),
    WRITE("decrby", 3, cmd_decrby, NULL, 1, 1, 1),
    WRITE("del", -2, cmd_del, NULL, 1, -1, 1),
    LOCAL("discard", 1, CMD_NOMULTI, cmd_discard),
    LOCAL_TX("echo", 2, 0, cmd_echo, cmd_echo_tx),
    LOCAL("exec", 1, CMD_NOMULTI, cmd_exec),
    READ("exists", -2, cmd_exists, 1, -1, 1),
    WRITE("expire", -3, cmd_expire, NULL, 1, 1, 1),
    WRITE("expireat", -3, cmd_expireat, NULL, 1, 1, 1),
    READ("expiretime", 2, cmd_expiretime, 1, 1, 1),
    WRITE("flushall", -1, cmd_flush, NULL, 0, 0, 0),
    WRITE("flushdb", -1, cmd_flush, NULL, 0, 0, 0),
    READ("get", 2, cmd_get, 1, 1, 1),
    READ("getbit", 3, cmd_getbit, 1, 1, 1),
    WRITE("getdel", 2, cmd_getdel, NULL, 1, 1, 1),
    WRITE("getex", -2, cmd_getex, NULL, 1, 1, 1),
    READ("getrange", 4, cmd_getrange, 1, 1, 1),
    WRITE("getset", 3, cmd_getset, NULL, 1, 1, 1),
    WRITE("hdel", -3, cmd_hdel, NULL, 1, 1, 1),
    LOCAL("hello", -1, 0, cmd_hello),
    READ("hexists", 3, cmd_hexists, 1, 1, 1),
    READ("hget", 3, cmd_hget, 1, 1, 1),
    READ("hgetall", 2, cmd_hgetall, 1, 1, 1),
    WRITE("hincrby", 4, cmd_hincrby, NULL, 1, 1, 1),
    {"hincrbyfloat", 4, CMD_WRITE | CMD_SERIAL, NULL, NULL, cmd_hincrbyfloat, cmd_float_reply, 1, 1, 1},
    READ("hkeys", 2, cmd_hkeys, 1, 1, 1),
    READ("hlen", 2, cmd_hlen, 1, 1, 1),
    READ("hmget", -3, cmd_hmget, 1, 1, 1),
    WRITE("hmset", -4, cmd_hset, cmd_hmset_reply, 1, 1, 1),
    READ("hrandfield", -2, cmd_hrandfield, 1, 1, 1),
    READ("hscan", -3, cmd_hscan, 1, 1, 1),
    WRITE("hset", -4, cmd_hset, NULL, 1, 1, 1),
    WRITE("hsetnx", 4, cmd_hsetnx, NULL, 1, 1, 1),
    READ("hstrlen", 3, cmd_hstrlen, 1, 1, 1),
    READ("hvals", 2, cmd_hvals, 1, 1, 1),
    WRITE("incr", 2, cmd_incr, NULL, 1, 1, 1),
    WRITE("incrby", 3, cmd_incrby, NULL, 1, 1, 1),
    {"incrbyfloat", 3, CMD_WRITE | CMD_SERIAL, NULL, NULL, cmd_incrbyfloat, cmd_float_reply, 1, 1, 1},
    LOCAL("info", -1, CMD_TXCONN, cmd_info),
    {"keel.alarm", -2, CMD_LOCAL | CMD_NOMULTI, cmd_keel_alarm, NULL, NULL, NULL, 0, 0, 0},
    {"keel.clock", 1, CMD_LOCAL | CMD_INTERNAL | CMD_NOMULTI, cmd_keel_clock, NULL, NULL, NULL, 0, 0, 0},
    {"keel.digest", 4, CMD_LOCAL | CMD_INTERNAL | CMD_NOMULTI, cmd_keel_digest, NULL, NULL, NULL, 0, 0, 0},
    {"keel.disk", 3, CMD_WRITE | CMD_INTERNAL, NULL, NULL, cmd_keel_disk, NULL, 0, 0, 0},
    {"keel.drill", -2, CMD_LOCAL | CMD_NOMULTI, cmd_keel_drill, NULL, NULL, NULL, 0, 0, 0},
    {"keel.fwd", -7, CMD_LOCAL | CMD_NOMULTI | CMD_TOKEN, cmd_keel_fwd, NULL, NULL, NULL, 0, 0, 0},
    {"keel.fwdsync", 2, CMD_LOCAL | CMD_NOMULTI | CMD_TOKEN, cmd_keel_fwdsync, NULL, NULL, NULL, 0, 0, 0},
    {"keel.hashkv", 1, CMD_WRITE | CMD_NOMULTI, NULL, NULL, cmd_keel_hashkv, NULL, 0, 0, 0},
    {"keel.hashkv.last", 1, CMD_LOCAL | CMD_NOMULTI, cmd_keel_hashkv_last, NULL, NULL, NULL, 0, 0, 0},
    {"keel.join", 3, CMD_LOCAL | CMD_WRITE | CMD_NOMULTI, cmd_keel_join, NULL, NULL, NULL, 0, 0, 0},
    {"keel.member", -2, CMD_LOCAL | CMD_WRITE | CMD_NOMULTI, cmd_keel_member, NULL, NULL, NULL, 0, 0, 0},
    {"keel.publish", -3, CMD_WRITE | CMD_INTERNAL, NULL, NULL, cmd_keel_publish, NULL, 0, 0, 0},
    {"keel.req", -4, CMD_LOCAL | CMD_NOMULTI, cmd_keel_req, NULL, NULL, NULL, 0, 0, 0},
    {"keel.snapshot", -2, CMD_LOCAL | CMD_NOMULTI, cmd_keel_snapshot, NULL, NULL, NULL, 0, 0, 0},
    {"keel.transfer", -1, CMD_LOCAL | CMD_WRITE | CMD_NOMULTI, cmd_keel_transfer, NULL, NULL, NULL, 0, 0, 0},
    {"keel.tx", -3, CMD_WRITE | CMD_INTERNAL | CMD_NOMULTI, NULL, NULL, cmd_keel_tx, cmd_keel_tx_reply, 0, 0, 0},
    {"keel.versions", -2, CMD_READ | CMD_NOMULTI, NULL, cmd_keel_versions, NULL, NULL, 1, -1, 1},
    {"keel.watchv", -3, CMD_LOCAL | CMD_NOMULTI, cmd_keel_watchv, NULL, NULL, NULL, 1, -1, 2},
    READ("keys", 2, cmd_keys, 0, 0, 0),
    READ("lcs", -3, cmd_lcs, 1, 2, 1),
    READ("lindex", 3, cmd_lindex, 1, 1, 1),
    WRITE("linsert", 5, cmd_linsert, NULL, 1, 1, 1),
    READ("llen", 2, cmd_llen, 1, 1, 1),
    WRITE("lmove", 5, cmd_lmove, NULL, 1, 2, 1),
    WRITE("lmpop", -4, cmd_lmpop, cmd_lmpop_reply, 0, 0, 0), /* keys after numkeys */
    WRITE("lpop", -2, cmd_lpop, NULL, 1, 1, 1),
    READ("lpos", -3, cmd_lpos, 1, 1, 1),
    WRITE("lpush", -3, cmd_lpush, NULL, 1, 1, 1),
    WRITE("lpushx", -3, cmd_lpushx, NULL, 1, 1, 1),
    READ("lrange", 4, cmd_lrange, 1, 1, 1),
    WRITE("lrem", 4, cmd_lrem, NULL, 1, 1, 1),
    WRITE("lset", 4, cmd_lset, NULL, 1, 1, 1),
    WRITE("ltrim", 4, cmd_ltrim, NULL, 1, 1, 1),
    READ("memory", -2, cmd_memory, 2, 2, 1),
    READ("mget", -2, cmd_mget, 1, -1, 1),
    WRITE("move", 3, cmd_move, NULL, 1, 1, 1),
    WRITE("mset", -3, cmd_mset, NULL, 1, -1, 2),
    WRITE("msetnx", -3, cmd_msetnx, NULL, 1, -1, 2),
    LOCAL("multi", 1, CMD_NOMULTI, cmd_multi),
    WRITE("persist", 2, cmd_persist, NULL, 1, 1, 1),
    WRITE("pexpire", -3, cmd_pexpire, NULL, 1, 1, 1),
    WRITE("pexpireat", -3, cmd_pexpireat, NULL, 1, 1, 1),
    READ("pexpiretime", 2, cmd_pexpiretime, 1, 1, 1),
    LOCAL_TX("ping", -1, CMD_PUBSUB, cmd_ping, cmd_ping_tx),
    WRITE("psetex", 4, cmd_psetex, NULL, 1, 1, 1),
    LOCAL("psubscribe", -2, CMD_PUBSUB, cmd_psubscribe),
    READ("pttl", 2, cmd_pttl, 1, 1, 1),
    LOCAL("publish", 3, CMD_TXCONN, cmd_publish),
    LOCAL("pubsub", -2, CMD_TXCONN, cmd_pubsub),
    LOCAL("punsubscribe", -1, CMD_PUBSUB, cmd_punsubscribe),
    LOCAL("quit", -1, CMD_NOMULTI | CMD_PUBSUB, cmd_quit),
    READ("randomkey", 1, cmd_randomkey, 0, 0, 0),
    LOCAL("readonly", 1, CMD_TXCONN, cmd_readonly),
    LOCAL("readwrite", 1, CMD_TXCONN, cmd_readwrite),
    WRITE("rename", 3, cmd_rename, NULL, 1, 2, 1),
    WRITE("renamenx", 3, cmd_renamenx, NULL, 1, 2, 1),
    LOCAL("reset", 1, CMD_NOMULTI | CMD_PUBSUB, cmd_reset),
    LOCAL("role", 1, CMD_TXCONN, cmd_role),
    WRITE("rpop", -2, cmd_rpop, NULL, 1, 1, 1),
    WRITE("rpoplpush", 3, cmd_rpoplpush, NULL, 1, 2, 1),
    WRITE("rpush", -3, cmd_rpush, NULL, 1, 1, 1),
    WRITE("rpushx", -3, cmd_rpushx, NULL, 1, 1, 1),
    WRITE("sadd", -3, cmd_sadd, NULL, 1, 1, 1),
    READ("scan", -2, cmd_scan, 0, 0, 0),
    READ("scard", 2, cmd_scard, 1, 1, 1),
    READ("sdiff", -2, cmd_sdiff, 1, -1, 1),
    WRITE("sdiffstore", -3, cmd_sdiffstore, NULL, 1, -1, 1),
    LOCAL("select", 2, CMD_TXCONN, cmd_select),
    WRITE("set", -3, cmd_set, NULL, 1, 1, 1),
    WRITE("setbit", 4, cmd_setbit, NULL, 1, 1, 1),
    WRITE("setex", 4, cmd_setex, NULL, 1, 1, 1),
    WRITE("setnx", 3, cmd_setnx, cmd_setnx_reply, 1, 1, 1),
    WRITE("setrange", 4, cmd_setrange, NULL, 1, 1, 1),
    READ("sinter", -2, cmd_sinter, 1, -1, 1),
    /* Keys counted by numkeys (Redis's movable keys): auth_check.c finds them. */
    READ("sintercard", -3, cmd_sintercard, 0, 0, 0),
    WRITE("sinterstore", -3, cmd_sinterstore, NULL, 1, -1, 1),
    READ("sismember", 3, cmd_sismember, 1, 1, 1),
    READ("smembers", 2, cmd_smembers, 1, 1, 1),
    READ("smismember", -3, cmd_smismember, 1, 1, 1),
    WRITE("smove", 4, cmd_smove, NULL, 1, 2, 1),
    {"spop", -2, CMD_WRITE | CMD_SERIAL, NULL, NULL, cmd_spop, cmd_spop_reply, 1, 1, 1},
    READ("srandmember", -2, cmd_srandmember, 1, 1, 1),
    WRITE("srem", -3, cmd_srem, NULL, 1, 1, 1),
    READ("sscan", -3, cmd_sscan, 1, 1, 1),
    READ("strlen", 2, cmd_strlen, 1, 1, 1),
    LOCAL("subscribe", -2, CMD_PUBSUB, cmd_subscribe),
    READ("substr", 4, cmd_getrange, 1, 1, 1),
    READ("sunion", -2, cmd_sunion, 1, -1, 1),
    WRITE("sunionstore", -3, cmd_sunionstore, NULL, 1, -1, 1),
    WRITE("swapdb", 3, cmd_swapdb, NULL, 0, 0, 0),
    LOCAL("time", 1, CMD_TXCONN, cmd_time),
    READ("touch", -2, cmd_touch, 1, -1, 1),
    READ("ttl", 2, cmd_ttl, 1, 1, 1),
    READ("type", 2, cmd_type, 1, 1, 1),
    WRITE("unlink", -2, cmd_del, NULL, 1, -1, 1),
    LOCAL("unsubscribe", -1, CMD_PUBSUB, cmd_unsubscribe),
    LOCAL_TX("unwatch", 1, 0, cmd_unwatch, cmd_unwatch_tx),
    LOCAL("watch", -2, CMD_NOMULTI, cmd_watch),
    WRITE("zadd", -4, cmd_zadd, cmd_zadd_reply, 1, 1, 1),
    READ("zcard", 2, cmd_zcard, 1, 1, 1),
    READ("zcount", 4, cmd_zcount, 1, 1, 1),
    /* Keys counted by numkeys (Redis's movable keys): auth_check.c finds them. */
    READ("zdiff", -3, cmd_zdiff, 0, 0, 0),
    WRITE("zdiffstore", -4, cmd_zdiffstore, NULL, 1, 1, 1),
    WRITE("zincrby", 4, cmd_zincrby, cmd_zadd_reply, 1, 1, 1),
    READ("zinter", -3, cmd_zinter, 0, 0, 0),
    READ("zintercard", -3, cmd_zintercard, 0, 0, 0),
    WRITE("zinterstore", -4, cmd_zinterstore, NULL, 1, 1, 1),
    READ("zlexcount", 4, cmd_zlexcount, 1, 1, 1),
    WRITE("zmpop", -4, cmd_zmpop, cmd_zmpop_reply, 0, 0, 0), /* keys after numkeys */
    READ("zmscore", -3, cmd_zmscore, 1, 1, 1),
    WRITE("zpopmax", -2, cmd_zpopmax, cmd_zpop_reply, 1, 1, 1),
    WRITE("zpopmin", -2, cmd_zpopmin, cmd_zpop_reply, 1, 1, 1),
    READ("zrandmember", -2, cmd_zrandmember, 1, 1, 1),
    READ("zrange", -4, cmd_zrange, 1, 1, 1),
    READ("zrangebylex", -4, cmd_zrangebylex, 1, 1, 1),
    READ("zrangebyscore", -4, cmd_zrangebyscore, 1, 1, 1),
    WRITE("zrangestore", -5, cmd_zrangestore, NULL, 1, 2, 1),
    READ("zrank", -3, cmd_zrank, 1, 1, 1),
    WRITE("zrem", -3, cmd_zrem, NULL, 1, 1, 1),
    WRITE("zremrangebylex", 4, cmd_zremrangebylex, NULL, 1, 1, 1),
    WRITE("zremrangebyrank", 4, cmd_zremrangebyrank, NULL, 1, 1, 1),
    WRITE("zremrangebyscore", 4, cmd_zremrangebyscore, NULL, 1, 1, 1),
    READ("zrevrange", -4, cmd_zrevrange, 1, 1, 1),
    READ("zrevrangebylex", -4, cmd_zrevrangebylex, 1, 1, 1),
    READ("zrevrangebyscore", -4, cmd_zrevrangebyscore, 1, 1, 1),
    READ("zrevrank", -3, cmd_zrevrank, 1, 1, 1),
    READ("zscan", -3, cmd_zscan, 1, 1, 1),
    READ("zscore", 3, cmd_zscore, 1, 1, 1),
    READ("zunion", -3, cmd_zunion, 0, 0, 0),
    WRITE("zunionstore", -4, cmd_zunionstore, NULL, 1, 1, 1),
};

const unsigned command_count = sizeof command_table / sizeof command_table[0];

/* What a command does to its keys, for ACL key patterns (%R~ %W~), as
 * Redis 7.2's key specs say: ACCESS (reads the value) is READ; INSERT,
 * UPDATE, DELETE are WRITE; a key only looked at (EXISTS, TYPE, STRLEN,
 * HLEN, WATCH) needs neither, so any pattern that matches it will do. */
static const struct
{
    const char *name;
    uint8_t flags;
} key_flags[] = {
    {"append", ACL_KEY_WRITE},      {"blmpop", ACL_KEY_ALL},        {"blpop", ACL_KEY_ALL},
    {"brpop", ACL_KEY_ALL},         {"bzmpop", ACL_KEY_ALL},        {"bzpopmax", ACL_KEY_ALL},
    {"bzpopmin", ACL_KEY_ALL},      {"lmpop", ACL_KEY_ALL},         {"zmpop", ACL_KEY_ALL},
    {"copy", ACL_KEY_READ},         {"decr", ACL_KEY_ALL},
    {"decrby", ACL_KEY_ALL},        {"del", ACL_KEY_WRITE},         {"exists", 0},
    {"expire", ACL_KEY_WRITE},      {"expireat", ACL_KEY_WRITE},    {"expiretime", 0},
    {"get", ACL_KEY_READ},          {"getbit", ACL_KEY_READ},       {"getdel", ACL_KEY_ALL},
    {"getex", ACL_KEY_ALL},         {"getrange", ACL_KEY_READ},     {"getset", ACL_KEY_ALL},
    {"hdel", ACL_KEY_WRITE},        {"hexists", 0},                 {"hget", ACL_KEY_READ},
    {"hgetall", ACL_KEY_READ},      {"hincrby", ACL_KEY_ALL},       {"hincrbyfloat", ACL_KEY_ALL},
    {"hkeys", ACL_KEY_READ},        {"hlen", 0},                    {"hmget", ACL_KEY_READ},
    {"hmset", ACL_KEY_WRITE},       {"hrandfield", ACL_KEY_READ},   {"hscan", ACL_KEY_READ},
    {"hset", ACL_KEY_WRITE},        {"hsetnx", ACL_KEY_WRITE},      {"hstrlen", 0},
    {"hvals", ACL_KEY_READ},        {"incr", ACL_KEY_ALL},          {"incrby", ACL_KEY_ALL},
    {"incrbyfloat", ACL_KEY_ALL},   {"keel.versions", 0},           {"keel.watchv", 0},
    {"lcs", ACL_KEY_READ},          {"lindex", ACL_KEY_READ},       {"linsert", ACL_KEY_WRITE},
    {"llen", 0},                    {"lmove", ACL_KEY_ALL},         {"lpop", ACL_KEY_ALL},
    {"lpos", ACL_KEY_READ},         {"lpush", ACL_KEY_WRITE},       {"lpushx", ACL_KEY_WRITE},
    {"lrange", ACL_KEY_READ},       {"lrem", ACL_KEY_WRITE},        {"lset", ACL_KEY_WRITE},
    {"ltrim", ACL_KEY_WRITE},       {"memory", 0},                  {"mget", ACL_KEY_READ},
    {"move", ACL_KEY_ALL},
    {"mset", ACL_KEY_WRITE},        {"msetnx", ACL_KEY_WRITE},      {"persist", ACL_KEY_WRITE},
    {"pexpire", ACL_KEY_WRITE},     {"pexpireat", ACL_KEY_WRITE},   {"pexpiretime", 0},
    {"psetex", ACL_KEY_WRITE},      {"pttl", ACL_KEY_READ},         {"rename", ACL_KEY_ALL},
    {"renamenx", ACL_KEY_ALL},      {"rpop", ACL_KEY_ALL},          {"rpoplpush", ACL_KEY_ALL},
    {"rpush", ACL_KEY_WRITE},       {"rpushx", ACL_KEY_WRITE},      {"sadd", ACL_KEY_WRITE},
    {"scard", 0},                   {"sdiff", ACL_KEY_READ},        {"setbit", ACL_KEY_ALL},
    {"setex", ACL_KEY_WRITE},       {"setnx", ACL_KEY_WRITE},       {"setrange", ACL_KEY_WRITE},
    {"sinter", ACL_KEY_READ},       {"sintercard", ACL_KEY_READ},   {"sismember", 0},
    {"smembers", ACL_KEY_READ},     {"smismember", 0},              {"spop", ACL_KEY_ALL},
    {"srandmember", ACL_KEY_READ},  {"srem", ACL_KEY_WRITE},        {"sscan", ACL_KEY_READ},
    {"strlen", 0},                  {"substr", ACL_KEY_READ},       {"sunion", ACL_KEY_READ},
    {"touch", 0},                   {"ttl", ACL_KEY_READ},          {"type", 0},
    {"unlink", ACL_KEY_WRITE},      {"watch", 0},
    {"renamenx", ACL_KEY_ALL},      {"sadd", ACL_KEY_WRITE},        {"scard", 0},
    {"sdiff", ACL_KEY_READ},        {"setbit", ACL_KEY_ALL},        {"setex", ACL_KEY_WRITE},
    {"setnx", ACL_KEY_WRITE},       {"setrange", ACL_KEY_WRITE},    {"sinter", ACL_KEY_READ},
    {"sintercard", ACL_KEY_READ},   {"sismember", 0},               {"smembers", ACL_KEY_READ},
    {"smismember", 0},              {"spop", ACL_KEY_ALL},          {"srandmember", ACL_KEY_READ},
    {"srem", ACL_KEY_WRITE},        {"sscan", ACL_KEY_READ},        {"strlen", 0},
    {"substr", ACL_KEY_READ},       {"sunion", ACL_KEY_READ},       {"touch", 0},
    {"ttl", ACL_KEY_READ},          {"type", 0},                    {"unlink", ACL_KEY_WRITE},
    {"watch", 0},                   {"zadd", ACL_KEY_WRITE},        {"zcard", 0},
    {"zcount", ACL_KEY_READ},                 {"zincrby", ACL_KEY_ALL},       {"zmscore", ACL_KEY_READ},
    {"zrangebyscore", ACL_KEY_READ}, {"zrem", ACL_KEY_WRITE},       {"zrevrangebyscore", ACL_KEY_READ},
    {"zscan", ACL_KEY_READ},       {"zscore", ACL_KEY_READ},       {"zlexcount", ACL_KEY_READ},
    {"zrandmember", ACL_KEY_READ}, {"zunion", ACL_KEY_READ},       {"zinter", ACL_KEY_READ},
    {"zdiff", ACL_KEY_READ},       {"zintercard", ACL_KEY_READ},
};

uint8_t command_key_acl(const struct command *cmd, const struct keel_slice *argv, uint32_t argc,
                        uint32_t at)
{
    /* Two keys, two roles (Redis 7.2's key specs): RENAME reads and deletes
     * its source and writes the destination; COPY reads the source. */
    if (at == 2 && (strcmp(cmd->name, "rename") == 0 || strcmp(cmd->name, "renamenx") == 0 ||
                    strcmp(cmd->name, "copy") == 0))
        return ACL_KEY_WRITE;
    if (at == 1 && strcmp(cmd->name, "copy") == 0) return ACL_KEY_READ;
    /* SMOVE deletes from its source and inserts into its destination;
     * the *STORE forms write the destination and read the sources. */
    if (strcmp(cmd->name, "smove") == 0) return ACL_KEY_WRITE;
    /* LMOVE and RPOPLPUSH read and delete from the source, insert into the
     * destination. */
    if (strcmp(cmd->name, "lmove") == 0 || strcmp(cmd->name, "rpoplpush") == 0 ||
        strcmp(cmd->name, "blmove") == 0 || strcmp(cmd->name, "brpoplpush") == 0)
        return at == 1 ? ACL_KEY_ALL : ACL_KEY_WRITE;
    if (strcmp(cmd->name, "sinterstore") == 0 || strcmp(cmd->name, "sunionstore") == 0 ||
        strcmp(cmd->name, "sdiffstore") == 0 || strcmp(cmd->name, "zinterstore") == 0 ||
        strcmp(cmd->name, "zunionstore") == 0 || strcmp(cmd->name, "zdiffstore") == 0 ||
        strcmp(cmd->name, "zrangestore") == 0)
        return at == 1 ? ACL_KEY_WRITE : ACL_KEY_READ;
    if (strcmp(cmd->name, "set") == 0) {
        /* SET ... GET reads the old value too (Redis's setGetKeys). */
        for (uint32_t i = 3; i < argc; i++)
            if (argv[i].n == 3 && strncasecmp((const char *)argv[i].p, "get", 3) == 0) return ACL_KEY_ALL;
        return ACL_KEY_WRITE;
    }
    for (size_t i = 0; i < sizeof key_flags / sizeof key_flags[0]; i++)
        if (strcmp(cmd->name, key_flags[i].name) == 0) return key_flags[i].flags;
    return cmd->flags & CMD_WRITE ? ACL_KEY_WRITE : ACL_KEY_READ;
}

const struct command *command_lookup(const struct keel_slice *name)
{
    char buf[32];
    if (name->n == 0 || name->n >= sizeof buf) return NULL;
    memcpy(buf, name->p, name->n);
    buf[name->n] = 0;
    unsigned lo = 0, hi = command_count;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        int c = strcasecmp(buf, command_table[mid].name);
        if (c == 0) return &command_table[mid];
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}
