/* api: protected mode's decisions (see protected.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "api/server/protected.h"

bool protected_is_loopback(const struct sockaddr *peer)
{
    if (peer == NULL) return false;
    if (peer->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)peer;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (peer->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)peer)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a)) return true;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return false;
}

bool protected_refuses(bool protected_mode, bool default_open, bool verified_cert, const struct sockaddr *peer)
{
    return protected_mode && default_open && !verified_cert && !protected_is_loopback(peer);
}

/* The host of "IPv4:PORT" as an address; false if it is not one. */
static bool host_of(const char *addr, struct sockaddr_in *out, unsigned *port)
{
    char host[64];
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || (size_t)(colon - addr) >= sizeof host) return false;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = 0;
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    *port = 0;
    sscanf(colon + 1, "%u", port);
    return inet_pton(AF_INET, host, &out->sin_addr) == 1;
}

int protected_check_binds(const struct protected_binds *b, char *err, size_t size)
{
    struct sockaddr_in a;
    unsigned port;
    if (host_of(b->raft_addr, &a, &port) && !protected_is_loopback((struct sockaddr *)&a) && !b->tls_cluster) {
        snprintf(err, size,
                 "--raft-addr %s is not a loopback address and --tls-cluster is no: anyone who reaches it can "
                 "rewrite the cluster; turn on --tls-cluster yes (docs/security.md) or, on a network you trust, "
                 "pass --insecure", b->raft_addr);
        return -1;
    }
    if (b->protected_mode || !host_of(b->client_addr, &a, &port) || protected_is_loopback((struct sockaddr *)&a))
        return 0;
    if (port != 0) {
        snprintf(err, size,
                 "--client-addr %s is not a loopback address and --protected-mode is no: while the default user "
                 "has no password anyone who reaches it may do anything; keep --protected-mode yes, serve clients "
                 "on --tls-port with --tls-auth-clients yes and --client-addr HOST:0, or pass --insecure",
                 b->client_addr);
        return -1;
    }
    if (b->tls_port != 0 && !b->tls_auth_clients_yes) {
        snprintf(err, size,
                 "--tls-port %u on %s asks no client certificate (--tls-auth-clients is not yes) and "
                 "--protected-mode is no: keep --protected-mode yes, set --tls-auth-clients yes, or pass --insecure",
                 b->tls_port, b->client_addr);
        return -1;
    }
    return 0;
}
