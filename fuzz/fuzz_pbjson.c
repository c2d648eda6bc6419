/* pbjson: JSON -> message over every proto3 field type (the test proto). Whatever is
 * accepted must decode, print, and read back to the same JSON. */
#include "pbjson_test.pb-c.h"
#include <kubetee/pbjson.h>

#include <stdlib.h>
#include <string.h>

static void must(int cond)
{
    if (!cond) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const ProtobufCMessageDescriptor *d = &kt__pbjsontest__all__descriptor;
    kt_buf wire = {0}, json = {0}, wire2 = {0}, json2 = {0};
    if (kt_pbjson_to_wire(d, (const char *)data, size, NULL, &wire) == KT_OK) {
        must(kt_pbjson_print_wire(d, wire.data, wire.len, NULL, &json) == KT_OK);
        must(kt_pbjson_to_wire(d, (const char *)json.data, json.len, NULL, &wire2) == KT_OK);
        must(kt_pbjson_print_wire(d, wire2.data, wire2.len, NULL, &json2) == KT_OK);
        must(json.len == json2.len && memcmp(json.data, json2.data, json.len) == 0);
    }
    kt_buf_free(&wire);
    kt_buf_free(&json);
    kt_buf_free(&wire2);
    kt_buf_free(&json2);
    return 0;
}
