/* pbjson: protobuf messages as JSON, by proto3's canonical JSON mapping, from protobuf-c
 * descriptors alone (no generated JSON code, so a descriptor built at run time works too).
 *
 * Printing: fields by their lowerCamelCase JSON name; fields at their default value left
 * out (a set oneof member and a present message are printed); 64-bit integers as decimal
 * strings; bytes as standard base64 with padding; enums by name (a number the enum does
 * not name as that number); floats in the shortest form that reads back exactly, and
 * "NaN", "Infinity", "-Infinity"; maps as objects.
 *
 * JSON names and map entries are pbschema's (kt_pbschema_json_name, kt_pbschema_map_entry).
 *
 * Parsing is strict: the JSON name or the .proto name of a field, each field once
 * (duplicate keys, and one field under both names, are refused); null means the default;
 * integers as numbers or decimal strings (no sign but '-', no leading zero, no exponent
 * in a string; an integral number up to 2^53 is taken as an integer); floats as numbers,
 * numeric strings or the three names; bytes in the standard or the URL-safe base64
 * alphabet, padded or not; enums by name or by a number the enum names. Every error names
 * the field path (`items[2].name`, `labels["k"]`) and what was wrong with it: an unknown
 * field, a wrong JSON type, a number out of range, invalid base64, an embedded NUL,
 * invalid UTF-8, nesting deeper than the limit.
 *
 * Not supported, and refused rather than mapped wrongly: google.protobuf.* well-known
 * types (Timestamp, Any, wrappers, ...), which have JSON forms of their own. protobuf-c's
 * descriptors keep neither a custom json_name option nor a map marker: JSON names are
 * the default ones, and a map is recognised as protoc writes it (a repeated nested
 * message <Field>Entry with only key = 1 and value = 2). */
#ifndef KUBETEE_PBJSON_H
#define KUBETEE_PBJSON_H

#include <kubetee/base.h>
#include <protobuf-c/protobuf-c.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Message nesting allowed in either direction unless the caller sets another limit. */
#define KT_PBJSON_MAX_DEPTH 32

typedef struct {
    unsigned max_depth; /* 0: KT_PBJSON_MAX_DEPTH */
} kt_pbjson_options;

/* Appends msg as compact JSON text to json, NUL-terminated (the NUL not counted in len).
 * A message with unknown fields is refused, naming them: printing would drop them. */
kt_status kt_pbjson_print(const ProtobufCMessage *msg, const kt_pbjson_options *opt, kt_buf *json);

/* Reads n bytes of JSON as a message of type d and appends its protobuf wire encoding. */
kt_status kt_pbjson_to_wire(const ProtobufCMessageDescriptor *d, const char *json, size_t n,
                            const kt_pbjson_options *opt, kt_buf *wire);

/* The same, unpacked: *msg is freed with protobuf_c_message_free_unpacked(*msg, NULL). */
kt_status kt_pbjson_parse(const ProtobufCMessageDescriptor *d, const char *json, size_t n,
                          const kt_pbjson_options *opt, ProtobufCMessage **msg);

/* Wire bytes of type d printed as JSON (unpacked, then printed). */
kt_status kt_pbjson_print_wire(const ProtobufCMessageDescriptor *d, const uint8_t *wire, size_t n,
                               const kt_pbjson_options *opt, kt_buf *json);

#ifdef __cplusplus
}
#endif
#endif
