/* pbschema: descriptors to FileDescriptorProtos and back, and the loaded descriptors used
 * by protobuf-c and pbjson exactly as the generated ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../unit/testutil.h"
#include "descriptor.pb-c.h"
#include "pbjson_other.pb-c.h"
#include "pbjson_test.pb-c.h"
#include <kubetee/pbjson.h>
#include <kubetee/pbschema.h>

#include <stdlib.h>
#include <string.h>

static const char *all_json =
    "{\"scalars\":{\"fInt64\":\"123456789012\",\"fUint64\":\"18446744073709551615\",\"fString\":\"x\","
    "\"fBytes\":\"AAEC\",\"fEnum\":\"GREEN\"},"
    "\"rInt32\":[1,-1,2147483647,-2147483648],\"rFloat\":[\"NaN\",1.5],\"rBool\":[true,false],"
    "\"rBytes\":[\"\",\"/w==\"],\"rEnum\":[\"RED\",\"NEGATIVE\"],"
    "\"items\":[{\"name\":\"a\",\"children\":[{\"count\":2}]},{}],\"item\":{},"
    "\"labels\":{\"k\":\"v\"},\"byId\":{\"-4\":{\"name\":\"four\"}},\"counters\":{\"18446744073709551615\":\"-1\"},"
    "\"flags\":{\"true\":\"RED\"},\"blobs\":{\"-9\":\"AQ==\"},\"choiceItem\":{\"count\":1},\"snakeCaseName2\":3}";

static kt_pbschema *load_built(const ProtobufCMessageDescriptor *root, size_t want_files)
{
    kt_pbschema_files files;
    if (kt_pbschema_build(&root, 1, &files)) fail_msg("build: %s", kt_last_error());
    assert_int_equal(files.n, want_files);
    kt_pbschema *s = NULL;
    if (kt_pbschema_load(files.files, files.n, &s)) fail_msg("load: %s", kt_last_error());
    kt_pbschema_files_free(&files);
    return s;
}

static void test_loaded_descriptors_map_json_as_generated_ones(void **state)
{
    (void)state;
    kt_pbschema *s = load_built(&kt__pbjsontest__all__descriptor, 1);
    const ProtobufCMessageDescriptor *d = kt_pbschema_message(s, "kt.pbjsontest.All");
    assert_non_null(d);
    assert_true(d != &kt__pbjsontest__all__descriptor);
    kt_buf a = {0}, b = {0}, ja = {0}, jb = {0};
    assert_int_equal(kt_pbjson_to_wire(d, all_json, strlen(all_json), NULL, &a), KT_OK);
    assert_int_equal(kt_pbjson_to_wire(&kt__pbjsontest__all__descriptor, all_json, strlen(all_json), NULL, &b), KT_OK);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    /* protobuf-c unpacks, prints and frees through the loaded layout */
    assert_int_equal(kt_pbjson_print_wire(d, a.data, a.len, NULL, &ja), KT_OK);
    assert_string_equal((const char *)ja.data, all_json);
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, a.len, a.data);
    assert_non_null(m);
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *re = malloc(n);
    assert_int_equal(protobuf_c_message_pack(m, re), n);
    assert_int_equal(kt_pbjson_print_wire(&kt__pbjsontest__all__descriptor, re, n, NULL, &jb), KT_OK);
    assert_string_equal((const char *)jb.data, all_json);
    free(re);
    protobuf_c_message_free_unpacked(m, NULL);
    kt_buf_free(&a);
    kt_buf_free(&b);
    kt_buf_free(&ja);
    kt_buf_free(&jb);
    assert_null(kt_pbschema_message(s, "kt.pbjsontest.Color"));
    assert_non_null(strstr(kt_last_error(), "no message type named kt.pbjsontest.Color"));
    assert_null(kt_pbschema_message(s, "kt.pbjsontest.Nope"));
    kt_pbschema_free(s);
}

static void test_files_per_package_in_dependency_order(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *root = &kt__pbjsonother__wrapper__descriptor;
    kt_pbschema_files files;
    assert_int_equal(kt_pbschema_build(&root, 1, &files), KT_OK);
    assert_int_equal(files.n, 2);
    Google__Protobuf__FileDescriptorProto *f0 =
        google__protobuf__file_descriptor_proto__unpack(NULL, files.files[0].len, files.files[0].data);
    Google__Protobuf__FileDescriptorProto *f1 =
        google__protobuf__file_descriptor_proto__unpack(NULL, files.files[1].len, files.files[1].data);
    assert_non_null(f0);
    assert_non_null(f1);
    assert_string_equal(f0->package, "kt.pbjsontest");
    assert_string_equal(f1->package, "kt.pbjsonother");
    assert_int_equal(f1->n_dependency, 1);
    assert_string_equal(f1->dependency[0], "kt.pbjsontest.proto");
    assert_string_equal(f0->name, "kt.pbjsontest.proto");
    /* the nested Local and its nested enum sit inside Wrapper */
    assert_int_equal(f1->n_message_type, 1);
    assert_int_equal(f1->message_type[0]->n_nested_type, 1);
    assert_int_equal(f1->message_type[0]->nested_type[0]->n_enum_type, 1);
    google__protobuf__file_descriptor_proto__free_unpacked(f0, NULL);
    google__protobuf__file_descriptor_proto__free_unpacked(f1, NULL);
    kt_pbschema *s = NULL;
    assert_int_equal(kt_pbschema_load(files.files, files.n, &s), KT_OK);
    const ProtobufCMessageDescriptor *w = kt_pbschema_message(s, "kt.pbjsonother.Wrapper");
    assert_non_null(w);
    const char *json = "{\"item\":{\"name\":\"n\"},\"color\":\"NEGATIVE\",\"all\":[{\"labels\":{\"a\":\"b\"}}],"
                       "\"local\":{\"mode\":\"FAST\"}}";
    kt_buf wire = {0}, out = {0};
    assert_int_equal(kt_pbjson_to_wire(w, json, strlen(json), NULL, &wire), KT_OK);
    assert_int_equal(kt_pbjson_print_wire(root, wire.data, wire.len, NULL, &out), KT_OK);
    assert_string_equal((const char *)out.data, json);
    kt_buf_free(&wire);
    kt_buf_free(&out);
    kt_pbschema_free(s);
    /* loading needs the dependency: the second file alone does not resolve */
    assert_fails_with(kt_pbschema_load(&files.files[1], 1, &s), KT_ERR_MALFORMED,
                      "Wrapper.item: type \".kt.pbjsontest.Item\" is not a known message");
    kt_pbschema_files_free(&files);
}

static void test_build_refusals(void **state)
{
    (void)state;
    kt_pbschema_files files;
    const ProtobufCMessageDescriptor *entry = &kt__pbjsontest__all__labels_entry__descriptor;
    assert_fails_with(kt_pbschema_build(&entry, 1, &files), KT_ERR_UNSUPPORTED,
                      "kt.pbjsontest.All.LabelsEntry is nested in a message no described type uses");
    const ProtobufCMessageDescriptor *null = NULL;
    assert_fails_with(kt_pbschema_build(&null, 1, &files), KT_ERR_INVALID_ARGUMENT, "NULL root");
    assert_int_equal(files.n, 0);
}

/* Builds All's file, lets edit change it, and loads the result. */
static kt_status load_edited(void (*edit)(Google__Protobuf__FileDescriptorProto *f))
{
    const ProtobufCMessageDescriptor *root = &kt__pbjsontest__all__descriptor;
    kt_pbschema_files files;
    assert_int_equal(kt_pbschema_build(&root, 1, &files), KT_OK);
    Google__Protobuf__FileDescriptorProto *f =
        google__protobuf__file_descriptor_proto__unpack(NULL, files.files[0].len, files.files[0].data);
    assert_non_null(f);
    edit(f);
    kt_buf b = {0};
    assert_int_equal(kt_buf_reserve(&b, google__protobuf__file_descriptor_proto__get_packed_size(f)), KT_OK);
    b.len = google__protobuf__file_descriptor_proto__pack(f, b.data);
    google__protobuf__file_descriptor_proto__free_unpacked(f, NULL);
    kt_pbschema_files_free(&files);
    kt_pbschema *s = NULL;
    kt_status st = kt_pbschema_load(&b, 1, &s);
    kt_buf_free(&b);
    kt_pbschema_free(s);
    return st;
}

static Google__Protobuf__DescriptorProto *msg(Google__Protobuf__FileDescriptorProto *f, const char *name)
{
    for (size_t i = 0; i < f->n_message_type; i++)
        if (!strcmp(f->message_type[i]->name, name)) return f->message_type[i];
    fail_msg("no message %s", name);
    return NULL;
}

/* Strings in an unpacked message are freed with it: replace them with heap copies. */
static void set(char **field, const char *v)
{
    free(*field);
    *field = strdup(v);
}

static void dup_number(Google__Protobuf__FileDescriptorProto *f)
{
    msg(f, "Item")->field[1]->number = 1;
}
static void proto2(Google__Protobuf__FileDescriptorProto *f)
{
    set(&f->syntax, "proto2");
}
static void required(Google__Protobuf__FileDescriptorProto *f)
{
    msg(f, "Item")->field[0]->label = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REQUIRED;
}
static void reserved_number(Google__Protobuf__FileDescriptorProto *f)
{
    msg(f, "Item")->field[0]->number = 19500;
}
static void bad_type_ref(Google__Protobuf__FileDescriptorProto *f)
{
    set(&msg(f, "Item")->field[2]->type_name, ".kt.pbjsontest.Nope");
}
static void enum_as_message(Google__Protobuf__FileDescriptorProto *f)
{
    set(&msg(f, "Item")->field[2]->type_name, ".kt.pbjsontest.Color");
}
static void group(Google__Protobuf__FileDescriptorProto *f)
{
    msg(f, "Item")->field[1]->type = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_GROUP;
}
static void bad_ident(Google__Protobuf__FileDescriptorProto *f)
{
    set(&msg(f, "Item")->field[0]->name, "na-me");
}
static void custom_json(Google__Protobuf__FileDescriptorProto *f)
{
    set(&msg(f, "Item")->field[0]->json_name, "title");
}
static void json_clash(Google__Protobuf__FileDescriptorProto *f)
{
    set(&msg(f, "All")->field[0]->name, "snakeCaseName2");
    set(&msg(f, "All")->field[0]->json_name, "snakeCaseName2");
}
static void enum_alias(Google__Protobuf__FileDescriptorProto *f)
{
    f->enum_type[0]->value[1]->number = 2;
}
static void enum_not_zero(Google__Protobuf__FileDescriptorProto *f)
{
    f->enum_type[0]->value[0]->number = 9;
}
static void map_flag_dropped(Google__Protobuf__FileDescriptorProto *f)
{
    Google__Protobuf__DescriptorProto *all = msg(f, "All");
    for (size_t i = 0; i < all->n_nested_type; i++) all->nested_type[i]->options->map_entry = false;
}
static void two_types_one_name(Google__Protobuf__FileDescriptorProto *f)
{
    set(&msg(f, "Scalars")->name, "Item");
}

static void test_load_refusals(void **state)
{
    (void)state;
    struct {
        void (*edit)(Google__Protobuf__FileDescriptorProto *);
        kt_status st;
        const char *why;
    } cases[] = {
        {dup_number, KT_ERR_MALFORMED, "Item: name and count both have the number 1"},
        {proto2, KT_ERR_UNSUPPORTED, "kt.pbjsontest.proto is not proto3"},
        {required, KT_ERR_UNSUPPORTED, "Item.name: label 2"},
        {reserved_number, KT_ERR_MALFORMED, "field number 19500 is not a usable one"},
        {bad_type_ref, KT_ERR_MALFORMED, "type \".kt.pbjsontest.Nope\" is not a known message"},
        {enum_as_message, KT_ERR_MALFORMED, "is not a known message"},
        {group, KT_ERR_UNSUPPORTED, "Item.count: field type 10"},
        {bad_ident, KT_ERR_MALFORMED, "field name \"na-me\" is not an identifier"},
        {custom_json, KT_ERR_UNSUPPORTED, "a custom json_name (\"title\")"},
        {json_clash, KT_ERR_MALFORMED, "have one JSON name"},
        {enum_alias, KT_ERR_MALFORMED, "both have the number 2"},
        {enum_not_zero, KT_ERR_MALFORMED, "the first value must be 0"},
        {map_flag_dropped, KT_ERR_UNSUPPORTED, "is ambiguous"},
        {two_types_one_name, KT_ERR_MALFORMED, "two types are named kt.pbjsontest.Item"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        kt_status st = load_edited(cases[i].edit);
        if (st != cases[i].st || !strstr(kt_last_error(), cases[i].why))
            fail_msg("case %zu: expected %s '%s', got %s: %s", i, kt_status_name(cases[i].st), cases[i].why,
                     kt_status_name(st), kt_last_error());
    }
    kt_buf junk = {(uint8_t *)"\x0a\xff", 2, 2};
    kt_pbschema *s = NULL;
    assert_fails_with(kt_pbschema_load(&junk, 1, &s), KT_ERR_MALFORMED, "file 0 is not a FileDescriptorProto");
    assert_null(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loaded_descriptors_map_json_as_generated_ones),
        cmocka_unit_test(test_files_per_package_in_dependency_order),
        cmocka_unit_test(test_build_refusals),
        cmocka_unit_test(test_load_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
