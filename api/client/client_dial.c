/* libkeel: one connection to one node, ready for commands: TCP within a
 * deadline, TLS if the options ask (client_tls.c), then AUTH if they carry
 * a password. The sync client dials through here (every connection it
 * opens, failover and leader-following included, so none sends a command
 * unauthenticated), and so does keel_connect_fd for tools that speak RESP
 * themselves. The password goes into the AUTH command's buffer only, which
 * is wiped after it is sent; it is never in an error message. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/client/client_internal.h"

static int tcp_connect(const char *host, int port, int64_t deadline, int *out, char *why, size_t size)
{
    char service[8];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int gai = getaddrinfo(host, service, &hints, &res);
    if (gai != 0) return snprintf(why, size, "%s", gai_strerror(gai)), KEEL_EIO;
    int fd = -1, rc = KEEL_EIO;
    snprintf(why, size, "no address");
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
            snprintf(why, size, "%s", strerror(errno));
            close(fd), fd = -1;
            continue;
        }
        int64_t ms = deadline - client_now_ms();
        struct pollfd p = {fd, POLLOUT, 0};
        int err = 0;
        socklen_t len = sizeof err;
        if (ms <= 0 || poll(&p, 1, (int)ms) != 1) snprintf(why, size, "timed out");
        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
            snprintf(why, size, "%s", strerror(err ? err : errno));
        else continue; /* connected: the loop ends on fd >= 0 */
        close(fd), fd = -1;
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        *out = fd;
        rc = 0;
    }
    return rc;
}

/* Send all of buf, then read one reply, before deadline (fd non-blocking). */
static int roundtrip(int fd, const char *buf, size_t len, int64_t deadline, redisReply **out, char *why, size_t size)
{
    *out = NULL;
    for (size_t off = 0; off < len;) {
        ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
        if (n > 0) off += (size_t)n;
        else if (n < 0 && errno != EAGAIN && errno != EINTR) return snprintf(why, size, "%s", strerror(errno)), KEEL_EIO;
        else {
            int64_t ms = deadline - client_now_ms();
            struct pollfd p = {fd, POLLOUT, 0};
            if (ms <= 0 || poll(&p, 1, (int)ms) != 1) return snprintf(why, size, "timed out"), KEEL_EIO;
        }
    }
    redisReader *rd = redisReaderCreate();
    if (rd == NULL) return snprintf(why, size, "out of memory"), KEEL_ENOMEM;
    int rc = KEEL_EIO;
    for (;;) {
        void *r = NULL;
        if (redisReaderGetReply(rd, &r) != REDIS_OK) {
            snprintf(why, size, "protocol error");
            break;
        }
        if (r != NULL) {
            *out = r;
            rc = 0;
            break;
        }
        char in[512];
        ssize_t n = recv(fd, in, sizeof in, 0);
        if (n > 0) {
            redisReaderFeed(rd, in, (size_t)n);
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            snprintf(why, size, "%s", n == 0 ? "connection closed" : strerror(errno));
            break;
        }
        int64_t ms = deadline - client_now_ms();
        struct pollfd p = {fd, POLLIN, 0};
        if (ms <= 0 || poll(&p, 1, (int)ms) != 1) {
            snprintf(why, size, "timed out");
            break;
        }
    }
    redisReaderFree(rd);
    return rc;
}

static int auth(int fd, const char *user, const char *password, int64_t deadline, char *why, size_t size)
{
    const char *argv[3] = {"AUTH"};
    size_t lens[3] = {4};
    int argc = 1;
    if (user) argv[argc] = user, lens[argc++] = strlen(user);
    argv[argc] = password, lens[argc++] = strlen(password);
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, argc, argv, lens);
    if (len < 0) return snprintf(why, size, "out of memory"), KEEL_ENOMEM;
    redisReply *r = NULL;
    int rc = roundtrip(fd, cmd, (size_t)len, deadline, &r, why, size);
    explicit_bzero(cmd, (size_t)len);
    redisFreeCommand(cmd);
    if (rc != 0) return rc;
    if (r->type == REDIS_REPLY_ERROR) {
        /* The server's words name the user at most, never the password. */
        snprintf(why, size, "AUTH as '%.40s' refused: %.120s", user ? user : "default", r->str);
        rc = KEEL_EAUTH;
    }
    freeReplyObject(r);
    return rc;
}

int client_dial_fd(const struct client_base *b, const char *host, int port, int64_t deadline, int *out, char *why,
                   size_t size)
{
    int fd = -1;
    int rc = tcp_connect(host, port, deadline, &fd, why, size);
    if (rc != 0) return rc;
    if (b->tls != NULL) {
        int app = -1;
        rc = client_tls_wrap(b->tls, b->o.tls_server_name, fd, deadline, &app, why, size);
        if (rc != 0) {
            close(fd);
            return rc;
        }
        fd = app; /* plain RESP from here on; the bridge owns the TCP socket */
    }
    if (b->o.password != NULL && (rc = auth(fd, b->o.user, b->o.password, deadline, why, size)) != 0) {
        close(fd);
        return rc;
    }
    /* Callers (hiredis) expect a blocking socket and set their own timeouts. */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    *out = fd;
    return 0;
}

int keel_connect_fd(const char *addr, const struct keel_client_options *o, unsigned timeout_ms, int *fd,
                    char *errmsg, size_t size)
{
    struct keel_client_options opts = o ? *o : (struct keel_client_options){0};
    opts.endpoints = addr;
    struct client_base b;
    int rc = client_base_init(&b, &opts, errmsg, size);
    if (rc != 0) return rc;
    char why[256];
    rc = client_dial_fd(&b, b.ep[0].host, b.ep[0].port, client_now_ms() + (timeout_ms ? timeout_ms : 1000), fd,
                        why, sizeof why);
    if (rc != 0) snprintf(errmsg, size, "%s: %s", b.ep[0].text, why);
    client_base_free(&b);
    return rc;
}
