/* Never-export keys used in place (src/aecs/keyuse.c, as the AECS enclave runs it): each
 * key's scheme checked by an independent verifier (kt_verify, OpenSSL), round trips, and
 * every tampered input and wrong operation refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <kubetee/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "../../src/aecs/keyuse.h"

static const uint8_t msg[] = "the message a TA has AECS sign";

static kt_status use(const kt_aecs_key *k, kt_aecs_key_op op, const void *in, size_t n, const char *aad, kt_buf *out,
                     const char **alg)
{
    out->len = 0;
    return kt_aecs_key_use(k, op, in, n, (const uint8_t *)aad, aad ? strlen(aad) : 0, out, alg);
}

static void ec_signs(kt_key_type type, const char *want_alg)
{
    kt_key *key = NULL, *pub = NULL;
    kt_buf pem = {0}, pubpem = {0}, sig = {0};
    const char *alg;
    assert_int_equal(kt_key_generate(type, &key), KT_OK);
    assert_int_equal(kt_key_to_pem(key, true, &pem), KT_OK);
    assert_int_equal(kt_key_to_pem(key, false, &pubpem), KT_OK);
    assert_int_equal(kt_key_from_pem((const char *)pubpem.data, pubpem.len, &pub), KT_OK);
    kt_aecs_key k = {.name = "k", .kind = KT_AECS_KEY_EC, .key = pem.data, .key_len = pem.len};
    assert_int_equal(use(&k, KT_AECS_SIGN, msg, sizeof msg, NULL, &sig, &alg), KT_OK);
    assert_string_equal(alg, want_alg);
    assert_int_equal(kt_verify(pub, msg, sizeof msg, sig.data, sig.len), KT_OK);
    assert_int_equal(kt_verify(pub, msg, sizeof msg - 1, sig.data, sig.len), KT_ERR_VERIFY);
    /* again, from the key as it was read the first time */
    assert_int_equal(use(&k, KT_AECS_SIGN, msg, 5, NULL, &sig, &alg), KT_OK);
    assert_int_equal(kt_verify(pub, msg, 5, sig.data, sig.len), KT_OK);
    /* an elliptic-curve key only signs, and takes no aad */
    for (int op = KT_AECS_ENCRYPT; op <= KT_AECS_UNWRAP; op++)
        assert_int_equal(use(&k, (kt_aecs_key_op)op, msg, sizeof msg, NULL, &sig, &alg), KT_ERR_INVALID_ARGUMENT);
    assert_int_equal(use(&k, KT_AECS_SIGN, msg, sizeof msg, "aad", &sig, &alg), KT_ERR_INVALID_ARGUMENT);
    /* several messages, the key read once: each signature its own message's */
    kt_bytes in[3] = {{msg, 4}, {msg, 9}, {msg, sizeof msg}};
    kt_buf each[3] = {{0}};
    alg = "";
    assert_int_equal(kt_aecs_key_sign_each(&k, in, 3, each, &alg), KT_OK);
    assert_string_equal(alg, want_alg);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(kt_verify(pub, in[i].p, in[i].n, each[i].data, each[i].len), KT_OK);
        assert_int_equal(kt_verify(pub, in[(i + 1) % 3].p, in[(i + 1) % 3].n, each[i].data, each[i].len), KT_ERR_VERIFY);
        kt_buf_free(&each[i]);
    }
    kt_key_free(key), kt_key_free(pub);
    kt_buf_free(&pem), kt_buf_free(&pubpem), kt_buf_free(&sig);
}

static void test_p256_and_sm2_sign(void **state)
{
    (void)state;
    ec_signs(KT_KEY_P256, "ecdsa-p256-sha256");
    ec_signs(KT_KEY_SM2, "sm2-sm3");
}

static int openssl_verify(EVP_PKEY *pk, int padding, const kt_buf *sig)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    EVP_PKEY_CTX *p = NULL;
    int ok = EVP_DigestVerifyInit(m, &p, EVP_sha256(), NULL, pk) == 1 && EVP_PKEY_CTX_set_rsa_padding(p, padding) > 0 &&
             (padding != RSA_PKCS1_PSS_PADDING || EVP_PKEY_CTX_set_rsa_pss_saltlen(p, 32) > 0) &&
             EVP_DigestVerify(m, sig->data, sig->len, msg, sizeof msg) == 1;
    EVP_MD_CTX_free(m);
    return ok;
}

static void test_rsa_signs_by_its_padding_and_oaep_round_trips(void **state)
{
    (void)state;
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    assert_non_null(pk);
    BIO *b = BIO_new(BIO_s_mem());
    assert_true(PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL));
    char *p;
    long n = BIO_get_mem_data(b, &p);
    kt_aecs_key k = {.name = "rsa", .kind = KT_AECS_KEY_RSA, .key = (const uint8_t *)p, .key_len = (size_t)n};
    kt_buf out = {0}, ct = {0};
    const char *alg;
    /* PSS (salt 32) by default: a PKCS#1 v1.5 verifier refuses it */
    assert_int_equal(use(&k, KT_AECS_SIGN, msg, sizeof msg, NULL, &out, &alg), KT_OK);
    assert_string_equal(alg, "rsa-pss-sha256");
    assert_int_equal(out.len, 256);
    assert_true(openssl_verify(pk, RSA_PKCS1_PSS_PADDING, &out));
    assert_false(openssl_verify(pk, RSA_PKCS1_PADDING, &out));
    k.pkcs1 = true;
    assert_int_equal(use(&k, KT_AECS_SIGN, msg, sizeof msg, NULL, &out, &alg), KT_OK);
    assert_string_equal(alg, "rsa-pkcs1-sha256");
    assert_true(openssl_verify(pk, RSA_PKCS1_PADDING, &out));
    assert_false(openssl_verify(pk, RSA_PKCS1_PSS_PADDING, &out));
    /* OAEP-SHA256: what Encrypt makes, Decrypt opens; a flipped bit does not */
    assert_int_equal(use(&k, KT_AECS_ENCRYPT, msg, sizeof msg, NULL, &ct, &alg), KT_OK);
    assert_string_equal(alg, "rsa-oaep-sha256");
    assert_int_equal(ct.len, 256);
    kt_buf ct2 = {0};
    kt_buf_append(&ct2, ct.data, ct.len);
    assert_int_equal(use(&k, KT_AECS_DECRYPT, ct.data, ct.len, NULL, &out, &alg), KT_OK);
    assert_int_equal(out.len, sizeof msg);
    assert_memory_equal(out.data, msg, sizeof msg);
    ct2.data[100] ^= 1;
    assert_int_equal(use(&k, KT_AECS_DECRYPT, ct2.data, ct2.len, NULL, &out, &alg), KT_ERR_VERIFY);
    /* an input too long for the key, and wrapping, are refused */
    uint8_t big[300] = {0};
    assert_int_equal(use(&k, KT_AECS_ENCRYPT, big, sizeof big, NULL, &out, &alg), KT_ERR_INVALID_ARGUMENT);
    assert_int_equal(use(&k, KT_AECS_WRAP, msg, sizeof msg, NULL, &out, &alg), KT_ERR_INVALID_ARGUMENT);
    kt_buf_free(&out), kt_buf_free(&ct), kt_buf_free(&ct2);
    BIO_free(b);
    EVP_PKEY_free(pk);
}

static void test_aes_gcm_and_key_wrap(void **state)
{
    (void)state;
    uint8_t key[32], dek[32];
    kt_random(key, 32);
    kt_random(dek, 32);
    kt_aecs_key k = {.name = "kek", .kind = KT_AECS_KEY_AES256, .key = key, .key_len = 32};
    kt_buf ct = {0}, out = {0}, w = {0};
    const char *alg;
    assert_int_equal(use(&k, KT_AECS_ENCRYPT, msg, sizeof msg, "hdr", &ct, &alg), KT_OK);
    assert_string_equal(alg, "aes-256-gcm");
    assert_int_equal(ct.len, sizeof msg + 28);
    /* an independent open: kt_aead_open with the iv first and the tag last */
    uint8_t plain[sizeof msg];
    assert_int_equal(kt_aead_open(key, ct.data, (const uint8_t *)"hdr", 3, ct.data + 12, sizeof msg,
                                  ct.data + 12 + sizeof msg, plain), KT_OK);
    assert_memory_equal(plain, msg, sizeof msg);
    assert_int_equal(use(&k, KT_AECS_DECRYPT, ct.data, ct.len, "hdr", &out, &alg), KT_OK);
    assert_memory_equal(out.data, msg, sizeof msg);
    assert_int_equal(use(&k, KT_AECS_DECRYPT, ct.data, ct.len, "HDR", &out, &alg), KT_ERR_VERIFY);
    ct.data[20] ^= 1;
    assert_int_equal(use(&k, KT_AECS_DECRYPT, ct.data, ct.len, "hdr", &out, &alg), KT_ERR_VERIFY);
    assert_int_equal(use(&k, KT_AECS_DECRYPT, ct.data, 27, NULL, &out, &alg), KT_ERR_VERIFY);
    /* AES-KWP (RFC 5649): 32 bytes wrap to 40 and back; tampered, the integrity check fails */
    assert_int_equal(use(&k, KT_AECS_WRAP, dek, 32, NULL, &w, &alg), KT_OK);
    assert_string_equal(alg, "aes-256-kwp");
    assert_int_equal(w.len, 40);
    assert_int_equal(use(&k, KT_AECS_UNWRAP, w.data, w.len, NULL, &out, &alg), KT_OK);
    assert_int_equal(out.len, 32);
    assert_memory_equal(out.data, dek, 32);
    assert_int_equal(use(&k, KT_AECS_WRAP, dek, 20, NULL, &out, &alg), KT_OK);
    assert_int_equal(out.len, 32); /* padded to 8, plus the 8-byte integrity block */
    w.data[5] ^= 1;
    assert_int_equal(use(&k, KT_AECS_UNWRAP, w.data, w.len, NULL, &out, &alg), KT_ERR_VERIFY);
    assert_int_equal(use(&k, KT_AECS_WRAP, dek, 32, "aad", &out, &alg), KT_ERR_INVALID_ARGUMENT);
    assert_int_equal(use(&k, KT_AECS_WRAP, dek, 0, NULL, &out, &alg), KT_ERR_INVALID_ARGUMENT);
    /* GCM wrapping: its own label, so a wrapped key is no ciphertext Decrypt opens */
    k.wrap_gcm = true;
    assert_int_equal(use(&k, KT_AECS_WRAP, dek, 32, "ctx", &w, &alg), KT_OK);
    assert_string_equal(alg, "aes-256-gcm-wrap");
    assert_int_equal(use(&k, KT_AECS_UNWRAP, w.data, w.len, "ctx", &out, &alg), KT_OK);
    assert_memory_equal(out.data, dek, 32);
    assert_int_equal(use(&k, KT_AECS_DECRYPT, w.data, w.len, "ctx", &out, &alg), KT_ERR_VERIFY);
    assert_int_equal(use(&k, KT_AECS_UNWRAP, w.data, w.len, "other", &out, &alg), KT_ERR_VERIFY);
    /* an AES key does not sign; a key that is not 32 bytes is damage */
    assert_int_equal(use(&k, KT_AECS_SIGN, msg, sizeof msg, NULL, &out, &alg), KT_ERR_INVALID_ARGUMENT);
    k.key_len = 31;
    assert_int_equal(use(&k, KT_AECS_ENCRYPT, msg, sizeof msg, NULL, &out, &alg), KT_ERR_VERIFY);
    kt_buf_free(&ct), kt_buf_free(&out), kt_buf_free(&w);
}

static void test_sizes_refused(void **state)
{
    (void)state;
    uint8_t key[32] = {0};
    kt_aecs_key k = {.name = "k", .kind = KT_AECS_KEY_AES256, .key = key, .key_len = 32};
    kt_buf out = {0};
    const char *alg;
    static uint8_t big[KT_AECS_KEY_INPUT_MAX + 1];
    assert_int_equal(use(&k, KT_AECS_ENCRYPT, big, sizeof big, NULL, &out, &alg), KT_ERR_TOO_LARGE);
    assert_int_equal(use(&k, KT_AECS_WRAP, big, KT_AECS_WRAP_MAX + 1, NULL, &out, &alg), KT_ERR_INVALID_ARGUMENT);
    kt_aecs_key bad = {.name = "k", .kind = KT_AECS_KEY_EC, .key = (const uint8_t *)"junk", .key_len = 4};
    assert_int_equal(use(&bad, KT_AECS_SIGN, "m", 1, NULL, &out, &alg), KT_ERR_VERIFY);
    /* signing each of several: an input over the limit, a key that does not read back, a key that does not sign */
    kt_bytes in[2] = {{(const uint8_t *)"m", 1}, {big, sizeof big}};
    kt_buf each[2] = {{0}};
    assert_int_equal(kt_aecs_key_sign_each(&bad, in, 2, each, &alg), KT_ERR_TOO_LARGE);
    assert_int_equal(kt_aecs_key_sign_each(&bad, in, 1, each, &alg), KT_ERR_VERIFY);
    assert_int_equal(kt_aecs_key_sign_each(&k, in, 1, each, &alg), KT_ERR_INVALID_ARGUMENT);
    assert_int_equal(each[0].len, 0);
    kt_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_p256_and_sm2_sign),
        cmocka_unit_test(test_rsa_signs_by_its_padding_and_oaep_round_trips),
        cmocka_unit_test(test_aes_gcm_and_key_wrap),
        cmocka_unit_test(test_sizes_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
