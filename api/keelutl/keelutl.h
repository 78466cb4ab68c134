/* keelctl: the offline commands (keelctl_restore.c), apart from keelctl.h
 * because they include raft/offline.h (see there). Exit codes as keelctl's. */
#ifndef KEEL_API_KEELCTL_OFFLINE_H
#define KEEL_API_KEELCTL_OFFLINE_H

#include <stdbool.h>

/* snapshot restore FILE --data-dir DIR --id N --cluster ...: argv[0] is FILE. */
int kctl_offline_restore(bool json, int argc, char **argv);
/* recover --data-dir DIR --id N [--force]: argv[0] is "recover". */
int kctl_offline_recover(bool json, unsigned timeout_ms, int argc, char **argv);

#endif /* KEEL_API_KEELCTL_OFFLINE_H */
