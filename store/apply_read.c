/* store: READ sub-commands of a batch, handed to the node's reader (store.h).
 *
 * A read inside MULTI/EXEC sees what the commands before it in the batch
 * did, so it runs here, in the batch's write transaction, at the entry's
 * time. What it means is the API's business (its read commands): the store
 * only hands it the arguments and a keel_read over the batch's txn. */
#include <stdlib.h>

#include "store/internal.h"

void keel_store_set_reader(struct keel_store *st, keel_store_reader fn, void *arg)
{
    st->reader = fn;
    st->reader_arg = fn != NULL ? arg : NULL;
}

int apply_read(struct apply_ctx *c, const struct store_cmd *cmd, struct keel_reply *r)
{
    c->read = true;
    if (c->st->reader == NULL) {
        keel_reply_error(r, KEEL_EINVAL, "reads in a batch need the node's reader");
        return 0;
    }
    /* count <= KEEL_MAX_ARGS (decode); the reply is not replicated state, so
     * a failed allocation is only this node's answer. */
    struct keel_slice *argv = malloc(cmd->count * sizeof *argv);
    if (argv == NULL) {
        keel_reply_error(r, KEEL_ENOMEM, "out of memory");
        return 0;
    }
    struct keel_iter it;
    uint32_t n = 0;
    keel_iter_init(&it, cmd->list);
    while (n < cmd->count && keel_iter_str(&it, &argv[n])) n++;
    /* A copy of the txn handle: the reader reads through it and never ends it. */
    struct keel_read rd = {.st = c->st, .txn = *c->txn, .now = c->ts};
    c->st->reader(c->st->reader_arg, &rd, argv, n, cmd->flags & KEEL_READ_RESP3 ? 3 : 2, r);
    free(argv);
    return 0;
}
