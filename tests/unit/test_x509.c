/* Certificates and CRLs, read by attest's own DER reader and checked by its issuance
 * rules. OpenSSL is the independent reading: every Intel certificate and CRL in
 * ../shared reads the same both ways, and OpenSSL makes the certificates that fall
 * outside DCAP's profile or break an issuance rule, each refused for its reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "../../src/attest/internal.h"

#include <dirent.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SETS KT_TEST_SOURCE_DIR "/../shared/testdata/attestation"

static time_t ossl_time(const ASN1_TIME *t)
{
    struct tm tm;
    assert_true(ASN1_TIME_to_tm(t, &tm));
    return timegm(&tm);
}

/* An ASN1_INTEGER's content bytes, as DER has them. */
static size_t ossl_serial(const ASN1_INTEGER *i, uint8_t *out)
{
    unsigned char *der = NULL;
    int n = i2d_ASN1_INTEGER(i, &der);
    assert_true(n > 2 && n < 40 && der[1] == n - 2);
    memcpy(out, der + 2, (size_t)n - 2);
    OPENSSL_free(der);
    return (size_t)n - 2;
}

static void same_as_openssl(const kt_x509 *x, X509 *o)
{
    uint8_t serial[40];
    size_t sn = ossl_serial(X509_get0_serialNumber(o), serial);
    assert_true(kt_der_is(x->serial, serial, sn));
    assert_int_equal(x->not_before, ossl_time(X509_get0_notBefore(o)));
    assert_int_equal(x->not_after, ossl_time(X509_get0_notAfter(o)));
    unsigned char *name = NULL;
    int n = i2d_X509_NAME(X509_get_subject_name(o), &name);
    assert_true(kt_der_is(x->subject, name, (size_t)n));
    OPENSSL_free(name);
    name = NULL;
    n = i2d_X509_NAME(X509_get_issuer_name(o), &name);
    assert_true(kt_der_is(x->issuer, name, (size_t)n));
    OPENSSL_free(name);
    uint8_t pub[65];
    size_t pl = 0;
    assert_true(EVP_PKEY_get_octet_string_param(X509_get0_pubkey(o), OSSL_PKEY_PARAM_PUB_KEY, pub,
                                                sizeof pub, &pl));
    assert_int_equal(pl, 65);
    assert_memory_equal(x->pub, pub + 1, 64);
    assert_int_equal(x->is_ca, X509_check_ca(o) > 0);
    assert_int_equal(x->path_len, X509_get_pathlen(o));
    uint32_t ku = X509_get_key_usage(o);
    assert_int_equal(!!(x->key_usage & KT_KU_DIGITAL_SIGNATURE), !!(ku & KU_DIGITAL_SIGNATURE));
    assert_int_equal(!!(x->key_usage & KT_KU_KEY_CERT_SIGN), !!(ku & KU_KEY_CERT_SIGN));
    assert_int_equal(!!(x->key_usage & KT_KU_CRL_SIGN), !!(ku & KU_CRL_SIGN));
    char ours[128], theirs[128];
    assert_int_equal(kt_x509_common_name(x->subject, ours, sizeof ours), KT_OK);
    X509_NAME_get_text_by_NID(X509_get_subject_name(o), NID_commonName, theirs, sizeof theirs);
    assert_string_equal(ours, theirs);
}

static void pem_file_both_ways(const char *path)
{
    kt_buf pem = {0};
    assert_int_equal(kt_file_read(path, 1 << 16, &pem), KT_OK);
    kt_chain chain;
    if (kt_chain_from_pem((const char *)pem.data, pem.len, &chain))
        fail_msg("%s: %s", path, kt_last_error());
    BIO *bio = BIO_new_mem_buf(pem.data, (int)pem.len);
    unsigned n = 0;
    for (X509 *o; (o = PEM_read_bio_X509(bio, NULL, NULL, NULL)); n++) {
        assert_true(n < chain.count);
        same_as_openssl(&chain.cert[n], o);
        X509_free(o);
    }
    assert_int_equal(n, chain.count);
    /* each is issued by the next, the last (a root) by itself: our signed bytes, signature
     * and key agree with Intel's */
    for (unsigned i = 0; i < chain.count; i++) {
        unsigned by = i + 1 < chain.count ? i + 1 : i;
        const kt_key *key;
        assert_int_equal(kt_chain_key(&chain, by, &key), KT_OK);
        if (kt_x509_check_issued(&chain.cert[i], &chain.cert[by], key, 0, path))
            fail_msg("%s", kt_last_error());
    }
    BIO_free(bio);
    kt_chain_free(&chain);
    kt_buf_free(&pem);
}

static void crl_file_both_ways(const char *path)
{
    kt_buf der = {0};
    assert_int_equal(kt_file_read(path, 1 << 20, &der), KT_OK);
    kt_crl c;
    if (kt_crl_parse(der.data, der.len, &c)) fail_msg("%s: %s", path, kt_last_error());
    const unsigned char *p = der.data;
    X509_CRL *o = d2i_X509_CRL(NULL, &p, (long)der.len);
    assert_non_null(o);
    assert_int_equal(c.this_update, ossl_time(X509_CRL_get0_lastUpdate(o)));
    assert_int_equal(c.next_update, ossl_time(X509_CRL_get0_nextUpdate(o)));
    STACK_OF(X509_REVOKED) *revoked = X509_CRL_get_REVOKED(o);
    for (int i = 0; i < sk_X509_REVOKED_num(revoked); i++) {
        kt_x509 x = {0};
        uint8_t serial[40];
        x.serial.p = serial;
        x.serial.n =
            ossl_serial(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i)), serial);
        assert_true(kt_crl_lists(&c, &x));
        serial[x.serial.n - 1] ^= 0x5a; /* a serial it does not list */
        bool also = false;
        for (int k = 0; k < sk_X509_REVOKED_num(revoked) && !also; k++) {
            uint8_t other[40];
            size_t on = ossl_serial(
                X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, k)), other);
            also = kt_der_is(x.serial, other, on);
        }
        assert_int_equal(kt_crl_lists(&c, &x), also);
    }
    X509_CRL_free(o);
    kt_buf_free(&der);
}

static void test_intel_certificates_and_crls_read_as_openssl_reads_them(void **state)
{
    (void)state;
    DIR *d = opendir(SETS);
    assert_non_null(d);
    static const char *const pems[] = {"intel_root_ca.pem", "pck_chain.pem",
                                       "pck_crl_issuer_chain.pem", "tcb_info_issuer_chain.pem",
                                       "qe_identity_issuer_chain.pem"};
    int sets = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.' || strchr(e->d_name, '.')) continue;
        char path[600];
        for (size_t i = 0; i < sizeof pems / sizeof pems[0]; i++) {
            snprintf(path, sizeof path, "%s/%s/%s", SETS, e->d_name, pems[i]);
            pem_file_both_ways(path);
        }
        snprintf(path, sizeof path, "%s/%s/root_ca_crl.der", SETS, e->d_name);
        crl_file_both_ways(path);
        snprintf(path, sizeof path, "%s/%s/pck_crl.der", SETS, e->d_name);
        crl_file_both_ways(path);
        sets++;
    }
    closedir(d);
    assert_true(sets >= 9);
}

/* ---- certificates made with OpenSSL ---- */

/* An extension given as its DER value, e.g. a keyUsage OpenSSL would not write. */
typedef struct {
    const char *oid;
    const char *value;
    size_t len;
    bool critical;
} raw_ext;

typedef struct {
    const char *cn;
    const char *bc, *ku, *extra_oid; /* extensions (NULL: none); extra_oid is critical */
    bool dup_bc;
    const char *key; /* "P-256" (default), "P-384", "RSA" */
    bool sha384;
    long version;
    raw_ext raw[2];     /* more extensions, as given */
    const char *serial; /* the serial INTEGER's content as given (serial_len bytes) */
    size_t serial_len;
    int cn_type;     /* the common name's ASN.1 string type (0: UTF8String) */
    bool second_ava; /* an O in the common name's RDN */
    bool negative_serial;
} spec;

static EVP_PKEY *new_key(const char *kind)
{
    if (kind && strcmp(kind, "RSA") == 0) return EVP_RSA_gen(2048);
    return EVP_EC_gen(kind ? kind : "P-256");
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    assert_non_null(ext);
    assert_true(X509_add_ext(x, ext, -1));
    X509_EXTENSION_free(ext);
}

/* A certificate for key, issued by issuer (itself when NULL) with issuer_key. */
static X509 *make(const spec *s, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, long serial)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    X509_NAME_add_entry_by_txt(name, "CN", s->cn_type ? s->cn_type : MBSTRING_UTF8,
                               (const unsigned char *)s->cn, -1, -1, 0);
    if (s->second_ava)
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"org", -1, -1,
                                   -1);
    ;
    assert_true(X509_set_version(x, s->version ? s->version - 1 : 2));
    ASN1_INTEGER_set(X509_get_serialNumber(x), s->negative_serial ? -serial : serial);
    if (s->serial) /* OpenSSL writes the content as given, even when not the shortest */
        assert_true(ASN1_STRING_set(X509_get_serialNumber(x), s->serial, (int)s->serial_len));
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_subject_name(x, name);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509_set_pubkey(x, key);
    if (s->bc) add_ext(x, issuer ? issuer : x, NID_basic_constraints, s->bc);
    if (s->dup_bc) add_ext(x, issuer ? issuer : x, NID_basic_constraints, s->bc);
    if (s->ku) add_ext(x, issuer ? issuer : x, NID_key_usage, s->ku);
    if (s->extra_oid) {
        ASN1_OBJECT *obj = OBJ_txt2obj(s->extra_oid, 1);
        ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
        ASN1_OCTET_STRING_set(os, (const unsigned char *)"\x05\x00", 2);
        X509_EXTENSION *e = X509_EXTENSION_create_by_OBJ(NULL, obj, 1, os);
        assert_true(X509_add_ext(x, e, -1));
        X509_EXTENSION_free(e);
        ASN1_OCTET_STRING_free(os);
        ASN1_OBJECT_free(obj);
    }
    for (int i = 0; i < 2 && s->raw[i].oid; i++) {
        ASN1_OBJECT *obj = OBJ_txt2obj(s->raw[i].oid, 1);
        ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
        ASN1_OCTET_STRING_set(os, (const unsigned char *)s->raw[i].value, (int)s->raw[i].len);
        X509_EXTENSION *e = X509_EXTENSION_create_by_OBJ(NULL, obj, s->raw[i].critical, os);
        assert_true(X509_add_ext(x, e, -1));
        X509_EXTENSION_free(e);
        ASN1_OCTET_STRING_free(os);
        ASN1_OBJECT_free(obj);
    }
    assert_true(
        X509_sign(x, issuer_key ? issuer_key : key, s->sha384 ? EVP_sha384() : EVP_sha256()) > 0);
    X509_NAME_free(name);
    return x;
}

static void der_of(X509 *x, kt_buf *out)
{
    unsigned char *p = NULL;
    int n = i2d_X509(x, &p);
    assert_true(n > 0);
    out->len = 0;
    assert_int_equal(kt_buf_append(out, p, (size_t)n), KT_OK);
    OPENSSL_free(p);
}

static void test_certificates_outside_the_profile_are_refused(void **state)
{
    (void)state;
    static const struct {
        spec s;
        kt_status want;
        const char *reason;
    } cases[] = {
        {{.cn = "rsa", .key = "RSA"}, KT_ERR_UNSUPPORTED, "public key is not an EC key"},
        {{.cn = "p384", .key = "P-384"}, KT_ERR_UNSUPPORTED, "public key is not on P-256"},
        {{.cn = "sha384", .sha384 = true},
         KT_ERR_UNSUPPORTED,
         "signature algorithm is not ecdsa-with-SHA256"},
        {{.cn = "v1", .version = 1}, KT_ERR_UNSUPPORTED, "not an X.509 v3 certificate"},
        {{.cn = "crit", .bc = "critical,CA:FALSE", .extra_oid = "1.2.3.4"},
         KT_ERR_UNSUPPORTED,
         "unknown critical extension"},
        {{.cn = "dup", .bc = "critical,CA:TRUE", .dup_bc = true},
         KT_ERR_MALFORMED,
         "extension 2.5.29.19 appears twice"},
        /* keyUsage: padding bits are no usages (OpenSSL masks them away), and DER has
         * no trailing zero bits */
        {{.cn = "kupad", .raw = {{"2.5.29.15", "\x03\x02\x06\xC6", 4, true}}},
         KT_ERR_MALFORMED,
         "keyUsage has non-zero padding bits"},
        {{.cn = "kuzero", .raw = {{"2.5.29.15", "\x03\x02\x01\x80", 4, true}}},
         KT_ERR_MALFORMED,
         "keyUsage BIT STRING has trailing zero bits"},
        {{.cn = "kunone", .raw = {{"2.5.29.15", "\x03\x02\x00\x00", 4, true}}},
         KT_ERR_MALFORMED,
         "keyUsage BIT STRING has trailing zero bits"},
        /* any extension OID at most once, the ones kubetee only skips included */
        {{.cn = "ski2",
          .raw = {{"2.5.29.14", "\x04\x01\x01", 3, false},
                  {"2.5.29.14", "\x04\x01\x02", 3, false}}},
         KT_ERR_MALFORMED,
         "extension 2.5.29.14 appears twice"},
        {{.cn = "aki2",
          .raw = {{"2.5.29.35", "\x30\x03\x80\x01\x01", 5, false},
                  {"2.5.29.35", "\x30\x03\x80\x01\x02", 5, false}}},
         KT_ERR_MALFORMED,
         "extension 2.5.29.35 appears twice"},
        {{.cn = "sgx2",
          .raw = {{"1.2.840.113741.1.13.1", "\x30\x00", 2, false},
                  {"1.2.840.113741.1.13.1", "\x30\x00", 2, false}}},
         KT_ERR_MALFORMED,
         "extension 1.2.840.113741.1.13.1 appears twice"},
        /* only DCAP's extensions, in DCAP's forms */
        {{.cn = "san", .raw = {{"2.5.29.17", "\x30\x03\x82\x01\x61", 5, false}}},
         KT_ERR_UNSUPPORTED,
         "extension 2.5.29.17 is outside DCAP's profile"},
        {{.cn = "skicrit", .raw = {{"2.5.29.14", "\x04\x01\x01", 3, true}}},
         KT_ERR_MALFORMED,
         "extension 2.5.29.14 is marked critical"},
        {{.cn = "skiempty", .raw = {{"2.5.29.14", "\x04\x00", 2, false}}},
         KT_ERR_MALFORMED,
         "subjectKeyIdentifier is not a key identifier"},
        {{.cn = "akiserial", .raw = {{"2.5.29.35", "\x30\x06\x80\x01\x01\x82\x01\x05", 8, false}}},
         KT_ERR_MALFORMED,
         "authorityKeyIdentifier is not a key identifier"},
        {{.cn = "crldp",
          .raw = {{"2.5.29.31", "\x30\x08\x30\x06\xA0\x04\xA0\x02\x81\x00", 10, false}}},
         KT_ERR_MALFORMED,
         "DER tag 0x81 where 0x86 was expected"},
        {{.cn = "crldpspace",
          .raw = {{"2.5.29.31", "\x30\x0B\x30\x09\xA0\x07\xA0\x05\x86\x03h p", 13, false}}},
         KT_ERR_MALFORMED,
         "CRL distribution points are not full-name URIs"},
        /* serial numbers: shortest form, positive, at most 20 octets */
        {{.cn = "sn0", .serial = "\x00\x07", .serial_len = 2},
         KT_ERR_MALFORMED,
         "INTEGER not in its shortest form"},
        {{.cn = "snneg", .negative_serial = true},
         KT_ERR_MALFORMED,
         "serial number is not a positive INTEGER of at most 20 octets"},
        {{.cn = "sn21",
          .serial = "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0A\x0B\x0C\x0D\x0E\x0F\x10\x11\x12\x13"
                    "\x14\x15",
          .serial_len = 21},
         KT_ERR_MALFORMED,
         "serial number is not a positive INTEGER of at most 20 octets"},
        /* names: single attributes of PrintableString or UTF8String */
        {{.cn = "ia5", .cn_type = V_ASN1_IA5STRING},
         KT_ERR_MALFORMED,
         "certificate issuer: a name is not a sequence of single attributes"},
        {{.cn = "multi", .second_ava = true},
         KT_ERR_MALFORMED,
         "certificate issuer: a name is not a sequence of single attributes"},
        {{.cn = "not*printable", .cn_type = V_ASN1_PRINTABLESTRING},
         KT_ERR_MALFORMED,
         "a name is not a sequence"},
        {{.cn = "plain", .bc = "critical,CA:TRUE,pathlen:2", .ku = "critical,keyCertSign,cRLSign"},
         KT_OK,
         ""},
    };
    kt_buf der = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const spec s = cases[i].s;
        kt_status want = cases[i].want;
        const char *reason = cases[i].reason;
        EVP_PKEY *k = new_key(s.key), *signer = new_key(NULL);
        X509 *x = make(&s, k, NULL, signer, 7); /* the key under test does not sign */
        der_of(x, &der);
        kt_x509 parsed;
        if (want == KT_OK) {
            if (kt_x509_parse(der.data, der.len, &parsed))
                fail_msg("%s: %s", s.cn, kt_last_error());
            assert_true(parsed.is_ca);
            assert_int_equal(parsed.path_len, 2);
            assert_int_equal(parsed.key_usage, KT_KU_KEY_CERT_SIGN | KT_KU_CRL_SIGN);
            /* every shorter prefix and a trailing byte are refused, never read past */
            for (size_t n = 0; n < der.len; n++) {
                uint8_t *copy = malloc(n ? n : 1);
                memcpy(copy, der.data, n);
                assert_int_not_equal(kt_x509_parse(copy, n, &parsed), KT_OK);
                free(copy);
            }
            assert_int_equal(kt_buf_append(&der, "", 1), KT_OK);
            assert_fails_with(kt_x509_parse(der.data, der.len, &parsed), KT_ERR_MALFORMED,
                              "bytes after the DER");
        } else {
            kt_status st = kt_x509_parse(der.data, der.len, &parsed);
            if (st != want || !strstr(kt_last_error(), reason))
                fail_msg("%s: expected %s with '%s', got %s: %s", s.cn, kt_status_name(want),
                         reason, kt_status_name(st), st ? kt_last_error() : "");
            /* the padding bits kubetee refuses are the usages OpenSSL masks away */
            if (!strcmp(s.cn, "kupad"))
                assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION);
        }
        X509_free(x);
        EVP_PKEY_free(k);
        EVP_PKEY_free(signer);
    }
    kt_buf_free(&der);
}

static void test_der_lengths_are_definite_and_shortest(void **state)
{
    (void)state;
    static const struct {
        uint8_t bytes[8];
        size_t n;
        const char *reason;
    } cases[] = {
        {{0x30, 0x80, 0x00, 0x00}, 4, "bad DER length"},                    /* indefinite */
        {{0x30, 0x81, 0x05, 1, 2, 3, 4, 5}, 8, "not in its shortest form"}, /* 5 fits short */
        {{0x30, 0x82, 0x00, 0x81}, 4, "not in its shortest form"},          /* leading zero */
        {{0x30, 0x84, 1, 0, 0, 0}, 6, "bad DER length"},                    /* 4 length bytes */
        {{0x30, 0x03, 0x01}, 3, "runs past its container"},
        {{0x31, 0x00}, 2, "DER tag 0x31 where 0x30 was expected"},
        {{0x30}, 1, "truncated DER"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kt_der d = {cases[i].bytes, cases[i].n}, v;
        assert_fails_with(kt_der_next(&d, 0x30, "test", &v), KT_ERR_MALFORMED, cases[i].reason);
    }
    /* times: both forms, UTCTime's century window, and only real dates */
    static const struct {
        const char *t;
        uint8_t tag;
        time_t want; /* 0: refused */
    } times[] = {
        {"250704091932Z", 0x17, 1751620772}, {"20250704091932Z", 0x18, 1751620772},
        {"500101000000Z", 0x17, -631152000}, {"491231235959Z", 0x17, 2524607999},
        {"250431000000Z", 0x17, 0},          {"250229000000Z", 0x17, 0},
        {"240229000000Z", 0x17, 1709164800}, {"2507040919Z", 0x17, 0},
        {"250704091932+0100", 0x17, 0},      {"20250704091932Z", 0x17, 0},
        {"250704246000Z", 0x17, 0},
    };
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        uint8_t buf[32] = {times[i].tag, (uint8_t)strlen(times[i].t)};
        memcpy(buf + 2, times[i].t, strlen(times[i].t));
        kt_der td = {buf, 2 + strlen(times[i].t)};
        time_t got = 0;
        kt_status st = kt_der_time(&td, "time", &got);
        if (times[i].want == 0)
            assert_int_not_equal(st, KT_OK);
        else if (st || got != times[i].want)
            fail_msg("%s: %s, %lld", times[i].t, kt_last_error(), (long long)got);
    }
    const uint8_t ok[] = {0x30, 0x02, 0x05, 0x00, 0x04, 0x00};
    kt_der d = {ok, sizeof ok}, v;
    assert_int_equal(kt_der_next(&d, 0x30, "test", &v), KT_OK);
    assert_int_equal(v.n, 2);
    assert_int_equal(d.n, 2);
    assert_true(kt_der_peek(&d, 0x04));
}

static void test_pem_chains_refuse_what_is_not_a_chain(void **state)
{
    (void)state;
    static const struct {
        const char *pem, *reason;
    } cases[] = {
        {"", "no PEM certificates"},
        {"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", "is empty"},
        {"-----BEGIN CERTIFICATE-----\nMAA=\n", "without its END line"},
        {"-----BEGIN CERTIFICATE-----\nMAA*\n-----END CERTIFICATE-----\n", "base64"},
        {"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
         "certificate 1 of the chain"},
    };
    kt_chain chain;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kt_status st = kt_chain_from_pem(cases[i].pem, strlen(cases[i].pem), &chain);
        if (st == KT_OK || !strstr(kt_last_error(), cases[i].reason))
            fail_msg("case %zu: expected '%s', got %s", i, cases[i].reason, kt_last_error());
        assert_int_equal(chain.count, 0); /* nothing left to free */
    }
    /* five certificates are more than any DCAP chain */
    kt_buf five = {0};
    char path[600];
    snprintf(path, sizeof path, "%s/sgx-v3-dcapqvl-cfg-swhardening/intel_root_ca.pem", SETS);
    for (int i = 0; i < 5; i++)
        assert_int_equal(kt_file_read(path, 1 << 16, &five), KT_OK);
    assert_fails_with(kt_chain_from_pem((const char *)five.data, five.len, &chain),
                      KT_ERR_TOO_LARGE, "more than 4 certificates");
    kt_buf_free(&five);
}

/* ---- issuance ---- */

typedef struct {
    EVP_PKEY *key;
    X509 *x;
    kt_buf der;
    kt_x509 v;
    kt_key *pub;
} made;

static void made_from(made *m, X509 *x, EVP_PKEY *key)
{
    m->x = x;
    m->key = key;
    memset(&m->der, 0, sizeof m->der);
    der_of(x, &m->der);
    if (kt_x509_parse(m->der.data, m->der.len, &m->v)) fail_msg("%s", kt_last_error());
    assert_int_equal(kt_x509_key(&m->v, &m->pub), KT_OK);
}

static void made_free(made *m)
{
    X509_free(m->x);
    EVP_PKEY_free(m->key);
    kt_buf_free(&m->der);
    kt_key_free(m->pub);
}

static void issue(made *m, const spec *s, const made *issuer, long serial)
{
    EVP_PKEY *k = new_key(NULL);
    made_from(m, make(s, k, issuer ? issuer->x : NULL, issuer ? issuer->key : NULL, serial), k);
}

static void test_issuance_rules_each_refuse_their_case(void **state)
{
    (void)state;
    const spec root_s = {
        .cn = "Root", .bc = "critical,CA:TRUE,pathlen:0", .ku = "critical,keyCertSign,cRLSign"};
    const spec ca_s = {.cn = "CA", .bc = "critical,CA:TRUE", .ku = "critical,keyCertSign"};
    const spec leaf_s = {
        .cn = "Leaf", .bc = "critical,CA:FALSE", .ku = "critical,digitalSignature"};
    made root, ca, leaf, other_root, not_ca, no_sign, agree;
    issue(&root, &root_s, NULL, 1);
    issue(&ca, &ca_s, &root, 2);
    issue(&leaf, &leaf_s, &ca, 3);
    issue(&other_root, &(spec){.cn = "Other", .bc = "critical,CA:TRUE"}, NULL, 4);
    issue(&not_ca, &(spec){.cn = "NotCA", .bc = "critical,CA:FALSE"}, NULL, 5);
    issue(&no_sign, &(spec){.cn = "NoSign", .bc = "critical,CA:TRUE", .ku = "critical,cRLSign"},
          NULL, 6);
    issue(&agree, &(spec){.cn = "Agree", .bc = "critical,CA:FALSE", .ku = "keyAgreement"}, &ca, 7);

    assert_int_equal(kt_x509_check_issued(&leaf.v, &ca.v, ca.pub, 0, "t"), KT_OK);
    assert_int_equal(kt_x509_check_issued(&ca.v, &root.v, root.pub, 0, "t"), KT_OK);
    /* the root allows no CA under it before the leaf's issuer */
    assert_fails_with(kt_x509_check_issued(&ca.v, &root.v, root.pub, 1, "t"), KT_ERR_VERIFY,
                      "'Root' allows 0 CAs below it, the chain has 1");
    /* names: the leaf names CA, not Other */
    assert_fails_with(kt_x509_check_issued(&leaf.v, &other_root.v, other_root.pub, 0, "t"),
                      KT_ERR_VERIFY, "'Leaf' names another issuer than 'Other'");
    /* a look-alike issuer (same name, its own key): the signature gives it away */
    made fake;
    issue(&fake, &ca_s, &root, 2);
    assert_fails_with(kt_x509_check_issued(&leaf.v, &fake.v, fake.pub, 0, "t"), KT_ERR_VERIFY,
                      "signature of 'Leaf' does not verify with the key of 'CA'");
    /* issuers must be CAs that may sign certificates */
    made by_not_ca, by_no_sign;
    issue(&by_not_ca, &leaf_s, &not_ca, 8);
    issue(&by_no_sign, &leaf_s, &no_sign, 9);
    assert_fails_with(kt_x509_check_issued(&by_not_ca.v, &not_ca.v, not_ca.pub, 0, "t"),
                      KT_ERR_VERIFY, "issuer 'NotCA' is not a CA that signs certificates");
    assert_fails_with(kt_x509_check_issued(&by_no_sign.v, &no_sign.v, no_sign.pub, 0, "t"),
                      KT_ERR_VERIFY, "issuer 'NoSign' is not a CA that signs certificates");
    /* signers of TCB Info, QE Identity and QE reports are end entities for signatures */
    assert_int_equal(kt_x509_check_signer(&leaf.v, "t"), KT_OK);
    assert_fails_with(kt_x509_check_signer(&ca.v, "t"), KT_ERR_VERIFY,
                      "'CA' is not an end-entity signing certificate");
    assert_fails_with(kt_x509_check_signer(&agree.v, "t"), KT_ERR_VERIFY,
                      "'Agree' is not an end-entity signing certificate");

    /* CRLs: by their issuer, who may sign CRLs */
    X509_CRL *crl = X509_CRL_new();
    X509_CRL_set_version(crl, 1);
    X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca.x));
    ASN1_TIME *t1 = ASN1_TIME_adj(NULL, time(NULL), 0, -60),
              *t2 = ASN1_TIME_adj(NULL, time(NULL), 1, 0);
    X509_CRL_set1_lastUpdate(crl, t1);
    X509_CRL_set1_nextUpdate(crl, t2);
    X509_REVOKED *r = X509_REVOKED_new();
    X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(leaf.x));
    X509_REVOKED_set_revocationDate(r, t1);
    X509_CRL_add0_revoked(crl, r);
    assert_true(X509_CRL_sign(crl, ca.key, EVP_sha256()) > 0);
    unsigned char *p = NULL;
    int n = i2d_X509_CRL(crl, &p);
    kt_crl c;
    assert_int_equal(kt_crl_parse(p, (size_t)n, &c), KT_OK);
    /* the CA's KU lacks cRLSign */
    assert_fails_with(kt_crl_check_issued(&c, &ca.v, ca.pub, "CRL"), KT_ERR_VERIFY,
                      "CRL: 'CA' may not sign CRLs");
    assert_fails_with(kt_crl_check_issued(&c, &root.v, root.pub, "CRL"), KT_ERR_VERIFY,
                      "CRL is not issued by 'Root'");
    assert_true(kt_crl_lists(&c, &leaf.v));
    assert_false(kt_crl_lists(&c, &ca.v));
    OPENSSL_free(p);
    X509_CRL_free(crl);
    ASN1_TIME_free(t1);
    ASN1_TIME_free(t2);

    made *all[] = {&root,    &ca,    &leaf, &other_root, &not_ca,
                   &no_sign, &agree, &fake, &by_not_ca,  &by_no_sign};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        made_free(all[i]);
}

static void test_der_integers_are_shortest_and_oids_well_formed(void **state)
{
    (void)state;
    static const struct {
        uint8_t bytes[4];
        size_t n;
        bool ok;
    } ints[] = {
        {{0}, 0, false},                                   /* empty: no number at all */
        {{0x00, 0x07}, 2, false},                          /* 7 with a redundant zero */
        {{0xFF, 0x87}, 2, false},                          /* -121 with a redundant FF */
        {{0x00}, 1, true},        {{0x00, 0x80}, 2, true}, /* 128 needs its zero */
        {{0xFF, 0x7F}, 2, true},  {{0x80}, 1, true},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        kt_status st = kt_der_int((kt_der){ints[i].bytes, ints[i].n}, "int");
        if ((st == KT_OK) != ints[i].ok) fail_msg("integer case %zu: %s", i, kt_last_error());
    }
    uint32_t v;
    assert_fails_with(kt_der_uint((kt_der){(const uint8_t *)"\x00\x05", 2}, 255, "n", &v),
                      KT_ERR_MALFORMED, "n: INTEGER not in its shortest form");
    static const struct {
        uint8_t bytes[6];
        size_t n;
        bool ok;
    } oids[] = {
        {{0x06, 0x00}, 2, false},                   /* empty */
        {{0x06, 0x02, 0x2A, 0x86}, 4, false},       /* the last arc never ends */
        {{0x06, 0x03, 0x2A, 0x80, 0x01}, 5, false}, /* an arc with a leading 0x80 */
        {{0x06, 0x01, 0x80}, 3, false},
        {{0x06, 0x03, 0x2A, 0x86, 0x48}, 5, true}, /* 1.2.840 */
        {{0x06, 0x03, 0x55, 0x1D, 0x0E}, 5, true}, /* 2.5.29.14 */
    };
    for (size_t i = 0; i < sizeof oids / sizeof oids[0]; i++) {
        kt_der d = {oids[i].bytes, oids[i].n}, oid;
        kt_status st = kt_der_oid(&d, "oid", &oid);
        if ((st == KT_OK) != oids[i].ok) fail_msg("OID case %zu: %s", i, kt_last_error());
        if (!oids[i].ok) assert_true(strstr(kt_last_error(), "oid: "));
    }
}

/* ---- CRLs made by hand: what OpenSSL will not write ---- */

/* Appends tag, a DER length and n bytes of content to out. */
static void tlv(kt_buf *out, uint8_t tag, const void *content, size_t n)
{
    uint8_t h[4] = {tag};
    size_t hn = 2;
    if (n < 128) {
        h[1] = (uint8_t)n;
    } else if (n < 256) {
        h[1] = 0x81, h[2] = (uint8_t)n, hn = 3;
    } else {
        h[1] = 0x82, h[2] = (uint8_t)(n >> 8), h[3] = (uint8_t)n, hn = 4;
    }
    assert_int_equal(kt_buf_append(out, h, hn), KT_OK);
    assert_int_equal(kt_buf_append(out, content, n), KT_OK);
}

/* Wraps out's bytes from `from` on in one element of tag. */
static void wrap(kt_buf *out, size_t from, uint8_t tag)
{
    kt_buf inner = {0};
    assert_int_equal(kt_buf_append(&inner, out->data + from, out->len - from), KT_OK);
    out->len = from;
    tlv(out, tag, inner.data, inner.len);
    kt_buf_free(&inner);
}

#define T(s) s, sizeof s - 1
#define ECDSA_SHA256 "\x06\x08\x2A\x86\x48\xCE\x3D\x04\x03\x02"
#define CRL_NAME                                                                                   \
    "\x31\x0C\x30\x0A\x06\x03\x55\x04\x03\x0C\x03"                                                 \
    "CRL"

/* A v2 CRL listing one serial (with entry extensions, DER given), with CRL extensions
 * (DER of the Extension elements, or NULL), and signature r = s = 1 (never checked here). */
static void crl_by_hand(kt_buf *out, const char *serial, size_t serial_n, const char *entry_ext,
                        size_t entry_ext_n, const char *crl_ext, size_t crl_ext_n)
{
    out->len = 0;
    tlv(out, 0x02, "\x01", 1);
    tlv(out, 0x30, T(ECDSA_SHA256));
    tlv(out, 0x30, T(CRL_NAME));
    tlv(out, 0x17, T("250601000000Z"));
    tlv(out, 0x17, T("250701000000Z"));
    size_t list = out->len, entry = out->len;
    tlv(out, 0x02, serial, serial_n);
    tlv(out, 0x17, T("250615000000Z"));
    if (entry_ext) tlv(out, 0x30, entry_ext, entry_ext_n);
    wrap(out, entry, 0x30);
    wrap(out, list, 0x30);
    if (crl_ext) {
        size_t exts = out->len;
        tlv(out, 0x30, crl_ext, crl_ext_n);
        wrap(out, exts, 0xA0);
    }
    wrap(out, 0, 0x30);
    tlv(out, 0x30, T(ECDSA_SHA256));
    tlv(out, 0x03, T("\x00\x30\x06\x02\x01\x01\x02\x01\x01"));
    wrap(out, 0, 0x30);
}

#define CRL_NUMBER "\x30\x0A\x06\x03\x55\x1D\x14\x04\x03\x02\x01\x01"
#define REASON "\x30\x0A\x06\x03\x55\x1D\x15\x04\x03\x0A\x01\x01"

static void test_crl_entries_and_extensions_made_by_hand(void **state)
{
    (void)state;
    static const struct {
        const char *serial;
        size_t serial_n;
        const char *entry_ext;
        size_t entry_ext_n;
        const char *crl_ext;
        size_t crl_ext_n;
        const char *reason; /* NULL: parses */
    } cases[] = {
        {T("\x01\x07"), T(REASON), T(CRL_NUMBER), NULL},
        /* an entry that could never match a certificate, read as if it did nothing */
        {"", 0, NULL, 0, NULL, 0, "CRL entry: empty INTEGER"},
        {T("\x00\x01\x07"), NULL, 0, NULL, 0, "CRL entry: INTEGER not in its shortest form"},
        {T("\x87"), NULL, 0, NULL, 0, "CRL entry: serial number is not a positive INTEGER"},
        /* each extension OID once, in the CRL and in an entry */
        {T("\x07"), NULL, 0, T(CRL_NUMBER CRL_NUMBER), "CRL: extension 2.5.29.20 appears twice"},
        {T("\x07"), T(REASON REASON), NULL, 0, "CRL entry: extension 2.5.29.21 appears twice"},
    };
    kt_buf der = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        crl_by_hand(&der, cases[i].serial, cases[i].serial_n, cases[i].entry_ext,
                    cases[i].entry_ext_n, cases[i].crl_ext, cases[i].crl_ext_n);
        kt_crl c;
        kt_status st = kt_crl_parse(der.data, der.len, &c);
        const unsigned char *p = der.data;
        X509_CRL *o = d2i_X509_CRL(NULL, &p, (long)der.len);
        if (!cases[i].reason) {
            if (st) fail_msg("case %zu: %s", i, kt_last_error());
            assert_non_null(o); /* OpenSSL reads it too, and the same */
            assert_int_equal(kt_crl_crosscheck(&c, "hand-made"), KT_OK);
        } else if (st == KT_OK || !strstr(kt_last_error(), cases[i].reason)) {
            fail_msg("case %zu: expected '%s', got %s", i, cases[i].reason,
                     st ? kt_last_error() : "OK");
        }
        if (i == 1 || i == 2) assert_null(o); /* OpenSSL refuses those integers as well */
        X509_CRL_free(o);
        ERR_clear_error();
    }
    kt_buf_free(&der);
}

/* Serial numbers compare as numbers: 0x80 is 00 80 in DER, on the certificate and on the
 * CRL alike, and 0x0107 is not 0x07. */
static void test_crl_lists_serials_as_numbers(void **state)
{
    (void)state;
    kt_buf der = {0};
    crl_by_hand(&der, T("\x00\x80"), NULL, 0, NULL, 0);
    kt_crl c;
    assert_int_equal(kt_crl_parse(der.data, der.len, &c), KT_OK);
    assert_int_equal(kt_crl_crosscheck(&c, "hand-made"), KT_OK);
    kt_x509 x = {.serial = {(const uint8_t *)"\x00\x80", 2}};
    assert_true(kt_crl_lists(&c, &x));
    x.serial = (kt_der){(const uint8_t *)"\x01\x80", 2};
    assert_false(kt_crl_lists(&c, &x));
    x.serial = (kt_der){(const uint8_t *)"\x7F", 1};
    assert_false(kt_crl_lists(&c, &x));
    assert_true(kt_serial_equal((kt_der){(const uint8_t *)"\x00\x80", 2},
                                (kt_der){(const uint8_t *)"\x80", 1}));
    assert_false(kt_serial_equal((kt_der){(const uint8_t *)"\x01\x07", 2},
                                 (kt_der){(const uint8_t *)"\x07", 1}));
    kt_buf_free(&der);
}

/* The raw element spans of a SEQUENCE's contents, at most max. */
static size_t elements(kt_der seq, kt_der *out, size_t max)
{
    size_t n = 0;
    while (seq.n && n < max) {
        const uint8_t *at = seq.p;
        uint8_t tag = seq.p[0];
        kt_der v;
        assert_int_equal(kt_der_next(&seq, tag, "test", &v), KT_OK);
        out[n++] = (kt_der){at, (size_t)(seq.p - at)};
    }
    return n;
}

/* The PCK certificate's SGX extensions give each entry once: a second FMSPC, TCB or TCB
 * component would leave the reader to pick one. */
static void test_sgx_extension_entries_appear_once(void **state)
{
    (void)state;
    kt_pck_info in = {.pcesvn = 13};
    memset(in.fmspc, 0x5A, 6);
    for (int i = 0; i < 16; i++)
        in.comp[i] = (uint8_t)(i + 1);
    kt_buf enc = {0}, dup = {0};
    assert_int_equal(kt_pck_ext_encode(&in, &enc), KT_OK);
    kt_pck_info out;
    assert_int_equal(kt_pck_ext_parse(enc.data, enc.len, &out), KT_OK);
    assert_memory_equal(out.fmspc, in.fmspc, 6);
    assert_memory_equal(out.comp, in.comp, 16);
    kt_der all = {enc.data, enc.len}, body, item[8];
    assert_int_equal(kt_der_next(&all, 0x30, "test", &body), KT_OK);
    size_t n = elements(body, item, 8);
    assert_int_equal(n, 4);                         /* PPID, TCB, PCE-ID, FMSPC */
    for (size_t twice = 1; twice < 4; twice += 2) { /* TCB, then FMSPC, given twice */
        dup.len = 0;
        assert_int_equal(kt_buf_append(&dup, body.p, body.n), KT_OK);
        assert_int_equal(kt_buf_append(&dup, item[twice].p, item[twice].n), KT_OK);
        wrap(&dup, 0, 0x30);
        assert_fails_with(kt_pck_ext_parse(dup.data, dup.len, &out), KT_ERR_MALFORMED,
                          twice == 1 ? "entry 2 (TCB) appears twice"
                                     : "entry 4 (FMSPC) appears twice");
    }
    /* inside the TCB: its first component a second time, at the end */
    kt_der tcb = item[1], tcb_seq, tcb_oid, tcb_items, comp[20];
    assert_int_equal(kt_der_next(&tcb, 0x30, "test", &tcb_seq), KT_OK);
    const uint8_t *oid_at = tcb_seq.p;
    assert_int_equal(kt_der_next(&tcb_seq, 0x06, "test", &tcb_oid), KT_OK);
    size_t oid_n = (size_t)(tcb_seq.p - oid_at);
    assert_int_equal(kt_der_next(&tcb_seq, 0x30, "test", &tcb_items), KT_OK);
    assert_int_equal(elements(tcb_items, comp, 20), 18);
    dup.len = 0;
    assert_int_equal(kt_buf_append(&dup, item[0].p, item[0].n), KT_OK);
    size_t at = dup.len;
    assert_int_equal(kt_buf_append(&dup, oid_at, oid_n), KT_OK);
    size_t inner = dup.len;
    assert_int_equal(kt_buf_append(&dup, tcb_items.p, tcb_items.n), KT_OK);
    assert_int_equal(kt_buf_append(&dup, comp[0].p, comp[0].n), KT_OK);
    wrap(&dup, inner, 0x30);
    wrap(&dup, at, 0x30);
    assert_int_equal(kt_buf_append(&dup, item[2].p, item[2].n), KT_OK);
    assert_int_equal(kt_buf_append(&dup, item[3].p, item[3].n), KT_OK);
    wrap(&dup, 0, 0x30);
    assert_fails_with(kt_pck_ext_parse(dup.data, dup.len, &out), KT_ERR_MALFORMED,
                      "TCB entry 1 appears twice");
    kt_buf_free(&enc);
    kt_buf_free(&dup);
}

/* Bytes a reader could take or leave are refused: after the extension's SEQUENCE, and
 * after an entry's value (a second FMSPC inside the FMSPC entry). */
static void test_sgx_extension_has_nothing_after_its_values(void **state)
{
    (void)state;
    kt_pck_info in = {.pcesvn = 13}, out;
    memset(in.fmspc, 0x5A, 6);
    kt_buf enc = {0}, bad = {0};
    assert_int_equal(kt_pck_ext_encode(&in, &enc), KT_OK);
    assert_int_equal(kt_buf_append(&bad, enc.data, enc.len), KT_OK);
    assert_int_equal(kt_buf_append(&bad, "\x04\x00", 2), KT_OK);
    assert_fails_with(kt_pck_ext_parse(bad.data, bad.len, &out), KT_ERR_MALFORMED,
                      "2 bytes after its SEQUENCE");
    kt_der all = {enc.data, enc.len}, body, item[8];
    assert_int_equal(kt_der_next(&all, 0x30, "test", &body), KT_OK);
    assert_int_equal(elements(body, item, 8), 4);
    /* the FMSPC entry again, with another OCTET STRING after its value */
    bad.len = 0;
    for (int i = 0; i < 3; i++)
        assert_int_equal(kt_buf_append(&bad, item[i].p, item[i].n), KT_OK);
    kt_der fmspc = item[3], entry;
    assert_int_equal(kt_der_next(&fmspc, 0x30, "test", &entry), KT_OK);
    size_t at = bad.len;
    assert_int_equal(kt_buf_append(&bad, entry.p, entry.n), KT_OK);
    assert_int_equal(kt_buf_append(&bad, "\x04\x06\x11\x11\x11\x11\x11\x11", 8), KT_OK);
    wrap(&bad, at, 0x30);
    wrap(&bad, 0, 0x30);
    assert_fails_with(kt_pck_ext_parse(bad.data, bad.len, &out), KT_ERR_MALFORMED,
                      "8 bytes after FMSPC");
    kt_buf_free(&enc);
    kt_buf_free(&bad);
}

/* ---- the second reading ---- */

/* OpenSSL's reading of the same DER is compared field by field: a view that differs from
 * it in any field the verifier uses is refused, naming the field. */
static void test_openssl_disagreeing_on_a_field_is_refused_by_name(void **state)
{
    (void)state;
    const spec ca_s = {.cn = "Cross CA",
                       .bc = "critical,CA:TRUE,pathlen:1",
                       .ku = "critical,keyCertSign,cRLSign",
                       .raw = {{"1.2.840.113741.1.13.1", "\x30\x00", 2, false},
                               {"2.5.29.14", "\x04\x01\x01", 3, false}}};
    made ca, other;
    issue(&ca, &ca_s, NULL, 0x80);
    issue(&other, &(spec){.cn = "Other"}, NULL, 9);
    assert_int_equal(kt_x509_crosscheck(&ca.v, "t"), KT_OK);
    static const char *const fields[] = {
        "signed bytes",
        "serial number",
        "signature",
        "issuer",
        "subject",
        "notBefore",
        "notAfter",
        "public key",
        "basicConstraints cA",
        "pathLenConstraint",
        "keyUsage",
        "keyUsage",
        "SGX extensions",
        "CRL distribution points",
        "it does not decode",
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        kt_x509 x = ca.v;
        switch (i) {
        case 0:
            x.tbs.n--;
            break;
        case 1:
            x.serial = (kt_der){(const uint8_t *)"\x01\x80", 2};
            break;
        case 2:
            x.sig[63] ^= 1;
            break;
        case 3:
            x.issuer = other.v.issuer;
            break;
        case 4:
            x.subject = other.v.subject;
            break;
        case 5:
            x.not_before++;
            break;
        case 6:
            x.not_after--;
            break;
        case 7:
            x.pub[0] ^= 1;
            break;
        case 8:
            x.is_ca = false;
            break;
        case 9:
            x.path_len = 2;
            break;
        case 10:
            x.key_usage |= KT_KU_DIGITAL_SIGNATURE;
            break;
        case 11:
            x.has_key_usage = false;
            break;
        case 12:
            x.sgx_ext = (kt_der){0};
            break;
        case 13:
            x.crl_dp = x.sgx_ext;
            break;
        case 14:
            x.der.n--;
            break;
        }
        char want[80];
        snprintf(want, sizeof want, "otherwise than kubetee (%s", fields[i]);
        assert_fails_with(kt_x509_crosscheck(&x, "t"), KT_ERR_MALFORMED, want);
    }
    /* the serial compares as a number: 0x80, written 00 80 */
    assert_int_equal(ca.v.serial.n, 2);

    kt_buf der = {0};
    crl_by_hand(&der, T("\x07"), NULL, 0, T(CRL_NUMBER));
    kt_crl c;
    assert_int_equal(kt_crl_parse(der.data, der.len, &c), KT_OK);
    assert_int_equal(kt_crl_crosscheck_once(&c, "t"), KT_OK);
    assert_int_equal(kt_crl_crosscheck_once(&c, "t"), KT_OK); /* remembered */
    static const char *const crl_fields[] = {"thisUpdate", "nextUpdate", "issuer",
                                             "revoked serial numbers", "signature"};
    for (size_t i = 0; i < sizeof crl_fields / sizeof crl_fields[0]; i++) {
        kt_crl t = c;
        switch (i) {
        case 0:
            t.this_update--;
            break;
        case 1:
            t.next_update++;
            break;
        case 2:
            t.issuer = ca.v.subject;
            break;
        case 3:
            t.revoked = (kt_der){0};
            break;
        case 4:
            t.sig[0] ^= 1;
            break;
        }
        char want[80];
        snprintf(want, sizeof want, "CRL otherwise than kubetee (%s)", crl_fields[i]);
        assert_fails_with(kt_crl_crosscheck(&t, "t"), KT_ERR_MALFORMED, want);
    }
    kt_buf_free(&der);
    made_free(&ca);
    made_free(&other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intel_certificates_and_crls_read_as_openssl_reads_them),
        cmocka_unit_test(test_certificates_outside_the_profile_are_refused),
        cmocka_unit_test(test_der_lengths_are_definite_and_shortest),
        cmocka_unit_test(test_pem_chains_refuse_what_is_not_a_chain),
        cmocka_unit_test(test_issuance_rules_each_refuse_their_case),
        cmocka_unit_test(test_der_integers_are_shortest_and_oids_well_formed),
        cmocka_unit_test(test_crl_entries_and_extensions_made_by_hand),
        cmocka_unit_test(test_crl_lists_serials_as_numbers),
        cmocka_unit_test(test_sgx_extension_entries_appear_once),
        cmocka_unit_test(test_sgx_extension_has_nothing_after_its_values),
        cmocka_unit_test(test_openssl_disagreeing_on_a_field_is_refused_by_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
