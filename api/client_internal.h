/* libkeel internals shared by its files (client.c, client_value.c). */
#ifndef KEEL_API_CLIENT_INTERNAL_H
#define KEEL_API_CLIENT_INTERNAL_H

#include <hiredis/hiredis.h>

#include "keel/client.h"

/* A deep copy of r, owned by the caller (keel_value_free); NULL: no memory. */
struct keel_value *client_value_from(const redisReply *r);

#endif /* KEEL_API_CLIENT_INTERNAL_H */
