/* raft: seeding a new node directory from a backup image, and the helpers
 * the offline operations share (lock, a raft uv io on a private loop). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "raft/offline.h"
#include "raft/offline_internal.h"
#include "storage/image.h"

int offline_fail(char *errmsg, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errmsg, KEEL_ERRMSG_SIZE, fmt, ap);
    va_end(ap);
    return code;
}

int offline_lock(const char *dir, int *code, char *errmsg)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/LOCK", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        *code = offline_fail(errmsg, KEEL_EIO, "lock %s: %s", path, strerror(errno));
        return -1;
    }
    /* The same lock keeld takes (api/keeld/keeld.c): a running node must never see
     * its log rewritten under it. */
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int busy = errno == EWOULDBLOCK;
        *code = offline_fail(errmsg, busy ? KEEL_EBUSY : KEEL_EIO, "data dir %s: %s", dir,
                             busy ? "in use (is keeld running on it?)" : strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

void offline_unlock(int fd)
{
    if (fd >= 0) close(fd); /* drops the flock */
}

int offline_io_open(struct offline_io *o, const char *raftdir, char *errmsg)
{
    int rc;
    memset(o, 0, sizeof *o);
    if ((rc = uv_loop_init(&o->loop)) != 0)
        return offline_fail(errmsg, KEEL_EIO, "loop: %s", uv_strerror(rc));
    if ((rc = raft_uv_tcp_init(&o->transport, &o->loop)) != 0) {
        offline_fail(errmsg, KEEL_EIO, "raft transport: %s", raft_strerror(rc));
        uv_loop_close(&o->loop);
        return KEEL_EIO;
    }
    o->transport_inited = true;
    if ((rc = raft_uv_init(&o->io, &o->loop, raftdir, &o->transport)) != 0) {
        offline_fail(errmsg, KEEL_EIO, "raft log in %s: %s", raftdir, o->io.errmsg);
        offline_io_release(o);
        return KEEL_EIO;
    }
    o->io_inited = true;
    /* As node.c does (raft 0.15 leaves it at 1); nothing here needs
     * async_work, but the io should look the same to raft everywhere. */
    o->io.version = 2;
    return 0;
}

bool offline_io_wait(struct offline_io *o, const bool *flag)
{
    while (!*flag) {
        if (uv_run(&o->loop, UV_RUN_ONCE) == 0 && !*flag) return false;
    }
    return true;
}

static void walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

void offline_io_release(struct offline_io *o)
{
    /* A closed io has closed its handles; anything left (a failed init) is
     * closed here, before the memory holding it is freed. */
    uv_run(&o->loop, UV_RUN_DEFAULT);
    uv_walk(&o->loop, walk_close, NULL);
    uv_run(&o->loop, UV_RUN_DEFAULT);
    if (o->io_inited) raft_uv_close(&o->io);
    if (o->transport_inited) raft_uv_tcp_close(&o->transport);
    o->io_inited = o->transport_inited = false;
    uv_loop_close(&o->loop);
}

void offline_load_free(struct raft_snapshot *snap, struct raft_entry *entries, size_t n)
{
    if (snap != NULL) { /* snapshotDestroy */
        raft_configuration_close(&snap->configuration);
        for (unsigned i = 0; i < snap->n_bufs; i++) raft_free(snap->bufs[i].base);
        raft_free(snap->bufs);
        raft_free(snap);
    }
    if (entries != NULL) { /* entryBatchesDestroy: entries share batch buffers */
        void *batch = NULL;
        for (size_t i = 0; i < n; i++) {
            if (entries[i].batch != batch) raft_free(batch = entries[i].batch);
        }
        raft_free(entries);
    }
}

/* ---- seed ---------------------------------------------------------------- */

/* 1: absent or empty, 0: holds something, -1: cannot tell (errno). */
static int dir_empty(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL) return errno == ENOENT ? 1 : -1;
    struct dirent *e;
    int empty = 1;
    while (empty && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) empty = 0;
    }
    closedir(d);
    return empty;
}

/* Remove the files raft wrote into a directory that was empty before (raft's
 * uv dir is flat), so that a failed seed can be retried. */
static void clear_dir(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

static int mkdir_p(const char *dir, char *errmsg)
{
    char path[4200];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(path, 0700) != 0 && errno != EEXIST) goto err;
        *p = '/';
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST) goto err;
    return 0;
err:
    return offline_fail(errmsg, KEEL_EIO, "mkdir %s: %s", path, strerror(errno));
}

static int check_voters(uint64_t id, const char *address, const struct keel_peer *voters,
                        unsigned n, char *errmsg)
{
    bool self = false;
    if (id == 0 || address == NULL || n == 0 || n > KEEL_NODE_MAX_PEERS)
        return offline_fail(errmsg, KEEL_EINVAL, "seed: need id > 0, an address and 1..%d voters",
                            KEEL_NODE_MAX_PEERS);
    for (unsigned i = 0; i < n; i++) {
        if (voters[i].id != id) continue;
        if (strcmp(voters[i].address, address) != 0)
            return offline_fail(errmsg, KEEL_EINVAL, "seed: voters give node %llu address %s, not %s",
                                (unsigned long long)id, voters[i].address, address);
        self = true;
    }
    if (!self)
        return offline_fail(errmsg, KEEL_EINVAL, "seed: node %llu is not among the voters",
                            (unsigned long long)id);
    return 0;
}

static void put_cb(struct raft_io_snapshot_put *req, int status)
{
    struct offline_io *o = req->data;
    o->status = status;
    o->done = true;
}

static void io_close_cb(struct raft_io *io)
{
    struct offline_io *o = io->data;
    o->closed = true;
}

/* Write metadata and the snapshot through raft's own uv backend. io->load
 * first, as raft_start would: it proves the dir holds no log and sets the
 * backend's next append index. snapshot_put with trailing 0 is the install
 * path (a follower receiving InstallSnapshot): its barrier moves the next
 * append index to index + 1, and with no open segments it fires at once. */
static int write_raft_state(struct offline_io *o, uint64_t id, const char *address,
                            struct raft_snapshot *snap, uint64_t term, char *errmsg)
{
    struct raft_io *io = &o->io;
    struct raft_snapshot *loaded = NULL;
    struct raft_entry *entries = NULL;
    raft_term cur_term;
    raft_id voted_for;
    raft_index start;
    size_t n_entries;
    int rc;

    if ((rc = io->init(io, id, address)) != 0)
        return offline_fail(errmsg, KEEL_EIO, "raft io init: %s", io->errmsg);
    io->data = o;
    rc = io->load(io, &cur_term, &voted_for, &loaded, &start, &entries, &n_entries);
    if (rc != 0) {
        rc = offline_fail(errmsg, KEEL_EIO, "raft load: %s", io->errmsg);
    } else if (cur_term != 0 || loaded != NULL || n_entries != 0) {
        /* Defensive: the dir was empty when checked under the lock. */
        rc = offline_fail(errmsg, KEEL_EEXISTS, "seed: raft dir is not pristine");
    }
    offline_load_free(loaded, entries, n_entries);
    if (rc == 0 && (rc = io->set_term(io, term)) != 0)
        rc = offline_fail(errmsg, KEEL_EIO, "raft set term: %s", io->errmsg);
    if (rc == 0) {
        struct raft_io_snapshot_put req = {.data = o};
        o->done = false;
        rc = io->snapshot_put(io, 0, &req, snap, put_cb);
        if (rc != 0) {
            rc = offline_fail(errmsg, KEEL_EIO, "raft snapshot put: %s", raft_strerror(rc));
        } else if (!offline_io_wait(o, &o->done)) {
            /* req is on our stack: never return while raft may call back. */
            rc = offline_fail(errmsg, KEEL_EIO, "raft snapshot put: no completion");
        } else if (o->status != 0) {
            rc = offline_fail(errmsg, KEEL_EIO, "raft snapshot put: %s", raft_strerror(o->status));
        }
    }
    io->close(io, io_close_cb);
    if (!offline_io_wait(o, &o->closed) && rc == 0)
        rc = offline_fail(errmsg, KEEL_EIO, "raft io close: no completion");
    return rc;
}

int keel_offline_seed(const char *dir, uint64_t id, const char *address,
                      const struct keel_peer *voters, unsigned n_voters, const void *image,
                      size_t len, uint64_t term, char *errmsg)
{
    struct keel_snapshot_info info;
    char raftdir[4200], kvdir[4200];
    struct raft_configuration conf;
    struct offline_io o;
    int rc, code, fd;

    if (dir == NULL || image == NULL || term == 0)
        return offline_fail(errmsg, KEEL_EINVAL, "seed: need a dir, an image and a term >= 1");
    if ((rc = check_voters(id, address, voters, n_voters, errmsg)) != 0) return rc;
    /* Check in full before touching the disk: a bad image leaves no trace,
     * and none is ever stored for raft to restore at the next start. */
    struct keel_image_report rep;
    if ((rc = keel_image_check(image, len, 0, &rep, errmsg)) != 0) return rc;
    info = rep.info;
    raft_configuration_init(&conf);
    for (unsigned i = 0; rc == 0 && i < n_voters; i++)
        rc = raft_configuration_add(&conf, voters[i].id, voters[i].address, RAFT_VOTER);
    if (rc != 0) {
        raft_configuration_close(&conf);
        return offline_fail(errmsg, KEEL_EINVAL, "seed: voters: %s", raft_strerror(rc));
    }

    if ((rc = mkdir_p(dir, errmsg)) != 0) goto out_conf;
    if ((fd = offline_lock(dir, &code, errmsg)) < 0) {
        rc = code;
        goto out_conf;
    }
    snprintf(raftdir, sizeof raftdir, "%s/raft", dir);
    snprintf(kvdir, sizeof kvdir, "%s/kv", dir);
    int raft_empty = dir_empty(raftdir), kv_empty = dir_empty(kvdir);
    if (raft_empty < 0 || kv_empty < 0) {
        rc = offline_fail(errmsg, KEEL_EIO, "seed: read %s: %s", dir, strerror(errno));
        goto out;
    }
    if (!raft_empty || !kv_empty) {
        rc = offline_fail(errmsg, KEEL_EEXISTS, "seed: %s already holds a node (%s/ is not empty)",
                          dir, raft_empty ? "kv" : "raft");
        goto out;
    }
    if (mkdir(raftdir, 0700) != 0 && errno != EEXIST) {
        rc = offline_fail(errmsg, KEEL_EIO, "mkdir %s: %s", raftdir, strerror(errno));
        goto out;
    }

    /* Index 0 means "no snapshot" to raft; an image of an env that never
     * applied anything is as good at index 1 (apply skips nothing). */
    raft_index index = info.applied > 0 ? info.applied : 1;
    /* Raft only reads the buffer (it compresses a copy to disk); at load it
     * hands back one buffer holding exactly these bytes, which is what
     * fsm_restore passes to keel_storage_restore. */
    struct raft_buffer buf = {.base = (void *)image, .len = len};
    struct raft_snapshot snap = {
        .index = index, .term = term, .configuration = conf,
        .configuration_index = index, .bufs = &buf, .n_bufs = 1,
    };
    rc = offline_io_open(&o, raftdir, errmsg);
    if (rc == 0) {
        rc = write_raft_state(&o, id, address, &snap, term, errmsg);
        offline_io_release(&o);
    }
    if (rc != 0 && rc != KEEL_EEXISTS) clear_dir(raftdir);
out:
    offline_unlock(fd);
out_conf:
    raft_configuration_close(&conf);
    return rc;
}
