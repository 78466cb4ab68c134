/* raft: repairing a replica whose state failed the consistency check, by
 * installing the leader's image over it (api/server/repair.c fetches the image).
 *
 * Only the state machine is replaced. The raft log, the raft snapshots and
 * the raft metadata (term, vote) stay as they are: they are not what the
 * check found wrong, and wiping term and vote would let this node vote twice
 * in one term, wiping log entries it acknowledged would let a committed
 * entry lose its majority. Raft never learns that anything happened: its
 * last applied index stays, and the store is brought back to it.
 *
 * The image is the leader's state at some index L, taken after the repair
 * began. Meanwhile this node kept applying entries (to the damaged env), up
 * to A. If L >= A the store simply skips what it already holds as raft
 * applies on (the fuzzy-forward rule of snapshots). If L < A, the entries
 * L+1..A are applied again from the journal: a copy of every entry applied
 * since keel_node_repair_begin, kept in memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft/busy.h"
#include "raft/node_internal.h"

/* Entries applied during one repair (an image transfer): beyond this the
 * repair gives up and starts again. */
#define JOURNAL_MAX_BYTES (256u << 20)

struct fsm_entry
{
    uint64_t index;
    size_t len;
    uint8_t data[];
};

struct fsm_journal
{
    uint64_t from;           /* raft's last applied index at begin */
    struct fsm_entry **entries;
    size_t n, cap;
    size_t bytes;
    const char *broken;      /* why the journal cannot replay (NULL: it can) */
};

void fsm_journal_add(struct keel_fsm *f, uint64_t index, const void *buf, size_t len)
{
    struct fsm_journal *j = f->journal;
    if (j->broken != NULL) return;
    if (j->bytes + len > JOURNAL_MAX_BYTES) goto overflow;
    if (j->n == j->cap) {
        size_t cap = j->cap ? 2 * j->cap : 256;
        struct fsm_entry **e = realloc(j->entries, cap * sizeof *e);
        if (e == NULL) goto overflow;
        j->entries = e;
        j->cap = cap;
    }
    struct fsm_entry *e = malloc(sizeof *e + len);
    if (e == NULL) goto overflow;
    e->index = index;
    e->len = len;
    memcpy(e->data, buf, len);
    j->entries[j->n++] = e;
    j->bytes += len;
    return;
overflow:
    j->broken = "more than 256 MiB of entries were applied during the transfer";
}

void fsm_journal_break(struct keel_fsm *f, const char *why)
{
    if (f->journal != NULL && f->journal->broken == NULL) f->journal->broken = why;
}

void fsm_journal_free(struct keel_fsm *f)
{
    struct fsm_journal *j = f->journal;
    if (j == NULL) return;
    for (size_t i = 0; i < j->n; i++) free(j->entries[i]);
    free(j->entries);
    free(j);
    f->journal = NULL;
}

void keel_node_on_check(struct keel_node *n, keel_check_cb cb, void *data)
{
    n->fsm.on_check = cb;
    n->fsm.on_check_data = data;
}

void keel_node_set_damaged(struct keel_node *n, bool damaged)
{
    n->fsm.damaged = damaged;
}

int keel_node_repair_begin(struct keel_node *n)
{
    struct keel_fsm *f = &n->fsm;
    fsm_journal_free(f);
    f->journal = calloc(1, sizeof *f->journal);
    if (f->journal == NULL) return KEEL_ENOMEM;
    f->journal->from = raft_last_applied(&n->raft);
    return 0;
}

void keel_node_repair_end(struct keel_node *n)
{
    fsm_journal_free(&n->fsm);
}

int keel_node_repair_install(struct keel_node *n, const void *image, size_t len, char *errmsg)
{
    struct keel_fsm *f = &n->fsm;
    struct fsm_journal *j = f->journal;
    struct keel_snapshot_info info;
    /* Swapping the env under raft's apply would be the worst re-entrance of
     * all (raft/defer.h). */
    KEEL_DEFER_OUTSIDE(&f->defer);
    if (j == NULL) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "repair: not begun");
        return KEEL_EINVAL;
    }
    if (f->fatal) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "repair: %s", f->errmsg);
        return f->fatal;
    }
    if (j->broken != NULL) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "repair: %s: start again", j->broken);
        return KEEL_EBUSY;
    }
    int rc = keel_snapshot_verify(image, len, &info, errmsg);
    if (rc != 0) return rc;
    uint64_t applied = raft_last_applied(&n->raft);
    if (info.applied < j->from) {
        /* Entries j->from.. are journaled; those before it are not. Cannot
         * happen with an image taken after the repair began (KEEL.SNAPSHOT
         * BEGIN waits for a barrier). */
        snprintf(errmsg, KEEL_ERRMSG_SIZE,
                 "repair: image at index %llu is older than the repair (index %llu): start again",
                 (unsigned long long)info.applied, (unsigned long long)j->from);
        return KEEL_EBUSY;
    }
    const char *busy = keel_busy_begin("installing the leader's image (consistency repair)");
    rc = keel_storage_reinstall(n->storage, image, len, errmsg);
    keel_busy_end(busy);
    if (rc != 0) {
        if (rc == KEEL_EFATAL) {
            f->fatal = rc;
            snprintf(f->errmsg, sizeof f->errmsg, "fsm: repair: %s", errmsg);
        }
        return rc;
    }
    /* L+1..A again, in order, on the leader's state. */
    uint64_t replayed = 0;
    for (size_t i = 0; i < j->n; i++) {
        const struct fsm_entry *e = j->entries[i];
        if (e->index <= info.applied) continue;
        rc = keel_store_apply(n->store, e->index, e->data, e->len, &f->scratch);
        if (rc != 0) {
            /* As in apply: local and unrecoverable; the node restarts. */
            f->fatal = rc;
            snprintf(f->errmsg, sizeof f->errmsg, "fsm: repair replay: %s", keel_store_errmsg(n->store));
            snprintf(errmsg, KEEL_ERRMSG_SIZE, "%s", f->errmsg);
            return rc;
        }
        replayed++;
    }
    int64_t clock;
    if (keel_store_clock(n->store, &clock) == 0) /* the leader's image: as after a restore */
        keel_clock_observe(&n->clock, clock, keel_clock_mono_us());
    f->damaged = false;
    f->stats.repairs++;
    fsm_journal_free(f);
    snprintf(errmsg, KEEL_ERRMSG_SIZE, "image at index %llu installed, %llu entries replayed up to %llu",
             (unsigned long long)info.applied, (unsigned long long)replayed, (unsigned long long)applied);
    return 0;
}
