/* The settings reader (kubetee/svc.h): every type's good and bad values from the file,
 * the environment and flags, precedence, unknown and repeated names in each source, the
 * error naming its source, secrets never shown, --help and the log line from the table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <kubetee/svc.h>

#include "testutil.h"

typedef struct {
    char name[16], dir[64], mode[8], items[64], token[32], pin_env[32], tls_cert[64], extra[8];
    bool on;
    unsigned count, wait_s;
    uint64_t big, wait_ms;
} conf;

static const char *const modes[] = {"fast", "slow", "off", NULL};
#define F(m) KT_SET_FIELD(conf, m)
static const kt_setting table[] = {
    {"name", KT_SET_STRING, F(name), "svc", "a name"},
    {"dir", KT_SET_PATH, F(dir), "/var/x", "a directory", .opts = KT_SET_ABSOLUTE},
    {"on", KT_SET_BOOL, F(on), "false", "a switch"},
    {"count", KT_SET_UINT, F(count), "4", "how many", 1, 64},
    {"big", KT_SET_UINT, F(big), "0", "a large number", 0, UINT64_MAX},
    {"wait_ms", KT_SET_DURATION, F(wait_ms), "5000", "a wait", 0, 600000},
    {"wait_s", KT_SET_DURATION, F(wait_s), "10", "a wait in seconds", 1, 86400, .unit_ms = 1000},
    {"mode", KT_SET_ENUM, F(mode), "fast", "a mode", .words = modes},
    {"items", KT_SET_LIST, F(items), "a,b", "some items", 1, 3},
    {"token", KT_SET_STRING, F(token), NULL, "a secret", .env = "KT_TEST_TOKEN", .flag = "",
     .opts = KT_SET_SECRET | KT_SET_NO_FILE},
    {"pin_env", KT_SET_STRING, F(pin_env), NULL, "names a variable", .opts = KT_SET_ENV_NAME},
    {"tls.cert", KT_SET_PATH, F(tls_cert), NULL, "nested"},
    {"extra", KT_SET_STRING, F(extra), NULL, "flag only", .env = "", .opts = KT_SET_NO_FILE},
};
#undef F
static const char *const own[] = {"rules", NULL};
static const kt_settings_spec spec = {"test-svc", "usage: test-svc [options]\n",  "KT_TEST_",
                                      table,      sizeof table / sizeof table[0], own,
                                      false};

static const char *tmpfile_with(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/kt-settings-%d.yaml", (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static kt_status load(conf *c, int argc, char **argv)
{
    bool help;
    memset(c, 0x5a, sizeof *c);
    kt_status st = kt_settings_load(&spec, c, argc, argv, &help, NULL);
    assert_false(help);
    return st;
}

static kt_status parse(conf *c, const char *yaml)
{
    return kt_settings_parse(&spec, c, yaml, strlen(yaml), "t.yaml", NULL);
}

static void test_defaults(void **state)
{
    (void)state;
    conf c;
    assert_int_equal(load(&c, 0, NULL), KT_OK);
    assert_string_equal(c.name, "svc");
    assert_string_equal(c.dir, "/var/x");
    assert_false(c.on);
    assert_int_equal(c.count, 4);
    assert_int_equal(c.big, 0);
    assert_int_equal(c.wait_ms, 5000);
    assert_int_equal(c.wait_s, 10);
    assert_string_equal(c.mode, "fast");
    assert_string_equal(c.items, "a,b");
    assert_string_equal(c.token, "");
    assert_string_equal(c.tls_cert, "");
}

static void test_file_good(void **state)
{
    (void)state;
    conf c;
    assert_int_equal(
        parse(&c, "name: \"x y\"\ndir: /d\non: true\ncount: 64\nbig: 18446744073709551615\n"
                  "wait_ms: 2s\nwait_s: 2m\nmode: off\nitems: [p, q, r]\n"
                  "tls:\n  cert: c.pem\nrules: {anything: [1]}\n"),
        KT_OK);
    assert_string_equal(c.name, "x y");
    assert_true(c.on);
    assert_int_equal(c.count, 64);
    assert_true(c.big == UINT64_MAX);
    assert_int_equal(c.wait_ms, 2000);
    assert_int_equal(c.wait_s, 120);
    assert_string_equal(c.mode, "off");
    assert_string_equal(c.items, "p,q,r");
    assert_string_equal(c.tls_cert, "c.pem");
    assert_int_equal(parse(&c, "items: x,y\nwait_s: 1h\nwait_ms: 250ms\ncount: \"7\"\n"), KT_OK);
    assert_string_equal(c.items, "x,y");
    assert_int_equal(c.wait_s, 3600);
    assert_int_equal(c.wait_ms, 250);
    assert_int_equal(c.count, 7);
}

/* Each bad value refused naming the file and line, the setting and (escaped) the value. */
static void test_file_bad(void **state)
{
    (void)state;
    conf c;
    static const struct {
        const char *yaml, *want;
    } bad[] = {
        {"count: 0x10\n", "t.yaml:1: count must be a decimal number 1..64, not '0x10'"},
        {"count: 010\n", "count must be a decimal number 1..64, not '010'"},
        {"count: +5\n", "not '+5'"},
        {"count: -1\n", "not '-1'"},
        {"count: 5x\n", "not '5x'"},
        {"count: 65\n", "count must be 1..64, not '65'"},
        {"count: 0\n", "count must be 1..64, not '0'"},
        {"count: \"\"\n", "count must be a decimal number"},
        {"big: 18446744073709551616\n", "big must be a decimal number"},
        {"count: [1]\n", "t.yaml:1: count is not a plain value"},
        {"name: {a: 1}\n", "name is not a plain value"},
        {"on: yes\n", "on must be true or false, not 'yes'"},
        {"on: 1\n", "on must be true or false"},
        {"wait_ms: 600001\n", "wait_ms must be 0..600000 ms, not '600001'"},
        {"wait_ms: 5 s\n", "wait_ms must be a duration 0..600000 ms (a decimal number, or with ms, "
                           "s, m or h), not '5 s'"},
        {"wait_ms: 5sec\n", "not '5sec'"},
        {"wait_ms: s\n", "not 's'"},
        {"wait_s: 1500ms\n", "wait_s must be a whole number of s"},
        {"wait_s: 0\n", "1..86400 s"},
        {"wait_s: 25h\n", "not '25h'"},
        {"mode: Fast\n", "mode must be fast, slow or off, not 'Fast'"},
        {"items: a,a\n", "must name each item once"},
        {"items: a,,b\n", "none empty"},
        {"items: 'a, b'\n", "none empty or padded"},
        {"items: [a, b, c, d]\n", "must be 1 to 3 items"},
        {"items: []\n", "must be 1 to 3 items"},
        {"items: [a, 'b,c']\n", "without commas"},
        {"items: [a, [b]]\n", "plain value"},
        {"dir: relative/x\n", "dir must be an absolute path"},
        {"name: \"a\\x01b\"\n", "not 'a\\x01b'"},
        {"name: \"a\\tb\"\n", "no control bytes"},
        {"name: 0123456789abcdef\n", "name is over 15 bytes"},
        {"name: ~\n", "name is null"},
        {"name: null\n", "name is null"},
        {"colour: blue\n", "t.yaml: unknown key 'colour' in the document (line 1)"},
        {"name: a\nname: b\n", "appears twice"},
        {"tls:\n  cert: a\n  kye: b\n", "unknown key 'kye' in tls (line 3)"},
        {"tls: a.pem\n", "tls must be a mapping"},
        {"tls.cert: a.pem\n", "unknown key 'tls.cert'"},
        {"token: t\n", "unknown key 'token'"},
        {"extra: t\n", "unknown key 'extra'"},
        {"name: x\nrules:\n  tls: 1\n  name: y\n\"col\\tour\": 1\n",
         "unknown key 'col\\x09our' in the document (line 5)"},
        {"- a\n- b\n", "the document must be a mapping"},
        {"", "t.yaml: YAML: empty document"},
        {"# only a comment\n", "empty document"},
        {"name: &a x\nmode: *a\n", "t.yaml"},
        {"name: [\n", "t.yaml"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kt_status st = parse(&c, bad[i].yaml);
        if (st == KT_OK || !strstr(kt_last_error(), bad[i].want))
            fail_msg("%zu '%s': want '%s', got %s: %s", i, bad[i].yaml, bad[i].want,
                     kt_status_name(st), kt_last_error());
    }
}

static void test_precedence(void **state)
{
    (void)state;
    conf c;
    const char *file = tmpfile_with("name: file\ncount: 2\nmode: slow\nitems: [f]\n");
    char *argv[] = {"--config", (char *)file, "--count=9", "--mode", "off"};
    setenv("KT_TEST_COUNT", "5", 1);
    setenv("KT_TEST_NAME", "env", 1);
    setenv("KT_TEST_MODE", "fast", 1);
    assert_int_equal(load(&c, 5, argv), KT_OK);
    assert_string_equal(c.name, "env"); /* env over file */
    assert_int_equal(c.count, 9);       /* flag over env over file */
    assert_string_equal(c.mode, "off"); /* flag over env */
    assert_string_equal(c.items, "f");  /* file over default */
    assert_int_equal(c.wait_ms, 5000);  /* default */
    unsetenv("KT_TEST_COUNT");
    unsetenv("KT_TEST_NAME");
    unsetenv("KT_TEST_MODE");
    /* the file from the environment; --config over it */
    setenv("KT_TEST_CONFIG", file, 1);
    assert_int_equal(load(&c, 0, NULL), KT_OK);
    assert_string_equal(c.name, "file");
    char *other[] = {"--config=/nonexistent/kt-settings.yaml"};
    assert_fails_with(load(&c, 1, other), KT_ERR_NOT_FOUND, "/nonexistent/kt-settings.yaml");
    unsetenv("KT_TEST_CONFIG");
    /* a nested setting by its flag and variable */
    char *tls[] = {"--tls-cert", "f.pem"};
    assert_int_equal(load(&c, 2, tls), KT_OK);
    assert_string_equal(c.tls_cert, "f.pem");
    setenv("KT_TEST_TLS_CERT", "e.pem", 1);
    assert_int_equal(load(&c, 0, NULL), KT_OK);
    assert_string_equal(c.tls_cert, "e.pem");
    unsetenv("KT_TEST_TLS_CERT");
    remove(file);
}

static void test_flags_bad(void **state)
{
    (void)state;
    conf c;
    char *unknown[] = {"--colour", "x"}, *twice[] = {"--count", "2", "--count=3"},
         *missing[] = {"--count"}, *eaten[] = {"--name", "--count", "2"}, *stray[] = {"serve"},
         *underscore[] = {"--wait-ms=1", "--wait_ms=2"}, *token[] = {"--token", "t"},
         *bad[] = {"--count", "1e3"}, *config[] = {"--config"};
    assert_fails_with(load(&c, 2, unknown), KT_ERR_INVALID_ARGUMENT, "unknown option '--colour'");
    assert_fails_with(load(&c, 3, twice), KT_ERR_INVALID_ARGUMENT, "option '--count' given twice");
    assert_fails_with(load(&c, 1, missing), KT_ERR_INVALID_ARGUMENT,
                      "option '--count' needs a value");
    assert_fails_with(load(&c, 3, eaten), KT_ERR_INVALID_ARGUMENT, "option '--name' needs a value");
    assert_fails_with(load(&c, 1, stray), KT_ERR_INVALID_ARGUMENT, "unexpected argument 'serve'");
    assert_fails_with(load(&c, 2, underscore), KT_ERR_INVALID_ARGUMENT,
                      "unknown option '--wait_ms'");
    assert_fails_with(load(&c, 2, token), KT_ERR_INVALID_ARGUMENT, "unknown option '--token'");
    assert_fails_with(load(&c, 2, bad), KT_ERR_MALFORMED,
                      "--count: count must be a decimal number 1..64, not '1e3'");
    assert_fails_with(load(&c, 1, config), KT_ERR_INVALID_ARGUMENT,
                      "option '--config' needs a value");
    char *extra[] = {"--extra", "x"};
    assert_int_equal(load(&c, 2, extra), KT_OK);
    assert_string_equal(c.extra, "x");
}

/* A variable with the service's prefix that no setting has is a typo, refused; others
 * (KUBETEE_*, another service's prefix) are not the service's to judge. */
static void test_env(void **state)
{
    (void)state;
    conf c;
    setenv("KT_TEST_COUNT", "0x3", 1);
    assert_fails_with(load(&c, 0, NULL), KT_ERR_MALFORMED,
                      "KT_TEST_COUNT: count must be a decimal number");
    unsetenv("KT_TEST_COUNT");
    setenv("KT_TEST_CUONT", "3", 1);
    assert_fails_with(load(&c, 0, NULL), KT_ERR_MALFORMED,
                      "unknown environment variable KT_TEST_CUONT");
    unsetenv("KT_TEST_CUONT");
    setenv("KT_TEST_EXTRA", "3", 1); /* a flag-only setting has no variable */
    assert_fails_with(load(&c, 0, NULL), KT_ERR_MALFORMED,
                      "unknown environment variable KT_TEST_EXTRA");
    unsetenv("KT_TEST_EXTRA");
    setenv("KT_TEST_\x01\n", "3", 1);
    assert_fails_with(load(&c, 0, NULL), KT_ERR_MALFORMED, "KT_TEST_\\x01\\x0a");
    unsetenv("KT_TEST_\x01\n");
    setenv("KUBETEE_TEST_COUNT", "x", 1);
    setenv("KT_TESTS_COUNT", "x", 1);
    assert_int_equal(load(&c, 0, NULL), KT_OK);
    unsetenv("KUBETEE_TEST_COUNT");
    unsetenv("KT_TESTS_COUNT");
    /* the variable a setting names (a PIN's) is the service's own */
    setenv("KT_TEST_PIN", "1234", 1);
    assert_fails_with(load(&c, 0, NULL), KT_ERR_MALFORMED,
                      "unknown environment variable KT_TEST_PIN");
    char *pin[] = {"--pin-env", "KT_TEST_PIN"};
    assert_int_equal(load(&c, 2, pin), KT_OK);
    unsetenv("KT_TEST_PIN");
}

static const char *captured;
static char log_line[4096];
static void sink(kt_log_level level, const char *line)
{
    (void)level;
    snprintf(log_line, sizeof log_line, "%s", line);
    captured = log_line;
}

/* A secret's value is in no error, usage or log line. */
static void test_secret(void **state)
{
    (void)state;
    conf c;
    setenv("KT_TEST_TOKEN", "hunter2\x01", 1);
    assert_fails_with(load(&c, 0, NULL), KT_ERR_MALFORMED, "KT_TEST_TOKEN: token must be one line");
    assert_null(strstr(kt_last_error(), "hunter2"));
    setenv("KT_TEST_TOKEN", "hunter2-hunter2-hunter2-hunter2-hunter2", 1);
    assert_fails_with(load(&c, 0, NULL), KT_ERR_TOO_LARGE, "KT_TEST_TOKEN: token is over 31 bytes");
    assert_null(strstr(kt_last_error(), "hunter2"));
    setenv("KT_TEST_TOKEN", "hunter2", 1);
    assert_int_equal(load(&c, 0, NULL), KT_OK);
    assert_string_equal(c.token, "hunter2");
    kt_log_set_sink(sink);
    kt_settings_log(&spec, &c, "test.settings");
    kt_log_set_sink(NULL);
    assert_non_null(captured);
    assert_null(strstr(log_line, "hunter2"));
    assert_non_null(strstr(log_line, "token=(set)"));
    assert_non_null(strstr(log_line, "event=test.settings name=svc dir=/var/x on=false count=4"));
    assert_non_null(strstr(log_line, "wait_ms=5000ms wait_s=10s mode=fast items=a,b"));
    unsetenv("KT_TEST_TOKEN");
}

static void test_usage(void **state)
{
    (void)state;
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    kt_settings_usage(&spec, f);
    fclose(f);
    const char *want[] = {"usage: test-svc [options]",
                          "--count, KT_TEST_COUNT, count:",
                          "1..64; default 4",
                          "--tls-cert, KT_TEST_TLS_CERT, tls.cert:",
                          "  KT_TEST_TOKEN\n",
                          "text, secret",
                          "fast|slow|off; default fast",
                          "1..86400 s",
                          "--extra\n",
                          "A flag wins over\nthe environment, which wins over the file"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(text, want[i])) fail_msg("usage lacks '%s':\n%s", want[i], text);
    free(text);
    conf c;
    bool help;
    char *argv[] = {"--bogus-is-not-reached"};
    char *h[] = {"-h"};
    assert_int_equal(kt_settings_load(&spec, &c, 1, h, &help, NULL), KT_OK);
    assert_true(help);
    assert_int_not_equal(kt_settings_load(&spec, &c, 1, argv, &help, NULL), KT_OK);
}

/* A service that reads sections of its own gets the document; one that needs a file
 * says so; a required setting left empty is named with its three names. */
static void test_sections_required(void **state)
{
    (void)state;
    conf c;
    kt_y *doc = NULL;
    const char *yaml = "rules:\n  r1: [a]\nname: n\n";
    assert_int_equal(kt_settings_parse(&spec, &c, yaml, strlen(yaml), "t.yaml", &doc), KT_OK);
    assert_non_null(kt_yaml_get(doc, "rules"));
    kt_yaml_free(doc);
    kt_settings_spec need = spec;
    need.config_required = true;
    bool help;
    assert_fails_with(kt_settings_load(&need, &c, 0, NULL, &help, &doc), KT_ERR_INVALID_ARGUMENT,
                      "--config (or KT_TEST_CONFIG) is required");
    kt_setting rows[2] = {table[0], table[11]};
    rows[1].opts |= KT_SET_REQUIRED;
    need.table = rows;
    need.count = 2;
    need.config_required = false;
    assert_fails_with(
        kt_settings_load(&need, &c, 0, NULL, &help, NULL), KT_ERR_MALFORMED,
        "tls.cert is required (tls.cert in the file, KT_TEST_TLS_CERT or --tls-cert)");
    /* a bad table is the program's error, not the input's */
    rows[1].size = 0;
    assert_fails_with(kt_settings_load(&need, &c, 0, NULL, &help, NULL), KT_ERR_INVALID_ARGUMENT,
                      "settings table");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_file_good),
        cmocka_unit_test(test_file_bad),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_flags_bad),
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_secret),
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_sections_required),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
