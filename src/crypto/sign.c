/* Signatures (ECDSA P-256, RSA-3072 PKCS#1 v1.5, SM2), ECDH, SIGSTRUCT's q1/q2. */
#include "internal.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <string.h>

static const char sm2_id[] = "1234567812345678";

/* A digest-sign/verify context; for SM2 also the key context carrying the ID, which the
 * digest context does not own: free it after the digest context. */
static kt_status digest_ctx(const kt_key *k, bool sign, EVP_MD_CTX **out, EVP_PKEY_CTX **sm2_ctx)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    const char *dname = k->type == KT_KEY_SM2 ? "SM3" : "SHA256";
    if (!md) return kt_ossl_fail("digest context");
    if (k->type == KT_KEY_SM2) {
        pctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
        if (!pctx || EVP_PKEY_CTX_set1_id(pctx, sm2_id, sizeof sm2_id - 1) <= 0) {
            EVP_PKEY_CTX_free(pctx);
            EVP_MD_CTX_free(md);
            return kt_ossl_fail("SM2 ID");
        }
        EVP_MD_CTX_set_pkey_ctx(md, pctx);
    }
    int ok = sign ? EVP_DigestSignInit_ex(md, NULL, dname, NULL, NULL, k->pkey, NULL)
                  : EVP_DigestVerifyInit_ex(md, NULL, dname, NULL, NULL, k->pkey, NULL);
    if (ok && k->type == KT_KEY_RSA3072_E3)
        ok = EVP_PKEY_CTX_set_rsa_padding(EVP_MD_CTX_get_pkey_ctx(md), RSA_PKCS1_PADDING);
    if (!ok) {
        EVP_MD_CTX_free(md);
        EVP_PKEY_CTX_free(pctx);
        return kt_ossl_fail(sign ? "sign init" : "verify init");
    }
    *out = md;
    *sm2_ctx = pctx;
    return KT_OK;
}

kt_status kt_sign(const kt_key *k, const void *msg, size_t n, kt_buf *sig)
{
    if (!k || !sig || (n && !msg)) return kt_fail(KT_ERR_INVALID_ARGUMENT, "sign: NULL argument");
    if (!kt_key_has_private(k)) return kt_fail(KT_ERR_STATE, "sign: key has no private part");
    EVP_MD_CTX *md;
    EVP_PKEY_CTX *pctx;
    kt_status st = digest_ctx(k, true, &md, &pctx);
    if (st) return st;
    uint8_t der[512];
    size_t len = sizeof der;
    int ok = EVP_DigestSign(md, der, &len, msg, n);
    EVP_MD_CTX_free(md);
    EVP_PKEY_CTX_free(pctx);
    if (!ok) return kt_ossl_fail("sign");
    if (k->type != KT_KEY_P256) return kt_buf_append(sig, der, len);
    /* ECDSA: DER to fixed r||s */
    const uint8_t *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
    uint8_t raw[KT_P256_SIG_LEN];
    ok = es && BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32) == 32 &&
         BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32) == 32;
    ECDSA_SIG_free(es);
    return ok ? kt_buf_append(sig, raw, sizeof raw) : kt_ossl_fail("ECDSA signature encoding");
}

kt_status kt_verify(const kt_key *k, const void *msg, size_t n, const uint8_t *sig, size_t sig_len)
{
    if (!k || !sig || (n && !msg)) return kt_fail(KT_ERR_INVALID_ARGUMENT, "verify: NULL argument");
    uint8_t der[128];
    const uint8_t *s = sig;
    size_t slen = sig_len;
    if (k->type == KT_KEY_P256) {
        if (sig_len != KT_P256_SIG_LEN)
            return kt_fail(KT_ERR_VERIFY, "ECDSA signature is %zu bytes, expected 64", sig_len);
        ECDSA_SIG *es = ECDSA_SIG_new();
        BIGNUM *r = BN_bin2bn(sig, 32, NULL), *sv = BN_bin2bn(sig + 32, 32, NULL);
        if (!es || !r || !sv || !ECDSA_SIG_set0(es, r, sv)) {
            ECDSA_SIG_free(es);
            BN_free(r);
            BN_free(sv);
            return kt_ossl_fail("ECDSA signature decoding");
        }
        uint8_t *p = der;
        int dl = i2d_ECDSA_SIG(es, &p);
        ECDSA_SIG_free(es);
        if (dl <= 0) return kt_ossl_fail("ECDSA signature encoding");
        s = der;
        slen = (size_t)dl;
    } else if (k->type == KT_KEY_RSA3072_E3 && sig_len != KT_RSA3072_LEN) {
        return kt_fail(KT_ERR_VERIFY, "RSA signature is %zu bytes, expected 384", sig_len);
    }
    EVP_MD_CTX *md;
    EVP_PKEY_CTX *pctx;
    kt_status st = digest_ctx(k, false, &md, &pctx);
    if (st) return st;
    int r = EVP_DigestVerify(md, s, slen, msg, n);
    EVP_MD_CTX_free(md);
    EVP_PKEY_CTX_free(pctx);
    ERR_clear_error();
    return r == 1 ? KT_OK : kt_fail(KT_ERR_VERIFY, "signature does not verify");
}

kt_status kt_ecdh(const kt_key *mine, const kt_key *peer, uint8_t out[32])
{
    if (!mine || !peer || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "ecdh: NULL argument");
    if (mine->type != KT_KEY_P256 || peer->type != KT_KEY_P256)
        return kt_fail(KT_ERR_UNSUPPORTED, "ecdh: both keys must be P-256");
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, mine->pkey, NULL);
    size_t len = 32;
    int ok = ctx && EVP_PKEY_derive_init(ctx) > 0 &&
             EVP_PKEY_derive_set_peer(ctx, peer->pkey) > 0 && EVP_PKEY_derive(ctx, out, &len) > 0 &&
             len == 32;
    EVP_PKEY_CTX_free(ctx);
    return ok ? KT_OK : kt_ossl_fail("ecdh");
}

kt_status kt_rsa_sigstruct_q(const uint8_t mod[KT_RSA3072_LEN], const uint8_t sig[KT_RSA3072_LEN],
                             uint8_t q1[KT_RSA3072_LEN], uint8_t q2[KT_RSA3072_LEN])
{
    if (!mod || !sig || !q1 || !q2)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "sigstruct q: NULL argument");
    BN_CTX *ctx = BN_CTX_new();
    BIGNUM *m = BN_bin2bn(mod, KT_RSA3072_LEN, NULL), *s = BN_bin2bn(sig, KT_RSA3072_LEN, NULL);
    BIGNUM *t = BN_new(), *a = BN_new(), *rem = BN_new(), *b = BN_new();
    /* q1 = s*s / m; q2 = (s*s*s - q1*s*m) / m = ((s*s mod m) * s) / m */
    int ok = ctx && m && s && t && a && rem && b && !BN_is_zero(m) && BN_sqr(t, s, ctx) &&
             BN_div(a, rem, t, m, ctx) && BN_bn2binpad(a, q1, KT_RSA3072_LEN) == KT_RSA3072_LEN &&
             BN_mul(t, rem, s, ctx) && BN_div(b, NULL, t, m, ctx) &&
             BN_bn2binpad(b, q2, KT_RSA3072_LEN) == KT_RSA3072_LEN;
    BN_free(m), BN_free(s), BN_free(t), BN_free(a), BN_free(rem), BN_free(b);
    BN_CTX_free(ctx);
    return ok ? KT_OK : kt_ossl_fail("sigstruct q1/q2");
}
