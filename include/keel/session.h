/* libkeel session helpers: a session is a hash (field -> value) under one
 * key with a TTL. Each helper is one round trip (a pipeline, see
 * keel_pipeline), exactly-once like every libkeel write, and follows
 * failover the same way. Errors and codes as keel_call's; a session that is
 * absent is not an error (found = false).
 *
 * Versions: every change to a key (a field, the TTL) moves its version;
 * keel_session_get returns the version it read *before* the fields, so a
 * keel_session_cas with it fails if anything changed since, never succeeds
 * over a change it did not see. Version 0 means absent: a cas with 0
 * creates the session only if there is none. */
#ifndef KEEL_SESSION_H
#define KEEL_SESSION_H

#include <keel/client.h>

struct keel_session
{
    bool found;
    size_t n;              /* fields */
    char **fields;         /* NUL-terminated */
    char **values;         /* NUL-terminated copies (binary values: value_lens) */
    size_t *value_lens;
    int64_t ttl_ms;        /* -1: no expiry */
    uint64_t version;
};

/* Replace the session at key with these fields; ttl_ms 0: no expiry.
 * value_lens may be NULL (strlen of each value). */
KEEL_API int keel_session_put(struct keel_client *c, const char *key, size_t n, const char *const *fields,
                              const char *const *values, const size_t *value_lens, uint64_t ttl_ms,
                              char *errmsg, size_t size);
/* *out is the caller's (keel_session_free), also when not found. */
KEEL_API int keel_session_get(struct keel_client *c, const char *key, struct keel_session **out,
                              char *errmsg, size_t size);
KEEL_API void keel_session_free(struct keel_session *s);
/* Move the expiry to ttl_ms from now; *found false if there is no session. */
KEEL_API int keel_session_refresh(struct keel_client *c, const char *key, uint64_t ttl_ms, bool *found,
                                  char *errmsg, size_t size);
KEEL_API int keel_session_delete(struct keel_client *c, const char *key, bool *found, char *errmsg,
                                 size_t size);
/* Set one field if the session's version is still `version`; *swapped says
 * whether it was. The TTL stays. */
KEEL_API int keel_session_cas(struct keel_client *c, const char *key, uint64_t version, const char *field,
                              const char *value, size_t value_len, bool *swapped, char *errmsg, size_t size);

#endif /* KEEL_SESSION_H */
