/* AES-256-GCM and random bytes. */
#include "internal.h"

#include <openssl/err.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

/* AES-256-GCM fetched once: EVP_aes_256_gcm() makes OpenSSL 3 fetch the implementation
 * again at every init, a third of a small record's cost (each session record is one).
 * An enclave gives its copy back at FINI (kt_aead_release), before it is unloaded. */
static EVP_CIPHER *fetched;

static const EVP_CIPHER *aes_256_gcm(void)
{
    EVP_CIPHER *c = __atomic_load_n(&fetched, __ATOMIC_ACQUIRE), *none = NULL;
    if (c) return c;
    c = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    if (!c) return EVP_aes_256_gcm();
    if (!__atomic_compare_exchange_n(&fetched, &none, c, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        EVP_CIPHER_free(c); /* another thread's came first */
        return none;
    }
    return c;
}

void kt_aead_release(void)
{
    EVP_CIPHER_free(__atomic_exchange_n(&fetched, NULL, __ATOMIC_ACQ_REL));
}

static kt_status check(const uint8_t *iv, const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t n,
                       const uint8_t *out, const uint8_t *tag)
{
    if (!iv || !tag || (n && (!in || !out)) || (aad_len && !aad))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "aes-gcm: NULL argument");
    if (n > INT32_MAX || aad_len > INT32_MAX)
        return kt_fail(KT_ERR_TOO_LARGE, "aes-gcm: input of %zu bytes too large", n);
    return KT_OK;
}

/* A context keyed for one direction (enc true: sealing): the key schedule made once. */
static EVP_CIPHER_CTX *keyed(const uint8_t *key, bool enc)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx && EVP_CipherInit_ex(ctx, aes_256_gcm(), NULL, NULL, NULL, enc) &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, KT_GCM_IV_LEN, NULL) &&
        EVP_CipherInit_ex(ctx, NULL, NULL, key, NULL, enc))
        return ctx;
    EVP_CIPHER_CTX_free(ctx);
    return NULL;
}

/* One message under a keyed context: a new IV, the AAD, the bytes (in parts, one after
 * another: GCM is a stream, so the output is as if they were one), the tag. */
static kt_status run_parts(EVP_CIPHER_CTX *ctx, bool seal, const uint8_t *iv, const uint8_t *aad, size_t aad_len,
                           const kt_bytes *parts, size_t k, uint8_t *out, uint8_t *tag)
{
    int len = 0;
    size_t n = 0;
    int ok = EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, seal);
    if (ok && aad_len) ok = EVP_CipherUpdate(ctx, NULL, &len, aad, (int)aad_len);
    for (size_t i = 0; ok && i < k; i++) {
        if (!parts[i].n) continue;
        ok = EVP_CipherUpdate(ctx, out + n, &len, parts[i].p, (int)parts[i].n) && (size_t)len == parts[i].n;
        n += parts[i].n;
    }
    if (ok && !seal) ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, KT_GCM_TAG_LEN, tag);
    if (!ok) return kt_ossl_fail("aes-gcm");
    uint8_t last[16];
    int fin = EVP_CipherFinal_ex(ctx, last, &len);
    if (fin && seal) fin = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, KT_GCM_TAG_LEN, tag);
    if (!fin && !seal) {
        kt_wipe(out, n);
        ERR_clear_error();
        return kt_fail(KT_ERR_VERIFY, "aes-gcm: authentication tag does not match");
    }
    return fin ? KT_OK : kt_ossl_fail("aes-gcm final");
}

static kt_status run(EVP_CIPHER_CTX *ctx, bool seal, const uint8_t *iv, const uint8_t *aad, size_t aad_len,
                     const uint8_t *in, size_t n, uint8_t *out, uint8_t *tag)
{
    kt_bytes one = {in, n};
    return run_parts(ctx, seal, iv, aad, aad_len, &one, 1, out, tag);
}

static kt_status gcm(bool seal, const uint8_t *key, const uint8_t *iv, const uint8_t *aad,
                     size_t aad_len, const uint8_t *in, size_t n, uint8_t *out, uint8_t *tag)
{
    kt_status st = key ? check(iv, aad, aad_len, in, n, out, tag) : kt_fail(KT_ERR_INVALID_ARGUMENT, "aes-gcm: NULL key");
    if (st) return st;
    EVP_CIPHER_CTX *ctx = keyed(key, seal);
    if (!ctx) return kt_ossl_fail("aes-gcm context");
    st = run(ctx, seal, iv, aad, aad_len, in, n, out, tag);
    EVP_CIPHER_CTX_free(ctx);
    return st;
}

kt_status kt_aead_seal(const uint8_t key[KT_AES256_KEY_LEN], const uint8_t iv[KT_GCM_IV_LEN],
                       const uint8_t *aad, size_t aad_len, const uint8_t *plain, size_t n,
                       uint8_t *cipher, uint8_t tag[KT_GCM_TAG_LEN])
{
    return gcm(true, key, iv, aad, aad_len, plain, n, cipher, tag);
}

kt_status kt_aead_open(const uint8_t key[KT_AES256_KEY_LEN], const uint8_t iv[KT_GCM_IV_LEN],
                       const uint8_t *aad, size_t aad_len, const uint8_t *cipher, size_t n,
                       const uint8_t tag[KT_GCM_TAG_LEN], uint8_t *plain)
{
    return gcm(false, key, iv, aad, aad_len, cipher, n, plain, (uint8_t *)tag);
}

struct kt_aead {
    EVP_CIPHER_CTX *ctx;
    bool seal;
};

kt_status kt_aead_new(const uint8_t key[KT_AES256_KEY_LEN], bool seal, kt_aead **out)
{
    if (!key || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "aes-gcm: NULL argument");
    kt_aead *a = calloc(1, sizeof *a);
    if (!a) return kt_fail(KT_ERR_NO_MEMORY, "aes-gcm: out of memory");
    a->seal = seal;
    if (!(a->ctx = keyed(key, seal))) {
        free(a);
        return kt_ossl_fail("aes-gcm context");
    }
    *out = a;
    return KT_OK;
}

void kt_aead_free(kt_aead *a)
{
    if (!a) return;
    EVP_CIPHER_CTX_free(a->ctx); /* cleanses the key schedule */
    free(a);
}

kt_status kt_aead_seal_with(kt_aead *a, const uint8_t iv[KT_GCM_IV_LEN], const uint8_t *aad, size_t aad_len,
                            const uint8_t *plain, size_t n, uint8_t *cipher, uint8_t tag[KT_GCM_TAG_LEN])
{
    if (!a || !a->seal) return kt_fail(KT_ERR_INVALID_ARGUMENT, "aes-gcm: no sealing context");
    kt_status st = check(iv, aad, aad_len, plain, n, cipher, tag);
    return st ? st : run(a->ctx, true, iv, aad, aad_len, plain, n, cipher, tag);
}

kt_status kt_aead_seal_parts_with(kt_aead *a, const uint8_t iv[KT_GCM_IV_LEN], const uint8_t *aad, size_t aad_len,
                                  const kt_bytes *parts, size_t k, uint8_t *cipher, uint8_t tag[KT_GCM_TAG_LEN])
{
    if (!a || !a->seal) return kt_fail(KT_ERR_INVALID_ARGUMENT, "aes-gcm: no sealing context");
    if (k && !parts) return kt_fail(KT_ERR_INVALID_ARGUMENT, "aes-gcm: NULL argument");
    size_t n = 0;
    for (size_t i = 0; i < k; i++) {
        if (parts[i].n && !parts[i].p) return kt_fail(KT_ERR_INVALID_ARGUMENT, "aes-gcm: NULL argument");
        if (parts[i].n > INT32_MAX - n) return kt_fail(KT_ERR_TOO_LARGE, "aes-gcm: input too large");
        n += parts[i].n;
    }
    kt_status st = check(iv, aad, aad_len, n ? (const uint8_t *)"" : NULL, n, cipher, tag);
    return st ? st : run_parts(a->ctx, true, iv, aad, aad_len, parts, k, cipher, tag);
}

kt_status kt_aead_open_with(kt_aead *a, const uint8_t iv[KT_GCM_IV_LEN], const uint8_t *aad, size_t aad_len,
                            const uint8_t *cipher, size_t n, const uint8_t tag[KT_GCM_TAG_LEN], uint8_t *plain)
{
    if (!a || a->seal) return kt_fail(KT_ERR_INVALID_ARGUMENT, "aes-gcm: no opening context");
    kt_status st = check(iv, aad, aad_len, cipher, n, plain, tag);
    return st ? st : run(a->ctx, false, iv, aad, aad_len, cipher, n, plain, (uint8_t *)tag);
}

kt_status kt_random(void *out, size_t n)
{
    if (!out && n) return kt_fail(KT_ERR_INVALID_ARGUMENT, "random: NULL argument");
    while (n) {
        int chunk = n > (1 << 20) ? (1 << 20) : (int)n;
        if (RAND_bytes(out, chunk) != 1) return kt_ossl_fail("random");
        out = (uint8_t *)out + chunk;
        n -= (size_t)chunk;
    }
    return KT_OK;
}
