/* Key pairs: generation, PEM, raw public forms. */
#include "internal.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

/* Takes pkey, freeing it on failure. */
static kt_status key_new(EVP_PKEY *pkey, kt_key_type type, kt_key **out)
{
    kt_key *k = calloc(1, sizeof *k);
    if (!k) {
        EVP_PKEY_free(pkey);
        return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    }
    k->pkey = pkey;
    k->type = type;
    *out = k;
    return KT_OK;
}

kt_status kt_key_wrap(EVP_PKEY *pkey, kt_key **out)
{
    kt_key_type type;
    if (EVP_PKEY_is_a(pkey, "SM2")) {
        type = KT_KEY_SM2;
    } else if (EVP_PKEY_is_a(pkey, "EC")) {
        char group[32] = "";
        size_t glen = 0;
        EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &glen);
        if (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0) {
            EVP_PKEY_free(pkey);
            return kt_fail(KT_ERR_UNSUPPORTED, "EC key on curve '%s': only P-256 is supported",
                           group);
        }
        type = KT_KEY_P256;
    } else if (EVP_PKEY_is_a(pkey, "RSA")) {
        BIGNUM *e = NULL;
        int bits = EVP_PKEY_get_bits(pkey);
        int ok = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) && BN_is_word(e, 3);
        BN_free(e);
        if (bits != 3072 || !ok) {
            EVP_PKEY_free(pkey);
            return kt_fail(KT_ERR_UNSUPPORTED,
                           "RSA key of %d bits%s: SIGSTRUCT needs RSA-3072 with exponent 3", bits,
                           ok ? "" : " and exponent other than 3");
        }
        type = KT_KEY_RSA3072_E3;
    } else {
        EVP_PKEY_free(pkey);
        return kt_fail(KT_ERR_UNSUPPORTED, "key type is not P-256, RSA-3072 or SM2");
    }
    return key_new(pkey, type, out);
}

kt_status kt_key_generate(kt_key_type type, kt_key **out)
{
    if (!out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "key generate: NULL argument");
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    int ok = 0;
    switch (type) {
    case KT_KEY_P256:
        pkey = EVP_EC_gen("P-256");
        ok = pkey != NULL;
        break;
    case KT_KEY_SM2:
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
        ok = ctx && EVP_PKEY_keygen_init(ctx) > 0 && EVP_PKEY_generate(ctx, &pkey) > 0;
        break;
    case KT_KEY_RSA3072_E3: {
        BIGNUM *e = BN_new();
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
        ok = e && BN_set_word(e, 3) && ctx && EVP_PKEY_keygen_init(ctx) > 0 &&
             EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 3072) > 0 &&
             EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, e) > 0 && EVP_PKEY_generate(ctx, &pkey) > 0;
        BN_free(e);
        break;
    }
    default:
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "unknown key type %d", (int)type);
    }
    EVP_PKEY_CTX_free(ctx);
    if (!ok) return kt_ossl_fail("key generation");
    return kt_key_wrap(pkey, out);
}

kt_status kt_key_from_pem(const char *pem, size_t n, kt_key **out)
{
    if (!pem || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "key from PEM: NULL argument");
    if (n > INT32_MAX) return kt_fail(KT_ERR_TOO_LARGE, "key PEM too large");
    BIO *bio = BIO_new_mem_buf(pem, (int)n);
    EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    if (!pkey && bio) {
        ERR_clear_error();
        BIO_reset(bio);
        pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    }
    BIO_free(bio);
    if (!pkey) {
        ERR_clear_error();
        return kt_fail(KT_ERR_MALFORMED, "no PEM private or public key found");
    }
    return kt_key_wrap(pkey, out);
}

kt_status kt_key_to_pem(const kt_key *k, bool include_private, kt_buf *out)
{
    if (!k || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "key to PEM: NULL argument");
    if (include_private && !kt_key_has_private(k))
        return kt_fail(KT_ERR_STATE, "key to PEM: key has no private part");
    BIO *bio = BIO_new(BIO_s_secmem());
    int ok =
        bio && (include_private ? PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL)
                                : PEM_write_bio_PUBKEY(bio, k->pkey));
    kt_status st = ok ? KT_OK : kt_ossl_fail("key to PEM");
    if (ok) {
        char *p = NULL;
        long len = BIO_get_mem_data(bio, &p);
        st = kt_buf_append(out, p, (size_t)len);
        if (!st) st = kt_buf_reserve(out, 1);
        if (!st) out->data[out->len] = '\0';
    }
    BIO_free(bio);
    return st;
}

kt_status kt_key_public_raw(const kt_key *k, uint8_t *out, size_t cap, size_t *len)
{
    if (!k || !out || !len) return kt_fail(KT_ERR_INVALID_ARGUMENT, "public raw: NULL argument");
    if (k->type == KT_KEY_RSA3072_E3) {
        BIGNUM *m = NULL;
        if (cap < KT_RSA3072_LEN)
            return kt_fail(KT_ERR_BUFFER_TOO_SMALL, "public raw: needs %d bytes", KT_RSA3072_LEN);
        int ok = EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_N, &m) &&
                 BN_bn2binpad(m, out, KT_RSA3072_LEN) == KT_RSA3072_LEN;
        BN_free(m);
        if (!ok) return kt_ossl_fail("RSA modulus");
        *len = KT_RSA3072_LEN;
        return KT_OK;
    }
    uint8_t pt[65];
    size_t n = 0;
    if (!EVP_PKEY_get_octet_string_param(k->pkey, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt, &n) ||
        n != 65 || pt[0] != 4)
        return kt_ossl_fail("EC public point");
    if (cap < 64) return kt_fail(KT_ERR_BUFFER_TOO_SMALL, "public raw: needs 64 bytes");
    memcpy(out, pt + 1, 64);
    *len = 64;
    return KT_OK;
}

/* P-256 domain parameters with no key, made once per process: OpenSSL 3.0 builds a curve's
 * group anew for every key it makes from parameters (EVP_PKEY_fromdata, ~16 of its ~20 us),
 * while a copy of a key that has the group shares its tables. This holds only the curve's
 * constants, never a public key: each key is made from its own bytes every time. */
static EVP_PKEY *p256_params;
static CRYPTO_ONCE p256_once = CRYPTO_ONCE_STATIC_INIT;

static void p256_params_make(void)
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0),
        OSSL_PARAM_END,
    };
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &p256_params, EVP_PKEY_KEY_PARAMETERS, params) <= 0)
        p256_params = NULL;
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
}

#ifdef KT_TRUSTED
/* An enclave is unloaded while its host lives on: the parameters go with it (no thread is
 * inside an enclave by then). A host process keeps them until it exits. */
__attribute__((destructor)) static void p256_params_free(void)
{
    EVP_PKEY_free(p256_params);
    p256_params = NULL;
}
#endif

/* The point 04 || X || Y set on a copy of the P-256 parameters. OpenSSL decodes it with
 * EC_POINT_oct2point, which refuses a coordinate not below the field prime and a point
 * not on the curve (EC_POINT_set_affine_coordinates checks); 65 bytes cannot encode the
 * point at infinity, and P-256's cofactor is 1, so the point is in the prime-order group:
 * what EVP_PKEY_public_check_quick would check, without its ~4 us of context and fetch. */
static kt_status p256_from_raw(const uint8_t raw[64], kt_key **out)
{
    uint8_t pt[65] = {4};
    memcpy(pt + 1, raw, 64);
    if (!CRYPTO_THREAD_run_once(&p256_once, p256_params_make) || !p256_params)
        return kt_ossl_fail("P-256 parameters");
    EVP_PKEY *pkey = EVP_PKEY_dup(p256_params);
    if (!pkey) return kt_ossl_fail("P-256 key");
    if (!EVP_PKEY_set1_encoded_public_key(pkey, pt, sizeof pt)) {
        EVP_PKEY_free(pkey);
        ERR_clear_error();
        return kt_fail(KT_ERR_MALFORMED, "public point is not on the curve");
    }
    return key_new(pkey, KT_KEY_P256, out);
}

kt_status kt_key_from_public_raw(kt_key_type type, const uint8_t *raw, size_t n, kt_key **out)
{
    if (!raw || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "public from raw: NULL argument");
    if ((type == KT_KEY_P256 || type == KT_KEY_SM2) && n != 64)
        return kt_fail(KT_ERR_MALFORMED, "EC public key is %zu bytes, expected 64", n);
    if (type == KT_KEY_P256) return p256_from_raw(raw, out);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *bn_n = NULL, *bn_e = NULL;
    uint8_t pt[65];
    const char *alg;
    int ok = bld != NULL;
    if (type == KT_KEY_RSA3072_E3) {
        if (n != KT_RSA3072_LEN) {
            OSSL_PARAM_BLD_free(bld);
            return kt_fail(KT_ERR_MALFORMED, "RSA modulus is %zu bytes, expected 384", n);
        }
        alg = "RSA";
        bn_n = BN_bin2bn(raw, (int)n, NULL);
        bn_e = BN_new();
        ok = ok && bn_n && bn_e && BN_set_word(bn_e, 3) &&
             OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) &&
             OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e);
    } else if (type == KT_KEY_SM2) {
        alg = "SM2";
        pt[0] = 4;
        memcpy(pt + 1, raw, 64);
        ok = ok && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "SM2", 0) &&
             OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt);
    } else {
        OSSL_PARAM_BLD_free(bld);
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "unknown key type %d", (int)type);
    }
    OSSL_PARAM *params = ok ? OSSL_PARAM_BLD_to_param(bld) : NULL;
    EVP_PKEY_CTX *ctx = params ? EVP_PKEY_CTX_new_from_name(NULL, alg, NULL) : NULL;
    EVP_PKEY *pkey = NULL;
    ok = ctx && EVP_PKEY_fromdata_init(ctx) > 0 &&
         EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) > 0;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    if (!ok) {
        ERR_clear_error();
        return kt_fail(KT_ERR_MALFORMED, "raw public key is not a valid %s key%s", alg,
                       type == KT_KEY_RSA3072_E3 ? "" : " (point not on the curve)");
    }
    if (type == KT_KEY_SM2) {
        /* reject points not on the curve before anyone verifies against them. SM2 has
         * cofactor 1, so a point on the curve is in the prime-order group: the quick check
         * is complete, and the full one's n*Q multiplication (as slow as a signature
         * verification) would add nothing. */
        EVP_PKEY_CTX *chk = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
        int valid = chk && EVP_PKEY_public_check_quick(chk) > 0;
        EVP_PKEY_CTX_free(chk);
        if (!valid) {
            EVP_PKEY_free(pkey);
            ERR_clear_error();
            return kt_fail(KT_ERR_MALFORMED, "public point is not on the curve");
        }
    }
    return kt_key_wrap(pkey, out);
}

kt_status kt_key_from_openssl(EVP_PKEY *pkey, kt_key **out)
{
    if (!pkey || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "key from OpenSSL: NULL argument");
    if (!EVP_PKEY_up_ref(pkey)) return kt_ossl_fail("key reference");
    return kt_key_wrap(pkey, out);
}

kt_key_type kt_key_type_of(const kt_key *k)
{
    return k ? k->type : (kt_key_type)0;
}

bool kt_key_has_private(const kt_key *k)
{
    if (!k) return false;
    BIGNUM *d = NULL;
    const char *name =
        k->type == KT_KEY_RSA3072_E3 ? OSSL_PKEY_PARAM_RSA_D : OSSL_PKEY_PARAM_PRIV_KEY;
    bool has = EVP_PKEY_get_bn_param(k->pkey, name, &d) == 1;
    BN_clear_free(d);
    ERR_clear_error();
    return has;
}

void kt_key_free(kt_key *k)
{
    if (!k) return;
    EVP_PKEY_free(k->pkey);
    free(k);
}
