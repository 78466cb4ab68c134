/* common: the growable byte buffer whose first allocation failure sticks.
 *
 * Reply and command builders append many small pieces and check for failure
 * once, at the end: after an allocation fails every later append is a no-op
 * and the flag stays set, so a half-written reply is never mistaken for a
 * whole one. grow_room() is the one growth policy (double from a first size,
 * overflow checked); struct buf wraps it with that sticky flag. Types whose
 * fields are spelled differently (store's struct keel_reply and struct
 * keel_enc) call grow_room() on their own fields and keep their own flag.
 *
 * Header only, libc only: every layer may include it (see common/le.h). */
#ifndef KEEL_COMMON_BUF_H
#define KEEL_COMMON_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_FIRST 64 /* the first allocation, in bytes */

/* Room for n more bytes after the len bytes of *p (which holds *cap bytes),
 * growing *p by doubling from BUF_FIRST. Returns the address of the n bytes
 * (len is the caller's to advance), or NULL when the size overflows or
 * realloc fails; then *p and *cap are as they were. */
static inline uint8_t *grow_room(uint8_t **p, size_t *cap, size_t len, size_t n)
{
    if (n > SIZE_MAX - len) return NULL;
    if (len + n > *cap) {
        size_t c = *cap ? *cap : BUF_FIRST;
        while (c < len + n) {
            if (c > SIZE_MAX / 2) return NULL;
            c *= 2;
        }
        uint8_t *np = realloc(*p, c);
        if (np == NULL) return NULL;
        *p = np;
        *cap = c;
    }
    return *p + len;
}

/* p[0..len) is the content; oom is the sticky failure. Zeroed is empty. */
struct buf
{
    uint8_t *p;
    size_t len;
    size_t cap;
    bool oom;
};

static inline void buf_init(struct buf *b)
{
    memset(b, 0, sizeof *b);
}

/* Frees the memory; b is empty again and may be reused. */
static inline void buf_close(struct buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* Appends n bytes and returns their address for the caller to fill, or
 * NULL once the buffer has failed (then nothing is appended, ever). */
static inline uint8_t *buf_reserve(struct buf *b, size_t n)
{
    if (b->oom) return NULL;
    uint8_t *at = grow_room(&b->p, &b->cap, b->len, n);
    if (at == NULL) {
        b->oom = true;
        return NULL;
    }
    b->len += n;
    return at;
}

static inline void buf_append(struct buf *b, const void *s, size_t n)
{
    if (n == 0) return;
    uint8_t *at = buf_reserve(b, n);
    if (at != NULL) memcpy(at, s, n);
}

/* Appends printf output (without its NUL). Formats into the spare room
 * first and again, once, after growing when that was too small. */
__attribute__((format(printf, 2, 0))) static inline void buf_vprintf(struct buf *b, const char *fmt,
                                                                    va_list ap)
{
    if (b->oom) return;
    va_list again;
    va_copy(again, ap);
    size_t room = b->cap - b->len;
    int n = vsnprintf(room ? (char *)b->p + b->len : NULL, room, fmt, ap);
    if (n >= 0 && (size_t)n >= room) {
        /* +1 for the NUL vsnprintf writes; it is not content. */
        if (buf_reserve(b, (size_t)n + 1) != NULL) {
            vsnprintf((char *)b->p + b->len - (size_t)n - 1, (size_t)n + 1, fmt, again);
            b->len--;
        }
    } else if (n >= 0) {
        b->len += (size_t)n;
    }
    va_end(again);
}

__attribute__((format(printf, 2, 3))) static inline void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(b, fmt, ap);
    va_end(ap);
}

#endif /* KEEL_COMMON_BUF_H */
