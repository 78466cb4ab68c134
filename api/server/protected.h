/* api: protected mode (Redis's protected-mode, docs/security.md), the
 * decisions only, so that they can be tested without a network.
 *
 * At run time (auth.c): with --protected-mode yes (the default) and the
 * `default` user open (on, nopass), a client whose peer address is not
 * loopback gets -DENIED to its first command and is closed. Exempt: a TLS
 * client that presented a certificate the CA verified (it proved who it is,
 * which the open default user does not ask), and the members' own requests
 * (KEEL.FWD and the other token commands, authenticated by the cluster
 * token). Redis decides at accept; deciding at the first command is what
 * lets the token commands through, and a client sees the same error.
 *
 * At start (keeld.c, before any file is touched), unless --insecure:
 *  - --raft-addr on an address outside 127.0.0.0/8 needs --tls-cluster yes
 *    (nothing else protects the raft port: libraft trusts what it reads);
 *  - a client port (plaintext, or TLS not asking for client certificates)
 *    on an address outside 127.0.0.0/8 needs --protected-mode yes: then
 *    clients from other hosts are refused until default has a password. */
#ifndef KEEL_API_PROTECTED_H
#define KEEL_API_PROTECTED_H

#include <stdbool.h>
#include <stddef.h>

struct sockaddr;

#define PROTECTED_DENIED                                                                                         \
    "Keel is running in protected mode because the default user has no password: only clients on the "      \
    "loopback interface are accepted. Give default a password from loopback (CONFIG SET requirepass, or ACL "    \
    "SETUSER default off after adding a user), connect over TLS with a client certificate, or (only on a "    \
    "network you trust) restart keeld with --protected-mode no"

/* 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. NULL (no address): false. */
bool protected_is_loopback(const struct sockaddr *peer);

/* Must a client from peer be refused? */
bool protected_refuses(bool protected_mode, bool default_open, bool verified_cert, const struct sockaddr *peer);

/* The start-up rules above on keeld's option values (hosts as "IPv4:PORT";
 * a client_addr port of 0: no plaintext port). 0, or -1 with a one-line
 * reason naming the option to change. */
struct protected_binds
{
    const char *raft_addr;
    bool tls_cluster;
    const char *client_addr;
    unsigned tls_port;
    bool tls_auth_clients_yes;
    bool protected_mode;
};
int protected_check_binds(const struct protected_binds *b, char *err, size_t size);

#endif /* KEEL_API_PROTECTED_H */
