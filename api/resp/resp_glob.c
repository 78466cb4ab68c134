/* api: glob matching. Iterative with one backtrack point per '*', so a
 * hostile pattern costs O(pattern x string), never exponential time. */
#include "api/resp/resp_glob.h"

/* Match one class "[...]" at p (p[0] == '['); *used gets its length, or 0
 * if the class is unterminated (then '[' is literal). */
static bool class_match(const char *p, size_t plen, uint8_t c, size_t *used)
{
    size_t i = 1;
    bool neg = false, match = false;
    if (i < plen && p[i] == '^') {
        neg = true;
        i++;
    }
    for (; i < plen && p[i] != ']'; i++) {
        if (p[i] == '\\' && i + 1 < plen) {
            i++;
            if ((uint8_t)p[i] == c) match = true;
        } else if (i + 2 < plen && p[i + 1] == '-' && p[i + 2] != ']') {
            uint8_t lo = (uint8_t)p[i], hi = (uint8_t)p[i + 2];
            if (lo > hi) {
                uint8_t t = lo;
                lo = hi;
                hi = t;
            }
            if (c >= lo && c <= hi) match = true;
            i += 2;
        } else if ((uint8_t)p[i] == c) {
            match = true;
        }
    }
    if (i >= plen) {
        *used = 0;
        return false;
    }
    *used = i + 1;
    return neg ? !match : match;
}

/* Redis's matcher (util.c stringmatchlen, CVE-2022-36021) gives up past a
 * nesting of 1000: every '*' group that more pattern follows opens one
 * level, and a match must pass through all of them while string remains,
 * so such a pattern matches nothing. The same answer here, at once. */
#define GLOB_MAX_STARS 1000

static bool too_many_stars(const char *p, size_t plen)
{
    size_t groups = 0;
    for (size_t i = 0; i < plen; i++) {
        if (p[i] == '\\' && i + 1 < plen) {
            i++;
            continue;
        }
        if (p[i] == '[') { /* a class: its '*' is a character */
            size_t used;
            (void)class_match(p + i, plen - i, 0, &used);
            if (used > 0) i += used - 1;
            continue;
        }
        if (p[i] != '*') continue;
        while (i + 1 < plen && p[i + 1] == '*') i++;
        if (i + 1 < plen && ++groups > GLOB_MAX_STARS) return true;
    }
    return false;
}

bool resp_glob_match(const char *p, size_t plen, const uint8_t *s, size_t slen)
{
    size_t pi = 0, si = 0, star_p = (size_t)-1, star_s = 0;
    if (slen > 0 && plen > 2 * GLOB_MAX_STARS && too_many_stars(p, plen)) return false;
    while (si < slen) {
        if (pi < plen) {
            char c = p[pi];
            if (c == '*') {
                while (pi < plen && p[pi] == '*') pi++;
                if (pi == plen) return true;
                star_p = pi;
                star_s = si;
                continue;
            }
            if (c == '?') {
                pi++;
                si++;
                continue;
            }
            if (c == '[') {
                size_t used;
                bool m = class_match(p + pi, plen - pi, s[si], &used);
                if (used == 0) {
                    if (s[si] == '[') {
                        pi++;
                        si++;
                        continue;
                    }
                } else if (m) {
                    pi += used;
                    si++;
                    continue;
                }
            } else {
                if (c == '\\' && pi + 1 < plen) {
                    pi++;
                    c = p[pi];
                }
                if ((uint8_t)c == s[si]) {
                    pi++;
                    si++;
                    continue;
                }
            }
        }
        if (star_p == (size_t)-1) return false;
        pi = star_p;
        si = ++star_s;
    }
    while (pi < plen && p[pi] == '*') pi++;
    return pi == plen;
}
