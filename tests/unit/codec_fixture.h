/* tests: helpers shared by the codec tests (test_codec*.c): encoding and
 * decoding with checks, hand-assembled bodies (struct bb) and whole entries
 * (frame), re-encoding a decoded command, and valid sample entries of every
 * type. Every returned buffer is malloc'd and the caller's. */
#ifndef KEEL_TESTS_CODEC_FIXTURE_H
#define KEEL_TESTS_CODEC_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "store/codec.h"

#define BODY STORE_CMD_HEADER /* offset of the body in an entry */
#define assert_slice_lit(s, lit) assert_slice((s), (lit), sizeof(lit) - 1)
#define TS 1700000000123LL
#define CLIENT 0x0123456789abcdefULL
#define SEQ 77u
enum { NSAMPLES = 17 };

/* A hand-assembled byte string, to build bodies the encoder cannot. */
struct bb
{
    uint8_t b[1024];
    size_t n;
};

void assert_slice(struct keel_slice s, const void *p, size_t n);
uint8_t *finish_ok(struct keel_enc *e, size_t *len);
void decode_ok(const uint8_t *buf, size_t len, struct store_cmd *cmd);
void expect_rc(const uint8_t *buf, size_t len, int want);
void expect_malformed(const uint8_t *buf, size_t len);
void check_header(const struct store_cmd *c, uint8_t type, uint8_t flags, int64_t ts,
                  uint64_t client, uint64_t seq);
void bb_u8(struct bb *b, uint8_t v);
void bb_u32(struct bb *b, uint32_t v);
void bb_u64(struct bb *b, uint64_t v);
void bb_bytes(struct bb *b, const void *p, size_t n);
void bb_str(struct bb *b, const char *s);
void bb_sub(struct bb *b, uint8_t type, uint8_t flags, const struct bb *sub);
uint8_t *frame(uint8_t type, uint8_t flags, const struct bb *body, int64_t ts,
               uint64_t client, uint64_t seq, size_t *len);
struct keel_slice *collect(struct keel_slice list, uint32_t count);
void enc_cmd(struct keel_enc *e, const struct store_cmd *c);
void assert_reencodes(const struct store_cmd *c, const uint8_t *buf, size_t len);
uint8_t *sample(int which, size_t *len);

#endif /* KEEL_TESTS_CODEC_FIXTURE_H */
