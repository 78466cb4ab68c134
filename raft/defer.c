/* raft: the queue of completions delivered outside raft. See defer.h. */
#include <string.h>

#include "raft/defer.h"

void keel_defer_init(struct keel_defer *d)
{
    memset(d, 0, sizeof *d);
}

void keel_defer_push(struct keel_defer *d, struct keel_deferred *item, keel_deliver_fn deliver)
{
    assert(!item->queued);
    item->deliver = deliver;
    item->next = NULL;
    item->queued = true;
    if (d->tail != NULL) d->tail->next = item;
    else d->head = item;
    d->tail = item;
    d->queued++;
    if (d->kick != NULL) d->kick(d->kick_data);
}

unsigned keel_defer_run(struct keel_defer *d)
{
    unsigned n = 0;
    KEEL_DEFER_OUTSIDE(d);
    if (d->running) return 0;
    d->running = true;
    while (d->head != NULL) {
        struct keel_deferred *item = d->head;
        d->head = item->next;
        if (d->head == NULL) d->tail = NULL;
        d->queued--;
        item->next = NULL;
        item->queued = false;
        /* Last touch of item: the delivery may free it, or queue it again
         * (a proposal reused for the next write). */
        item->deliver(item);
        n++;
    }
    d->running = false;
    return n;
}
