/* tests/integration: protected mode (docs/security.md, "Protected mode").
 *
 * - Start-up refusals: --raft-addr 0.0.0.0 without --tls-cluster, and
 *   --client-addr 0.0.0.0 with --protected-mode no, stop keeld with one line
 *   naming the option to fix, before it touches its data directory (nothing
 *   is bound: no traffic).
 * - In a network namespace this test creates (its lo also holds 10.213.7.1,
 *   so that a peer address outside 127/8 exists without leaving the
 *   namespace): keeld with --raft-addr 10.213.7.1 starts only with
 *   --insecure, and says so at warn; a client from 127.0.0.1 is served; a
 *   client from 10.213.7.1 gets -DENIED to its first command and is closed,
 *   while the default user is open; the cluster token's commands still pass;
 *   CONFIG SET protected-mode no (from loopback) lets it in, yes again not;
 *   once default has a password (CONFIG SET requirepass, from loopback) the
 *   same client gets -NOAUTH, and with the password, PONG.
 * - make run ARGS=--secure (examples/local-cluster.sh --secure), in another
 *   namespace of its own: three TLS nodes come up, the printed redis-cli
 *   line works, the password is in a 0600 file and on no command line,
 *   the default user is refused; stopped by pid.
 * The refusal rules themselves are unit-tested in tests/unit/test_protected.c.
 * Every process is stopped by pid; the namespaces are deleted. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kc.h"
#include "kc_tls.h"

static char base[256];
static char ns[32];
static pid_t child;

static void make_base(void)
{
    snprintf(base, sizeof base, "/tmp/keel-protected.XXXXXX");
    assert_non_null(mkdtemp(base));
}

/* SIGTERM to the child, reaped within 20 s; its exit status. */
static int stop_child(void)
{
    int st = 0;
    if (child <= 0) return 0;
    kill(child, SIGTERM);
    for (int t = 0; t < 400; t++) {
        if (waitpid(child, &st, WNOHANG) == child) {
            child = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        kc_pause_ms(50);
    }
    kill(child, SIGKILL);
    waitpid(child, &st, 0);
    child = 0;
    fail_msg("the process did not stop within 20 s of SIGTERM");
    return -1;
}

static int teardown(void **state)
{
    char out[256];
    (void)state;
    if (child > 0) stop_child();
    if (ns[0]) kc_sh(30, out, sizeof out, "ip netns del %s", ns);
    ns[0] = 0;
    if (base[0]) kc_sh(30, out, sizeof out, "rm -rf '%s'", base);
    base[0] = 0;
    return 0;
}

/* A namespace with lo up holding 10.213.7.1 too (an address outside 127/8
 * that no other host can reach; the kernel has no dummy interfaces); false if
 * this machine cannot make one (then the test is skipped, not passed). */
static bool make_ns(void)
{
    char out[512];
    snprintf(ns, sizeof ns, "keelpm%d", (int)getpid());
    if (kc_sh(30, out, sizeof out, "ip netns add %s", ns) != 0) {
        print_message("no network namespace (%s): skipped\n", out);
        ns[0] = 0;
        return false;
    }
    if (kc_sh(30, out, sizeof out,
           "sh -c 'ip -n %s link set lo up && ip -n %s addr add 10.213.7.1/32 dev lo'", ns, ns) != 0)
        fail_msg("setting up namespace %s: %s", ns, out);
    return true;
}

/* Start argv inside the namespace, stdout and stderr to log. */
static void spawn_in_ns(const char *log, char *const argv[])
{
    char *full[40];
    int n = 0;
    full[n++] = "ip";
    full[n++] = "netns";
    full[n++] = "exec";
    full[n++] = ns;
    for (int i = 0; argv[i] != NULL && n < 39; i++) full[n++] = argv[i];
    full[n] = NULL;
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0) _exit(127);
        dup2(fd, 1);
        dup2(fd, 2);
        execvp("ip", full);
        _exit(127);
    }
}

static bool file_has(const char *path, const char *text)
{
    char buf[65536];
    FILE *f = fopen(path, "r");
    if (f == NULL) return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strstr(buf, text) != NULL;
}

/* ---- start-up refusals ----------------------------------------------------- */

static void test_startup_refusals(void **state)
{
    char out[2048], dir[400];
    (void)state;
    /* In a namespace of its own when possible: should keeld wrongly start,
     * its 0.0.0.0 listeners face nothing but that namespace's loopback. */
    char prefix[64] = "";
    if (make_ns()) snprintf(prefix, sizeof prefix, "ip netns exec %s ", ns);
    make_base();
    unsigned raft = kc_free_port(), client = kc_free_port();
    struct
    {
        const char *raft_host, *client_host, *extra, *want;
    } cases[] = {
        {"0.0.0.0", "127.0.0.1", "", "--raft-addr 0.0.0.0:"},
        {"127.0.0.1", "0.0.0.0", "--protected-mode no", "--client-addr 0.0.0.0:"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        snprintf(dir, sizeof dir, "%s/n%zu", base, k);
        int rc = kc_sh(30, out, sizeof out,
                    "%s'%s' --id 1 --data-dir %s --raft-addr %s:%u --cluster 1=%s:%u --client-addr %s:%u %s", prefix, kc_keeld(),
                    dir, cases[k].raft_host, raft, cases[k].raft_host, raft, cases[k].client_host, client,
                    cases[k].extra);
        if (rc == 0 || strstr(out, cases[k].want) == NULL || strstr(out, "not a loopback address") == NULL ||
            strstr(out, "--insecure") == NULL || strchr(out, '\n') != NULL)
            fail_msg("case %zu: want a one-line refusal naming %s and --insecure, got (rc %d):\n%s", k, cases[k].want,
                     rc, out);
        if (k == 0 && strstr(out, "--tls-cluster yes") == NULL) fail_msg("case 0 does not name --tls-cluster: %s", out);
        if (k == 1 && strstr(out, "--protected-mode yes") == NULL) fail_msg("case 1 does not name --protected-mode: %s", out);
        struct stat st;
        if (stat(dir, &st) == 0) fail_msg("case %zu: the data directory was created before the refusal", k);
    }
}

/* ---- -DENIED to a peer off loopback ------------------------------------------ */

/* Connect from 10.213.7.1 to 10.213.7.1:7379 inside the namespace, send two
 * PINGs and read until the server closes (5 s at most): what came back, then
 * "<EOF>" if it closed. */
static void raw_from_far(char *out, size_t size)
{
    kc_sh(30, out, size,
       "ip netns exec %s /usr/bin/python3 -c \"import socket,sys\n"
       "s=socket.create_connection(('10.213.7.1',7379),timeout=5)\n"
       "print('peer', s.getsockname()[0])\n"
       "s.sendall(b'PING\\r\\nPING\\r\\n')\n"
       "d=b''\n"
       "try:\n"
       "  while True:\n"
       "    b=s.recv(4096)\n"
       "    if not b: d+=b'<EOF>'; break\n"
       "    d+=b\n"
       "except socket.timeout: pass\n"
       "sys.stdout.write(d.decode())\"",
       ns);
}

static void test_denied_off_loopback(void **state)
{
    char out[4096], log[400], dir[400];
    (void)state;
    if (!make_ns()) skip();
    make_base();
    snprintf(log, sizeof log, "%s/keeld.log", base);
    snprintf(dir, sizeof dir, "%s/n1", base);
    char *argv[] = {(char *)kc_keeld(), "--id", "1", "--data-dir", dir, "--raft-addr", "10.213.7.1:7479",
                    "--cluster", "1=10.213.7.1:7479", "--client-addr", "0.0.0.0:7379", "--insecure", NULL};
    spawn_in_ns(log, argv);
    bool up = false;
    for (int t = 0; t < 200 && !up; t++) {
        up = kc_sh(30, out, sizeof out, "ip netns exec %s redis-cli -h 127.0.0.1 -p 7379 PING", ns) == 0 && !strcmp(out, "PONG");
        if (!up) kc_pause_ms(50);
    }
    if (!up) fail_msg("keeld in the namespace does not answer on loopback: %s", out);
    if (!file_has(log, "--insecure: starting anyway: --raft-addr 10.213.7.1:7479 is not a loopback address"))
        fail_msg("no --insecure warning in %s", log);

    /* Off loopback, the default user open: -DENIED once, then closed. */
    raw_from_far(out, sizeof out);
    if (strncmp(out, "peer 10.213.7.1\n-DENIED Keel is running in protected mode", 57) != 0 ||
        strstr(out, "<EOF>") == NULL || strstr(out, "PONG") != NULL || strstr(out, "\r\n-") != NULL)
        fail_msg("from 10.213.7.1: want one -DENIED and the connection closed, got:\n%s", out);
    kc_sh(30, out, sizeof out, "ip netns exec %s redis-cli -h 10.213.7.1 -p 7379 PING", ns);
    if (strstr(out, "DENIED") == NULL || strstr(out, "--protected-mode no") == NULL) fail_msg("redis-cli: %s", out);
    /* The members' own channel is not protected mode's: its token decides. */
    kc_sh(30, out, sizeof out, "ip netns exec %s redis-cli -h 10.213.7.1 -p 7379 KEEL.FWDSYNC nottoken", ns);
    if (strstr(out, "DENIED") != NULL) fail_msg("KEEL.FWDSYNC got protected mode's refusal: %s", out);
    if (!file_has(log, "refused: protected mode")) fail_msg("the refusal is not logged in %s", log);
    /* CONFIG SET protected-mode no, from loopback (Redis's way out): served. */
    kc_sh(30, out, sizeof out, "ip netns exec %s redis-cli -h 127.0.0.1 -p 7379 CONFIG SET protected-mode no", ns);
    if (strcmp(out, "OK") != 0) fail_msg("CONFIG SET protected-mode no: %s", out);
    kc_sh(30, out, sizeof out, "ip netns exec %s redis-cli -h 10.213.7.1 -p 7379 PING", ns);
    if (strcmp(out, "PONG") != 0) fail_msg("protected mode off, from 10.213.7.1: %s", out);
    kc_sh(30, out, sizeof out, "ip netns exec %s redis-cli -h 127.0.0.1 -p 7379 CONFIG SET protected-mode yes", ns);
    if (strcmp(out, "OK") != 0) fail_msg("CONFIG SET protected-mode yes: %s", out);
    kc_sh(30, out, sizeof out, "ip netns exec %s redis-cli -h 10.213.7.1 -p 7379 PING", ns);
    if (strstr(out, "DENIED") == NULL) fail_msg("protected mode on again, from 10.213.7.1: %s", out);

    /* A password, set from loopback: then the far client authenticates. */
    kc_sh(30, out, sizeof out, "ip netns exec %s redis-cli -h 127.0.0.1 -p 7379 CONFIG SET requirepass s3cret-pw", ns);
    if (strcmp(out, "OK") != 0) fail_msg("CONFIG SET requirepass: %s", out);
    kc_sh(30, out, sizeof out, "ip netns exec %s redis-cli -h 10.213.7.1 -p 7379 PING", ns);
    if (strstr(out, "NOAUTH") == NULL) fail_msg("with a password, from 10.213.7.1 without it: %s", out);
    kc_sh(30, out, sizeof out, "ip netns exec %s env REDISCLI_AUTH=s3cret-pw redis-cli -h 10.213.7.1 -p 7379 PING", ns);
    if (strcmp(out, "PONG") != 0) fail_msg("with the password, from 10.213.7.1: %s", out);
    assert_int_equal(stop_child(), 0);
}

/* ---- make run ARGS=--secure -------------------------------------------------- */

/* Does any process's command line hold text? */
static bool on_a_command_line(const char *text)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    bool found = false;
    while (d != NULL && !found && (e = readdir(d)) != NULL) {
        char path[300], buf[8192];
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL) continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        for (size_t i = 0; i < n; i++) {
            if (buf[i] == 0) buf[i] = ' ';
        }
        buf[n] = 0;
        found = strstr(buf, text) != NULL;
    }
    if (d) closedir(d);
    return found;
}

static void test_make_run_secure(void **state)
{
    char out[8192], log[400], data[400], pass[128], path[600];
    (void)state;
    if (!make_ns()) skip();
    make_base();
    snprintf(log, sizeof log, "%s/run.log", base);
    snprintf(data, sizeof data, "%s/data", base);
    char keeld_env[700], data_env[500];
    snprintf(keeld_env, sizeof keeld_env, "KEELD=%s", kc_keeld());
    snprintf(data_env, sizeof data_env, "DATA=%s", data);
    char *argv[] = {"env", keeld_env, data_env, "bash", KEEL_LOCAL_CLUSTER, "--secure", NULL};
    spawn_in_ns(log, argv);
    bool up = false;
    for (int t = 0; t < 600 && !up; t++) {
        up = file_has(log, "Ctrl-C stops the cluster.");
        if (!up) {
            int st;
            if (waitpid(child, &st, WNOHANG) == child) {
                child = 0;
                kc_sh(30, out, sizeof out, "cat '%s'", log);
                fail_msg("local-cluster.sh --secure exited:\n%s", out);
            }
            kc_pause_ms(50);
        }
    }
    kc_sh(30, out, sizeof out, "cat '%s'", log);
    if (!up) fail_msg("local-cluster.sh --secure did not come up in 30 s:\n%s", out);

    /* The password: generated, in a 0600 file, printed nowhere, on no command line. */
    snprintf(path, sizeof path, "%s/secure/admin.pass", data);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(pass, sizeof pass, f));
    fclose(f);
    pass[strcspn(pass, "\n")] = 0;
    assert_true(strlen(pass) >= 32);
    if (strstr(out, pass) != NULL) fail_msg("the password is in the script's output");
    if (on_a_command_line(pass)) fail_msg("the password is on a process's command line");

    /* The printed line, run as printed. */
    const char *try = strstr(out, "try:       ");
    assert_non_null(try);
    char line[2048];
    snprintf(line, sizeof line, "%.*s", (int)strcspn(try + 11, "\n"), try + 11);
    if (strstr(line, "redis-cli --tls") == NULL || strstr(line, "--user admin") == NULL ||
        strstr(line, "REDISCLI_AUTH=") == NULL)
        fail_msg("printed line: %s", line);
    snprintf(path, sizeof path, "%s/try.sh", base);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", line);
    fclose(f);
    kc_sh(30, out, sizeof out, "ip netns exec %s sh '%s'", ns, path);
    if (strcmp(out, "OK") != 0) fail_msg("%s: %s", line, out);
    /* Another node, the same user: the write is there. */
    char tls[600];
    snprintf(tls, sizeof tls, "--tls --cacert %s/secure/tls/ca.crt --cert %s/secure/tls/client-admin.crt --key %s/secure/tls/client-admin.key",
             data, data, data);
    kc_sh(30, out, sizeof out, "ip netns exec %s sh -c 'REDISCLI_AUTH=\"$(cat %s/secure/admin.pass)\" redis-cli --no-auth-warning %s --user admin -p 7581 GET hello'",
       ns, data, tls);
    if (strcmp(out, "world") != 0) fail_msg("GET hello on node 3 as admin: %s", out);
    /* default is off: no user, no access; plaintext is refused too. */
    kc_sh(30, out, sizeof out, "ip netns exec %s redis-cli %s -p 7580 GET hello", ns, tls);
    if (strstr(out, "NOAUTH") == NULL) fail_msg("without a user: %s", out);
    kc_sh(30, out, sizeof out, "ip netns exec %s redis-cli -p 7379 GET hello", ns);
    if (strstr(out, "NOAUTH") == NULL) fail_msg("plaintext without a user: %s", out);
    assert_int_equal(stop_child(), 0);
    if (!file_has(log, "stopped; data kept in")) fail_msg("the script did not stop its nodes");
    for (int i = 1; i <= 3; i++) {
        snprintf(path, sizeof path, "%s/node%d.log", data, i);
        if (!file_has(path, "member TLS")) fail_msg("node %d did not start with member TLS", i);
    }
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_startup_refusals, teardown),
        cmocka_unit_test_teardown(test_denied_off_loopback, teardown),
        cmocka_unit_test_teardown(test_make_run_secure, teardown),
    };
    return cmocka_run_group_tests_name("keeld_protected", tests, NULL, NULL);
}
