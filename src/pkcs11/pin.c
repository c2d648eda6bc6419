/* The token PIN: from a file kept private, or from the environment; never a flag, since
 * a command line is readable by every user of the machine (/proc/PID/cmdline). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static kt_status pin_check(const uint8_t *p, size_t n, const char *from)
{
    if (n == 0) return kt_fail(KT_ERR_INVALID_ARGUMENT, "PIN from %s is empty", from);
    if (n > KT_P11_PIN_MAX)
        return kt_fail(KT_ERR_TOO_LARGE, "PIN from %s is over %d bytes", from, KT_P11_PIN_MAX);
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] > 0x7e)
            return kt_fail(KT_ERR_INVALID_ARGUMENT,
                           "PIN from %s has a byte that is not printable ASCII at %zu", from, i);
    return KT_OK;
}

kt_status kt_p11_pin_read(const char *file, const char *env, kt_buf *pin)
{
    if (!pin) return kt_fail(KT_ERR_INVALID_ARGUMENT, "pin: NULL argument");
    if (!file == !env)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "PIN: give exactly one of a PIN file and a PIN "
                                                "environment variable");
    kt_buf_free(pin);
    if (env) {
        const char *v = getenv(env);
        char name[96];
        kt_escape(env, strlen(env), name, sizeof name);
        if (!v) return kt_fail(KT_ERR_NOT_FOUND, "PIN: environment variable %s is not set", name);
        kt_status st = pin_check((const uint8_t *)v, strlen(v), name);
        return st ? st : kt_buf_append(pin, v, strlen(v));
    }
    char name[256];
    kt_escape(file, strlen(file), name, sizeof name);
    struct stat sb;
    if (stat(file, &sb)) return kt_fail(KT_ERR_NOT_FOUND, "PIN file %s: cannot stat it", name);
    if (!S_ISREG(sb.st_mode))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "PIN file %s is not a regular file", name);
    if (sb.st_mode & 077)
        return kt_fail(KT_ERR_DENIED, "PIN file %s is readable or writable by group or others "
                                      "(mode %03o; want 0600 or 0400)",
                       name, (unsigned)(sb.st_mode & 0777));
    kt_status st = kt_file_read(file, KT_P11_PIN_MAX + 2, pin);
    if (st) return kt_fail_context(st, "PIN file %s", name);
    size_t n = pin->len;
    if (n && pin->data[n - 1] == '\n') n--;
    if (n && pin->data[n - 1] == '\r') n--;
    if ((st = pin_check(pin->data, n, name))) {
        kt_buf_free(pin);
        return st;
    }
    kt_wipe(pin->data + n, pin->len - n);
    pin->len = n;
    return KT_OK;
}
