/* api: KEEL.TX, the transaction EXEC sends to the leader: its encoding
 * into one BATCH entry (writes by their encoders, reads and PING/ECHO as
 * READ sub-commands, an encoder's refusal as an error item), the store's
 * reader that answers the READs inside apply, and the EXEC array built
 * from the batch's reply. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/server/commands/commands.h"

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
    /* Only what MULTI queued reaches here, but a handler trusts its arity. */
    if (cmd == NULL || cmd->read == NULL ||
        (cmd->arity >= 0 ? argc != (uint32_t)cmd->arity : argc < (uint32_t)-cmd->arity)) {
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

static void batch_reply(struct slot *s, struct keel_reply_reader *rd);

CMD_DECL_REPLY(cmd_keel_tx_reply)
{
    (void)nsub;
    batch_reply(s, rd);
    if (s->ntx_conn == 0 || s->redo) return;
    struct buf batch = s->out;
    buf_init(&s->out);
    srv_tx_splice(s, batch.p, batch.len);
    buf_close(&batch);
}

static void batch_reply(struct slot *s, struct keel_reply_reader *rd)
{
    struct keel_reply_item it;
    uint32_t watch_at, nwatch, at, ncmds;
    char buf[24];
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
