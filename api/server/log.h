/* api: logging. One line per event, logfmt, to stderr:
 *
 *   ts=2026-11-24T03:33:10.123Z level=info node=1 role=leader msg="..."
 *
 * The level is checked before the arguments are evaluated. The raft role is
 * read through a hook the daemon installs, so every line carries it. */
#ifndef KEEL_API_LOG_H
#define KEEL_API_LOG_H

#include <stdint.h>

/* KLOG_, not LOG_: <syslog.h> defines LOG_INFO, LOG_DEBUG, ... as other values. */
enum { KLOG_ERROR = 0, KLOG_WARN = 1, KLOG_INFO = 2, KLOG_DEBUG = 3 };

extern int keel_log_level;

/* Call on the thread that owns the node (the loop): only lines logged from
 * that thread ask role() (it reads the node); other threads log role=-. */
void keel_log_init(uint64_t node_id, const char *(*role)(void));
/* Change the level at run time (CONFIG SET loglevel) and tell the hook
 * (keeld turns raft's tracer on at debug). Loop thread. */
void keel_log_set_level(int level);
extern void (*keel_log_level_hook)(int level);
/* Parse "error|warn|info|debug"; -1 if unknown. */
int keel_log_parse_level(const char *name);
void keel_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_at(lvl, ...)                                  \
    do {                                                  \
        if ((lvl) <= keel_log_level) keel_log(lvl, __VA_ARGS__); \
    } while (0)
#define log_error(...) log_at(KLOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_at(KLOG_WARN, __VA_ARGS__)
#define log_info(...) log_at(KLOG_INFO, __VA_ARGS__)
#define log_debug(...) log_at(KLOG_DEBUG, __VA_ARGS__)

#endif /* KEEL_API_LOG_H */
