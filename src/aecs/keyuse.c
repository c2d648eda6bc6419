/* Never-export keys used in place: signing, encryption, decryption and key wrapping with
 * a key's stored bytes, by the key's own scheme (keyuse.h). */
#include "keyuse.h"

#include <kubetee/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <string.h>

#define WRAP_AAD "kubetee.aecs.wrap.v1"
#define KEPT 16

const char *const kt_aecs_key_op_names[] = {"Sign", "Encrypt", "Decrypt", "Wrap", "Unwrap"};

/* Parsed private keys, by the SHA-256 of their PEM: OpenSSL 3's decoders take about a
 * millisecond to read one, thirty signatures' worth, so each key is read once and kept
 * (KEPT at most, the oldest replaced; OpenSSL wipes a key it frees). The PEM is the one
 * the caller opened and authenticated: the same bytes are the same key. */
static struct {
    uint8_t id[KT_SHA256_LEN];
    EVP_PKEY *pk;
} kept[KEPT];
static size_t kept_next;
static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;

/* At the enclave's teardown (or the process's end) the kept keys go too. */
__attribute__((destructor)) static void kept_free(void)
{
    pthread_mutex_lock(&kept_lock);
    for (size_t i = 0; i < KEPT; i++) {
        EVP_PKEY_free(kept[i].pk);
        kept[i].pk = NULL;
    }
    pthread_mutex_unlock(&kept_lock);
}

/* A reference the caller frees with EVP_PKEY_free; NULL when the PEM holds no private key. */
static EVP_PKEY *private_key(const uint8_t *pem, size_t n)
{
    uint8_t id[KT_SHA256_LEN];
    EVP_PKEY *pk = NULL;
    if (n > INT32_MAX || kt_sha256(pem, n, id)) return NULL;
    pthread_mutex_lock(&kept_lock);
    for (size_t i = 0; i < KEPT && !pk; i++)
        if (kept[i].pk && kt_equal(kept[i].id, id, sizeof id) && EVP_PKEY_up_ref(kept[i].pk)) pk = kept[i].pk;
    pthread_mutex_unlock(&kept_lock);
    if (pk) return pk;
    BIO *b = BIO_new_mem_buf(pem, (int)n);
    pk = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    ERR_clear_error();
    if (!pk || !EVP_PKEY_up_ref(pk)) return pk;
    pthread_mutex_lock(&kept_lock);
    size_t at = kept_next++ % KEPT;
    EVP_PKEY_free(kept[at].pk);
    memcpy(kept[at].id, id, sizeof id);
    kept[at].pk = pk; /* the kept reference */
    pthread_mutex_unlock(&kept_lock);
    return pk;
}

/* AES-256-GCM: iv (12) || ciphertext || tag (16) */
static kt_status gcm(bool seal, const uint8_t key[32], const uint8_t *aad, size_t aad_n, const uint8_t *in, size_t n,
                     kt_buf *out)
{
    kt_status st;
    if (!seal && n < 28) return kt_fail(KT_ERR_VERIFY, "the input is no AES-GCM ciphertext (iv || ciphertext || tag)");
    size_t len = seal ? n + 28 : n - 28, at = out->len;
    if ((st = kt_buf_reserve(out, len + 1))) return st;
    uint8_t *p = out->data + at;
    if (seal) {
        st = kt_random(p, 12);
        if (!st) st = kt_aead_seal(key, p, aad, aad_n, in, n, p + 12, p + 12 + n);
    } else if (kt_aead_open(key, in, aad, aad_n, in + 12, len, in + 12 + len, p)) {
        st = kt_fail(KT_ERR_VERIFY, "the ciphertext does not open under this key (and aad)");
    }
    if (!st) out->len = at + len;
    return st;
}

/* AES-256 key wrap with padding (RFC 5649) */
static kt_status kwp(bool wrap, const uint8_t key[32], const uint8_t *in, size_t n, kt_buf *out)
{
    if (wrap ? !n || n > KT_AECS_WRAP_MAX : n < 16 || n % 8 || n > KT_AECS_WRAP_MAX + 16)
        return kt_fail(wrap ? KT_ERR_INVALID_ARGUMENT : KT_ERR_VERIFY,
                       wrap ? "a key to wrap is 1..4096 bytes" : "the input is no wrapped key");
    EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, "AES-256-WRAP-PAD", NULL);
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    int a = 0, f = 0;
    size_t at = out->len;
    bool ok = c && x && !kt_buf_reserve(out, n + 16) && EVP_CipherInit_ex(x, c, NULL, key, NULL, wrap) &&
              EVP_CipherUpdate(x, out->data + at, &a, in, (int)n) && EVP_CipherFinal_ex(x, out->data + at + a, &f);
    EVP_CIPHER_CTX_free(x);
    EVP_CIPHER_free(c);
    ERR_clear_error();
    if (!ok) {
        if (out->data) kt_wipe(out->data + at, out->cap - at);
        return wrap ? kt_fail(KT_ERR_CRYPTO, "AES key wrap failed")
                    : kt_fail(KT_ERR_VERIFY, "the wrapped key does not unwrap under this key");
    }
    out->len = at + (size_t)(a + f);
    return KT_OK;
}

static kt_status aes_use(const kt_aecs_key *k, kt_aecs_key_op op, const uint8_t *in, size_t n, const uint8_t *aad,
                         size_t aad_n, kt_buf *out, const char **alg)
{
    if (k->key_len != 32) return kt_fail(KT_ERR_VERIFY, "secret %s: its AES key is not 32 bytes", k->name);
    if (op == KT_AECS_SIGN) return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s is an AES-256 key: it does not sign", k->name);
    if (op == KT_AECS_ENCRYPT || op == KT_AECS_DECRYPT) {
        *alg = "aes-256-gcm";
        return gcm(op == KT_AECS_ENCRYPT, k->key, aad, aad_n, in, n, out);
    }
    if (!k->wrap_gcm) {
        if (aad_n) return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s wraps with AES-KWP, which takes no aad", k->name);
        *alg = "aes-256-kwp";
        return kwp(op == KT_AECS_WRAP, k->key, in, n, out);
    }
    if (op == KT_AECS_WRAP && (!n || n > KT_AECS_WRAP_MAX))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "a key to wrap is 1..4096 bytes");
    /* its own label before the caller's aad: a wrapped key is not a plain ciphertext */
    kt_buf label = {0};
    kt_status st = kt_buf_append(&label, WRAP_AAD, sizeof WRAP_AAD);
    if (!st && aad_n) st = kt_buf_append(&label, aad, aad_n);
    *alg = "aes-256-gcm-wrap";
    if (!st) st = gcm(op == KT_AECS_WRAP, k->key, label.data, label.len, in, n, out);
    kt_buf_free(&label);
    return st;
}

/* RSA: signing by the key's padding, SHA-256; encryption and decryption with OAEP-SHA256
 * (MGF1 SHA-256). */
static kt_status rsa_use(const kt_aecs_key *k, kt_aecs_key_op op, const uint8_t *in, size_t n, kt_buf *out,
                         const char **alg)
{
    if (op == KT_AECS_WRAP || op == KT_AECS_UNWRAP)
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "secret %s is an RSA key: Wrap and Unwrap are for AES-256 keys (Encrypt uses RSA-OAEP)", k->name);
    EVP_PKEY *pk = private_key(k->key, k->key_len);
    if (!pk) return kt_fail(KT_ERR_VERIFY, "secret %s: its key does not read back", k->name);
    size_t cap = (size_t)EVP_PKEY_get_size(pk), len = cap, at = out->len;
    bool ok = !kt_buf_reserve(out, cap);
    const EVP_MD *sha256 = EVP_get_digestbyname("SHA256");
    if (ok && op == KT_AECS_SIGN) {
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        EVP_PKEY_CTX *p = NULL;
        ok = m && EVP_DigestSignInit_ex(m, &p, "SHA256", NULL, NULL, pk, NULL) &&
             EVP_PKEY_CTX_set_rsa_padding(p, k->pkcs1 ? RSA_PKCS1_PADDING : RSA_PKCS1_PSS_PADDING) > 0 &&
             (k->pkcs1 || EVP_PKEY_CTX_set_rsa_pss_saltlen(p, RSA_PSS_SALTLEN_DIGEST) > 0) &&
             EVP_DigestSign(m, out->data + at, &len, in, n) == 1;
        EVP_MD_CTX_free(m);
    } else if (ok) {
        bool enc = op == KT_AECS_ENCRYPT;
        EVP_PKEY_CTX *p = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
        ok = p && (enc ? EVP_PKEY_encrypt_init(p) : EVP_PKEY_decrypt_init(p)) > 0 &&
             EVP_PKEY_CTX_set_rsa_padding(p, RSA_PKCS1_OAEP_PADDING) > 0 &&
             EVP_PKEY_CTX_set_rsa_oaep_md(p, sha256) > 0 && EVP_PKEY_CTX_set_rsa_mgf1_md(p, sha256) > 0 &&
             (enc ? EVP_PKEY_encrypt(p, out->data + at, &len, in, n)
                  : EVP_PKEY_decrypt(p, out->data + at, &len, in, n)) > 0;
        EVP_PKEY_CTX_free(p);
    }
    EVP_PKEY_free(pk);
    ERR_clear_error();
    *alg = op == KT_AECS_SIGN ? (k->pkcs1 ? "rsa-pkcs1-sha256" : "rsa-pss-sha256") : "rsa-oaep-sha256";
    if (ok) {
        out->len = at + len;
        return KT_OK;
    }
    if (out->data) kt_wipe(out->data + at, out->cap - at);
    return op == KT_AECS_DECRYPT ? kt_fail(KT_ERR_VERIFY, "the ciphertext does not decrypt under this key")
                                 : kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: RSA %s failed (an input too long for "
                                                                    "the key?)", k->name, kt_aecs_key_op_names[op]);
}

/* An elliptic-curve key's kt_key (P-256, a certificate's, SM2) and its algorithm. */
static kt_status ec_key(const kt_aecs_key *k, kt_key **key, const char **alg)
{
    EVP_PKEY *pk = private_key(k->key, k->key_len);
    kt_status got = pk ? kt_key_from_openssl(pk, key) : KT_ERR_VERIFY; /* its own reference */
    EVP_PKEY_free(pk);
    if (got) return kt_fail(KT_ERR_VERIFY, "secret %s: its key does not read back", k->name);
    if (kt_key_type_of(*key) == KT_KEY_RSA3072_E3) {
        kt_key_free(*key);
        *key = NULL;
        return kt_fail(KT_ERR_VERIFY, "secret %s: its key is no elliptic-curve key", k->name);
    }
    *alg = kt_key_type_of(*key) == KT_KEY_SM2 ? "sm2-sm3" : "ecdsa-p256-sha256";
    return KT_OK;
}

/* P-256 (a certificate's key too): ECDSA SHA-256, r || s; SM2: SM2 with SM3, DER. */
static kt_status ec_use(const kt_aecs_key *k, kt_aecs_key_op op, const uint8_t *in, size_t n, kt_buf *out,
                        const char **alg)
{
    if (op != KT_AECS_SIGN)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s is an elliptic-curve key: it only signs", k->name);
    kt_key *key = NULL;
    kt_status st = ec_key(k, &key, alg);
    if (!st) st = kt_sign(key, in, n, out);
    kt_key_free(key);
    return st;
}

kt_status kt_aecs_key_use(const kt_aecs_key *k, kt_aecs_key_op op, const uint8_t *in, size_t n, const uint8_t *aad,
                          size_t aad_n, kt_buf *out, const char **algorithm)
{
    if (!k || !out || !algorithm || (op != KT_AECS_SIGN && op != KT_AECS_ENCRYPT && op != KT_AECS_DECRYPT &&
                                     op != KT_AECS_WRAP && op != KT_AECS_UNWRAP))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "key use: bad argument");
    if (n > KT_AECS_KEY_INPUT_MAX) return kt_fail(KT_ERR_TOO_LARGE, "the input is %zu bytes, at most %d", n, KT_AECS_KEY_INPUT_MAX);
    if (aad_n > KT_AECS_KEY_INPUT_MAX)
        return kt_fail(KT_ERR_TOO_LARGE, "the aad is %zu bytes, at most %d", aad_n, KT_AECS_KEY_INPUT_MAX);
    if (aad_n && k->kind != KT_AECS_KEY_AES256)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: aad is for AES-GCM only", k->name);
    *algorithm = "";
    switch (k->kind) {
    case KT_AECS_KEY_AES256: return aes_use(k, op, in, n, aad, aad_n, out, algorithm);
    case KT_AECS_KEY_RSA: return rsa_use(k, op, in, n, out, algorithm);
    case KT_AECS_KEY_EC: return ec_use(k, op, in, n, out, algorithm);
    }
    return kt_fail(KT_ERR_INVALID_ARGUMENT, "key use: no such key kind");
}

kt_status kt_aecs_key_sign_each(const kt_aecs_key *k, const kt_bytes *in, size_t n, kt_buf *out, const char **algorithm)
{
    if (!k || (n && (!in || !out)) || !algorithm) return kt_fail(KT_ERR_INVALID_ARGUMENT, "key use: bad argument");
    for (size_t i = 0; i < n; i++)
        if (in[i].n > KT_AECS_KEY_INPUT_MAX)
            return kt_fail(KT_ERR_TOO_LARGE, "input %zu is %zu bytes, at most %d", i, in[i].n, KT_AECS_KEY_INPUT_MAX);
    if (k->kind != KT_AECS_KEY_EC) { /* RSA signs far slower than it is read; AES does not sign */
        kt_status st = KT_OK;
        for (size_t i = 0; i < n && !st; i++) st = kt_aecs_key_use(k, KT_AECS_SIGN, in[i].p, in[i].n, NULL, 0, &out[i], algorithm);
        return st;
    }
    kt_key *key = NULL; /* read once for all of them */
    *algorithm = "";
    kt_status st = ec_key(k, &key, algorithm);
    for (size_t i = 0; i < n && !st; i++) st = kt_sign(key, in[i].p, in[i].n, &out[i]);
    kt_key_free(key);
    return st;
}
