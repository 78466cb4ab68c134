/* jepsen: processes inside the test hosts (see net.h): a command run to
 * completion for its output (jnet_run: ip, nft, ss), a long-lived process
 * (jnet_spawn: keeld) and a forked helper (jnet_fork). Each forks, enters
 * the node's network namespace with setns(2) in the child, and execs (or
 * returns, for jnet_fork); a status pipe tells the parent whether that
 * worked. Children are recorded for teardown (net_track). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jepsen/net/net_internal.h"

/* exec argv[0] from PATH, else from /usr/sbin or /sbin (ctest may run
 * with a PATH that lacks them). alt holds the two fallbacks, made before
 * fork. */
static void exec_cmd(char *const argv[], char alt[2][128])
{
    execvp(argv[0], argv);
    if (strchr(argv[0], '/') == NULL) {
        execv(alt[0], argv);
        execv(alt[1], argv);
    }
}

static void make_alt(const char *name, char alt[2][128])
{
    snprintf(alt[0], 128, "/usr/sbin/%s", name);
    snprintf(alt[1], 128, "/sbin/%s", name);
}

static int open_ns(const struct jnet *net, int i)
{
    if (net->kind != JNET_NETNS || i < 0) return -2; /* no namespace to enter */
    char path[96];
    snprintf(path, sizeof path, NETNS_DIR "/%s", net->ns[i]);
    return open(path, O_RDONLY | O_CLOEXEC);
}

int jnet_run(const struct jnet *net, int i, char *const argv[], const char *input, char *errmsg,
             size_t size)
{
    size_t inlen = input ? strlen(input) : 0;
    if (argv == NULL || argv[0] == NULL || inlen > (60u << 10) || (i >= 0 && (unsigned)i >= net->n))
        return snprintf(errmsg, size, "jnet_run: invalid argument"), JNET_EINVAL;
    char alt[2][128];
    make_alt(argv[0], alt);
    int nsfd = open_ns(net, i);
    if (nsfd == -1) return snprintf(errmsg, size, "open namespace %s: %s", net->ns[i], strerror(errno)), JNET_ESYS;
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
        snprintf(errmsg, size, "pipe: %s", strerror(errno));
        for (int k = 0; k < 2; k++) {
            if (in[k] >= 0) close(in[k]);
            if (out[k] >= 0) close(out[k]);
        }
        if (nsfd >= 0) close(nsfd);
        return JNET_ESYS;
    }
    pid_t pid = fork();
    if (pid == 0) {
        if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET) != 0) _exit(126);
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(out[1], 2);
        exec_cmd(argv, alt);
        dprintf(2, "cannot run %s: %s", argv[0], strerror(errno));
        _exit(127);
    }
    int saved = errno;
    close(in[0]);
    close(out[1]);
    if (nsfd >= 0) close(nsfd);
    if (pid < 0) {
        close(in[1]);
        close(out[0]);
        return snprintf(errmsg, size, "fork: %s", strerror(saved)), JNET_ESYS;
    }
    /* At most 60 KiB: it fits in the pipe, so this never blocks. */
    if (inlen > 0 && write(in[1], input, inlen) != (ssize_t)inlen) { /* the exit status tells */
    }
    close(in[1]);
    char text[1024];
    size_t got = 0;
    for (;;) {
        char tmp[512];
        ssize_t n = read(out[0], tmp, sizeof tmp);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        size_t take = (size_t)n < sizeof text - 1 - got ? (size_t)n : sizeof text - 1 - got;
        memcpy(text + got, tmp, take);
        got += take;
    }
    close(out[0]);
    text[got] = 0;
    while (got > 0 && (text[got - 1] == '\n' || text[got - 1] == ' ')) text[--got] = 0;
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return JNET_OK;
    size_t off = 0;
    for (unsigned k = 0; argv[k] && off < size; k++)
        off += (size_t)snprintf(errmsg + off, size - off, "%s%s", k ? " " : "", argv[k]);
    if (i >= 0 && net->kind == JNET_NETNS && off < size)
        off += (size_t)snprintf(errmsg + off, size - off, " (in %s)", net->ns[i]);
    if (off < size) {
        if (WIFEXITED(st) && WEXITSTATUS(st) == 126)
            snprintf(errmsg + off, size - off, ": cannot enter the namespace");
        else if (WIFEXITED(st)) snprintf(errmsg + off, size - off, ": exit %d: %s", WEXITSTATUS(st), text);
        else snprintf(errmsg + off, size - off, ": killed by signal %d", WTERMSIG(st));
    }
    return JNET_ECMD;
}

/* fork into node i; status is a close-on-exec pipe: the child writes to
 * status[1] why it could not enter the namespace or exec. */
static pid_t fork_into(struct jnet *net, unsigned i, int status[2])
{
    int nsfd = open_ns(net, (int)i);
    if (nsfd == -1) return -1;
    if (pipe2(status, O_CLOEXEC) != 0) {
        if (nsfd >= 0) close(nsfd);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(status[0]);
        if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET) != 0) {
            int e = errno;
            ssize_t w = write(status[1], &e, sizeof e);
            (void)w;
            _exit(126);
        }
        if (nsfd >= 0) close(nsfd);
        return 0;
    }
    int saved = errno;
    if (nsfd >= 0) close(nsfd);
    close(status[1]);
    if (pid < 0) {
        close(status[0]);
        errno = saved;
    }
    return pid;
}

/* The parent's half: 0 bytes on the status pipe mean the child got past
 * the point that can fail (setns; exec for spawn). */
static pid_t fork_result(struct jnet *net, pid_t pid, int fd)
{
    int e = 0;
    ssize_t n;
    while ((n = read(fd, &e, sizeof e)) < 0 && errno == EINTR) {
    }
    close(fd);
    if (n == (ssize_t)sizeof e) {
        waitpid(pid, NULL, 0);
        errno = e;
        return -1;
    }
    net_track(net, pid);
    return pid;
}

pid_t jnet_fork(struct jnet *net, unsigned i)
{
    int status[2];
    if (i >= net->n) return errno = EINVAL, -1;
    pid_t pid = fork_into(net, i, status);
    if (pid == 0) {
        close(status[1]); /* nothing to report: the caller's code runs now */
        return 0;
    }
    return pid < 0 ? -1 : fork_result(net, pid, status[0]);
}

pid_t jnet_spawn(struct jnet *net, unsigned i, char *const argv[], const char *log_path)
{
    int status[2];
    if (i >= net->n || argv == NULL || argv[0] == NULL) return errno = EINVAL, -1;
    char alt[2][128];
    make_alt(argv[0], alt);
    int logfd = open(log_path ? log_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (logfd < 0 || nullfd < 0) {
        int e = errno;
        if (logfd >= 0) close(logfd);
        if (nullfd >= 0) close(nullfd);
        return errno = e, -1;
    }
    pid_t pid = fork_into(net, i, status);
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL); /* client libraries often ignore it; exec would keep that */
        dup2(nullfd, 0);
        dup2(logfd, 1);
        dup2(logfd, 2);
        exec_cmd(argv, alt);
        int e = errno;
        ssize_t w = write(status[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    int saved = errno;
    close(nullfd);
    if (pid > 0) {
        pid = fork_result(net, pid, status[0]);
        saved = errno;
        if (pid < 0) dprintf(logfd, "jepsen: cannot run %s on node %u: %s\n", argv[0], i, strerror(saved));
    }
    close(logfd);
    errno = saved;
    return pid;
}
