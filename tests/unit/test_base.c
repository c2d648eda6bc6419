/* base: status names, failure reasons, buffers, hex and base64, atomic files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include <kubetee/base.h>

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_status_names_and_gate_range(void **state)
{
    (void)state;
    assert_string_equal(kt_status_name(KT_ERR_VERIFY), "KT_ERR_VERIFY");
    assert_true(kt_status_is_gate(KT_ERR_GATE_OUT_OF_TCS));
    assert_false(kt_status_is_gate(KT_ERR_FUNCTION));
    assert_false(kt_status_is_gate(KT_ERR_INVALID_ARGUMENT));
}

static void test_fail_records_reason_with_context(void **state)
{
    (void)state;
    assert_int_equal(kt_fail(KT_ERR_MALFORMED, "quote: %d bytes", 3), KT_ERR_MALFORMED);
    assert_string_equal(kt_last_error(), "quote: 3 bytes");
    kt_fail_context(KT_ERR_MALFORMED, "loading %s", "x");
    assert_string_equal(kt_last_error(), "loading x: quote: 3 bytes");
}

static void test_hex_round_trip_and_errors(void **state)
{
    (void)state;
    uint8_t in[4] = {0xde, 0xad, 0xbe, 0xef}, out[4];
    char hex[9];
    assert_int_equal(kt_hex_encode(in, 4, hex, sizeof hex), KT_OK);
    assert_string_equal(hex, "deadbeef");
    assert_int_equal(kt_hex_decode("DEADbeef", out, 4), KT_OK);
    assert_memory_equal(in, out, 4);
    assert_int_equal(kt_hex_encode(in, 4, hex, 8), KT_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(kt_hex_decode("deadbee", out, 4),
                     KT_ERR_MALFORMED); /* short: never a prefix */
    assert_int_equal(kt_hex_decode("deadbeefaa", out, 4), KT_ERR_MALFORMED); /* long */
    assert_int_equal(kt_hex_decode("deadbeeg", out, 4), KT_ERR_MALFORMED);
    assert_non_null(strstr(kt_last_error(), "position 7"));
}

static void test_decimal_only_no_leading_zero_no_overflow(void **state)
{
    (void)state;
    uint64_t x = 1;
    assert_int_equal(kt_decimal_parse("0", 10, &x), KT_OK);
    assert_int_equal(x, 0);
    assert_int_equal(kt_decimal_parse("65535", 65535, &x), KT_OK);
    assert_int_equal(x, 65535);
    assert_int_equal(kt_decimal_parse("18446744073709551615", UINT64_MAX, &x), KT_OK);
    assert_true(x == UINT64_MAX);
    /* base 0 would read these as 8, 65535 and 16 */
    assert_fails_with(kt_decimal_parse("010", 65535, &x), KT_ERR_MALFORMED, "leading zero");
    assert_fails_with(kt_decimal_parse("0177777", 65535, &x), KT_ERR_MALFORMED, "leading zero");
    assert_fails_with(kt_decimal_parse("0x10", 65535, &x), KT_ERR_MALFORMED, "leading zero");
    assert_fails_with(kt_decimal_parse("177777", 65535, &x), KT_ERR_MALFORMED, "over 65535");
    assert_fails_with(kt_decimal_parse("18446744073709551616", UINT64_MAX, &x), KT_ERR_MALFORMED,
                      "over");
    assert_fails_with(kt_decimal_parse("7", 5, &x), KT_ERR_MALFORMED, "over 5");
    static const char *bad[] = {"", "-1", "+1", " 1", "1 ", "1e3", "1.0", "x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_fails_with(kt_decimal_parse(bad[i], 65535, &x), KT_ERR_MALFORMED,
                          "not a decimal number");
    assert_true(x == UINT64_MAX); /* untouched by failures */
}

/* Bytes from input come out as printable ASCII, each other byte (and ' " and \) escaped,
 * cut only between escapes; kt_escape_text leaves escaped text as it is. */
static void test_escape_leaves_only_printable_ascii(void **state)
{
    (void)state;
    static const char in[] = "ok \"q\" \\ \n\x7f\xff\x01~";
    char out[64], again[64], small[8];
    assert_string_equal(kt_escape(in, sizeof in - 1, out, sizeof out),
                        "ok \\x22q\\x22 \\\\ \\x0a\\x7f\\xff\\x01~");
    /* a message made of escaped parts passes kt_escape_text as it is, quotes included */
    assert_string_equal(kt_escape_text(out, strlen(out), again, sizeof again), out);
    assert_string_equal(kt_escape_text("held: 'x\\x27' \x01", 15, again, sizeof again),
                        "held: 'x\\x27' \\x01");
    /* ' and \ from input: a value between quotes cannot close them or forge an escape */
    assert_string_equal(kt_escape("x' (lease 1) '\\x27", 18, out, sizeof out),
                        "x\\x27 (lease 1) \\x27\\\\x27");
    /* " too: a value between double quotes (a log field, a message) cannot close them */
    assert_string_equal(kt_escape("k\" ok=\"1", 8, out, sizeof out), "k\\x22 ok=\\x221");
    assert_string_equal(kt_escape_text("field \"k\\x22\"", 13, again, sizeof again),
                        "field \"k\\x22\"");                      /* a message's own quotes pass */
    assert_string_equal(kt_escape("a\"", 2, small, 5), "a");      /* \x22 whole, or not */
    assert_string_equal(kt_escape("a\\b", 3, small, 4), "a\\\\"); /* \\ whole, or not */
    assert_string_equal(kt_escape("a\\b", 3, small, 3), "a");
    assert_string_equal(kt_escape("ab\ncd", 5, small, 6), "ab"); /* \x0a does not fit */
    assert_string_equal(kt_escape("ab\ncd", 5, small, 7), "ab\\x0a");
    assert_string_equal(kt_escape("a\0b", 3, small, sizeof small), "a\\x00b");
}

static void test_base64_rfc4648_vectors(void **state)
{
    (void)state;
    const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        kt_buf b = {0}, d = {0};
        assert_int_equal(kt_base64_encode((const uint8_t *)plain[i], strlen(plain[i]), &b), KT_OK);
        assert_int_equal(b.len, strlen(enc[i]));
        assert_memory_equal(b.data, enc[i], b.len);
        assert_int_equal(kt_base64_decode(enc[i], strlen(enc[i]), &d), KT_OK);
        assert_int_equal(d.len, strlen(plain[i]));
        if (d.len) assert_memory_equal(d.data, plain[i], d.len);
        kt_buf_free(&b);
        kt_buf_free(&d);
    }
    kt_buf d = {0};
    assert_int_equal(kt_base64_decode("Zm9", 3, &d), KT_ERR_MALFORMED);
    assert_int_equal(kt_base64_decode("Zm=v", 4, &d), KT_ERR_MALFORMED);
    assert_int_equal(kt_base64_decode("Zm9v!A==", 8, &d), KT_ERR_MALFORMED);
    kt_buf_free(&d);
}

/* Every character of the alphabet decodes to its own value, and every other byte is
 * refused, each in every position of a group. */
static void test_base64_alphabet_exactly(void **state)
{
    (void)state;
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int v = 0; v < 64; v++) {
        char in[5] = {alphabet[v], 'A', 'A', 'A', 0};
        kt_buf d = {0};
        assert_int_equal(kt_base64_decode(in, 4, &d), KT_OK);
        assert_int_equal(d.len, 3);
        assert_int_equal(d.data[0], v << 2);
        kt_buf_free(&d);
    }
    for (int c = 0; c < 256; c++) {
        if (c && strchr(alphabet, c)) continue;
        for (int at = 0; at < 4; at++) {
            char in[4] = {'Q', 'Q', 'Q', 'Q'};
            in[at] = (char)c;
            kt_buf d = {0};
            assert_int_equal(kt_base64_decode(in, 4, &d),
                             c == '=' && at == 3 ? KT_OK : KT_ERR_MALFORMED);
            kt_buf_free(&d);
        }
    }
}

static void test_buffer_grows_and_frees(void **state)
{
    (void)state;
    kt_buf b = {0};
    for (int i = 0; i < 1000; i++)
        assert_int_equal(kt_buf_append(&b, "abcdefgh", 8), KT_OK);
    assert_int_equal(b.len, 8000);
    assert_memory_equal(b.data + 7992, "abcdefgh", 8);
    kt_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

/* Formatted text of any length lands whole (kt_metric writes through it: a long label set
 * used to be cut at a 512-byte stack buffer whose snprintf length was then trusted). */
static void test_buffer_printf_takes_any_length(void **state)
{
    (void)state;
    char big[3000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    kt_buf b = {0};
    assert_int_equal(kt_buf_printf(&b, "x{%s} %d\n", big, 7), KT_OK);
    assert_int_equal(b.len, 2 + strlen(big) + 4);
    assert_memory_equal(b.data, "x{", 2);
    assert_memory_equal(b.data + 2 + strlen(big), "} 7\n", 4);
    assert_int_equal(kt_buf_printf(&b, "%s", ""), KT_OK);
    assert_int_equal(b.len, 2 + strlen(big) + 4);
    kt_buf_free(&b);
}

static void test_equal_and_wipe(void **state)
{
    (void)state;
    uint8_t a[16], b[16];
    memset(a, 7, 16);
    memset(b, 7, 16);
    assert_true(kt_equal(a, b, 16));
    b[15] = 8;
    assert_false(kt_equal(a, b, 16));
    kt_wipe(a, 16);
    for (int i = 0; i < 16; i++)
        assert_int_equal(a[i], 0);
}

static void test_atomic_write_mode_and_bounded_read(void **state)
{
    (void)state;
    char dir[] = "/tmp/kt-base-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sub[256], path[300];
    snprintf(sub, sizeof sub, "%s/a/b", dir);
    assert_int_equal(kt_mkdirs(sub, 0700), KT_OK);
    snprintf(path, sizeof path, "%s/secret", sub);
    assert_int_equal(kt_file_write_atomic(path, "hello", 5, 0600), KT_OK);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    kt_buf b = {0};
    assert_int_equal(kt_file_read(path, 5, &b), KT_OK);
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, "hello", 5);
    kt_buf_free(&b);
    assert_int_equal(kt_file_read(path, 4, &b), KT_ERR_TOO_LARGE);
    kt_buf_free(&b);
    snprintf(path, sizeof path, "%s/missing", sub);
    assert_int_equal(kt_file_read(path, 10, &b), KT_ERR_NOT_FOUND);
    /* more than fstat said (0 for a /proc file): the buffer grows to hold it all */
    assert_int_equal(kt_file_read("/proc/self/status", 1 << 20, &b), KT_OK);
    assert_true(b.len > 256 && memcmp(b.data, "Name:", 5) == 0 && b.data[b.len - 1] == '\n');
    assert_int_equal(b.data[b.len], '\0');
    kt_buf_free(&b);
    assert_int_equal(rm_tree(dir), 0);
}

static char logged[1 << 18];
static void capture(kt_log_level level, const char *line)
{
    (void)level;
    snprintf(logged, sizeof logged, "%s", line);
}

/* A value from input (a name, a path, a peer's string) cannot start a new log line,
 * fake a field, or make a JSON line invalid: every byte outside printable ASCII is
 * escaped, in both formats; a line cut short by a long value is still valid JSON. */
static void test_log_escapes_every_byte_from_input(void **state)
{
    (void)state;
    kt_log_set_sink(capture);
    const char *evil = "x\nlevel=error event=forged \"q\" \x7f\xff\xc3";
    kt_log(KT_LOG_INFO, "test.event", "name", evil, NULL);
    assert_null(strchr(logged, '\n'));
    for (const unsigned char *p = (const unsigned char *)logged; *p; p++)
        assert_true(*p >= 0x20 && *p < 0x7f);
    assert_non_null(
        strstr(logged, "name=\"x\\x0alevel=error event=forged \\\"q\\\" \\x7f\\xff\\xc3\""));

    kt_log(KT_LOG_INFO, "test.event", "bare", "caf\xc3\xa9", NULL);
    assert_non_null(strstr(logged, "bare=\"caf\\xc3\\xa9\""));

    kt_log_set_format(KT_LOG_JSON);
    kt_log(KT_LOG_INFO, "test.event", "name", evil, NULL);
    json_error_t err;
    json_t *j = json_loads(logged, 0, &err);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "event")), "test.event");
    assert_non_null(json_string_value(json_object_get(j, "name")));
    json_decref(j);

    /* past 2 KiB the line grows: every field is there, whole */
    char big[6000];
    memset(big, '\x01', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    kt_log(KT_LOG_INFO, "test.event", "a", big, "b", big, "c", "last", NULL);
    j = json_loads(logged, 0, &err);
    assert_non_null(j);
    assert_int_equal(strlen(json_string_value(json_object_get(j, "a"))), sizeof big - 1);
    assert_int_equal(strlen(json_string_value(json_object_get(j, "b"))), sizeof big - 1);
    assert_string_equal(json_string_value(json_object_get(j, "c")), "last");
    json_decref(j);
    /* a value past 8 KiB is cut visibly, with its length, and the fields after it stay */
    static char huge[20001];
    memset(huge, 'h', sizeof huge - 1);
    kt_log(KT_LOG_INFO, "test.event", "huge", huge, "after", "kept", NULL);
    j = json_loads(logged, 0, &err);
    assert_non_null(j);
    const char *h = json_string_value(json_object_get(j, "huge"));
    assert_non_null(h);
    assert_int_equal(strlen(h), 8192 + strlen("...[cut: 20000 bytes]"));
    assert_non_null(strstr(h, "hhh...[cut: 20000 bytes]"));
    assert_string_equal(json_string_value(json_object_get(j, "after")), "kept");
    json_decref(j);
    kt_log_set_format(KT_LOG_KV);
    kt_log(KT_LOG_INFO, "test.event", "huge", huge, "after", "kept", NULL);
    assert_non_null(strstr(logged, "hhh...[cut: 20000 bytes]\" after=kept"));
    const char *many[2 * 40];
    for (int i = 0; i < 40; i++) many[2 * i] = "path", many[2 * i + 1] = big + sizeof big - 200;
    many[79] = "the-last-one";
    kt_log_fields(KT_LOG_INFO, "test.event", many, 40);
    assert_non_null(strstr(logged, "path=the-last-one"));

    kt_log_set_format(KT_LOG_KV);
    kt_log_set_sink(NULL);
}

/* The protobuf wire view: fields in place, and every ambiguity or overrun refused by name. */
static void test_pb_view_in_place_and_strict(void **state)
{
    (void)state;
    kt_pb_field f[3];
    /* status 5, reason "no", response 0x01 0x02: pointers into the message */
    const uint8_t m[] = {0x08, 0x05, 0x12, 0x02, 'n', 'o', 0x1a, 0x02, 0x01, 0x02};
    assert_int_equal(kt_pb_view(m, sizeof m, "VLL", f, "CallResult"), KT_OK);
    assert_true(f[0].present && f[1].present && f[2].present);
    assert_int_equal(f[0].varint, 5);
    assert_ptr_equal(f[1].data, m + 4);
    assert_int_equal(f[1].len, 2);
    assert_ptr_equal(f[2].data, m + 8);
    /* absent fields: not present, empty */
    assert_int_equal(kt_pb_view(m + 6, 4, "VLL", f, "CallResult"), KT_OK);
    assert_false(f[0].present);
    assert_false(f[1].present);
    assert_int_equal(f[1].len, 0);
    assert_int_equal(kt_pb_view(NULL, 0, "VLL", f, "CallResult"), KT_OK);
    /* a field twice, an unknown field, a number the layout skips, another wire type */
    const uint8_t twice[] = {0x08, 0x01, 0x08, 0x02};
    assert_fails_with(kt_pb_view(twice, sizeof twice, "VLL", f, "CallResult"), KT_ERR_MALFORMED, "CallResult: field 1 given twice");
    const uint8_t unknown[] = {0x20, 0x01};
    assert_fails_with(kt_pb_view(unknown, sizeof unknown, "VLL", f, "CallResult"), KT_ERR_MALFORMED, "no field 4");
    assert_fails_with(kt_pb_view(m, sizeof m, "V-L", f, "X"), KT_ERR_MALFORMED, "no field 2");
    assert_fails_with(kt_pb_view(m, sizeof m, "LLL", f, "X"), KT_ERR_MALFORMED, "field 1 has wire type 0");
    const uint8_t zero[] = {0x00, 0x01};
    assert_fails_with(kt_pb_view(zero, sizeof zero, "VLL", f, "X"), KT_ERR_MALFORMED, "no field 0");
    /* bytes past the end, a cut varint, an eleven-byte varint */
    assert_fails_with(kt_pb_view(m, 9, "VLL", f, "X"), KT_ERR_MALFORMED, "field 3 runs past the message");
    const uint8_t cut[] = {0x08, 0x80};
    assert_fails_with(kt_pb_view(cut, sizeof cut, "VLL", f, "X"), KT_ERR_MALFORMED, "varint is cut");
    const uint8_t long_len[] = {0x12, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    assert_fails_with(kt_pb_view(long_len, sizeof long_len, "VLL", f, "X"), KT_ERR_MALFORMED, "over-long");
    const uint8_t longv[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    assert_fails_with(kt_pb_view(longv, sizeof longv, "VLL", f, "X"), KT_ERR_MALFORMED, "varint");
    const uint8_t huge_len[] = {0x12, 0xff, 0xff, 0xff, 0xff, 0x0f};
    assert_fails_with(kt_pb_view(huge_len, sizeof huge_len, "VLL", f, "X"), KT_ERR_MALFORMED, "runs past");
    /* headers: as protobuf writes them, and their length */
    uint8_t h[KT_PB_HEADER_MAX];
    assert_int_equal(kt_pb_header(h, 1, 5), 2);
    assert_int_equal(h[0], 0x0a);
    assert_int_equal(h[1], 5);
    assert_int_equal(kt_pb_header(h, 3, 300), 3);
    assert_memory_equal(h, "\x1a\xac\x02", 3);
    assert_int_equal(kt_pb_header_len(300), 3);
    assert_int_equal(kt_pb_header_len(127), 2);
    assert_int_equal(kt_pb_header_len(128), 3);
    assert_int_equal(kt_pb_header(h, 15, SIZE_MAX), KT_PB_HEADER_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_names_and_gate_range),
        cmocka_unit_test(test_fail_records_reason_with_context),
        cmocka_unit_test(test_hex_round_trip_and_errors),
        cmocka_unit_test(test_decimal_only_no_leading_zero_no_overflow),
        cmocka_unit_test(test_escape_leaves_only_printable_ascii),
        cmocka_unit_test(test_log_escapes_every_byte_from_input),
        cmocka_unit_test(test_base64_rfc4648_vectors),
        cmocka_unit_test(test_base64_alphabet_exactly),
        cmocka_unit_test(test_buffer_grows_and_frees),
        cmocka_unit_test(test_buffer_printf_takes_any_length),
        cmocka_unit_test(test_equal_and_wipe),
        cmocka_unit_test(test_atomic_write_mode_and_bounded_read),
        cmocka_unit_test(test_pb_view_in_place_and_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
