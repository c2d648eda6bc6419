/* Files: bounded reads and atomic writes. Untrusted code only. */
#include <kubetee/base.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

kt_status kt_file_read(const char *path, size_t max, kt_buf *out)
{
    return kt_file_read_at(AT_FDCWD, path, max, out);
}

kt_status kt_file_read_at(int dir, const char *path, size_t max, kt_buf *out)
{
    if (!path || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "file read: NULL argument");
    int fd = openat(dir, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kt_fail(errno == ENOENT ? KT_ERR_NOT_FOUND : KT_ERR_IO, "%s: %s", path,
                       strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return kt_fail(KT_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)sb.st_size > max) {
        close(fd);
        return kt_fail(KT_ERR_TOO_LARGE, "%s: %lld bytes is over the limit of %zu", path,
                       (long long)sb.st_size, max);
    }
    /* room for the file, its NUL and one byte more, so the read that finds the end needs
     * no growth: the buffer grows (by copy) only for a file that grew since fstat */
    kt_status st = kt_buf_reserve(out, (size_t)sb.st_size + 2);
    while (st == KT_OK) {
        if (out->len > max) {
            st = kt_fail(KT_ERR_TOO_LARGE, "%s: grew past the limit of %zu bytes", path, max);
            break;
        }
        if (out->cap - out->len < 2 && (st = kt_buf_reserve(out, 4096))) break;
        ssize_t n = read(fd, out->data + out->len, out->cap - out->len - 1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            st = kt_fail(KT_ERR_IO, "%s: read: %s", path, strerror(errno));
            break;
        }
        if (n == 0) break;
        out->len += (size_t)n;
    }
    close(fd);
    if (st == KT_OK) out->data[out->len] = '\0'; /* convenient for text; not counted in len */
    return st;
}

/* Writes all n bytes to fd, fsyncs and closes it; on failure unlinks tmp under dir. */
static kt_status write_sync_close(int fd, int dir, const char *tmp, const void *data, size_t n,
                                  unsigned mode)
{
    const uint8_t *p = data;
    size_t left = n;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            int e = errno;
            close(fd);
            unlinkat(dir, tmp, 0);
            return kt_fail(KT_ERR_IO, "%s: write: %s", tmp, strerror(e));
        }
        p += w;
        left -= (size_t)w;
    }
    if (fchmod(fd, mode & 07777) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlinkat(dir, tmp, 0);
        return kt_fail(KT_ERR_IO, "%s: %s", tmp, strerror(e));
    }
    close(fd);
    return KT_OK;
}

kt_status kt_file_write_atomic(const char *path, const void *data, size_t n, unsigned mode)
{
    if (!path || (n && !data)) return kt_fail(KT_ERR_INVALID_ARGUMENT, "file write: NULL argument");
    char tmp[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode & 07777);
    if (fd < 0) return kt_fail(KT_ERR_IO, "%s: %s", tmp, strerror(errno));
    kt_status st = write_sync_close(fd, AT_FDCWD, tmp, data, n, mode);
    if (st) return st;
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return kt_fail(KT_ERR_IO, "%s: rename: %s", path, strerror(e));
    }
    return KT_OK;
}

kt_status kt_file_write_synced_at(int dir, const char *tmp, const void *data, size_t n,
                                  unsigned mode)
{
    if (!tmp || (n && !data)) return kt_fail(KT_ERR_INVALID_ARGUMENT, "file write: NULL argument");
    int fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode & 07777);
    if (fd < 0) return kt_fail(KT_ERR_IO, "%s: %s", tmp, strerror(errno));
    return write_sync_close(fd, dir, tmp, data, n, mode);
}

kt_status kt_file_write_atomic_at(int dir, const char *name, const char *tmp, const void *data,
                                  size_t n, unsigned mode)
{
    if (!name) return kt_fail(KT_ERR_INVALID_ARGUMENT, "file write: NULL argument");
    kt_status st = kt_file_write_synced_at(dir, tmp, data, n, mode);
    if (st) return st;
    if (renameat(dir, tmp, dir, name) != 0) {
        int e = errno;
        unlinkat(dir, tmp, 0);
        return kt_fail(KT_ERR_IO, "%s: rename: %s", name, strerror(e));
    }
    if (fsync(dir) != 0) return kt_fail(KT_ERR_IO, "%s: fsync of the directory: %s", name, strerror(errno));
    return KT_OK;
}

kt_status kt_mkdirs(const char *path, unsigned mode)
{
    char p[PATH_MAX];
    if (!path || !*path || strlen(path) >= sizeof p)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "mkdirs: bad path");
    strcpy(p, path);
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, mode) != 0 && errno != EEXIST)
                return kt_fail(KT_ERR_IO, "%s: mkdir: %s", p, strerror(errno));
            *s = c;
            if (!c) break;
        }
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return kt_fail(KT_ERR_IO, "%s: not a directory", path);
    return KT_OK;
}
