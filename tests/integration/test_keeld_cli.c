/* tests/integration: every command keeld serves, driven through the real
 * redis-cli binary on each node of a three-node cluster (the leader answers
 * itself; followers forward). redis-cli is the client most people try
 * first, and it has its own argument parsing, handshake (COMMAND DOCS,
 * HELLO 3 with -3) and reply formatting, which hiredis-based tests never
 * exercise.
 *
 * The commands and the output expected from redis-cli are data, in
 * cli_script.txt (its header describes the format). Every node runs the
 * whole script with its own key prefix; each redis-cli session's output is
 * compared line by line, in full, and the first line that differs is
 * reported with the script line and command it belongs to. The test also
 * fails if the script leaves out any command keeld lists in COMMAND, so a
 * new command cannot be added without a redis-cli case. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kc.h"

#ifndef KEEL_CLI_SCRIPT_DEFAULT
#define KEEL_CLI_SCRIPT_DEFAULT "cli_script.txt"
#endif

#define MAX_LINES 4096   /* script lines */
#define MAX_WANT 4096    /* expected lines in one session */
#define MAX_CMDS 1024    /* commands in one session */
#define MAX_ARGS 32      /* redis-cli arguments */
#define MAX_NAMES 256    /* distinct command names */
#define SESSION_MS 60000 /* one redis-cli run; far above what it needs, even under ASan */

static struct kc cluster;

/* The script, loaded once: lines split in place. */
static char *script_text;
static char *script_line[MAX_LINES];
static unsigned script_lines;
static const char *script_path;

/* What a script line may refer to, for the node being driven. */
struct vars
{
    unsigned n;           /* {N}: node number, 1..3 (also its raft id) */
    unsigned port;        /* {PORT}: its client port */
    unsigned leader;      /* {LEADER}: the leader's node number */
    unsigned leader_port; /* {LEADER_PORT}: the leader's client port */
    bool is_leader;       /* selects [leader] / [follower] lines */
};

enum want_kind
{
    W_LITERAL, /* the whole output line, exactly */
    W_GLOB,    /* ~pattern: fnmatch with GNU extglob, e.g. @(99|100) */
    W_ANY,     /* ...: any number of lines, up to the next expected one */
};

struct want
{
    enum want_kind kind;
    char *text;
    unsigned line; /* in the script */
    int cmd;       /* index into the session's commands; -1: its %redis-cli line */
};

struct command_sent
{
    char *text;
    unsigned line;
};

/* One redis-cli run: its arguments, the commands fed on stdin, and the
 * output expected. */
struct session
{
    bool open;
    unsigned line;
    char *args;
    struct command_sent cmds[MAX_CMDS];
    unsigned ncmds;
    struct want want[MAX_WANT];
    unsigned nwant;
};

/* Command names each node was sent (lower case), for the coverage check. */
static char *sent_name[MAX_NAMES];
static unsigned sent_names;

static void load_script(void)
{
    script_path = getenv("KEEL_CLI_SCRIPT");
    if (script_path == NULL || script_path[0] == 0) script_path = KEEL_CLI_SCRIPT_DEFAULT;
    FILE *f = fopen(script_path, "r");
    if (f == NULL) fail_msg("cannot open %s: %s (set KEEL_CLI_SCRIPT)", script_path, strerror(errno));
    size_t len = 0;
    FILE *m = open_memstream(&script_text, &len);
    assert_non_null(m);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, m);
    fclose(f);
    fclose(m);
    char *p = script_text;
    while (*p != 0) {
        if (script_lines == MAX_LINES) fail_msg("%s: more than %d lines", script_path, MAX_LINES);
        script_line[script_lines++] = p;
        char *nl = strchr(p, '\n');
        if (nl == NULL) break;
        *nl = 0;
        if (nl > p && nl[-1] == '\r') nl[-1] = 0; /* a script saved with CRLF */
        p = nl + 1;
    }
}

/* The line with {N}, {PORT}, {LEADER} and {LEADER_PORT} replaced; any other
 * {UPPER_CASE} name is a typo in the script and fails the test rather than
 * being sent as is. */
static char *subst(const char *in, const struct vars *v, unsigned line)
{
    char *out = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&out, &len);
    assert_non_null(m);
    for (const char *p = in; *p != 0; p++) {
        size_t n = 1;
        if (*p == '{') {
            while (isupper((unsigned char)p[n]) || p[n] == '_') n++;
        }
        if (n == 1 || p[n] != '}') {
            fputc(*p, m);
            continue;
        }
        n++; /* the closing brace */
        if (n == 3 && strncmp(p, "{N}", n) == 0) fprintf(m, "%u", v->n);
        else if (n == 6 && strncmp(p, "{PORT}", n) == 0) fprintf(m, "%u", v->port);
        else if (n == 8 && strncmp(p, "{LEADER}", n) == 0) fprintf(m, "%u", v->leader);
        else if (n == 13 && strncmp(p, "{LEADER_PORT}", n) == 0) fprintf(m, "%u", v->leader_port);
        else {
            fclose(m);
            free(out);
            fail_msg("%s:%u: unknown variable %.*s", script_path, line, (int)n, p);
        }
        p += n - 1;
    }
    fclose(m);
    return out;
}

static void note_sent(const char *cmd)
{
    char name[64];
    size_t n = 0;
    while (cmd[n] != 0 && cmd[n] != ' ' && n < sizeof name - 1) {
        name[n] = (char)tolower((unsigned char)cmd[n]);
        n++;
    }
    name[n] = 0;
    if (n == 0) return;
    for (unsigned i = 0; i < sent_names; i++) {
        if (strcmp(sent_name[i], name) == 0) return;
    }
    if (sent_names < MAX_NAMES) sent_name[sent_names++] = strdup(name);
}

static void forget_sent(void)
{
    for (unsigned i = 0; i < sent_names; i++) free(sent_name[i]);
    sent_names = 0;
}

/* Run redis-cli with argv, `input` on its stdin, stdout and stderr into
 * *out. Bounded: a run that outlives SESSION_MS is killed and fails. The
 * child is always reaped before this returns or fails. */
static int run_cli(char *const argv[], const char *input, size_t input_len, char **out, size_t *out_len)
{
    FILE *in = tmpfile();
    int fds[2];
    assert_non_null(in);
    assert_int_equal(fwrite(input, 1, input_len, in), input_len);
    assert_int_equal(fflush(in), 0);
    rewind(in);
    assert_int_equal(pipe(fds), 0);
    fflush(NULL); /* nothing buffered here may be written twice by the child */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fileno(in), 0);
        dup2(fds[1], 1);
        dup2(fds[1], 2); /* redis-cli's own complaints belong in the compared output */
        close(fds[0]);
        close(fds[1]);
        execvp(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    fclose(in);
    FILE *m = open_memstream(out, out_len);
    assert_non_null(m);
    long long deadline = kc_now_ms() + SESSION_MS;
    bool timed_out = false;
    for (;;) {
        long long left = deadline - kc_now_ms();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd pfd = {fds[0], POLLIN, 0};
        int r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) continue; /* the deadline is checked above */
        char buf[4096];
        ssize_t n = read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break; /* EOF: redis-cli closed its output */
        fwrite(buf, 1, (size_t)n, m);
    }
    close(fds[0]);
    fclose(m);
    int status = 0;
    bool reaped = false;
    while (!timed_out && !reaped) {
        reaped = waitpid(pid, &status, WNOHANG) == pid;
        if (!reaped && kc_now_ms() >= deadline) timed_out = true;
        else if (!reaped) kc_pause_ms(5);
    }
    if (timed_out) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("%s did not finish within %d ms; output so far:\n%s", argv[0], SESSION_MS, *out);
    }
    return status;
}

static bool line_matches(const struct want *w, const char *got)
{
    if (w->kind == W_GLOB) return fnmatch(w->text, got, FNM_EXTMATCH) == 0;
    return strcmp(w->text, got) == 0;
}

static const char *want_cmd(const struct session *s, const struct want *w)
{
    return w->cmd < 0 ? s->args : s->cmds[w->cmd].text;
}

static unsigned want_cmd_line(const struct session *s, const struct want *w)
{
    return w->cmd < 0 ? s->line : s->cmds[w->cmd].line;
}

/* Report the first difference with the output around it, then fail. */
static void mismatch(const struct session *s, const struct vars *v, const struct want *w, char **got,
                     unsigned ngot, unsigned at, const char *why)
{
    print_error("node %u (%s, port %u): redis-cli %s (session at %s:%u)\n", v->n,
                v->is_leader ? "leader" : "follower", v->port, s->args, script_path, s->line);
    if (w != NULL) {
        print_error("  command  %s:%u: %s\n", script_path, want_cmd_line(s, w), want_cmd(s, w));
        print_error("  want     %s:%u: %s%s\n", script_path, w->line,
                    w->kind == W_GLOB ? "~" : "", w->kind == W_ANY ? "..." : w->text);
    }
    if (at < ngot) print_error("  got      output line %u: %s\n", at + 1, got[at]);
    else print_error("  got      end of output after %u lines\n", ngot);
    print_error("  output around it:\n");
    unsigned from = at > 8 ? at - 8 : 0;
    for (unsigned k = from; k < ngot && k < at + 8; k++)
        print_error("  %s %4u| %s\n", k == at ? ">>" : "  ", k + 1, got[k]);
    fail_msg("node %u: redis-cli output differs from %s: %s", v->n, script_path, why);
}

/* "(0.52s)": redis-cli's note, in --no-raw mode, that a command took half a
 * second or more. How long a forwarded write takes on a loaded machine is
 * not what this test checks, and no reply prints like this in that mode. */
static bool is_timing_line(const char *l)
{
    size_t n = strlen(l), d = 1;
    if (n < 6 || l[0] != '(' || strcmp(l + n - 2, "s)") != 0) return false;
    while (isdigit((unsigned char)l[d])) d++;
    return d > 1 && l[d] == '.' && d + 3 == n - 2 && isdigit((unsigned char)l[d + 1]) &&
           isdigit((unsigned char)l[d + 2]);
}

/* Match the whole output against the session's expected lines. "..." is
 * lazy: it skips output up to the first line the next expected line
 * matches, so what follows it should be distinctive (an ECHO marker). */
static void compare(const struct session *s, const struct vars *v, char *out)
{
    char **got = calloc(strlen(out) + 2, sizeof *got);
    unsigned ngot = 0, at = 0;
    assert_non_null(got);
    for (char *p = out; *p != 0;) {
        got[ngot++] = p;
        char *nl = strchr(p, '\n');
        if (nl == NULL) break;
        *nl = 0;
        if (nl > p && nl[-1] == '\r') nl[-1] = 0; /* INFO's lines end in CRLF */
        if (is_timing_line(got[ngot - 1])) ngot--;
        p = nl + 1;
    }
    for (unsigned k = 0; k < s->nwant; k++) {
        const struct want *w = &s->want[k];
        if (w->kind == W_ANY) {
            if (k + 1 == s->nwant) at = ngot;
            while (at < ngot && !line_matches(&s->want[k + 1], got[at])) at++;
            continue;
        }
        if (at >= ngot) mismatch(s, v, w, got, ngot, at, "output ends early");
        if (!line_matches(w, got[at])) mismatch(s, v, w, got, ngot, at, "a line differs");
        at++;
    }
    if (at < ngot) mismatch(s, v, NULL, got, ngot, at, "more output than expected");
    free(got);
}

static void run_session(struct session *s, const struct vars *v)
{
    char *argv[MAX_ARGS + 8], port[16], *input = NULL, *args = strdup(s->args);
    size_t input_len = 0, out_len = 0;
    unsigned argc = 0;
    char *out = NULL;
    snprintf(port, sizeof port, "%u", v->port);
    const char *cli = getenv("REDIS_CLI");
    argv[argc++] = (char *)(cli != NULL && cli[0] != 0 ? cli : "redis-cli");
    argv[argc++] = (char *)"-h";
    argv[argc++] = (char *)"127.0.0.1";
    argv[argc++] = (char *)"-p";
    argv[argc++] = port;
    bool argv_cmd = false;
    for (char *save = NULL, *t = strtok_r(args, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save)) {
        if (argc == MAX_ARGS) fail_msg("%s:%u: too many redis-cli arguments", script_path, s->line);
        /* The first word that is not an option is a command redis-cli
         * sends itself (QUIT reaches the server only this way: redis-cli
         * handles a QUIT typed at its prompt by exiting). */
        if (!argv_cmd && t[0] != '-') {
            argv_cmd = true;
            note_sent(t);
        }
        argv[argc++] = t;
    }
    argv[argc] = NULL;
    FILE *m = open_memstream(&input, &input_len);
    assert_non_null(m);
    for (unsigned k = 0; k < s->ncmds; k++) {
        fprintf(m, "%s\n", s->cmds[k].text);
        note_sent(s->cmds[k].text);
    }
    fclose(m);
    int status = run_cli(argv, input, input_len, &out, &out_len);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("node %u: redis-cli %s (%s:%u) exited with status %d; output:\n%s", v->n, s->args,
                 script_path, s->line, status, out);
    compare(s, v, out);
    free(out);
    free(input);
    free(args);
}

static void end_session(struct session *s, const struct vars *v)
{
    if (!s->open) return;
    run_session(s, v);
    for (unsigned k = 0; k < s->ncmds; k++) free(s->cmds[k].text);
    for (unsigned k = 0; k < s->nwant; k++) free(s->want[k].text);
    free(s->args);
    s->ncmds = s->nwant = 0;
    s->open = false;
}

/* Drive the whole script through node i. */
static void run_script_on(unsigned i, int leader, unsigned *commands, unsigned *lines)
{
    struct vars v = {i + 1, cluster.nodes[i].client_port, (unsigned)leader + 1,
                     cluster.nodes[leader].client_port, (int)i == leader};
    static struct session s; /* large: not on the stack */
    for (unsigned k = 0; k < script_lines; k++) {
        const char *l = script_line[k];
        unsigned line = k + 1;
        if (l[0] == 0 || l[0] == '#') continue;
        /* [leader] / [follower]: the line applies on that kind of node only. */
        if (strncmp(l, "[leader]", 8) == 0 || strncmp(l, "[follower]", 10) == 0) {
            bool for_leader = l[1] == 'l';
            l += for_leader ? 8 : 10;
            if (*l == ' ') l++;
            if (for_leader != v.is_leader) continue;
        }
        if (strncmp(l, "%redis-cli", 10) == 0 && (l[10] == 0 || l[10] == ' ')) {
            end_session(&s, &v);
            s.open = true;
            s.line = line;
            s.args = subst(l[10] == ' ' ? l + 11 : l + 10, &v, line);
        } else if (!s.open) {
            fail_msg("%s:%u: a %%redis-cli line must come first", script_path, line);
        } else if (l[0] == '>' && l[1] == ' ') {
            if (s.ncmds == MAX_CMDS) fail_msg("%s:%u: session too long", script_path, line);
            s.cmds[s.ncmds].text = subst(l + 2, &v, line);
            s.cmds[s.ncmds++].line = line;
            (*commands)++;
        } else {
            if (s.nwant == MAX_WANT) fail_msg("%s:%u: session too long", script_path, line);
            struct want *w = &s.want[s.nwant];
            w->kind = strcmp(l, "...") == 0 ? W_ANY : l[0] == '~' ? W_GLOB : W_LITERAL;
            if (w->kind == W_ANY && s.nwant > 0 && s.want[s.nwant - 1].kind == W_ANY)
                fail_msg("%s:%u: two ... in a row", script_path, line);
            /* '|' quotes a line that would read as something else: "|# Raft",
             * or "|" alone for an empty line. */
            w->text = subst(w->kind == W_GLOB || l[0] == '|' ? l + 1 : l, &v, line);
            w->line = line;
            w->cmd = (int)s.ncmds - 1;
            s.nwant++;
            (*lines)++;
        }
    }
    end_session(&s, &v);
}

/* Every command COMMAND lists must have been sent to the node, except
 * keel.*: the cluster's own plumbing between nodes, not a client API. */
static void check_coverage(unsigned i)
{
    redisReply *r = kc_cmd(&cluster, i, "COMMAND");
    char missing[1024] = "";
    size_t off = 0;
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_true(r->elements > 0);
    for (size_t k = 0; k < r->elements; k++) {
        const char *name = r->element[k]->element[0]->str;
        bool seen = strncasecmp(name, "keel.", 5) == 0;
        for (unsigned j = 0; j < sent_names && !seen; j++) seen = strcasecmp(sent_name[j], name) == 0;
        if (!seen && off < sizeof missing - 64)
            off += (size_t)snprintf(missing + off, sizeof missing - off, " %s", name);
    }
    freeReplyObject(r);
    if (off > 0) fail_msg("node %u: %s never sends:%s", i + 1, script_path, missing);
}

static int setup(void **state)
{
    (void)state;
    load_script();
    /* [leader] and [follower] lines need the leader to stay put for the few
     * seconds of the run: a slower election timeout than the default 600 ms
     * keeps a loaded machine (ASan, parallel ctest) from starting one. */
    kc_start(&cluster, 3, "--election-timeout 2000");
    return kc_leader(&cluster, 10000) < 0;
}

static int teardown(void **state)
{
    (void)state;
    kc_stop(&cluster);
    forget_sent();
    free(script_text);
    return 0;
}

static void test_cli_script_each_node(void **state)
{
    (void)state;
    for (unsigned i = 0; i < 3; i++) {
        /* Asked again for each node: [leader] lines must follow the leader
         * of the moment (the cluster is quiet, so it should not move). */
        int leader = kc_leader(&cluster, 10000);
        unsigned commands = 0, lines = 0;
        assert_true(leader >= 0);
        forget_sent();
        run_script_on(i, leader, &commands, &lines);
        check_coverage(i);
        print_message("node %u (%s): %u commands, %u expected output lines, %u command names\n",
                      i + 1, (int)i == leader ? "leader" : "follower", commands, lines, sent_names);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_script_each_node),
    };
    return cmocka_run_group_tests_name("keeld_cli", tests, setup, teardown);
}
