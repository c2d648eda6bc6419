/* Collateral from a directory laid out as Intel PCS serves it (docs/attestation.md), in a
 * plain process: its files read by name, then made into collateral (or a bundle for an
 * enclave) by the one code in collateral.c. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The files of dir (the anchor from root_pem_path when given) into bufs and items. */
static kt_status read_items(const char *dir, const char *root_pem_path,
                            kt_buf bufs[KT_COLLATERAL_ITEMS], kt_bytes items[KT_COLLATERAL_ITEMS])
{
    /* the directory is opened once and its files read by name in it */
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return kt_fail(errno == ENOENT ? KT_ERR_NOT_FOUND : KT_ERR_IO, "collateral: %s: %s", dir,
                       strerror(errno));
    kt_status st = KT_OK;
    for (unsigned i = 0; i < KT_COLLATERAL_ITEMS && !st; i++) {
        const kt_collateral_item_file *f = &kt_collateral_files[i];
        st = i == 0 && root_pem_path ? kt_file_read(root_pem_path, f->max, &bufs[i])
                                     : kt_file_read_at(fd, f->name, f->max, &bufs[i]);
        if (st && i == 0)
            st = kt_fail_context(st, "collateral: trust anchor %s%s%s",
                                 root_pem_path ? root_pem_path : dir, root_pem_path ? "" : "/",
                                 root_pem_path ? "" : f->name);
        else if (st)
            st = kt_fail_context(st, "collateral");
        items[i].p = bufs[i].data;
        items[i].n = bufs[i].len;
    }
    close(fd);
    return st;
}

static void free_bufs(kt_buf bufs[KT_COLLATERAL_ITEMS])
{
    for (unsigned i = 0; i < KT_COLLATERAL_ITEMS; i++)
        kt_buf_free(&bufs[i]);
}

kt_status kt_collateral_load_dir(const char *dir, const char *root_pem_path, kt_collateral **out)
{
    if (!dir || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "collateral: NULL argument");
    *out = NULL;
    kt_buf bufs[KT_COLLATERAL_ITEMS] = {{0}};
    kt_bytes items[KT_COLLATERAL_ITEMS];
    char anchor[4096];
    snprintf(anchor, sizeof anchor, "%s%s%s", root_pem_path ? root_pem_path : dir,
             root_pem_path ? "" : "/", root_pem_path ? "" : kt_collateral_files[0].name);
    kt_status st = read_items(dir, root_pem_path, bufs, items);
    if (!st) st = kt_collateral_from_items(items, anchor, out);
    free_bufs(bufs);
    return st ? kt_fail_context(st, "%s", dir) : KT_OK;
}

kt_status kt_collateral_bundle_dir(const char *dir, const char *root_pem_path, kt_buf *out)
{
    if (!dir || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "collateral: NULL argument");
    kt_buf bufs[KT_COLLATERAL_ITEMS] = {{0}};
    kt_bytes items[KT_COLLATERAL_ITEMS];
    kt_status st = read_items(dir, root_pem_path, bufs, items);
    if (!st) st = kt_collateral_bundle_items(items, out);
    free_bufs(bufs);
    return st ? kt_fail_context(st, "%s", dir) : KT_OK;
}
