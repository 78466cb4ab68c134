/* keelutl: open and verify a backup file (see keelutl_backup.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/keelutl/keelutl_backup.h"

static int fail(struct kutl_backup *b, char *why, const char *path, const char *what)
{
    snprintf(why, KEEL_ERRMSG_SIZE, "%s: %s", path, what);
    kutl_backup_close(b);
    return KEEL_ECORRUPT;
}

int kutl_backup_open(const char *path, bool full, struct kutl_backup *b, char *why)
{
    struct stat st;
    memset(b, 0, sizeof *b);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(why, KEEL_ERRMSG_SIZE, "%s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return KEEL_EIO;
    }
    if (st.st_size > 0) b->map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (st.st_size == 0 || b->map == MAP_FAILED) {
        b->map = NULL;
        return fail(b, why, path, "empty or unreadable");
    }
    b->map_len = (size_t)st.st_size;
    const char *p = b->map, *end = p + b->map_len;
    size_t magic = strlen(CLI_BACKUP_MAGIC);
    if (b->map_len < magic + 1 || memcmp(p, CLI_BACKUP_MAGIC "\n", magic + 1) != 0)
        return fail(b, why, path, "not a Keel backup (no " CLI_BACKUP_MAGIC " line)");
    const char *line = p + magic + 1;
    const char *nl = memchr(line, '\n', (size_t)(end - line));
    if (nl == NULL) return fail(b, why, path, "truncated metadata line");
    json_error_t je;
    b->meta = json_loadb(line, (size_t)(nl - line), 0, &je);
    if (b->meta == NULL || !json_is_object(b->meta)) return fail(b, why, path, "metadata is not JSON");
    b->image = nl + 1;
    b->image_len = (size_t)(end - (nl + 1));
    char vwhy[KEEL_ERRMSG_SIZE];
    if (keel_snapshot_verify(b->image, b->image_len, &b->info, vwhy) != 0)
        return fail(b, why, path, vwhy);
    json_int_t index = json_integer_value(json_object_get(b->meta, "index"));
    json_int_t size = json_integer_value(json_object_get(b->meta, "size"));
    b->term = (uint64_t)json_integer_value(json_object_get(b->meta, "term"));
    if ((uint64_t)index != b->info.applied || (size_t)size != b->image_len || b->term == 0)
        return fail(b, why, path, "metadata (index, size or term) disagrees with the image");
    if (full) {
        if (keel_image_check(b->image, b->image_len, 0, &b->report, vwhy) != 0)
            return fail(b, why, path, vwhy);
        b->checked = true;
    }
    return 0;
}

void kutl_backup_close(struct kutl_backup *b)
{
    if (b->map != NULL) munmap(b->map, b->map_len);
    if (b->meta != NULL) json_decref(b->meta);
    memset(b, 0, sizeof *b);
}
