#define _GNU_SOURCE /* memmem */
/* crypto: published vectors (NIST, RFC) where they exist, round trips and tampering
 * everywhere else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include <kubetee/crypto.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_sha256_nist_vectors(void **state)
{
    (void)state;
    uint8_t d[32], want[32];
    assert_int_equal(kt_sha256("abc", 3, d), KT_OK);
    unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want);
    assert_memory_equal(d, want, 32);
    assert_int_equal(kt_sha256("", 0, d), KT_OK);
    unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want);
    assert_memory_equal(d, want, 32);
}

static void test_sha256_incremental_matches_one_shot(void **state)
{
    (void)state;
    uint8_t data[1000], a[32], b[32];
    for (int i = 0; i < 1000; i++)
        data[i] = (uint8_t)(i * 7);
    kt_sha256_ctx *c;
    assert_int_equal(kt_sha256_new(&c), KT_OK);
    assert_int_equal(kt_sha256_update(c, data, 1), KT_OK);
    assert_int_equal(kt_sha256_update(c, data + 1, 999), KT_OK);
    assert_int_equal(kt_sha256_final(c, a), KT_OK);
    assert_int_equal(kt_sha256(data, sizeof data, b), KT_OK);
    assert_memory_equal(a, b, 32);
    /* the context starts over after final */
    assert_int_equal(kt_sha256_update(c, "abc", 3), KT_OK);
    assert_int_equal(kt_sha256_final(c, a), KT_OK);
    unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", b);
    assert_memory_equal(a, b, 32);
    kt_sha256_free(c);
}

static void test_sm3_gbt_vector(void **state)
{
    (void)state;
    uint8_t d[32], want[32];
    assert_int_equal(kt_sm3("abc", 3, d), KT_OK);
    unhex("66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0", want);
    assert_memory_equal(d, want, 32);
}

static void test_hmac_rfc4231_case2(void **state)
{
    (void)state;
    uint8_t d[32], want[32];
    const char *msg = "what do ya want for nothing?";
    assert_int_equal(kt_hmac_sha256((const uint8_t *)"Jefe", 4, msg, strlen(msg), d), KT_OK);
    unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", want);
    assert_memory_equal(d, want, 32);
}

static void test_hkdf_rfc5869_case1(void **state)
{
    (void)state;
    uint8_t ikm[22], salt[13], info[10], okm[42], want[42];
    memset(ikm, 0x0b, sizeof ikm);
    unhex("000102030405060708090a0b0c", salt);
    unhex("f0f1f2f3f4f5f6f7f8f9", info);
    assert_int_equal(kt_hkdf_sha256(ikm, 22, salt, 13, info, 10, okm, 42), KT_OK);
    unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
          want);
    assert_memory_equal(okm, want, 42);
    assert_int_equal(kt_hkdf_sha256(ikm, 22, salt, 13, info, 10, okm, 0), KT_ERR_INVALID_ARGUMENT);
}

static void test_cmac_rfc4493(void **state)
{
    (void)state;
    uint8_t key[16], msg[16], mac[16], want[16];
    unhex("2b7e151628aed2a6abf7158809cf4f3c", key);
    assert_int_equal(kt_aes_cmac(key, "", 0, mac), KT_OK);
    unhex("bb1d6929e95937287fa37d129b756746", want);
    assert_memory_equal(mac, want, 16);
    unhex("6bc1bee22e409f96e93d7e117393172a", msg);
    assert_int_equal(kt_aes_cmac(key, msg, 16, mac), KT_OK);
    unhex("070a16b46b4d4144f79bdd9dd04a287c", want);
    assert_memory_equal(mac, want, 16);
}

/* McGrew-Viega GCM spec, test cases 13 and 14 (AES-256, zero key and IV). */
static void test_aes256_gcm_spec_vectors_and_tamper(void **state)
{
    (void)state;
    uint8_t key[32] = {0}, iv[12] = {0}, pt[16] = {0}, ct[16], tag[16], want[16], back[16];
    assert_int_equal(kt_aead_seal(key, iv, NULL, 0, NULL, 0, NULL, tag), KT_OK);
    unhex("530f8afbc74536b9a963b4f1c4cb738b", want);
    assert_memory_equal(tag, want, 16);
    assert_int_equal(kt_aead_seal(key, iv, NULL, 0, pt, 16, ct, tag), KT_OK);
    unhex("cea7403d4d606b6e074ec5d3baf39d18", want);
    assert_memory_equal(ct, want, 16);
    unhex("d0d1c8a799996bf0265b98b5d48ab919", want);
    assert_memory_equal(tag, want, 16);
    assert_int_equal(kt_aead_open(key, iv, NULL, 0, ct, 16, tag, back), KT_OK);
    assert_memory_equal(back, pt, 16);
    /* any changed bit of ciphertext, tag or AAD is refused and nothing is released */
    ct[3] ^= 1;
    memset(back, 0xAA, 16);
    assert_fails_with(kt_aead_open(key, iv, NULL, 0, ct, 16, tag, back), KT_ERR_VERIFY, "tag");
    for (int i = 0; i < 16; i++)
        assert_int_equal(back[i], 0);
    ct[3] ^= 1;
    assert_int_equal(kt_aead_open(key, iv, (const uint8_t *)"x", 1, ct, 16, tag, back),
                     KT_ERR_VERIFY);
}

/* A kept key (a session's records): the spec vectors again, message after message under
 * new IVs, the same bytes as the one-shot calls; tampering refused; a context opens or
 * seals, not both. */
static void test_aes256_gcm_kept_key_matches_one_shot(void **state)
{
    (void)state;
    uint8_t key[32] = {0}, iv[12] = {0}, pt[64] = {0}, ct[64], tag[16], ct1[64], tag1[16], back[64], want[16];
    kt_aead *s = NULL, *o = NULL;
    assert_int_equal(kt_aead_new(key, true, &s), KT_OK);
    assert_int_equal(kt_aead_new(key, false, &o), KT_OK);
    assert_int_equal(kt_aead_seal_with(s, iv, NULL, 0, pt, 16, ct, tag), KT_OK);
    unhex("cea7403d4d606b6e074ec5d3baf39d18", want);
    assert_memory_equal(ct, want, 16);
    unhex("d0d1c8a799996bf0265b98b5d48ab919", want);
    assert_memory_equal(tag, want, 16);
    for (int i = 1; i < 40; i++) {
        iv[11] = (uint8_t)i;
        pt[i % 64] = (uint8_t)i;
        assert_int_equal(kt_aead_seal_with(s, iv, (const uint8_t *)"aad", 3, pt, 64, ct, tag), KT_OK);
        assert_int_equal(kt_aead_seal(key, iv, (const uint8_t *)"aad", 3, pt, 64, ct1, tag1), KT_OK);
        assert_memory_equal(ct, ct1, 64);
        assert_memory_equal(tag, tag1, 16);
        assert_int_equal(kt_aead_open_with(o, iv, (const uint8_t *)"aad", 3, ct, 64, tag, back), KT_OK);
        assert_memory_equal(back, pt, 64);
    }
    ct[0] ^= 1;
    assert_fails_with(kt_aead_open_with(o, iv, (const uint8_t *)"aad", 3, ct, 64, tag, back), KT_ERR_VERIFY, "tag");
    ct[0] ^= 1;
    /* the context is still good after a refusal */
    assert_int_equal(kt_aead_open_with(o, iv, (const uint8_t *)"aad", 3, ct, 64, tag, back), KT_OK);
    assert_int_equal(kt_aead_open_with(s, iv, NULL, 0, ct, 64, tag, back), KT_ERR_INVALID_ARGUMENT);
    assert_int_equal(kt_aead_seal_with(o, iv, NULL, 0, pt, 64, ct, tag), KT_ERR_INVALID_ARGUMENT);
    /* a plaintext in parts (odd sizes, an empty one) seals as the same bytes joined */
    for (size_t cut = 0; cut <= 64; cut += 7) {
        kt_bytes parts[3] = {{pt, cut}, {NULL, 0}, {pt + cut, 64 - cut}};
        assert_int_equal(kt_aead_seal_parts_with(s, iv, (const uint8_t *)"aad", 3, parts, 3, ct, tag), KT_OK);
        assert_int_equal(kt_aead_seal(key, iv, (const uint8_t *)"aad", 3, pt, 64, ct1, tag1), KT_OK);
        assert_memory_equal(ct, ct1, 64);
        assert_memory_equal(tag, tag1, 16);
    }
    kt_bytes bad[1] = {{NULL, 4}};
    assert_int_equal(kt_aead_seal_parts_with(s, iv, NULL, 0, bad, 1, ct, tag), KT_ERR_INVALID_ARGUMENT);
    assert_int_equal(kt_aead_seal_parts_with(o, iv, NULL, 0, NULL, 0, ct, tag), KT_ERR_INVALID_ARGUMENT);
    kt_aead_free(s);
    kt_aead_free(o);
}

/* RFC 6979 A.2.5: P-256 key, SHA-256, message "sample". */
static void test_ecdsa_p256_rfc6979_signature_verifies(void **state)
{
    (void)state;
    uint8_t pub[64], sig[64];
    unhex("60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"
          "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299",
          pub);
    unhex("efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716"
          "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8",
          sig);
    kt_key *k;
    assert_int_equal(kt_key_from_public_raw(KT_KEY_P256, pub, 64, &k), KT_OK);
    assert_int_equal(kt_verify(k, "sample", 6, sig, 64), KT_OK);
    assert_int_equal(kt_verify(k, "samplE", 6, sig, 64), KT_ERR_VERIFY);
    sig[63] ^= 1;
    assert_int_equal(kt_verify(k, "sample", 6, sig, 64), KT_ERR_VERIFY);
    assert_int_equal(kt_verify(k, "sample", 6, sig, 63), KT_ERR_VERIFY);
    kt_key_free(k);
    /* a point off the curve is refused when the key is made, not later */
    pub[63] ^= 1;
    assert_fails_with(kt_key_from_public_raw(KT_KEY_P256, pub, 64, &k), KT_ERR_MALFORMED, "curve");
    /* nor (0, 0), nor a coordinate written as itself plus the field prime */
    memset(pub, 0, 64);
    assert_fails_with(kt_key_from_public_raw(KT_KEY_P256, pub, 64, &k), KT_ERR_MALFORMED, "curve");
    unhex("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff"
          "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299",
          pub);
    assert_fails_with(kt_key_from_public_raw(KT_KEY_P256, pub, 64, &k), KT_ERR_MALFORMED, "curve");
}

static void test_ecdsa_round_trip_pem_and_raw(void **state)
{
    (void)state;
    kt_key *k, *pub, *back;
    kt_buf sig = {0}, pem = {0};
    uint8_t raw[64];
    size_t len;
    assert_int_equal(kt_key_generate(KT_KEY_P256, &k), KT_OK);
    assert_true(kt_key_has_private(k));
    assert_int_equal(kt_sign(k, "m", 1, &sig), KT_OK);
    assert_int_equal(sig.len, 64);
    assert_int_equal(kt_key_public_raw(k, raw, sizeof raw, &len), KT_OK);
    assert_int_equal(kt_key_from_public_raw(KT_KEY_P256, raw, len, &pub), KT_OK);
    assert_false(kt_key_has_private(pub));
    assert_int_equal(kt_verify(pub, "m", 1, sig.data, sig.len), KT_OK);
    assert_int_equal(kt_sign(pub, "m", 1, &sig), KT_ERR_STATE);
    assert_int_equal(kt_key_to_pem(k, true, &pem), KT_OK);
    assert_int_equal(kt_key_from_pem((char *)pem.data, pem.len, &back), KT_OK);
    assert_int_equal(kt_key_type_of(back), KT_KEY_P256);
    assert_int_equal(kt_verify(back, "m", 1, sig.data, 64), KT_OK);
    kt_key *none = NULL;
    assert_int_equal(kt_key_from_pem("garbage", 7, &none), KT_ERR_MALFORMED);
    assert_null(none);
    kt_key_free(k);
    kt_key_free(pub);
    kt_key_free(back);
    kt_buf_free(&sig);
    kt_buf_free(&pem);
}

static void test_ecdh_agrees(void **state)
{
    (void)state;
    kt_key *a, *b;
    uint8_t s1[32], s2[32];
    assert_int_equal(kt_key_generate(KT_KEY_P256, &a), KT_OK);
    assert_int_equal(kt_key_generate(KT_KEY_P256, &b), KT_OK);
    assert_int_equal(kt_ecdh(a, b, s1), KT_OK);
    assert_int_equal(kt_ecdh(b, a, s2), KT_OK);
    assert_memory_equal(s1, s2, 32);
    kt_key_free(a);
    kt_key_free(b);
}

static void test_rsa3072_e3_sign_and_sigstruct_q(void **state)
{
    (void)state;
    kt_key *k, *pub, *other;
    kt_buf sig = {0};
    uint8_t mod[384], q1[384], q2[384];
    size_t len;
    assert_int_equal(kt_key_generate(KT_KEY_RSA3072_E3, &k), KT_OK);
    assert_int_equal(kt_sign(k, "data", 4, &sig), KT_OK);
    assert_int_equal(sig.len, 384);
    assert_int_equal(kt_key_public_raw(k, mod, sizeof mod, &len), KT_OK);
    assert_int_equal(len, 384);
    assert_true(mod[0] & 0x80);
    assert_int_equal(kt_key_from_public_raw(KT_KEY_RSA3072_E3, mod, 384, &pub), KT_OK);
    assert_int_equal(kt_verify(pub, "data", 4, sig.data, sig.len), KT_OK);
    assert_int_equal(kt_verify(pub, "datA", 4, sig.data, sig.len), KT_ERR_VERIFY);
    assert_int_equal(kt_key_generate(KT_KEY_RSA3072_E3, &other), KT_OK);
    assert_int_equal(kt_verify(other, "data", 4, sig.data, sig.len), KT_ERR_VERIFY);
    /* q1 = floor(s^2 / m) and q2 = floor((s^3 - q1*s*m) / m), checked against Python's
     * own integers: an independent computation, not this library's */
    assert_int_equal(kt_rsa_sigstruct_q(mod, sig.data, q1, q2), KT_OK);
    char m_hex[769], s_hex[769], q1_hex[769], q2_hex[769], cmd[4096];
    kt_hex_encode(mod, 384, m_hex, sizeof m_hex);
    kt_hex_encode(sig.data, 384, s_hex, sizeof s_hex);
    kt_hex_encode(q1, 384, q1_hex, sizeof q1_hex);
    kt_hex_encode(q2, 384, q2_hex, sizeof q2_hex);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import sys; m=int(\"%s\",16); s=int(\"%s\",16); "
             "q1=s*s//m; q2=(s**3-q1*s*m)//m; "
             "sys.exit(0 if (q1,q2)==(int(\"%s\",16),int(\"%s\",16)) else 1)'",
             m_hex, s_hex, q1_hex, q2_hex);
    assert_int_equal(system(cmd), 0);
    q1[383] ^= 1; /* and the check does notice a wrong value */
    kt_hex_encode(q1, 384, q1_hex, sizeof q1_hex);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import sys; m=int(\"%s\",16); s=int(\"%s\",16); "
             "sys.exit(0 if s*s//m==int(\"%s\",16) else 1)'",
             m_hex, s_hex, q1_hex);
    assert_int_not_equal(system(cmd), 0);
    assert_int_equal(kt_rsa_sigstruct_q(mod, sig.data, q1, q2), KT_OK);
    uint8_t zero[384] = {0};
    assert_memory_not_equal(q1, zero, 384);
    assert_int_equal(kt_rsa_sigstruct_q(mod, zero, q1, q2), KT_OK);
    assert_memory_equal(q1, zero, 384);
    assert_memory_equal(q2, zero, 384);
    kt_key_free(k);
    kt_key_free(pub);
    kt_key_free(other);
    kt_buf_free(&sig);
}

static void test_rsa_keys_other_than_3072_e3_are_refused(void **state)
{
    (void)state;
    /* 2048-bit, e=65537 */
    FILE *p = popen("openssl genrsa 2048 2>/dev/null", "r");
    assert_non_null(p);
    char pem[4096];
    size_t n = fread(pem, 1, sizeof pem, p);
    pclose(p);
    kt_key *k = NULL;
    assert_fails_with(kt_key_from_pem(pem, n, &k), KT_ERR_UNSUPPORTED, "RSA-3072 with exponent 3");
    assert_null(k);
}

static void test_sm2_with_sm3_round_trip(void **state)
{
    (void)state;
    kt_key *k, *pub;
    kt_buf sig = {0};
    uint8_t raw[64];
    size_t len;
    assert_int_equal(kt_key_generate(KT_KEY_SM2, &k), KT_OK);
    assert_int_equal(kt_key_type_of(k), KT_KEY_SM2);
    assert_int_equal(kt_sign(k, "message digest", 14, &sig), KT_OK);
    assert_int_equal(kt_key_public_raw(k, raw, sizeof raw, &len), KT_OK);
    assert_int_equal(kt_key_from_public_raw(KT_KEY_SM2, raw, len, &pub), KT_OK);
    assert_int_equal(kt_verify(pub, "message digest", 14, sig.data, sig.len), KT_OK);
    assert_int_equal(kt_verify(pub, "message digesT", 14, sig.data, sig.len), KT_ERR_VERIFY);
    sig.data[sig.len - 1] ^= 1;
    assert_int_equal(kt_verify(pub, "message digest", 14, sig.data, sig.len), KT_ERR_VERIFY);
    kt_key_free(k);
    kt_key_free(pub);
    kt_buf_free(&sig);
}

static void test_x509_self_signed_csr_and_issue(void **state)
{
    (void)state;
    kt_key *ca_key, *leaf_key, *other_key, *got;
    kt_cert *ca, *leaf, *other, *back;
    kt_buf csr = {0}, pem = {0}, der = {0};
    char subject[256];
    assert_int_equal(kt_key_generate(KT_KEY_P256, &ca_key), KT_OK);
    assert_int_equal(kt_key_generate(KT_KEY_P256, &leaf_key), KT_OK);
    assert_int_equal(kt_key_generate(KT_KEY_P256, &other_key), KT_OK);
    assert_int_equal(kt_cert_self_signed(ca_key, "CN=test root,O=kubetee", 30, true, &ca), KT_OK);
    assert_int_equal(kt_cert_check_issued_by(ca, ca), KT_OK);
    assert_int_equal(kt_csr_new(leaf_key, "CN=leaf", &csr), KT_OK);
    assert_int_equal(kt_cert_issue(ca, ca_key, csr.data, csr.len, 7, 10, false, &leaf), KT_OK);
    assert_int_equal(kt_cert_check_issued_by(leaf, ca), KT_OK);
    assert_int_equal(kt_cert_subject(leaf, subject, sizeof subject), KT_OK);
    assert_non_null(strstr(subject, "CN = leaf"));
    assert_int_equal(kt_cert_public_key(leaf, &got), KT_OK);
    kt_buf sig = {0};
    assert_int_equal(kt_sign(leaf_key, "x", 1, &sig), KT_OK);
    assert_int_equal(kt_verify(got, "x", 1, sig.data, sig.len), KT_OK);
    /* a root with the same name but another key did not issue it */
    assert_int_equal(kt_cert_self_signed(other_key, "CN=test root,O=kubetee", 30, true, &other),
                     KT_OK);
    assert_fails_with(kt_cert_check_issued_by(leaf, other), KT_ERR_VERIFY, "not issued");
    /* a leaf is not a CA */
    assert_int_equal(kt_cert_check_issued_by(ca, leaf), KT_ERR_VERIFY);
    /* a tampered CSR is refused */
    csr.data[csr.len - 3] ^= 1;
    kt_cert *bad = NULL;
    assert_int_not_equal(kt_cert_issue(ca, ca_key, csr.data, csr.len, 8, 10, false, &bad), KT_OK);
    assert_null(bad);
    assert_int_equal(kt_cert_to_pem(leaf, &pem), KT_OK);
    assert_int_equal(kt_cert_from_pem((char *)pem.data, pem.len, &back), KT_OK);
    kt_cert_free(back);
    assert_int_equal(kt_cert_to_der(leaf, &der), KT_OK);
    assert_int_equal(kt_cert_from_der(der.data, der.len, &back), KT_OK);
    assert_int_equal(kt_cert_check_issued_by(back, ca), KT_OK);
    assert_int_equal(kt_cert_from_der(der.data, der.len - 1, &bad), KT_ERR_MALFORMED);
    assert_fails_with(kt_cert_self_signed(ca_key, "CN", 30, true, &bad), KT_ERR_MALFORMED,
                      "KEY=value");
    kt_cert_free(back);
    kt_cert_free(ca), kt_cert_free(leaf), kt_cert_free(other);
    kt_key_free(ca_key), kt_key_free(leaf_key), kt_key_free(other_key), kt_key_free(got);
    kt_buf_free(&csr), kt_buf_free(&pem), kt_buf_free(&der), kt_buf_free(&sig);
}

static void test_issue_with_extension_and_crl(void **state)
{
    (void)state;
    kt_key *ca_key, *leaf_key;
    kt_cert *ca, *leaf;
    kt_buf csr = {0}, der = {0}, crl = {0}, pem = {0};
    const uint8_t value[] = {0x30, 0x03, 0x02, 0x01, 0x2a}; /* SEQUENCE { INTEGER 42 } */
    kt_cert_extension ext = {"1.2.840.113741.1.13.1", value, sizeof value};
    assert_int_equal(kt_key_generate(KT_KEY_P256, &ca_key), KT_OK);
    assert_int_equal(kt_key_generate(KT_KEY_P256, &leaf_key), KT_OK);
    assert_int_equal(kt_cert_self_signed(ca_key, "CN=ext CA", 5, true, &ca), KT_OK);
    assert_int_equal(kt_csr_new(leaf_key, "CN=ext leaf", &csr), KT_OK);
    assert_int_equal(kt_cert_issue_ext(ca, ca_key, csr.data, csr.len, 9, 5, false, &ext, &leaf),
                     KT_OK);
    assert_int_equal(kt_cert_check_issued_by(leaf, ca), KT_OK);
    assert_int_equal(kt_cert_to_der(leaf, &der), KT_OK);
    assert_non_null(memmem(der.data, der.len, value, sizeof value)); /* the value is in the cert */
    kt_cert_extension bad = {"not an OID", value, sizeof value};
    kt_cert *none = NULL;
    assert_int_not_equal(
        kt_cert_issue_ext(ca, ca_key, csr.data, csr.len, 10, 5, false, &bad, &none), KT_OK);
    assert_null(none);

    /* an empty CRL that OpenSSL's own command line verifies against the CA */
    assert_int_equal(kt_crl_new(ca, ca_key, 30, &crl), KT_OK);
    assert_int_equal(kt_cert_to_pem(ca, &pem), KT_OK);
    assert_int_equal(kt_file_write_atomic("/tmp/kt-crl-test.der", crl.data, crl.len, 0644), KT_OK);
    assert_int_equal(kt_file_write_atomic("/tmp/kt-crl-ca.pem", pem.data, pem.len, 0644), KT_OK);
    assert_int_equal(
        system("openssl crl -inform DER -in /tmp/kt-crl-test.der -CAfile /tmp/kt-crl-ca.pem "
               "-noout 2>&1 | grep -q 'verify OK'"),
        0);
    crl.data[crl.len - 1] ^= 1; /* a flipped bit in the signature */
    assert_int_equal(kt_file_write_atomic("/tmp/kt-crl-test.der", crl.data, crl.len, 0644), KT_OK);
    assert_int_not_equal(
        system("openssl crl -inform DER -in /tmp/kt-crl-test.der -CAfile /tmp/kt-crl-ca.pem "
               "-noout 2>&1 | grep -q 'verify OK'"),
        0);
    remove("/tmp/kt-crl-test.der");
    remove("/tmp/kt-crl-ca.pem");
    kt_cert_free(ca), kt_cert_free(leaf);
    kt_key_free(ca_key), kt_key_free(leaf_key);
    kt_buf_free(&csr), kt_buf_free(&der), kt_buf_free(&crl), kt_buf_free(&pem);
}

static void test_random_is_not_constant(void **state)
{
    (void)state;
    uint8_t a[32], b[32];
    assert_int_equal(kt_random(a, 32), KT_OK);
    assert_int_equal(kt_random(b, 32), KT_OK);
    assert_memory_not_equal(a, b, 32);
}


/* kt_cert_make_at: a leaf for a key of its own, issued by a CA at a given time, with
 * exactly the SANs asked for (OpenSSL reads them back). */
static void test_cert_make_with_sans_by_an_issuer(void **state)
{
    (void)state;
    kt_key *ca_key = NULL, *leaf_key = NULL;
    kt_cert *ca = NULL, *leaf = NULL;
    int64_t now = 1767225600; /* 2026-01-01 */
    assert_int_equal(kt_key_generate(KT_KEY_P256, &ca_key), KT_OK);
    assert_int_equal(kt_key_generate(KT_KEY_P256, &leaf_key), KT_OK);
    assert_int_equal(kt_cert_make_at(NULL, NULL, ca_key, "CN=svc CA", NULL, 7, now, 3650, true, &ca), KT_OK);
    assert_int_equal(kt_cert_make_at(ca, ca_key, leaf_key, "CN=api.example", "api.example,*.x.example,IP:10.1.2.3,fe80::1",
                                     99, now, 30, false, &leaf), KT_OK);
    assert_int_equal(kt_cert_check_issued_by(leaf, ca), KT_OK);
    assert_int_not_equal(kt_cert_check_issued_by(ca, leaf), KT_OK);
    kt_buf pem = {0};
    assert_int_equal(kt_cert_to_pem(leaf, &pem), KT_OK);
    BIO *b = BIO_new_mem_buf(pem.data, (int)pem.len);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    assert_non_null(x);
    GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    assert_non_null(names);
    assert_int_equal(sk_GENERAL_NAME_num(names), 4);
    const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, 1);
    assert_int_equal(g->type, GEN_DNS);
    assert_string_equal((const char *)ASN1_STRING_get0_data(g->d.dNSName), "*.x.example");
    g = sk_GENERAL_NAME_value(names, 2);
    assert_int_equal(g->type, GEN_IPADD);
    assert_int_equal(ASN1_STRING_length(g->d.iPAddress), 4);
    assert_memory_equal(ASN1_STRING_get0_data(g->d.iPAddress), "\x0a\x01\x02\x03", 4);
    assert_int_equal(ASN1_STRING_length(sk_GENERAL_NAME_value(names, 3)->d.iPAddress), 16);
    assert_int_equal(ASN1_INTEGER_get(X509_get0_serialNumber(x)), 99);
    assert_int_equal(ASN1_TIME_cmp_time_t(X509_get0_notAfter(x), (time_t)(now + 30 * 86400)), 0);
    GENERAL_NAMES_free(names);
    X509_free(x);
    BIO_free(b);
    /* serial 0 and a bad list are refused, nothing made */
    kt_cert *none = NULL;
    assert_int_equal(kt_cert_make_at(ca, ca_key, leaf_key, "CN=x", NULL, 0, now, 30, false, &none), KT_ERR_INVALID_ARGUMENT);
    assert_int_equal(kt_cert_make_at(ca, ca_key, leaf_key, "CN=x", "email:a@b", 5, now, 30, false, &none),
                     KT_ERR_INVALID_ARGUMENT);
    assert_null(none);
    kt_buf_free(&pem);
    kt_cert_free(leaf);
    kt_cert_free(ca);
    kt_key_free(ca_key);
    kt_key_free(leaf_key);
}

static void test_san_lists_are_an_allow_list(void **state)
{
    (void)state;
    static const char *const good[] = {"a", "a.b-c.example", "*.example.com", "DNS:x1.example", "IP:0.0.0.0",
                                       "255.255.255.255", "::1", "IP:2001:db8::8:800:200c:417a",
                                       "1:2:3:4:5:6:7:8", "a,b,IP:1.2.3.4", ""};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (kt_cert_san_check(good[i])) fail_msg("'%s': %s", good[i], kt_last_error());
    static const struct {
        const char *san, *why;
    } bad[] = {
        {"dirName:x", "'dirName:x' is not a host name"}, {"@sect", "is not a host name"},
        {"DNS:-a.example", "is not a host name"}, {"a..b", "is not a host name"},
        {"a b", "is not a host name"}, {"a,", "ends with a comma"}, {",a", "san name 1 '' is not"},
        {"IP:256.1.1.1", "not an IPv4 or IPv6 address"}, {"IP:1.2.3", "not an IPv4"},
        {"IP:01.2.3.4", "not an IPv4"}, {"IP:1::2::3", "not an IPv4"}, {"IP::::", "not an IPv4"},
        {"IP:1:2:3:4:5:6:7", "not an IPv4"}, {"*.*.example", "is not a host name"},
        {"URI:http://x", "is not a host name"}, {"DNS:a\nb", "'DNS:a\\x0ab'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kt_status st = kt_cert_san_check(bad[i].san);
        if (st != KT_ERR_INVALID_ARGUMENT || !strstr(kt_last_error(), bad[i].why))
            fail_msg("'%s': expected '%s', got %s: %s", bad[i].san, bad[i].why, kt_status_name(st), kt_last_error());
    }
    char many[200] = "";
    for (int i = 0; i < 33; i++) strcat(many, i ? ",a" : "a");
    assert_int_equal(kt_cert_san_check(many), KT_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(kt_last_error(), "more than 32 names"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_nist_vectors),
        cmocka_unit_test(test_aes256_gcm_kept_key_matches_one_shot),
        cmocka_unit_test(test_sha256_incremental_matches_one_shot),
        cmocka_unit_test(test_sm3_gbt_vector),
        cmocka_unit_test(test_hmac_rfc4231_case2),
        cmocka_unit_test(test_hkdf_rfc5869_case1),
        cmocka_unit_test(test_cmac_rfc4493),
        cmocka_unit_test(test_aes256_gcm_spec_vectors_and_tamper),
        cmocka_unit_test(test_ecdsa_p256_rfc6979_signature_verifies),
        cmocka_unit_test(test_ecdsa_round_trip_pem_and_raw),
        cmocka_unit_test(test_ecdh_agrees),
        cmocka_unit_test(test_rsa3072_e3_sign_and_sigstruct_q),
        cmocka_unit_test(test_rsa_keys_other_than_3072_e3_are_refused),
        cmocka_unit_test(test_sm2_with_sm3_round_trip),
        cmocka_unit_test(test_x509_self_signed_csr_and_issue),
        cmocka_unit_test(test_issue_with_extension_and_crl),
        cmocka_unit_test(test_cert_make_with_sans_by_an_issuer),
        cmocka_unit_test(test_san_lists_are_an_allow_list),
        cmocka_unit_test(test_random_is_not_constant),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
