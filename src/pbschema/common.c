/* What building and loading share: the arena and the field type table. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

void *ps_alloc(ps_arena *a, size_t n)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 64;
        void **p = realloc(a->p, cap * sizeof *p);
        if (!p) return NULL;
        a->p = p;
        a->cap = cap;
    }
    void *m = calloc(1, n ? n : 1);
    if (m) a->p[a->n++] = m;
    return m;
}

char *ps_strdup(ps_arena *a, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = ps_alloc(a, n);
    if (d) memcpy(d, s, n);
    return d;
}

void ps_arena_free(ps_arena *a)
{
    for (size_t i = 0; i < a->n; i++) free(a->p[i]);
    free(a->p);
    memset(a, 0, sizeof *a);
}

static const struct {
    ProtobufCType c;
    Google__Protobuf__FieldDescriptorProto__Type proto;
} types[] = {
    {PROTOBUF_C_TYPE_INT32, GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_INT32},
    {PROTOBUF_C_TYPE_SINT32, GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SINT32},
    {PROTOBUF_C_TYPE_SFIXED32, GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SFIXED32},
    {PROTOBUF_C_TYPE_INT64, GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_INT64},
    {PROTOBUF_C_TYPE_SINT64, GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SINT64},
    {PROTOBUF_C_TYPE_SFIXED64, GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SFIXED64},
    {PROTOBUF_C_TYPE_UINT32, GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_UINT32},
    {PROTOBUF_C_TYPE_FIXED32, GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_FIXED32},
    {PROTOBUF_C_TYPE_UINT64, GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_UINT64},
    {PROTOBUF_C_TYPE_FIXED64, GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_FIXED64},
    {PROTOBUF_C_TYPE_FLOAT, GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_FLOAT},
    {PROTOBUF_C_TYPE_DOUBLE, GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_DOUBLE},
    {PROTOBUF_C_TYPE_BOOL, GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_BOOL},
    {PROTOBUF_C_TYPE_ENUM, GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_ENUM},
    {PROTOBUF_C_TYPE_STRING, GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_STRING},
    {PROTOBUF_C_TYPE_BYTES, GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_BYTES},
    {PROTOBUF_C_TYPE_MESSAGE, GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_MESSAGE},
};

Google__Protobuf__FieldDescriptorProto__Type ps_type_to_proto(ProtobufCType t)
{
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (types[i].c == t) return types[i].proto;
    return 0;
}

bool ps_type_from_proto(Google__Protobuf__FieldDescriptorProto__Type t, ProtobufCType *out)
{
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (types[i].proto == t) {
            *out = types[i].c;
            return true;
        }
    return false;
}
