/* storage: keel_image_check (image.h), and the helper process that lets LMDB
 * walk an image without risking the caller.
 *
 * The helper is this same binary, re-executed through /proc/self/exe with
 * KEEL_IMAGE_HELPER in its environment: a constructor below sees it before
 * main() runs, walks the LMDB file on fd 3 (image_walk.c), writes one report
 * to fd 4 and _exits. So any program linking keel_storage (keeld, keelctl,
 * the tests) can check images, and the helper starts from a fresh exec: none
 * of the caller's threads, locks or libuv state comes along, which a plain
 * fork of multithreaded keeld could not promise. posix_spawn (vfork-like in
 * glibc) does not copy the caller's memory, and closes every descriptor but
 * the two it is given. A helper killed by a signal (SIGBUS, SIGSEGV, SIGFPE
 * from damaged pages) or by the timeout is reported as an invalid image. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "storage/image.h"

#define HELPER_ENV "KEEL_IMAGE_HELPER"
#define HELPER_DATA_FD 3
#define HELPER_REPORT_FD 4
#define REPORT_MAGIC 0x4b454c57u /* "WLEK" */

extern char **environ;

struct helper_report
{
    uint32_t magic;
    int32_t rc;
    struct keel_image_report rep;
    char errmsg[KEEL_ERRMSG_SIZE];
};

static int write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len > (1u << 30) ? (1u << 30) : len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The helper's whole life, before main() of whatever binary this is. */
__attribute__((constructor)) static void helper_main(void)
{
    if (getenv(HELPER_ENV) == NULL) return;
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core); /* a crash here is a finding, not a core dump */
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the caller */
#ifdef KEEL_TEST_HOOKS
    /* Tests prove the caller survives a helper that crashes or hangs. */
    const char *t = getenv("KEEL_TEST_IMAGE_HELPER");
    if (t != NULL && strcmp(t, "sigbus") == 0) raise(SIGBUS);
    if (t != NULL && strcmp(t, "hang") == 0) for (;;) pause();
#endif
    struct helper_report r = {.magic = REPORT_MAGIC};
    struct stat st;
    char path[32];
    if (fstat(HELPER_DATA_FD, &st) != 0) _exit(2);
    snprintf(path, sizeof path, "/proc/self/fd/%d", HELPER_DATA_FD);
    r.rc = image_walk(path, (size_t)st.st_size, &r.rep, r.errmsg);
    _exit(write_all(HELPER_REPORT_FD, &r, sizeof r) == 0 ? 0 : 2);
}

unsigned keel_image_timeout_ms(size_t len)
{
#ifdef KEEL_TEST_HOOKS
    const char *t = getenv("KEEL_TEST_IMAGE_TIMEOUT_MS");
    if (t != NULL && atoi(t) > 0) return (unsigned)atoi(t);
#endif
    /* A walk reads at hundreds of MB/s; this allows 16 MB/s and 20 s. */
    return 20000u + (unsigned)(len / (16u << 20)) * 1000u;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The image in an anonymous file, at a descriptor above the helper's. */
static int image_fd(const void *data, size_t len, char *errmsg)
{
    int fd = memfd_create("keel-image-check", MFD_CLOEXEC);
    if (fd >= 0 && fd <= HELPER_REPORT_FD) {
        int hi = fcntl(fd, F_DUPFD_CLOEXEC, 10);
        close(fd);
        fd = hi;
    }
    if (fd < 0 || write_all(fd, data, len) != 0) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "snapshot image: copy for the check: %s", strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

/* environ, plus the helper's marker, plus ASan told to let fatal signals
 * kill the helper quietly (harmless without ASan). NULL on no memory. */
static char **helper_env(char *asan, size_t size)
{
    size_t n = 0;
    while (environ[n] != NULL) n++;
    char **env = calloc(n + 3, sizeof *env);
    if (env == NULL) return NULL;
    size_t j = 0;
    const char *old = "";
    for (size_t i = 0; i < n; i++) {
        if (strncmp(environ[i], "ASAN_OPTIONS=", 13) == 0) old = environ[i] + 13;
        else env[j++] = environ[i];
    }
    snprintf(asan, size, "ASAN_OPTIONS=%s%shandle_segv=0:handle_sigbus=0:handle_sigfpe=0:detect_leaks=0",
             old, old[0] ? ":" : "");
    env[j++] = asan;
    env[j++] = HELPER_ENV "=1";
    return env;
}

static int spawn(int data_fd, int report_fd, pid_t *pid, char *errmsg)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, all;
    char asan[1024];
    char *argv[] = {"keel-image-check", NULL};
    char **env = helper_env(asan, sizeof asan);
    if (env == NULL) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "snapshot image: out of memory");
        return KEEL_ENOMEM;
    }
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, data_fd, HELPER_DATA_FD);
    posix_spawn_file_actions_adddup2(&fa, report_fd, HELPER_REPORT_FD);
    posix_spawn_file_actions_addclosefrom_np(&fa, HELPER_REPORT_FD + 1);
    posix_spawnattr_init(&attr);
    /* The caller may block or ignore signals (SIGPIPE, the pool's masks). */
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    int rc = posix_spawn(pid, "/proc/self/exe", &fa, &attr, argv, env);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    if (rc != 0) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "snapshot image: cannot start the LMDB walk helper: %s",
                 strerror(rc));
        return KEEL_EIO;
    }
    return 0;
}

/* Read the report until EOF or the deadline; true if it timed out. */
static bool read_report(int fd, struct helper_report *r, size_t *got, unsigned timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    *got = 0;
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0) return true;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, (int)left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return n == 0;
        ssize_t k = read(fd, (uint8_t *)r + *got, *got < sizeof *r ? sizeof *r - *got : 1);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        if (*got < sizeof *r) *got += (size_t)k;
    }
}

static int run_helper(const void *data, size_t len, struct keel_image_report *rep, char *errmsg)
{
    struct helper_report r;
    int pipefd[2], status = 0;
    pid_t pid;
    size_t got;
    int dfd = image_fd(data, len, errmsg);
    if (dfd < 0) return KEEL_EIO;
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "snapshot image: pipe: %s", strerror(errno));
        close(dfd);
        return KEEL_EIO;
    }
    int rc = spawn(dfd, pipefd[1], &pid, errmsg);
    close(dfd);
    close(pipefd[1]);
    if (rc != 0) {
        close(pipefd[0]);
        return rc;
    }
    unsigned timeout = keel_image_timeout_ms(len);
    bool late = read_report(pipefd[0], &r, &got, timeout);
    close(pipefd[0]);
    if (late) kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (late) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "snapshot image: LMDB walk did not finish in %u ms (killed)",
                 timeout);
        return KEEL_ECORRUPT;
    }
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        const char *name = sigabbrev_np(sig);
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "snapshot image: LMDB walk died of SIG%s: damaged pages",
                 name ? name : "?");
        return KEEL_ECORRUPT;
    }
    if (got != sizeof r || r.magic != REPORT_MAGIC || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "snapshot image: LMDB walk helper failed (exit %d)",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return KEEL_EIO;
    }
    r.errmsg[sizeof r.errmsg - 1] = 0;
    if (r.rc != 0) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "%s", r.errmsg);
        return r.rc;
    }
    *rep = r.rep;
    return 0;
}

/* The walk in this process (fuzzing): still through a file, as LMDB needs. */
static int walk_here(const void *data, size_t len, struct keel_image_report *rep, char *errmsg)
{
    char path[32];
    int fd = image_fd(data, len, errmsg);
    if (fd < 0) return KEEL_EIO;
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int rc = image_walk(path, len, rep, errmsg);
    close(fd);
    return rc;
}

int keel_image_check_data(const void *data, size_t len, unsigned flags,
                          struct keel_image_report *rep, char *errmsg)
{
    struct keel_image_report s = {0}, w = {0};
    int rc = 0;
    if (!(flags & KEEL_IMAGE_NO_STRUCTURE)) rc = image_check_structure(data, len, &s, errmsg);
    if (rc != 0) return rc;
    rc = flags & KEEL_IMAGE_IN_PROCESS ? walk_here(data, len, &w, errmsg)
                                       : run_helper(data, len, &w, errmsg);
    if (rc != 0) return rc;
    if (!(flags & KEEL_IMAGE_NO_STRUCTURE) &&
        (w.keys != s.keys || w.expires != s.expires || w.dedupe != s.dedupe)) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE,
                 "snapshot image: LMDB read %llu keys, the pages hold %llu",
                 (unsigned long long)w.keys, (unsigned long long)s.keys);
        return KEEL_ECORRUPT;
    }
    w.psize = s.psize;
    w.pages = s.pages;
    if (rep != NULL) *rep = w;
    return 0;
}

int keel_image_check(const void *image, size_t len, unsigned flags, struct keel_image_report *rep,
                     char *errmsg)
{
    struct keel_snapshot_info info;
    struct keel_image_report r;
    int rc = keel_snapshot_verify(image, len, &info, errmsg);
    if (rc != 0) return rc;
    rc = keel_image_check_data((const uint8_t *)image + KEEL_SNAPSHOT_HEADER, (size_t)info.data_len,
                               flags, &r, errmsg);
    if (rc != 0) return rc;
    if (r.applied != info.applied || r.keys != info.keys) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE,
                 "snapshot image: the header says index %llu and %llu keys, the data holds index "
                 "%llu and %llu keys",
                 (unsigned long long)info.applied, (unsigned long long)info.keys,
                 (unsigned long long)r.applied, (unsigned long long)r.keys);
        return KEEL_ECORRUPT;
    }
    r.info = info;
    if (rep != NULL) *rep = r;
    return 0;
}
