/* api/server: the names of the system keys, the replicated records the
 * nodes keep about themselves under a prefix clients may not touch
 * (srv_check_key refuses it). A leaf: libc and keel_slice only, so anything
 * may include it. */
#ifndef KEEL_API_SERVER_SYSKEY_H
#define KEEL_API_SERVER_SYSKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/storage.h"

#define SYSKEY_PREFIX "\xffkeel:"

/* Whether key is under SYSKEY_PREFIX. */
bool syskey_is_reserved(struct keel_slice key);
/* "\xffkeel:node:<id>" -> that node's client address */
void syskey_node(uint64_t id, char *buf, size_t size);
/* "\xffkeel:zone:<id>" -> its zone label */
void syskey_zone(uint64_t id, char *buf, size_t size);
/* "\xffkeel:disk:<id>" -> "full" while its disk is (nearly) full */
void syskey_disk(uint64_t id, char *buf, size_t size);

#endif /* KEEL_API_SERVER_SYSKEY_H */
