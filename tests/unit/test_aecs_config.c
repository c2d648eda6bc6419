/* AECS configurations: the original's JSON round-trips exactly, key=value lines read into
 * the same pairs, and every bad input is refused naming the item or line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <kubetee/aecs.h>

static void round_trip(const char *in, const char *want)
{
    kt_aecs_config c;
    kt_buf out = {0};
    if (kt_aecs_config_parse((const uint8_t *)in, strlen(in), &c)) fail_msg("'%s': %s", in, kt_last_error());
    assert_int_equal(kt_aecs_config_to_json(&c, &out), KT_OK);
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.data, want, out.len);
    /* and what was written reads back to itself */
    kt_aecs_config again;
    kt_buf out2 = {0};
    assert_int_equal(kt_aecs_config_parse(out.data, out.len, &again), KT_OK);
    assert_int_equal(again.count, c.count);
    assert_int_equal(kt_aecs_config_to_json(&again, &out2), KT_OK);
    assert_int_equal(out2.len, out.len);
    assert_memory_equal(out2.data, out.data, out.len);
    kt_aecs_config_free(&c);
    kt_aecs_config_free(&again);
    kt_buf_free(&out);
    kt_buf_free(&out2);
}

static void test_the_originals_json_round_trips(void **state)
{
    (void)state;
    /* as the original's PB2JSON writes EnclaveConfigurations */
    const char *orig = "{\"items\":[{\"key\":\"db.url\",\"value\":\"postgres://db:5432/x\"},"
                       "{\"key\":\"quote\",\"value\":\"say \\\"hi\\\" \\\\ \\u00e9\\n\\tend\"}]}";
    round_trip(orig, "{\"items\":[{\"key\":\"db.url\",\"value\":\"postgres://db:5432/x\"},"
                     "{\"key\":\"quote\",\"value\":\"say \\\"hi\\\" \\\\ \xc3\xa9\\n\\tend\"}]}");
    round_trip("{}", "{}");
    round_trip("  {\"items\": []}\n", "{}");
    round_trip("{\"items\":[{\"key\":\"k\"}]}", "{\"items\":[{\"key\":\"k\",\"value\":\"\"}]}");
    kt_aecs_config c;
    assert_int_equal(kt_aecs_config_parse((const uint8_t *)orig, strlen(orig), &c), KT_OK);
    assert_int_equal(c.count, 2);
    assert_string_equal(c.items[0].key, "db.url");
    assert_string_equal(c.items[1].value, "say \"hi\" \\ \xc3\xa9\n\tend");
    kt_aecs_config_free(&c);
}

static void test_lines_read_as_pairs(void **state)
{
    (void)state;
    round_trip("# the service's settings\nLOG_LEVEL=debug\n\nurl=http://x/?a=b\nempty=\n",
               "{\"items\":[{\"key\":\"LOG_LEVEL\",\"value\":\"debug\"},{\"key\":\"url\",\"value\":\"http://x/?a=b\"},"
               "{\"key\":\"empty\",\"value\":\"\"}]}");
    round_trip("", "{}");
}

static void test_bad_configurations_are_refused_by_name(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        kt_status st;
        const char *why;
    } bad[] = {
        {"a=1\na=2", KT_ERR_EXISTS, "line 2: configuration key a is given twice"},
        {"a=1\nnoequals\n", KT_ERR_MALFORMED, "line 2 is not key=value"},
        {"=v", KT_ERR_INVALID_ARGUMENT, "a configuration key is empty"},
        {"a b=v", KT_ERR_INVALID_ARGUMENT, "configuration key 'a b': byte 1 is not allowed"},
        {"k=a\rb", KT_ERR_INVALID_ARGUMENT, "control byte 0x0d"},
        {"k=\xff", KT_ERR_MALFORMED, "the data has"},
        {"{\"items\":[{\"key\":\"a\",\"value\":\"1\"},{\"key\":\"a\",\"value\":\"2\"}]}", KT_ERR_EXISTS,
         "item 2 (line 1): configuration key a is given twice"},
        {"{\"items\":{}}", KT_ERR_MALFORMED, "items is not a list"},
        {"{\"items\":[1]}", KT_ERR_MALFORMED, "item 1 is not an object"},
        {"{\"items\":[{\"key\":1,\"value\":\"x\"}]}", KT_ERR_MALFORMED, "key must be a string"},
        {"{\"items\":[{\"key\":\"a\",\"value\":\"x\",\"note\":\"y\"}]}", KT_ERR_MALFORMED, "unknown key 'note'"},
        {"{\"items\":[{\"value\":\"x\"}]}", KT_ERR_MALFORMED, "key must be a string"},
        {"{\"items\":[{\"key\":\"a\",\"value\":\"\\u0001\"}]}", KT_ERR_INVALID_ARGUMENT, "control byte 0x01"},
        {"{\"items\":[", KT_ERR_MALFORMED, "the original's JSON"},
        {"{\"it\":[]}", KT_ERR_MALFORMED, "unknown key 'it'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kt_aecs_config c;
        kt_status st = kt_aecs_config_parse((const uint8_t *)bad[i].in, strlen(bad[i].in), &c);
        if (st != bad[i].st || !strstr(kt_last_error(), bad[i].why))
            fail_msg("case %zu: expected %s '%s', got %s: %s", i, kt_status_name(bad[i].st), bad[i].why,
                     kt_status_name(st), kt_last_error());
        assert_int_equal(c.count, 0);
        assert_null(c.items);
    }
    /* sizes: a value over the limit, more items than allowed */
    kt_buf big = {0};
    kt_buf_append(&big, "k=", 2);
    for (int i = 0; i <= KT_AECS_CONFIG_VALUE_MAX; i++) kt_buf_append(&big, "v", 1);
    kt_aecs_config c;
    assert_int_equal(kt_aecs_config_parse(big.data, big.len, &c), KT_ERR_TOO_LARGE);
    kt_buf_free(&big);
    for (int i = 0; i <= KT_AECS_CONFIG_ITEMS_MAX; i++) kt_buf_printf(&big, "k%d=v\n", i);
    assert_int_equal(kt_aecs_config_parse(big.data, big.len, &c), KT_ERR_TOO_LARGE);
    assert_non_null(strstr(kt_last_error(), "more than 256 configuration items"));
    kt_buf_free(&big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_originals_json_round_trips),
        cmocka_unit_test(test_lines_read_as_pairs),
        cmocka_unit_test(test_bad_configurations_are_refused_by_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
