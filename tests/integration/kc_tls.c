/* tests/integration: TLS and HTTP helpers (kc_tls.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kc_tls.h"

const char *kc_make_certs(void)
{
    const char *p = getenv("KEEL_MAKE_CERTS");
    return p ? p : KEEL_MAKE_CERTS_DEFAULT;
}

void kc_certs(const char *dir, const char *ids)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' '%s' %s >/dev/null", kc_make_certs(), dir, ids);
    if (system(cmd) != 0) fail_msg("%s failed", cmd);
}

const char *kc_redis_cli(void)
{
    const char *p = getenv("REDIS_CLI");
    return p ? p : "redis-cli";
}

int kc_sh(unsigned timeout_s, char *out, size_t size, const char *fmt, ...)
{
    char cmd[4096], full[8400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    /* The whole command, pipes included, under one timeout: sh -c with the
     * command single-quoted (each ' inside written as '\''). */
    size_t n = (size_t)snprintf(full, sizeof full, "timeout %u sh -c '", timeout_s);
    for (const char *c = cmd; *c && n + 8 < sizeof full; c++) {
        if (*c == '\'') n += (size_t)snprintf(full + n, sizeof full - n, "'\\''");
        else full[n++] = *c;
    }
    snprintf(full + n, sizeof full - n, "' 2>&1");
    FILE *p = popen(full, "r");
    assert_non_null(p);
    n = fread(out, 1, size - 1, p);
    out[n] = 0;
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r')) out[--n] = 0;
    int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

int kc_tcp_connect(unsigned port, unsigned timeout_s)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {(time_t)timeout_s, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

long kc_metric(unsigned http_port, const char *sample)
{
    static char body[1 << 20];
    char want[256];
    static const char req[] = "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n";
    int fd = kc_tcp_connect(http_port, 10);
    if (fd < 0) return -1;
    size_t got = 0;
    ssize_t r;
    if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof req - 1))
        while (got < sizeof body - 1 && (r = recv(fd, body + got, sizeof body - 1 - got, 0)) > 0) got += (size_t)r;
    close(fd);
    body[got] = 0;
    snprintf(want, sizeof want, "\n%s ", sample);
    const char *p = strstr(body, want);
    return p ? strtol(p + strlen(want), NULL, 10) : -1;
}
