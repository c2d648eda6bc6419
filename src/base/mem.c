/* Memory helpers: wiping secrets, equal-time comparison, byte buffers. */
#include <kubetee/base.h>

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

void kt_buf_free(kt_buf *b)
{
    if (!b) return;
    kt_wipe(b->data, b->cap);
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
