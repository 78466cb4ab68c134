/* raft: starting raft on the node's directory. When raft cannot load a file
 * it says so without naming it (a damaged snapshot ends in "LZ4F_decompress
 * ERROR_..."), and its auto-recovery renames a damaged last log segment to
 * corrupt-<ns>-<name> without a word. So the raft directory is listed before
 * and after raft_start: a refusal names the file, what is wrong with it and
 * the runbook step; a damaged newest snapshot is set aside when the older one
 * provably stands in for it; whatever raft set aside is reported. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "raft/node_internal.h"

/* The runbook step for a file the node cannot do without (docs/recovery.md,
 * "A damaged file at start"). */
#define STEP_REJOIN                                                                            \
    "runbook docs/recovery.md \"A damaged file at start\": on another member keelctl member " \
    "remove %llu; move %s aside; start keeld with an empty --data-dir and --join <a member's "  \
    "client address> (a one-node cluster: restore the newest backup)"

struct snap
{
    uint64_t term, index, ts;
    char name[64];
};

struct seg
{
    uint64_t first, end;
};

/* What raft would see in its directory. */
struct scan
{
    struct snap snaps[8];   /* the newest ones, oldest first (raft keeps two) */
    unsigned n_snaps;
    struct seg *closed;     /* closed segments, by first index */
    unsigned n_closed;
    unsigned n_open;
    char **corrupt;         /* corrupt-* names */
    unsigned n_corrupt;
};

static int snap_cmp(const struct snap *a, const struct snap *b)
{
    if (a->term != b->term) return a->term < b->term ? -1 : 1;
    if (a->index != b->index) return a->index < b->index ? -1 : 1;
    return a->ts < b->ts ? -1 : a->ts > b->ts;
}

/* A snapshot counts (as in raft's UvSnapshotInfoAppendIfMatch) when its
 * .meta and a non-empty data file are both there. */
static void add_snap(struct scan *s, const char *dir, const char *name)
{
    struct snap x;
    int used = 0;
    char path[PATH_MAX + 64];
    struct stat st;
    if (sscanf(name, "snapshot-%" SCNu64 "-%" SCNu64 "-%" SCNu64 ".meta%n", &x.term, &x.index, &x.ts,
               &used) != 3 ||
        name[used] != 0 || used > (int)sizeof x.name + 4)
        return;
    snprintf(x.name, sizeof x.name, "%.*s", used - 5, name);
    snprintf(path, sizeof path, "%s/%s", dir, x.name);
    if (stat(path, &st) != 0 || st.st_size == 0) return;
    unsigned n = s->n_snaps < 8 ? s->n_snaps++ : 8;
    if (n == 8) {
        if (snap_cmp(&x, &s->snaps[0]) < 0) return;
        memmove(&s->snaps[0], &s->snaps[1], 7 * sizeof x);
        n = 7;
    }
    unsigned i = n;
    while (i > 0 && snap_cmp(&x, &s->snaps[i - 1]) < 0) {
        s->snaps[i] = s->snaps[i - 1];
        i--;
    }
    s->snaps[i] = x;
}

static int seg_cmp(const void *a, const void *b)
{
    const struct seg *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

static void scan_free(struct scan *s)
{
    for (unsigned i = 0; i < s->n_corrupt; i++) free(s->corrupt[i]);
    free(s->corrupt);
    free(s->closed);
    memset(s, 0, sizeof *s);
}

static int scan_dir(const char *dir, struct scan *s)
{
    memset(s, 0, sizeof *s);
    DIR *d = opendir(dir);
    if (d == NULL) return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        struct seg g;
        int used = 0;
        if (strncmp(name, "corrupt-", 8) == 0) {
            char **p = realloc(s->corrupt, (s->n_corrupt + 1) * sizeof *p);
            if (p == NULL || (p[s->n_corrupt] = strdup(name)) == NULL) {
                if (p != NULL) s->corrupt = p;
                continue;
            }
            s->corrupt = p;
            s->n_corrupt++;
        } else if (strncmp(name, "snapshot-", 9) == 0) {
            add_snap(s, dir, name);
        } else if (strncmp(name, "open-", 5) == 0) {
            s->n_open++;
        } else if (sscanf(name, "%16" SCNu64 "-%16" SCNu64 "%n", &g.first, &g.end, &used) == 2 && used == 33 &&
                   name[used] == 0) {
            struct seg *p = realloc(s->closed, (s->n_closed + 1) * sizeof *p);
            if (p == NULL) continue;
            s->closed = p;
            s->closed[s->n_closed++] = g;
        }
    }
    closedir(d);
    if (s->n_closed > 1) qsort(s->closed, s->n_closed, sizeof *s->closed, seg_cmp);
    return 0;
}

/* The closed segments raft keeps (uvFilterSegments): the contiguous run that
 * ends with the last one. false if there is none. */
static bool log_run(const struct scan *s, uint64_t *first, uint64_t *end)
{
    if (s->n_closed == 0) return false;
    unsigned i = s->n_closed - 1;
    while (i > 0 && s->closed[i - 1].end + 1 == s->closed[i].first) i--;
    *first = s->closed[i].first;
    *end = s->closed[s->n_closed - 1].end;
    return true;
}

/* The file raft's message is about: one it names (a segment, a snapshot or
 * its .meta, a metadata file), else the newest snapshot when the message is
 * about decompression (raft names no file then). "" if none. */
static void culprit(const char *raftmsg, const struct scan *s, char *file, size_t size)
{
    file[0] = 0;
    for (const char *p = raftmsg; *p; p++) {
        uint64_t a, b, c;
        int used = 0;
        if ((sscanf(p, "snapshot-%" SCNu64 "-%" SCNu64 "-%" SCNu64 "%n", &a, &b, &c, &used) == 3 ||
             (sscanf(p, "%16" SCNu64 "-%16" SCNu64 "%n", &a, &b, &used) == 2 && used == 33) ||
             sscanf(p, "open-%" SCNu64 "%n", &a, &used) == 1) &&
            used > 0 && (p == raftmsg || p[-1] == ' ' || p[-1] == '/')) {
            if (strncmp(p + used, ".meta", 5) == 0) used += 5;
            snprintf(file, size, "%.*s", used, p);
            return;
        }
        if (strncmp(p, "metadata1", 9) == 0 || strncmp(p, "metadata2", 9) == 0) {
            snprintf(file, size, "%.9s", p);
            return;
        }
    }
    if (s->n_snaps > 0 && (strstr(raftmsg, "LZ4F") != NULL || strstr(raftmsg, "decompress") != NULL))
        snprintf(file, size, "%s", s->snaps[s->n_snaps - 1].name);
}

/* What is wrong, in words, with raft's own text kept. */
static void what_is_wrong(const char *file, const char *raftmsg, char *out, size_t size)
{
    const char *kind = strncmp(file, "snapshot-", 9) == 0 ? "damaged snapshot"
                       : strncmp(file, "metadata", 8) == 0 ? "damaged raft metadata (term and vote)"
                       : strncmp(file, "open-", 5) == 0    ? "damaged open log segment"
                                                            : "damaged log segment";
    const char *how = strstr(raftmsg, "LZ4F") != NULL     ? ": its compressed data does not decompress"
                      : strstr(raftmsg, "checksum") != NULL ? ": a checksum does not match"
                      : strstr(raftmsg, "past last snapshot") != NULL ? ": a gap between the snapshot and the log"
                                                                    : "";
    snprintf(out, size, "%s%s (raft: %s)", kind, how, raftmsg);
}

__attribute__((format(printf, 2, 3))) static void note(struct keel_node *n, const char *fmt, ...)
{
    size_t off = strlen(n->start_notes);
    va_list ap;
    if (off + 2 >= sizeof n->start_notes) return;
    va_start(ap, fmt);
    vsnprintf(n->start_notes + off, sizeof n->start_notes - off - 1, fmt, ap);
    va_end(ap);
    strcat(n->start_notes, "\n");
}

/* Set the newest snapshot aside when the older one and the log provably
 * rebuild the same state: raft then loads the older one (checking its
 * checksums itself), and the closed segments it keeps run from at most the
 * older snapshot's index + 1 through at least the newer one's, so every
 * entry between the two is replayed. That is exactly the state the damaged
 * one held; the same entries follow it either way. Else false, with why in
 * `why`. */
static bool fall_back(struct keel_node *n, const char *raftdir, const struct scan *s, const char *what,
                      char *why, size_t size)
{
    char damaged[PATH_MAX + 16], from[PATH_MAX + 80], to[PATH_MAX + 96];
    uint64_t first, end;
    if (s->n_snaps < 2)
        return snprintf(why, size, "there is no older snapshot to start from"), false;
    const struct snap *bad = &s->snaps[s->n_snaps - 1], *old = &s->snaps[s->n_snaps - 2];
    if (!log_run(s, &first, &end))
        return snprintf(why, size, "no log segment holds the entries after the older snapshot"), false;
    if (first > old->index + 1 || end < bad->index)
        return snprintf(why, size,
                        "the log on disk (entries %" PRIu64 "..%" PRIu64 ") does not hold every entry from the "
                        "older snapshot's %" PRIu64 " to this one's %" PRIu64,
                        first, end, old->index + 1, bad->index),
               false;
    snprintf(damaged, sizeof damaged, "%s/damaged", n->dir);
    if (mkdir(damaged, 0700) != 0 && errno != EEXIST)
        return snprintf(why, size, "mkdir %s: %s", damaged, strerror(errno)), false;
    for (int meta = 1; meta >= 0; meta--) { /* .meta first: without it raft ignores the rest */
        snprintf(from, sizeof from, "%s/%s%s", raftdir, bad->name, meta ? ".meta" : "");
        snprintf(to, sizeof to, "%s/%s%s", damaged, bad->name, meta ? ".meta" : "");
        if (rename(from, to) != 0) return snprintf(why, size, "rename %s: %s", from, strerror(errno)), false;
    }
    int fd = open(raftdir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    n->damaged_set_aside++;
    note(n,
         "raft snapshot %s/%s is a %s: moved it to %s/ and started from the older snapshot %s (index "
         "%" PRIu64 ") and the log entries %" PRIu64 "..%" PRIu64 " after it, which rebuild the same state",
         raftdir, bad->name, what, damaged, old->name, old->index, old->index + 1, bad->index);
    return true;
}

int node_raft_failure(struct keel_node *n, const char *stage, int rc, const char *raftmsg, const char *why,
                      char *errmsg)
{
    char raftdir[PATH_MAX + 8], file[96], what[400];
    struct scan s;
    snprintf(raftdir, sizeof raftdir, "%s/raft", n->dir);
    scan_dir(raftdir, &s);
    culprit(raftmsg, &s, file, sizeof file);
    scan_free(&s);
    if (rc == RAFT_NOSPACE || strstr(raftmsg, "not enough space") != NULL ||
        strstr(raftmsg, "No space left") != NULL)
        return snprintf(errmsg, KEEL_NODE_ERRMSG_SIZE,
                        "%s in %s: %s: the disk is full: free some space (a few MiB) and start again", stage,
                        raftdir, raftmsg),
               KEEL_ENOSPACE;
    if (strstr(raftmsg, "ermission denied") != NULL || strstr(raftmsg, "not writable") != NULL ||
        strstr(raftmsg, "not readable") != NULL)
        return snprintf(errmsg, KEEL_NODE_ERRMSG_SIZE,
                        "%s in %s: %s: run keeld as the user that owns %s (ls -ld; chown -R)", stage, raftdir,
                        raftmsg, n->dir),
               KEEL_EIO;
    if (file[0] == 0)
        return snprintf(errmsg, KEEL_NODE_ERRMSG_SIZE, "%s in %s: %s; " STEP_REJOIN, stage, raftdir, raftmsg,
                        (unsigned long long)n->id, n->dir),
               KEEL_EIO;
    what_is_wrong(file, raftmsg, what, sizeof what);
    return snprintf(errmsg, KEEL_NODE_ERRMSG_SIZE, "%s: %s/%s: %s%s%s; " STEP_REJOIN, stage, raftdir, file, what,
                    why[0] ? ", and the older snapshot cannot stand in for it: " : "", why,
                    (unsigned long long)n->id, n->dir),
           KEEL_ECORRUPT;
}

int node_start_raft(struct keel_node *n, char *errmsg)
{
    char raftdir[PATH_MAX + 8], raftmsg[RAFT_ERRMSG_BUF_SIZE], file[96], what[400], why[200] = "";
    struct scan before, after;
    snprintf(raftdir, sizeof raftdir, "%s/raft", n->dir);
    scan_dir(raftdir, &before);
    int rc = raft_start(&n->raft);
    if (rc != 0 && n->fsm.errmsg[0] != 0 && before.n_snaps > 0) {
        /* fsm->restore refused the newest snapshot (the image check,
         * storage/image.h): raft 0.15 has no message of its own then, and
         * io->load already ran, so raft_start is not tried again. */
        snprintf(errmsg, KEEL_NODE_ERRMSG_SIZE, "raft start: %s/%s: %s; " STEP_REJOIN, raftdir,
                 before.snaps[before.n_snaps - 1].name, n->fsm.errmsg, (unsigned long long)n->id, n->dir);
        scan_free(&before);
        return rc == RAFT_CORRUPT ? KEEL_ECORRUPT : KEEL_EIO;
    }
    if (rc != 0) {
        snprintf(raftmsg, sizeof raftmsg, "%s", raft_errmsg(&n->raft));
        culprit(raftmsg, &before, file, sizeof file);
        what_is_wrong(file, raftmsg, what, sizeof what);
        /* raft_start fails in io->load before touching raft's state, so it
         * may run again once the damaged snapshot is out of the way. */
        if (strncmp(file, "snapshot-", 9) == 0 && fall_back(n, raftdir, &before, what, why, sizeof why)) {
            why[0] = 0;
            rc = raft_start(&n->raft);
            if (rc != 0) snprintf(raftmsg, sizeof raftmsg, "%s", raft_errmsg(&n->raft));
        }
    }
    if (rc != 0) {
        scan_free(&before);
        return node_raft_failure(n, "raft start", rc, raftmsg, why, errmsg);
    }

    /* What raft's auto-recovery set aside: a damaged last closed segment
     * (and the open ones after it) renamed to corrupt-<ns>-<name>. */
    scan_dir(raftdir, &after);
    uint64_t last = raft_last_index(&n->raft), applied = keel_storage_applied(n->storage);
    for (unsigned i = 0; i < after.n_corrupt; i++) {
        bool seen = false;
        for (unsigned j = 0; j < before.n_corrupt && !seen; j++) seen = strcmp(after.corrupt[i], before.corrupt[j]) == 0;
        if (seen) continue;
        n->damaged_set_aside++;
        const char *orig = strchr(after.corrupt[i] + 8, '-');
        note(n,
             "raft log file %s/%s was damaged and raft set it aside as %s: the entries in it are gone from "
             "this node's log, which now ends at index %" PRIu64 "; entries not yet on a majority may be lost "
             "here, and the leader sends the committed ones again. If this repeats, check the disk",
             raftdir, orig ? orig + 1 : after.corrupt[i], after.corrupt[i], last);
    }
    unsigned old_corrupt = after.n_corrupt;
    scan_free(&before);
    scan_free(&after);
    if (applied <= last) return 0;
    /* The state machine holds entries the log no longer has (a damaged log
     * file was set aside, now or at an earlier start). With other voters
     * that is harmless: they are committed, the leader sends them again
     * unchanged, and apply skips what it holds. (It is also what a crash
     * right after installing a snapshot leaves.) A lone voter has no one to
     * send them: new writes would take those indexes and apply would skip
     * them, so it must not start. */
    unsigned voters = 0;
    for (unsigned i = 0; i < n->raft.configuration.n; i++) voters += n->raft.configuration.servers[i].role == RAFT_VOTER;
    if (voters <= 1)
        return snprintf(errmsg, KEEL_NODE_ERRMSG_SIZE,
                        "raft start in %s: the log ends at index %" PRIu64 " but LMDB (%s/kv) has applied up to %" PRIu64
                        "%s; this node is the only voter, so nothing can send entries %" PRIu64 "..%" PRIu64
                        " back and new writes would be skipped at those indexes: restore the newest backup "
                        "(docs/recovery.md, \"A damaged file at start\")",
                        raftdir, last, n->dir, applied,
                        old_corrupt ? " (a damaged log file was set aside: see the corrupt-* files)" : "", last + 1,
                        applied),
               KEEL_ECORRUPT;
    if (n->damaged_set_aside > 0)
        note(n,
             "entries %" PRIu64 "..%" PRIu64 " were applied here before their log file was set aside: they are "
             "committed, and the leader sends them again; until this node has them, keep the other voters up",
             last + 1, applied);
    return 0;
}
