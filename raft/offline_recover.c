/* raft: forcing a one-node membership after quorum loss (raft_recover), and
 * reporting what the directory held before. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "raft/offline.h"
#include "raft/offline_internal.h"
#include "storage/storage.h"

int offline_conf_decode(const void *buf, size_t len, struct raft_configuration *c)
{
    const uint8_t *p = buf, *end = p + len;
    uint64_t n = 0;

    if (len < 9 || p[0] != 1) return RAFT_MALFORMED;
    for (int i = 0; i < 8; i++) n |= (uint64_t)p[1 + i] << (8 * i);
    p += 9;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t id = 0;
        if (end - p < 8) return RAFT_MALFORMED;
        for (int b = 0; b < 8; b++) id |= (uint64_t)p[b] << (8 * b);
        p += 8;
        const uint8_t *nul = memchr(p, 0, (size_t)(end - p));
        if (nul == NULL || nul + 1 >= end) return RAFT_MALFORMED; /* the role follows */
        int rc = raft_configuration_add(c, id, (const char *)p, nul[1]);
        if (rc != 0) return rc == RAFT_NOMEM ? rc : RAFT_MALFORMED;
        p = nul + 2;
    }
    return 0;
}

static void report_members(const struct raft_configuration *c, struct keel_recover_report *rep)
{
    rep->n_members = c->n;
    for (unsigned i = 0; i < c->n && i < KEEL_NODE_MAX_PEERS; i++) {
        const struct raft_server *s = &c->servers[i];
        rep->members[i].id = s->id;
        snprintf(rep->members[i].address, sizeof rep->members[i].address, "%s", s->address);
        rep->member_roles[i] = s->role == RAFT_VOTER ? 'v' : s->role == RAFT_STANDBY ? 's' : 'p';
    }
}

/* raft_recover is all we need raft for; the fsm is never called (no
 * raft_start), but raft_init wants a valid one. */
static int stub_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
    return RAFT_IOERR;
}
static int stub_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    return RAFT_IOERR;
}
static int stub_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    return RAFT_IOERR;
}

/* Load the log as raft_start would and fill rep from it, the former
 * configuration included: the last RAFT_CHANGE entry, else the snapshot's.
 * *already: that configuration is exactly {id at address, voter}. */
static int inspect(struct raft_io *io, uint64_t id, const char *address,
                   struct keel_recover_report *rep, bool *already, char *errmsg)
{
    struct raft_snapshot *snap = NULL;
    struct raft_entry *entries = NULL;
    struct raft_configuration conf;
    raft_term term;
    raft_id voted_for;
    raft_index start;
    size_t n = 0;
    int rc;

    raft_configuration_init(&conf);
    rc = io->load(io, &term, &voted_for, &snap, &start, &entries, &n);
    if (rc != 0) return offline_fail(errmsg, KEEL_EIO, "raft load: %s", io->errmsg);
    rep->term = term;
    if (snap != NULL) {
        rep->snapshot_index = rep->last_index = snap->index;
        rep->last_term = snap->term;
    }
    if (n > 0) {
        rep->last_index = start + n - 1;
        rep->last_term = entries[n - 1].term;
    }
    size_t i = n;
    while (i > 0 && entries[i - 1].type != RAFT_CHANGE) i--;
    if (i > 0) {
        rc = offline_conf_decode(entries[i - 1].buf.base, entries[i - 1].buf.len, &conf);
        if (rc != 0)
            rc = offline_fail(errmsg, rc == RAFT_NOMEM ? KEEL_ENOMEM : KEEL_ECORRUPT,
                              "configuration entry %llu does not decode",
                              (unsigned long long)(start + i - 1));
        else report_members(&conf, rep);
    } else if (snap != NULL) {
        report_members(&snap->configuration, rep);
    }
    if (rc == 0 && snap == NULL && n == 0)
        rc = offline_fail(errmsg, KEEL_ENOTFOUND, "no raft log here: nothing to recover");
    const struct raft_configuration *former = i > 0 ? &conf : snap ? &snap->configuration : NULL;
    *already = former != NULL && former->n == 1 && former->servers[0].id == id &&
               former->servers[0].role == RAFT_VOTER &&
               strcmp(former->servers[0].address, address) == 0;

    raft_configuration_close(&conf);
    offline_load_free(snap, entries, n);
    return rc;
}

static void recover_closed_cb(struct raft *r)
{
    struct offline_io *o = r->data;
    o->closed = true;
}

/* Append the one-node configuration, in a fresh term. */
static int rewrite(struct raft *r, struct keel_recover_report *rep, char *errmsg)
{
    struct raft_configuration conf;
    int rc;
    /* A lone voter in 0.15 leads in its current term without starting a
     * new one (convertToCandidate's fast path). The dead majority may have
     * had a leader in this term whose entries we lack: leading in it too
     * could give two different entries one (index, term), breaking log
     * matching if any of those nodes ever came back. A new term rules it out. */
    if ((rc = r->io->set_term(r->io, rep->term + 1)) != 0)
        return offline_fail(errmsg, KEEL_EIO, "raft set term: %s", r->io->errmsg);
    raft_configuration_init(&conf);
    rc = raft_configuration_add(&conf, r->id, r->address, RAFT_VOTER);
    /* 0.15: uvRecover writes conf as a closed one-entry segment right after
     * the last entry (or the snapshot), with term 1 whatever the log holds. */
    if (rc == 0) rc = raft_recover(r, &conf);
    raft_configuration_close(&conf);
    if (rc != 0)
        return offline_fail(errmsg, KEEL_EIO, "raft recover: %s (%s)", raft_strerror(rc),
                            r->io->errmsg);
    rep->recover_index = rep->last_index + 1;
    return 0;
}

/* raft_init, read the state, raft_recover, raft_close: never raft_start,
 * so nothing is elected or appended besides the configuration entry. */
static int recover_raft(const char *raftdir, uint64_t id, const char *address, bool dry,
                        struct keel_recover_report *rep, char *errmsg)
{
    struct raft_fsm fsm = {.version = 1, .apply = stub_apply, .snapshot = stub_snapshot,
                           .restore = stub_restore};
    struct offline_io o;
    struct raft r;
    bool already = false;
    int rc;

    if ((rc = offline_io_open(&o, raftdir, errmsg)) != 0) return rc;
    memset(&r, 0, sizeof r);
    if ((rc = raft_init(&r, &o.io, &fsm, id, address)) != 0) {
        offline_fail(errmsg, KEEL_EIO, "raft init: %s", raft_errmsg(&r));
        offline_io_release(&o);
        return KEEL_EIO;
    }
    r.data = &o;
    rc = inspect(&o.io, id, address, rep, &already, errmsg);
    if (rc == 0 && !already && !dry) rc = rewrite(&r, rep, errmsg);
    raft_close(&r, recover_closed_cb);
    if (!offline_io_wait(&o, &o.closed) && rc == 0)
        rc = offline_fail(errmsg, KEEL_EIO, "raft close: no completion");
    offline_io_release(&o);
    return rc;
}

/* The env's applied index, if there is an env. Opening applies the trust
 * rule exactly as the next keeld start would (an untrusted env is wiped),
 * and a clean close marks it consistent, which it is. */
static int read_applied(const char *dir, struct keel_recover_report *rep, char *errmsg)
{
    char path[4200], msg[KEEL_ERRMSG_SIZE];
    struct keel_storage_options so = {.dir = dir};
    struct keel_storage *s;
    snprintf(path, sizeof path, "%s/kv/data.mdb", dir);
    if (access(path, F_OK) != 0) return 0;
    int rc = keel_storage_open(&so, &s, &rep->kv_wiped, msg);
    if (rc != 0) return offline_fail(errmsg, rc, "%s", msg);
    rep->applied_index = keel_storage_applied(s);
    keel_storage_close(s, true);
    return 0;
}

static int offline_recover(const char *dir, uint64_t id, const char *address, bool dry,
                           struct keel_recover_report *rep, char *errmsg)
{
    struct keel_recover_report local;
    char raftdir[4200];
    struct stat st;
    int rc, fd;

    if (rep == NULL) rep = &local;
    memset(rep, 0, sizeof *rep);
    if (dir == NULL || id == 0 || address == NULL)
        return offline_fail(errmsg, KEEL_EINVAL, "recover: need a dir, an id > 0 and an address");
    snprintf(raftdir, sizeof raftdir, "%s/raft", dir);
    if (stat(raftdir, &st) != 0 || !S_ISDIR(st.st_mode))
        return offline_fail(errmsg, KEEL_ENOTFOUND, "recover: %s holds no node (no raft/)", dir);
    if ((fd = offline_lock(dir, &rc, errmsg)) < 0) return rc;
    rc = recover_raft(raftdir, id, address, dry, rep, errmsg);
    if (rc == 0 && !dry) rc = read_applied(dir, rep, errmsg);
    offline_unlock(fd);
    return rc;
}

int keel_offline_recover(const char *dir, uint64_t id, const char *address,
                         struct keel_recover_report *rep, char *errmsg)
{
    return offline_recover(dir, id, address, false, rep, errmsg);
}

int keel_offline_inspect(const char *dir, uint64_t id, struct keel_recover_report *rep,
                         char *errmsg)
{
    /* raft_init wants an address; nothing is written, so any will do. */
    return offline_recover(dir, id, "127.0.0.1:1", true, rep, errmsg);
}
