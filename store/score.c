/* store: sorted-set scores as text (score.h). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/score.h"

/* strtod over exactly n bytes (copied: arguments are not terminated).
 * False if not all of them were read. Any length: Redis's string2d has no
 * limit, and a double's full decimal expansion (DBL_MAX's is 309 digits,
 * zset.tcl's "zset score double range" sends it) is a valid score. */
static bool read_double(const uint8_t *p, size_t n, double *d, int *err)
{
    char small[256], *buf = n < sizeof small ? small : malloc(n + 1);
    char *end;
    if (buf == NULL) return false;
    memcpy(buf, p, n);
    buf[n] = 0;
    errno = 0;
    *d = strtod(buf, &end);
    *err = errno;
    bool all = (size_t)(end - buf) == n;
    if (buf != small) free(buf);
    return all;
}

bool keel_score_parse(const uint8_t *p, size_t n, double *d)
{
    int err;
    if (n == 0 || isspace(p[0])) return false;
    if (!read_double(p, n, d, &err) || isnan(*d)) return false;
    if (err == ERANGE && (*d == HUGE_VAL || *d == -HUGE_VAL || *d == 0)) return false;
    return true;
}

bool keel_score_bound(const uint8_t *p, size_t n, double *d, bool *exclusive)
{
    int err;
    *exclusive = n > 0 && p[0] == '(';
    if (*exclusive) {
        p++;
        n--;
    }
    return read_double(p, n, d, &err) && !isnan(*d);
}

/* The shortest "%.*e" digits of d that read back to d: digits (no dot) into
 * dig, their count, and the decimal exponent of the first. */
static int shortest(double d, char *dig, int *exp10)
{
    char buf[40];
    for (int prec = 0; prec < 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec, d);
        if (strtod(buf, NULL) == d || prec == 16) {
            int n = 0;
            char *q = buf;
            for (; *q != 'e'; q++)
                if (isdigit((unsigned char)*q)) dig[n++] = *q;
            *exp10 = atoi(q + 1);
            while (n > 1 && dig[n - 1] == '0') n--;
            return n;
        }
    }
    return 0; /* not reached */
}

/* fpconv_dtoa's layout of digits dig[0..n) times 10^K (K: the exponent of
 * the last digit), after any sign. */
static size_t layout(const char *dig, int n, int K, bool neg, char *out)
{
    int exp = abs(K + n - 1);
    size_t o = 0;
    if (K >= 0 && exp < n + 7) { /* an integer, zeros appended */
        memcpy(out, dig, (size_t)n);
        memset(out + n, '0', (size_t)K);
        return (size_t)(n + K);
    }
    if (K < 0 && (K > -7 || exp < 4)) { /* a decimal without exponent */
        int point = n + K;
        if (point <= 0) {
            out[o++] = '0';
            out[o++] = '.';
            memset(out + o, '0', (size_t)-point);
            o += (size_t)-point;
            memcpy(out + o, dig, (size_t)n);
            return o + (size_t)n;
        }
        memcpy(out, dig, (size_t)point);
        out[point] = '.';
        memcpy(out + point + 1, dig + point, (size_t)(n - point));
        return (size_t)n + 1;
    }
    if (n > 18 - neg) n = 18 - neg;
    out[o++] = dig[0];
    if (n > 1) {
        out[o++] = '.';
        memcpy(out + o, dig + 1, (size_t)(n - 1));
        o += (size_t)(n - 1);
    }
    o += (size_t)sprintf(out + o, "e%c%d", K + n - 1 < 0 ? '-' : '+', exp);
    return o;
}

size_t keel_score_format(double d, char *buf)
{
    char tmp[KEEL_SCORE_MAX + 8];
    size_t n;
    if (isnan(d)) n = (size_t)sprintf(tmp, "nan");
    else if (isinf(d)) n = (size_t)sprintf(tmp, d < 0 ? "-inf" : "inf");
    else if (d == 0) n = (size_t)sprintf(tmp, signbit(d) ? "-0" : "0");
    else if (d >= -4611686018427387903.0 && d <= 4611686018427387903.0 && d == (double)(long long)d)
        n = (size_t)sprintf(tmp, "%lld", (long long)d);
    else {
        char dig[24];
        int e10;
        bool neg = d < 0;
        int nd = shortest(fabs(d), dig, &e10);
        n = 0;
        if (neg) tmp[n++] = '-';
        n += layout(dig, nd, e10 - nd + 1, neg, tmp + n);
    }
    memcpy(buf, tmp, n);
    return n;
}

bool keel_lex_parse(const uint8_t *p, size_t n, struct keel_lex_end *e)
{
    memset(e, 0, sizeof *e);
    if (n == 1 && (p[0] == '-' || p[0] == '+')) {
        e->inf = p[0] == '-' ? -1 : 1;
        return true;
    }
    if (n == 0 || (p[0] != '(' && p[0] != '[')) return false;
    e->ex = p[0] == '(';
    e->p = p + 1;
    e->n = n - 1;
    return true;
}

/* m against the bound: <0, 0, >0. */
static int lex_cmp(const uint8_t *m, size_t n, const struct keel_lex_end *e)
{
    if (e->inf != 0) return -e->inf;
    size_t k = n < e->n ? n : e->n;
    int c = k ? memcmp(m, e->p, k) : 0;
    return c != 0 ? c : (n > e->n) - (n < e->n);
}

bool keel_lex_gte_min(const uint8_t *m, size_t n, const struct keel_lex_end *min)
{
    int c = lex_cmp(m, n, min);
    return min->ex ? c > 0 : c >= 0;
}

bool keel_lex_lte_max(const uint8_t *m, size_t n, const struct keel_lex_end *max)
{
    int c = lex_cmp(m, n, max);
    return max->ex ? c < 0 : c <= 0;
}
