/* tests/fuzz: the RESP request parser and reply scanner (api/resp/resp.c) on
 * arbitrary bytes, with small limits so that the limit paths are reached.
 * Properties beyond "no crash": a parse consumes at least one byte and no
 * more than it was given; RESP_MORE's need is beyond what was given; every
 * argument lies inside the input or the request's own storage; feeding the
 * same bytes one prefix at a time never contradicts the whole-buffer parse. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/resp/resp.h"

static const struct resp_limits lim = {.max_bulk = 4096, .max_args = 64, .max_inline = 1024,
                                       .max_depth = 8};

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_resp: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct resp_request req;
    resp_request_init(&req);
    size_t off = 0;
    int first = -1;
    size_t first_used = 0;
    while (off < size) {
        size_t used = 0, need = 0;
        const char *err = NULL;
        int rc = resp_parse_request(data + off, size - off, &lim, &req, &used, &need, &err);
        if (first < 0) {
            first = rc;
            first_used = used;
        }
        if (rc == RESP_MORE) {
            check(need > size - off, "RESP_MORE with enough bytes");
            break;
        }
        if (rc != RESP_DONE) {
            check(rc != RESP_EPROTO || err != NULL, "protocol error without a reason");
            break;
        }
        check(used > 0 && used <= size - off, "consumed nothing or too much");
        for (uint32_t i = 0; i < req.argc; i++) {
            const uint8_t *p = req.argv[i].p;
            bool in_input = p >= data + off && p + req.argv[i].n <= data + off + used;
            bool in_own = req.inl != NULL && p >= req.inl && p + req.argv[i].n <= req.inl + req.inl_cap;
            check(req.argv[i].n == 0 || in_input || in_own, "argument outside its buffers");
        }
        off += used;
    }
    /* The first request again, from growing prefixes (a client trickling
     * bytes): never done before the whole-buffer parse was, and then done
     * with the same length. */
    if (first == RESP_DONE && first_used <= 512) {
        for (size_t n = 1; n <= first_used; n++) {
            size_t used = 0, need = 0;
            const char *err = NULL;
            int rc = resp_parse_request(data, n, &lim, &req, &used, &need, &err);
            if (n < first_used) check(rc == RESP_MORE || rc == RESP_EPROTO, "done on a prefix");
            else check(rc == RESP_DONE && used == first_used, "prefix parse disagrees");
            if (rc == RESP_EPROTO) break;
        }
    }
    resp_request_close(&req);
    const char *err = NULL;
    long n = resp_reply_len(data, size, &lim, &err);
    check(n <= (long)size, "reply longer than its input");
    return 0;
}
