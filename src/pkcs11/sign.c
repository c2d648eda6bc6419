/* Signing in the token: CKM_SHA256_RSA_PKCS, the token hashing the message, exactly the
 * PKCS#1 v1.5 SHA-256 signature kt_sign makes with a key file. */
#include "internal.h"

#include <string.h>

kt_status kt_p11_sign(kt_p11_key *k, const void *msg, size_t n, uint8_t sig[KT_RSA3072_LEN])
{
    if (!k || !sig || (n && !msg)) return kt_fail(KT_ERR_INVALID_ARGUMENT, "sign: NULL argument");
    kt_p11 *t = k->t;
    CK_SESSION_HANDLE s;
    kt_status st = kt_p11_session_take(t, &s);
    if (st) return st;
    CK_MECHANISM m = {CKM_SHA256_RSA_PKCS, NULL, 0};
    CK_ULONG len = KT_RSA3072_LEN;
    CK_RV rv = t->f->C_SignInit(s, &m, k->priv);
    if (rv == CKR_OK) rv = t->f->C_Sign(s, (CK_BYTE_PTR)msg, n, sig, &len);
    kt_p11_session_give(t, s, rv != CKR_OK);
    if (rv != CKR_OK) return kt_p11_fail(KT_ERR_CRYPTO, rv, "signing in the token");
    if (len != KT_RSA3072_LEN)
        return kt_fail(KT_ERR_CRYPTO, "the token's signature is %lu bytes, not 384",
                       (unsigned long)len);
    /* a faulty token's signature would leak the key through a bad SIGSTRUCT (and fail
     * loading anyway): check it, which costs little with e=3 */
    st = kt_verify(k->pub, msg, n, sig, KT_RSA3072_LEN);
    if (st) {
        memset(sig, 0, KT_RSA3072_LEN);
        return kt_fail(KT_ERR_CRYPTO, "the token's signature does not verify with key '%s'",
                       k->label);
    }
    return KT_OK;
}
