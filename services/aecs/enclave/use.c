/* Never-export keys used in place (docs/aecs.md "Never-export keys"): a TA whose verified
 * identity the secret's rules admit asks AECS to sign, decrypt, encrypt, wrap or unwrap
 * with the key; the key itself never leaves the enclave. The algorithm is the key's (its
 * type and params), never the request's, so one key serves one scheme. */
#include "aecs.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <string.h>

#define T(x) KUBETEE__AECS__V1__SECRET_TYPE__SECRET_TYPE_##x
#define INPUT_MAX (64 * 1024)
#define WRAP_AAD "kubetee.aecs.wrap.v1"

typedef Kubetee__Aecs__V1__KeyOpRequest op_req;
typedef Kubetee__Aecs__V1__KeyOpResponse op_res;
typedef enum { SIGN, ENCRYPT, DECRYPT, WRAP, UNWRAP } op_kind;
static const char *const op_names[] = {"Sign", "Encrypt", "Decrypt", "Wrap", "Unwrap"};

static bool is_key_type(int t)
{
    return t == T(AES256_KEY) || t == T(RSA_KEY_PAIR) || t == T(SM2_KEY_PAIR) || t == T(EC_P256_KEY_PAIR) ||
           t == T(CERTIFICATE);
}

kt_status ae_use_spec_check(const ae_spec *s)
{
    const char *padding = ae_param(s, "padding", NULL), *wrap = ae_param(s, "wrap", NULL);
    if (s->never_export && !is_key_type(s->type))
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "secret %s: never-export is for keys (AES-256, RSA, SM2, P-256, certificates); this type has "
                       "nothing to use in place",
                       s->name);
    if (padding && (!s->never_export || s->type != T(RSA_KEY_PAIR)))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: param padding is for never-export RSA keys", s->name);
    if (padding && strcmp(padding, "pss") && strcmp(padding, "pkcs1"))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: padding must be pss or pkcs1", s->name);
    if (wrap && (!s->never_export || s->type != T(AES256_KEY)))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: param wrap is for never-export AES-256 keys", s->name);
    if (wrap && strcmp(wrap, "kwp") && strcmp(wrap, "gcm"))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: wrap must be kwp or gcm", s->name);
    return KT_OK;
}

static kt_status out_bytes(op_res *rs, const void *p, size_t n, const char *algorithm)
{
    rs->algorithm = (char *)algorithm;
    return kt_call_bytes(&rs->output, p, n);
}

/* AES-256-GCM: iv (12) || ciphertext || tag (16) */
static kt_status gcm(bool seal, const uint8_t key[32], const uint8_t *aad, size_t aad_n, const ProtobufCBinaryData *in,
                     op_res *rs, const char *algorithm)
{
    kt_buf b = {0};
    kt_status st;
    if (seal) {
        if ((st = kt_buf_reserve(&b, in->len + 28))) return st;
        b.len = in->len + 28;
        st = kt_random(b.data, 12);
        if (!st) st = kt_aead_seal(key, b.data, aad, aad_n, in->data, in->len, b.data + 12, b.data + 12 + in->len);
    } else {
        if (in->len < 28) return kt_fail(KT_ERR_INVALID_ARGUMENT, "the input is no AES-GCM ciphertext (iv || ciphertext || tag)");
        size_t n = in->len - 28;
        if ((st = kt_buf_reserve(&b, n + 1))) return st;
        b.len = n;
        st = kt_aead_open(key, in->data, aad, aad_n, in->data + 12, n, in->data + 12 + n, b.data);
        if (st) st = kt_fail(KT_ERR_VERIFY, "the ciphertext does not open under this key (and aad)");
    }
    if (!st) st = out_bytes(rs, b.data, b.len, algorithm);
    kt_buf_free(&b);
    return st;
}

/* AES-256 key wrap with padding (RFC 5649) */
static kt_status kwp(bool wrap, const uint8_t key[32], const ProtobufCBinaryData *in, op_res *rs)
{
    if (wrap ? !in->len || in->len > 4096 : in->len < 16 || in->len % 8)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, wrap ? "a wrapped key is 1..4096 bytes" : "the input is no wrapped key");
    EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, "AES-256-WRAP-PAD", NULL);
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    kt_buf b = {0};
    int n = 0, f = 0;
    bool ok = c && x && !kt_buf_reserve(&b, in->len + 16) && EVP_CipherInit_ex(x, c, NULL, key, NULL, wrap) &&
              EVP_CipherUpdate(x, b.data, &n, in->data, (int)in->len) && EVP_CipherFinal_ex(x, b.data + n, &f);
    EVP_CIPHER_CTX_free(x);
    EVP_CIPHER_free(c);
    kt_status st = ok ? out_bytes(rs, b.data, (size_t)(n + f), "aes-256-kwp")
                      : kt_fail(wrap ? KT_ERR_CRYPTO : KT_ERR_VERIFY, wrap ? "AES key wrap failed" : "the wrapped key does not unwrap under this key");
    ERR_clear_error();
    kt_buf_free(&b);
    return st;
}

static kt_status aes_op(const ae_spec *s, op_kind k, const ProtobufCBinaryData *key, const op_req *rq, op_res *rs)
{
    if (key->len != 32) return kt_fail(KT_ERR_VERIFY, "secret %s: its AES key is not 32 bytes", s->name);
    if (k == SIGN) return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s is an AES-256 key: it does not sign", s->name);
    if (k == ENCRYPT || k == DECRYPT) return gcm(k == ENCRYPT, key->data, rq->aad.data, rq->aad.len, &rq->input, rs, "aes-256-gcm");
    if (!strcmp(ae_param(s, "wrap", "kwp"), "kwp")) {
        if (rq->aad.len) return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s wraps with AES-KWP, which takes no aad", s->name);
        return kwp(k == WRAP, key->data, &rq->input, rs);
    }
    /* gcm wrapping: its own label before the caller's aad, so a wrapped key is not a plain ciphertext */
    kt_buf aad = {0};
    kt_status st = kt_buf_append(&aad, WRAP_AAD, sizeof WRAP_AAD);
    if (!st) st = kt_buf_append(&aad, rq->aad.data, rq->aad.len);
    if (!st) st = gcm(k == WRAP, key->data, aad.data, aad.len, &rq->input, rs, "aes-256-gcm-wrap");
    kt_buf_free(&aad);
    return st;
}

/* RSA: sign by the key's padding (PSS with a 32-byte salt, or PKCS#1 v1.5), SHA-256;
 * encrypt and decrypt with OAEP-SHA256. */
static kt_status rsa_op(const ae_spec *s, op_kind k, EVP_PKEY *pk, const op_req *rq, op_res *rs)
{
    if (k == WRAP || k == UNWRAP)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s is an RSA key: Wrap and Unwrap are for AES-256 keys "
                                                "(Encrypt uses RSA-OAEP)", s->name);
    bool pss = !strcmp(ae_param(s, "padding", "pss"), "pss");
    size_t n = (size_t)EVP_PKEY_get_size(pk);
    kt_buf b = {0};
    if (kt_buf_reserve(&b, n)) return KT_ERR_NO_MEMORY;
    size_t len = n;
    bool ok;
    if (k == SIGN) {
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        EVP_PKEY_CTX *p = NULL;
        ok = m && EVP_DigestSignInit_ex(m, &p, "SHA256", NULL, NULL, pk, NULL) &&
             EVP_PKEY_CTX_set_rsa_padding(p, pss ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING) > 0 &&
             (!pss || EVP_PKEY_CTX_set_rsa_pss_saltlen(p, RSA_PSS_SALTLEN_DIGEST) > 0) &&
             EVP_DigestSign(m, b.data, &len, rq->input.data, rq->input.len) == 1;
        EVP_MD_CTX_free(m);
    } else {
        EVP_PKEY_CTX *p = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
        ok = p && (k == ENCRYPT ? EVP_PKEY_encrypt_init(p) : EVP_PKEY_decrypt_init(p)) > 0 &&
             EVP_PKEY_CTX_set_rsa_padding(p, RSA_PKCS1_OAEP_PADDING) > 0 &&
             EVP_PKEY_CTX_set_rsa_oaep_md(p, EVP_get_digestbyname("SHA256")) > 0 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(p, EVP_get_digestbyname("SHA256")) > 0 &&
             (k == ENCRYPT ? EVP_PKEY_encrypt(p, b.data, &len, rq->input.data, rq->input.len)
                           : EVP_PKEY_decrypt(p, b.data, &len, rq->input.data, rq->input.len)) > 0;
        EVP_PKEY_CTX_free(p);
    }
    ERR_clear_error();
    const char *alg = k == SIGN ? (pss ? "rsa-pss-sha256" : "rsa-pkcs1-sha256") : "rsa-oaep-sha256";
    kt_status st = ok ? out_bytes(rs, b.data, len, alg)
                      : k == DECRYPT ? kt_fail(KT_ERR_VERIFY, "the ciphertext does not decrypt under this key")
                                     : kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: RSA %s failed (an input too "
                                                                        "long for the key?)", s->name, op_names[k]);
    kt_buf_free(&b);
    return st;
}

/* P-256 (and a certificate's P-256 key): ECDSA-SHA256, r || s; SM2: SM2-SM3, DER. */
static kt_status ec_op(const ae_spec *s, op_kind k, const ProtobufCBinaryData *pem, const op_req *rq, op_res *rs)
{
    if (k != SIGN)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s is an elliptic-curve key: it only signs", s->name);
    kt_key *key = NULL;
    kt_buf sig = {0};
    kt_status st = kt_key_from_pem((const char *)pem->data, pem->len, &key);
    if (st) return kt_fail_context(KT_ERR_VERIFY, "secret %s: its key does not read back", s->name);
    bool sm2 = kt_key_type_of(key) == KT_KEY_SM2;
    st = kt_sign(key, rq->input.data, rq->input.len, &sig);
    if (!st) st = out_bytes(rs, sig.data, sig.len, sm2 ? "sm2-sm3" : "ecdsa-p256-sha256");
    kt_key_free(key);
    kt_buf_free(&sig);
    return st;
}

static kt_status use_body(const ae_caller *c, op_kind k, const op_req *rq, op_res *rs)
{
    ae_secret *s = NULL;
    const Kubetee__Aecs__V1__StoredVersion *v = NULL;
    kt_status st = ae_ta_secret(c, rq->service, rq->name, rq->version, &s, &v);
    if (st) return st;
    if (!s->spec->never_export)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s/%s is not never-export: an admitted TA gets it with "
                                                "GetSecret and uses it itself", rq->service, rq->name);
    if (rq->input.len > INPUT_MAX)
        return kt_fail(KT_ERR_TOO_LARGE, "the input is %zu bytes, at most %d", rq->input.len, INPUT_MAX);
    if (rq->aad.len > INPUT_MAX) return kt_fail(KT_ERR_TOO_LARGE, "the aad is %zu bytes, at most %d", rq->aad.len, INPUT_MAX);
    if (rq->aad.len && s->spec->type != T(AES256_KEY))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s/%s: aad is for AES-GCM only", rq->service, rq->name);
    rs->version = v->version;
    switch (s->spec->type) {
    case T(AES256_KEY): return aes_op(s->spec, k, &v->data, rq, rs);
    case T(RSA_KEY_PAIR): {
        BIO *in = BIO_new_mem_buf(v->data.data, (int)v->data.len);
        EVP_PKEY *pk = in ? PEM_read_bio_PrivateKey(in, NULL, NULL, NULL) : NULL;
        BIO_free(in);
        if (!pk) return kt_fail(KT_ERR_VERIFY, "secret %s: its key does not read back", rq->name);
        st = rsa_op(s->spec, k, pk, rq, rs);
        EVP_PKEY_free(pk);
        return st;
    }
    default: return ec_op(s->spec, k, &v->data, rq, rs);
    }
}

static kt_status use(op_kind k, const op_req *rq, op_res *rs)
{
    ae_caller c;
    kt_status st = ae_caller_get(&c);
    if (st) return st;
    pthread_mutex_lock(&ae_lock);
    st = use_body(&c, k, rq, rs);
    ae_audit(&c, op_names[k], rq->name, st);
    pthread_mutex_unlock(&ae_lock);
    return st;
}

#define USE(name, kind)                                                                                            \
    static kt_status name(const op_req *rq, op_res *rs) { return use(kind, rq, rs); }                             \
    KT_REMOTE_FUNCTION(name, "aecs." #name, Kubetee__Aecs__V1__KeyOpRequest, kubetee__aecs__v1__key_op_request,    \
                       Kubetee__Aecs__V1__KeyOpResponse, kubetee__aecs__v1__key_op_response)
USE(Sign, SIGN)
USE(Encrypt, ENCRYPT)
USE(Decrypt, DECRYPT)
USE(Wrap, WRAP)
USE(Unwrap, UNWRAP)
