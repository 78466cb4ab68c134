/* api: scheduled backups (keeld --backup-dir DIR --backup-interval 1h
 * --backup-keep 24). The leader, once ready, writes a backup every
 * interval: the same file keelctl backup save writes ("KEELBACKUP 1", a
 * JSON line, the raft snapshot image with its checksums), so keelutl
 * backup inspect verifies it and keelutl backup restore seeds a cluster
 * from it. The copy and the file writing run on the libuv pool (the storage is
 * pinned so a restore cannot swap the env under the copy); the file appears
 * under its final name only once complete, fsync'd and read back through
 * the full image check (storage/image.h); then all but the
 * newest --backup-keep are deleted. Names sort by raft index:
 * keel-<index, 20 digits>-<unix ms>.keel. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/server/consistency.h"
#include "api/server/log.h"
#include "api/server/backup/backup.h"
#include "api/server/server_internal.h"
#include "storage/image.h"

struct sched
{
    uv_work_t work;
    struct keel_server *srv;
    struct keel_node_copy *copy; /* pinned for the copy (raft/node.h) */
    struct keel_snapshot snap;
    char dir[1024];
    unsigned keep;
    char members[1024]; /* JSON array, built on the loop */
    char source[64];
    uint64_t term;
    int64_t created_ms;
    char path[1200];
    int rc;
    char errmsg[KEEL_ERRMSG_SIZE];
};

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Delete all but the newest keep backups (names sort by index). */
static void prune(const char *dir, unsigned keep)
{
    char *names[4096];
    size_t n = 0;
    DIR *d = opendir(dir);
    if (d == NULL) return;
    for (struct dirent *e; (e = readdir(d)) != NULL && n < 4096;) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, "keel-", 5) == 0 && len > 5 && strcmp(e->d_name + len - 5, ".keel") == 0)
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n; i++) {
        if (names[i] != NULL && i + keep < n) {
            char path[1300];
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            unlink(path);
        }
        free(names[i]);
    }
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Check what landed in part as keelutl backup inspect will (storage/
 * image.h): a damaged env or a bad write never becomes a backup. */
static void read_back(struct sched *b, const char *part, size_t off, size_t size)
{
    int fd = open(part, O_RDONLY | O_CLOEXEC);
    void *map = fd >= 0 ? mmap(NULL, off + size, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
    if (fd >= 0) close(fd);
    if (map == MAP_FAILED) {
        snprintf(b->errmsg, sizeof b->errmsg, "read back %s: %s", part, strerror(errno));
        b->rc = KEEL_EIO;
        return;
    }
    char why[KEEL_ERRMSG_SIZE];
    b->rc = keel_image_check((const uint8_t *)map + off, size, 0, NULL, why);
    if (b->rc != 0) snprintf(b->errmsg, sizeof b->errmsg, "read back %s: %s", part, why);
    munmap(map, off + size);
}

static void sched_work(uv_work_t *w)
{
    struct sched *b = w->data;
    char part[1300], meta[2048];
    b->rc = keel_node_copy_run(b->copy, &b->snap, b->errmsg); /* and unpins */
    if (b->rc != 0) return;
    const struct keel_snapshot_info *in = &b->snap.info;
    size_t size = KEEL_SNAPSHOT_HEADER + b->snap.data_len;
    snprintf(b->path, sizeof b->path, "%s/keel-%020" PRIu64 "-%013" PRId64 ".keel", b->dir, in->applied,
             b->created_ms);
    snprintf(part, sizeof part, "%s.part", b->path);
    int n = snprintf(meta, sizeof meta,
                     "KEELBACKUP 1\n{\"index\":%" PRIu64 ",\"term\":%" PRIu64 ",\"keys\":%" PRIu64 ",\"size\":%zu,"
                     "\"checksum\":\"%016" PRIx64 "\",\"members\":%s,\"created_unix_ms\":%" PRId64
                     ",\"source\":\"%s\"}\n",
                     in->applied, b->term, in->keys, size, in->checksum, b->members, b->created_ms, b->source);
    int fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write_all(fd, meta, (size_t)n) != 0 ||
        write_all(fd, b->snap.header, KEEL_SNAPSHOT_HEADER) != 0 ||
        write_all(fd, b->snap.data, b->snap.data_len) != 0 || fsync(fd) != 0) {
        snprintf(b->errmsg, sizeof b->errmsg, "write %s: %s", part, strerror(errno));
        b->rc = KEEL_EIO;
    }
    if (fd >= 0) close(fd);
    if (b->rc == 0) read_back(b, part, (size_t)n, size);
    if (b->rc == 0 && rename(part, b->path) != 0) {
        snprintf(b->errmsg, sizeof b->errmsg, "rename %s: %s", part, strerror(errno));
        b->rc = KEEL_EIO;
    }
    if (b->rc != 0) {
        unlink(part);
        return;
    }
    int dfd = open(b->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd); /* the rename itself is durable */
        close(dfd);
    }
    prune(b->dir, b->keep);
}

static void sched_done(uv_work_t *w, int status)
{
    struct sched *b = w->data;
    struct keel_server *srv = b->srv;
    (void)status;
    if (b->rc == 0)
        log_info("backup written: %s (index %" PRIu64 ", %" PRIu64 " keys)", b->path, b->snap.info.applied,
                 b->snap.info.keys);
    else
        log_warn("scheduled backup failed: %s (next try in %u s)", b->errmsg, srv->cfg.backup_interval_s);
    keel_snapshot_release(&b->snap);
    free(b);
    srv->pool_jobs--;
    srv->backup_sched_running = false;
    srv_pool_done(srv); /* frees srv if it was stopped meanwhile */
}

void backup_schedule_tick(struct keel_server *srv)
{
    struct keel_node_status st;
    uint64_t now = uv_now(srv->loop);
    if (srv->cfg.backup_dir == NULL || srv->cfg.backup_dir[0] == 0 || srv->stopping) return;
    if (srv->backup_sched_running || srv->role != KEEL_ROLE_LEADER || !srv->ready) return;
    if (consistency_damaged(srv)) return; /* it is handing over: no backup of damaged data */
    if (srv->backup_sched_at != 0 && now - srv->backup_sched_at < srv->cfg.backup_interval_s * 1000ull) return;
    srv->backup_sched_at = now;
    if (mkdir(srv->cfg.backup_dir, 0700) != 0 && errno != EEXIST) {
        log_warn("backup dir %s: %s", srv->cfg.backup_dir, strerror(errno));
        return;
    }
    struct sched *b = calloc(1, sizeof *b);
    if (b == NULL) return;
    keel_node_status(srv->node, &st);
    size_t off = (size_t)snprintf(b->members, sizeof b->members, "[");
    for (unsigned i = 0; i < st.members && off < sizeof b->members - 128; i++) {
        char r = st.member_roles[i];
        off += (size_t)snprintf(b->members + off, sizeof b->members - off,
                                "%s{\"id\":%" PRIu64 ",\"raft_address\":\"%s\",\"role\":\"%s\"}", i ? "," : "",
                                st.member_ids[i], st.member_addrs[i],
                                r == 'v' ? "voter" : r == 's' ? "standby" : "spare");
    }
    snprintf(b->members + off, sizeof b->members - off, "]");
    b->srv = srv;
    snprintf(b->dir, sizeof b->dir, "%s", srv->cfg.backup_dir);
    snprintf(b->source, sizeof b->source, "%s", srv->client_addr);
    b->keep = srv->cfg.backup_keep ? srv->cfg.backup_keep : 1;
    b->term = st.term;
    b->created_ms = srv_wall_ms();
    b->work.data = b;
    srv->backup_sched_running = true;
    srv->pool_jobs++;
    b->copy = keel_node_copy_pin(srv->node); /* before the pool sees it */
    uv_queue_work(srv->loop, &b->work, sched_work, sched_done);
}
