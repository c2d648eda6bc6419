/* What printing and parsing share: field paths, JSON names, map entries, storage sizes. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static size_t append(pj_path *p, const char *s, size_t n)
{
    size_t before = p->len, room = sizeof p->text - 4 - p->len;
    if (p->len >= sizeof p->text - 4) return before;
    if (n > room) {
        memcpy(p->text + p->len, s, room);
        p->len += room;
        memcpy(p->text + p->len, "...", 4);
        p->len += 3;
        return before;
    }
    memcpy(p->text + p->len, s, n);
    p->len += n;
    p->text[p->len] = '\0';
    return before;
}

size_t pj_push_field(pj_path *p, const char *name)
{
    size_t before = p->len;
    if (p->len) append(p, ".", 1);
    append(p, name, strlen(name));
    return before;
}

size_t pj_push_index(pj_path *p, size_t i)
{
    char s[32];
    int n = snprintf(s, sizeof s, "[%zu]", i);
    return append(p, s, (size_t)n);
}

size_t pj_push_key(pj_path *p, const char *key, size_t n)
{
    char esc[96];
    kt_escape(key, n, esc, sizeof esc);
    size_t before = append(p, "[\"", 2);
    append(p, esc, strlen(esc));
    append(p, "\"]", 2);
    return before;
}

void pj_pop(pj_path *p, size_t len)
{
    p->len = len;
    p->text[len] = '\0';
}

const char *pj_where(const pj_path *p)
{
    return p->len ? p->text : "(top level)";
}

kt_status kt_pbjson_field_name(const char *proto_name, char *out, size_t cap)
{
    if (!proto_name || !out || !cap) return kt_fail(KT_ERR_INVALID_ARGUMENT, "pbjson: NULL argument");
    size_t j = 0;
    bool upper = false;
    for (const char *c = proto_name; *c; c++) {
        if (*c == '_') {
            upper = true;
            continue;
        }
        if (j + 1 >= cap) return kt_fail(KT_ERR_BUFFER_TOO_SMALL, "pbjson: field name too long");
        out[j++] = upper && *c >= 'a' && *c <= 'z' ? (char)(*c - 'a' + 'A') : *c;
        upper = false;
    }
    out[j] = '\0';
    return KT_OK;
}

size_t pj_elem_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

/* protoc names a map field's entry type by the field's name, each part capitalised, and
 * "Entry": labels -> LabelsEntry, by_id -> ByIdEntry. */
static bool entry_name_matches(const char *field, const char *entry)
{
    bool upper = true;
    size_t j = 0;
    for (const char *c = field; *c; c++) {
        if (*c == '_') {
            upper = true;
            continue;
        }
        char want = upper && *c >= 'a' && *c <= 'z' ? (char)(*c - 'a' + 'A') : *c;
        if (entry[j++] != want) return false;
        upper = false;
    }
    return strcmp(entry + j, "Entry") == 0;
}

const ProtobufCMessageDescriptor *pj_map_entry(const ProtobufCMessageDescriptor *parent,
                                               const ProtobufCFieldDescriptor *f)
{
    if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE) return NULL;
    const ProtobufCMessageDescriptor *e = f->descriptor;
    if (!e || e->n_fields != 2 || !entry_name_matches(f->name, e->short_name)) return NULL;
    size_t plen = strlen(parent->name);
    if (strncmp(e->name, parent->name, plen) != 0 || e->name[plen] != '.' ||
        strcmp(e->name + plen + 1, e->short_name) != 0)
        return NULL;
    const ProtobufCFieldDescriptor *k = &e->fields[0], *v = &e->fields[1];
    if (k->id != 1 || strcmp(k->name, "key") != 0 || v->id != 2 || strcmp(v->name, "value") != 0)
        return NULL;
    if (k->label == PROTOBUF_C_LABEL_REPEATED || v->label == PROTOBUF_C_LABEL_REPEATED) return NULL;
    switch (k->type) {
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE:
    case PROTOBUF_C_TYPE_BYTES:
    case PROTOBUF_C_TYPE_MESSAGE:
    case PROTOBUF_C_TYPE_ENUM:
        return NULL;
    default:
        return e;
    }
}

kt_status pj_check_type(const ProtobufCMessageDescriptor *d, const pj_path *p)
{
    if (d->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "pbjson: %s: not a message descriptor", pj_where(p));
    if (strncmp(d->name, "google.protobuf.", 16) == 0)
        return kt_fail(KT_ERR_UNSUPPORTED, "pbjson: %s: %s has a JSON form of its own, not supported",
                       pj_where(p), d->name);
    return KT_OK;
}

unsigned pj_max_depth(const kt_pbjson_options *opt)
{
    return opt && opt->max_depth ? opt->max_depth : KT_PBJSON_MAX_DEPTH;
}
