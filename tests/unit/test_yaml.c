/* The document tree and kubetee's own JSON reader: RFC 8259 exactly (each deviation
 * refused with its line, column and what was wrong), values kept as written with their
 * bytes, and the YAML reader's tree the same for the same JSON. Built twice: as a plain
 * process (kt_yaml_parse is libyaml) and with the trusted sources (KT_TRUSTED:
 * kt_yaml_parse reads JSON only and says so for block YAML). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include <kubetee/yaml.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kt_y *json(const char *text)
{
    kt_y *y = NULL;
    if (kt_json_parse(text, strlen(text), &y)) fail_msg("'%s' does not parse: %s", text, kt_last_error());
    return y;
}

static void refused(const char *text, size_t n, kt_status want, const char *reason)
{
    kt_y *y = (kt_y *)1;
    kt_status st = kt_json_parse(text, n, &y);
    if (st != want || !strstr(kt_last_error(), reason))
        fail_msg("'%.60s': expected %s with '%s', got %s: %s", text, kt_status_name(want), reason,
                 kt_status_name(st), kt_last_error());
    assert_null(y);
}
#define REFUSED(text, reason) refused((text), strlen(text), KT_ERR_MALFORMED, (reason))

static void test_values_are_kept_as_written(void **state)
{
    (void)state;
    const char *doc = "{\n  \"a\": [1, -0.5e+3, true, null],\n  \"b\": \"x\\u00e9\\ud83d\\ude00\\n\\/\",\n"
                      "  \"c\": {\"\": \"\"}, \"d\": []\n}\n";
    kt_y *y = json(doc);
    assert_int_equal(y->kind, KT_Y_MAP);
    assert_int_equal(y->count, 8);
    assert_int_equal(y->line, 1);
    const kt_y *a = kt_yaml_get(y, "a");
    assert_int_equal(a->kind, KT_Y_SEQ);
    assert_int_equal(a->count, 4);
    assert_int_equal(a->line, 2);
    assert_string_equal(a->items[0]->text, "1");
    assert_string_equal(a->items[1]->text, "-0.5e+3");
    assert_string_equal(a->items[2]->text, "true");
    assert_string_equal(a->items[3]->text, "null");
    for (int i = 0; i < 4; i++)
        assert_false(a->items[i]->quoted);
    /* the bytes of a value are exactly what was written */
    assert_int_equal(a->end - a->start, strlen("[1, -0.5e+3, true, null]"));
    assert_memory_equal(doc + a->start, "[1, -0.5e+3, true, null]", a->end - a->start);
    const kt_y *b = kt_yaml_get(y, "b");
    assert_true(b->quoted);
    assert_string_equal(b->text, "x\xc3\xa9\xf0\x9f\x98\x80\n/");
    assert_string_equal(kt_yaml_string(b), b->text);
    assert_null(kt_yaml_string(a->items[0]));
    const kt_y *c = kt_yaml_get(y, "c");
    assert_int_equal(c->line, 4);
    assert_true(c->items[0]->quoted && !c->items[0]->text[0]);
    assert_int_equal(kt_yaml_get(y, "d")->count, 0);
    assert_null(kt_yaml_get(y, "e"));
    assert_int_equal(y->start, 0);
    assert_int_equal(y->end, strlen(doc) - 1);
    kt_yaml_free(y);
    /* any value at the top, whitespace around it */
    y = json(" \t\r\n\"s\"\n");
    assert_true(y->kind == KT_Y_SCALAR && y->quoted && !strcmp(y->text, "s"));
    kt_yaml_free(y);
}

static void test_deviations_from_rfc_8259_are_refused_by_name(void **state)
{
    (void)state;
    REFUSED("{\"a\":1,\"b\":2,\"a\":3}", "key 'a' appears twice");
    REFUSED("[1,2,]", "trailing commas");
    REFUSED("{\"a\":1,}", "trailing commas");
    REFUSED("[01]", "leading zero");
    REFUSED("[-01]", "leading zero");
    REFUSED("[+1]", "unexpected '+'");
    REFUSED("[1.]", "'.' not followed by a digit");
    REFUSED("[.5]", "unexpected '.'");
    REFUSED("[1e]", "exponent without digits");
    REFUSED("[-]", "'-' not followed by a digit");
    REFUSED("[NaN]", "unexpected 'N'");
    REFUSED("[Infinity]", "unexpected 'I'");
    REFUSED("[tru]", "unexpected 't'");
    REFUSED("{'a':1}", "where a key (a string) should be");
    REFUSED("{a:1}", "where a key (a string) should be");
    REFUSED("{\"a\" 1}", "where ':' should follow a key");
    REFUSED("[1 2]", "where ',' or ']' should be");
    REFUSED("[1] // c", "after the document's value");
    REFUSED("[1] [2]", "after the document's value");
    REFUSED("/* c */ [1]", "unexpected '/'");
    REFUSED("\xef\xbb\xbf[1]", "byte order mark");
    REFUSED("", "empty document");
    REFUSED(" \n ", "empty document");
    REFUSED("[1", "where ',' or ']' should be");
    REFUSED("[\"abc", "a string is not closed");
    REFUSED("[\"a\\x\"]", "unknown escape");
    REFUSED("[\"a\\u12\"]", "four hex digits");
    REFUSED("[\"a\\u12G4\"]", "four hex digits");
    REFUSED("[\"\\ud800\"]", "high surrogate not followed by a low one");
    REFUSED("[\"\\ud800\\u0041\"]", "high surrogate not followed by a low one");
    REFUSED("[\"\\udc00\"]", "low surrogate with no high surrogate");
    REFUSED("[\"\\u0000\"]", "NUL");
    REFUSED("[\"a\tb\"]", "control character 0x09");
    REFUSED("[\"a\nb\"]", "control character 0x0a");
    REFUSED("[\"\xc0\x80\"]", "not valid UTF-8");          /* overlong NUL */
    REFUSED("[\"\xed\xa0\x80\"]", "not valid UTF-8");      /* a surrogate in UTF-8 */
    REFUSED("[\"\xf4\x90\x80\x80\"]", "not valid UTF-8");  /* past U+10FFFF */
    REFUSED("[\"\xe2\x82\"]", "not valid UTF-8");          /* cut short */
    REFUSED("[\"\x80\"]", "not valid UTF-8");
    refused("[\"a\0b\"]", 7, KT_ERR_MALFORMED, "control character 0x00");
    refused("[1]\0", 4, KT_ERR_MALFORMED, "byte 0x00 after the document's value");
    /* the line and column of each */
    REFUSED("{\n  \"a\": 1,\n  \"b\": 01\n}", "line 3, column 8: a number with a leading zero");
    REFUSED("{\n\"k\": 1,\n\n\"k\": 2}", "(lines 2 and 4)");
}

static void test_depth_nodes_and_size_are_bounded(void **state)
{
    (void)state;
    char deep[2 * KT_YAML_MAX_DEPTH + 8];
    size_t d = KT_YAML_MAX_DEPTH;
    memset(deep, '[', d);
    memset(deep + d, ']', d);
    deep[2 * d] = '\0';
    kt_yaml_free(json(deep)); /* as deep as allowed */
    memset(deep, '[', d + 1);
    memset(deep + d + 1, ']', d + 1);
    deep[2 * d + 2] = '\0';
    REFUSED(deep, "nested deeper than 16");
    /* more values than allowed: refused when the count is passed, not after */
    size_t n = 2 * (KT_YAML_MAX_NODES + 1) + 2;
    char *many = malloc(n + 1);
    many[0] = '[';
    for (size_t i = 0; i <= KT_YAML_MAX_NODES; i++)
        memcpy(many + 1 + 2 * i, "0,", 2);
    memcpy(many + n - 3, "0]", 3);
    refused(many, strlen(many), KT_ERR_TOO_LARGE, "more than 100000 values");
    free(many);
    char *big = malloc(KT_YAML_MAX_BYTES + 1);
    memset(big, ' ', KT_YAML_MAX_BYTES + 1);
    big[0] = '1';
    refused(big, KT_YAML_MAX_BYTES + 1, KT_ERR_TOO_LARGE, "over 1048576");
    free(big);
}

static void test_integers_and_known_keys(void **state)
{
    (void)state;
    kt_y *y = json("{\"n\":42,\"neg\":-7,\"s\":\"42\",\"f\":4.0,\"e\":1e2,\"big\":9223372036854775808,"
                   "\"min\":-9223372036854775808}");
    long long x = 0;
    assert_int_equal(kt_yaml_int(kt_yaml_get(y, "n"), 0, 100, &x), KT_OK);
    assert_int_equal(x, 42);
    assert_fails_with(kt_yaml_int(kt_yaml_get(y, "n"), 0, 41, &x), KT_ERR_MALFORMED,
                      "42 is out of range 0..41");
    assert_int_equal(kt_yaml_int(kt_yaml_get(y, "neg"), -10, 10, &x), KT_OK);
    assert_int_equal(x, -7);
    assert_fails_with(kt_yaml_int(kt_yaml_get(y, "neg"), 0, 10, &x), KT_ERR_MALFORMED,
                      "not a decimal integer");
    assert_fails_with(kt_yaml_int(kt_yaml_get(y, "s"), 0, 100, &x), KT_ERR_MALFORMED, "not a number");
    assert_fails_with(kt_yaml_int(kt_yaml_get(y, "f"), 0, 100, &x), KT_ERR_MALFORMED,
                      "'4.0' is not a decimal integer");
    assert_fails_with(kt_yaml_int(kt_yaml_get(y, "e"), 0, 1000, &x), KT_ERR_MALFORMED,
                      "not a decimal integer");
    assert_fails_with(kt_yaml_int(kt_yaml_get(y, "big"), 0, LLONG_MAX, &x), KT_ERR_MALFORMED,
                      "out of range");
    assert_int_equal(kt_yaml_int(kt_yaml_get(y, "min"), LLONG_MIN, 0, &x), KT_OK);
    assert_true(x == LLONG_MIN);
    static const char *const keys[] = {"n", "neg", "s", "f", "e", "big", "min", NULL};
    assert_int_equal(kt_yaml_known_keys(y, keys, "doc"), KT_OK);
    assert_fails_with(kt_yaml_known_keys(y, keys + 1, "doc"), KT_ERR_MALFORMED,
                      "doc: unknown key 'n' (line 1)");
    assert_fails_with(kt_yaml_known_keys(kt_yaml_get(y, "n"), keys, "doc"), KT_ERR_MALFORMED,
                      "doc: not a mapping");
    kt_yaml_free(y);
    /* a key's bytes reach messages escaped */
    REFUSED("{\"\\n\\u00e9\":1,\"\\n\\u00e9\":2}", "key '\\x0a\\xc3\\xa9' appears twice");
}

/* kt_yaml_parse: JSON gives the tree kt_json_parse gives, in both builds; block YAML
 * is YAML in a process, refused by name in an enclave. */
static void same_tree(const kt_y *a, const kt_y *b)
{
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->count, b->count);
    assert_int_equal(a->line, b->line);
    if (a->kind == KT_Y_SCALAR) {
        assert_string_equal(a->text, b->text);
        assert_int_equal(a->quoted, b->quoted);
    }
    for (size_t i = 0; i < a->count; i++)
        same_tree(a->items[i], b->items[i]);
}

static void test_yaml_reads_json_alike(void **state)
{
    (void)state;
    const char *doc = "{\"allow_simulation\": true,\n \"rules\": [{\"mrenclave\": \"ab\", \"n\": 3}]}";
    kt_y *j = json(doc), *y = NULL;
    assert_int_equal(kt_yaml_parse(doc, strlen(doc), &y), KT_OK);
    same_tree(j, y);
    kt_yaml_free(j);
    kt_yaml_free(y);
    const char *block = "allow_simulation: true\nrules:\n- mrenclave: ab\n";
    y = NULL;
#ifdef KT_TRUSTED
    assert_fails_with(kt_yaml_parse(block, strlen(block), &y), KT_ERR_UNSUPPORTED,
                      "inside an enclave only the JSON form of YAML is read");
    assert_null(y);
    assert_fails_with(kt_yaml_parse("{a: 1}", 6, &y), KT_ERR_MALFORMED,
                      "YAML (read as JSON inside an enclave): JSON: line 1, column 2");
    assert_fails_with(kt_yaml_parse("{\"a\":1,\"a\":2}", 13, &y), KT_ERR_MALFORMED,
                      "appears twice");
#else
    assert_int_equal(kt_yaml_parse(block, strlen(block), &y), KT_OK);
    assert_int_equal(kt_yaml_get(y, "rules")->line, 3); /* the sequence starts there */
    assert_string_equal(kt_yaml_get(y, "allow_simulation")->text, "true");
    kt_yaml_free(y);
    assert_fails_with(kt_yaml_parse("a: 1\na: 2\n", 10, &y), KT_ERR_MALFORMED,
                      "YAML: key 'a' appears twice in a mapping (lines 1 and 2)");
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_are_kept_as_written),
        cmocka_unit_test(test_deviations_from_rfc_8259_are_refused_by_name),
        cmocka_unit_test(test_depth_nodes_and_size_are_bounded),
        cmocka_unit_test(test_integers_and_known_keys),
        cmocka_unit_test(test_yaml_reads_json_alike),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
