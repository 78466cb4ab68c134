/* api: fetching the leader's state image, on this node's loop, the way
 * keelctl backup save does: KEEL.SNAPSHOT BEGIN (on the leader, after a
 * read barrier there: the image holds every entry committed before the
 * call), READ in 4 MiB pieces, END. Each call travels as a member call
 * through the forwarder (forward.c), as the consistency check's digests and
 * the clock sync do: on the member channel behind member TLS, or with the
 * cluster token on the client port. So a repair works whatever the
 * client port asks of clients (a password on `default`, plaintext off).
 * Used by the repair (repair.c).
 *
 * Loop thread only. */
#ifndef KEEL_API_IMAGE_FETCH_H
#define KEEL_API_IMAGE_FETCH_H

#include <stddef.h>
#include <stdint.h>

struct fetch;
struct keel_server;

/* The fetch ended: image (malloc'd, size bytes, the image's index as BEGIN
 * said) is now the callback's to free; or image NULL and why says what
 * failed. Called once, from the loop, never from fetch_start, after
 * the leader's copy was released (END); the fetch then frees itself. */
typedef void (*fetch_cb)(void *data, uint8_t *image, size_t size, uint64_t index, const char *why);

/* Start fetching from the leader; each call bounded by timeout_ms. 0, or a
 * KEEL_* code with errmsg (KEEL_ERRMSG_SIZE) and the callback never called. */
int fetch_start(struct keel_server *srv, unsigned timeout_ms, fetch_cb cb, void *data, struct fetch **out,
                char *errmsg);
/* Abandon it at once (no END: the leader drops an idle image after 60 s):
 * the callback is not called; the fetch frees itself. Not after the
 * callback ran. */
void fetch_cancel(struct fetch *f);

#endif /* KEEL_API_IMAGE_FETCH_H */
