/* examples/session-service: a service that keeps its user sessions in Keel
 * through libkeel, and must keep working while nodes fail.
 *
 *   session-service [--endpoints H:P,...] [--sessions 50] [--seconds 10]
 *                   [--ttl-ms 60000] [--prefix svc]
 *
 * It creates its sessions (a hash: user, step), then serves "requests": each
 * reads a session, advances its step with a compare-and-set on the version
 * it read, and now and then refreshes the TTL. It remembers what it wrote;
 * at the end it restores every session from Keel and checks it against that
 * memory. A request whose outcome stays unknown (KEEL_EUNCERTAIN) is
 * counted, and the next read of that session settles it.
 *
 * Prints one line of figures and exits 0 when every session came back as
 * written and no request failed outright; 1 otherwise; 2 on bad usage. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <keel/session.h>

struct sess
{
    char key[64];
    long step;        /* what we last know we wrote */
    bool unsettled;   /* an update's outcome is unknown */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long step_of(const struct keel_session *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->fields[i], "step") == 0) return atol(s->values[i]);
    return -1;
}

int main(int argc, char **argv)
{
    const char *endpoints = NULL, *prefix = "svc";
    long nsess = 50, ttl_ms = 60000;
    double seconds = 10;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v && !strcmp(argv[i], "--endpoints")) endpoints = v, i++;
        else if (v && !strcmp(argv[i], "--sessions")) nsess = atol(v), i++;
        else if (v && !strcmp(argv[i], "--seconds")) seconds = atof(v), i++;
        else if (v && !strcmp(argv[i], "--ttl-ms")) ttl_ms = atol(v), i++;
        else if (v && !strcmp(argv[i], "--prefix")) prefix = v, i++;
        else {
            fprintf(stderr, "usage: session-service [--endpoints H:P,...] [--sessions N] [--seconds S] "
                            "[--ttl-ms MS] [--prefix P]\n");
            return 2;
        }
    }
    if (nsess < 1 || nsess > 100000 || ttl_ms < 1000 || seconds < 0) {
        fprintf(stderr, "session-service: --sessions 1..100000, --ttl-ms >= 1000, --seconds >= 0\n");
        return 2;
    }
    char err[KEEL_ERRMSG_SIZE];
    struct keel_client *c;
    struct keel_client_options o = {.endpoints = endpoints, .timeout_ms = 10000};
    if (keel_client_open(&o, &c, err, sizeof err) != 0) {
        fprintf(stderr, "session-service: %s\n", err);
        return 2;
    }
    struct sess *ss = calloc((size_t)nsess, sizeof *ss);
    long requests = 0, uncertain = 0, failed = 0, conflicts = 0, restored = 0, wrong = 0;
    double worst = 0;
    if (ss == NULL) return 1;

    for (long i = 0; i < nsess; i++) {
        char user[32];
        snprintf(ss[i].key, sizeof ss[i].key, "%s:session:%ld", prefix, i);
        snprintf(user, sizeof user, "user%ld", i);
        const char *f[] = {"user", "step"}, *v[] = {user, "0"};
        int rc = keel_session_put(c, ss[i].key, 2, f, v, NULL, (uint64_t)ttl_ms, err, sizeof err);
        if (rc == KEEL_EUNCERTAIN) ss[i].unsettled = true, uncertain++;
        else if (rc != 0) fprintf(stderr, "session-service: put %s: %s\n", ss[i].key, err), failed++;
    }

    uint64_t rng = (uint64_t)time(NULL) | 1;
    double end = now_s() + seconds;
    while (now_s() < end) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        struct sess *s = &ss[rng % (uint64_t)nsess];
        double t0 = now_s();
        struct keel_session *doc;
        int rc = keel_session_get(c, s->key, &doc, err, sizeof err);
        if (rc != 0) {
            fprintf(stderr, "session-service: get %s: %s\n", s->key, err);
            failed++;
            continue;
        }
        long got = doc->found ? step_of(doc) : -1;
        if (s->unsettled && !doc->found) {
            /* an unknown put that did not happen: put it again */
            char user[32];
            snprintf(user, sizeof user, "user%ld", (long)(s - ss));
            const char *f[] = {"user", "step"}, *v[] = {user, "0"};
            rc = keel_session_put(c, s->key, 2, f, v, NULL, (uint64_t)ttl_ms, err, sizeof err);
            if (rc == 0) s->unsettled = false, s->step = 0;
            keel_session_free(doc);
            continue;
        }
        if (s->unsettled && (got == s->step || got == s->step + 1)) {
            s->step = got; /* the read settles what the unknown update did */
            s->unsettled = false;
        } else if (!s->unsettled && got != s->step) {
            fprintf(stderr, "session-service: %s has step %ld, wrote %ld\n", s->key, got, s->step);
            wrong++;
        }
        char next[24];
        snprintf(next, sizeof next, "%ld", got + 1);
        bool swapped = false;
        if (doc->found && !s->unsettled) {
            rc = keel_session_cas(c, s->key, doc->version, "step", next, strlen(next), &swapped, err, sizeof err);
            if (rc == 0 && swapped) s->step = got + 1;
            else if (rc == 0) conflicts++; /* nobody else writes these: should not happen */
            else if (rc == KEEL_EUNCERTAIN) s->unsettled = true, uncertain++;
            else fprintf(stderr, "session-service: cas %s: %s\n", s->key, err), failed++;
        }
        if (rc == 0 && rng % 8 == 0) {
            bool found;
            rc = keel_session_refresh(c, s->key, (uint64_t)ttl_ms, &found, err, sizeof err);
            if (rc != 0 && rc != KEEL_EUNCERTAIN) fprintf(stderr, "session-service: refresh: %s\n", err), failed++;
        }
        keel_session_free(doc);
        requests++;
        if (now_s() - t0 > worst) worst = now_s() - t0;
    }

    /* Restore: every session as we wrote it. */
    for (long i = 0; i < nsess; i++) {
        struct keel_session *doc;
        if (keel_session_get(c, ss[i].key, &doc, err, sizeof err) != 0) {
            fprintf(stderr, "session-service: restore %s: %s\n", ss[i].key, err);
            failed++;
            continue;
        }
        long got = doc->found ? step_of(doc) : -1;
        bool ok = ss[i].unsettled ? got == ss[i].step || got == ss[i].step + 1 : got == ss[i].step;
        if (ok) restored++;
        else fprintf(stderr, "session-service: %s restored with step %ld, wrote %ld\n", ss[i].key, got, ss[i].step),
             wrong++;
        keel_session_free(doc);
    }
    printf("sessions %ld restored %ld wrong %ld requests %" PRId64 " uncertain %ld failed %ld conflicts %ld "
           "slowest_request_ms %.0f\n",
           nsess, restored, wrong, (int64_t)requests, uncertain, failed, conflicts, worst * 1000);
    keel_client_close(c);
    free(ss);
    return wrong == 0 && failed == 0 && conflicts == 0 && restored == nsess ? 0 : 1;
}
