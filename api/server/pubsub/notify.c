/* api: keyspace notifications and __keel__:events. See notify.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/server/block.h"
#include "api/server/log.h"
#include "api/server/pubsub/notify.h"
#include "api/server/pubsub/pubsub.h"

#define KEEL_EVENTS "__keel__:events"

/* Redis's letters in the order keyspaceEventsFlagsToString writes them:
 * the classes (those of A first), then K, E and m. */
static const struct
{
    char letter;
    unsigned flag;
} letters[] = {
    {'g', NOTIFY_GENERIC}, {'$', NOTIFY_STRING}, {'l', NOTIFY_LIST},     {'s', NOTIFY_SET},
    {'h', NOTIFY_HASH},    {'z', NOTIFY_ZSET},   {'x', NOTIFY_EXPIRED},  {'e', NOTIFY_EVICTED},
    {'t', NOTIFY_STREAM},  {'d', NOTIFY_MODULE}, {'n', NOTIFY_NEW},      {'K', NOTIFY_KEYSPACE},
    {'E', NOTIFY_KEYEVENT}, {'m', NOTIFY_KEY_MISS},
};
#define N_LETTERS (sizeof letters / sizeof letters[0])
/* Every class letter: what the store's events may belong to. */
#define NOTIFY_CLASSES (NOTIFY_ALL | NOTIFY_NEW | NOTIFY_KEY_MISS)

static unsigned letter_flag(char c)
{
    for (size_t i = 0; i < N_LETTERS; i++) {
        if (letters[i].letter == c) return letters[i].flag;
    }
    return 0;
}

int notify_parse_flags(const char *s, unsigned *flags)
{
    unsigned f = 0;
    for (; *s; s++) {
        unsigned one = *s == 'A' ? NOTIFY_ALL : letter_flag(*s);
        if (one == 0) return -1;
        f |= one;
    }
    *flags = f;
    return 0;
}

void notify_flags_string(unsigned flags, char *buf, size_t size)
{
    size_t n = 0;
    if (size == 0) return;
    bool all = (flags & NOTIFY_ALL) == NOTIFY_ALL;
    if (all && n + 1 < size) buf[n++] = 'A';
    for (size_t i = 0; i < N_LETTERS && n + 1 < size; i++) {
        /* Under A, Redis writes none of the classes, n included. */
        bool cls = letters[i].flag & (NOTIFY_ALL | NOTIFY_NEW);
        if (all && cls) continue;
        if (flags & letters[i].flag) buf[n++] = letters[i].letter;
    }
    buf[n] = 0;
}

/* The store records events only when a notification could come of them,
 * or a blocked client waits for a key (block.c). */
static void subscriptions_changed(struct keel_server *srv)
{
    unsigned f = srv->notify_flags;
    bool on = (f & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT)) && (f & NOTIFY_CLASSES) &&
              pubsub_keyspace_wanted(srv);
    keel_store_record_events(srv->store, on || block_wanted(srv));
}

void notify_recording_changed(struct keel_server *srv)
{
    subscriptions_changed(srv);
}

static void subscriptions_changed_cb(void *data)
{
    subscriptions_changed(data);
}

void notify_set_flags(struct keel_server *srv, unsigned flags)
{
    srv->notify_flags = flags;
    subscriptions_changed(srv);
}

void notify_set_index(struct keel_server *srv, bool on)
{
    srv->notify_index = on;
}

static void publish_buf(struct keel_server *srv, const char *ch, size_t chn, const char *msg,
                        size_t msgn)
{
    pubsub_publish(srv, (struct keel_slice){(const uint8_t *)ch, chn},
                   (struct keel_slice){(const uint8_t *)msg, msgn});
}

/* After each applied entry: its events, as Redis would publish them (with
 * "#<index>" after each payload under notify-keyspace-index). */
static void apply_cb(void *data, const struct keel_events *ev)
{
    struct keel_server *srv = data;
    unsigned f = srv->notify_flags;
    if (ev->n > 0) block_on_apply(srv, ev);
    if (ev->n == 0 || !(f & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT)) || !pubsub_keyspace_wanted(srv))
        return;
    if (ev->truncated) log_warn("keyspace notifications of entry %llu: out of memory, some lost",
                                (unsigned long long)ev->index);
    /* Keys reach 64 KiB: the channel and message buffers live on the heap. */
    size_t chsize = KEEL_MAX_KEY + 64;
    char idx[24], *ch = malloc(2 * chsize), *msg;
    if (ch == NULL) {
        log_warn("keyspace notifications of entry %llu: out of memory, lost",
                 (unsigned long long)ev->index);
        return;
    }
    msg = ch + chsize;
    int idxn = srv->notify_index ? snprintf(idx, sizeof idx, "#%llu", (unsigned long long)ev->index) : 0;
    for (uint32_t i = 0; i < ev->n; i++) {
        const struct keel_event *e = &ev->ev[i];
        const char *name = keel_event_name(e->type);
        size_t namen = strlen(name);
        if (!(f & letter_flag(keel_event_class(e->type)))) continue;
        /* The node table and the token are Keel's business, not the
         * keyspace's; and an oversized key cannot come from a client. */
        /* A database's key is named by its database and its client name
         * (storage.h's KEEL_DB_PREFIX). */
        struct keel_slice key;
        int db = storage_key_db(e->key, &key);
        if (db < 0 || key.n > KEEL_MAX_KEY) continue;
        if (f & NOTIFY_KEYSPACE) {
            int n = snprintf(ch, chsize, "__keyspace@%d__:", db);
            memcpy(ch + n, key.p, key.n);
            memcpy(msg, name, namen);
            memcpy(msg + namen, idx, (size_t)idxn);
            publish_buf(srv, ch, (size_t)n + key.n, msg, namen + (size_t)idxn);
        }
        if (f & NOTIFY_KEYEVENT) {
            int n = snprintf(ch, chsize, "__keyevent@%d__:%s", db, name);
            memcpy(msg, key.p, key.n);
            memcpy(msg + key.n, idx, (size_t)idxn);
            publish_buf(srv, ch, (size_t)n, msg, key.n + (size_t)idxn);
        }
    }
    free(ch);
}

void notify_keel_event(struct keel_server *srv, const char *json)
{
    if (srv->pubsub == NULL || !pubsub_wanted(srv, KEEL_EVENTS)) return;
    struct keel_node_status st;
    keel_node_status(srv->node, &st);
    const char *body = json + strspn(json, " \t\r\n");
    if (*body != '{') {
        log_warn("__keel__:events: not a JSON object, dropped: %.80s", json);
        return;
    }
    body++;
    body += strspn(body, " \t\r\n");
    size_t len = strlen(body) + 64;
    char *msg = malloc(len);
    if (msg == NULL) return;
    int n = snprintf(msg, len, "{\"node\":%llu,\"index\":%llu%s%s", (unsigned long long)st.id,
                     (unsigned long long)st.applied_index, *body == '}' ? "" : ",", body);
    publish_buf(srv, KEEL_EVENTS, strlen(KEEL_EVENTS), msg, (size_t)n);
    free(msg);
}

static const char *member_role(char r)
{
    return r == 'v' ? "voter" : r == 's' ? "standby" : "spare";
}

/* The node saw another leader or membership: say so on __keel__:events. */
static void cluster_cb(void *data, unsigned what)
{
    struct keel_server *srv = data;
    if (!pubsub_wanted(srv, KEEL_EVENTS)) return;
    struct keel_node_status st;
    keel_node_status(srv->node, &st);
    char json[2048];
    if (what & KEEL_CLUSTER_LEADER) {
        /* Addresses are IPv4:PORT literals (keel_parse_peers, raft 0.15):
         * nothing in them needs JSON escaping. */
        snprintf(json, sizeof json, "{\"event\":\"leader\",\"leader\":%llu,\"term\":%llu,\"address\":\"%s\"}",
                 (unsigned long long)st.leader_id, (unsigned long long)st.term, st.leader_address);
        notify_keel_event(srv, json);
    }
    if (what & KEEL_CLUSTER_MEMBERS) {
        size_t n = (size_t)snprintf(json, sizeof json, "{\"event\":\"members\",\"members\":[");
        for (unsigned i = 0; i < st.members && n < sizeof json; i++) {
            n += (size_t)snprintf(json + n, sizeof json - n,
                                  "%s{\"id\":%llu,\"role\":\"%s\",\"address\":\"%s\"}", i ? "," : "",
                                  (unsigned long long)st.member_ids[i],
                                  member_role(st.member_roles[i]), st.member_addrs[i]);
        }
        if (n < sizeof json) snprintf(json + n, sizeof json - n, "]}");
        notify_keel_event(srv, json);
    }
}

void notify_start(struct keel_server *srv)
{
    keel_node_on_apply(srv->node, apply_cb, srv);
    keel_node_on_cluster(srv->node, cluster_cb, srv);
    pubsub_on_change(srv->pubsub, subscriptions_changed_cb, srv);
    subscriptions_changed(srv);
}

void notify_stop(struct keel_server *srv)
{
    keel_node_on_apply(srv->node, NULL, NULL);
    keel_node_on_cluster(srv->node, NULL, NULL);
    pubsub_on_change(srv->pubsub, NULL, NULL);
    keel_store_record_events(srv->store, false);
}
