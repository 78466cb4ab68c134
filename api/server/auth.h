/* api/server: who a client connection is (Redis 7.2's AUTH model over the
 * replicated users of store/acl.h).
 *
 * A connection starts as the user `default`, authenticated iff default is
 * on and nopass when it sends its first command (Redis decides at accept;
 * the difference is invisible to a client). AUTH / HELLO ... AUTH switch it
 * to another user. Until it is authenticated, only the commands Redis marks
 * no-auth (AUTH, HELLO, QUIT, RESET) run while default is off or has a
 * password: the rest get -NOAUTH.
 *
 * Trust: requests forwarded in from a member (KEEL.FWD, which carries the
 * cluster token) and the node's own requests (no connection) are not
 * checked here; the member that read them from its client checked them.
 * KEEL.FWD/KEEL.FWDSYNC themselves are authenticated by the token. */
#ifndef KEEL_API_SERVER_AUTH_H
#define KEEL_API_SERVER_AUTH_H

#include <stdbool.h>

#include "api/server/server_internal.h"

/* May s run on its connection as far as authentication goes? false after
 * writing -NOAUTH into s->out (the caller ends s). s->cmd is set. */
bool auth_gate(struct slot *s);
/* AUTH/HELLO: authenticate c as user with pass. true on success; else
 * -WRONGPASS is written into s->out, the failure counted and logged. */
bool auth_login(struct slot *s, struct keel_slice user, struct keel_slice pass);
/* AUTH's work on s->conn (not NULL), its reply written into s->out; the
 * caller ends the slot (cmd_auth) or takes the reply (EXEC, cmd_multi.c). */
void auth_run(struct slot *s);
/* Whether c is authenticated now (HELLO's check). */
bool auth_authenticated(struct conn *c);
/* The server's timer: when the users changed (here, or by a snapshot or
 * restore), close the connections whose user was removed or disabled. */
void auth_sweep(struct keel_server *srv);
/* RESET: back to default, authenticated iff default is on and nopass. */
void auth_conn_reset(struct conn *c);
/* The connection is being freed. */
void auth_conn_free(struct conn *c);
/* CONFIG SET requirepass <pw> on s: replicated as ACL SETUSER default
 * resetpass >pw (nopass for ""), proposed on the leader, forwarded from a
 * follower. Ends s. */
void auth_requirepass(struct slot *s, struct keel_slice pw);

/* auth_limit.c: connections per user (why and how: see there). */
/* At accept (c counted as default): false if c must be refused; may close
 * the oldest unauthenticated connection to make room. */
bool auth_limit_accept(struct conn *c);
/* May c become user (AUTH)? */
bool auth_limit_allows(struct conn *c, struct keel_slice user);
/* c leaves / joins the count of its user (c->user; NULL: default). */
void auth_limit_leave(struct conn *c);
void auth_limit_join(struct conn *c);
/* c is a member forwarding (its token was right): not counted, never timed
 * out or evicted. */
void auth_limit_member(struct conn *c);
/* Connections user holds here; user.p NULL: the default/unauthenticated ones. */
unsigned auth_limit_count(struct keel_server *srv, struct keel_slice user);
/* The server's timer: close connections not authenticated in time. */
void auth_limit_tick(struct keel_server *srv);
void auth_limit_free(struct keel_server *srv);

/* auth_check.c: may user u run cmd with these arguments? An enum
 * acl_verdict (ACL_OK, or what was denied; *arg is then the argument index
 * of the denied key or channel), or -1 when out of memory. */
struct acl_user;
int auth_check(const struct acl_user *u, const struct command *cmd, const struct keel_slice *argv,
               uint32_t argc, uint32_t *arg);

/* acl_log.c: ACL LOG, this node's recent denials (Redis 7.2's fields and
 * grouping: the same reason, context, object and user within 60 s count
 * as one entry; 128 entries kept). reason: "auth", "command", "key",
 * "channel". s gives the client and the context. */
void acllog_add(struct slot *s, const char *reason, struct keel_slice object, struct keel_slice user);
/* ACL LOG [count|RESET] into s->out. */
void acllog_command(struct slot *s);
void acllog_free(struct keel_server *srv);

#endif /* KEEL_API_SERVER_AUTH_H */
