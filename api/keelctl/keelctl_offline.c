/* keelctl and keelutl. keelctl is the online CLI and links libkeel only;
 * the commands that work on files (backup inspect, backup restore, recover:
 * raft and LMDB) are keelutl's (api/keelutl/), as etcdutl's are beside
 * etcdctl. keelctl had them before keelutl existed, so those words still
 * get an answer, in either spelling (backup, or its old name snapshot): not
 * a silent forward (which keelutl runs, with which options, would be a
 * guess), but a usage error naming the keelutl command to run, in the new
 * spelling. keelctl runs keelutl itself only where one of its own commands
 * needs a file checked or a data directory changed: backup save (the check
 * before the rename) and the quorum-loss drill (recover). */
#include <stdio.h>
#include <string.h>

#include "api/keelctl/keelctl.h"

bool kctl_offline_word(int argc, char *const *argv)
{
    if (argc >= 1 && !strcmp(argv[0], "recover")) return true;
    return argc >= 2 && (!strcmp(argv[0], "backup") || !strcmp(argv[0], "snapshot")) &&
           (!strcmp(argv[1], "inspect") || !strcmp(argv[1], "restore"));
}

int kctl_offline_moved(const struct kctl *k, int argc, char *const *argv)
{
    bool two = argc >= 2 && strcmp(argv[0], "recover") != 0;
    const char *word = two ? "backup" : argv[0]; /* never the old name */
    fprintf(stderr, "keelctl: '%s%s%s' works on files offline: it is keelutl's (keelctl is online only). Run\n  keelutl%s %s",
            word, two ? " " : "", two ? argv[1] : "", k->json ? " --json" : "", word);
    for (int i = 1; i < argc; i++) fprintf(stderr, " %s", argv[i]);
    fprintf(stderr, "\n(keelutl help %s; docs/keelutl.md)\n", word);
    return CLI_USAGE;
}

int kctl_keelutl_run(const struct kctl *k, int argc, char *const *argv, bool quiet)
{
    char path[4096], timeout[24];
    char *cmd[KCTL_MAX_ARGS + 4];
    int n = 0;
    if (argc > KCTL_MAX_ARGS) return 127;
    cli_sibling("keelutl", path, sizeof path);
    snprintf(timeout, sizeof timeout, "%ums", k->timeout_ms);
    cmd[n++] = path;
    cmd[n++] = "--timeout";
    cmd[n++] = timeout;
    for (int i = 0; i < argc; i++) cmd[n++] = argv[i];
    cmd[n] = NULL;
    return cli_run(cmd, quiet);
}
