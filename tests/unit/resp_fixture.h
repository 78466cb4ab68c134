/* tests: helpers shared by the RESP tests (test_resp*.c): request limits,
 * a fixed-seed generator, exact-length copies (so that ASan sees any
 * overread), and feeding a request whole, a byte at a time and in random
 * chunks with the checks every split must pass. */
#ifndef KEEL_TESTS_RESP_FIXTURE_H
#define KEEL_TESTS_RESP_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/resp/resp.h"

extern const struct resp_limits LIM;
extern const struct resp_limits SMALL;
extern uint64_t rng_state;
void rng_seed(uint64_t seed);
uint64_t rng(void);
size_t rng_below(size_t n);
uint8_t *dup_exact(const void *p, size_t n);
bool inside(const void *p, size_t n, const void *base, size_t len);
void assert_argv_inside(const struct resp_request *req, const uint8_t *p, size_t n);
void assert_args(const struct resp_request *req, const struct keel_slice *args, uint32_t argc);
uint8_t *multibulk(const struct keel_slice *args, uint32_t argc, size_t *len);
void expect_done(const void *p, size_t n, const struct resp_limits *lim, size_t used,
                 const struct keel_slice *args, uint32_t argc);
void expect_eproto(const void *p, size_t n, const struct resp_limits *lim);
#define EXPECT_EPROTO(lit, lim) expect_eproto((lit), sizeof(lit) - 1, (lim))
size_t expect_more(const void *p, size_t n, const struct resp_limits *lim, struct resp_request *req);
void feed_bytewise(const uint8_t *p, size_t len, const struct resp_limits *lim,
                   const struct keel_slice *args, uint32_t argc, size_t exact);
void feed_chunks(const uint8_t *p, size_t len, const struct resp_limits *lim,
                 const struct keel_slice *args, uint32_t argc, size_t max);
int first_result(const uint8_t *p, size_t len, const struct resp_limits *lim, size_t bound,
                 size_t *at, size_t *used);
void check_multibulk(const struct keel_slice *args, uint32_t argc, size_t max_chunk);

#endif /* KEEL_TESTS_RESP_FIXTURE_H */
