/* Memory helpers: wiping secrets, equal-time comparison, byte buffers. */
#include <kubetee/base.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kt_wipe(void *p, size_t n)
{
    if (p && n) explicit_bzero(p, n);
}

bool kt_equal(const void *a, const void *b, size_t n)
{
    const volatile uint8_t *x = a, *y = b;
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= x[i] ^ y[i];
    return d == 0;
}

kt_status kt_buf_reserve(kt_buf *b, size_t extra)
{
    if (!b) return kt_fail(KT_ERR_INVALID_ARGUMENT, "buffer is NULL");
    if (extra > SIZE_MAX / 2 - b->len)
        return kt_fail(KT_ERR_TOO_LARGE, "buffer growth of %zu bytes overflows", extra);
    size_t need = b->len + extra;
    if (need <= b->cap) return KT_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    /* grow by copy so that a secret never lingers in memory realloc released */
    uint8_t *p = malloc(cap);
    if (!p) return kt_fail(KT_ERR_NO_MEMORY, "out of memory growing a buffer to %zu bytes", cap);
    if (b->len) memcpy(p, b->data, b->len);
    kt_wipe(b->data, b->cap);
    free(b->data);
    b->data = p;
    b->cap = cap;
    return KT_OK;
}

kt_status kt_buf_append(kt_buf *b, const void *data, size_t n)
{
    kt_status st = kt_buf_reserve(b, n);
    if (st) return st;
    if (n) memcpy(b->data + b->len, data, n);
    b->len += n;
    return KT_OK;
}

kt_status kt_buf_printf(kt_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return kt_fail(KT_ERR_INVALID_ARGUMENT, "buffer: bad format '%s'", fmt);
    /* room for vsnprintf's NUL, which len does not count */
    kt_status st = kt_buf_reserve(b, (size_t)n + 1);
    if (st) return st;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return KT_OK;
}

void kt_buf_free(kt_buf *b)
{
    if (!b) return;
    kt_wipe(b->data, b->cap);
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
