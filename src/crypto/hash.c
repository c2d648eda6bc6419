/* SHA-256, SM3, HMAC-SHA256, HKDF-SHA256 and AES-CMAC. */
#include "internal.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <stdlib.h>

kt_status kt_ossl_fail(const char *what)
{
    unsigned long e = ERR_get_error();
    char reason[160] = "unknown";
    if (e) ERR_error_string_n(e, reason, sizeof reason);
    ERR_clear_error();
    return kt_fail(KT_ERR_CRYPTO, "%s failed: %s", what, reason);
}

/* SHA-256 and SM3 fetched once, as AES-256-GCM is (aead.c): a fetch per digest took half
 * of a small digest's time in a plain process, and in the AECS enclave, whose other
 * threads fetch too (OpenSSL 3.0 locks its method store for every fetch), 4.5 us of an
 * audit line's 5 us hash. An enclave gives them back at FINI (kt_digest_release). */
static EVP_MD *fetched[2];
static const char *const fetched_names[2] = {"SHA256", "SM3"};

static const EVP_MD *md_of(size_t i)
{
    EVP_MD *md = __atomic_load_n(&fetched[i], __ATOMIC_ACQUIRE), *none = NULL;
    if (md) return md;
    if (!(md = EVP_MD_fetch(NULL, fetched_names[i], NULL))) return NULL;
    if (!__atomic_compare_exchange_n(&fetched[i], &none, md, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        EVP_MD_free(md); /* another thread's came first */
        return none;
    }
    return md;
}

void kt_digest_release(void)
{
    for (size_t i = 0; i < 2; i++) EVP_MD_free(__atomic_exchange_n(&fetched[i], NULL, __ATOMIC_ACQ_REL));
}

static kt_status digest(size_t which, const void *data, size_t n, uint8_t out[32])
{
    const char *name = fetched_names[which];
    if (!out || (n && !data)) return kt_fail(KT_ERR_INVALID_ARGUMENT, "%s: NULL argument", name);
    unsigned int len = 0;
    const EVP_MD *md = md_of(which);
    if (!md) return kt_ossl_fail(name);
    int ok = EVP_Digest(data, n, out, &len, md, NULL);
    return ok && len == 32 ? KT_OK : kt_ossl_fail(name);
}

kt_status kt_sha256(const void *data, size_t n, uint8_t out[KT_SHA256_LEN])
{
    return digest(0, data, n, out);
}

kt_status kt_sm3(const void *data, size_t n, uint8_t out[KT_SHA256_LEN])
{
    return digest(1, data, n, out);
}

struct kt_sha256_ctx {
    EVP_MD_CTX *md_ctx;
    EVP_MD *md;
    bool started;
};

kt_status kt_sha256_new(kt_sha256_ctx **out)
{
    if (!out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "sha256: NULL argument");
    kt_sha256_ctx *c = calloc(1, sizeof *c);
    if (!c) return kt_fail(KT_ERR_NO_MEMORY, "sha256: out of memory");
    c->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    c->md_ctx = EVP_MD_CTX_new();
    if (!c->md || !c->md_ctx) {
        kt_sha256_free(c);
        return kt_ossl_fail("sha256 context");
    }
    *out = c;
    return KT_OK;
}

kt_status kt_sha256_update(kt_sha256_ctx *c, const void *data, size_t n)
{
    if (!c || (n && !data)) return kt_fail(KT_ERR_INVALID_ARGUMENT, "sha256: NULL argument");
    if (!c->started) {
        if (!EVP_DigestInit_ex(c->md_ctx, c->md, NULL)) return kt_ossl_fail("sha256 init");
        c->started = true;
    }
    return EVP_DigestUpdate(c->md_ctx, data, n) ? KT_OK : kt_ossl_fail("sha256 update");
}

kt_status kt_sha256_final(kt_sha256_ctx *c, uint8_t out[KT_SHA256_LEN])
{
    if (!c || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "sha256: NULL argument");
    if (!c->started && kt_sha256_update(c, "", 0)) return KT_ERR_CRYPTO;
    unsigned int len = 0;
    c->started = false;
    return EVP_DigestFinal_ex(c->md_ctx, out, &len) && len == 32 ? KT_OK
                                                                 : kt_ossl_fail("sha256 final");
}

void kt_sha256_free(kt_sha256_ctx *c)
{
    if (!c) return;
    EVP_MD_CTX_free(c->md_ctx);
    EVP_MD_free(c->md);
    free(c);
}

/* One EVP_MAC computation with a single string parameter (digest or cipher name). */
static kt_status mac(const char *alg, const char *param, const char *value, const uint8_t *key,
                     size_t key_len, const void *data, size_t n, uint8_t *out, size_t out_len)
{
    if (!key || !out || (n && !data))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "%s: NULL argument", alg);
    EVP_MAC *m = EVP_MAC_fetch(NULL, alg, NULL);
    EVP_MAC_CTX *ctx = m ? EVP_MAC_CTX_new(m) : NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_utf8_string(param, (char *)value, 0), OSSL_PARAM_END};
    size_t got = 0;
    int ok = ctx && EVP_MAC_init(ctx, key, key_len, params) && EVP_MAC_update(ctx, data, n) &&
             EVP_MAC_final(ctx, out, &got, out_len) && got == out_len;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(m);
    return ok ? KT_OK : kt_ossl_fail(alg);
}

kt_status kt_hmac_sha256(const uint8_t *key, size_t key_len, const void *data, size_t n,
                         uint8_t out[KT_SHA256_LEN])
{
    return mac("HMAC", OSSL_MAC_PARAM_DIGEST, "SHA256", key, key_len, data, n, out, 32);
}

kt_status kt_aes_cmac(const uint8_t key[16], const void *data, size_t n, uint8_t out[KT_CMAC_LEN])
{
    return mac("CMAC", OSSL_MAC_PARAM_CIPHER, "AES-128-CBC", key, 16, data, n, out, KT_CMAC_LEN);
}

kt_status kt_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
                         const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
    if (!ikm || !out || (salt_len && !salt) || (info_len && !info))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "hkdf: NULL argument");
    if (out_len == 0 || out_len > 255 * 32)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "hkdf: output length %zu out of range", out_len);
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[5];
    int i = 0;
    params[i++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0);
    params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len);
    if (salt_len)
        params[i++] =
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
    params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
    params[i] = OSSL_PARAM_construct_end();
    int ok = ctx && EVP_KDF_derive(ctx, out, out_len, params) > 0;
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    return ok ? KT_OK : kt_ossl_fail("hkdf");
}
