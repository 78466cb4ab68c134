/* keelutl: options, dispatch and help (see keelutl.h). */
#include <stdio.h>
#include <string.h>

#include "api/keelutl/keelutl.h"

static int backup(const struct kutl *u, int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "inspect")) return kutl_backup_inspect(u, argc - 2, argv + 2);
    if (argc >= 3 && !strcmp(argv[1], "restore")) return kutl_backup_restore(u, argc - 2, argv + 2);
    return CLI_USAGE;
}

struct entry
{
    const char *name;
    int (*run)(const struct kutl *u, int argc, char **argv);
    const char *synopsis;
    const char *help;
};

static const struct entry entries[] = {
    {"backup", backup,
     "backup inspect FILE | restore FILE --data-dir DIR --id N --cluster ID=RAFT_ADDR,...",
     "inspect: check the backup FILE (keelctl backup save, or keeld --backup-dir) in full\n"
     "(checksums, LMDB structure, every record) and print its index, term, members, key count and\n"
     "digest; exit 1 and the reason if it is damaged.\n"
     "restore (keeld stopped): seed a new node directory DIR from FILE as node N of the new cluster;\n"
     "do it for every member with the same FILE and --cluster, then start them all.\n"
     "The old name, snapshot inspect|restore, still works."},
    {"recover", kutl_recover, "recover --data-dir DIR --id N [--force]",
     "Disaster recovery after quorum loss (keeld stopped), on the survivor with the longest log: make\n"
     "node N the only member, keeping its log (raft_recover). Refused while a former member answers\n"
     "on its raft address (within --timeout, at most 2 s) unless --force. Prints what may have been\n"
     "lost. Then start keeld on DIR and add members back with keelctl member add."},
};

#define NENTRIES (sizeof entries / sizeof *entries)

static void usage(FILE *f)
{
    fprintf(f, "usage: keelutl [--json] [--timeout 2s] COMMAND [ARGS]\n\n"
               "Keel's offline tool: backup files, and a node's data directory while its keeld is\n"
               "stopped (keelctl is the online one).\n\ncommands:\n");
    for (size_t i = 0; i < NENTRIES; i++) fprintf(f, "  %s\n", entries[i].synopsis);
    fprintf(f, "\nkeelutl help COMMAND explains one. 'snapshot inspect|restore' is the old name of\n"
               "'backup inspect|restore' and still works.\n\n"
               "exit status: 0 done, 1 failed (the file does not verify, the directory cannot be\n"
               "used, recover refused), 2 bad usage.\n");
}

static int help(const char *cmd)
{
    if (cmd == NULL) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(cmd, "snapshot")) cmd = "backup"; /* the old name */
    for (size_t i = 0; i < NENTRIES; i++) {
        if (strcmp(entries[i].name, cmd) != 0) continue;
        printf("usage: keelutl %s\n\n%s\n", entries[i].synopsis, entries[i].help);
        return CLI_OK;
    }
    fprintf(stderr, "keelutl: no command '%s' (keelutl help lists them)\n", cmd);
    return CLI_USAGE;
}

int main(int argc, char **argv)
{
    struct kutl u = {.timeout_ms = 2000};
    char *rest[256];
    int n = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) u.json = true;
        else if (!strcmp(a, "--timeout")) {
            if (i + 1 >= argc) return fprintf(stderr, "keelutl: %s needs a value\n", a), CLI_USAGE;
            if ((u.timeout_ms = cli_parse_duration(argv[++i])) == 0)
                return fprintf(stderr, "keelutl: --timeout %s: want e.g. 2s or 500ms\n", argv[i]), CLI_USAGE;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) return help(NULL);
        else if (n < 255) rest[n++] = argv[i];
    }
    rest[n] = NULL;
    if (n == 0) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (!strcmp(rest[0], "help")) return help(n > 1 ? rest[1] : NULL);
    cli_old_name("keelutl", n, rest); /* snapshot inspect|restore: backup ... */
    for (size_t i = 0; i < NENTRIES; i++) {
        if (strcmp(entries[i].name, rest[0]) != 0) continue;
        int rc = entries[i].run(&u, n, rest);
        if (rc == CLI_USAGE) fprintf(stderr, "usage: keelutl %s\n", entries[i].synopsis);
        return rc;
    }
    fprintf(stderr, "keelutl: no command '%s' (keelutl help lists them)\n", rest[0]);
    return CLI_USAGE;
}
