/* Names and sizes that pbschema and pbjson share: JSON names, map entries, value sizes. */
#include <kubetee/pbschema.h>

#include <string.h>

kt_status kt_pbschema_json_name(const char *proto_name, char *out, size_t cap)
{
    if (!proto_name || !out || !cap) return kt_fail(KT_ERR_INVALID_ARGUMENT, "pbschema: NULL argument");
    size_t j = 0;
    bool upper = false;
    for (const char *c = proto_name; *c; c++) {
        if (*c == '_') {
            upper = true;
            continue;
        }
        if (j + 1 >= cap) return kt_fail(KT_ERR_BUFFER_TOO_SMALL, "pbschema: field name too long");
        out[j++] = upper && *c >= 'a' && *c <= 'z' ? (char)(*c - 'a' + 'A') : *c;
        upper = false;
    }
    out[j] = '\0';
    return KT_OK;
}

size_t kt_pbschema_value_size(ProtobufCType t)
{
    switch (t) {
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

const ProtobufCMessageDescriptor *kt_pbschema_map_entry(const ProtobufCMessageDescriptor *parent,
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

