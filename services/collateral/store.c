/* The directory store: <dir>/<key>.item, each written atomically (temporary file, fsync,
 * rename), so a reader sees a whole old record or a whole new one. Keys are the
 * proxy's own (kt_coll_key_parse), never a client's text. */
#include "collateral.h"

#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    kt_coll_store base;
    char dir[PATH_MAX];
} dir_store;

static kt_status path_of(dir_store *d, const char *key, char out[PATH_MAX])
{
    kt_coll_query q;
    if (kt_coll_key_parse(key, &q)) return kt_fail_context(KT_ERR_MALFORMED, "store");
    if ((size_t)snprintf(out, PATH_MAX, "%s/%s.item", d->dir, key) >= PATH_MAX)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "store: path too long");
    return KT_OK;
}

static kt_status dir_put(kt_coll_store *s, const char *key, const kt_buf *record)
{
    char path[PATH_MAX];
    kt_status st = path_of((dir_store *)s, key, path);
    return st ? st : kt_file_write_atomic(path, record->data, record->len, 0644);
}

static kt_status dir_get(kt_coll_store *s, const char *key, kt_buf *record)
{
    char path[PATH_MAX];
    kt_status st = path_of((dir_store *)s, key, path);
    return st ? st : kt_file_read(path, 2 * KT_COLL_ITEM_MAX + 256, record);
}

static kt_status dir_list(kt_coll_store *s, void (*fn)(void *arg, const char *key), void *arg)
{
    dir_store *d = (dir_store *)s;
    DIR *dir = opendir(d->dir);
    if (!dir) return kt_fail(KT_ERR_IO, "store: cannot read %s", d->dir);
    struct dirent *e;
    while ((e = readdir(dir))) {
        size_t n = strlen(e->d_name);
        char key[KT_COLL_KEY_MAX];
        kt_coll_query q;
        if (n <= 5 || n - 5 >= sizeof key || strcmp(e->d_name + n - 5, ".item")) continue;
        memcpy(key, e->d_name, n - 5);
        key[n - 5] = '\0';
        if (kt_coll_key_parse(key, &q) == KT_OK) fn(arg, key);
        kt_clear_error();
    }
    closedir(dir);
    return KT_OK;
}

static void dir_free(kt_coll_store *s)
{
    free(s);
}

static const kt_coll_store_ops dir_ops = {dir_put, dir_get, dir_list, dir_free};

kt_status kt_coll_store_dir(const char *dir, kt_coll_store **out)
{
    if (!dir || !dir[0] || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "store: no directory");
    kt_status st = kt_mkdirs(dir, 0755);
    if (st) return st;
    dir_store *d = calloc(1, sizeof *d);
    if (!d) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    if ((size_t)snprintf(d->dir, sizeof d->dir, "%s", dir) >= sizeof d->dir) {
        free(d);
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "store: path too long");
    }
    d->base.ops = &dir_ops;
    *out = &d->base;
    return KT_OK;
}
