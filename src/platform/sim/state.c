/* The sim platform's state directory and its secret. */
#include "sim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <kubetee/crypto.h>

/* The sim CPU's security version: fixed, so keys survive restarts. */
static const uint8_t sim_cpusvn[16] = {2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

/* Creates path with fresh random bytes unless it exists; the first writer wins, so two
 * processes starting at once agree on one secret. */
static kt_status load_or_create_secret(const char *path, uint8_t *out, size_t n)
{
    kt_buf b = {0};
    kt_status st = kt_file_read(path, 4096, &b);
    if (st == KT_ERR_NOT_FOUND) {
        uint8_t fresh[64];
        char tmp[PATH_MAX + 64];
        snprintf(tmp, sizeof tmp, "%s.new.%ld", path, (long)getpid());
        if ((st = kt_random(fresh, n)) || (st = kt_file_write_atomic(tmp, fresh, n, 0600))) {
            kt_wipe(fresh, sizeof fresh);
            return st;
        }
        kt_wipe(fresh, sizeof fresh);
        if (link(tmp, path) != 0 && errno != EEXIST) {
            int e = errno;
            unlink(tmp);
            return kt_fail(KT_ERR_IO, "%s: %s", path, strerror(e));
        }
        unlink(tmp);
        kt_log(KT_LOG_INFO, "sim.secret_created", "path", path, NULL);
        st = kt_file_read(path, 4096, &b);
    }
    if (st) return st;
    if (b.len != n) {
        kt_buf_free(&b);
        return kt_fail(KT_ERR_MALFORMED, "%s: %zu bytes, expected %zu (damaged sim state)", path,
                       b.len, n);
    }
    memcpy(out, b.data, n);
    kt_buf_free(&b);
    struct stat sb;
    if (stat(path, &sb) == 0 && (sb.st_mode & 077))
        return kt_fail(KT_ERR_DENIED,
                       "%s: mode %03o lets others read the platform secret; "
                       "chmod 600 it",
                       path, (unsigned)(sb.st_mode & 0777));
    return KT_OK;
}

kt_status kt_sim_state_open(const char *dir, kt_sim_state **out)
{
    if (!out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "sim state: NULL argument");
    char def[PATH_MAX];
    if (!dir || !*dir) dir = getenv("KUBETEE_SIM_DIR");
    if (!dir || !*dir) {
        const char *home = getenv("HOME");
        if (!home || !*home)
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "sim state: set KUBETEE_SIM_DIR or HOME");
        if ((size_t)snprintf(def, sizeof def, "%s/.kubetee/sim", home) >= sizeof def)
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "sim state: HOME too long");
        dir = def;
    }
    kt_sim_state *s = calloc(1, sizeof *s);
    if (!s) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    if (strlen(dir) >= sizeof s->dir - 32) {
        free(s);
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "sim state: directory path too long");
    }
    strcpy(s->dir, dir);
    char path[PATH_MAX + 32];
    kt_status st = kt_mkdirs(dir, 0700);
    if (!st) {
        snprintf(path, sizeof path, "%s/seal_secret", dir);
        st = load_or_create_secret(path, s->seal_secret, sizeof s->seal_secret);
    }
    if (st) {
        kt_sim_state_free(s);
        return kt_fail_context(st, "sim platform state");
    }
    memcpy(s->cpusvn, sim_cpusvn, sizeof s->cpusvn);
    *out = s;
    return KT_OK;
}

const char *kt_sim_state_dir(const kt_sim_state *s)
{
    return s ? s->dir : NULL;
}

void kt_sim_state_free(kt_sim_state *s)
{
    if (!s) return;
    kt_wipe(s, sizeof *s);
    free(s);
}
