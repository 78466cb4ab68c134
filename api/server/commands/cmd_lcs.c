/* api: LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN], Redis 7's
 * longest common subsequence of two strings: the classic dynamic program
 * over a (|a|+1) x (|b|+1) table of prefix LCS lengths, walked back from the
 * end to spell the subsequence and its matching ranges. The walk prefers
 * stepping in b when the two ways tie, as Redis does, so the same
 * subsequence (of possibly several) comes back.
 *
 * The table is transient and its size is quadratic: it is capped at
 * LCS_TABLE_MAX bytes (Redis caps it at proto-max-bulk-len, 512 MB; Keel
 * answers on its event loop and keeps the cap far lower). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/server/commands/commands.h"

#define LCS_TABLE_MAX (64ull << 20)

struct lcs_range
{
    uint32_t a0, a1, b0, b1;
};

struct lcs_opts
{
    bool len, idx, withlen;
    long long minlen;
};

static bool lcs_options(struct slot *s, struct lcs_opts *o)
{
    memset(o, 0, sizeof *o);
    for (uint32_t j = 3; j < s->argc; j++) {
        struct keel_slice a = s->argv[j];
        bool more = j + 1 < s->argc;
        if (a.n == 3 && strncasecmp((const char *)a.p, "idx", 3) == 0) o->idx = true;
        else if (a.n == 3 && strncasecmp((const char *)a.p, "len", 3) == 0) o->len = true;
        else if (a.n == 12 && strncasecmp((const char *)a.p, "withmatchlen", 12) == 0) o->withlen = true;
        else if (a.n == 11 && strncasecmp((const char *)a.p, "minmatchlen", 11) == 0 && more) {
            if (!srv_arg_int(s, ++j, &o->minlen)) return false;
            if (o->minlen < 0) o->minlen = 0;
        } else {
            srv_syntax_error(s);
            return false;
        }
    }
    if (o->len && o->idx) {
        srv_reply_error(&s->out, KEEL_EINVAL, "If you want both the length and indexes, please just use IDX.");
        return false;
    }
    return true;
}

/* The string at key, "" when absent; false (replied) for another type. */
static int lcs_input(struct slot *s, struct keel_read *rd, uint32_t i, struct keel_slice *v, bool *wrong)
{
    struct keel_record rec;
    int rc = keel_read_get(rd, s->argv[i], &rec);
    *v = (struct keel_slice){(const uint8_t *)"", 0};
    if (rc == KEEL_ENOTFOUND) return 0;
    if (rc != 0) return rc;
    if (rec.type != KEEL_TYPE_STRING) *wrong = true;
    else *v = (struct keel_slice){rec.val, rec.len};
    return 0;
}

static void lcs_reply_ranges(struct slot *s, const struct lcs_opts *o, const struct lcs_range *r, size_t n,
                             uint32_t total)
{
    resp_map(&s->out, s->proto, 2);
    resp_bulk_str(&s->out, "matches");
    resp_array(&s->out, n);
    for (size_t k = 0; k < n; k++) {
        resp_array(&s->out, o->withlen ? 3 : 2);
        resp_array(&s->out, 2);
        resp_int(&s->out, r[k].a0);
        resp_int(&s->out, r[k].a1);
        resp_array(&s->out, 2);
        resp_int(&s->out, r[k].b0);
        resp_int(&s->out, r[k].b1);
        if (o->withlen) resp_int(&s->out, r[k].a1 - r[k].a0 + 1);
    }
    resp_bulk_str(&s->out, "len");
    resp_int(&s->out, total);
}

CMD_DECL_READ(cmd_lcs)
{
    struct keel_slice a, b;
    bool wrong = false;
    int rc = lcs_input(s, rd, 1, &a, &wrong);
    if (rc == 0) rc = lcs_input(s, rd, 2, &b, &wrong);
    if (rc != 0) return rc;
    if (wrong) {
        srv_reply_error(&s->out, KEEL_EINVAL, "The specified keys must contain string values");
        return 0;
    }
    struct lcs_opts o;
    if (!lcs_options(s, &o)) return 0;
    uint64_t cells = (uint64_t)(a.n + 1) * (b.n + 1);
    if (cells * sizeof(uint32_t) > LCS_TABLE_MAX) {
        srv_reply_error(&s->out, KEEL_EINVAL,
                        "Insufficient memory, transient memory for LCS exceeds Keel's limit of 64 MB");
        return 0;
    }
    uint32_t *t = malloc((size_t)cells * sizeof *t);
    size_t w = b.n + 1;
#define L(i, j) t[(size_t)(i) * w + (j)]
    if (t == NULL) return KEEL_ENOMEM;
    for (size_t i = 0; i <= a.n; i++)
        for (size_t j = 0; j <= b.n; j++) {
            if (i == 0 || j == 0) L(i, j) = 0;
            else if (a.p[i - 1] == b.p[j - 1]) L(i, j) = L(i - 1, j - 1) + 1;
            else L(i, j) = L(i - 1, j) > L(i, j - 1) ? L(i - 1, j) : L(i, j - 1);
        }
    uint32_t total = L(a.n, b.n);
    if (o.len) {
        free(t);
        resp_int(&s->out, total);
        return 0;
    }
    /* Walk back: the subsequence is spelled from its end; a run of matches
     * on both diagonals is one range, emitted when the run breaks. */
    uint8_t *out = malloc(total ? total : 1);
    struct lcs_range *ranges = malloc((total ? total : 1) * sizeof *ranges), cur = {0};
    if (out == NULL || ranges == NULL) {
        free(t), free(out), free(ranges);
        return KEEL_ENOMEM;
    }
    size_t nr = 0, i = a.n, j = b.n;
    uint32_t k = total;
    bool open = false;
    while (i > 0 && j > 0) {
        bool emit = false;
        if (a.p[i - 1] == b.p[j - 1]) {
            out[--k] = a.p[i - 1];
            if (!open) cur = (struct lcs_range){(uint32_t)i - 1, (uint32_t)i - 1, (uint32_t)j - 1, (uint32_t)j - 1}, open = true;
            else if (cur.a0 == i && cur.b0 == j) cur.a0--, cur.b0--;
            else emit = true;
            if (cur.a0 == 0 || cur.b0 == 0) emit = true;
            i--, j--;
        } else {
            if (L(i - 1, j) > L(i, j - 1)) i--;
            else j--;
            if (open) emit = true;
        }
        if (emit) {
            if (o.minlen == 0 || (long long)(cur.a1 - cur.a0 + 1) >= o.minlen) ranges[nr++] = cur;
            open = false;
        }
    }
#undef L
    if (o.idx) lcs_reply_ranges(s, &o, ranges, nr, total);
    else resp_bulk(&s->out, out, total);
    free(t), free(out), free(ranges);
    return 0;
}
