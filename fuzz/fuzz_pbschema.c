/* pbschema: a FileDescriptorSet's files loaded into protobuf-c descriptors made at run
 * time; every message type of what loads then unpacks, prints and frees the input as a
 * message of that type, so a layout mistake shows under ASan. */
#include "descriptor.pb-c.h"
#include <kubetee/pbjson.h>
#include <kubetee/pbschema.h>

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Google__Protobuf__FileDescriptorSet *set = google__protobuf__file_descriptor_set__unpack(NULL, size, data);
    if (!set) return 0;
    size_t n = set->n_file < 16 ? set->n_file : 16;
    kt_buf files[16] = {{0}};
    for (size_t i = 0; i < n; i++) {
        size_t len = google__protobuf__file_descriptor_proto__get_packed_size(set->file[i]);
        if (kt_buf_reserve(&files[i], len) == KT_OK)
            files[i].len = google__protobuf__file_descriptor_proto__pack(set->file[i], files[i].data);
    }
    google__protobuf__file_descriptor_set__free_unpacked(set, NULL);
    kt_pbschema *s = NULL;
    if (kt_pbschema_load(files, n, &s) == KT_OK) {
        for (size_t i = 0; i < kt_pbschema_count(s); i++) {
            const ProtobufCMessageDescriptor *d = kt_pbschema_message_at(s, i);
            if (!d) continue;
            kt_buf json = {0};
            kt_pbjson_print_wire(d, data, size, NULL, &json);
            kt_buf_free(&json);
            kt_buf wire = {0};
            kt_pbjson_to_wire(d, "{}", 2, NULL, &wire);
            kt_buf_free(&wire);
        }
        kt_pbschema_free(s);
    }
    for (size_t i = 0; i < n; i++) kt_buf_free(&files[i]);
    return 0;
}
