/* api/server: --join under member TLS (server.h, keel_server_join). The
 * joining node dials the member channel on its seed's raft port (the seed
 * may be any member: its certificate must come from the cluster CA and
 * name a member id, which one does not matter) with its own member
 * certificate, and sends KEEL.JOIN <id> <raft address>. The seed checks that
 * the id is the one the certificate names (cmd_member.c) and forwards the
 * join to the leader, which adds the node, catches it up and makes it a
 * voter before it answers. Any answer but +OK, or a lost connection, is
 * retried a second later, until +OK or the server stops.
 *
 * Without member TLS keeld joins through a seed's client port with libkeel
 * instead (keeld.c), as a client with --join-user's credentials. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/server/log.h"
#include "api/server/server_internal.h"

#define RETRY_MS 1000

struct joiner
{
    struct keel_server *srv;
    char seed[64];
    char raft_addr[64];
    uv_timer_t timer;
    uv_pipe_t pipe;
    bool pipe_open, dialling, closing, done, timer_closed;
    unsigned attempt;
    char in[512];
    size_t in_len;
    uv_write_t w;
    struct buf out;
};

static void retry_cb(uv_timer_t *t);

/* Stopping: freed once the timer and the pipe are closed and no dial is
 * out (its callback comes back here). */
static void maybe_free(struct joiner *j)
{
    if (!j->closing || !j->timer_closed || j->pipe_open || j->dialling) return;
    buf_close(&j->out);
    free(j);
}

static void joiner_closed_cb(uv_handle_t *h)
{
    struct joiner *j = h->data;
    if (h == (uv_handle_t *)&j->pipe) {
        j->pipe_open = false;
        if (!j->closing && !j->done) uv_timer_start(&j->timer, retry_cb, RETRY_MS, 0);
    } else {
        j->timer_closed = true;
    }
    maybe_free(j);
}

/* End this attempt; the next one follows a second later (unless done). */
static void attempt_over(struct joiner *j)
{
    if (j->pipe_open && !uv_is_closing((uv_handle_t *)&j->pipe)) uv_close((uv_handle_t *)&j->pipe, joiner_closed_cb);
}

static void written_cb(uv_write_t *w, int status)
{
    struct joiner *j = w->data;
    if (status != 0 && !j->closing) attempt_over(j);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct joiner *j = h->data;
    (void)hint;
    *buf = uv_buf_init(j->in + j->in_len, (unsigned)(sizeof j->in - 1 - j->in_len));
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct joiner *j = s->data;
    (void)buf;
    if (nread == 0 || j->closing) return;
    if (nread < 0) {
        log_warn("join through %s (attempt %u): the member channel closed", j->seed, j->attempt);
        attempt_over(j);
        return;
    }
    j->in_len += (size_t)nread;
    j->in[j->in_len] = 0;
    char *eol = strstr(j->in, "\r\n");
    if (eol == NULL && j->in_len < sizeof j->in - 1) return;
    if (eol != NULL) *eol = 0;
    if (strcmp(j->in, "+OK") == 0) {
        log_info("joined the cluster through %s (member channel)", j->seed);
        j->done = true;
    } else {
        log_warn("join through %s (attempt %u): %s", j->seed, j->attempt, j->in[0] == '-' ? j->in + 1 : j->in);
    }
    attempt_over(j);
}

static void dialled_cb(void *data, int status, uint64_t peer_id, int fd)
{
    struct joiner *j = data;
    j->dialling = false;
    if (j->closing) {
        if (fd >= 0) close(fd);
        maybe_free(j);
        return;
    }
    if (fd < 0) {
        log_warn("join through %s (attempt %u): cannot reach its member channel (%d)", j->seed, j->attempt, status);
        uv_timer_start(&j->timer, retry_cb, RETRY_MS, 0);
        return;
    }
    uv_pipe_init(j->srv->loop, &j->pipe, 0);
    j->pipe.data = j;
    j->pipe_open = true;
    if (uv_pipe_open(&j->pipe, fd) != 0) {
        close(fd);
        attempt_over(j);
        return;
    }
    char id[24];
    snprintf(id, sizeof id, "%llu", (unsigned long long)j->srv->cfg.node_id);
    log_info("join through %s: member %llu answered; asking to join as %s", j->seed, (unsigned long long)peer_id, id);
    j->out.len = 0;
    resp_array(&j->out, 3);
    resp_bulk_str(&j->out, "KEEL.JOIN");
    resp_bulk_str(&j->out, id);
    resp_bulk_str(&j->out, j->raft_addr);
    j->in_len = 0;
    uv_buf_t b = uv_buf_init((char *)j->out.p, (unsigned)j->out.len);
    j->w.data = j;
    if (uv_write(&j->w, (uv_stream_t *)&j->pipe, &b, 1, written_cb) != 0 ||
        uv_read_start((uv_stream_t *)&j->pipe, alloc_cb, read_cb) != 0)
        attempt_over(j);
}

static void retry_cb(uv_timer_t *t)
{
    struct joiner *j = t->data;
    if (j->closing || j->done || j->srv->stopping) return;
    j->attempt++;
    j->dialling = true;
    if (keel_node_member_dial(j->srv->node, 0, j->seed, dialled_cb, j) != 0) {
        j->dialling = false;
        log_warn("join through %s (attempt %u): cannot dial its member channel", j->seed, j->attempt);
        uv_timer_start(&j->timer, retry_cb, RETRY_MS, 0);
    }
}

int keel_server_join(struct keel_server *srv, const char *seed_raft_addr, const char *raft_addr, char *errmsg)
{
    if (!keel_node_member_tls(srv->node)) {
        snprintf(errmsg, KEEL_ERRMSG_SIZE, "joining on the member channel needs member TLS");
        return KEEL_EINVAL;
    }
    struct joiner *j = calloc(1, sizeof *j);
    if (j == NULL) return KEEL_ENOMEM;
    j->srv = srv;
    snprintf(j->seed, sizeof j->seed, "%s", seed_raft_addr);
    snprintf(j->raft_addr, sizeof j->raft_addr, "%s", raft_addr);
    buf_init(&j->out);
    uv_timer_init(srv->loop, &j->timer);
    j->timer.data = j;
    uv_timer_start(&j->timer, retry_cb, 0, 0);
    srv->joiner = j;
    return 0;
}

void srv_join_stop(struct keel_server *srv)
{
    struct joiner *j = srv->joiner;
    if (j == NULL) return;
    srv->joiner = NULL;
    j->closing = true;
    uv_timer_stop(&j->timer);
    if (j->pipe_open && !uv_is_closing((uv_handle_t *)&j->pipe)) uv_close((uv_handle_t *)&j->pipe, joiner_closed_cb);
    uv_close((uv_handle_t *)&j->timer, joiner_closed_cb);
}
