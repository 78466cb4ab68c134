/* keelutl backup inspect FILE: check a backup file in full, as a node
 * checks a raft snapshot before loading one (keel_image_check,
 * storage/image.h: checksums, LMDB structure, every record), and print what
 * it holds. Exit 1 and the reason for a damaged file. keelctl backup save
 * runs it on every file it saves before calling it a backup. */
#include <stdio.h>

#include "api/keelutl/keelutl.h"
#include "api/keelutl/keelutl_backup.h"

int kutl_backup_inspect(const struct kutl *u, int argc, char **argv)
{
    if (argc != 1) return CLI_USAGE;
    const char *path = argv[0];
    struct kutl_backup b;
    char why[KEEL_ERRMSG_SIZE];
    if (kutl_backup_open(path, true, &b, why) != 0) {
        if (u->json) cli_print_json(json_pack("{s:s, s:b, s:s}", "file", path, "valid", 0, "error", why));
        fprintf(stderr, "keelutl: backup inspect: %s\n", why);
        return CLI_FAILED;
    }
    if (u->json) {
        json_t *o = json_deep_copy(b.meta);
        json_object_set_new(o, "file", json_string(path));
        json_object_set_new(o, "valid", json_true());
        json_object_set_new(o, "expires", json_integer((json_int_t)b.report.expires));
        json_object_set_new(o, "dedupe_entries", json_integer((json_int_t)b.report.dedupe));
        char digest[24];
        snprintf(digest, sizeof digest, "%016llx", (unsigned long long)b.report.digest);
        json_object_set_new(o, "digest", json_string(digest));
        cli_print_json(o);
    } else {
        printf("file:     %s\nvalid:    yes (checksums, LMDB structure and every record checked)\n"
               "index:    %llu\nterm:     %llu\nkeys:     %llu (%llu expiring)\nsize:     %zu bytes\n"
               "checksum: %016llx\ndigest:   %016llx (keelctl hashkv of a node at this index)\nmembers: ",
               path, (unsigned long long)b.info.applied, (unsigned long long)b.term,
               (unsigned long long)b.info.keys, (unsigned long long)b.report.expires, b.image_len,
               (unsigned long long)b.info.checksum, (unsigned long long)b.report.digest);
        json_t *ms = json_object_get(b.meta, "members");
        for (size_t i = 0; i < json_array_size(ms); i++) {
            json_t *m = json_array_get(ms, i);
            printf(" %lld=%s(%s)", json_integer_value(json_object_get(m, "id")),
                   json_string_value(json_object_get(m, "raft_address")),
                   json_string_value(json_object_get(m, "role")));
        }
        printf("\n");
    }
    kutl_backup_close(&b);
    return CLI_OK;
}
