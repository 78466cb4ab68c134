/* keelutl: Keel's offline tool, for a node's files while its keeld is
 * stopped, and for backup files (as etcdutl is to etcdctl): it links raft and
 * LMDB, which keelctl (online, libkeel only) does not. Its files: keelutl.c
 * (options, dispatch, help), keelutl_inspect.c (backup inspect),
 * keelutl_restore.c (backup restore, recover), keelutl_backup.c (reading a
 * backup file). Exit codes: api/cli/cli.h (0, 1 or 2). */
#ifndef KEEL_API_KEELUTL_H
#define KEEL_API_KEELUTL_H

#include <stdbool.h>

#include "api/cli/cli.h"

struct kutl
{
    bool json;           /* --json: one JSON document on stdout */
    unsigned timeout_ms; /* --timeout: how long recover waits for a former member's answer */
};

/* backup inspect FILE: argv[0] is FILE. */
int kutl_backup_inspect(const struct kutl *u, int argc, char **argv);
/* backup restore FILE --data-dir DIR --id N --cluster ...: argv[0] is FILE. */
int kutl_backup_restore(const struct kutl *u, int argc, char **argv);
/* recover --data-dir DIR --id N [--force]: argv[0] is "recover". */
int kutl_recover(const struct kutl *u, int argc, char **argv);

#endif /* KEEL_API_KEELUTL_H */
