/* cli: helpers shared by keelctl and keelutl (see cli.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/cli/cli.h"

void cli_print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s) printf("%s\n", s);
    free(s);
    json_decref(j);
}

unsigned cli_parse_duration(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v <= 0) return 0;
    if (strcmp(end, "ms") == 0) return (unsigned)v;
    if (*end == 0 || strcmp(end, "s") == 0) return (unsigned)(v * 1000);
    return 0;
}

bool cli_sibling(const char *name, char *path, size_t size)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash != NULL) {
            *slash = 0;
            int len = snprintf(path, size, "%s/%s", self, name);
            if (len > 0 && (size_t)len < size && access(path, X_OK) == 0) return true;
        }
    }
    snprintf(path, size, "%s", name);
    return false;
}

int cli_run(char *const argv[], bool quiet)
{
    /* posix_spawn, not fork: keelctl's drills run it with load threads
     * going, and a forked child of a threaded process may only exec. */
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0) return 127;
    if (quiet && posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return 127;
    }
    fflush(NULL); /* the child's output comes after ours */
    pid_t pid;
    int err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (err != 0) {
        fprintf(stderr, "%s: cannot run: %s\n", argv[0], strerror(err));
        return 127;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return 127;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 127;
}

void cli_old_name(const char *tool, int argc, char **argv)
{
    static char backup[] = "backup";
    if (argc < 1 || strcmp(argv[0], "snapshot") != 0) return;
    const char *sub = argc > 1 ? argv[1] : NULL;
    fprintf(stderr, "%s: 'snapshot%s%s' is the old name of 'backup%s%s'\n", tool, sub ? " " : "", sub ? sub : "",
            sub ? " " : "", sub ? sub : "");
    argv[0] = backup;
}
