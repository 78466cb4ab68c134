/* api: fetching the leader's state image. See image_fetch.h.
 *
 * One call in flight at a time, each an internal slot handed to
 * fwd_request; its reply (the leader's, or the forwarder's error) comes
 * back in the slot's out buffer through on_internal_done. A cancel detaches
 * the fetch from the call in flight, whose reply is then dropped. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/server/image_fetch.h"
#include "api/server/server_internal.h"
#include "raft/membership.h"

#define FETCH_CHUNK (4u << 20) /* KEEL.SNAPSHOT READ's largest piece */
#define FETCH_MIN_SIZE 64      /* an image's header */

struct fetch
{
    struct keel_server *srv;
    unsigned timeout_ms;
    fetch_cb cb;
    void *data;
    struct slot *call;    /* the call in flight */
    void (*next)(struct fetch *f, const uint8_t *p, size_t n); /* its reply's handler */
    char id[24];          /* the leader's image id, "" before BEGIN answered */
    uint8_t *image;
    uint64_t size;
    uint64_t got;
    uint64_t index;
    char why[300];        /* why it failed, "" when complete */
    bool starting;        /* inside fetch_start: an answer now is its error, no callback */
    bool failed_at_start;
};

static void call_done(struct slot *s);

/* KEEL.SNAPSHOT sub [args...] to the leader; its reply to then. */
static int call(struct fetch *f, void (*then)(struct fetch *, const uint8_t *, size_t), const char *sub,
                const char *a1, const char *a2, const char *a3)
{
    struct keel_slice argv[5] = {keel_str("KEEL.SNAPSHOT"), keel_str(sub)};
    uint32_t argc = 2;
    if (a1) argv[argc++] = keel_str(a1);
    if (a2) argv[argc++] = keel_str(a2);
    if (a3) argv[argc++] = keel_str(a3);
    struct slot *s = slot_new(f->srv, NULL, argv, argc);
    if (s == NULL) return KEEL_ENOMEM;
    s->cmd = command_lookup(&argv[0]);
    s->on_internal_done = call_done;
    s->internal_data = f;
    s->deadline_ms = keel_mono_ms() + f->timeout_ms;
    f->call = s;
    f->next = then;
    fwd_request(s); /* answers s, at once or later: call_done */
    return 0;
}

static void finish(struct fetch *f)
{
    if (f->starting) { /* fwd_request answered at once (no leader, ...): fetch_start says so */
        f->failed_at_start = true;
        return;
    }
    bool ok = f->why[0] == 0;
    uint8_t *image = ok ? f->image : NULL;
    if (ok) f->image = NULL; /* the callback's now */
    f->cb(f->data, image, (size_t)f->size, f->index, ok ? NULL : f->why);
    free(f->image);
    free(f);
}

static void end_answered(struct fetch *f, const uint8_t *p, size_t n)
{
    (void)p;
    (void)n;
    finish(f);
}

/* The fetch is over (why NULL: the image is complete). The leader's copy is
 * released first (END), so that the next BEGIN anywhere is not -BUSY for a
 * minute, and only then the callback runs. */
static void done(struct fetch *f, const char *why)
{
    snprintf(f->why, sizeof f->why, "%s", why ? why : "");
    if (f->id[0] && call(f, end_answered, "END", f->id, NULL, NULL) == 0) return;
    finish(f);
}

/* An error reply as text ("" if p is not one). */
static void error_text(const uint8_t *p, size_t n, char *out, size_t size)
{
    out[0] = 0;
    if (n < 1 || p[0] != '-') return;
    size_t m = n > 3 ? n - 3 : 0;
    snprintf(out, size, "%.*s", (int)(m < size - 1 ? m : size - 1), (const char *)p + 1);
}

static void read_answered(struct fetch *f, const uint8_t *p, size_t n);

static void read_next(struct fetch *f)
{
    char off[24], count[24];
    uint64_t n = f->size - f->got < FETCH_CHUNK ? f->size - f->got : FETCH_CHUNK;
    snprintf(off, sizeof off, "%" PRIu64, f->got);
    snprintf(count, sizeof count, "%" PRIu64, n);
    if (call(f, read_answered, "READ", f->id, off, count) != 0) done(f, "KEEL.SNAPSHOT READ: out of memory");
}

static void read_answered(struct fetch *f, const uint8_t *p, size_t n)
{
    char err[256], msg[300];
    long long len = -1;
    int hdr = 0;
    error_text(p, n, err, sizeof err);
    if (err[0] == 0 && (n < 4 || p[0] != '$' || sscanf((const char *)p, "$%lld\r\n%n", &len, &hdr) != 1 || hdr == 0 ||
                        len <= 0 || (uint64_t)len > f->size - f->got || (size_t)hdr + (size_t)len + 2 != n))
        snprintf(err, sizeof err, "not a piece of the image");
    if (err[0] != 0) {
        snprintf(msg, sizeof msg, "reading the leader's image: %s", err);
        done(f, msg);
        return;
    }
    memcpy(f->image + f->got, p + hdr, (size_t)len);
    f->got += (uint64_t)len;
    if (f->got < f->size) read_next(f);
    else done(f, NULL);
}

static void begin_answered(struct fetch *f, const uint8_t *p, size_t n)
{
    char err[256], msg[300], text[128];
    long long id, size, index;
    error_text(p, n, err, sizeof err);
    snprintf(text, sizeof text, "%.*s", (int)(n < sizeof text - 1 ? n : sizeof text - 1), (const char *)p);
    if (err[0] == 0) {
        if (sscanf(text, "*6\r\n:%lld\r\n:%lld\r\n:%lld\r\n", &id, &size, &index) != 3) {
            snprintf(err, sizeof err, "KEEL.SNAPSHOT BEGIN: unexpected reply");
        } else {
            snprintf(f->id, sizeof f->id, "%lld", id);
            f->index = (uint64_t)index;
            if (size < FETCH_MIN_SIZE) snprintf(err, sizeof err, "KEEL.SNAPSHOT BEGIN: an image shorter than its header");
            else if ((uint64_t)size > SIZE_MAX / 2 || (f->image = malloc((size_t)size)) == NULL)
                snprintf(err, sizeof err, "no memory for the image");
            else f->size = (uint64_t)size;
        }
    }
    if (err[0] != 0) {
        snprintf(msg, sizeof msg, "asking the leader for an image: %s", err);
        done(f, msg);
        return;
    }
    read_next(f);
}

/* A call was answered (the leader's reply, or why it was not) or dropped. */
static void call_done(struct slot *s)
{
    struct fetch *f = s->internal_data;
    if (f == NULL) return; /* cancelled */
    f->call = NULL;
    if (s->out.oom) {
        done(f, "out of memory reading the leader's reply");
        return;
    }
    f->next(f, s->out.p, s->out.len);
}

int fetch_start(struct keel_server *srv, unsigned timeout_ms, fetch_cb cb, void *data, struct fetch **out,
                char *errmsg)
{
    struct fetch *f = calloc(1, sizeof *f);
    if (f == NULL) return KEEL_ENOMEM;
    f->srv = srv;
    f->timeout_ms = timeout_ms;
    f->cb = cb;
    f->data = data;
    *out = f;
    f->starting = true;
    int rc = call(f, begin_answered, "BEGIN", NULL, NULL, NULL);
    f->starting = false;
    if (rc != 0) snprintf(errmsg, KEEL_ERRMSG_SIZE, "KEEL.SNAPSHOT BEGIN: %s", keel_strerror(rc));
    else if (f->failed_at_start) snprintf(errmsg, KEEL_ERRMSG_SIZE, "%s", f->why), rc = KEEL_EIO;
    if (rc != 0) {
        free(f->image);
        free(f);
    }
    return rc;
}

void fetch_cancel(struct fetch *f)
{
    if (f == NULL) return;
    /* No END: closing must not wait for the leader (a stopping node). The
     * leader drops an image idle for 60 s. */
    if (f->call != NULL) f->call->internal_data = NULL;
    free(f->image);
    free(f);
}
