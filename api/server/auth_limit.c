/* api/server: how many connections each user may hold (auth.h).
 *
 * --max-clients bounds the node; alone it lets one user (or anyone who can
 * reach the port) take every slot and lock the others out. So:
 *  - each user may hold at most --max-clients-per-user connections: an AUTH
 *    that would pass it is refused ("-ERR max number of clients reached for
 *    user ..."), and the connection stays what it was;
 *  - connections that have not authenticated (c->user NULL: `default`)
 *    count as one user. While `default` is open they are authenticated and
 *    are refused at accept past the limit, like any user. While it is
 *    closed they can do nothing but AUTH, so they are bounded in time
 *    (--auth-timeout) and, past the limit, the oldest unauthenticated one
 *    is closed to make room: a flood of idle connections then costs each
 *    real client only the race of sending AUTH before the limit's worth of
 *    newer connections arrive, instead of the port.
 * Connections a member opened to forward (KEEL.FWD's token, c->member)
 * leave the count once their token is seen, and are never timed out or
 * evicted. */
#include <stdlib.h>
#include <string.h>

#include "api/server/auth.h"
#include "api/server/log.h"
#include "store/acl.h"

struct auth_limits
{
    struct user_conns
    {
        char *name;
        size_t name_n;
        unsigned count;
    } *v;
    size_t n, cap;
    unsigned anon; /* c->user NULL or `default` */
};

static unsigned limit_of(const struct keel_server *srv)
{
    return srv->cfg.max_clients_per_user != 0 ? srv->cfg.max_clients_per_user : srv->cfg.max_clients;
}

static struct auth_limits *limits(struct keel_server *srv)
{
    if (srv->auth_limits == NULL) srv->auth_limits = calloc(1, sizeof *srv->auth_limits);
    return srv->auth_limits;
}

/* The entry of user name; created if add (NULL if out of memory). */
static struct user_conns *find(struct auth_limits *l, const char *name, size_t n, bool add)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].name_n == n && memcmp(l->v[i].name, name, n) == 0) return &l->v[i];
    if (!add) return NULL;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        struct user_conns *v = realloc(l->v, cap * sizeof *v);
        if (v == NULL) return NULL;
        l->v = v;
        l->cap = cap;
    }
    char *copy = malloc(n + 1);
    if (copy == NULL) return NULL;
    memcpy(copy, name, n);
    copy[n] = 0;
    l->v[l->n] = (struct user_conns){copy, n, 0};
    return &l->v[l->n++];
}

/* `default` by name (AUTH default pw) and unauthenticated connections are
 * one user: one count. */
static bool is_default(const void *name, size_t n)
{
    return name == NULL || (n == 7 && memcmp(name, "default", 7) == 0);
}

unsigned auth_limit_count(struct keel_server *srv, struct keel_slice user)
{
    struct auth_limits *l = limits(srv);
    if (l == NULL) return 0;
    if (is_default(user.p, user.n)) return l->anon;
    struct user_conns *u = find(l, (const char *)user.p, user.n, false);
    return u != NULL ? u->count : 0;
}

/* c leaves its user's count (before c->user changes or c goes). */
void auth_limit_leave(struct conn *c)
{
    struct auth_limits *l = limits(c->srv);
    if (l == NULL || !c->counted) return;
    c->counted = false;
    if (c->user == NULL || is_default(c->user->name, c->user->name_n)) {
        l->anon--;
        return;
    }
    struct user_conns *u = find(l, c->user->name, c->user->name_n, false);
    if (u == NULL || u->count == 0) return;
    if (--u->count == 0) { /* forget users with no connections: the table stays small */
        free(u->name);
        *u = l->v[--l->n];
    }
}

/* c joins its (new) user's count. Out of memory: c is not counted. */
void auth_limit_join(struct conn *c)
{
    struct auth_limits *l = limits(c->srv);
    if (l == NULL || c->counted || c->member) return;
    if (c->user == NULL || is_default(c->user->name, c->user->name_n)) {
        l->anon++;
    } else {
        struct user_conns *u = find(l, c->user->name, c->user->name_n, true);
        if (u == NULL) return;
        u->count++;
    }
    c->counted = true;
}

void auth_limit_member(struct conn *c)
{
    if (c->member) return;
    c->member = true;
    auth_limit_leave(c);
}

bool auth_limit_allows(struct conn *c, struct keel_slice user)
{
    struct keel_server *srv = c->srv;
    bool same = c->counted && (c->user != NULL ? c->user->name_n == user.n && memcmp(c->user->name, user.p, user.n) == 0
                                               : is_default(user.p, user.n));
    if (same) return true;
    return auth_limit_count(srv, user) < limit_of(srv);
}

/* The oldest connection that has not authenticated (the list is newest
 * first), other than c; NULL if none. */
static struct conn *oldest_unauthenticated(struct keel_server *srv, struct conn *c)
{
    struct conn *found = NULL;
    for (struct conn *o = srv->conns; o != NULL; o = o->next)
        if (o != c && !o->closing && o->user == NULL && !o->member && !auth_authenticated(o)) found = o;
    return found;
}

bool auth_limit_accept(struct conn *c)
{
    struct keel_server *srv = c->srv;
    auth_limit_join(c);
    struct auth_limits *l = limits(srv);
    if (l == NULL || l->anon <= limit_of(srv)) return true;
    if (auth_authenticated(c)) { /* the door is open: c is default, over its limit */
        srv->stats.rejected_user_limit++;
        return false;
    }
    struct conn *old = oldest_unauthenticated(srv, c);
    if (old == NULL) {
        srv->stats.rejected_user_limit++;
        return false;
    }
    srv->stats.evicted_unauthenticated++;
    log_debug("client %llu (%s): unauthenticated, the oldest of %u: closing to make room",
              (unsigned long long)old->id, old->peer, l->anon);
    auth_limit_leave(old); /* it no longer holds a place, though it closes later */
    conn_close(old);
    return true;
}

void auth_limit_tick(struct keel_server *srv)
{
    if (srv->cfg.auth_timeout_s == 0) return;
    uint64_t now = uv_now(srv->loop);
    for (struct conn *c = srv->conns; c != NULL;) {
        struct conn *next = c->next;
        if (!c->closing && c->user == NULL && !c->member && now - c->accepted_at > srv->cfg.auth_timeout_s * 1000ull &&
            !auth_authenticated(c)) {
            srv->stats.auth_timeouts++;
            log_debug("client %llu (%s): not authenticated after %us: closing", (unsigned long long)c->id, c->peer,
                      srv->cfg.auth_timeout_s);
            conn_close(c);
        }
        c = next;
    }
}

void auth_limit_free(struct keel_server *srv)
{
    struct auth_limits *l = srv->auth_limits;
    if (l == NULL) return;
    for (size_t i = 0; i < l->n; i++) free(l->v[i].name);
    free(l->v);
    free(l);
    srv->auth_limits = NULL;
}
