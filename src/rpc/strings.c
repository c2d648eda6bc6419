/* proto3 string fields must hold UTF-8, and protobuf-c hands them out NUL-terminated, so an
 * embedded NUL would silently cut one short. This walks a message's wire bytes with its
 * descriptor and checks every string field, in nested messages too. */
#include "internal.h"

#include <string.h>

#define MAX_DEPTH 32

static bool varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return true;
    }
    return false;
}

static kt_status walk(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n, int depth)
{
    if (depth > MAX_DEPTH)
        return kt_fail(KT_ERR_MALFORMED, "rpc: %s nests deeper than %d", d->name, MAX_DEPTH);
    const uint8_t *end = p + n;
    while (p < end) {
        uint64_t key, len;
        if (!varint(&p, end, &key))
            return kt_fail(KT_ERR_MALFORMED, "rpc: %s: bad field key", d->name);
        switch (key & 7) {
        case 0:
            if (!varint(&p, end, &len))
                return kt_fail(KT_ERR_MALFORMED, "rpc: %s: bad varint", d->name);
            continue;
        case 1:
        case 5: {
            size_t w = (key & 7) == 1 ? 8 : 4;
            if ((size_t)(end - p) < w)
                return kt_fail(KT_ERR_MALFORMED, "rpc: %s: short field", d->name);
            p += w;
            continue;
        }
        case 2:
            break;
        default:
            return kt_fail(KT_ERR_MALFORMED, "rpc: %s: unsupported wire type %u", d->name,
                           (unsigned)(key & 7));
        }
        if (!varint(&p, end, &len) || len > (uint64_t)(end - p))
            return kt_fail(KT_ERR_MALFORMED, "rpc: %s: bad length", d->name);
        const ProtobufCFieldDescriptor *f =
            key >> 3 <= UINT32_MAX
                ? protobuf_c_message_descriptor_get_field(d, (unsigned)(key >> 3))
                : NULL;
        if (f && f->type == PROTOBUF_C_TYPE_STRING) {
            const char *why = kt_utf8_problem(p, (size_t)len);
            if (why)
                return kt_fail(KT_ERR_INVALID_ARGUMENT, "rpc: %s.%s holds %s", d->name, f->name,
                               why);
        } else if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
            kt_status st = walk(f->descriptor, p, (size_t)len, depth + 1);
            if (st) return st;
        }
        p += len;
    }
    return KT_OK;
}

kt_status kt_rpc_check_strings(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t n)
{
    return walk(d, data, n, 0);
}
