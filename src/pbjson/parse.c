/* JSON text -> protobuf wire bytes (proto3 canonical mapping), from the descriptor. The
 * JSON is read by jansson with duplicate keys refused; the message is then written field
 * by field, each value checked against its field's type and range. */
#include "internal.h"

#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    pj_path path;
    unsigned max_depth;
} parser;

#define WHERE pj_where(&ps->path)

static kt_status put_varint(kt_buf *b, uint64_t v)
{
    uint8_t t[10];
    size_t n = 0;
    do {
        t[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) t[n] |= 0x80;
        n++;
    } while (v);
    return kt_buf_append(b, t, n);
}

static kt_status put_tag(kt_buf *b, uint32_t id, unsigned wt)
{
    return put_varint(b, (uint64_t)id << 3 | wt);
}

static kt_status put_fixed(kt_buf *b, uint64_t v, size_t n)
{
    uint8_t t[8];
    kt_put_le64(t, v);
    return kt_buf_append(b, t, n);
}

static kt_status put_delimited(kt_buf *b, uint32_t id, const void *p, size_t n)
{
    kt_status st = put_tag(b, id, 2);
    if (!st) st = put_varint(b, n);
    return st ? st : kt_buf_append(b, p, n);
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

static kt_status wrong(parser *ps, const char *want, const json_t *v)
{
    return kt_fail(KT_ERR_MALFORMED, "pbjson: %s: expected %s, got %s", WHERE, want, json_kind(v));
}

/* An integer of a field: a JSON integer, an integral number up to 2^53, or a decimal
 * string; within [min, max] (signed) or [0, umax] (unsigned). */
static kt_status get_integer(parser *ps, const json_t *v, bool is_signed, int bits, uint64_t *out)
{
    int64_t smin = bits == 32 ? INT32_MIN : INT64_MIN, smax = bits == 32 ? INT32_MAX : INT64_MAX;
    uint64_t umax = bits == 32 ? UINT32_MAX : UINT64_MAX;
    bool neg = false;
    uint64_t mag;
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        neg = i < 0;
        mag = neg ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d != floor(d) || fabs(d) > 9007199254740992.0)
            return kt_fail(KT_ERR_MALFORMED, "pbjson: %s: %g is not an integer up to 2^53 (give it as a string)",
                           WHERE, d);
        neg = d < 0;
        mag = (uint64_t)fabs(d);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strlen(s) != json_string_length(v))
            return kt_fail(KT_ERR_MALFORMED, "pbjson: %s: integer string holds a NUL", WHERE);
        neg = s[0] == '-';
        if (neg && !strcmp(s, "-0")) /* one key per map entry: "0" only */
            return kt_fail(KT_ERR_MALFORMED, "pbjson: %s: \"-0\" is not a decimal integer (write 0)", WHERE);
        if (kt_decimal_parse(s + neg, UINT64_MAX, &mag)) {
            char esc[64];
            return kt_fail_context(KT_ERR_MALFORMED, "pbjson: %s: \"%s\" is not a decimal integer", WHERE,
                                   kt_escape(s, strlen(s), esc, sizeof esc));
        }
    } else {
        return wrong(ps, "an integer", v);
    }
    bool ok = is_signed ? (neg ? mag <= (uint64_t)0 - (uint64_t)smin : mag <= (uint64_t)smax)
                        : (!neg || mag == 0) && mag <= umax;
    if (!ok)
        return kt_fail(KT_ERR_MALFORMED, "pbjson: %s: %s%llu is out of range for %s%d", WHERE, neg ? "-" : "",
                       (unsigned long long)mag, is_signed ? "int" : "uint", bits);
    *out = neg ? (uint64_t)0 - mag : mag;
    return KT_OK;
}

/* JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool json_number_text(const char *s)
{
    if (*s == '-') s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        while (*s >= '0' && *s <= '9') s++;
    else
        return false;
    if (*s == '.') {
        s++;
        if (!(*s >= '0' && *s <= '9')) return false;
        while (*s >= '0' && *s <= '9') s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-') s++;
        if (!(*s >= '0' && *s <= '9')) return false;
        while (*s >= '0' && *s <= '9') s++;
    }
    return *s == '\0';
}

static kt_status get_float(parser *ps, const json_t *v, bool single, double *out)
{
    double d;
    if (json_is_number(v)) {
        d = json_number_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (!strcmp(s, "NaN"))
            d = NAN;
        else if (!strcmp(s, "Infinity"))
            d = INFINITY;
        else if (!strcmp(s, "-Infinity"))
            d = -INFINITY;
        else if (strlen(s) == json_string_length(v) && json_number_text(s))
            d = strtod(s, NULL);
        else {
            char esc[64];
            return kt_fail(KT_ERR_MALFORMED, "pbjson: %s: \"%s\" is not a number", WHERE,
                           kt_escape(s, json_string_length(v), esc, sizeof esc));
        }
        if (isinf(d) && strcmp(s, "Infinity") && strcmp(s, "-Infinity"))
            return kt_fail(KT_ERR_MALFORMED, "pbjson: %s: number out of range for double", WHERE);
    } else {
        return wrong(ps, "a number", v);
    }
    if (single && isfinite(d) && fabs(d) > FLT_MAX)
        return kt_fail(KT_ERR_MALFORMED, "pbjson: %s: %g is out of range for float", WHERE, d);
    *out = d;
    return KT_OK;
}

static kt_status put_message(parser *ps, const ProtobufCMessageDescriptor *d, const json_t *obj, kt_buf *out,
                             unsigned depth);

/* One value of field f (an element, for repeated fields) written with its tag. */
static kt_status put_value(parser *ps, const ProtobufCFieldDescriptor *f, const json_t *v, kt_buf *out,
                           unsigned depth)
{
    uint64_t u = 0;
    double d;
    kt_status st;
    uint32_t id = f->id;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_UINT64: {
        bool sig = f->type == PROTOBUF_C_TYPE_INT32 || f->type == PROTOBUF_C_TYPE_INT64;
        bool wide = f->type == PROTOBUF_C_TYPE_INT64 || f->type == PROTOBUF_C_TYPE_UINT64;
        if ((st = get_integer(ps, v, sig, wide ? 64 : 32, &u))) return st;
        if (f->type == PROTOBUF_C_TYPE_INT32) u = (uint64_t)(int64_t)(int32_t)(uint32_t)u;
        return (st = put_tag(out, id, 0)) ? st : put_varint(out, u);
    }
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SINT64: {
        bool wide = f->type == PROTOBUF_C_TYPE_SINT64;
        if ((st = get_integer(ps, v, true, wide ? 64 : 32, &u))) return st;
        int64_t s = (int64_t)u;
        uint64_t z = ((uint64_t)s << 1) ^ (uint64_t)(s >> 63);
        return (st = put_tag(out, id, 0)) ? st : put_varint(out, z);
    }
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if ((st = get_integer(ps, v, f->type == PROTOBUF_C_TYPE_SFIXED32, 32, &u))) return st;
        return (st = put_tag(out, id, 5)) ? st : put_fixed(out, u, 4);
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if ((st = get_integer(ps, v, f->type == PROTOBUF_C_TYPE_SFIXED64, 64, &u))) return st;
        return (st = put_tag(out, id, 1)) ? st : put_fixed(out, u, 8);
    case PROTOBUF_C_TYPE_FLOAT: {
        if ((st = get_float(ps, v, true, &d))) return st;
        float fl = (float)d;
        uint32_t bits;
        memcpy(&bits, &fl, 4);
        return (st = put_tag(out, id, 5)) ? st : put_fixed(out, bits, 4);
    }
    case PROTOBUF_C_TYPE_DOUBLE:
        if ((st = get_float(ps, v, false, &d))) return st;
        memcpy(&u, &d, 8);
        return (st = put_tag(out, id, 1)) ? st : put_fixed(out, u, 8);
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(v)) return wrong(ps, "true or false", v);
        return (st = put_tag(out, id, 0)) ? st : put_varint(out, json_is_true(v));
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *ed = f->descriptor;
        const ProtobufCEnumValue *ev;
        if (json_is_string(v)) {
            const char *s = json_string_value(v);
            ev = strlen(s) == json_string_length(v) ? protobuf_c_enum_descriptor_get_value_by_name(ed, s) : NULL;
            if (!ev) {
                char esc[64];
                return kt_fail(KT_ERR_MALFORMED, "pbjson: %s: \"%s\" is not a value of %s", WHERE,
                               kt_escape(s, json_string_length(v), esc, sizeof esc), ed->name);
            }
        } else if (json_is_number(v)) {
            if ((st = get_integer(ps, v, true, 32, &u))) return st;
            ev = protobuf_c_enum_descriptor_get_value(ed, (int)(int32_t)(uint32_t)u);
            if (!ev)
                return kt_fail(KT_ERR_MALFORMED, "pbjson: %s: %d is not a value of %s", WHERE,
                               (int)(int32_t)(uint32_t)u, ed->name);
        } else {
            return wrong(ps, "an enum name or number", v);
        }
        return (st = put_tag(out, id, 0)) ? st : put_varint(out, (uint64_t)(int64_t)ev->value);
    }
    case PROTOBUF_C_TYPE_STRING: {
        if (!json_is_string(v)) return wrong(ps, "a string", v);
        /* jansson has checked the UTF-8; NUL is let through it to be named here */
        const char *why = kt_utf8_problem(json_string_value(v), json_string_length(v));
        if (why) return kt_fail(KT_ERR_MALFORMED, "pbjson: %s: string holds %s", WHERE, why);
        return put_delimited(out, id, json_string_value(v), json_string_length(v));
    }
    case PROTOBUF_C_TYPE_BYTES: {
        if (!json_is_string(v)) return wrong(ps, "a base64 string", v);
        kt_buf raw = {0};
        st = kt_base64_decode_any(json_string_value(v), json_string_length(v), &raw);
        if (st) {
            st = kt_fail_context(KT_ERR_MALFORMED, "pbjson: %s", WHERE);
        } else {
            st = put_delimited(out, id, raw.data, raw.len);
        }
        kt_buf_free(&raw);
        return st;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        kt_buf sub = {0};
        st = put_message(ps, f->descriptor, v, &sub, depth + 1);
        if (!st) st = put_delimited(out, id, sub.data, sub.len);
        kt_buf_free(&sub);
        return st;
    }
    }
    return kt_fail(KT_ERR_UNSUPPORTED, "pbjson: %s: field type %d", WHERE, (int)f->type);
}

/* A map key from its JSON object key, as a JSON value of the key field's type. */
static kt_status put_map_key(parser *ps, const ProtobufCFieldDescriptor *kf, const char *key, size_t n,
                             kt_buf *out)
{
    if (kf->type == PROTOBUF_C_TYPE_STRING) {
        json_t *s = json_stringn_nocheck(key, n);
        if (!s) return kt_fail(KT_ERR_NO_MEMORY, "pbjson: out of memory");
        kt_status st = put_value(ps, kf, s, out, 0);
        json_decref(s);
        return st;
    }
    if (kf->type == PROTOBUF_C_TYPE_BOOL) {
        if (n == 4 && !memcmp(key, "true", 4)) return put_value(ps, kf, json_true(), out, 0);
        if (n == 5 && !memcmp(key, "false", 5)) return put_value(ps, kf, json_false(), out, 0);
        return kt_fail(KT_ERR_MALFORMED, "pbjson: %s: a bool map key is \"true\" or \"false\"", WHERE);
    }
    json_t *s = json_stringn_nocheck(key, n); /* integers: as a decimal string */
    if (!s) return kt_fail(KT_ERR_NO_MEMORY, "pbjson: out of memory");
    kt_status st = put_value(ps, kf, s, out, 0);
    json_decref(s);
    return st;
}

static kt_status put_map(parser *ps, const ProtobufCFieldDescriptor *f, const ProtobufCMessageDescriptor *entry,
                         const json_t *obj, kt_buf *out, unsigned depth)
{
    if (!json_is_object(obj)) return wrong(ps, "an object (a map)", obj);
    const ProtobufCFieldDescriptor *kf = &entry->fields[0], *vf = &entry->fields[1];
    kt_status st = KT_OK;
    for (void *it = json_object_iter((json_t *)obj); !st && it; it = json_object_iter_next((json_t *)obj, it)) {
        const char *key = json_object_iter_key(it);
        size_t klen = json_object_iter_key_len(it);
        const json_t *v = json_object_iter_value(it);
        size_t back = pj_push_key(&ps->path, key, klen);
        kt_buf e = {0};
        if (json_is_null(v))
            st = kt_fail(KT_ERR_MALFORMED, "pbjson: %s: a map value may not be null", WHERE);
        if (!st) st = put_map_key(ps, kf, key, klen, &e);
        if (!st) st = put_value(ps, vf, v, &e, depth);
        if (!st) st = put_delimited(out, f->id, e.data, e.len);
        kt_buf_free(&e);
        pj_pop(&ps->path, back);
    }
    return st;
}

static kt_status put_field(parser *ps, const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f,
                           const json_t *v, kt_buf *out, unsigned depth)
{
    if (f->label != PROTOBUF_C_LABEL_REPEATED) return put_value(ps, f, v, out, depth);
    const ProtobufCMessageDescriptor *entry = kt_pbschema_map_entry(d, f);
    if (entry) return put_map(ps, f, entry, v, out, depth);
    if (!json_is_array(v)) return wrong(ps, "an array", v);
    kt_status st = KT_OK;
    for (size_t i = 0; !st && i < json_array_size(v); i++) {
        size_t back = pj_push_index(&ps->path, i);
        const json_t *e = json_array_get(v, i);
        st = json_is_null(e) ? kt_fail(KT_ERR_MALFORMED, "pbjson: %s: an array element may not be null", WHERE)
                             : put_value(ps, f, e, out, depth);
        pj_pop(&ps->path, back);
    }
    return st;
}

/* The field a JSON key names: its JSON name or its .proto name. */
static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *d, const char *key)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, key);
    if (f) return f;
    for (unsigned i = 0; i < d->n_fields; i++) {
        char name[128];
        if (!kt_pbschema_json_name(d->fields[i].name, name, sizeof name) && !strcmp(name, key))
            return &d->fields[i];
    }
    return NULL;
}

static kt_status put_message(parser *ps, const ProtobufCMessageDescriptor *d, const json_t *obj, kt_buf *out,
                             unsigned depth)
{
    kt_status st = pj_check_type(d, &ps->path);
    if (st) return st;
    if (depth > ps->max_depth)
        return kt_fail(KT_ERR_TOO_LARGE, "pbjson: %s: messages nest deeper than %u", WHERE, ps->max_depth);
    if (!json_is_object(obj)) return wrong(ps, "an object", obj);
    /* which field each key set, so one field under two names, or two members of a oneof,
     * are refused */
    const char **seen = calloc(d->n_fields ? d->n_fields : 1, sizeof *seen);
    if (!seen) return kt_fail(KT_ERR_NO_MEMORY, "pbjson: out of memory");
    for (void *it = json_object_iter((json_t *)obj); !st && it; it = json_object_iter_next((json_t *)obj, it)) {
        const char *key = json_object_iter_key(it);
        size_t klen = json_object_iter_key_len(it);
        const json_t *v = json_object_iter_value(it);
        const ProtobufCFieldDescriptor *f = strlen(key) == klen ? find_field(d, key) : NULL;
        if (!f) {
            char esc[96];
            st = kt_fail(KT_ERR_MALFORMED, "pbjson: %s: %s has no field \"%s\"", WHERE, d->name,
                         kt_escape(key, klen, esc, sizeof esc));
            break;
        }
        size_t fi = (size_t)(f - d->fields);
        size_t back = pj_push_field(&ps->path, key);
        if (seen[fi]) {
            st = kt_fail(KT_ERR_MALFORMED, "pbjson: %s: the field is given twice (also as \"%s\")", WHERE, seen[fi]);
        } else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            for (unsigned j = 0; j < d->n_fields; j++)
                if (seen[j] && (d->fields[j].flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
                    d->fields[j].quantifier_offset == f->quantifier_offset && !json_is_null(v))
                    st = kt_fail(KT_ERR_MALFORMED, "pbjson: %s: another member of its oneof is set (\"%s\")", WHERE,
                                 seen[j]);
        }
        if (!st) {
            /* a null oneof member does not count as set */
            seen[fi] = json_is_null(v) && (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) ? NULL : key;
            if (!json_is_null(v)) st = put_field(ps, d, f, v, out, depth);
        }
        pj_pop(&ps->path, back);
    }
    free(seen);
    return st;
}

kt_status kt_pbjson_to_wire(const ProtobufCMessageDescriptor *d, const char *json, size_t n,
                            const kt_pbjson_options *opt, kt_buf *wire)
{
    if (!d || (n && !json) || !wire) return kt_fail(KT_ERR_INVALID_ARGUMENT, "pbjson: NULL argument");
    json_error_t err;
    json_t *root = json_loadb(json, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    if (!root) {
        char esc[200];
        return kt_fail(KT_ERR_MALFORMED, "pbjson: JSON at line %d column %d: %s", err.line,
                       err.column, kt_escape_text(err.text, strlen(err.text), esc, sizeof esc));
    }
    parser ps = {.max_depth = pj_max_depth(opt)};
    size_t start = wire->len;
    kt_status st = put_message(&ps, d, root, wire, 1);
    json_decref(root);
    if (st) wire->len = start;
    return st;
}

kt_status kt_pbjson_parse(const ProtobufCMessageDescriptor *d, const char *json, size_t n,
                          const kt_pbjson_options *opt, ProtobufCMessage **msg)
{
    if (!msg) return kt_fail(KT_ERR_INVALID_ARGUMENT, "pbjson: NULL argument");
    *msg = NULL;
    kt_buf wire = {0};
    kt_status st = kt_pbjson_to_wire(d, json, n, opt, &wire);
    if (!st) {
        *msg = protobuf_c_message_unpack(d, NULL, wire.len, wire.data);
        if (!*msg) st = kt_fail(KT_ERR_MALFORMED, "pbjson: the message does not decode as %s", d->name);
    }
    kt_buf_free(&wire);
    return st;
}
