/* keelctl backup save: a backup (format: api/cli/cli.h) streamed from the
 * leader, then checked in full by keelutl backup inspect (keel_image_check:
 * checksums, LMDB structure, every record) before it is renamed into place:
 * a damaged image or a bad write never becomes a backup. keelctl itself
 * never opens the image (it links neither LMDB nor raft). backup inspect
 * and restore are keelutl's (keelctl_offline.c).
 *
 * The stream is KEEL.SNAPSHOT BEGIN/READ/END (api/server/commands/
 * cmd_admin.c): a wire-internal name kept for compatibility; what it
 * streams is a backup's image (a compact LMDB copy in the format of raft's
 * snapshots, made on the leader for this call). Its errors ("no snapshot
 * N on this node") are the server's words. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/keelctl/keelctl.h"

#define CHUNK (1u << 20)

static void progress(const struct kctl *k, unsigned long long done, unsigned long long total)
{
    if (!k->progress || total == 0) return;
    int width = 40, fill = (int)(done * (unsigned long long)width / total);
    fprintf(stderr, "\r[%.*s%*s] %3llu%% %llu/%llu KiB", fill, "########################################",
            width - fill, "", done * 100 / total, done / 1024, total / 1024);
    if (done == total) fputc('\n', stderr);
}

/* Members as JSON, from KEEL.MEMBER LIST. */
static json_t *members_json(struct kctl *k)
{
    const char *av[] = {"KEEL.MEMBER", "LIST"};
    struct keel_value *v;
    json_t *a = json_array();
    if (kctl_call(k, 2, av, &v) != CLI_OK) return a;
    for (size_t i = 0; v->type == KEEL_VALUE_ARRAY && i < v->n; i++) {
        const struct keel_value *m = v->elements[i];
        if (m->type != KEEL_VALUE_ARRAY || m->n < 4) continue;
        json_array_append_new(a, json_pack("{s:I, s:s, s:s}", "id", (json_int_t)m->elements[0]->integer,
                                           "raft_address", m->elements[1]->str, "role", m->elements[3]->str));
    }
    keel_value_free(v);
    return a;
}

/* One pass: BEGIN, READ until done, END. CLI_UNKNOWN asks for another
 * pass (the image went away: leadership moved). */
static int save_once(struct kctl *k, FILE *f, json_t **meta_out)
{
    const char *begin[] = {"KEEL.SNAPSHOT", "BEGIN"};
    struct keel_value *v;
    int rc = kctl_call(k, 2, begin, &v);
    if (rc != CLI_OK) return rc;
    if (v->type != KEEL_VALUE_ARRAY || v->n != 6) {
        keel_value_free(v);
        fprintf(stderr, "keelctl: backup save: unexpected reply to BEGIN\n");
        return CLI_FAILED;
    }
    char id[24];
    snprintf(id, sizeof id, "%lld", v->elements[0]->integer);
    unsigned long long size = (unsigned long long)v->elements[1]->integer;
    json_t *meta = json_pack("{s:I, s:I, s:I, s:I, s:s, s:o, s:I, s:s}", "index",
                             (json_int_t)v->elements[2]->integer, "term", (json_int_t)v->elements[3]->integer,
                             "keys", (json_int_t)v->elements[4]->integer, "size", (json_int_t)size,
                             "checksum", v->elements[5]->str, "members", members_json(k), "created_unix_ms",
                             (json_int_t)time(NULL) * 1000, "source", keel_client_endpoint(k->c));
    keel_value_free(v);
    char *line = json_dumps(meta, JSON_COMPACT | JSON_PRESERVE_ORDER);
    rewind(f);
    if (ftruncate(fileno(f), 0) != 0 || fprintf(f, "%s\n%s\n", CLI_BACKUP_MAGIC, line) < 0) rc = CLI_FAILED;
    free(line);
    for (unsigned long long off = 0; rc == CLI_OK && off < size;) {
        char o[24], n[24];
        snprintf(o, sizeof o, "%llu", off);
        snprintf(n, sizeof n, "%u", CHUNK);
        const char *rd[] = {"KEEL.SNAPSHOT", "READ", id, o, n};
        rc = kctl_call(k, 5, rd, &v);
        if (rc == CLI_FAILED) rc = CLI_UNKNOWN; /* "no snapshot": start again */
        if (rc != CLI_OK) break;
        if (v->type != KEEL_VALUE_STRING || v->len == 0 || fwrite(v->str, 1, v->len, f) != v->len) {
            fprintf(stderr, "keelctl: backup save: short read or write at %llu: %s\n", off, strerror(errno));
            rc = CLI_FAILED;
        }
        off += v->len;
        keel_value_free(v);
        progress(k, off, size);
    }
    if (rc == CLI_OK) {
        const char *end[] = {"KEEL.SNAPSHOT", "END", id};
        if (kctl_call(k, 3, end, &v) == CLI_OK) keel_value_free(v); /* else it expires */
        *meta_out = meta;
    } else {
        json_decref(meta);
    }
    return rc;
}

/* keelutl backup inspect on what save wrote: CLI_OK, or CLI_FAILED with
 * keelutl's reason on stderr. If keelutl could not be run, the file is kept
 * (*keep), unchecked and not renamed, with the command that checks it. */
static int check(struct kctl *k, const char *part, bool *keep)
{
    char *argv[] = {"backup", "inspect", (char *)part};
    int rc = kctl_keelutl_run(k, 3, argv, true);
    if (rc == 0) return CLI_OK;
    if (rc == 127) {
        fprintf(stderr, "keelctl: backup save: %s was written but not checked: keelutl, which checks\n"
                        "backups, could not be run (not beside keelctl, nor on $PATH). Check it with\n"
                        "keelutl backup inspect %s, then rename it.\n", part, part);
        *keep = true;
        return CLI_FAILED;
    }
    if (rc > 128) fprintf(stderr, "keelctl: backup save: keelutl backup inspect was killed by signal %d\n", rc - 128);
    else fprintf(stderr, "keelctl: backup save: the file does not verify (keelutl backup inspect, above)\n");
    return CLI_FAILED;
}

static int save(struct kctl *k, const char *path)
{
    char part[4200];
    snprintf(part, sizeof part, "%s.part", path);
    FILE *f = fopen(part, "w+");
    if (f == NULL) {
        fprintf(stderr, "keelctl: backup save: %s: %s\n", part, strerror(errno));
        return CLI_FAILED;
    }
    if (kctl_client(k) == NULL) return fclose(f), unlink(part), CLI_UNAVAILABLE;
    json_t *meta = NULL;
    int rc = CLI_UNKNOWN;
    for (int attempt = 0; attempt < 3 && rc == CLI_UNKNOWN; attempt++) rc = save_once(k, f, &meta);
    if (rc == CLI_UNKNOWN) rc = CLI_UNAVAILABLE;
    if (rc == CLI_OK && (fflush(f) != 0 || fsync(fileno(f)) != 0)) rc = CLI_FAILED;
    fclose(f);
    /* Check what landed on disk before calling it a backup. */
    bool keep = false;
    if (rc == CLI_OK) rc = check(k, part, &keep);
    if (rc == CLI_OK && rename(part, path) != 0) {
        fprintf(stderr, "keelctl: backup save: rename to %s: %s\n", path, strerror(errno));
        rc = CLI_FAILED;
    }
    if (rc != CLI_OK) {
        if (!keep) unlink(part);
        json_decref(meta);
        return rc;
    }
    if (k->json) {
        json_object_set_new(meta, "file", json_string(path));
        cli_print_json(meta);
    } else {
        printf("saved %s: index %lld, term %lld, %lld keys, %lld bytes, checksum %s\n", path,
               json_integer_value(json_object_get(meta, "index")), json_integer_value(json_object_get(meta, "term")),
               json_integer_value(json_object_get(meta, "keys")), json_integer_value(json_object_get(meta, "size")),
               json_string_value(json_object_get(meta, "checksum")));
        json_decref(meta);
    }
    return CLI_OK;
}

int kctl_backup(struct kctl *k, int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "save")) return save(k, argv[2]);
    return CLI_USAGE;
}
