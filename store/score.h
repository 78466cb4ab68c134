/* store: sorted-set scores as text, parsed and formatted the way Redis 7.2
 * does (util.c string2d, t_zset.c zslParseRange, util.c d2string), so that
 * replies are byte-identical to Redis's. Pure functions: apply may format a
 * score (ZINCRBY's reply) and every replica writes the same bytes. */
#ifndef KEEL_STORE_SCORE_H
#define KEEL_STORE_SCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest text keel_score_format writes, without a terminator. */
#define KEEL_SCORE_MAX 32

/* A score argument (ZADD, ZINCRBY): strtod's syntax ("inf", "-inf", "+inf"
 * included), the whole text, no leading space, no overflow to infinity or
 * underflow to 0, not NaN. False on anything else (Redis answers "ERR value
 * is not a valid float"). */
bool keel_score_parse(const uint8_t *p, size_t n, double *d);

/* A range bound (ZCOUNT, ZRANGEBYSCORE): an optional '(' (exclusive), then
 * strtod's syntax, NaN refused; as Redis, "" is 0 and overflow is +-inf.
 * False on anything else ("ERR min or max is not a float"). */
bool keel_score_bound(const uint8_t *p, size_t n, double *d, bool *exclusive);

/* Redis's d2string: "inf", "-inf", "0", "-0", an integral value in
 * (-2^62, 2^62) in decimal, else the shortest decimal that reads back to
 * d, laid out as Redis's fpconv_dtoa (plain integers up to 21 digits,
 * 0.000001 .. without exponent, else d.ddde+XX). Writes at most
 * KEEL_SCORE_MAX bytes, no terminator; returns the length. */
size_t keel_score_format(double d, char *buf);

/* A lex range bound (ZRANGEBYLEX, ZREMRANGEBYLEX; Redis's
 * zslParseLexRangeItem): "-", "+", or "[x" (inclusive) "(x" (exclusive).
 * s points into the argument. */
struct keel_lex_end
{
    int inf; /* -1: "-", 1: "+", 0: the string s */
    bool ex;
    const uint8_t *p;
    size_t n;
};
bool keel_lex_parse(const uint8_t *p, size_t n, struct keel_lex_end *e);
/* Whether m is at or past min, at or before max (the ends' own rules). */
bool keel_lex_gte_min(const uint8_t *m, size_t n, const struct keel_lex_end *min);
bool keel_lex_lte_max(const uint8_t *m, size_t n, const struct keel_lex_end *max);
/* Whether no member can lie between min and max ("+" as min, "-" as max:
 * Redis's zslIsInLexRange answers empty before looking). */
static inline bool keel_lex_empty(const struct keel_lex_end *min, const struct keel_lex_end *max)
{
    return min->inf == 1 || max->inf == -1;
}

#endif /* KEEL_STORE_SCORE_H */
