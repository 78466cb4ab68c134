/* store: the encoder's primitives (encode.c), for the encoders kept in
 * files of their own (codec_db.c). Private to store/. */
#ifndef KEEL_STORE_ENC_PRIVATE_H
#define KEEL_STORE_ENC_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "store/codec.h"

/* Start a command of type with flags; returns where its body starts. */
size_t store_enc_begin(struct keel_enc *e, uint8_t type, unsigned flags);
/* Close the command whose body started at body_start. */
void store_enc_end(struct keel_enc *e, size_t body_start);
/* Append a little-endian u64. */
void store_enc_u64(struct keel_enc *e, uint64_t v);

#endif /* KEEL_STORE_ENC_PRIVATE_H */
