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

/* A backup file (keelctl snapshot save writes it, keelutl reads it) is
 *
 *   "KEELBACKUP 1\n"
 *   one line of JSON: index, term, keys, size, checksum, members, created
 *   the image: exactly what raft snapshots hold (storage/snapshot.h: a
 *   64-byte header with its own checksum, then a compact LMDB copy whose
 *   XXH3 is in the header)
 *
 * so keelutl snapshot inspect checks the image the same way a node does
 * before loading one (keel_image_check, storage/image.h: checksums, LMDB
 * structure, every record), and keelutl snapshot restore hands it to raft's
 * own snapshot path (raft/offline.h), which checks it again. */
#define CLI_BACKUP_MAGIC "KEELBACKUP 1"

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
