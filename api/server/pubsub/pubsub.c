/* api: the pub/sub registry and message delivery. See pubsub.h. */
#include <stdlib.h>
#include <string.h>

#include "api/resp/resp_glob.h"
#include "api/server/log.h"
#include "api/server/pubsub/pubsub.h"

#define KEYSPACE_PREFIX "__key" /* __keyspace@0__: and __keyevent@0__: */

struct pattern_sub
{
    struct conn *c;
    struct keel_slice pat; /* points into c->ps->patterns' copy */
};

struct pubsub
{
    struct chan_table channels;
    struct pattern_sub *patterns;
    unsigned npatterns;
    unsigned cap;
    unsigned key_channels;   /* channels starting with KEYSPACE_PREFIX */
    struct conn **touched;   /* one publish's receivers, to flush */
    unsigned ntouched;
    unsigned touched_cap;
    void (*changed)(void *data); /* pubsub_on_change */
    void *changed_data;
};

void pubsub_on_change(struct pubsub *ps, void (*cb)(void *data), void *data)
{
    ps->changed = cb;
    ps->changed_data = data;
}

static void changed(struct keel_server *srv)
{
    struct pubsub *ps = srv->pubsub;
    if (ps->changed != NULL) ps->changed(ps->changed_data);
}

struct pubsub *pubsub_create(void)
{
    struct pubsub *ps = calloc(1, sizeof *ps);
    if (ps != NULL) chan_table_init(&ps->channels);
    return ps;
}

void pubsub_destroy(struct pubsub *ps)
{
    if (ps == NULL) return;
    chan_table_close(&ps->channels);
    free(ps->patterns);
    free(ps->touched);
    free(ps);
}

static bool is_key_channel(const uint8_t *p, size_t n)
{
    size_t k = sizeof KEYSPACE_PREFIX - 1;
    return n >= k && memcmp(p, KEYSPACE_PREFIX, k) == 0;
}

static int find_slice(const struct keel_slice *v, unsigned n, struct keel_slice s)
{
    for (unsigned i = 0; i < n; i++) {
        if (v[i].n == s.n && (s.n == 0 || memcmp(v[i].p, s.p, s.n) == 0)) return (int)i;
    }
    return -1;
}

/* Append a copy of s to *v. */
static int push_copy(struct keel_slice **v, unsigned *n, struct keel_slice s)
{
    struct keel_slice *nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (nv == NULL) return -1;
    *v = nv;
    uint8_t *p = malloc(s.n ? s.n : 1);
    if (p == NULL) return -1;
    if (s.n > 0) memcpy(p, s.p, s.n);
    nv[(*n)++] = (struct keel_slice){p, s.n};
    return 0;
}

static struct conn_pubsub *state(struct conn *c)
{
    if (c->ps == NULL) c->ps = calloc(1, sizeof *c->ps);
    return c->ps;
}

int pubsub_subscribe(struct keel_server *srv, struct conn *c, struct keel_slice name)
{
    struct pubsub *ps = srv->pubsub;
    struct conn_pubsub *cs = state(c);
    if (cs == NULL) return -1;
    if (find_slice(cs->channels, cs->nchannels, name) >= 0) return 0;
    size_t before = ps->channels.n;
    struct channel *ch = chan_get(&ps->channels, name.p, name.n);
    if (ch == NULL) return -1;
    if (ps->channels.n > before && is_key_channel(name.p, name.n)) ps->key_channels++;
    if (ch->n == ch->cap) {
        unsigned cap = ch->cap ? 2 * ch->cap : 4;
        struct conn **subs = realloc(ch->subs, cap * sizeof *subs);
        if (subs == NULL) goto undo;
        ch->subs = subs;
        ch->cap = cap;
    }
    if (push_copy(&cs->channels, &cs->nchannels, name) != 0) goto undo;
    ch->subs[ch->n++] = c;
    changed(srv);
    return 1;
undo:
    if (ch->n == 0) {
        if (is_key_channel(name.p, name.n)) ps->key_channels--;
        chan_remove(&ps->channels, ch);
    }
    return -1;
}

/* Take c off the channel's list; drop the channel when nobody is left. */
static void leave(struct pubsub *ps, struct conn *c, struct keel_slice name)
{
    struct channel *ch = chan_find(&ps->channels, name.p, name.n);
    if (ch == NULL) return;
    for (unsigned i = 0; i < ch->n; i++) {
        if (ch->subs[i] == c) {
            ch->subs[i] = ch->subs[--ch->n];
            break;
        }
    }
    if (ch->n == 0) {
        if (is_key_channel(name.p, name.n)) ps->key_channels--;
        chan_remove(&ps->channels, ch);
    }
}

int pubsub_unsubscribe(struct keel_server *srv, struct conn *c, struct keel_slice name)
{
    struct conn_pubsub *cs = c->ps;
    int i = cs ? find_slice(cs->channels, cs->nchannels, name) : -1;
    if (i < 0) return 0;
    leave(srv->pubsub, c, name);
    free((void *)cs->channels[i].p);
    cs->channels[i] = cs->channels[--cs->nchannels];
    changed(srv);
    return 1;
}

int pubsub_psubscribe(struct keel_server *srv, struct conn *c, struct keel_slice pat)
{
    struct pubsub *ps = srv->pubsub;
    struct conn_pubsub *cs = state(c);
    if (cs == NULL) return -1;
    if (find_slice(cs->patterns, cs->npatterns, pat) >= 0) return 0;
    if (ps->npatterns == ps->cap) {
        unsigned cap = ps->cap ? 2 * ps->cap : 8;
        struct pattern_sub *v = realloc(ps->patterns, cap * sizeof *v);
        if (v == NULL) return -1;
        ps->patterns = v;
        ps->cap = cap;
    }
    if (push_copy(&cs->patterns, &cs->npatterns, pat) != 0) return -1;
    ps->patterns[ps->npatterns++] = (struct pattern_sub){c, cs->patterns[cs->npatterns - 1]};
    changed(srv);
    return 1;
}

static void drop_pattern(struct pubsub *ps, struct conn *c, const uint8_t *copy)
{
    for (unsigned i = 0; i < ps->npatterns; i++) {
        if (ps->patterns[i].c == c && ps->patterns[i].pat.p == copy) {
            /* Keep the order: patterns deliver in subscription order. */
            memmove(&ps->patterns[i], &ps->patterns[i + 1],
                    (ps->npatterns - i - 1) * sizeof *ps->patterns);
            ps->npatterns--;
            return;
        }
    }
}

int pubsub_punsubscribe(struct keel_server *srv, struct conn *c, struct keel_slice pat)
{
    struct conn_pubsub *cs = c->ps;
    int i = cs ? find_slice(cs->patterns, cs->npatterns, pat) : -1;
    if (i < 0) return 0;
    drop_pattern(srv->pubsub, c, cs->patterns[i].p);
    free((void *)cs->patterns[i].p);
    cs->patterns[i] = cs->patterns[--cs->npatterns];
    /* The global list points at the copies, which did not move. */
    changed(srv);
    return 1;
}

unsigned pubsub_count(const struct conn *c)
{
    return c->ps ? c->ps->nchannels + c->ps->npatterns : 0;
}

void pubsub_conn_close(struct conn *c)
{
    struct conn_pubsub *cs = c->ps;
    struct keel_server *srv = c->srv;
    if (cs == NULL) return;
    bool had = cs->nchannels + cs->npatterns > 0;
    for (unsigned i = 0; i < cs->nchannels; i++) {
        leave(srv->pubsub, c, cs->channels[i]);
        free((void *)cs->channels[i].p);
    }
    struct pubsub *ps = srv->pubsub;
    unsigned k = 0;
    for (unsigned i = 0; i < ps->npatterns; i++) {
        if (ps->patterns[i].c != c) ps->patterns[k++] = ps->patterns[i];
    }
    ps->npatterns = k;
    for (unsigned i = 0; i < cs->npatterns; i++) free((void *)cs->patterns[i].p);
    free(cs->channels);
    free(cs->patterns);
    free(cs);
    c->ps = NULL;
    if (had) changed(srv);
}

/* ---- delivery ---------------------------------------------------------- */

void pubsub_header(struct buf *b, int proto, size_t n)
{
    char tmp[24];
    int len = snprintf(tmp, sizeof tmp, "%c%zu\r\n", proto >= 3 ? '>' : '*', n);
    buf_append(b, tmp, (size_t)len);
}

/* Queue a message frame on c, after every reply it owes (coalesced into the
 * push slot at the tail when there is one). No flush here: flushing may
 * close connections, and the caller is walking the registry. */
static void deliver(struct pubsub *ps, struct conn *c, const struct buf *frame)
{
    struct keel_server *srv = c->srv;
    if (c->closing || c->ps == NULL || c->ps->doomed) return;
    struct slot *s = c->tail;
    if (s == NULL || !s->push) {
        struct keel_slice none = {NULL, 0};
        s = slot_new(srv, c, &none, 0);
        if (s == NULL) {
            c->ps->doomed = true;
            return;
        }
        s->push = true;
        s->done = true;
        if (c->tail) c->tail->next = s;
        else c->head = s;
        c->tail = s;
        c->pending++;
    }
    buf_append(&s->out, frame->p, frame->len);
    c->push_bytes += frame->len;
    if (s->out.oom || c->out_bytes + c->push_bytes > srv->cfg.max_output) c->ps->doomed = true;
    if (ps->ntouched == ps->touched_cap) {
        unsigned cap = ps->touched_cap ? 2 * ps->touched_cap : 16;
        struct conn **t = realloc(ps->touched, cap * sizeof *t);
        if (t == NULL) return; /* it is flushed with its next reply */
        ps->touched = t;
        ps->touched_cap = cap;
    }
    ps->touched[ps->ntouched++] = c;
}

static void frame_build(struct buf *b, int proto, const struct keel_slice *pat,
                        struct keel_slice ch, struct keel_slice msg)
{
    b->len = 0;
    pubsub_header(b, proto, pat ? 4 : 3);
    resp_bulk_str(b, pat ? "pmessage" : "message");
    if (pat) resp_bulk(b, pat->p, pat->n);
    resp_bulk(b, ch.p, ch.n);
    resp_bulk(b, msg.p, msg.n);
}

unsigned pubsub_publish(struct keel_server *srv, struct keel_slice ch, struct keel_slice msg)
{
    struct pubsub *ps = srv->pubsub;
    unsigned count = 0;
    struct buf f[2];
    buf_init(&f[0]);
    buf_init(&f[1]);
    ps->ntouched = 0;
    struct channel *chn = chan_find(&ps->channels, ch.p, ch.n);
    for (unsigned i = 0; chn != NULL && i < chn->n; i++) {
        struct conn *c = chn->subs[i];
        struct buf *b = &f[c->proto >= 3];
        if (b->len == 0) frame_build(b, c->proto, NULL, ch, msg);
        deliver(ps, c, b);
        count++;
    }
    for (unsigned i = 0; i < ps->npatterns; i++) {
        struct pattern_sub *p = &ps->patterns[i];
        if (!resp_glob_match((const char *)p->pat.p, p->pat.n, ch.p, ch.n)) continue;
        frame_build(&f[0], p->c->proto, &p->pat, ch, msg);
        deliver(ps, p->c, &f[0]);
        count++;
    }
    buf_close(&f[0]);
    buf_close(&f[1]);
    /* Now the registry may change: flush, and close the slow. */
    unsigned n = ps->ntouched;
    for (unsigned i = 0; i < n; i++) {
        struct conn *c = ps->touched[i];
        if (c->closing) continue;
        if (c->ps != NULL && c->ps->doomed) {
            log_warn("client %llu (%s): subscriber has %zu bytes unread, over --max-output: "
                     "closing it (like Redis's client-output-buffer-limit pubsub)",
                     (unsigned long long)c->id, c->peer, c->out_bytes + c->push_bytes);
            conn_close(c);
            continue;
        }
        conn_flush(c);
    }
    ps->ntouched = 0;
    return count;
}

bool pubsub_keyspace_wanted(const struct keel_server *srv)
{
    const struct pubsub *ps = srv->pubsub;
    return ps != NULL && (ps->key_channels > 0 || ps->npatterns > 0);
}

bool pubsub_wanted(const struct keel_server *srv, const char *channel)
{
    const struct pubsub *ps = srv->pubsub;
    return ps != NULL &&
           (ps->npatterns > 0 || chan_find(&ps->channels, (const uint8_t *)channel, strlen(channel)));
}

const struct chan_table *pubsub_channels(const struct keel_server *srv)
{
    return &srv->pubsub->channels;
}

/* Distinct patterns, as Redis counts them (an operator's command: the
 * quadratic walk is fine). */
unsigned pubsub_numpat(const struct keel_server *srv)
{
    const struct pubsub *ps = srv->pubsub;
    unsigned n = 0;
    for (unsigned i = 0; i < ps->npatterns; i++) {
        unsigned j = 0;
        while (j < i && (ps->patterns[j].pat.n != ps->patterns[i].pat.n ||
                         memcmp(ps->patterns[j].pat.p, ps->patterns[i].pat.p,
                                ps->patterns[i].pat.n) != 0))
            j++;
        n += j == i;
    }
    return n;
}
