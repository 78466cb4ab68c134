/* api/server: blocked clients, the leader's side of BLPOP BRPOP BLMOVE
 * BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX BZMPOP.
 *
 * The design:
 * - The pop is a replicated write like any other (MPOP, or LMOVE for
 *   BLMOVE; store/codec.h), with its slot's (client, seq) identity. Apply
 *   decides which key it pops from, so every replica pops the same thing.
 *   A pop that finds every key absent answers the null array (BLMOVE: nil)
 *   and changes nothing; the dedupe table does not keep that answer, so the
 *   same identity can try again (store/apply.c).
 * - Such an answer to a blocking command on its connection, outside MULTI,
 *   does not reach the client: its reply hook (cmd_block.c) sets
 *   s->block_wait and write_done_cb hands the slot to block_wait(), which
 *   parks it here: one FIFO of waiters, in the order they first blocked.
 *   Only the leader parks: a follower forwards the command (forward.c), on
 *   a connection of its own per request (block_fwd_take), so a client that
 *   waits for minutes holds up nobody else's forwarded replies.
 * - Every applied entry's keyspace events (store/events.h) come through
 *   notify.c's apply hook to block_on_apply(): a waiter on a changed key is
 *   poked, and a zero timer (never inside raft's apply, which must not
 *   propose) looks at the poked waiters in FIFO order: one whose key now
 *   holds a list (a sorted set for the BZ forms) is proposed its pop again,
 *   unless an earlier waiter on that key is being served (FIFO per key: the
 *   later one is poked again once the earlier one is done). Its pop coming
 *   back empty (another client took the item first) parks it again in its
 *   place. While anyone is parked the store records events
 *   (notify_recording_changed).
 * - A waiter that parks is poked at once: the state is looked at again, so
 *   a write applied between its pop and its parking is not missed.
 * - The first attempt of a client whose keys are all absent in the leader's
 *   applied state parks without proposing anything (block_park_first): a
 *   write committed but not yet applied here wakes it when it applies, and
 *   the log is spared an entry that changes nothing (Redis counts a blocked
 *   pop as one change, when it pops).
 * - The timeout is a libuv timer per waiter (0: none). If it fires while
 *   the pop is in flight, the pop decides: an item is delivered, nothing
 *   answers the timeout.
 * - A client that disconnects: a parked waiter ends at once; one in flight
 *   ends when its pop comes back (unanswered). A node that stops leading
 *   answers its parked clients -TRYAGAIN: nothing was popped for them, so
 *   retrying (against the new leader) is safe; a pop in flight at that
 *   moment gets write_done_cb's -UNCERTAIN like any write.
 * Waiters are few next to keys, so matching a key against them is a walk of
 * the list (waiters x keys per event): simple, and a per-key index can
 * replace it if that ever shows up in a profile. */
#include <stdlib.h>
#include <string.h>

#include "api/server/block.h"
#include "api/server/forward.h"
#include "api/server/pubsub/notify.h"
#include "raft/membership.h"

struct block_waiter
{
    struct block_waiter *prev, *next;
    struct block *b;
    struct slot *s;
    uv_timer_t timer;
    bool inflight; /* its pop is proposed again */
    bool poked;    /* one of its keys changed since it was last looked at */
    bool chosen;   /* the kick proposes its pop */
};

struct block
{
    struct keel_server *srv;
    struct block_waiter *head, *tail;
    unsigned n;
    uv_timer_t kick;
    bool kick_on;
    bool closed;
    struct forwarder **fwd; /* forwarded blocking pops' connections in use */
    size_t nfwd, capfwd;
    struct forwarder **dead; /* released: destroyed by the kick */
    size_t ndead, capdead;
};

static void kick_cb(uv_timer_t *t);

int block_create(struct keel_server *srv)
{
    struct block *b = calloc(1, sizeof *b);
    if (b == NULL) return KEEL_ENOMEM;
    b->srv = srv;
    uv_timer_init(srv->loop, &b->kick);
    b->kick.data = b;
    srv->block = b;
    return 0;
}

static void kick(struct block *b)
{
    if (b->kick_on || b->closed) return;
    b->kick_on = true;
    uv_timer_start(&b->kick, kick_cb, 0, 0);
}

static bool same(struct keel_slice a, struct keel_slice b)
{
    return a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
}

static bool waits_on(const struct slot *s, struct keel_slice key)
{
    for (uint32_t i = 0; i < s->block_nkeys; i++)
        if (same(s->argv[s->block_key0 + i], key)) return true;
    return false;
}

/* Poke every waiter sharing a key with s (s done or parked again: a later
 * waiter held back by it may go now). */
static void poke_sharing(struct block *b, const struct slot *s)
{
    bool any = false;
    for (struct block_waiter *w = b->head; w != NULL; w = w->next) {
        if (w->s == s) continue;
        for (uint32_t i = 0; i < s->block_nkeys; i++) {
            if (!waits_on(w->s, s->argv[s->block_key0 + i])) continue;
            w->poked = any = true;
            break;
        }
    }
    if (any) kick(b);
}

static void waiter_closed_cb(uv_handle_t *h)
{
    free(h->data);
}

static void timeout_reply(struct slot *s)
{
    s->out.len = 0;
    if (s->block_null_bulk) resp_null(&s->out, s->proto);
    else resp_null_array(&s->out, s->proto);
}

static void timer_cb(uv_timer_t *t)
{
    struct block_waiter *w = t->data;
    struct slot *s = w->s;
    if (w->inflight) { /* its pop decides: an item, or the timeout */
        s->block_timed_out = true;
        return;
    }
    timeout_reply(s);
    slot_done(s); /* forgets w */
}

static void release_fwd(struct block *b, struct forwarder *f)
{
    for (size_t i = 0; i < b->nfwd; i++) {
        if (b->fwd[i] != f) continue;
        b->fwd[i] = b->fwd[--b->nfwd];
        break;
    }
    if (b->ndead == b->capdead) {
        size_t cap = b->capdead ? 2 * b->capdead : 8;
        struct forwarder **p = realloc(b->dead, cap * sizeof *p);
        if (p == NULL) { /* destroyed now: rarely safe to wait for memory instead */
            fwd_destroy(f);
            return;
        }
        b->dead = p;
        b->capdead = cap;
    }
    b->dead[b->ndead++] = f;
    kick(b);
}

void block_forget(struct slot *s)
{
    struct block *b = s->srv->block;
    if (s->own_fwd != NULL) {
        struct forwarder *f = s->own_fwd;
        s->own_fwd = NULL;
        if (b != NULL) release_fwd(b, f);
        else fwd_destroy(f);
    }
    struct block_waiter *w = s->waiter;
    if (w == NULL) return;
    s->waiter = NULL;
    if (w->prev) w->prev->next = w->next;
    else b->head = w->next;
    if (w->next) w->next->prev = w->prev;
    else b->tail = w->prev;
    b->n--;
    uv_close((uv_handle_t *)&w->timer, waiter_closed_cb);
    poke_sharing(b, s);
    if (b->n == 0) notify_recording_changed(s->srv);
}

void block_wait(struct slot *s)
{
    struct keel_server *srv = s->srv;
    struct block *b = srv->block;
    s->out.len = 0;
    s->block_wait = false;
    if (b == NULL || b->closed || srv->stopping) {
        srv_reply_error(&s->out, KEEL_ENOTLEADER, "this node is shutting down");
        slot_done(s);
        return;
    }
    if (s->block_timed_out || (s->block_until != 0 && keel_mono_ms() >= s->block_until)) {
        timeout_reply(s);
        slot_done(s);
        return;
    }
    struct block_waiter *w = s->waiter;
    if (w == NULL) {
        w = calloc(1, sizeof *w);
        if (w == NULL) {
            srv_reply_error(&s->out, KEEL_ENOMEM, "out of memory");
            slot_done(s);
            return;
        }
        w->b = b;
        w->s = s;
        s->waiter = w;
        w->prev = b->tail;
        if (b->tail) b->tail->next = w;
        else b->head = w;
        b->tail = w;
        uv_timer_init(srv->loop, &w->timer);
        w->timer.data = w;
        if (s->block_until != 0) uv_timer_start(&w->timer, timer_cb, s->block_until - keel_mono_ms(), 0);
        if (++b->n == 1) notify_recording_changed(srv);
    } else {
        poke_sharing(b, s); /* it holds back nobody now */
    }
    w->inflight = false;
    w->poked = true;
    kick(b);
}

bool block_park_first(const struct slot *s)
{
    struct keel_server *srv = s->srv;
    struct keel_read rd;
    if (!(s->cmd->flags & CMD_BLOCKING) || !s->block_armed || s->waiter != NULL || s->client != 0 ||
        s->conn == NULL || srv->role != KEEL_ROLE_LEADER || srv->block == NULL)
        return false;
    if (keel_read_begin(srv->store, srv_now(srv), &rd) != 0) return false;
    uint8_t want = s->block_zset ? KEEL_TYPE_ZSET : KEEL_TYPE_LIST;
    bool none = true, other_type = false, queued = false;
    for (uint32_t i = 0; i < s->block_nkeys; i++) {
        struct keel_slice k = s->argv[s->block_key0 + i];
        struct keel_record rec;
        int rc = keel_read_get(&rd, k, &rec);
        if (rc != KEEL_ENOTFOUND) none = false;
        /* Another type, or a read error: apply decides (WRONGTYPE). */
        if (rc != KEEL_ENOTFOUND && (rc != 0 || rec.type != want)) other_type = true;
        for (struct block_waiter *w = srv->block->head; w != NULL && !queued; w = w->next)
            queued = waits_on(w->s, k);
    }
    keel_read_end(&rd);
    /* Clients already waiting on one of its keys go first (FIFO per key,
     * as in Redis): a key they wait on that holds items now is theirs, and
     * the kick serves them in order, this one after them. */
    return none || (queued && !other_type);
}

void block_conn_gone(struct slot *s)
{
    if (s->own_fwd != NULL) { /* the leader's end closes: its waiter goes there */
        block_forget(s);      /* (only the forwarder: a follower parks nothing) */
        return;
    }
    if (s->waiter != NULL && !s->waiter->inflight) slot_done(s); /* unanswered, freed */
}

void block_release_all(struct keel_server *srv, const char *why)
{
    struct block *b = srv->block;
    if (b == NULL) return;
    /* From the head each time: answering one may close a connection and
     * with it other waiters (forwarded ones share the member's). */
    for (;;) {
        struct block_waiter *w = b->head;
        while (w != NULL && w->inflight) w = w->next;
        if (w == NULL) return;
        struct slot *s = w->s;
        s->out.len = 0;
        srv_reply_error(&s->out, KEEL_ENOTLEADER, why);
        slot_done(s);
    }
}

void block_on_apply(struct keel_server *srv, const struct keel_events *ev)
{
    struct block *b = srv->block;
    if (b == NULL || b->n == 0) return;
    bool any = false;
    for (struct block_waiter *w = b->head; w != NULL; w = w->next) {
        for (uint32_t i = 0; i < ev->n && !w->poked; i++)
            if (waits_on(w->s, ev->ev[i].key)) w->poked = any = true;
    }
    if (any) kick(b);
}

bool block_wanted(const struct keel_server *srv)
{
    return srv->block != NULL && srv->block->n > 0;
}

unsigned block_count(const struct keel_server *srv)
{
    if (srv->block == NULL) return 0;
    /* Its own clients: parked here, or forwarded to the leader and waiting. */
    unsigned n = (unsigned)srv->block->nfwd;
    for (struct block_waiter *w = srv->block->head; w != NULL; w = w->next)
        if (w->s->conn != NULL && !w->s->forwarded_in) n++;
    return n;
}

int block_unblock(struct keel_server *srv, uint64_t conn_id, bool error)
{
    struct block *b = srv->block;
    if (b == NULL) return 0;
    for (struct block_waiter *w = b->head; w != NULL; w = w->next) {
        struct slot *s = w->s;
        if (s->conn == NULL || s->conn->id != conn_id || s->forwarded_in) continue;
        if (w->inflight) { /* its pop decides, as for a timeout */
            s->block_timed_out = true;
            return 1;
        }
        s->out.len = 0;
        if (error) resp_error(&s->out, "UNBLOCKED", "client unblocked via CLIENT UNBLOCK");
        else timeout_reply(s);
        slot_done(s);
        return 1;
    }
    return 0;
}

/* ---- the kick: propose the pops of waiters whose key is ready ------------ */

static bool claimed(struct keel_slice *cl, size_t n, struct keel_slice k)
{
    for (size_t i = 0; i < n; i++)
        if (same(cl[i], k)) return true;
    return false;
}

/* Choose (w->chosen) the poked waiters to serve, in FIFO order. */
static void choose(struct block *b, struct keel_read *rd, struct keel_slice *cl)
{
    size_t ncl = 0;
    for (struct block_waiter *w = b->head; w != NULL; w = w->next) {
        struct slot *s = w->s;
        bool go = false;
        if (!w->inflight && w->poked) {
            uint8_t want = s->block_zset ? KEEL_TYPE_ZSET : KEEL_TYPE_LIST;
            bool held = false;
            for (uint32_t i = 0; i < s->block_nkeys && !go; i++) {
                struct keel_slice k = s->argv[s->block_key0 + i];
                struct keel_record rec;
                if (claimed(cl, ncl, k)) held = true;
                /* Another type: Redis keeps it blocked, and so do we. */
                else if (keel_read_get(rd, k, &rec) == 0 && rec.type == want) go = true;
            }
            /* Held back by an earlier waiter on its key: poked again when
             * that one is done (poke_sharing). */
            w->poked = !go && held;
        }
        w->chosen = go;
        if (go || w->inflight)
            for (uint32_t i = 0; i < s->block_nkeys; i++) cl[ncl++] = s->argv[s->block_key0 + i];
    }
}

static void bury(struct block *b)
{
    while (b->ndead > 0) fwd_destroy(b->dead[--b->ndead]);
}

static void kick_cb(uv_timer_t *t)
{
    struct block *b = t->data;
    struct keel_server *srv = b->srv;
    struct keel_read rd;
    b->kick_on = false;
    bury(b);
    if (b->n == 0) return;
    if (srv->role != KEEL_ROLE_LEADER) {
        block_release_all(srv, "leadership changed while the client was blocked: nothing was popped, retry");
        return;
    }
    size_t nkeys = 0;
    for (struct block_waiter *w = b->head; w != NULL; w = w->next) nkeys += w->s->block_nkeys;
    struct keel_slice *cl = malloc((nkeys ? nkeys : 1) * sizeof *cl);
    if (cl == NULL || keel_read_begin(srv->store, srv_now(srv), &rd) != 0) {
        free(cl);
        uv_timer_start(&b->kick, kick_cb, 10, 0); /* try again shortly */
        b->kick_on = true;
        return;
    }
    choose(b, &rd, cl);
    keel_read_end(&rd);
    free(cl);
    /* From the head each time: proposing may answer a slot at once (a
     * refusal), closing its connection and other waiters with it. */
    for (;;) {
        struct block_waiter *w = b->head;
        while (w != NULL && !w->chosen) w = w->next;
        if (w == NULL) break;
        w->chosen = false;
        w->inflight = true;
        w->s->block_wait = false;
        w->s->out.len = 0;
        srv_dispatch_write(w->s);
    }
}

/* ---- forwarded blocking pops' own connections --------------------------- */

struct forwarder *block_fwd_take(struct keel_server *srv)
{
    struct block *b = srv->block;
    if (b == NULL || b->closed) return NULL;
    if (b->nfwd == b->capfwd) {
        size_t cap = b->capfwd ? 2 * b->capfwd : 8;
        struct forwarder **p = realloc(b->fwd, cap * sizeof *p);
        if (p == NULL) return NULL;
        b->fwd = p;
        b->capfwd = cap;
    }
    struct forwarder *f = fwd_create(srv, false);
    if (f != NULL) b->fwd[b->nfwd++] = f;
    return f;
}

void block_fwd_release(struct keel_server *srv, struct forwarder *f)
{
    if (srv->block != NULL) release_fwd(srv->block, f);
    else fwd_destroy(f);
}

void block_tick(struct keel_server *srv)
{
    struct block *b = srv->block;
    if (b == NULL || b->nfwd == 0) return;
    /* A copy: expiring one answers its slot, which releases its forwarder. */
    size_t n = b->nfwd;
    struct forwarder **copy = malloc(n * sizeof *copy);
    if (copy == NULL) return;
    memcpy(copy, b->fwd, n * sizeof *copy);
    for (size_t i = 0; i < n; i++) {
        bool live = false;
        for (size_t j = 0; j < b->nfwd && !live; j++) live = b->fwd[j] == copy[i];
        if (live) fwd_expire(copy[i]);
    }
    free(copy);
}

static void kick_closed_cb(uv_handle_t *h)
{
    struct block *b = h->data;
    free(b->fwd);
    free(b->dead);
    free(b);
}

void block_stop(struct keel_server *srv)
{
    struct block *b = srv->block;
    if (b == NULL) return;
    block_release_all(srv, "this node is shutting down");
    while (b->head != NULL) block_forget(b->head->s); /* in flight: answered by the node's close */
    b->closed = true;
    bury(b);
    while (b->nfwd > 0) fwd_destroy(b->fwd[--b->nfwd]);
    bury(b);
    srv->block = NULL;
    uv_close((uv_handle_t *)&b->kick, kick_closed_cb);
}
