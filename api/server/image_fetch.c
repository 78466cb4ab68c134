/* api: fetching the leader's state image. See image_fetch.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keel/async.h>

#include "api/server/image_fetch.h"

#define FETCH_CHUNK (4u << 20) /* KEEL.SNAPSHOT READ's largest piece */
#define FETCH_MIN_SIZE 64      /* an image's header */

struct fetch
{
    struct keel_async *client;
    char addr[64];
    fetch_cb cb;
    void *data;
    char id[24];      /* the leader's image id, "" before BEGIN answered */
    uint8_t *image;
    uint64_t size;
    uint64_t got;
    uint64_t index;
    char why[300];    /* why it failed, "" when complete */
    bool over;        /* called back or cancelled: callbacks only clean up */
};

static void closed_cb(void *data)
{
    struct fetch *f = data;
    free(f->image);
    free(f);
}

/* Call back and close: the client has no call outstanding any more. */
static void complete(struct fetch *f)
{
    bool ok = f->why[0] == 0;
    uint8_t *image = ok ? f->image : NULL;
    if (ok) f->image = NULL; /* the callback's now */
    f->over = true;
    f->cb(f->data, image, (size_t)f->size, f->index, ok ? NULL : f->why);
    keel_async_close(f->client, closed_cb, f);
}

static void end_cb(struct keel_async *a, int status, struct keel_value *reply, const char *errmsg, void *data)
{
    struct fetch *f = data;
    (void)a;
    (void)status;
    (void)errmsg;
    keel_value_free(reply);
    if (!f->over) complete(f); /* else cancelled: the close is under way */
}

/* The fetch is over (why NULL: the image is complete). The leader's copy is
 * released first (END), so that the next BEGIN anywhere is not -BUSY for a
 * minute, and only then the callback runs: until it does, a cancel can
 * still close everything at once. */
static void done(struct fetch *f, const char *why)
{
    snprintf(f->why, sizeof f->why, "%s", why ? why : "");
    if (f->id[0] && keel_async_callv(f->client, end_cb, f, "KEEL.SNAPSHOT", "END", f->id, NULL) == 0) return;
    complete(f);
}

/* NULL: the fetch is over (ignore the reply); "": fine; else why not. */
static const char *check(struct fetch *f, int status, const struct keel_value *v, const char *errmsg)
{
    if (f->over) return NULL;
    if (status != 0) return errmsg[0] ? errmsg : keel_strerror(status);
    if (v->type == KEEL_VALUE_ERROR) return v->str;
    return "";
}

static void read_cb(struct keel_async *a, int status, struct keel_value *reply, const char *errmsg, void *data);

static void read_next(struct fetch *f)
{
    char off[24], count[24];
    uint64_t n = f->size - f->got < FETCH_CHUNK ? f->size - f->got : FETCH_CHUNK;
    snprintf(off, sizeof off, "%" PRIu64, f->got);
    snprintf(count, sizeof count, "%" PRIu64, n);
    if (keel_async_callv(f->client, read_cb, f, "KEEL.SNAPSHOT", "READ", f->id, off, count, NULL) != 0)
        done(f, "KEEL.SNAPSHOT READ: cannot queue the call");
}

static void read_cb(struct keel_async *a, int status, struct keel_value *reply, const char *errmsg, void *data)
{
    struct fetch *f = data;
    char msg[300];
    (void)a;
    const char *why = check(f, status, reply, errmsg);
    if (why != NULL && why[0] == 0 &&
        (reply->type != KEEL_VALUE_STRING || reply->len == 0 || reply->len > f->size - f->got))
        why = "KEEL.SNAPSHOT READ: not a piece of the image";
    if (why == NULL || why[0] != 0) {
        if (why != NULL) snprintf(msg, sizeof msg, "reading the image from %s: %s", f->addr, why);
        keel_value_free(reply);
        if (why != NULL) done(f, msg);
        return;
    }
    memcpy(f->image + f->got, reply->str, reply->len);
    f->got += reply->len;
    keel_value_free(reply);
    if (f->got < f->size) read_next(f);
    else done(f, NULL);
}

static void begin_cb(struct keel_async *a, int status, struct keel_value *reply, const char *errmsg, void *data)
{
    struct fetch *f = data;
    char msg[300];
    (void)a;
    const char *why = check(f, status, reply, errmsg);
    if (why != NULL && why[0] == 0) {
        if (reply->type != KEEL_VALUE_ARRAY || reply->n != 6 || reply->elements[0]->type != KEEL_VALUE_INTEGER ||
            reply->elements[1]->type != KEEL_VALUE_INTEGER || reply->elements[2]->type != KEEL_VALUE_INTEGER) {
            why = "KEEL.SNAPSHOT BEGIN: unexpected reply";
        } else {
            snprintf(f->id, sizeof f->id, "%lld", reply->elements[0]->integer);
            long long size = reply->elements[1]->integer;
            f->index = (uint64_t)reply->elements[2]->integer;
            if (size < FETCH_MIN_SIZE) why = "KEEL.SNAPSHOT BEGIN: an image shorter than its header";
            else if ((uint64_t)size > SIZE_MAX / 2 || (f->image = malloc((size_t)size)) == NULL)
                why = "no memory for the image";
            else f->size = (uint64_t)size;
        }
    }
    keel_value_free(reply);
    if (why == NULL) return;
    if (why[0] != 0) {
        snprintf(msg, sizeof msg, "asking %s for an image: %s", f->addr, why);
        done(f, msg);
        return;
    }
    read_next(f);
}

int fetch_start(uv_loop_t *loop, const char *addr, unsigned timeout_ms, fetch_cb cb, void *data,
                struct fetch **out, char *errmsg)
{
    struct fetch *f = calloc(1, sizeof *f);
    if (f == NULL) return KEEL_ENOMEM;
    snprintf(f->addr, sizeof f->addr, "%s", addr);
    f->cb = cb;
    f->data = data;
    struct keel_client_options o = {.endpoints = f->addr, .timeout_ms = timeout_ms};
    int rc = keel_async_open(loop, &o, &f->client, errmsg, KEEL_ERRMSG_SIZE);
    if (rc != 0) {
        free(f);
        return rc;
    }
    rc = keel_async_callv(f->client, begin_cb, f, "KEEL.SNAPSHOT", "BEGIN", NULL);
    if (rc != 0) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "KEEL.SNAPSHOT BEGIN: %s", keel_strerror(rc));
        f->over = true;
        keel_async_close(f->client, closed_cb, f);
        return rc;
    }
    *out = f;
    return 0;
}

void fetch_cancel(struct fetch *f)
{
    if (f == NULL || f->over) return;
    /* No END: closing must not wait for the leader (a stopping node). The
     * leader drops an image idle for 60 s. */
    f->over = true;
    keel_async_close(f->client, closed_cb, f);
}
