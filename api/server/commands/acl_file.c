/* api: ACL SAVE and ACL LOAD against --aclfile (Redis's aclfile).
 *
 * The users live in the replicated state, so the file is not their store
 * of record as in Redis: it is an operator's import and export.
 *  - ACL SAVE writes this node's applied users to its own --aclfile, in
 *    ACL LIST's form ("user alice on #<sha256> ~k:* resetchannels -@all
 *    +get"): hashes only, never a cleartext password. Written to a
 *    temporary file, fsync'd, renamed over the old one, the directory
 *    fsync'd: a crash leaves the old file or the new one.
 *  - ACL LOAD reads the --aclfile of the node it is sent to, checks every
 *    line first (all or nothing, as Redis: one bad line and nothing
 *    changes) and then replaces every user in the cluster by the file's,
 *    as one raft entry (a batch): each user of the file is set from
 *    "reset" (so the result does not depend on what it was), users not in
 *    the file are removed, and a default user missing from the file is
 *    recreated open (on nopass ~* &* +@all), as Redis 7.2 does. On a
 *    follower the checked file travels to the leader inside the request
 *    (ACL LOAD <contents>, accepted only from a member), so it is this
 *    node's file that is loaded, wherever the leader is.
 * The file is never read at start: that would race the replicated state. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/server/commands/commands.h"
#include "api/server/log.h"
#include "store/acl.h"

#define ACLFILE_MAX (16u << 20) /* bytes: far beyond any real user list */
#define MAX_WORDS 4096          /* rules on one line */

static const char no_file[] =
    "This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER "
    "command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store "
    "users in the Redis configuration.";

/* ---- the file's lines ------------------------------------------------------ */

struct line_words
{
    struct keel_slice w[MAX_WORDS];
    size_t n;
};

/* Split line [p, p+n) at spaces and tabs. false: too many words. */
static bool split(const uint8_t *p, size_t n, struct line_words *lw)
{
    lw->n = 0;
    size_t at = 0;
    while (at < n) {
        while (at < n && (p[at] == ' ' || p[at] == '\t' || p[at] == '\r')) at++;
        if (at == n) break;
        size_t end = at;
        while (end < n && p[end] != ' ' && p[end] != '\t' && p[end] != '\r') end++;
        if (lw->n == MAX_WORDS) return false;
        lw->w[lw->n++] = (struct keel_slice){p + at, end - at};
        at = end;
    }
    return true;
}

/* Visit every non-empty line of text: cb(arg, lineno, words) returns 0 to
 * go on. Returns what cb returned, or 0. */
typedef int (*line_cb)(void *arg, size_t lineno, struct line_words *lw);

static int each_line(struct keel_slice text, struct line_words *lw, line_cb cb, void *arg)
{
    size_t at = 0, lineno = 0;
    while (at < text.n) {
        const uint8_t *nl = memchr(text.p + at, '\n', text.n - at);
        size_t end = nl != NULL ? (size_t)(nl - text.p) : text.n;
        lineno++;
        if (!split(text.p + at, end - at, lw)) return -(int)lineno;
        if (lw->n > 0) {
            int rc = cb(arg, lineno, lw);
            if (rc != 0) return rc;
        }
        at = end + 1;
    }
    return 0;
}

/* ---- checking a file ------------------------------------------------------- */

struct check_ctx
{
    char *msg;
    size_t size;
    const char *path;
    struct keel_slice *names; /* seen so far, for duplicates */
    size_t nnames;
};

static int check_cb(void *arg, size_t lineno, struct line_words *lw)
{
    struct check_ctx *k = arg;
    if (lw->w[0].n != 4 || memcmp(lw->w[0].p, "user", 4) != 0 || lw->n < 2) {
        snprintf(k->msg, k->size, "%s:%zu: line should start with user keyword", k->path, lineno);
        return 1;
    }
    struct keel_slice name = lw->w[1];
    if (!acl_name_valid(name.p, name.n)) {
        snprintf(k->msg, k->size, "%s:%zu: invalid user name", k->path, lineno);
        return 1;
    }
    for (size_t i = 0; i < k->nnames; i++) {
        if (k->names[i].n == name.n && memcmp(k->names[i].p, name.p, name.n) == 0) {
            snprintf(k->msg, k->size, "%s:%zu: Duplicate user '%.*s' found", k->path, lineno, (int)name.n,
                     (const char *)name.p);
            return 1;
        }
    }
    k->names[k->nnames++] = name;
    struct acl_user u;
    if (acl_user_init(&u, (const char *)name.p, name.n) != 0) {
        snprintf(k->msg, k->size, "out of memory");
        return 1;
    }
    char why[512] = "";
    int rc = acl_setuser(&u, lw->w + 2, lw->n - 2, why, sizeof why);
    acl_user_close(&u);
    if (rc != 0) {
        snprintf(k->msg, k->size, "%s:%zu: %s", k->path, lineno, why[0] ? why : keel_strerror(rc));
        return 1;
    }
    return 0;
}

/* 0 if every line of text is a valid user; else msg says where and why. */
static int check_text(struct keel_slice text, const char *path, char *msg, size_t size)
{
    struct line_words *lw = malloc(sizeof *lw);
    size_t lines = 1;
    for (size_t i = 0; i < text.n; i++) lines += text.p[i] == '\n';
    struct check_ctx k = {msg, size, path, calloc(lines, sizeof(struct keel_slice)), 0};
    int rc = 0;
    if (lw == NULL || k.names == NULL) {
        snprintf(msg, size, "out of memory");
        rc = KEEL_ENOMEM;
    } else {
        int r = each_line(text, lw, check_cb, &k);
        if (r < 0) snprintf(msg, size, "%s:%d: too many rules on one line", path, -r);
        if (r != 0) rc = KEEL_EINVAL;
    }
    free(k.names);
    free(lw);
    return rc;
}

/* ---- ACL LOAD: the entry ------------------------------------------------- */

struct load_ctx
{
    struct slot *s;
    struct keel_enc *e;
    struct keel_slice text;
    bool has_default;
    int rc;
    char msg[512];
    struct line_words lw;
};

static int set_cb(void *arg, size_t lineno, struct line_words *lw)
{
    struct load_ctx *l = arg;
    (void)lineno;
    static const uint8_t reset[] = "reset";
    /* "reset" then the line's rules: lw->w[1] (the name) becomes "reset". */
    struct keel_slice name = lw->w[1];
    lw->w[1] = (struct keel_slice){reset, 5};
    if (name.n == 7 && memcmp(name.p, "default", 7) == 0) l->has_default = true;
    l->rc = keel_store_acl_setuser(l->s->srv->store, l->e, name, lw->w + 1, lw->n - 1, l->msg, sizeof l->msg);
    return l->rc;
}

/* Is name a user of the file? */
static int find_cb(void *arg, size_t lineno, struct line_words *lw)
{
    (void)lineno;
    struct keel_slice *name = arg;
    return lw->w[1].n == name->n && memcmp(lw->w[1].p, name->p, name->n) == 0;
}

static int del_cb(void *arg, const struct acl_user *u)
{
    struct load_ctx *l = arg;
    struct keel_slice name = {(const uint8_t *)u->name, u->name_n};
    if (name.n == 7 && memcmp(name.p, "default", 7) == 0) return 0;
    struct line_words *lw = malloc(sizeof *lw);
    if (lw == NULL) return l->rc = KEEL_ENOMEM;
    int in_file = each_line(l->text, lw, find_cb, &name);
    free(lw);
    if (in_file) return 0;
    l->rc = keel_store_acl_deluser(l->s->srv->store, l->e, name, l->msg, sizeof l->msg);
    if (l->rc == KEEL_ENOTFOUND) l->rc = 0;
    return l->rc;
}

static int load_encode(struct slot *s, struct keel_enc *e)
{
    struct load_ctx *l = calloc(1, sizeof *l);
    if (l == NULL) {
        srv_reply_error(&s->out, KEEL_ENOMEM, NULL);
        return -1;
    }
    *l = (struct load_ctx){.s = s, .e = e, .text = s->argv[2]};
    keel_enc_batch_begin(e);
    int rc = each_line(l->text, &l->lw, set_cb, l);
    if (rc == 0 && l->rc == 0 && !l->has_default) {
        static const char *open_default[] = {"reset", "on", "nopass", "~*", "&*", "+@all"};
        struct keel_slice rules[6];
        for (size_t i = 0; i < 6; i++) rules[i] = keel_str(open_default[i]);
        l->rc = keel_store_acl_setuser(s->srv->store, e, keel_str("default"), rules, 6, l->msg, sizeof l->msg);
    }
    if (rc == 0 && l->rc == 0) keel_store_acl_list(s->srv->store, del_cb, l);
    if (rc < 0 && l->rc == 0) l->rc = KEEL_EINVAL, snprintf(l->msg, sizeof l->msg, "bad ACL file");
    int n = l->rc == 0 ? 1 : -1;
    if (n < 0) srv_reply_error(&s->out, l->rc, l->msg);
    free(l);
    return n;
}

/* The batch's replies: +OK if every user was set or removed; else the
 * first error (BUSY, a concurrent change: rebuilt once from the new state). */
static void load_reply(struct slot *s, struct keel_reply_reader *rd, unsigned nsub)
{
    (void)nsub;
    struct keel_reply_reader peek = *rd;
    struct keel_reply_item it;
    if (keel_reply_next(&peek, &it) != 0) {
        srv_reply_error(&s->out, KEEL_EMALFORMED, "internal: bad ACL LOAD reply");
        return;
    }
    if (it.kind != KEEL_REPLY_ARRAY) {
        srv_reply_to_resp(&s->out, s->proto, rd);
        return;
    }
    for (int64_t i = 0, n = it.integer; i < n; i++) {
        struct keel_reply_reader at = peek;
        if (keel_reply_next(&peek, &it) != 0) break;
        if (it.kind != KEEL_REPLY_ERROR) continue;
        if (it.integer == KEEL_EBUSY && !s->acl_retried) {
            s->acl_retried = true;
            s->redo = true;
            return;
        }
        srv_reply_to_resp(&s->out, s->proto, &at);
        return;
    }
    resp_ok(&s->out);
}

static const struct command load_cmd = {"acl", -3, CMD_WRITE | CMD_NOMULTI, NULL, NULL, load_encode, load_reply, 0, 0, 0};

/* Replace s's arguments by ACL LOAD <text>. */
static int rewrite_args(struct slot *s, const uint8_t *text, size_t n)
{
    uint8_t *buf = malloc(n + 16);
    struct keel_slice *argv = malloc(3 * sizeof *argv);
    if (buf == NULL || argv == NULL) {
        free(buf);
        free(argv);
        return KEEL_ENOMEM;
    }
    memcpy(buf, "ACL\0LOAD\0", 9);
    memcpy(buf + 9, text, n);
    buf[9 + n] = 0;
    argv[0] = (struct keel_slice){buf, 3};
    argv[1] = (struct keel_slice){buf + 4, 4};
    argv[2] = (struct keel_slice){buf + 9, n};
    free(s->argv);
    free(s->argbuf);
    s->argv = argv;
    s->argbuf = buf;
    s->argc = 3;
    return 0;
}

static int read_file(const char *path, uint8_t **out, size_t *n, char *msg, size_t size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(msg, size, "Error loading ACLs, opening file '%s': %s", path, strerror(errno));
        return KEEL_EIO;
    }
    uint8_t *buf = malloc(ACLFILE_MAX + 1);
    size_t got = buf != NULL ? fread(buf, 1, ACLFILE_MAX + 1, f) : 0;
    bool bad = buf == NULL || ferror(f);
    fclose(f);
    if (bad || got > ACLFILE_MAX) {
        free(buf);
        snprintf(msg, size, "Error loading ACLs from '%s': %s", path, bad ? "read error" : "larger than 16 MiB");
        return KEEL_EIO;
    }
    *out = buf;
    *n = got;
    return 0;
}

void acl_file_load(struct slot *s, void (*as_write)(struct slot *, const struct command *))
{
    const char *path = s->srv->cfg.aclfile;
    char msg[700];
    if (s->argc == 3) { /* a follower's checked file (only a member may send it) */
        if (!s->forwarded_in) {
            srv_reply_errorf(&s->out, KEEL_EINVAL, "wrong number of arguments for 'acl|load' command");
            slot_done(s);
            return;
        }
        as_write(s, &load_cmd);
        return;
    }
    if (path == NULL || path[0] == 0) {
        srv_reply_error(&s->out, KEEL_EINVAL, no_file);
        slot_done(s);
        return;
    }
    uint8_t *text = NULL;
    size_t n = 0;
    int rc = read_file(path, &text, &n, msg, sizeof msg);
    if (rc == 0) rc = check_text((struct keel_slice){text, n}, path, msg, sizeof msg);
    if (rc == KEEL_EINVAL) {
        size_t k = strlen(msg);
        snprintf(msg + k, sizeof msg - k, ". WARNING: ACL errors detected, no change to the previously active ACL rules "
                                          "was performed");
    }
    if (rc == 0) rc = rewrite_args(s, text, n);
    free(text);
    if (rc != 0) {
        log_warn("ACL LOAD from %s refused: %s", path, msg);
        srv_reply_error(&s->out, rc == KEEL_EIO ? KEEL_EINVAL : rc, msg);
        slot_done(s);
        return;
    }
    as_write(s, &load_cmd);
}

/* ---- ACL SAVE ----------------------------------------------------------------- */

static int save_cb(void *arg, const struct acl_user *u)
{
    struct buf *b = arg;
    buf_append(b, "user ", 5);
    buf_append(b, u->name, u->name_n);
    buf_append(b, " ", 1);
    acl_describe(u, b);
    buf_append(b, "\n", 1);
    return 0;
}

static int write_durably(const char *path, const struct buf *b, char *msg, size_t size)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp-%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600); /* hashes: still keep them private */
    if (fd < 0) return snprintf(msg, size, "opening %s: %s", tmp, strerror(errno)), KEEL_EIO;
    size_t at = 0;
    while (at < b->len) {
        ssize_t w = write(fd, b->p + at, b->len - at);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        at += (size_t)w;
    }
    bool ok = at == b->len && fsync(fd) == 0;
    int err = errno;
    close(fd);
    if (!ok || rename(tmp, path) != 0) {
        if (ok) err = errno;
        unlink(tmp);
        return snprintf(msg, size, "writing %s: %s", path, strerror(err)), KEEL_EIO;
    }
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) slash[1] = 0;
    else if (slash != NULL) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

void acl_file_save(struct slot *s)
{
    const char *path = s->srv->cfg.aclfile;
    if (path == NULL || path[0] == 0) {
        srv_reply_error(&s->out, KEEL_EINVAL, no_file);
        return;
    }
    struct buf b;
    buf_init(&b);
    char msg[512] = "out of memory";
    int rc = keel_store_acl_list(s->srv->store, save_cb, &b);
    if (rc == 0 && b.oom) rc = KEEL_ENOMEM;
    if (rc == 0) rc = write_durably(path, &b, msg, sizeof msg);
    buf_close(&b);
    if (rc != 0) {
        log_warn("ACL SAVE to %s failed: %s", path, rc == KEEL_EIO ? msg : keel_strerror(rc));
        srv_reply_error(&s->out, KEEL_EINVAL,
                        "There was an error trying to save the ACLs. Please check the server logs for more information");
        return;
    }
    resp_ok(&s->out);
}
