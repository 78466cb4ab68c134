/* api: transactions: MULTI EXEC DISCARD WATCH UNWATCH.
 *
 * MULTI queues writes, reads, PING and ECHO on the connection. EXEC turns the queue and the
 * watched keys' versions into one KEEL.TX request, which the leader encodes
 * as one BATCH entry: the store checks the versions and applies every
 * command atomically, or none if a watched key changed (nil reply); a read
 * is a READ sub-command that apply hands back to srv_tx_reader, so it sees
 * the writes queued before it. WATCH
 * reads the keys' versions linearizably (on the leader, or forwarded to it
 * as KEEL.VERSIONS). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/server/commands/commands.h"

CMD_DECL_LOCAL(cmd_multi)
{
    struct conn *c = s->conn;
    if (c->in_multi) {
        srv_reply_error(&s->out, KEEL_EINVAL, "MULTI calls can not be nested");
    } else {
        c->in_multi = true;
        resp_ok(&s->out);
    }
    slot_done(s);
}

CMD_DECL_LOCAL(cmd_discard)
{
    struct conn *c = s->conn;
    if (!c->in_multi) {
        srv_reply_error(&s->out, KEEL_EINVAL, "DISCARD without MULTI");
    } else {
        conn_reset_multi(c);
        conn_unwatch(c);
        resp_ok(&s->out);
    }
    slot_done(s);
}

CMD_DECL_LOCAL(cmd_unwatch)
{
    conn_unwatch(s->conn);
    resp_ok(&s->out);
    slot_done(s);
}

static void add_watch(struct conn *c, struct keel_slice key, uint64_t version)
{
    struct conn_watch *w = realloc(c->watches, (c->nwatches + 1) * sizeof *w);
    if (w == NULL) return;
    c->watches = w;
    w += c->nwatches;
    w->key = malloc(key.n ? key.n : 1);
    if (w->key == NULL) return;
    memcpy(w->key, key.p, key.n);
    w->len = key.n;
    w->version = version;
    c->nwatches++;
}

CMD_DECL_READ(cmd_keel_versions)
{
    struct keel_record rec;
    if (!s->watching) resp_array(&s->out, s->argc - 1);
    for (uint32_t i = 1; i < s->argc; i++) {
        int rc = keel_read_get(rd, s->argv[i], &rec);
        if (rc != 0 && rc != KEEL_ENOTFOUND) return rc;
        uint64_t v = rc == 0 ? rec.version : 0;
        if (!s->watching) resp_int(&s->out, (int64_t)v);
        else if (s->conn != NULL) add_watch(s->conn, s->argv[i], v);
    }
    if (s->watching) resp_ok(&s->out);
    return 0;
}

/* WATCH forwarded as KEEL.VERSIONS: keep the versions the leader sent. */
static void watch_reply(struct slot *s, const uint8_t *p, size_t n)
{
    const uint8_t *end = p + n;
    long long count;
    if (p[0] != '*' || sscanf((const char *)p + 1, "%lld", &count) != 1 || count != s->argc - 1) {
        buf_append(&s->out, p, n); /* an error: relay it */
        return;
    }
    p = (const uint8_t *)memchr(p, '\n', (size_t)(end - p)) + 1;
    for (uint32_t i = 1; i < s->argc && p < end; i++) {
        unsigned long long v;
        if (p[0] != ':' || sscanf((const char *)p + 1, "%llu", &v) != 1) break;
        add_watch(s->conn, s->argv[i], v);
        const uint8_t *lf = memchr(p, '\n', (size_t)(end - p));
        if (lf == NULL) break;
        p = lf + 1;
    }
    resp_ok(&s->out);
}

CMD_DECL_LOCAL(cmd_watch)
{
    struct conn *c = s->conn;
    if (c->in_multi) {
        srv_reply_error(&s->out, KEEL_EINVAL, "WATCH inside MULTI is not allowed");
        slot_done(s);
        return;
    }
    for (uint32_t i = 1; i < s->argc; i++) {
        if (!srv_check_key(s, s->argv[i])) {
            slot_done(s);
            return;
        }
    }
    static const struct keel_slice versions = {(const uint8_t *)"KEEL.VERSIONS", 13};
    s->argv[0] = versions; /* argbuf still owns the rest */
    s->cmd = command_lookup(&versions);
    s->watching = true;
    s->on_forward_reply = watch_reply;
    if (s->srv->role == KEEL_ROLE_LEADER) srv_dispatch_read(s);
    else fwd_request(s);
}

/* KEEL.WATCHV key version [key version ...]: WATCH with versions the client
 * already holds (from KEEL.VERSIONS, read earlier), so a compare-and-set of
 * a document read a while ago is one round trip: KEEL.WATCHV, MULTI, the
 * writes, EXEC, pipelined. EXEC fails (nil) if any key moved on since. */
CMD_DECL_LOCAL(cmd_keel_watchv)
{
    struct conn *c = s->conn;
    if (c == NULL || c->in_multi) {
        srv_reply_error(&s->out, KEEL_EINVAL, "KEEL.WATCHV inside MULTI is not allowed");
        slot_done(s);
        return;
    }
    if (s->argc % 2 != 1) {
        srv_reply_error(&s->out, KEEL_EINVAL, "wrong number of arguments for 'keel.watchv' command");
        slot_done(s);
        return;
    }
    uint64_t versions[64];
    uint32_t n = (s->argc - 1) / 2;
    if (n > sizeof versions / sizeof *versions) {
        srv_reply_error(&s->out, KEEL_EINVAL, "KEEL.WATCHV takes at most 64 keys");
        slot_done(s);
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        char buf[32], *end;
        versions[i] = strtoull(slot_arg(s, 2 + 2 * i, buf, sizeof buf), &end, 10);
        if (*end != 0 || s->argv[2 + 2 * i].n == 0 || !srv_check_key(s, s->argv[1 + 2 * i])) {
            if (s->out.len == 0) srv_reply_error(&s->out, KEEL_EINVAL, "KEEL.WATCHV wants key version pairs");
            slot_done(s);
            return;
        }
    }
    for (uint32_t i = 0; i < n; i++) add_watch(c, s->argv[1 + 2 * i], versions[i]);
    resp_ok(&s->out);
    slot_done(s);
}

/* EXEC: the queue becomes KEEL.TX nwatch (key version)... ncmd (argc arg...)... */
CMD_DECL_LOCAL(cmd_exec)
{
    struct conn *c = s->conn;
    if (!c->in_multi) {
        srv_reply_error(&s->out, KEEL_EINVAL, "EXEC without MULTI");
        slot_done(s);
        return;
    }
    if (c->multi_error) {
        resp_error(&s->out, "EXECABORT", "Transaction discarded because of previous errors.");
        conn_reset_multi(c);
        conn_unwatch(c);
        slot_done(s);
        return;
    }
    uint32_t argc = 3 + 2 * c->nwatches;
    size_t bytes = 64 + c->nwatches * 24;
    for (unsigned i = 0; i < c->nwatches; i++) bytes += c->watches[i].len + 1;
    for (unsigned i = 0; i < c->nqueued; i++) {
        argc += 1 + c->queue[i].argc;
        bytes += 24;
        for (uint32_t j = 0; j < c->queue[i].argc; j++) bytes += c->queue[i].argv[j].n + 1;
    }
    struct keel_slice *argv = malloc(argc * sizeof *argv);
    uint8_t *buf = malloc(bytes), *p = buf;
    if (argv == NULL || buf == NULL) {
        free(argv);
        free(buf);
        srv_reply_error(&s->out, KEEL_ENOMEM, "out of memory");
        slot_done(s);
        return;
    }
    uint32_t n = 0;
#define PUT(ptr, len)                          \
    do {                                       \
        memcpy(p, (ptr), (len));               \
        p[(len)] = 0;                          \
        argv[n].p = p;                         \
        argv[n++].n = (len);                   \
        p += (len) + 1;                        \
    } while (0)
#define PUTNUM(v)                                                    \
    do {                                                             \
        char num_[24];                                               \
        int len_ = snprintf(num_, sizeof num_, "%llu", (unsigned long long)(v)); \
        PUT(num_, (size_t)len_);                                     \
    } while (0)
    PUT("KEEL.TX", 7);
    PUTNUM(c->nwatches);
    for (unsigned i = 0; i < c->nwatches; i++) {
        PUT(c->watches[i].key, c->watches[i].len);
        PUTNUM(c->watches[i].version);
    }
    PUTNUM(c->nqueued);
    for (unsigned i = 0; i < c->nqueued; i++) {
        PUTNUM(c->queue[i].argc);
        for (uint32_t j = 0; j < c->queue[i].argc; j++) PUT(c->queue[i].argv[j].p, c->queue[i].argv[j].n);
    }
#undef PUT
#undef PUTNUM
    free(s->argv);
    free(s->argbuf);
    s->argv = argv;
    s->argbuf = buf;
    s->argc = n;
    conn_reset_multi(c);
    conn_unwatch(c);
    s->cmd = command_lookup(&argv[0]);
    if (s->srv->role == KEEL_ROLE_LEADER) srv_dispatch_write(s);
    else fwd_request(s);
}

/* Walk KEEL.TX's argv: calls fn for each queued command with its argv. */
static bool tx_parse(struct slot *s, uint32_t *watch_at, uint32_t *nwatch, uint32_t *cmds_at,
                     uint32_t *ncmds)
{
    char buf[24];
    uint32_t i = 1;
    if (s->argc < 3) return false;
    *nwatch = (uint32_t)strtoul(slot_arg(s, i++, buf, sizeof buf), NULL, 10);
    *watch_at = i;
    i += 2 * *nwatch;
    if (i >= s->argc) return false;
    *ncmds = (uint32_t)strtoul(slot_arg(s, i++, buf, sizeof buf), NULL, 10);
    *cmds_at = i;
    for (uint32_t k = 0; k < *ncmds; k++) {
        if (i >= s->argc) return false;
        uint32_t argc = (uint32_t)strtoul(slot_arg(s, i, buf, sizeof buf), NULL, 10);
        if (argc == 0 || i + 1 + argc > s->argc) return false;
        i += 1 + argc;
    }
    return i == s->argc;
}

/* s->subs of a queued command its encoder refused: one error item. */
#define TX_ERROR_ITEM UINT_MAX

/* Whether the queued command (argv, argc) may write key: a write naming it
 * among its keys, or one that names none (FLUSHDB). */
static bool may_write(const struct keel_slice *argv, uint32_t argc, struct keel_slice key)
{
    const struct command *cmd = command_lookup(&argv[0]);
    if (cmd == NULL || !(cmd->flags & CMD_WRITE)) return false;
    if (cmd->first_key <= 0 || cmd->key_step <= 0) return true;
    int last = cmd->last_key < 0 ? (int)argc + cmd->last_key : cmd->last_key;
    for (int i = cmd->first_key; i <= last && i < (int)argc; i += cmd->key_step)
        if (argv[i].n == key.n && memcmp(argv[i].p, key.p, key.n) == 0) return true;
    return false;
}

/* INCRBYFLOAT/HINCRBYFLOAT (CMD_SERIAL) at argv[at] (KEEL.TX's) computes its result from
 * the key as the leader has it now, so no command before it in the
 * transaction may write that key: then it writes the refusal. */
static bool float_allowed(struct slot *s, const struct keel_slice *argv, uint32_t cmds_at,
                          uint32_t at)
{
    struct keel_slice key = argv[at + 2];
    for (uint32_t i = cmds_at; i < at;) {
        uint32_t n = (uint32_t)strtoul((const char *)argv[i].p, NULL, 10); /* NUL-terminated */
        if (may_write(argv + i + 1, n, key)) {
            srv_reply_errorf(&s->out, KEEL_EINVAL,
                             "'%.*s' of a key an earlier command of the transaction writes is not "
                             "supported by Keel",
                             (int)argv[at + 1].n, (const char *)argv[at + 1].p);
            return false;
        }
        i += 1 + n;
    }
    return true;
}

CMD_DECL_ENCODE(cmd_keel_tx)
{
    uint32_t watch_at, nwatch, at, ncmds;
    char buf[24];
    if (!tx_parse(s, &watch_at, &nwatch, &at, &ncmds)) {
        srv_reply_error(&s->out, KEEL_EMALFORMED, "malformed KEEL.TX");
        return -1;
    }
    if (ncmds > KEEL_MAX_BATCH || nwatch > KEEL_MAX_BATCH) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "Transaction discarded: %u commands and %u watched keys, over Keel's limit of %u "
                 "each in one transaction",
                 ncmds, nwatch, KEEL_MAX_BATCH);
        resp_error(&s->out, "EXECABORT", msg);
        return -1;
    }
    free(s->subs); /* built again after BUSY */
    s->subs = calloc(ncmds ? ncmds : 1, sizeof *s->subs);
    if (s->subs == NULL) {
        srv_reply_error(&s->out, KEEL_ENOMEM, "out of memory");
        return -1;
    }
    keel_enc_batch_begin(e);
    for (uint32_t i = 0; i < nwatch; i++) {
        uint64_t v = strtoull(slot_arg(s, watch_at + 2 * i + 1, buf, sizeof buf), NULL, 10);
        keel_enc_watch(e, s->argv[watch_at + 2 * i], v);
    }
    /* Run each queued command's encoder on its own argv, borrowing the slot. */
    struct keel_slice *argv = s->argv;
    uint32_t argc = s->argc;
    const struct command *self = s->cmd;
    int total = 0;
    const uint32_t cmds_at = at;
    for (uint32_t k = 0; k < ncmds; k++) {
        uint32_t n = (uint32_t)strtoul(slot_arg(s, at, buf, sizeof buf), NULL, 10);
        const struct command *cmd = command_lookup(&argv[at + 1]);
        s->argv = argv + at + 1;
        s->argc = n;
        s->cmd = cmd;
        int subs = -1;
        uint32_t before = e->ncmd;
        if (cmd != NULL && (cmd->flags & CMD_SERIAL) && !float_allowed(s, argv, cmds_at, at)) {
            subs = -1;
        } else if (cmd != NULL && (cmd->flags & CMD_WRITE)) {
            subs = cmd->encode(s, e);
        } else if (cmd != NULL && cmd->read != NULL) {
            /* A read (or PING, ECHO): apply runs it at its place in the
             * batch and the reader formats it for this client's protocol. */
            keel_enc_read(e, s->argv, n, s->proto == 3 ? KEEL_READ_RESP3 : 0);
            subs = 1;
        }
        s->argv = argv;
        s->argc = argc;
        s->cmd = self;
        if (subs < 0 && e->ncmd == before && e->err == 0 && s->out.len > 0 && s->out.p[0] == '-') {
            /* Refused by its encoder (a bad argument, a float that is not
             * one): an error in the EXEC array, as Redis's runtime errors,
             * while the other commands run. It travels as a READ with an
             * empty name whose argument is the reply (srv_tx_reader). */
            struct keel_slice err[2] = {{(const uint8_t *)"", 0}, {s->out.p, s->out.len}};
            keel_enc_read(e, err, 2, 0);
            s->out.len = 0;
            s->subs[k] = TX_ERROR_ITEM;
            total++;
            at += 1 + n;
            continue;
        }
        if (subs < 0) {
            /* Not even that could be encoded: the whole transaction goes. */
            struct buf why = s->out;
            buf_init(&s->out);
            resp_error(&s->out, "EXECABORT", "Transaction discarded because of an invalid command:");
            s->out.len -= 2;
            buf_append(&s->out, " ", 1);
            if (why.len > 1) buf_append(&s->out, why.p + 1, why.len - 1);
            else buf_append(&s->out, "\r\n", 2);
            buf_close(&why);
            return -1;
        }
        s->subs[k] = (unsigned)subs;
        total += subs;
        at += 1 + n;
    }
    if (total > (int)KEEL_MAX_BATCH) {
        /* An MSET inside counts one per pair: the batch must stay one entry. */
        char msg[160];
        snprintf(msg, sizeof msg,
                 "Transaction discarded: %d store commands (an MSET counts one per pair), over "
                 "Keel's limit of %u in one transaction",
                 total, KEEL_MAX_BATCH);
        s->out.len = 0;
        resp_error(&s->out, "EXECABORT", msg);
        return -1;
    }
    return total;
}

/* The store's reader: runs a queued read's handler on a slot of its own
 * (no connection) over the batch's txn, and hands back its RESP. The
 * arguments are copied NUL-terminated, as every slot's are. */
void srv_tx_reader(void *arg, struct keel_read *rd, const struct keel_slice *argv, uint32_t argc,
                   int proto, struct keel_reply *reply)
{
    struct slot s;
    size_t bytes = 0;
    memset(&s, 0, sizeof s);
    if (argc == 2 && argv[0].n == 0) { /* an error found when EXEC was encoded */
        keel_reply_resp(reply, argv[1].p, argv[1].n);
        return;
    }
    const struct command *cmd = argc > 0 ? command_lookup(&argv[0]) : NULL;
    if (cmd == NULL || cmd->read == NULL) {
        keel_reply_error(reply, KEEL_EINVAL, "not a command Keel can read inside a transaction");
        return;
    }
    for (uint32_t i = 0; i < argc; i++) bytes += argv[i].n + 1;
    s.argv = malloc(argc * sizeof *s.argv);
    s.argbuf = malloc(bytes);
    if (s.argv == NULL || s.argbuf == NULL) {
        free(s.argv);
        free(s.argbuf);
        keel_reply_error(reply, KEEL_ENOMEM, "out of memory");
        return;
    }
    uint8_t *p = s.argbuf;
    for (uint32_t i = 0; i < argc; i++) {
        memcpy(p, argv[i].p, argv[i].n);
        p[argv[i].n] = 0;
        s.argv[i] = (struct keel_slice){p, argv[i].n};
        p += argv[i].n + 1;
    }
    s.srv = arg;
    s.cmd = cmd;
    s.argc = argc;
    s.proto = proto;
    s.forwarded_in = true;
    buf_init(&s.out);
    int rc = cmd->read(&s, rd);
    if (rc != 0) {
        s.out.len = 0;
        srv_reply_error(&s.out, rc, NULL);
    }
    keel_reply_resp(reply, s.out.p, s.out.len);
    buf_close(&s.out);
    free(s.argv);
    free(s.argbuf);
}

CMD_DECL_REPLY(cmd_keel_tx_reply)
{
    struct keel_reply_item it;
    uint32_t watch_at, nwatch, at, ncmds;
    char buf[24];
    (void)nsub;
    if (keel_reply_next(rd, &it) != 0 || !tx_parse(s, &watch_at, &nwatch, &at, &ncmds)) {
        srv_reply_error(&s->out, KEEL_EMALFORMED, "internal: bad transaction reply");
        return;
    }
    if (it.kind == KEEL_REPLY_NIL) {
        resp_null_array(&s->out, s->proto); /* a watched key changed */
        return;
    }
    if (it.kind == KEEL_REPLY_ERROR && it.integer == KEEL_EBUSY && s->float_redos < SRV_FLOAT_REDOS) {
        /* An INCRBYFLOAT's key moved on: the write hook builds it again. */
        s->float_redos++;
        s->redo = true;
        return;
    }
    if (it.kind != KEEL_REPLY_ARRAY) {
        char msg[256];
        size_t n = it.kind == KEEL_REPLY_ERROR && it.n < sizeof msg ? it.n : 0;
        memcpy(msg, it.p, n);
        msg[n] = 0;
        srv_reply_error(&s->out, it.kind == KEEL_REPLY_ERROR ? (int)it.integer : KEEL_EINVAL, msg);
        return;
    }
    resp_array(&s->out, ncmds);
    for (uint32_t k = 0; k < ncmds; k++) {
        uint32_t n = (uint32_t)strtoul(slot_arg(s, at, buf, sizeof buf), NULL, 10);
        const struct command *cmd = command_lookup(&s->argv[at + 1]);
        if (cmd->reply != NULL && s->subs[k] != TX_ERROR_ITEM) cmd->reply(s, rd, s->subs[k]);
        else srv_reply_to_resp(&s->out, s->proto, rd);
        at += 1 + n;
    }
}
