/* jepsen: the `member` nemesis's requests (see member.h).
 *
 * KEEL.MEMBER changes are idempotent (a change already in effect answers
 * +OK, a retry of the one running waits for it), so a request that timed
 * out or got -UNCERTAIN is simply sent again, to whichever node answers,
 * until one says +OK or time runs out. Each carries TIMEOUT, so none we gave
 * up on takes effect after we returned: a remove the nemesis called
 * uncertain cannot land after the heal's restore looked. */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "jepsen/runner/member.h"
#include "jepsen/runner/secure.h"

static redisReply *ask(struct jrun *run, unsigned j, unsigned timeout_ms, const char *cmd)
{
    redisContext *c = jrun_connect(run, j, timeout_ms, true);
    redisReply *r = NULL;
    if (c != NULL) {
        r = redisCommand(c, cmd); /* cmd is ours, with no '%': hiredis splits it at spaces */
    }
    if (c) redisFree(c);
    return r;
}

/* Send cmd (about node index i) until a node answers +OK, each try with a
 * client timeout of at most cap_ms and the server told (TIMEOUT) to take
 * no step of the change after a second less: it answers before we give up
 * on it, and nothing we gave up on can take effect later. */
static int change(struct jrun *run, unsigned i, const char *cmd, unsigned timeout_ms, unsigned cap_ms,
                  char *what, size_t size)
{
    int64_t end = jrun_now() + (int64_t)timeout_ms * 1000000;
    bool maybe = false;
    snprintf(what, size, "no node answered");
    while (jrun_now() < end) {
        for (unsigned j = 0; j < run->n && jrun_now() < end; j++) {
            /* The node itself may be cut off or no longer a member: ask the
             * others first, it only when alone. */
            if ((j == i && run->n > 1) || run->pid[j] <= 0 || run->paused[j]) continue;
            int64_t left_ms = (end - jrun_now()) / 1000000;
            unsigned t = left_ms > cap_ms ? cap_ms : left_ms < 1200 ? 1200 : (unsigned)left_ms;
            char full[256];
            snprintf(full, sizeof full, "%s TIMEOUT %u", cmd, t - 1000);
            redisReply *r = ask(run, j, t, full);
            if (r == NULL) {
                maybe = true; /* sent, perhaps, and no answer: it may commit */
                snprintf(what, size, "n%u: no answer", j + 1);
                continue;
            }
            bool ok = r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0;
            if (r->type == REDIS_REPLY_ERROR) {
                maybe |= strncmp(r->str, "UNCERTAIN", 9) == 0;
                snprintf(what, size, "n%u: %.400s", j + 1, r->str);
            }
            freeReplyObject(r);
            if (ok) {
                snprintf(what, size, "ok");
                return JMEMBER_OK;
            }
        }
        usleep(200 * 1000);
    }
    return maybe ? JMEMBER_UNCERTAIN : JMEMBER_FAILED;
}

int jmember_remove(struct jrun *run, unsigned i, unsigned timeout_ms, char *what, size_t size)
{
    char cmd[64];
    snprintf(cmd, sizeof cmd, "KEEL.MEMBER REMOVE %u", i + 1);
    return change(run, i, cmd, timeout_ms, 10000, what, size);
}

int jmember_add(struct jrun *run, unsigned i, unsigned timeout_ms, char *what, size_t size)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "KEEL.MEMBER ADD %u %s:%d", i + 1, run->host[i], JRUN_RAFT_PORT);
    /* A node far behind is caught up as a standby across tries: each try
     * that runs out of time leaves it replicating, the next finds it closer. */
    return change(run, i, cmd, timeout_ms, 20000, what, size);
}

/* Bit i set when node index i is a voter in node j's configuration. */
static uint32_t voters_seen_by(struct jrun *run, unsigned j)
{
    uint32_t voters = 0;
    redisReply *r = ask(run, j, 2000, "KEEL.MEMBER LIST");
    if (r == NULL) return 0;
    for (size_t m = 0; r->type == REDIS_REPLY_ARRAY && m < r->elements; m++) {
        redisReply *e = r->element[m];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 4) continue;
        long long id = e->element[0]->integer;
        if (id >= 1 && id <= (long long)run->n && strcmp(e->element[3]->str, "voter") == 0)
            voters |= 1u << (id - 1);
    }
    freeReplyObject(r);
    return voters;
}

bool jmember_restore(struct jrun *run, unsigned timeout_ms)
{
    int64_t end = jrun_now() + (int64_t)timeout_ms * 1000000;
    uint32_t all = (1u << run->n) - 1;
    while (jrun_now() < end) {
        int leader = jrun_leader(run);
        uint32_t voters = leader >= 0 ? voters_seen_by(run, (unsigned)leader) : 0;
        if (voters == all) return true;
        for (unsigned i = 0; leader >= 0 && i < run->n; i++) {
            if (voters & (1u << i)) continue;
            char what[512];
            int64_t left_ms = (end - jrun_now()) / 1000000;
            if (left_ms <= 0) break;
            jmember_add(run, i, (unsigned)left_ms, what, sizeof what);
            fprintf(stderr, "jepsen: member add n%u (restoring): %s\n", i + 1, what);
        }
        if (leader < 0) usleep(200 * 1000);
    }
    return false;
}
