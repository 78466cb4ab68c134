/* api: the logfmt logger. See log.h. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/server/log.h"

int keel_log_level = KLOG_INFO;
static uint64_t log_node;
static const char *(*log_role)(void);
static pthread_t log_owner;
void (*keel_log_level_hook)(int level);

void keel_log_init(uint64_t node_id, const char *(*role)(void))
{
    log_node = node_id;
    log_role = role;
    log_owner = pthread_self();
}

void keel_log_set_level(int level)
{
    keel_log_level = level;
    if (keel_log_level_hook != NULL) keel_log_level_hook(level);
}

int keel_log_parse_level(const char *name)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(name, names[i]) == 0) return i;
    }
    return -1;
}

void keel_log(int level, const char *fmt, ...)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    char msg[1024], ts[40];
    struct timespec now;
    struct tm tm;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *c = msg; *c; c++) {
        if (*c == '"') *c = '\'';
        if (*c == '\n' || *c == '\r') *c = ' ';
    }
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "ts=%s.%03ldZ level=%s node=%llu role=%s msg=\"%s\"\n", ts,
            now.tv_nsec / 1000000, names[level & 3], (unsigned long long)log_node,
            log_role && pthread_equal(pthread_self(), log_owner) ? log_role() : "-", msg);
}
