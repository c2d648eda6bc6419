/* The protobuf wire format in place (base.h): views of small messages' fields, and the
 * headers of length-delimited fields, for the hot paths that must not copy. */
#include <kubetee/base.h>

#include <string.h>

static kt_status bad(const char *what, const char *why)
{
    return kt_fail(KT_ERR_MALFORMED, "%s: %s", what, why);
}

/* A varint at m[*at..n): at most max bytes (10: the tenth at most 1; 5: a tag or a length,
 * under 2^32, as protobuf-c reads them). */
static bool varint(const uint8_t *m, size_t n, size_t *at, uint64_t *v, unsigned max)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < max && *at < n; i++) {
        uint8_t b = m[(*at)++];
        if ((i == 9 && b > 1) || (max == 5 && i == 4 && b > 0x0f)) return false;
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

kt_status kt_pb_view(const uint8_t *m, size_t n, const char *layout, kt_pb_field *f, const char *what)
{
    size_t fields = strlen(layout);
    memset(f, 0, fields * sizeof *f);
    if (n && !m) return bad(what, "no bytes");
    size_t at = 0;
    while (at < n) {
        uint64_t tag, v;
        if (!varint(m, n, &at, &tag, 5)) return bad(what, "a field's tag is cut or over-long");
        uint64_t num = tag >> 3, type = tag & 7;
        if (num == 0 || num > fields || layout[num - 1] == '-')
            return kt_fail(KT_ERR_MALFORMED, "%s: no field %llu", what, (unsigned long long)num);
        kt_pb_field *x = &f[num - 1];
        if (x->present) return kt_fail(KT_ERR_MALFORMED, "%s: field %llu given twice", what, (unsigned long long)num);
        bool len_field = layout[num - 1] == 'L';
        if (type != (len_field ? 2u : 0u))
            return kt_fail(KT_ERR_MALFORMED, "%s: field %llu has wire type %llu", what, (unsigned long long)num,
                           (unsigned long long)type);
        if (!varint(m, n, &at, &v, len_field ? 5 : 10)) return bad(what, "a varint is cut or over-long");
        x->present = true;
        if (!len_field) {
            x->varint = v;
            continue;
        }
        if (v > n - at)
            return kt_fail(KT_ERR_MALFORMED, "%s: field %llu runs past the message", what, (unsigned long long)num);
        x->data = m + at;
        x->len = (size_t)v;
        at += (size_t)v;
    }
    return KT_OK;
}

size_t kt_pb_header_len(size_t len)
{
    size_t k = 2;
    while (len >= 0x80) len >>= 7, k++;
    return k;
}

size_t kt_pb_header(uint8_t *p, unsigned field, size_t len)
{
    size_t k = 0;
    p[k++] = (uint8_t)((field & 15) << 3 | 2);
    while (len >= 0x80) {
        p[k++] = (uint8_t)(len | 0x80);
        len >>= 7;
    }
    p[k++] = (uint8_t)len;
    return k;
}
