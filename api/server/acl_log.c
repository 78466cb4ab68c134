/* api/server: ACL LOG, the denials this node saw (auth.h). Node-local
 * memory, as in Redis: each node logs what its own clients were refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/server/auth.h"
#include "api/server/commands/commands.h"

#define LOG_MAX 128            /* Redis's acllog-max-len default */
#define GROUP_MS 60000         /* Redis's ACL_LOG_GROUPING_MAX_TIME_DELTA */
#define GROUP_SCAN 10          /* entries looked at for grouping, newest first */

struct acllog_entry
{
    uint64_t count;
    const char *reason;
    const char *context;
    char *object;
    size_t object_n;
    char *user;
    size_t user_n;
    char client[256];
    uint64_t id;
    int64_t created_ms;
    int64_t updated_ms;
};

struct acllog
{
    struct acllog_entry *e[LOG_MAX]; /* newest first */
    size_t n;
    uint64_t next_id;
};

static void entry_free(struct acllog_entry *e)
{
    if (e == NULL) return;
    free(e->object);
    free(e->user);
    free(e);
}

static bool same(const char *a, size_t an, struct keel_slice b)
{
    return an == b.n && (an == 0 || memcmp(a, b.p, an) == 0);
}

static void client_info(struct slot *s, const struct keel_slice user, char *out, size_t size)
{
    struct conn *c = s->conn;
    if (c == NULL) {
        snprintf(out, size, "id=0 addr=- name= db=0 user=%.*s", (int)(user.n < 64 ? user.n : 64),
                 (const char *)user.p);
        return;
    }
    const char *name = c->user != NULL ? c->user->name : "default";
    snprintf(out, size, "id=%llu addr=%s name=%s db=%u resp=%d multi=%d cmd=%.*s user=%s",
             (unsigned long long)c->id, c->peer, c->name, (unsigned)c->db, c->proto, c->in_multi ? (int)c->nqueued : -1,
             (int)(s->argc > 0 && s->argv[0].n < 32 ? s->argv[0].n : 0),
             s->argc > 0 ? (const char *)s->argv[0].p : "", name);
}

static char *dup_slice(struct keel_slice x)
{
    char *p = malloc(x.n + 1);
    if (p == NULL) return NULL;
    if (x.n) memcpy(p, x.p, x.n);
    p[x.n] = 0;
    return p;
}

void acllog_add(struct slot *s, const char *reason, struct keel_slice object, struct keel_slice user)
{
    struct keel_server *srv = s->srv;
    if (srv->acl_log == NULL && (srv->acl_log = calloc(1, sizeof *srv->acl_log)) == NULL) return;
    struct acllog *log = srv->acl_log;
    const char *context = s->conn != NULL && s->conn->in_multi ? "multi" : "toplevel";
    int64_t now = srv_wall_ms();
    for (size_t i = 0; i < log->n && i < GROUP_SCAN; i++) {
        struct acllog_entry *e = log->e[i];
        if (e->reason == reason && e->context == context && same(e->object, e->object_n, object) &&
            same(e->user, e->user_n, user) && now - e->created_ms < GROUP_MS) {
            e->count++;
            e->updated_ms = now;
            client_info(s, user, e->client, sizeof e->client);
            memmove(log->e + 1, log->e, i * sizeof *log->e);
            log->e[0] = e;
            return;
        }
    }
    struct acllog_entry *e = calloc(1, sizeof *e);
    if (e == NULL) return;
    e->object = dup_slice(object);
    e->user = dup_slice(user);
    if (e->object == NULL || e->user == NULL) {
        entry_free(e);
        return;
    }
    e->object_n = object.n;
    e->user_n = user.n;
    e->count = 1;
    e->reason = reason;
    e->context = context;
    e->id = log->next_id++;
    e->created_ms = e->updated_ms = now;
    client_info(s, user, e->client, sizeof e->client);
    if (log->n == LOG_MAX) entry_free(log->e[--log->n]);
    memmove(log->e + 1, log->e, log->n * sizeof *log->e);
    log->e[0] = e;
    log->n++;
}

void acllog_free(struct keel_server *srv)
{
    struct acllog *log = srv->acl_log;
    if (log == NULL) return;
    for (size_t i = 0; i < log->n; i++) entry_free(log->e[i]);
    free(log);
    srv->acl_log = NULL;
}

/* A double as Redis writes one: RESP3 ",x", RESP2 a bulk string; the
 * shortest text that reads back the same. */
static void reply_double(struct buf *b, int proto, double v)
{
    char text[64];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(text, sizeof text, "%.*g", prec, v);
        if (strtod(text, NULL) == v) break;
    }
    if (proto >= 3) {
        buf_append(b, ",", 1);
        buf_append(b, text, strlen(text));
        buf_append(b, "\r\n", 2);
    } else {
        resp_bulk_str(b, text);
    }
}

void acllog_command(struct slot *s)
{
    struct acllog *log = s->srv->acl_log;
    long long count = 10;
    if (s->argc == 3 && slot_arg_is(s, 2, "RESET")) {
        acllog_free(s->srv);
        resp_ok(&s->out);
        return;
    }
    if (s->argc > 3) {
        srv_syntax_error(s);
        return;
    }
    if (s->argc == 3 && !srv_arg_int(s, 2, &count)) return;
    if (count < 0) count = 0;
    size_t n = log == NULL ? 0 : log->n < (size_t)count ? log->n : (size_t)count;
    int64_t now = srv_wall_ms();
    resp_array(&s->out, n);
    for (size_t i = 0; i < n; i++) {
        const struct acllog_entry *e = log->e[i];
        resp_map(&s->out, s->proto, 10);
        resp_bulk_str(&s->out, "count");
        resp_int(&s->out, (int64_t)e->count);
        resp_bulk_str(&s->out, "reason");
        resp_bulk_str(&s->out, e->reason);
        resp_bulk_str(&s->out, "context");
        resp_bulk_str(&s->out, e->context);
        resp_bulk_str(&s->out, "object");
        resp_bulk(&s->out, e->object, e->object_n);
        resp_bulk_str(&s->out, "username");
        resp_bulk(&s->out, e->user, e->user_n);
        resp_bulk_str(&s->out, "age-seconds");
        reply_double(&s->out, s->proto, (double)(now - e->created_ms) / 1000.0);
        resp_bulk_str(&s->out, "client-info");
        resp_bulk_str(&s->out, e->client);
        resp_bulk_str(&s->out, "entry-id");
        resp_int(&s->out, (int64_t)e->id);
        resp_bulk_str(&s->out, "timestamp-created");
        resp_int(&s->out, e->created_ms);
        resp_bulk_str(&s->out, "timestamp-last-updated");
        resp_int(&s->out, e->updated_ms);
    }
}
