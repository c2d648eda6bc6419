/* Shared between the pbschema sources only. */
#ifndef KT_PBSCHEMA_INTERNAL_H
#define KT_PBSCHEMA_INTERNAL_H

#include <kubetee/pbschema.h>
#include "descriptor.pb-c.h"

/* Every allocation of one build or load, freed together. */
typedef struct {
    void **p;
    size_t n, cap;
} ps_arena;
void *ps_alloc(ps_arena *a, size_t n); /* zeroed; NULL when out of memory */
char *ps_strdup(ps_arena *a, const char *s);
void ps_arena_free(ps_arena *a);

/* protobuf-c's field types and descriptor.proto's, both ways (0: no such type). */
Google__Protobuf__FieldDescriptorProto__Type ps_type_to_proto(ProtobufCType t);
bool ps_type_from_proto(Google__Protobuf__FieldDescriptorProto__Type t, ProtobufCType *out);

#endif
