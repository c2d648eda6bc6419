/* pbschema: message types as google.protobuf.FileDescriptorProto, and back.
 *
 * An enclave service describes its remote functions' messages (kt.Describe) with
 * kt_pbschema_build, from the protobuf-c descriptors compiled into it; a client that has
 * no .proto files loads them with kt_pbschema_load into protobuf-c descriptors made at
 * run time, which protobuf-c packs and unpacks and pbjson maps to JSON like generated
 * ones.
 *
 * proto3 only. protobuf-c's descriptors keep no oneof names (they are written oneof_<n>),
 * no custom json_name and no file names (one file per package, "<package>.proto"); a map
 * is what pbjson takes for one. Loading is strict: every name an identifier, every type
 * resolved and of the right kind, field numbers valid and unique, field and JSON names
 * unique, enums starting at 0 without aliases, no proto2, groups, extensions, defaults
 * or proto3 `optional`, and limits on counts. */
#ifndef KUBETEE_PBSCHEMA_H
#define KUBETEE_PBSCHEMA_H

#include <kubetee/base.h>
#include <protobuf-c/protobuf-c.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KT_PBSCHEMA_MAX_TYPES 4096   /* messages and enums in one schema */
#define KT_PBSCHEMA_MAX_FIELDS 4096  /* fields (or enum values) of one type */

/* A field's JSON name as protoc derives it ("snake_case_2" -> "snakeCase2"), NUL-terminated
 * in out; KT_ERR_BUFFER_TOO_SMALL past cap. */
kt_status kt_pbschema_json_name(const char *proto_name, char *out, size_t cap);
/* The entry type when f is a map field as protoc writes one (a repeated nested message
 * <Field>Entry of parent with only key = 1 and value = 2, key of an integer, bool or
 * string type), else NULL. */
const ProtobufCMessageDescriptor *kt_pbschema_map_entry(const ProtobufCMessageDescriptor *parent,
                                                        const ProtobufCFieldDescriptor *f);
/* Bytes of one value of type t in a protobuf-c message (a repeated field's element). */
size_t kt_pbschema_value_size(ProtobufCType t);

/* Serialized FileDescriptorProtos, each after the ones it depends on. */
typedef struct {
    kt_buf *files;
    size_t n;
} kt_pbschema_files;
void kt_pbschema_files_free(kt_pbschema_files *f);

/* The files describing every message and enum type the roots use. */
kt_status kt_pbschema_build(const ProtobufCMessageDescriptor *const *roots, size_t n, kt_pbschema_files *out);

#ifndef KT_TRUSTED
typedef struct kt_pbschema kt_pbschema;
/* Loads n serialized FileDescriptorProtos. */
kt_status kt_pbschema_load(const kt_buf *files, size_t n, kt_pbschema **out);
void kt_pbschema_free(kt_pbschema *s);
/* A message type by full name ("pkg.Msg"); NULL (with a reason) when there is none. */
const ProtobufCMessageDescriptor *kt_pbschema_message(const kt_pbschema *s, const char *name);
/* Every type, by index below kt_pbschema_count: the message's descriptor, NULL for an enum. */
size_t kt_pbschema_count(const kt_pbschema *s);
const ProtobufCMessageDescriptor *kt_pbschema_message_at(const kt_pbschema *s, size_t i);
#endif

#ifdef __cplusplus
}
#endif
#endif
