/* api: Redis's memory-layout tuning parameters, which CONFIG GET and SET
 * accept on Keel (config_tuning.c). Internal to api/server/commands. */
#ifndef KEEL_API_CONFIG_TUNING_H
#define KEEL_API_CONFIG_TUNING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/slice.h"

struct keel_server;

/* How many there are; the name of the i-th (aliases included). */
size_t tuning_count(void);
const char *tuning_name(size_t i);
/* The index of the parameter called name (any case), or -1. */
int tuning_find(struct keel_slice name);
/* Its value as CONFIG GET shows it (this node's, or Redis's default). */
void tuning_get(struct keel_server *srv, size_t i, char *buf, size_t size);
/* Check value against the parameter's type and range (0, or -1 with the
 * reason in err, as Redis words it), then keep it if commit is true. */
int tuning_set(struct keel_server *srv, size_t i, const char *value, bool commit, char *err, size_t size);

#endif /* KEEL_API_CONFIG_TUNING_H */
