/* pbjson: every proto3 field type to JSON and back, the canonical forms, and each kind of
 * bad input refused with the field path named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../unit/testutil.h"
#include "pbjson_test.pb-c.h"
#include <kubetee/pbjson.h>
#include <kubetee/pbschema.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef Kt__Pbjsontest__All All;
typedef Kt__Pbjsontest__Item Item;
#define ALL_D (&kt__pbjsontest__all__descriptor)

static char *print(const void *msg)
{
    kt_buf out = {0};
    kt_status st = kt_pbjson_print(msg, NULL, &out);
    if (st) fail_msg("print: %s", kt_last_error());
    char *s = strdup((const char *)out.data);
    kt_buf_free(&out);
    return s;
}

static All *parse(const char *json)
{
    ProtobufCMessage *m = NULL;
    kt_status st = kt_pbjson_parse(ALL_D, json, strlen(json), NULL, &m);
    if (st) fail_msg("parse %s: %s", json, kt_last_error());
    return (All *)m;
}

static void assert_refused(const char *json, const char *needle)
{
    kt_buf wire = {0};
    kt_status st = kt_pbjson_to_wire(ALL_D, json, strlen(json), NULL, &wire);
    if (st == KT_OK) fail_msg("accepted %s", json);
    if (!strstr(kt_last_error(), needle)) fail_msg("%s: expected '%s' in: %s", json, needle, kt_last_error());
    assert_int_equal(wire.len, 0);
    kt_buf_free(&wire);
}

static void test_empty_message_prints_empty_object(void **state)
{
    (void)state;
    All a = KT__PBJSONTEST__ALL__INIT;
    char *s = print(&a);
    assert_string_equal(s, "{}");
    free(s);
}

static void test_scalars_canonical_forms(void **state)
{
    (void)state;
    Kt__Pbjsontest__Scalars sc = KT__PBJSONTEST__SCALARS__INIT;
    sc.f_int32 = -5;
    sc.f_int64 = INT64_MIN;
    sc.f_uint32 = UINT32_MAX;
    sc.f_uint64 = UINT64_MAX;
    sc.f_sint32 = -7;
    sc.f_sint64 = -8;
    sc.f_fixed32 = 9;
    sc.f_fixed64 = 10;
    sc.f_sfixed32 = -11;
    sc.f_sfixed64 = -12;
    sc.f_float = 0.1f;
    sc.f_double = 1e300;
    sc.f_bool = 1;
    sc.f_string = "h\xc3\xa9\"\\\n\x01";
    uint8_t raw[] = {0xfb, 0xff, 0x00};
    sc.f_bytes.data = raw;
    sc.f_bytes.len = sizeof raw;
    sc.f_enum = KT__PBJSONTEST__COLOR__NEGATIVE;
    char *s = print(&sc);
    assert_string_equal(s, "{\"fInt32\":-5,\"fInt64\":\"-9223372036854775808\",\"fUint32\":4294967295,"
                           "\"fUint64\":\"18446744073709551615\",\"fSint32\":-7,\"fSint64\":\"-8\","
                           "\"fFixed32\":9,\"fFixed64\":\"10\",\"fSfixed32\":-11,\"fSfixed64\":\"-12\","
                           "\"fFloat\":0.1,\"fDouble\":1e+300,\"fBool\":true,"
                           "\"fString\":\"h\xc3\xa9\\\"\\\\\\n\\u0001\",\"fBytes\":\"+/8A\",\"fEnum\":\"NEGATIVE\"}");
    free(s);
}

static void test_floats_special_values(void **state)
{
    (void)state;
    All *a = parse("{\"rFloat\":[\"NaN\",\"Infinity\",\"-Infinity\",1.5,\"2.25\",3],"
                   "\"rDouble\":[\"NaN\",\"-Infinity\",-0.0,5e-324]}");
    assert_int_equal(a->n_r_float, 6);
    assert_true(isnan(a->r_float[0]));
    assert_true(isinf(a->r_float[1]) && a->r_float[1] > 0);
    assert_true(isinf(a->r_float[2]) && a->r_float[2] < 0);
    assert_true(a->r_float[3] == 1.5f && a->r_float[4] == 2.25f && a->r_float[5] == 3.0f);
    assert_true(signbit(a->r_double[2]));
    assert_true(a->r_double[3] == 5e-324);
    char *s = print(a);
    assert_string_equal(s, "{\"rFloat\":[\"NaN\",\"Infinity\",\"-Infinity\",1.5,2.25,3],"
                           "\"rDouble\":[\"NaN\",\"-Infinity\",-0.0,5e-324]}");
    free(s);
    protobuf_c_message_free_unpacked(&a->base, NULL);
}

static void test_round_trip_every_kind(void **state)
{
    (void)state;
    const char *json =
        "{\"scalars\":{\"fInt64\":\"123456789012\",\"fUint64\":\"18446744073709551615\",\"fString\":\"x\","
        "\"fBytes\":\"AAEC\",\"fEnum\":\"GREEN\"},"
        "\"rInt32\":[1,-1,2147483647,-2147483648],\"rInt64\":[\"-9223372036854775808\",\"5\"],"
        "\"rUint64\":[\"0\",\"18446744073709551615\"],\"rSint32\":[-3,3],\"rFixed64\":[\"7\"],"
        "\"rSfixed32\":[-9],\"rBool\":[true,false],\"rString\":[\"a\",\"\"],\"rBytes\":[\"\",\"/w==\"],"
        "\"rEnum\":[\"RED\",\"COLOR_UNSPECIFIED\"],"
        "\"items\":[{\"name\":\"a\",\"children\":[{\"count\":2}]},{}],\"item\":{},"
        "\"labels\":{\"k\":\"v\",\"\":\"empty\"},\"byId\":{\"-4\":{\"name\":\"four\"},\"0\":{}},"
        "\"counters\":{\"18446744073709551615\":\"-1\"},\"flags\":{\"true\":\"RED\",\"false\":\"GREEN\"},"
        "\"blobs\":{\"-9223372036854775808\":\"AQ==\"},\"choiceNumber\":\"42\",\"snakeCaseName2\":3}";
    All *a = parse(json);
    assert_int_equal(a->scalars->f_int64, 123456789012LL);
    assert_true(a->scalars->f_uint64 == UINT64_MAX);
    assert_int_equal(a->n_labels, 2);
    assert_int_equal(a->n_by_id, 2);
    assert_int_equal(a->by_id[0]->key, -4);
    assert_string_equal(a->by_id[0]->value->name, "four");
    assert_int_equal(a->choice_case, KT__PBJSONTEST__ALL__CHOICE_CHOICE_NUMBER);
    assert_int_equal(a->choice_number, 42);
    assert_int_equal(a->snake_case_name_2, 3);
    assert_int_equal(a->n_items, 2);
    assert_int_equal(a->items[0]->children[0]->count, 2);
    assert_non_null(a->item);
    char *s = print(a);
    assert_string_equal(s, json);
    free(s);
    protobuf_c_message_free_unpacked(&a->base, NULL);
}

static void test_input_forms_accepted(void **state)
{
    (void)state;
    /* .proto names, numbers for 64-bit integers, strings for 32-bit ones, integral reals,
     * enums by number, URL-safe and unpadded base64, null as the default */
    All *a = parse("{\"scalars\":{\"f_int64\":-5,\"f_uint32\":\"7\",\"f_int32\":1e2,\"f_enum\":-3,"
                   "\"f_bytes\":\"-_8\",\"f_double\":\"-1.5e3\",\"f_string\":null},"
                   "\"snake_case_name_2\":1,\"rBytes\":[\"_w\",\"/w\"],\"choice_text\":null,\"choiceItem\":{}}");
    assert_int_equal(a->scalars->f_int64, -5);
    assert_int_equal(a->scalars->f_uint32, 7);
    assert_int_equal(a->scalars->f_int32, 100);
    assert_int_equal(a->scalars->f_enum, KT__PBJSONTEST__COLOR__NEGATIVE);
    assert_int_equal(a->scalars->f_bytes.len, 2);
    assert_int_equal(a->scalars->f_bytes.data[0], 0xfb);
    assert_int_equal(a->scalars->f_bytes.data[1], 0xff);
    assert_true(a->scalars->f_double == -1500.0);
    assert_int_equal(a->snake_case_name_2, 1);
    assert_int_equal(a->r_bytes[0].data[0], 0xff);
    assert_int_equal(a->r_bytes[1].data[0], 0xff);
    assert_int_equal(a->choice_case, KT__PBJSONTEST__ALL__CHOICE_CHOICE_ITEM);
    protobuf_c_message_free_unpacked(&a->base, NULL);
}

static void test_unknown_and_duplicate_fields_refused(void **state)
{
    (void)state;
    assert_refused("{\"nope\":1}", "(top level): kt.pbjsontest.All has no field \"nope\"");
    assert_refused("{\"items\":[{},{\"nam\":\"x\"}]}", "items[1]: kt.pbjsontest.Item has no field \"nam\"");
    assert_refused("{\"item\":{\"name\":\"a\",\"name\":\"b\"}}", "duplicate");
    assert_refused("{\"snakeCaseName2\":1,\"snake_case_name_2\":2}", "given twice");
    assert_refused("{\"choiceText\":\"a\",\"choiceNumber\":1}", "choiceNumber: another member of its oneof");
    assert_refused("{\"item\":{\"n\\u0000ame\":1}}", "NUL byte in object key");
}

static void test_wrong_types_refused_with_path(void **state)
{
    (void)state;
    assert_refused("[]", "(top level): expected an object, got an array");
    assert_refused("{\"items\":[{},{},{\"name\":5}]}", "items[2].name: expected a string, got an integer");
    assert_refused("{\"items\":{}}", "items: expected an array, got an object");
    assert_refused("{\"rInt32\":[1,null]}", "rInt32[1]: an array element may not be null");
    assert_refused("{\"scalars\":{\"fBool\":\"true\"}}", "scalars.fBool: expected true or false, got a string");
    assert_refused("{\"scalars\":{\"fBool\":1}}", "scalars.fBool: expected true or false");
    assert_refused("{\"item\":[]}", "item: expected an object, got an array");
    assert_refused("{\"labels\":[]}", "labels: expected an object (a map), got an array");
    assert_refused("{\"labels\":{\"a\":1}}", "labels[\"a\"]: expected a string, got an integer");
    assert_refused("{\"labels\":{\"a\":null}}", "labels[\"a\"]: a map value may not be null");
    assert_refused("{\"byId\":{\"x\":{}}}", "byId[\"x\"]: \"x\" is not a decimal integer");
    assert_refused("{\"byId\":{\"01\":{}}}", "leading zero");
    assert_refused("{\"byId\":{\"-0\":{}}}", "byId[\"-0\"]: \"-0\" is not a decimal integer");
    assert_refused("{\"flags\":{\"yes\":\"RED\"}}", "flags[\"yes\"]: a bool map key is \"true\" or \"false\"");
    assert_refused("{\"scalars\":{\"fEnum\":\"BLUE\"}}", "scalars.fEnum: \"BLUE\" is not a value of kt.pbjsontest.Color");
    assert_refused("{\"scalars\":{\"fEnum\":7}}", "scalars.fEnum: 7 is not a value");
    assert_refused("{\"scalars\":{\"fEnum\":true}}", "expected an enum name or number");
    assert_refused("{\"scalars\":{\"fDouble\":\"nan\"}}", "scalars.fDouble: \"nan\" is not a number");
    assert_refused("{\"scalars\":{\"fDouble\":\"0x10\"}}", "is not a number");
    assert_refused("{\"scalars\":{\"fDouble\":\" 1\"}}", "is not a number");
    assert_refused("{\"scalars\":{\"fDouble\":\"1e999\"}}", "out of range for double");
    assert_refused("{\"scalars\":{\"fDouble\":{}}}", "expected a number, got an object");
}

static void test_numbers_out_of_range_refused(void **state)
{
    (void)state;
    assert_refused("{\"scalars\":{\"fInt32\":2147483648}}", "scalars.fInt32: 2147483648 is out of range for int32");
    assert_refused("{\"scalars\":{\"fInt32\":-2147483649}}", "-2147483649 is out of range for int32");
    assert_refused("{\"scalars\":{\"fUint32\":-1}}", "scalars.fUint32: -1 is out of range for uint32");
    assert_refused("{\"scalars\":{\"fUint32\":4294967296}}", "out of range for uint32");
    assert_refused("{\"scalars\":{\"fInt64\":\"9223372036854775808\"}}", "out of range for int64");
    assert_refused("{\"scalars\":{\"fUint64\":\"18446744073709551616\"}}", "not a decimal integer");
    assert_refused("{\"scalars\":{\"fUint64\":\"-1\"}}", "out of range for uint64");
    assert_refused("{\"scalars\":{\"fSfixed32\":\"2147483648\"}}", "out of range for int32");
    assert_refused("{\"scalars\":{\"fInt32\":1.5}}", "scalars.fInt32: 1.5 is not an integer");
    assert_refused("{\"scalars\":{\"fInt64\":1e17}}", "not an integer up to 2^53");
    assert_refused("{\"scalars\":{\"fInt64\":\"1e3\"}}", "not a decimal integer");
    assert_refused("{\"scalars\":{\"fInt64\":\"+1\"}}", "not a decimal integer");
    assert_refused("{\"scalars\":{\"fInt64\":\"007\"}}", "leading zero");
    assert_refused("{\"scalars\":{\"fInt64\":\" 7\"}}", "not a decimal integer");
    assert_refused("{\"scalars\":{\"fFloat\":3.5e38}}", "scalars.fFloat: 3.5e+38 is out of range for float");
    assert_refused("{\"rInt32\":[1,\"x\"]}", "rInt32[1]: \"x\" is not a decimal integer");
}

static void test_bytes_and_strings_refused(void **state)
{
    (void)state;
    assert_refused("{\"scalars\":{\"fBytes\":\"A\"}}", "scalars.fBytes: base64: length 1");
    assert_refused("{\"scalars\":{\"fBytes\":\"A*==\"}}", "scalars.fBytes: base64: bad character");
    assert_refused("{\"scalars\":{\"fBytes\":\"+_8=\"}}", "alphabets mixed");
    assert_refused("{\"scalars\":{\"fBytes\":\"/x==\"}}", "bits after the last byte");
    assert_refused("{\"scalars\":{\"fBytes\":\"AA=A\"}}", "base64");
    assert_refused("{\"items\":[{},{},{\"name\":\"a\\u0000b\"}]}", "items[2].name: string holds an embedded NUL");
    assert_refused("{\"item\":{\"name\":\"\xff\"}}", "JSON at line 1");
    assert_refused("{\"item\":{}} x", "JSON at line 1");
    assert_refused("{\"item\":{}", "JSON at line 1");
}

static void test_depth_limit(void **state)
{
    (void)state;
    char json[4096] = "";
    for (int i = 0; i < 40; i++) strcat(json, "{\"children\":[");
    for (int i = 0; i < 40; i++) strcat(json, "]}");
    kt_buf wire = {0};
    char top[4200];
    snprintf(top, sizeof top, "{\"item\":%s}", json);
    assert_fails_with(kt_pbjson_to_wire(ALL_D, top, strlen(top), NULL, &wire), KT_ERR_TOO_LARGE,
                      "nest deeper than 32");
    assert_non_null(strstr(kt_last_error(), "item.children[0].children[0]"));
    kt_pbjson_options deep = {.max_depth = 64};
    assert_int_equal(kt_pbjson_to_wire(ALL_D, top, strlen(top), &deep, &wire), KT_OK);
    /* and printing holds to its limit too */
    ProtobufCMessage *m = protobuf_c_message_unpack(ALL_D, NULL, wire.len, wire.data);
    assert_non_null(m);
    kt_buf out = {0};
    assert_fails_with(kt_pbjson_print(m, NULL, &out), KT_ERR_TOO_LARGE, "nest deeper than 32");
    assert_int_equal(out.len, 0);
    assert_int_equal(kt_pbjson_print(m, &deep, &out), KT_OK);
    protobuf_c_message_free_unpacked(m, NULL);
    kt_buf_free(&out);
    kt_buf_free(&wire);
}

static void test_print_refuses_what_it_cannot_show(void **state)
{
    (void)state;
    /* a string that is not UTF-8, named by its path */
    Item child = KT__PBJSONTEST__ITEM__INIT, *children[] = {&child};
    child.name = "\xc0\x80";
    Item it = KT__PBJSONTEST__ITEM__INIT;
    it.n_children = 1;
    it.children = children;
    kt_buf out = {0};
    assert_fails_with(kt_pbjson_print(&it.base, NULL, &out), KT_ERR_MALFORMED, "children[0].name: string holds invalid UTF-8");
    /* unknown fields would be dropped silently: refused */
    const uint8_t wire[] = {0x0a, 0x01, 'a', 0xf8, 0x01, 0x05};
    assert_fails_with(kt_pbjson_print_wire(&kt__pbjsontest__item__descriptor, wire, sizeof wire, NULL, &out),
                      KT_ERR_MALFORMED, "unknown field(s), the first number 31");
    const uint8_t bad[] = {0x0a, 0x05, 'a'};
    assert_fails_with(kt_pbjson_print_wire(&kt__pbjsontest__item__descriptor, bad, sizeof bad, NULL, &out),
                      KT_ERR_MALFORMED, "do not decode as kt.pbjsontest.Item");
    assert_int_equal(out.len, 0);
    kt_buf_free(&out);
}

static void test_field_names(void **state)
{
    (void)state;
    char out[32];
    assert_int_equal(kt_pbschema_json_name("snake_case_name_2", out, sizeof out), KT_OK);
    assert_string_equal(out, "snakeCaseName2");
    assert_int_equal(kt_pbschema_json_name("_a__b", out, sizeof out), KT_OK);
    assert_string_equal(out, "AB");
    assert_fails_with(kt_pbschema_json_name("abcdef", out, 4), KT_ERR_BUFFER_TOO_SMALL, "too long");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_message_prints_empty_object),
        cmocka_unit_test(test_scalars_canonical_forms),
        cmocka_unit_test(test_floats_special_values),
        cmocka_unit_test(test_round_trip_every_kind),
        cmocka_unit_test(test_input_forms_accepted),
        cmocka_unit_test(test_unknown_and_duplicate_fields_refused),
        cmocka_unit_test(test_wrong_types_refused_with_path),
        cmocka_unit_test(test_numbers_out_of_range_refused),
        cmocka_unit_test(test_bytes_and_strings_refused),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_print_refuses_what_it_cannot_show),
        cmocka_unit_test(test_field_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
