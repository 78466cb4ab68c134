/* raft: the transport's drill switch (keel_transport_isolate, see
 * transport.h). Established connections belong to raft once handed over, so
 * they are found by address: every socket of this process whose local end
 * is our raft address (accepted) or whose remote end is a peer raft dialled.
 * shutdown(2), not close: raft still owns the fd, sees the stream end and
 * closes it itself. Client connections (other ports) are left alone. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "raft/transport_internal.h"

void kt_note_peer(struct ktrans *k, const struct sockaddr_in *sa)
{
    for (unsigned i = 0; i < k->npeers; i++)
        if (k->peers[i].sin_addr.s_addr == sa->sin_addr.s_addr && k->peers[i].sin_port == sa->sin_port) return;
    if (k->npeers < sizeof k->peers / sizeof k->peers[0]) k->peers[k->npeers++] = *sa;
}

static bool same(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
    return a->sin_family == AF_INET && a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

/* Is fd a raft connection of ours (never the listener)? */
static bool is_raft_connection(const struct ktrans *k, int fd, const struct sockaddr_in *self)
{
    struct stat st;
    struct sockaddr_in local, remote;
    socklen_t len = sizeof local;
    int listening = 0;
    socklen_t ilen = sizeof listening;
    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ilen) != 0 || listening) return false;
    if (getsockname(fd, (struct sockaddr *)&local, &len) == 0 && same(&local, self)) return true;
    len = sizeof remote;
    if (getpeername(fd, (struct sockaddr *)&remote, &len) != 0) return false;
    for (unsigned i = 0; i < k->npeers; i++)
        if (same(&remote, &k->peers[i])) return true;
    return false;
}

void keel_transport_isolate(struct raft_uv_transport *t, unsigned ms)
{
    struct ktrans *k = t->impl;
    struct sockaddr_in self;
    char ip[64];
    unsigned port;
    k->isolated_until = uv_now(k->loop) + ms;
    if (sscanf(k->address, "%63[^:]:%u", ip, &port) != 2 || uv_ip4_addr(ip, (int)port, &self) != 0) return;
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL) return;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end != 0 || fd == dirfd(d)) continue;
        if (is_raft_connection(k, (int)fd, &self)) shutdown((int)fd, SHUT_RDWR);
    }
    closedir(d);
}
