/* cli: what Keel's two command-line tools share: keelctl (online, through
 * libkeel) and keelutl (offline, on data directories and backup files).
 * Their exit codes, --json output, durations, and how one finds the other.
 * Plain C and jansson: nothing of libkeel, raft or LMDB, so that each tool
 * links only what it needs. */
#ifndef KEEL_API_CLI_H
#define KEEL_API_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Exit codes of both tools (listed by `keelctl help` and `keelutl help`):
 *   0 done; 1 the command failed (the server refused it, the cluster is
 *   unhealthy, a file does not verify); 2 bad usage; 3 the cluster could not
 *   be reached or has no leader (nothing was changed); 4 the outcome of a
 *   write is unknown. keelutl uses 0, 1 and 2 only. */
enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2, CLI_UNAVAILABLE = 3, CLI_UNKNOWN = 4 };

/* A backup file (keelctl backup save writes it, keeld --backup-dir too,
 * keelutl reads it) is
 *
 *   "KEELBACKUP 1\n"
 *   one line of JSON: index, term, keys, size, checksum, members, created
 *   the image: exactly what raft snapshots hold (storage/snapshot.h: a
 *   64-byte header with its own checksum, then a compact LMDB copy whose
 *   XXH3 is in the header)
 *
 * so keelutl backup inspect checks the image the same way a node checks a
 * raft snapshot before loading one (keel_image_check, storage/image.h:
 * checksums, LMDB structure, every record), and keelutl backup restore
 * hands it to raft's own snapshot path (raft/offline.h), which checks it
 * again.
 *
 * One word per concept: "backup" is the operator's file, "snapshot" is
 * raft's (the files in a data directory's raft/, snapshot_index). Until
 * both tools said "backup", their command for the file was "snapshot"
 * (snapshot save, inspect, restore); runbooks and scripts still say it. */
#define CLI_BACKUP_MAGIC "KEELBACKUP 1"

/* The old command word: if argv[0] (the command name) is "snapshot", print
 * one line on stderr, "TOOL: 'snapshot WORD' is the old name of 'backup
 * WORD'", and make argv[0] "backup" (a static string) so the caller
 * dispatches the new name (same behaviour, same exit status); otherwise
 * nothing. */
void cli_old_name(const char *tool, int argc, char **argv);

/* Print j on stdout, indented, keys in insertion order; takes j. */
void cli_print_json(json_t *j);

/* "5s", "500ms", "2" (seconds): milliseconds; 0 on a bad value. */
unsigned cli_parse_duration(const char *s);

/* The program `name` installed beside the running one (its directory, from
 * /proc/self/exe), as Keel installs keeld, keelctl and keelutl together:
 * true with path set to it; else false with path set to name alone, for a
 * $PATH lookup (execvp). */
bool cli_sibling(const char *name, char *path, size_t size);

/* Run argv (argv[0] a path or a name looked up in $PATH) and wait for it,
 * stdout sent to /dev/null if quiet (its stderr stays the caller's). Its
 * exit status; 127 if it could not be started, 128 + N if killed by
 * signal N. */
int cli_run(char *const argv[], bool quiet);

#endif /* KEEL_API_CLI_H */
