/* api: Redis-style glob matching for KEYS and SCAN MATCH: * ? [abc] [^a-z]
 * and backslash escapes, on binary strings. */
#ifndef KEEL_API_RESP_GLOB_H
#define KEEL_API_RESP_GLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool resp_glob_match(const char *pattern, size_t plen, const uint8_t *s, size_t slen);

#endif /* KEEL_API_RESP_GLOB_H */
