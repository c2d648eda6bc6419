/* pkcs11: enclave signing keys in a real SoftHSM2 token made by the test. Keys are made
 * in the token and stay there (the token refuses to give out their private parts), an
 * enclave signed in the token verifies and loads, and keys that are not held as signing
 * keys must be (extractable, another exponent, two of one label) are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "softhsm.h"
#include "testutil.h"
#include <kubetee/image.h>
#include <kubetee/pkcs11.h>
#include <kubetee/tff.h>

#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64] = "/tmp/kt-p11-XXXXXX";
static kt_p11 *token;

static kt_buf pin_of(const char *s)
{
    kt_buf b = {0};
    assert_int_equal(kt_buf_append(&b, s, strlen(s)), KT_OK);
    return b;
}

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir) || softhsm_token(dir, "kt-test", "24680")) return -1;
    kt_buf pin = pin_of("24680");
    kt_status st = kt_p11_open(SOFTHSM_MODULE, "kt-test", &pin, &token);
    kt_buf_free(&pin);
    if (st) fprintf(stderr, "open: %s\n", kt_last_error());
    return st ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    kt_p11_free(token);
    return rm_tree(dir);
}

/* ---- the token's own view, through PKCS#11 directly (not through kt_p11) ---- */
typedef struct {
    CK_FUNCTION_LIST *f;
    CK_SESSION_HANDLE s;
} raw_token;

static void raw_open(raw_token *r)
{
    r->f = p11_kit_module_load(SOFTHSM_MODULE, 0);
    assert_non_null(r->f);
    assert_int_equal(p11_kit_module_initialize(r->f), CKR_OK);
    CK_SLOT_ID slots[8];
    CK_ULONG n = 8;
    assert_int_equal(r->f->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
    assert_true(n >= 1);
    assert_int_equal(r->f->C_OpenSession(slots[0], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
                                         NULL, &r->s),
                     CKR_OK);
    CK_RV rv = r->f->C_Login(r->s, CKU_USER, (CK_UTF8CHAR_PTR) "24680", 5);
    assert_true(rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN);
}

static void raw_close(raw_token *r)
{
    r->f->C_CloseSession(r->s);
    p11_kit_module_finalize(r->f);
    p11_kit_module_release(r->f);
}

static CK_OBJECT_HANDLE raw_find(raw_token *r, const char *label)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_LABEL, (void *)label, strlen(label)}};
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ULONG n = 0;
    assert_int_equal(r->f->C_FindObjectsInit(r->s, t, 2), CKR_OK);
    assert_int_equal(r->f->C_FindObjects(r->s, &h, 1, &n), CKR_OK);
    r->f->C_FindObjectsFinal(r->s);
    assert_int_equal(n, 1);
    return h;
}

/* A key pair made directly, with the attributes a careless operator might choose. */
static void raw_generate(raw_token *r, const char *label, CK_BBOOL extractable, bool e3)
{
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG bits = 3072;
    CK_BYTE three[] = {3}, f4[] = {1, 0, 1}; /* 3, or 65537 */
    CK_ATTRIBUTE pub[] = {{CKA_TOKEN, &yes, 1},
                          {CKA_MODULUS_BITS, &bits, sizeof bits},
                          {CKA_PUBLIC_EXPONENT, e3 ? three : f4, e3 ? 1 : 3},
                          {CKA_LABEL, (void *)label, strlen(label)}};
    CK_ATTRIBUTE priv[] = {{CKA_TOKEN, &yes, 1},
                           {CKA_PRIVATE, &yes, 1},
                           {CKA_SENSITIVE, extractable ? &no : &yes, 1},
                           {CKA_EXTRACTABLE, &extractable, 1},
                           {CKA_SIGN, &yes, 1},
                           {CKA_LABEL, (void *)label, strlen(label)}};
    CK_MECHANISM m = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    CK_OBJECT_HANDLE a, b;
    assert_int_equal(r->f->C_GenerateKeyPair(r->s, &m, pub, 4, priv, 6, &a, &b), CKR_OK);
}

static void test_generated_key_stays_in_the_token(void **state)
{
    (void)state;
    kt_p11_key *k;
    assert_int_equal(kt_p11_generate(token, "release-1", &k), KT_OK);
    kt_p11_attrs a;
    assert_int_equal(kt_p11_key_attributes(k, &a), KT_OK);
    assert_true(a.token && a.private_obj && a.sensitive && a.always_sensitive);
    assert_false(a.extractable);
    assert_true(a.never_extractable && a.value_refused);
    /* the public half is RSA-3072 with e=3 */
    uint8_t mod[KT_RSA3072_LEN];
    size_t n;
    assert_int_equal(kt_key_public_raw(kt_p11_key_public(k), mod, sizeof mod, &n), KT_OK);
    assert_int_equal(n, 384);
    assert_false(kt_key_has_private(kt_p11_key_public(k)));
    kt_p11_key_free(k);

    /* the token itself refuses the private parts, and refuses to make the key extractable */
    raw_token r;
    raw_open(&r);
    CK_OBJECT_HANDLE h = raw_find(&r, "release-1");
    static const CK_ATTRIBUTE_TYPE secret[] = {CKA_VALUE, CKA_PRIVATE_EXPONENT, CKA_PRIME_1,
                                               CKA_PRIME_2, CKA_EXPONENT_1, CKA_COEFFICIENT};
    for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++) {
        uint8_t buf[512];
        CK_ATTRIBUTE at = {secret[i], buf, sizeof buf};
        CK_RV rv = r.f->C_GetAttributeValue(r.s, h, &at, 1);
        assert_true(rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID);
        assert_int_equal((long)at.ulValueLen, (long)CK_UNAVAILABLE_INFORMATION);
    }
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE set = {CKA_EXTRACTABLE, &yes, 1};
    assert_int_not_equal(r.f->C_SetAttributeValue(r.s, h, &set, 1), CKR_OK);
    /* wrapping it out is refused too */
    CK_MECHANISM wrap = {CKM_RSA_PKCS, NULL, 0};
    CK_ULONG wlen = 0;
    assert_int_not_equal(r.f->C_WrapKey(r.s, &wrap, h, h, NULL, &wlen), CKR_OK);
    raw_close(&r);
}

static void test_sign_enclave_in_token_then_load(void **state)
{
    (void)state;
    kt_p11_key *k;
    assert_int_equal(kt_p11_generate(token, "release-load", &k), KT_OK);
    char path[512], out_path[600];
    snprintf(path, sizeof path, "%s/tests/enclaves/tfftest.so", KT_TEST_BINARY_DIR);
    kt_buf elf = {0}, signed_image = {0};
    assert_int_equal(kt_file_read(path, KT_IMAGE_MAX, &elf), KT_OK);
    kt_enclave_config c;
    kt_enclave_config_default(&c);
    c.prodid = 9;
    c.svn = 4;
    c.tcs_count = 2;
    uint8_t sd[KT_SIGDATA_LEN], sig[KT_RSA3072_LEN];
    assert_int_equal(kt_image_gendata(elf.data, elf.len, &c, kt_sigstruct_today(), sd), KT_OK);
    assert_int_equal(kt_p11_sign(k, sd, sizeof sd, sig), KT_OK);
    /* the same bytes an external signer's PKCS#1 v1.5 SHA-256 signature makes */
    assert_int_equal(kt_verify(kt_p11_key_public(k), sd, sizeof sd, sig, sizeof sig), KT_OK);
    assert_int_equal(kt_image_catsig(elf.data, elf.len, &c, sd, kt_p11_key_public(k), sig,
                                     sizeof sig, &signed_image),
                     KT_OK);
    kt_signed_image img;
    kt_enclave_identity id;
    assert_int_equal(kt_image_verify(signed_image.data, signed_image.len, &img, &id), KT_OK);
    assert_int_equal(id.config.prodid, 9);
    /* MRSIGNER is SHA-256 of the token key's modulus, little-endian */
    uint8_t mod[KT_RSA3072_LEN], le[KT_RSA3072_LEN], mrsigner[32];
    size_t n;
    assert_int_equal(kt_key_public_raw(kt_p11_key_public(k), mod, sizeof mod, &n), KT_OK);
    for (size_t i = 0; i < n; i++)
        le[i] = mod[n - 1 - i];
    assert_int_equal(kt_sha256(le, sizeof le, mrsigner), KT_OK);
    assert_memory_equal(id.mrsigner, mrsigner, 32);

    /* and it loads on sim, with the loader pinned to that signer */
    snprintf(out_path, sizeof out_path, "%s/p11.signed.so", dir);
    assert_int_equal(
        kt_file_write_atomic(out_path, signed_image.data, signed_image.len, 0644), KT_OK);
    char sim[600];
    snprintf(sim, sizeof sim, "%s/sim", dir);
    kt_enclave_options o = {.sim_dir = sim, .expect_mrsigner = mrsigner};
    kt_enclave *e = NULL;
    if (kt_enclave_create(out_path, &o, &e)) fail_msg("loading: %s", kt_last_error());
    assert_memory_equal(kt_enclave_identity_of(e)->mrsigner, mrsigner, 32);
    kt_enclave_destroy(e);
    /* a signature over other bytes does not make a SIGSTRUCT */
    sd[200] ^= 1;
    kt_buf bad = {0};
    assert_int_not_equal(kt_image_catsig(elf.data, elf.len, &c, sd, kt_p11_key_public(k), sig,
                                         sizeof sig, &bad),
                         KT_OK);
    kt_buf_free(&bad);
    kt_buf_free(&elf);
    kt_buf_free(&signed_image);
    kt_p11_key_free(k);
}

static void test_found_by_label_same_key(void **state)
{
    (void)state;
    kt_p11_key *a, *b;
    assert_int_equal(kt_p11_generate(token, "release-find", &a), KT_OK);
    assert_int_equal(kt_p11_key_find(token, "release-find", &b), KT_OK);
    uint8_t ma[384], mb[384];
    size_t n;
    assert_int_equal(kt_key_public_raw(kt_p11_key_public(a), ma, sizeof ma, &n), KT_OK);
    assert_int_equal(kt_key_public_raw(kt_p11_key_public(b), mb, sizeof mb, &n), KT_OK);
    assert_memory_equal(ma, mb, 384);
    /* a second key of the same label is refused */
    kt_p11_key *c = NULL;
    assert_fails_with(kt_p11_generate(token, "release-find", &c), KT_ERR_EXISTS, "already holds");
    assert_null(c);
    assert_fails_with(kt_p11_key_find(token, "no-such-key", &c), KT_ERR_NOT_FOUND,
                      "no key labelled 'no-such-key'");
    assert_fails_with(kt_p11_key_find(token, " padded", &c), KT_ERR_INVALID_ARGUMENT, "space");
    assert_fails_with(kt_p11_key_find(token, "", &c), KT_ERR_INVALID_ARGUMENT, "1 to 64");
    assert_fails_with(kt_p11_key_find(token, "bad\nlabel", &c), KT_ERR_INVALID_ARGUMENT,
                      "bad\\x0alabel");
    kt_p11_key_free(a);
    kt_p11_key_free(b);
}

static kt_status collect(void *arg, const char *label)
{
    kt_buf *b = arg;
    kt_status st = kt_buf_append(b, label, strlen(label));
    return st ? st : kt_buf_append(b, ";", 1);
}

static void test_keys_held_otherwise_are_refused(void **state)
{
    (void)state;
    raw_token r;
    raw_open(&r);
    raw_generate(&r, "exportable", CK_TRUE, true);
    raw_generate(&r, "e65537", CK_FALSE, false);
    raw_close(&r);
    kt_p11_key *k = NULL;
    assert_fails_with(kt_p11_key_find(token, "exportable", &k), KT_ERR_DENIED,
                      "not held as a signing key must be");
    assert_null(k);
    assert_fails_with(kt_p11_key_find(token, "e65537", &k), KT_ERR_DENIED, "public exponent 3");
    /* two keys of one label: ambiguous */
    raw_open(&r);
    raw_generate(&r, "twice", CK_FALSE, true);
    raw_generate(&r, "twice", CK_FALSE, true);
    raw_close(&r);
    assert_fails_with(kt_p11_key_find(token, "twice", &k), KT_ERR_DENIED, "ambiguous");
    kt_buf labels = {0};
    assert_int_equal(kt_p11_list(token, collect, &labels), KT_OK);
    assert_int_equal(kt_buf_append(&labels, "", 1), KT_OK);
    assert_non_null(strstr((char *)labels.data, "exportable;"));
    kt_buf_free(&labels);
}

static void test_open_refusals(void **state)
{
    (void)state;
    kt_p11 *t = NULL;
    kt_buf wrong = pin_of("13579"), pin = pin_of("24680");
    /* a second login in one process is refused: the token would not check its PIN */
    assert_fails_with(kt_p11_open(SOFTHSM_MODULE, "kt-test", &wrong, &t), KT_ERR_STATE,
                      "logged in already");
    assert_null(t);
    kt_p11_free(token);
    token = NULL;
    assert_fails_with(kt_p11_open(SOFTHSM_MODULE, "kt-test", &wrong, &t), KT_ERR_DENIED,
                      "PIN is wrong");
    assert_null(t);
    assert_fails_with(kt_p11_open(SOFTHSM_MODULE, "other", &pin, &t), KT_ERR_NOT_FOUND,
                      "no token labelled 'other'");
    assert_fails_with(kt_p11_open("libsofthsm2.so", "kt-test", &pin, &t),
                      KT_ERR_INVALID_ARGUMENT, "absolute path");
    assert_fails_with(kt_p11_open("/nonexistent/module.so", "kt-test", &pin, &t),
                      KT_ERR_NOT_FOUND, "does not load");
    assert_int_equal(kt_p11_open(SOFTHSM_MODULE, "kt-test", &pin, &token), KT_OK);
    kt_buf_free(&wrong);
    kt_buf_free(&pin);
}

static void test_pin_from_file_or_env_only(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/pin", dir);
    kt_buf pin = {0};
    assert_int_equal(kt_file_write_atomic(path, "24680\n", 6, 0600), KT_OK);
    assert_int_equal(kt_p11_pin_read(path, NULL, &pin), KT_OK);
    assert_int_equal(pin.len, 5);
    assert_memory_equal(pin.data, "24680", 5);
    chmod(path, 0644);
    assert_fails_with(kt_p11_pin_read(path, NULL, &pin), KT_ERR_DENIED, "group or others");
    assert_int_equal(kt_file_write_atomic(path, "24680\nmore\n", 11, 0600), KT_OK);
    assert_fails_with(kt_p11_pin_read(path, NULL, &pin), KT_ERR_INVALID_ARGUMENT,
                      "not printable");
    assert_int_equal(kt_file_write_atomic(path, "", 0, 0600), KT_OK);
    assert_fails_with(kt_p11_pin_read(path, NULL, &pin), KT_ERR_INVALID_ARGUMENT, "empty");
    setenv("KT_TEST_PIN", "24680", 1);
    assert_int_equal(kt_p11_pin_read(NULL, "KT_TEST_PIN", &pin), KT_OK);
    assert_int_equal(pin.len, 5);
    unsetenv("KT_TEST_PIN");
    assert_fails_with(kt_p11_pin_read(NULL, "KT_TEST_PIN", &pin), KT_ERR_NOT_FOUND, "not set");
    assert_fails_with(kt_p11_pin_read(path, "KT_TEST_PIN", &pin), KT_ERR_INVALID_ARGUMENT,
                      "exactly one");
    assert_fails_with(kt_p11_pin_read(NULL, NULL, &pin), KT_ERR_INVALID_ARGUMENT, "exactly one");
    kt_buf_free(&pin);
}

typedef struct {
    kt_p11_key *k;
    int ok;
} signer_arg;

static void *sign_many(void *p)
{
    signer_arg *a = p;
    uint8_t msg[KT_SIGDATA_LEN], sig[KT_RSA3072_LEN];
    for (int i = 0; i < 8; i++) {
        memset(msg, i, sizeof msg);
        if (kt_p11_sign(a->k, msg, sizeof msg, sig) == KT_OK &&
            kt_verify(kt_p11_key_public(a->k), msg, sizeof msg, sig, sizeof sig) == KT_OK)
            a->ok++;
    }
    return NULL;
}

static void test_concurrent_signs(void **state)
{
    (void)state;
    kt_p11_key *k;
    assert_int_equal(kt_p11_generate(token, "release-threads", &k), KT_OK);
    pthread_t th[4];
    signer_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (signer_arg){k, 0};
        assert_int_equal(pthread_create(&th[i], NULL, sign_many, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(a[i].ok, 8);
    }
    kt_p11_key_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generated_key_stays_in_the_token),
        cmocka_unit_test(test_sign_enclave_in_token_then_load),
        cmocka_unit_test(test_found_by_label_same_key),
        cmocka_unit_test(test_keys_held_otherwise_are_refused),
        cmocka_unit_test(test_open_refusals),
        cmocka_unit_test(test_pin_from_file_or_env_only),
        cmocka_unit_test(test_concurrent_signs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
