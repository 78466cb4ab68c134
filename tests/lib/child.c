/* tests/lib: helper processes a test starts and stops by pid. See testlib.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/lib/testlib.h"

pid_t test_spawn(const char *out_path, const char *prog, char *const argv[])
{
    fflush(NULL); /* nothing buffered is written twice, by parent and child */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (freopen(out_path, "w", stdout) == NULL) _exit(127);
        if (prog != NULL) execv(prog, argv);
        _exit(127);
    }
    return pid;
}

void test_kill(pid_t *pid)
{
    if (*pid <= 0) return;
    kill(*pid, SIGKILL);
    waitpid(*pid, NULL, 0);
    *pid = 0;
}
