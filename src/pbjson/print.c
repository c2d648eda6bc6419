/* Message -> JSON text (proto3 canonical mapping), from the message's descriptor. */
#include "internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    kt_buf *out;
    pj_path path;
    unsigned max_depth;
} printer;

static kt_status put(printer *pr, const char *s, size_t n)
{
    return kt_buf_append(pr->out, s, n);
}

static kt_status puts_(printer *pr, const char *s)
{
    return put(pr, s, strlen(s));
}

/* A JSON string literal of bytes that are already known to be UTF-8. */
static kt_status put_quoted(printer *pr, const char *s, size_t n)
{
    kt_status st = put(pr, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; !st && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        st = put(pr, s + run, i - run);
        char esc[8];
        if (c == '"' || c == '\\')
            snprintf(esc, sizeof esc, "\\%c", c);
        else if (c == '\n')
            snprintf(esc, sizeof esc, "\\n");
        else if (c == '\t')
            snprintf(esc, sizeof esc, "\\t");
        else if (c == '\r')
            snprintf(esc, sizeof esc, "\\r");
        else
            snprintf(esc, sizeof esc, "\\u%04x", c);
        if (!st) st = puts_(pr, esc);
        run = i + 1;
    }
    if (!st) st = put(pr, s + run, n - run);
    return st ? st : put(pr, "\"", 1);
}

static kt_status put_text(printer *pr, const char *s, size_t n)
{
    const char *why = kt_utf8_problem(s, n);
    if (why) return kt_fail(KT_ERR_MALFORMED, "pbjson: %s: string holds %s", pj_where(&pr->path), why);
    return put_quoted(pr, s, n);
}

/* The shortest %g form that reads back as the same value. */
static kt_status put_float(printer *pr, double v, bool single)
{
    if (isnan(v)) return puts_(pr, "\"NaN\"");
    if (isinf(v)) return puts_(pr, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    if (v == 0 && signbit(v)) return puts_(pr, "-0.0"); /* "-0" reads back as the integer 0 */
    char s[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(s, sizeof s, "%.*g", prec, v);
        if (single ? strtof(s, NULL) == (float)v : strtod(s, NULL) == v) break;
    }
    return puts_(pr, s);
}

static kt_status print_message(printer *pr, const ProtobufCMessage *m, unsigned depth);

/* One value of field f stored at p. as_key: a map key, always a JSON string. */
static kt_status print_value(printer *pr, const ProtobufCFieldDescriptor *f, const void *p, bool as_key,
                             unsigned depth)
{
    char s[48];
    const char *q = as_key ? "\"" : "";
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        snprintf(s, sizeof s, "%s%" PRId32 "%s", q, *(const int32_t *)p, q);
        return puts_(pr, s);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        snprintf(s, sizeof s, "%s%" PRIu32 "%s", q, *(const uint32_t *)p, q);
        return puts_(pr, s);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        snprintf(s, sizeof s, "\"%" PRId64 "\"", *(const int64_t *)p);
        return puts_(pr, s);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        snprintf(s, sizeof s, "\"%" PRIu64 "\"", *(const uint64_t *)p);
        return puts_(pr, s);
    case PROTOBUF_C_TYPE_FLOAT:
        return put_float(pr, *(const float *)p, true);
    case PROTOBUF_C_TYPE_DOUBLE:
        return put_float(pr, *(const double *)p, false);
    case PROTOBUF_C_TYPE_BOOL:
        snprintf(s, sizeof s, "%s%s%s", q, *(const protobuf_c_boolean *)p ? "true" : "false", q);
        return puts_(pr, s);
    case PROTOBUF_C_TYPE_ENUM: {
        int32_t v = *(const int32_t *)p;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
        if (ev) return put_quoted(pr, ev->name, strlen(ev->name));
        snprintf(s, sizeof s, "%" PRId32, v);
        return puts_(pr, s);
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *t = *(char *const *)p;
        return put_text(pr, t ? t : "", t ? strlen(t) : 0);
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        kt_buf enc = {0};
        kt_status st = kt_base64_encode(b->data, b->len, &enc);
        if (!st) st = put_quoted(pr, enc.len ? (const char *)enc.data : "", enc.len);
        kt_buf_free(&enc);
        return st;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
        if (!sub) return puts_(pr, "{}");
        if (sub->descriptor != f->descriptor)
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "pbjson: %s: holds a %s, not a %s", pj_where(&pr->path),
                           sub->descriptor ? sub->descriptor->name : "(none)",
                           ((const ProtobufCMessageDescriptor *)f->descriptor)->name);
        return print_message(pr, sub, depth + 1);
    }
    }
    return kt_fail(KT_ERR_UNSUPPORTED, "pbjson: %s: field type %d", pj_where(&pr->path), (int)f->type);
}

/* True when a singular field holds something proto3 prints. */
static bool present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    const char *base = (const char *)m;
    const void *p = base + f->offset;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *)(base + f->quantifier_offset) == f->id;
    if (f->label == PROTOBUF_C_LABEL_REQUIRED) return true;
    if (f->type == PROTOBUF_C_TYPE_MESSAGE) return *(void *const *)p != NULL;
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL) {
        if (f->type == PROTOBUF_C_TYPE_STRING)
            return *(void *const *)p != NULL && *(void *const *)p != f->default_value;
        return *(const protobuf_c_boolean *)(base + f->quantifier_offset);
    }
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return s && *s;
    }
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)p)->len != 0;
    case PROTOBUF_C_TYPE_FLOAT:
        return *(const float *)p != 0 || signbit(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return *(const double *)p != 0 || signbit(*(const double *)p);
    default: {
        static const uint8_t zero[8];
        return memcmp(p, zero, kt_pbschema_value_size(f->type)) != 0;
    }
    }
}

static kt_status print_map(printer *pr, const ProtobufCMessageDescriptor *entry, ProtobufCMessage *const *e,
                           size_t n, unsigned depth)
{
    const ProtobufCFieldDescriptor *kf = &entry->fields[0], *vf = &entry->fields[1];
    kt_status st = put(pr, "{", 1);
    for (size_t i = 0; !st && i < n; i++) {
        const char *base = (const char *)e[i];
        if (!e[i] || e[i]->descriptor != entry)
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "pbjson: %s: map entry %zu is not a %s", pj_where(&pr->path),
                           i, entry->name);
        if (i) st = put(pr, ",", 1);
        size_t at = pr->out->len;
        if (!st) st = print_value(pr, kf, base + kf->offset, true, depth);
        if (st) return st;
        /* the key as printed names the entry in the path */
        size_t back = pj_push_key(&pr->path, (const char *)pr->out->data + at + 1, pr->out->len - at - 2);
        st = put(pr, ":", 1);
        if (!st) st = print_value(pr, vf, base + vf->offset, false, depth);
        pj_pop(&pr->path, back);
    }
    return st ? st : put(pr, "}", 1);
}

static kt_status print_field(printer *pr, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                             unsigned depth)
{
    const char *base = (const char *)m;
    if (f->label != PROTOBUF_C_LABEL_REPEATED) return print_value(pr, f, base + f->offset, false, depth);
    size_t n = *(const size_t *)(base + f->quantifier_offset);
    const char *arr = *(char *const *)(base + f->offset);
    const ProtobufCMessageDescriptor *entry = kt_pbschema_map_entry(m->descriptor, f);
    if (entry) return print_map(pr, entry, (ProtobufCMessage *const *)arr, n, depth);
    kt_status st = put(pr, "[", 1);
    size_t w = kt_pbschema_value_size(f->type);
    for (size_t i = 0; !st && i < n; i++) {
        if (i) st = put(pr, ",", 1);
        size_t back = pj_push_index(&pr->path, i);
        if (!st) st = print_value(pr, f, arr + i * w, false, depth);
        pj_pop(&pr->path, back);
    }
    return st ? st : put(pr, "]", 1);
}

static kt_status print_message(printer *pr, const ProtobufCMessage *m, unsigned depth)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    kt_status st = pj_check_type(d, &pr->path);
    if (st) return st;
    if (depth > pr->max_depth)
        return kt_fail(KT_ERR_TOO_LARGE, "pbjson: %s: messages nest deeper than %u", pj_where(&pr->path),
                       pr->max_depth);
    if (m->n_unknown_fields)
        return kt_fail(KT_ERR_MALFORMED, "pbjson: %s: %s has %u unknown field(s), the first number %u",
                       pj_where(&pr->path), d->name, m->n_unknown_fields, m->unknown_fields[0].tag);
    st = put(pr, "{", 1);
    bool first = true;
    for (unsigned i = 0; !st && i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->label == PROTOBUF_C_LABEL_REPEATED ? *(const size_t *)((const char *)m + f->quantifier_offset) == 0
                                                  : !present(m, f))
            continue;
        char name[128];
        st = kt_pbschema_json_name(f->name, name, sizeof name);
        if (!st && !first) st = put(pr, ",", 1);
        first = false;
        if (!st) st = put_quoted(pr, name, strlen(name));
        if (!st) st = put(pr, ":", 1);
        size_t back = pj_push_field(&pr->path, name);
        if (!st) st = print_field(pr, m, f, depth);
        pj_pop(&pr->path, back);
    }
    return st ? st : put(pr, "}", 1);
}

kt_status kt_pbjson_print(const ProtobufCMessage *msg, const kt_pbjson_options *opt, kt_buf *json)
{
    if (!msg || !msg->descriptor || !json) return kt_fail(KT_ERR_INVALID_ARGUMENT, "pbjson: NULL argument");
    printer pr = {.out = json, .max_depth = pj_max_depth(opt)};
    size_t start = json->len;
    kt_status st = print_message(&pr, msg, 1);
    if (!st) st = kt_buf_append(json, "", 1);
    if (st) {
        json->len = start;
        return st;
    }
    json->len--;
    return KT_OK;
}

kt_status kt_pbjson_print_wire(const ProtobufCMessageDescriptor *d, const uint8_t *wire, size_t n,
                               const kt_pbjson_options *opt, kt_buf *json)
{
    if (!d || (n && !wire) || !json) return kt_fail(KT_ERR_INVALID_ARGUMENT, "pbjson: NULL argument");
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, n, wire);
    if (!m) return kt_fail(KT_ERR_MALFORMED, "pbjson: %zu bytes do not decode as %s", n, d->name);
    kt_status st = kt_pbjson_print(m, opt, json);
    protobuf_c_message_free_unpacked(m, NULL);
    return st;
}
