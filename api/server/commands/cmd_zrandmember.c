/* api: ZRANDMEMBER key [count [WITHSCORES]] (Redis 7.2's zrandmemberCommand):
 * a read, so the members are chosen on the node that answers and nothing
 * random reaches the log. A negative count may repeat members (in random
 * order); a positive one gives distinct members, at most the whole set. */
#include <stdint.h>
#include <stdlib.h>

#include "api/server/commands/commands.h"

/* The most members a negative count may ask for: Redis streams any number;
 * Keel builds the reply in memory, so it bounds it (as SRANDMEMBER). */
#define ZRANDMEMBER_MAX_REPEAT (1u << 20)

static void reply_one(struct slot *s, const struct keel_zres *all, size_t i, bool withscores)
{
    struct keel_slice m = keel_members_at(&all->ms, i);
    if (withscores && s->proto >= 3) resp_array(&s->out, 2);
    resp_bulk(&s->out, m.p, m.n);
    if (withscores) zset_reply_score(&s->out, s->proto, all->sc[i]);
}

/* count distinct members of all, or every one (in order) if count covers it. */
static int reply_distinct(struct slot *s, const struct keel_zres *all, uint64_t count, bool withscores)
{
    size_t n = count < all->ms.n ? (size_t)count : all->ms.n;
    size_t *idx = malloc(all->ms.n * sizeof *idx);
    if (idx == NULL) return KEEL_ENOMEM;
    for (size_t i = 0; i < all->ms.n; i++) idx[i] = i;
    for (size_t i = 0; i < n && n < all->ms.n; i++) {
        size_t j = i + (size_t)(srv_random() % (all->ms.n - i));
        size_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    resp_array(&s->out, withscores && s->proto < 3 ? 2 * n : n);
    for (size_t i = 0; i < n; i++) reply_one(s, all, idx[i], withscores);
    free(idx);
    return 0;
}

CMD_DECL_READ(cmd_zrandmember)
{
    static const struct keel_zsel every = {.by = KEEL_ZSEL_RANK, .start = 0, .end = -1};
    struct keel_coll coll;
    struct keel_zres all;
    bool withscores = false, wrong;
    long long l = 0;
    if (s->argc >= 3) {
        if (!srv_arg_int(s, 2, &l)) return 0;
        if (l == INT64_MIN) {
            srv_reply_error(&s->out, KEEL_EINVAL, "value is out of range, must be between "
                            "-9223372036854775807 and 9223372036854775807");
            return 0;
        }
        if (s->argc > 4 || (s->argc == 4 && !slot_arg_is(s, 3, "withscores"))) {
            srv_syntax_error(s);
            return 0;
        }
        if (s->argc == 4) {
            withscores = true;
            if (l < -INT64_MAX / 2 || l > INT64_MAX / 2) {
                srv_reply_error(&s->out, KEEL_EINVAL, "value is out of range");
                return 0;
            }
        }
    }
    int rc = zset_load(s, rd, &coll, &wrong);
    if (rc != 0 || wrong) return rc;
    uint64_t count = l < 0 ? (uint64_t)-l : (uint64_t)l;
    if (coll.id == 0 || (s->argc >= 3 && count == 0)) {
        if (s->argc == 2) resp_null(&s->out, s->proto);
        else resp_array(&s->out, 0);
        return 0;
    }
    if (l < 0 && count > ZRANDMEMBER_MAX_REPEAT) {
        srv_reply_errorf(&s->out, KEEL_EINVAL, "a negative ZRANDMEMBER count may ask for at most "
                         "%u members in Keel", ZRANDMEMBER_MAX_REPEAT);
        return 0;
    }
    keel_zres_init(&all);
    rc = keel_read_zselect(rd, &coll, &every, &all);
    if (rc == 0 && all.ms.n == 0) rc = KEEL_ECORRUPT; /* a live set is never empty */
    if (rc == 0 && s->argc == 2) {
        struct keel_slice m = keel_members_at(&all.ms, srv_random() % all.ms.n);
        resp_bulk(&s->out, m.p, m.n);
    } else if (rc == 0 && (l < 0 || count == 1)) {
        /* Redis's case 1: each pick from the whole set, repeats allowed. */
        resp_array(&s->out, withscores && s->proto < 3 ? 2 * count : count);
        for (uint64_t i = 0; i < count; i++) reply_one(s, &all, srv_random() % all.ms.n, withscores);
    } else if (rc == 0) {
        rc = reply_distinct(s, &all, count, withscores);
    }
    keel_zres_close(&all);
    return rc;
}
