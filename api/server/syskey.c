/* api/server: system key names. See syskey.h. */
#include <stdio.h>
#include <string.h>

#include "api/server/syskey.h"

bool syskey_is_reserved(struct keel_slice key)
{
    return key.n > 0 && key.p[0] == 0xff && key.n >= 6 && memcmp(key.p, SYSKEY_PREFIX, 6) == 0;
}

void syskey_node(uint64_t id, char *buf, size_t size)
{
    snprintf(buf, size, SYSKEY_PREFIX "node:%llu", (unsigned long long)id);
}

void syskey_zone(uint64_t id, char *buf, size_t size)
{
    snprintf(buf, size, SYSKEY_PREFIX "zone:%llu", (unsigned long long)id);
}

void syskey_disk(uint64_t id, char *buf, size_t size)
{
    snprintf(buf, size, SYSKEY_PREFIX "disk:%llu", (unsigned long long)id);
}
