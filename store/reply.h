/* store: replies of the state machine, as a flat typed byte stream.
 *
 * Apply writes its reply with the keel_reply_* writers; the API layer reads it
 * back with keel_reply_next() and turns it into RESP. The stream is also what
 * the dedupe table stores, so a retried command gets the very same reply.
 *
 * Item encoding (little-endian):
 *   'n'                          nil
 *   '+' le32 len, bytes          status ("OK")
 *   ':' le64                     integer
 *   '$' le32 len, bytes          bulk string
 *   '-' le32 code, le32 len, msg error (KEEL_* code; msg may be empty)
 *   '*' le32 count               array header; count items follow
 *   'r' le32 len, bytes          one whole RESP reply, verbatim (a READ in a
 *                                batch, formatted by the node's reader)
 *
 * Ownership: a keel_reply owns its buffer (malloc). It is reused across
 * applies: reset keeps the memory. A reply whose buffer could not grow is
 * marked lost instead of failing the apply (apply must never fail); readers
 * then see a single KEEL_EREPLYLOST error. */
#ifndef KEEL_STORE_REPLY_H
#define KEEL_STORE_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/storage.h"

enum keel_reply_kind {
    KEEL_REPLY_NIL = 'n',
    KEEL_REPLY_NIL_ARRAY = 'N', /* RESP2's *-1 (LPOP key count on no key) */
    KEEL_REPLY_STATUS = '+',
    KEEL_REPLY_INT = ':',
    KEEL_REPLY_BULK = '$',
    KEEL_REPLY_ERROR = '-',
    KEEL_REPLY_ARRAY = '*',
    KEEL_REPLY_RESP = 'r',
};

struct keel_reply
{
    uint8_t *buf;
    size_t len;
    size_t cap;
    bool lost;
};

void keel_reply_init(struct keel_reply *r);
void keel_reply_close(struct keel_reply *r);
void keel_reply_reset(struct keel_reply *r);

void keel_reply_nil(struct keel_reply *r);
void keel_reply_nil_array(struct keel_reply *r);
void keel_reply_status(struct keel_reply *r, const char *status);
void keel_reply_ok(struct keel_reply *r);
void keel_reply_int(struct keel_reply *r, int64_t v);
void keel_reply_bulk(struct keel_reply *r, const void *p, size_t n);
void keel_reply_error(struct keel_reply *r, int code, const char *msg);
void keel_reply_array(struct keel_reply *r, uint32_t count);
/* One complete RESP reply (bytes copied), passed on to the client as is. */
void keel_reply_resp(struct keel_reply *r, const void *p, size_t n);
/* An array whose length is known only at the end: begin returns a mark,
 * end writes the count into it. */
size_t keel_reply_array_begin(struct keel_reply *r);
void keel_reply_array_end(struct keel_reply *r, size_t mark, uint32_t count);
/* Append raw bytes of a previously produced stream (dedupe hits). */
void keel_reply_raw(struct keel_reply *r, const void *p, size_t n);

struct keel_reply_item
{
    char kind;
    int64_t integer; /* INT value; ARRAY count; ERROR code */
    const uint8_t *p; /* STATUS, BULK, RESP, ERROR message */
    size_t n;
};

struct keel_reply_reader
{
    const uint8_t *p;
    const uint8_t *end;
    bool lost;
};

void keel_reply_reader_init(struct keel_reply_reader *rd, const struct keel_reply *r);
/* 0 and the next item; KEEL_ENOTFOUND at the end; KEEL_ECORRUPT on a bad stream. */
int keel_reply_next(struct keel_reply_reader *rd, struct keel_reply_item *it);

#endif /* KEEL_STORE_REPLY_H */
