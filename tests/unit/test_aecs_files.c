/* The AECS users' files: the original's SecretPolicy and admin kubeconfig samples
 * (tests/data/aecs), kubetee's forms beside them, and every refusal with its message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <kubetee/aecs_files.h>

#include "testutil.h"

#define DATA KT_TEST_SOURCE_DIR "/tests/data/aecs/"
#define MRSIGNER "83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e"

/* A verdict of a verified, up-to-date SGX enclave with these measurements. */
static void sgx_verdict(kt_verdict *v, const char *mrenclave_hex, const char *mrsigner_hex,
                        uint16_t prodid, uint16_t svn, bool debug)
{
    memset(v, 0, sizeof *v);
    v->ok = true;
    v->tcb_status = KT_TCB_UP_TO_DATE;
    v->quote.tee = KT_TEE_SGX;
    unhex(mrenclave_hex, v->quote.sgx.mrenclave);
    unhex(mrsigner_hex, v->quote.sgx.mrsigner);
    v->quote.sgx.prodid = prodid;
    v->quote.sgx.svn = svn;
    if (debug) v->quote.sgx.attr_flags |= 2;
}

static void test_secret_sample_reads_every_field(void **state)
{
    (void)state;
    kt_aecs_secret_file f;
    if (kt_aecs_secret_file_load(DATA "secrets.yaml", &f)) fail_msg("%s", kt_last_error());
    assert_int_equal(f.count, 6);
    const kt_aecs_secret_spec *s = f.secrets;

    /* 1: imported data, readonly "true" (a string), one rule pinning MRSIGNER + prodID */
    assert_string_equal(s[0].name, "secret-my-password");
    assert_string_equal(s[0].service, "service1");
    assert_int_equal(s[0].type, KT_AECS_IMPORT_DATA);
    assert_true(s[0].readonly);
    assert_false(s[0].share_public);
    assert_int_equal(s[0].binding, KT_AECS_BOUND);
    assert_int_equal(s[0].data.len, strlen("password-test"));
    assert_memory_equal(s[0].data.data, "password-test", s[0].data.len);
    size_t n;
    const kt_policy_rule *r = kt_policy_rules(s[0].policy, &n);
    assert_int_equal(n, 1);
    assert_true(r[0].has_mrsigner && !r[0].has_mrenclave && r[0].has_prodid && r[0].has_min_svn);
    assert_int_equal(r[0].prodid, 1);
    assert_false(r[0].allow_debug); /* debug_disabled: "true" */
    uint8_t mrs[32];
    unhex(MRSIGNER, mrs);
    assert_memory_equal(r[0].mrsigner, mrs, 32);
    /* the policy admits that signer's product 1, not product 2, not a debug build */
    kt_verdict v;
    sgx_verdict(&v, "00000000000000000000000000000000000000000000000000000000000000aa", MRSIGNER, 1,
                0, false);
    assert_int_equal(kt_policy_check(s[0].policy, &v), KT_OK);
    v.quote.sgx.prodid = 2;
    assert_fails_with(kt_policy_check(s[0].policy, &v), KT_ERR_DENIED, "ISVPRODID differs");
    sgx_verdict(&v, "00000000000000000000000000000000000000000000000000000000000000aa", MRSIGNER, 1,
                0, true);
    assert_fails_with(kt_policy_check(s[0].policy, &v), KT_ERR_DENIED, "debug enclave");

    /* the rules as plain fields rebuild the same policy (AECS carries them in messages) */
    kt_policy *again = NULL;
    assert_int_equal(kt_policy_from_rules(r, n, false, &again), KT_OK);
    v.quote.sgx.attr_flags = 0;
    assert_int_equal(kt_policy_check(again, &v), KT_OK);
    v.quote.sgx.mrsigner[0] ^= 1;
    assert_fails_with(kt_policy_check(again, &v), KT_ERR_DENIED, "MRSIGNER differs");
    v.quote.sgx.mrsigner[0] ^= 1;
    v.simulated = true;
    assert_fails_with(kt_policy_check(again, &v), KT_ERR_DENIED, "does not allow simulation");
    kt_policy_free(again);
    assert_int_equal(kt_policy_from_rules(r, 0, false, &again), KT_ERR_INVALID_ARGUMENT);

    /* 2: AES, readonly false (a boolean), two rules, the second allowing debug */
    assert_int_equal(s[1].type, KT_AECS_AES256_KEY);
    assert_false(s[1].readonly);
    assert_int_equal(s[1].bit_length, 256);
    assert_int_equal(s[1].data.len, 0);
    r = kt_policy_rules(s[1].policy, &n);
    assert_int_equal(n, 2);
    assert_false(r[0].allow_debug);
    assert_true(r[1].allow_debug); /* debug_disabled: "false" */

    /* 3: RSA with params, readonly true, share public, never-export */
    assert_int_equal(s[2].type, KT_AECS_RSA_KEY_PAIR);
    assert_true(s[2].readonly && s[2].share_public);
    assert_int_equal(s[2].bit_length, 4096);
    assert_int_equal(s[2].pkcs, KT_AECS_PKCS1);
    assert_int_equal(s[2].binding, KT_AECS_NEVER_EXPORT);
    assert_string_equal(kt_aecs_binding_name(s[2].binding), "never-export");

    /* 4: SM2, unbound: no enclave, no policy */
    assert_int_equal(s[3].type, KT_AECS_SM2_KEY_PAIR);
    assert_string_equal(s[3].service, "service2");
    assert_int_equal(s[3].binding, KT_AECS_UNBOUND);
    assert_true(s[3].no_one);
    assert_null(s[3].policy);

    /* 5: a certificate with days and subject, an empty rule list: no one, and said so */
    assert_int_equal(s[4].type, KT_AECS_CERTIFICATE);
    assert_int_equal(s[4].days, 90);
    assert_string_equal(s[4].subject, "CN=tee.example,O=kubetee");
    assert_true(s[4].no_one);
    assert_null(s[4].policy);
    assert_int_equal(s[4].binding, KT_AECS_BOUND);

    /* 6: configurations with an opted-in identity-free rule; simulation allowed */
    assert_int_equal(s[5].type, KT_AECS_CONFIGURATIONS);
    assert_true(s[5].any_identity);
    assert_true(kt_policy_allows_simulation(s[5].policy));
    r = kt_policy_rules(s[5].policy, &n);
    assert_int_equal(n, 1);
    assert_false(r[0].has_mrenclave || r[0].has_mrsigner);
    assert_int_equal(r[0].min_svn, 3);
    /* key=value lines, kept as the original's JSON */
    assert_string_equal((const char *)s[5].data.data,
                        "{\"items\":[{\"key\":\"db_host\",\"value\":\"10.0.0.1\"},{\"key\":\"log_level\",\"value\":\"info\"}]}");
    /* the defaults of the others */
    assert_false(kt_policy_allows_simulation(s[0].policy));

    /* notes: the spid kept only for compatibility, and who may read secret 5 */
    const char *notes = (const char *)f.notes.data;
    assert_non_null(strstr(notes,
                           "line 31: secret 2 'secret-my-aes256-key' (line 22): rule 1: spid is "
                           "ignored: it is for EPID attestation"));
    assert_non_null(strstr(notes,
                           "line 67: secret 5 'secret-my-cert' (line 57): enclaveMatchAnyRules is "
                           "empty: no enclave may read this secret"));
    assert_null(strstr(notes, "secret 1")); /* spid: "" is not an spid */
    assert_string_equal(kt_aecs_secret_type_name(s[4].type), "SECRET_TYPE_CERTIFICATE");
    kt_aecs_secret_file_free(&f);
    assert_int_equal(f.count, 0);
}

/* The original's own sample: its rules, every field "", would admit any enclave. */
static void test_original_sample_with_empty_rules_is_refused(void **state)
{
    (void)state;
    kt_aecs_secret_file f;
    assert_fails_with(kt_aecs_secret_file_load(DATA "secrets-original.yaml", &f), KT_ERR_MALFORMED,
                      "secret 1 'secret-my-password' (line 7): policy: rule 1 pins no identity: it "
                      "constrains neither mrenclave nor mrsigner (nor mrtd), so it would admit "
                      "any enclave; give one, or set policy.allowAnyEnclave: true to admit any "
                      "enclave on purpose (line 15)");
    assert_int_equal(f.count, 0);
    assert_null(f.secrets);
}

/* A small valid document with one spec whose lines the cases below replace. */
static kt_status parse_with(const char *spec_lines, const char *data_line, kt_aecs_secret_file *f)
{
    char doc[4096];
    snprintf(doc, sizeof doc, "apiVersion: v1\nkind: SecretPolicy\nsecrets:\n- spec:\n%s%s",
             spec_lines, data_line ? data_line : "");
    return kt_aecs_secret_file_parse(doc, strlen(doc), f);
}

#define RULE "    policy:\n      enclaveMatchAnyRules:\n      - mrsigner: " MRSIGNER "\n"
#define BASE "    name: k\n    type: SECRET_TYPE_AES256_KEY\n    service: s1\n"
#define CERT "    name: k\n    type: SECRET_TYPE_CERTIFICATE\n    service: s1\n    params:\n"
#define CONF "    name: k\n    type: SECRET_TYPE_CONFIGURATIONS\n    service: s1\n"
#define NEVER "    policy:\n      type: never-export\n      enclaveMatchAnyRules:\n      - mrsigner: " MRSIGNER "\n"

typedef struct {
    const char *spec, *data;
    kt_status st;
    const char *why;
} bad_case;

static void test_secret_refusals_name_what_is_wrong(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {BASE "    colour: red\n" RULE, NULL, KT_ERR_MALFORMED,
         "secret 1 (line 4): unknown key 'colour' (line 8)"},
        {BASE "    readonly: yes\n" RULE, NULL, KT_ERR_MALFORMED,
         "secret 1 'k' (line 4): readonly 'yes' is not true or false (line 8)"},
        {BASE "    readonly: \"TRUE\"\n" RULE, NULL, KT_ERR_MALFORMED, "readonly 'TRUE'"},
        {BASE "    share: everyone\n" RULE, NULL, KT_ERR_MALFORMED,
         "share 'everyone' is not public or private (line 8)"},
        {BASE "    share: public\n" RULE, NULL, KT_ERR_MALFORMED,
         "a SECRET_TYPE_AES256_KEY has no public part"},
        {"    name: k\n    type: SECRET_TYPE_DES_KEY\n    service: s1\n" RULE, NULL,
         KT_ERR_MALFORMED, "type 'SECRET_TYPE_DES_KEY' is not one of"},
        {"    name: k\n    service: s1\n" RULE, NULL, KT_ERR_MALFORMED, "spec has no type"},
        {"    type: SECRET_TYPE_AES256_KEY\n    service: s1\n" RULE, NULL, KT_ERR_MALFORMED,
         "secret 1 (line 4): spec has no name"},
        {"    name: k\n    type: SECRET_TYPE_AES256_KEY\n" RULE, NULL, KT_ERR_MALFORMED,
         "spec has no service"},
        {BASE, NULL, KT_ERR_MALFORMED, "spec has no policy: say which enclaves may read it"},
        {"    name: ../etc\n    type: SECRET_TYPE_AES256_KEY\n    service: s1\n" RULE, NULL,
         KT_ERR_MALFORMED, "name '../etc' (line 5): secret name must begin with a letter or digit"},
        {"    name: a/b\n    type: SECRET_TYPE_AES256_KEY\n    service: s1\n" RULE, NULL,
         KT_ERR_MALFORMED,
         "may hold only letters, digits, '.', '_' and '-' (byte 0x2f at offset 1)"},
        {"    name: \"a\\tb\"\n    type: SECRET_TYPE_AES256_KEY\n    service: s1\n" RULE, NULL,
         KT_ERR_MALFORMED, "name 'a\\x09b'"},
        {"    name: k\n    type: SECRET_TYPE_AES256_KEY\n    service: \"svc with space\"\n" RULE,
         NULL, KT_ERR_MALFORMED, "service name may hold only"},
        {"    name: k\n    type: SECRET_TYPE_AES256_KEY\n    service: "
         "s123456789012345678901234567890123\n" RULE,
         NULL, KT_ERR_MALFORMED, "service name is 34 bytes, at most 32"},
        {BASE "    params:\n    - key: bit_length\n      value: 128\n" RULE, NULL, KT_ERR_MALFORMED,
         "param bit_length 128 is not one of 256 (line 10)"},
        {BASE "    params:\n    - key: days\n      value: 30\n" RULE, NULL, KT_ERR_MALFORMED,
         "param days does not apply to SECRET_TYPE_AES256_KEY (line 9)"},
        {BASE "    params:\n    - key: colour\n      value: red\n" RULE, NULL, KT_ERR_MALFORMED,
         "unknown param 'colour'"},
        {BASE "    params:\n    - {key: bit_length}\n" RULE, NULL, KT_ERR_MALFORMED,
         "param 1: needs both key and value"},
        {BASE "    params:\n    - {key: bit_length, value: 256, unit: bits}\n" RULE, NULL,
         KT_ERR_MALFORMED, "param 1: unknown key 'unit'"},
        {BASE "    params:\n    - {key: bit_length, value: 256}\n    - {key: bit_length, value: "
              "256}\n" RULE,
         NULL, KT_ERR_MALFORMED, "param 'bit_length' is given twice (lines 9 and 10)"},
        {"    name: k\n    type: SECRET_TYPE_RSA_KEY_PAIR\n    service: s1\n    params:\n"
         "    - {key: bit_length, value: 1024}\n" RULE,
         NULL, KT_ERR_MALFORMED, "param bit_length 1024 is not one of 2048, 3072, 4096"},
        {"    name: k\n    type: SECRET_TYPE_RSA_KEY_PAIR\n    service: s1\n    params:\n"
         "    - {key: bit_length, value: \"02048\"}\n" RULE,
         NULL, KT_ERR_MALFORMED, "param bit_length '02048'"},
        {"    name: k\n    type: SECRET_TYPE_RSA_KEY_PAIR\n    service: s1\n    params:\n"
         "    - {key: pkcs_type, value: pkcs12}\n" RULE,
         NULL, KT_ERR_MALFORMED, "pkcs_type 'pkcs12' is not pkcs1 or pkcs8"},
        {"    name: k\n    type: SECRET_TYPE_CERTIFICATE\n    service: s1\n    params:\n"
         "    - {key: days, value: 0}\n" RULE,
         NULL, KT_ERR_MALFORMED, "param days 0 is outside 1..3650"},
        {"    name: k\n    type: SECRET_TYPE_CERTIFICATE\n    service: s1\n    params:\n"
         "    - {key: days, value: 4000}\n" RULE,
         NULL, KT_ERR_MALFORMED, "param days 4000 is outside 1..3650"},
        {"    name: k\n    type: SECRET_TYPE_CERTIFICATE\n    service: s1\n    params:\n"
         "    - {key: subject, value: \"CN=\\u00e9\"}\n" RULE,
         NULL, KT_ERR_MALFORMED, "param subject 'CN=\\xc3\\xa9' must be printable ASCII"},
        {BASE "    params: {bit_length: 256}\n" RULE, NULL, KT_ERR_MALFORMED,
         "params must be a list of {key, value}"},
        {BASE RULE, "  data: abc\n", KT_ERR_MALFORMED,
         "data is for SECRET_TYPE_IMPORT_DATA and SECRET_TYPE_CONFIGURATIONS"},
        {"    name: k\n    type: SECRET_TYPE_IMPORT_DATA\n    service: s1\n" RULE, NULL,
         KT_ERR_MALFORMED, "SECRET_TYPE_IMPORT_DATA needs data"},
        {"    name: k\n    type: SECRET_TYPE_IMPORT_DATA\n    service: s1\n" RULE, "  data: \"\"\n",
         KT_ERR_MALFORMED, "data is empty"},
        {"    name: k\n    type: SECRET_TYPE_IMPORT_DATA\n    service: s1\n" RULE,
         "  data: [a, b]\n", KT_ERR_MALFORMED, "data must be a single value"},
        {BASE RULE, "  extra: 1\n", KT_ERR_MALFORMED, "secret 1 (line 4): unknown key 'extra'"},
        {BASE
         "    policy:\n      enclaveMatchAnyRules:\n      - {mrenclave: \"\", mrsigner: \"\"}\n",
         NULL, KT_ERR_MALFORMED, "constrains neither mrenclave nor mrsigner"},
        {BASE "    policy:\n      allowAnyEnclave: \"yes\"\n      enclaveMatchAnyRules:\n"
              "      - {minIsvSvn: 1}\n",
         NULL, KT_ERR_MALFORMED, "allowAnyEnclave 'yes' is not true or false"},
        {BASE "    policy:\n      allowAnyEnclave: false\n      enclaveMatchAnyRules:\n"
              "      - {minIsvSvn: 1}\n",
         NULL, KT_ERR_MALFORMED, "constrains neither mrenclave nor mrsigner"},
        {BASE "    policy:\n      enclaveMatchAnyRules:\n      - {mrsigner: " MRSIGNER
              ", colour: red}\n",
         NULL, KT_ERR_MALFORMED, "policy: rule 1: unknown key 'colour' (line 10)"},
        {BASE "    policy:\n      enclaveMatchAnyRules:\n      - {mrsigner: 83d7}\n", NULL,
         KT_ERR_MALFORMED, "mrsigner must be 32 bytes of hex"},
        {BASE "    policy:\n      enclaveMatchAnyRules:\n      - {mrsigner: " MRSIGNER
              ", minIsvSvn: \"010\"}\n",
         NULL, KT_ERR_MALFORMED, "minIsvSvn '010'"},
        {BASE "    policy:\n      enclaveMatchAnyRules:\n      - {mrsigner: " MRSIGNER
              ", prodID: 1, isvprodid: 1}\n",
         NULL, KT_ERR_MALFORMED, "isvprodid and prodID are one setting"},
        {BASE "    policy:\n      enclaveMatchAnyRules: \"\"\n", NULL, KT_ERR_MALFORMED,
         "enclaveMatchAnyRules must be a non-empty list"},
        {BASE "    policy:\n      type: bound\n", NULL, KT_ERR_MALFORMED,
         "no enclaveMatchAnyRules"},
        {BASE
         "    policy:\n      kind: Policy\n      enclaveMatchAnyRules:\n      - mrsigner: " MRSIGNER
         "\n",
         NULL, KT_ERR_MALFORMED, "policy: unknown key 'kind'"},
        {BASE "    policy:\n      type: sealed\n", NULL, KT_ERR_MALFORMED,
         "type 'sealed' is not bound, unbound or never-export"},
        {"    name: k\n    type: SECRET_TYPE_IMPORT_DATA\n    service: s1\n    policy:\n"
         "      type: never-export\n      enclaveMatchAnyRules:\n      - mrsigner: " MRSIGNER "\n",
         "  data: x\n", KT_ERR_MALFORMED, "type never-export is for keys"},
        {BASE "    policy:\n      type: unbound\n      enclaveMatchAnyRules:\n      - "
              "mrsigner: " MRSIGNER "\n",
         NULL, KT_ERR_MALFORMED,
         "type unbound admits no enclave, so it takes no enclaveMatchAnyRules"},
        {BASE "    policy:\n      enclaveMatchAnyRules: []\n      allow_simulation: true\n", NULL,
         KT_ERR_MALFORMED,
         "enclaveMatchAnyRules is empty (no enclave is admitted), so "
         "allow_simulation means nothing"},
        {BASE "    name: k2\n" RULE, NULL, KT_ERR_MALFORMED, "key 'name' appears twice"},
        /* the kinds beyond the original's */
        {CERT "    - {key: san, value: \"DNS:a.example,dirName:x\"}\n" RULE, NULL, KT_ERR_MALFORMED,
         "param san (line 9): san name 2 'dirName:x' is not a host name"},
        {CERT "    - {key: san, value: \"IP:10.0.0.300\"}\n" RULE, NULL, KT_ERR_MALFORMED,
         "san name 1 'IP:10.0.0.300' is not an IPv4 or IPv6 address"},
        {CERT "    - {key: san, value: \"a.example,\"}\n" RULE, NULL, KT_ERR_MALFORMED,
         "san ends with a comma"},
        {CERT "    - {key: issuer, value: aecs-root}\n" RULE, NULL, KT_ERR_MALFORMED,
         "param issuer 'aecs-root' is not self-signed or service-ca"},
        {BASE "    params:\n    - {key: san, value: a.example}\n" RULE, NULL, KT_ERR_MALFORMED,
         "param san does not apply to SECRET_TYPE_AES256_KEY"},
        {"    name: k\n    type: SECRET_TYPE_EC_P256_KEY_PAIR\n    service: s1\n    params:\n"
         "    - {key: pkcs_type, value: pkcs1}\n" RULE,
         NULL, KT_ERR_MALFORMED, "a P-256 key is pkcs8"},
        {"    name: k\n    type: SECRET_TYPE_RSA_KEY_PAIR\n    service: s1\n    params:\n"
         "    - {key: padding, value: pss}\n" RULE,
         NULL, KT_ERR_MALFORMED, "param padding is for never-export keys"},
        {"    name: k\n    type: SECRET_TYPE_RSA_KEY_PAIR\n    service: s1\n    params:\n"
         "    - {key: padding, value: oaep}\n" NEVER,
         NULL, KT_ERR_MALFORMED, "param padding 'oaep' is not pss or pkcs1"},
        {BASE "    params:\n    - {key: wrap, value: ecb}\n" NEVER, NULL, KT_ERR_MALFORMED,
         "param wrap 'ecb' is not kwp or gcm"},
        {CONF "    params:\n    - {key: \"a b\", value: x}\n" RULE, NULL, KT_ERR_MALFORMED,
         "configuration key 'a b': byte 1 is not allowed"},
        {CONF "    params:\n    - {key: a, value: x}\n" RULE, "  data: \"b=1\"\n", KT_ERR_MALFORMED,
         "configurations come from params or from data, not both"},
        {CONF RULE, NULL, KT_ERR_MALFORMED, "needs its key-value pairs, as params or as data"},
        {CONF RULE, "  data: \"a=1\\na=2\"\n", KT_ERR_MALFORMED,
         "configurations: line 2: configuration key a is given twice"},
        {CONF RULE, "  data: \"just words\"\n", KT_ERR_MALFORMED, "line 1 is not key=value"},
        {CONF RULE, "  data: '{\"items\":[{\"key\":\"a\",\"value\":1}]}'\n", KT_ERR_MALFORMED,
         "item 1: value must be a string"},
        {CONF RULE, "  data: '{\"items\":[],\"extra\":1}'\n", KT_ERR_MALFORMED, "unknown key"},
        {CONF "    share: public\n" RULE, "  data: \"a=1\"\n", KT_ERR_MALFORMED,
         "a SECRET_TYPE_CONFIGURATIONS has no public part"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kt_aecs_secret_file f;
        kt_status st = parse_with(cases[i].spec, cases[i].data, &f);
        if (st != cases[i].st || !strstr(kt_last_error(), cases[i].why))
            fail_msg("case %zu: expected %s with '%s', got %s: %s", i, kt_status_name(cases[i].st),
                     cases[i].why, kt_status_name(st), kt_last_error());
        assert_int_equal(f.count, 0);
    }
    /* each of these BASE+RULE variants parses: the table's refusals are the change */
    kt_aecs_secret_file f;
    if (parse_with(BASE RULE, NULL, &f)) fail_msg("%s", kt_last_error());
    assert_int_equal(f.count, 1);
    kt_aecs_secret_file_free(&f);
}

/* P-256 pairs, CA-issued certificates with SANs, configurations in the original's form
 * (params) and as its JSON, never-export keys with their use params. */
static void test_kinds_beyond_the_original(void **state)
{
    (void)state;
    kt_aecs_secret_file f;
    static const char doc[] =
        "apiVersion: v1\nkind: SecretPolicy\nsecrets:\n"
        "- spec:\n    name: sign-key\n    type: SECRET_TYPE_EC_P256_KEY_PAIR\n    service: s1\n"
        "    share: public\n" RULE
        "- spec:\n    name: tls\n    type: SECRET_TYPE_CERTIFICATE\n    service: s1\n    params:\n"
        "    - {key: subject, value: \"CN=api.example,O=Example\"}\n"
        "    - {key: san, value: \"api.example,*.api.example,IP:10.0.0.1,::1\"}\n"
        "    - {key: issuer, value: service-ca}\n    - {key: days, value: 90}\n" RULE
        "- spec:\n    name: conf\n    type: SECRET_TYPE_CONFIGURATIONS\n    service: s1\n    params:\n"
        "    - {key: db.url, value: \"postgres://db:5432/x\"}\n    - {key: LOG_LEVEL, value: debug}\n" RULE
        "- spec:\n    name: conf-json\n    type: SECRET_TYPE_CONFIGURATIONS\n    service: s1\n" RULE
        "  data: '{\"items\":[{\"key\":\"q\",\"value\":\"say \\\"hi\\\"\"}]}'\n"
        "- spec:\n    name: kek\n    type: SECRET_TYPE_AES256_KEY\n    service: s1\n    params:\n"
        "    - {key: wrap, value: gcm}\n" NEVER
        "- spec:\n    name: signer\n    type: SECRET_TYPE_RSA_KEY_PAIR\n    service: s1\n" NEVER;
    if (kt_aecs_secret_file_parse(doc, strlen(doc), &f)) fail_msg("%s", kt_last_error());
    assert_int_equal(f.count, 6);
    const kt_aecs_secret_spec *s = f.secrets;
    assert_int_equal(s[0].type, KT_AECS_EC_P256_KEY_PAIR);
    assert_string_equal(kt_aecs_secret_type_name(s[0].type), "SECRET_TYPE_EC_P256_KEY_PAIR");
    assert_true(s[0].share_public);
    assert_int_equal(s[0].pkcs, KT_AECS_PKCS8);
    assert_string_equal(s[1].san, "api.example,*.api.example,IP:10.0.0.1,::1");
    assert_string_equal(s[1].issuer, "service-ca");
    assert_int_equal(s[1].days, 90);
    assert_string_equal((const char *)s[2].data.data,
                        "{\"items\":[{\"key\":\"db.url\",\"value\":\"postgres://db:5432/x\"},"
                        "{\"key\":\"LOG_LEVEL\",\"value\":\"debug\"}]}");
    assert_string_equal((const char *)s[3].data.data, "{\"items\":[{\"key\":\"q\",\"value\":\"say \\\"hi\\\"\"}]}");
    assert_int_equal(s[4].binding, KT_AECS_NEVER_EXPORT);
    assert_string_equal(s[4].wrap, "gcm");
    assert_null(s[4].padding);
    assert_int_equal(s[5].binding, KT_AECS_NEVER_EXPORT);
    assert_string_equal(s[5].padding, "pss"); /* the default */
    assert_null(s[0].padding);
    kt_aecs_secret_file_free(&f);
}

static void test_envelope_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *doc;
        kt_status st;
        const char *why;
    } cases[] = {
        {"apiVersion: v2\nkind: SecretPolicy\nsecrets: []\n", KT_ERR_UNSUPPORTED,
         "apiVersion 'v2' is not v1 (line 1)"},
        {"kind: SecretPolicy\nsecrets: []\n", KT_ERR_MALFORMED, "no apiVersion"},
        {"apiVersion: v1\nkind: Config\nsecrets: []\n", KT_ERR_MALFORMED,
         "kind 'Config' is not SecretPolicy"},
        {"apiVersion: v1\nkind: SecretPolicy\nsecrets: []\n", KT_ERR_MALFORMED,
         "secrets must be a non-empty list (line 3)"},
        {"apiVersion: v1\nkind: SecretPolicy\n", KT_ERR_MALFORMED, "no secrets"},
        {"apiVersion: v1\nkind: SecretPolicy\nsecrets: []\nmetadata: {}\n", KT_ERR_MALFORMED,
         "SecretPolicy: unknown key 'metadata' (line 4)"},
        {"apiVersion: v1\nkind: SecretPolicy\nsecrets:\n- just text\n", KT_ERR_MALFORMED,
         "secret 1 (line 4) must be a mapping"},
        {"apiVersion: v1\nkind: SecretPolicy\nsecrets:\n- data: x\n", KT_ERR_MALFORMED,
         "secret 1 (line 4): no spec"},
        {"- a\n", KT_ERR_MALFORMED, "SecretPolicy must be a mapping"},
        {"apiVersion: v1\nkind: &k SecretPolicy\n", KT_ERR_MALFORMED, "anchors are not accepted"},
        {"apiVersion: [v1\n", KT_ERR_MALFORMED, "SecretPolicy: YAML"},
        {"\"unk\\u0007nown\": 1\n", KT_ERR_MALFORMED, "unknown key 'unk\\x07nown'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kt_aecs_secret_file f;
        kt_status st = kt_aecs_secret_file_parse(cases[i].doc, strlen(cases[i].doc), &f);
        if (st != cases[i].st || !strstr(kt_last_error(), cases[i].why))
            fail_msg("case %zu: expected %s with '%s', got %s: %s", i, kt_status_name(cases[i].st),
                     cases[i].why, kt_status_name(st), kt_last_error());
    }
}

static void test_duplicate_secret_names_refused(void **state)
{
    (void)state;
    const char *doc = "apiVersion: v1\nkind: SecretPolicy\nsecrets:\n"
                      "- spec: {name: k, type: SECRET_TYPE_AES256_KEY, service: s1, policy: "
                      "{type: unbound}}\n"
                      "- spec: {name: k, type: SECRET_TYPE_AES256_KEY, service: s2, policy: "
                      "{type: unbound}}\n"
                      "- spec: {name: k, type: SECRET_TYPE_SM2_KEY_PAIR, service: s1, policy: "
                      "{type: unbound}}\n";
    kt_aecs_secret_file f;
    assert_fails_with(kt_aecs_secret_file_parse(doc, strlen(doc), &f), KT_ERR_EXISTS,
                      "secret 3 'k' (line 6): service s1 already has a secret of that name "
                      "(secret 1, line 4)");
    assert_int_equal(f.count, 0);
    /* the same name in another service is another secret */
    const char *two = "apiVersion: v1\nkind: SecretPolicy\nsecrets:\n"
                      "- spec: {name: k, type: SECRET_TYPE_AES256_KEY, service: s1, policy: "
                      "{type: unbound}}\n"
                      "- spec: {name: k, type: SECRET_TYPE_AES256_KEY, service: s2, policy: "
                      "{type: unbound}}\n";
    if (kt_aecs_secret_file_parse(two, strlen(two), &f)) fail_msg("%s", kt_last_error());
    assert_int_equal(f.count, 2);
    kt_aecs_secret_file_free(&f);
}

static void test_sizes_refused(void **state)
{
    (void)state;
    /* data one byte over the limit, and the limit itself */
    size_t cap = KT_AECS_DATA_MAX + 200;
    char *doc = malloc(cap), *data = malloc(KT_AECS_DATA_MAX + 2);
    assert_non_null(doc);
    assert_non_null(data);
    for (int over = 1; over >= 0; over--) {
        memset(data, 'x', KT_AECS_DATA_MAX + (size_t)over);
        data[KT_AECS_DATA_MAX + over] = '\0';
        snprintf(doc, cap,
                 "apiVersion: v1\nkind: SecretPolicy\nsecrets:\n- spec: {name: k, type: "
                 "SECRET_TYPE_IMPORT_DATA, service: s, policy: {type: unbound}}\n  data: %s\n",
                 data);
        kt_aecs_secret_file f;
        kt_status st = kt_aecs_secret_file_parse(doc, strlen(doc), &f);
        if (over) {
            assert_fails_with(st, KT_ERR_TOO_LARGE, "data is 16385 bytes, at most 16384");
        } else {
            assert_int_equal(st, KT_OK);
            assert_int_equal(f.secrets[0].data.len, KT_AECS_DATA_MAX);
            kt_aecs_secret_file_free(&f);
        }
    }
    free(data);
    free(doc);
    /* more secrets than one file may hold */
    kt_buf b = {0};
    assert_int_equal(kt_buf_printf(&b, "apiVersion: v1\nkind: SecretPolicy\nsecrets:\n"), KT_OK);
    for (int i = 0; i <= KT_AECS_SECRETS_MAX; i++)
        assert_int_equal(kt_buf_printf(&b,
                                       "- spec: {name: k%d, type: SECRET_TYPE_AES256_KEY, "
                                       "service: s, policy: {type: unbound}}\n",
                                       i),
                         KT_OK);
    kt_aecs_secret_file f;
    assert_fails_with(kt_aecs_secret_file_parse((const char *)b.data, b.len, &f), KT_ERR_TOO_LARGE,
                      "257 secrets, at most 256");
    kt_buf_free(&b);
}

static void test_name_grammar(void **state)
{
    (void)state;
    static const char *const good[] = {"a", "A9", "secret-my-aes256-key", "x.y_z-1", "9"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_int_equal(kt_aecs_name_check(KT_AECS_NAME_SECRET, good[i], strlen(good[i])), KT_OK);
    static const struct {
        const char *name;
        size_t n;
        const char *why;
    } bad[] = {
        {"", 0, "secret name is empty"},
        {".", 1, "must begin with a letter or digit (byte 0x2e"},
        {"..", 2, "must begin with a letter or digit"},
        {"-rf", 3, "must begin with a letter or digit (byte 0x2d"},
        {"_x", 2, "must begin with a letter or digit"},
        {"a/b", 3, "byte 0x2f at offset 1"},
        {"a b", 3, "byte 0x20 at offset 1"},
        {"a\nb", 3, "byte 0x0a at offset 1"},
        {"a\0b", 3, "byte 0x00 at offset 1"},
        {"a\\b", 3, "byte 0x5c"},
        {"a$(x)", 5, "byte 0x24"},
        {"caf\xc3\xa9", 5, "byte 0xc3 at offset 3"},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 65,
         "secret name is 65 bytes, at most 64"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_fails_with(kt_aecs_name_check(KT_AECS_NAME_SECRET, bad[i].name, bad[i].n),
                          KT_ERR_MALFORMED, bad[i].why);
    char svc[34];
    memset(svc, 's', 33);
    assert_int_equal(kt_aecs_name_check(KT_AECS_NAME_SERVICE, svc, 32), KT_OK);
    assert_fails_with(kt_aecs_name_check(KT_AECS_NAME_SERVICE, svc, 33), KT_ERR_MALFORMED,
                      "service name is 33 bytes, at most 32");
    assert_fails_with(kt_aecs_name_check(KT_AECS_NAME_ADMIN, "a/", 2), KT_ERR_MALFORMED,
                      "admin name may hold only");
}

/* ---- the admin kubeconfig ---- */

static void test_original_kubeconfig_reads(void **state)
{
    (void)state;
    kt_aecs_admin_config c;
    if (kt_aecs_admin_config_load(DATA "kubeconfig-original.yaml", &c))
        fail_msg("%s", kt_last_error());
    assert_string_equal(c.admin_name, "aecs_admin");
    assert_non_null(c.identity);
    assert_int_equal(kt_key_type_of(c.identity), KT_KEY_P256);
    assert_true(kt_key_has_private(c.identity));
    /* the same key as the PEM file it was made from */
    kt_buf pem = {0};
    kt_key *file_key = NULL;
    assert_int_equal(kt_file_read(DATA "admin_p256.pem", 1 << 16, &pem), KT_OK);
    assert_int_equal(kt_key_from_pem((const char *)pem.data, pem.len, &file_key), KT_OK);
    uint8_t a[64], b[64];
    size_t an, bn;
    assert_int_equal(kt_key_public_raw(c.identity, a, sizeof a, &an), KT_OK);
    assert_int_equal(kt_key_public_raw(file_key, b, sizeof b, &bn), KT_OK);
    assert_int_equal(an, bn);
    assert_memory_equal(a, b, an);
    kt_key_free(file_key);
    kt_buf_free(&pem);
    assert_string_equal(c.endpoint, "127.0.0.1:19527");
    /* verifyPolicy, the original's one rule: prodid and min_svn are its names */
    size_t n;
    const kt_policy_rule *r = kt_policy_rules(c.verify, &n);
    assert_int_equal(n, 1);
    assert_true(r[0].has_mrsigner && !r[0].has_mrenclave && !r[0].has_report_data);
    assert_true(r[0].has_prodid && r[0].prodid == 1 && r[0].has_min_svn && r[0].min_svn == 1);
    assert_false(kt_policy_allows_simulation(c.verify));
    kt_verdict v;
    sgx_verdict(&v, "00000000000000000000000000000000000000000000000000000000000000aa", MRSIGNER, 1,
                0, false);
    assert_fails_with(kt_policy_check(c.verify, &v), KT_ERR_DENIED, "ISVSVN below the minimum");
    v.quote.sgx.svn = 1;
    assert_int_equal(kt_policy_check(c.verify, &v), KT_OK);
    const char *notes = (const char *)c.notes.data;
    assert_non_null(strstr(notes, "line 22: aecsServer.verifyPolicy: spid is ignored"));
    assert_non_null(strstr(notes, "line 10: aecsServer.clientRpcSecure is ignored"));
    assert_non_null(strstr(notes, "aecsServer.clientCA is ignored"));
    kt_aecs_admin_config_free(&c);
    assert_null(c.identity);
}

/* A copy of a data file in dir with the given mode. */
static void copy_to(const char *name, const char *dir, unsigned mode)
{
    kt_buf b = {0};
    char src[512], dst[512];
    snprintf(src, sizeof src, DATA "%s", name);
    snprintf(dst, sizeof dst, "%s/%s", dir, name);
    assert_int_equal(kt_file_read(src, 1 << 20, &b), KT_OK);
    assert_int_equal(kt_file_write_atomic(dst, b.data, b.len, 0600), KT_OK);
    assert_int_equal(chmod(dst, mode), 0);
    kt_buf_free(&b);
}

static void test_kubetee_kubeconfig_reads_key_file_and_our_policy(void **state)
{
    (void)state;
    char dir[] = "/tmp/kt_aecs_cfgXXXXXX", path[600];
    assert_non_null(mkdtemp(dir));
    copy_to("kubeconfig.yaml", dir, 0644);
    copy_to("admin_sm2.pem", dir, 0600);
    snprintf(path, sizeof path, "%s/kubeconfig.yaml", dir);
    kt_aecs_admin_config c;
    if (kt_aecs_admin_config_load(path, &c)) fail_msg("%s", kt_last_error());
    assert_string_equal(c.admin_name, "ops.admin-1");
    assert_int_equal(kt_key_type_of(c.identity), KT_KEY_SM2);
    assert_string_equal(c.endpoint, "[::1]:19527");
    assert_true(kt_policy_allows_simulation(c.verify));
    size_t n;
    const kt_policy_rule *r = kt_policy_rules(c.verify, &n);
    assert_int_equal(n, 2);
    assert_true(r[0].has_mrsigner && r[0].min_svn == 2);
    assert_true(r[1].has_mrenclave);
    assert_int_equal(c.notes.len, 0);
    kt_aecs_admin_config_free(&c);

    /* a key file others may read is refused, as ssh refuses it */
    copy_to("admin_sm2.pem", dir, 0640);
    assert_fails_with(kt_aecs_admin_config_load(path, &c), KT_ERR_DENIED,
                      "admin_sm2.pem may be read by others (mode 0640); chmod 600 it (line 7)");
    /* a symbolic link in its place is not followed */
    char pem[600], link_to[600];
    snprintf(pem, sizeof pem, "%s/admin_sm2.pem", dir);
    snprintf(link_to, sizeof link_to, "%s/real.pem", dir);
    assert_int_equal(rename(pem, link_to), 0);
    assert_int_equal(chmod(link_to, 0600), 0);
    assert_int_equal(symlink(link_to, pem), 0);
    assert_fails_with(kt_aecs_admin_config_load(path, &c), KT_ERR_NOT_FOUND, "cannot be opened");
    unlink(pem);
    assert_fails_with(kt_aecs_admin_config_load(path, &c), KT_ERR_NOT_FOUND,
                      "admin_sm2.pem cannot be opened (line 7)");
    unlink(link_to);
    unlink(path);
    rmdir(dir);
}

static char *read_data(const char *name)
{
    kt_buf b = {0};
    char path[512];
    snprintf(path, sizeof path, DATA "%s", name);
    assert_int_equal(kt_file_read(path, 1 << 20, &b), KT_OK);
    assert_int_equal(kt_buf_append(&b, "", 1), KT_OK);
    return (char *)b.data;
}

static kt_status config_with(const char *admin, const char *server, kt_aecs_admin_config *c)
{
    char doc[8192];
    snprintf(doc, sizeof doc, "apiVersion: v1\nkind: Config\nadministrator:\n%saecsServer:\n%s",
             admin, server);
    return kt_aecs_admin_config_parse(doc, strlen(doc), "/nonexistent", c);
}

static void test_kubeconfig_refusals(void **state)
{
    (void)state;
    char *p256 = read_data("admin_p256.pem"), *rsa = read_data("admin_rsa.pem");
    kt_buf b64 = {0}, pub = {0}, b64_rsa = {0}, b64_pub = {0};
    assert_int_equal(kt_base64_encode((uint8_t *)p256, strlen(p256), &b64), KT_OK);
    assert_int_equal(kt_base64_encode((uint8_t *)rsa, strlen(rsa), &b64_rsa), KT_OK);
    kt_key *k = NULL;
    assert_int_equal(kt_key_from_pem(p256, strlen(p256), &k), KT_OK);
    assert_int_equal(kt_key_to_pem(k, false, &pub), KT_OK);
    kt_key_free(k);
    assert_int_equal(kt_base64_encode(pub.data, pub.len, &b64_pub), KT_OK);
    char good_admin[1024], rsa_admin[4096], pub_admin[1024];
    snprintf(good_admin, sizeof good_admin, "  name: a1\n  identityKey: %.*s\n", (int)b64.len,
             (char *)b64.data);
    snprintf(rsa_admin, sizeof rsa_admin, "  name: a1\n  identityKey: %.*s\n", (int)b64_rsa.len,
             (char *)b64_rsa.data);
    snprintf(pub_admin, sizeof pub_admin, "  name: a1\n  identityKey: %.*s\n", (int)b64_pub.len,
             (char *)b64_pub.data);
    const char *good_server =
        "  serverEndpoint: aecs.example:19527\n  verifyPolicy:\n    mrsigner: "
        "\"" MRSIGNER "\"\n";
    kt_aecs_admin_config c;
    if (config_with(good_admin, good_server, &c)) fail_msg("%s", kt_last_error());
    assert_string_equal(c.endpoint, "aecs.example:19527");
    assert_false(c.has_instance); /* no pin unless given */
    kt_aecs_admin_config_free(&c);
    /* aecsServer.instance: the instance key the tools pin, either case */
    char pinned[512], want[64];
    for (int i = 0; i < 64; i++) want[i] = (char)(0xa0 + i);
    char hex[129];
    kt_hex_encode((const uint8_t *)want, 64, hex, sizeof hex);
    hex[0] = 'A';
    snprintf(pinned, sizeof pinned, "%s  instance: %s\n", good_server, hex);
    if (config_with(good_admin, pinned, &c)) fail_msg("%s", kt_last_error());
    assert_true(c.has_instance);
    assert_memory_equal(c.instance, want, 64);
    kt_aecs_admin_config_free(&c);
    assert_false(c.has_instance);
    char short_pin[600], long_pin[600], odd_pin[600], twice[900];
    snprintf(short_pin, sizeof short_pin, "%s  instance: %.126s\n", good_server, hex);
    snprintf(long_pin, sizeof long_pin, "%s  instance: %s00\n", good_server, hex);
    snprintf(odd_pin, sizeof odd_pin, "%s  instance: \"%.60s\\n%.67s\"\n", good_server, hex, hex + 61);
    snprintf(twice, sizeof twice, "%s  instance: %s\n  instance: %s\n", good_server, hex, hex);

    static const char *const bad_keys_inline =
        "  name: a1\n  identityKey: \"-----BEGIN PRIVATE "
        "KEY-----\\nSECRETBYTES\\n-----END PRIVATE KEY-----\\n\"\n";
    const struct {
        const char *admin, *server;
        kt_status st;
        const char *why;
    } cases[] = {
        {rsa_admin, good_server, KT_ERR_MALFORMED,
         "administrator: identityKey is not a PEM key kubetee reads (an ECDSA P-256 or SM2 "
         "private key) (line 5)"},
        {pub_admin, good_server, KT_ERR_MALFORMED, "identityKey is a public key"},
        {"  name: a1\n  identityKey: \"not!base64\"\n", good_server, KT_ERR_MALFORMED,
         "identityKey is neither a PEM key nor base64 of one (line 5)"},
        {bad_keys_inline, good_server, KT_ERR_MALFORMED,
         "identityKey is not a PEM key kubetee reads"},
        {"  name: a1\n  identityKey: x\n  identityKeyFile: k.pem\n", good_server, KT_ERR_MALFORMED,
         "identityKey and identityKeyFile are one setting"},
        {"  name: a1\n", good_server, KT_ERR_MALFORMED, "no identityKey"},
        {"  identityKey: x\n", good_server, KT_ERR_MALFORMED, "administrator: no name"},
        {"  name: a/1\n  identityKey: x\n", good_server, KT_ERR_MALFORMED,
         "administrator: name 'a/1' (line 4): admin name may hold only"},
        {"  name: a1\n  identityKeyFile: k.pem\n", good_server, KT_ERR_NOT_FOUND,
         "identityKeyFile /nonexistent/k.pem cannot be opened"},
        {"  name: a1\n  password: hunter2\n", good_server, KT_ERR_MALFORMED,
         "administrator: unknown key 'password' (line 5)"},
        {good_admin, "  verifyPolicy:\n    mrsigner: " MRSIGNER "\n", KT_ERR_MALFORMED,
         "no serverEndpoint"},
        {good_admin, "  serverEndpoint: aecs.example\n  verifyPolicy: {mrsigner: " MRSIGNER "}\n",
         KT_ERR_MALFORMED, "serverEndpoint 'aecs.example' is not host:port"},
        {good_admin, "  serverEndpoint: aecs.example:0\n  verifyPolicy: {mrsigner: " MRSIGNER "}\n",
         KT_ERR_MALFORMED, "is not host:port"},
        {good_admin,
         "  serverEndpoint: aecs.example:65536\n  verifyPolicy: {mrsigner: " MRSIGNER "}\n",
         KT_ERR_MALFORMED, "is not host:port"},
        {good_admin,
         "  serverEndpoint: \"aecs example:1\"\n  verifyPolicy: {mrsigner: " MRSIGNER "}\n",
         KT_ERR_MALFORMED, "is not host:port"},
        {good_admin, "  serverEndpoint: \"[::1;]:1\"\n  verifyPolicy: {mrsigner: " MRSIGNER "}\n",
         KT_ERR_MALFORMED, "is not host:port"},
        {good_admin, "  serverEndpoint: \"h:01\"\n  verifyPolicy: {mrsigner: " MRSIGNER "}\n",
         KT_ERR_MALFORMED, "is not host:port"},
        {good_admin, "  serverEndpoint: h:1\n", KT_ERR_MALFORMED,
         "no verifyPolicy: say which AECS enclave to trust"},
        {good_admin, "  serverEndpoint: h:1\n  verifyPolicy: {mrenclave: \"\", mrsigner: \"\"}\n",
         KT_ERR_MALFORMED,
         "aecsServer: verifyPolicy (line 8): policy: rule 1 pins no identity: it constrains "
         "neither mrenclave nor mrsigner (nor mrtd), so it would admit any enclave; give one "
         "(line 8)"},
        {good_admin,
         "  serverEndpoint: h:1\n  verifyPolicy: {mrsigner: " MRSIGNER ", colour: red}\n",
         KT_ERR_MALFORMED, "rule 1: unknown key 'colour'"},
        {good_admin, "  serverEndpoint: h:1\n  verifyPolicy: {rules: []}\n", KT_ERR_MALFORMED,
         "rules must be a non-empty list"},
        {good_admin,
         "  serverEndpoint: h:1\n  verifyPolicy: {rules: [{mrsigner: " MRSIGNER
         "}], colour: red}\n",
         KT_ERR_MALFORMED, "policy: unknown key 'colour'"},
        {good_admin,
         "  serverEndpoint: h:1\n  verifyPolicy: {mrsigner: " MRSIGNER ", prodid: 1, prodID: 1}\n",
         KT_ERR_MALFORMED, "prodID and prodid are one setting"},
        {good_admin, "  serverEndpoint: h:1\n  verifyPolicy: [a]\n", KT_ERR_MALFORMED,
         "verifyPolicy must be a mapping"},
        {good_admin, "  serverEndpoint: h:1\n  verifyPolicy: {mrsigner: " MRSIGNER "}\n  tls: on\n",
         KT_ERR_MALFORMED, "aecsServer: unknown key 'tls'"},
        {good_admin,
         "  serverEndpoint: h:1\n  verifyPolicy: {mrsigner: " MRSIGNER "}\n  clientKey: [x]\n",
         KT_ERR_MALFORMED, "clientKey must be a single value"},
        {good_admin, short_pin, KT_ERR_MALFORMED,
         "aecsServer: instance is 126 hex digits; the AECS instance key is 128 (x||y, as aecsadmin init "
         "prints it) (line 10)"},
        {good_admin, long_pin, KT_ERR_MALFORMED, "aecsServer: instance is 130 hex digits"},
        {good_admin, odd_pin, KT_ERR_MALFORMED, "aecsServer: instance is not hex: character 61 is '\\x0a'"},
        {good_admin, "  serverEndpoint: h:1\n  verifyPolicy: {mrsigner: " MRSIGNER "}\n  instance: \"\"\n",
         KT_ERR_MALFORMED, "aecsServer: instance is 0 hex digits"},
        {good_admin, "  serverEndpoint: h:1\n  verifyPolicy: {mrsigner: " MRSIGNER "}\n  instance: [ab]\n",
         KT_ERR_MALFORMED, "aecsServer: instance must be a single value"},
        {good_admin, twice, KT_ERR_MALFORMED, "key 'instance' appears twice in a mapping (lines 10 and 11)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kt_status st = config_with(cases[i].admin, cases[i].server, &c);
        if (st != cases[i].st || !strstr(kt_last_error(), cases[i].why))
            fail_msg("case %zu: expected %s with '%s', got %s: %s", i, kt_status_name(cases[i].st),
                     cases[i].why, kt_status_name(st), kt_last_error());
        assert_null(c.identity);
        /* no message ever quotes the key */
        assert_null(strstr(kt_last_error(), "SECRETBYTES"));
        assert_null(strstr(kt_last_error(), "MIG"));
    }
    const char *docs[][2] = {
        {"apiVersion: v1\nkind: KubeConfig\n", "kind 'KubeConfig' is not Config"},
        {"apiVersion: v1\nkind: Config\naecsServer: {}\n", "Config: no administrator"},
        {"apiVersion: v1\nkind: Config\nadministrator: {}\n", "Config: no aecsServer"},
        {"apiVersion: v1\nkind: Config\nclusters: []\n", "Config: unknown key 'clusters' (line 3)"},
    };
    for (size_t i = 0; i < 4; i++)
        assert_fails_with(kt_aecs_admin_config_parse(docs[i][0], strlen(docs[i][0]), NULL, &c),
                          KT_ERR_MALFORMED, docs[i][1]);
    kt_buf_free(&b64);
    kt_buf_free(&b64_rsa);
    kt_buf_free(&b64_pub);
    kt_buf_free(&pub);
    free(p256);
    free(rsa);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secret_sample_reads_every_field),
        cmocka_unit_test(test_original_sample_with_empty_rules_is_refused),
        cmocka_unit_test(test_secret_refusals_name_what_is_wrong),
        cmocka_unit_test(test_kinds_beyond_the_original),
        cmocka_unit_test(test_envelope_refusals),
        cmocka_unit_test(test_duplicate_secret_names_refused),
        cmocka_unit_test(test_sizes_refused),
        cmocka_unit_test(test_name_grammar),
        cmocka_unit_test(test_original_kubeconfig_reads),
        cmocka_unit_test(test_kubetee_kubeconfig_reads_key_file_and_our_policy),
        cmocka_unit_test(test_kubeconfig_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
