/* The enclave's identity key: made on first start, sealed to MRENCLAVE, stored by the
 * host (kt.identity.store), reloaded on later starts (kt.identity.load). A blob that
 * exists but does not unseal stops the start: it is never silently replaced. */
#include "trts.h"
#include "tff.pb-c.h"

#include <string.h>

static kt_key *identity;
static bool identity_new;
static const char aad[] = "kubetee identity v1";

static kt_status create_and_store(void)
{
    kt_buf pem = {0}, blob = {0};
    kt_status st = kt_key_generate(KT_KEY_P256, &identity);
    if (!st) st = kt_key_to_pem(identity, true, &pem);
    if (!st)
        st = kt_seal(KT_SEAL_MRENCLAVE, (const uint8_t *)aad, sizeof aad - 1, pem.data, pem.len,
                     &blob);
    if (!st) {
        Kubetee__Tff__Blob req = KUBETEE__TFF__BLOB__INIT;
        Kubetee__Tff__Empty res = KUBETEE__TFF__EMPTY__INIT;
        req.data.data = blob.data;
        req.data.len = blob.len;
        st = kt_ocall("kt.identity.store", &req, &res);
    }
    kt_buf_free(&pem);
    kt_buf_free(&blob);
    if (!st) {
        identity_new = true;
        kt_log(KT_LOG_INFO, "identity.created", NULL);
    }
    return st;
}

kt_status kt_identity_init(void)
{
    Kubetee__Tff__Empty req = KUBETEE__TFF__EMPTY__INIT;
    Kubetee__Tff__Blob res = KUBETEE__TFF__BLOB__INIT;
    kt_status st = kt_ocall("kt.identity.load", &req, &res);
    if (st == KT_ERR_NOT_FOUND) return create_and_store();
    if (st) return kt_fail_context(st, "loading the sealed identity");
    kt_buf pem = {0}, got_aad = {0};
    st = kt_unseal(res.data.data, res.data.len, &pem, &got_aad);
    if (!st && (got_aad.len != sizeof aad - 1 || memcmp(got_aad.data, aad, got_aad.len) != 0))
        st = kt_fail(KT_ERR_VERIFY, "sealed blob is not an identity");
    if (!st) st = kt_key_from_pem((const char *)pem.data, pem.len, &identity);
    if (!st && (kt_key_type_of(identity) != KT_KEY_P256 || !kt_key_has_private(identity)))
        st = kt_fail(KT_ERR_MALFORMED, "sealed identity is not a P-256 private key");
    kt_buf_free(&pem);
    kt_buf_free(&got_aad);
    if (st) {
        kt_key_free(identity);
        identity = NULL;
        return kt_fail_context(st, "the stored identity does not unseal for this enclave (kept "
                                   "as is; remove it to make a new identity)");
    }
    identity_new = false;
    kt_log(KT_LOG_INFO, "identity.loaded", NULL);
    return KT_OK;
}

void kt_identity_fini(void)
{
    kt_key_free(identity);
    identity = NULL;
}

kt_status kt_identity_public(uint8_t pub[KT_P256_PUBLIC_LEN])
{
    size_t len;
    if (!identity) return kt_fail(KT_ERR_STATE, "identity: enclave not initialised");
    return kt_key_public_raw(identity, pub, KT_P256_PUBLIC_LEN, &len);
}

kt_status kt_identity_sign(const void *msg, size_t n, uint8_t sig[KT_P256_SIG_LEN])
{
    if (!identity) return kt_fail(KT_ERR_STATE, "identity: enclave not initialised");
    kt_buf b = {0};
    kt_status st = kt_sign(identity, msg, n, &b);
    if (!st) memcpy(sig, b.data, KT_P256_SIG_LEN);
    kt_buf_free(&b);
    return st;
}

bool kt_identity_is_new(void)
{
    return identity_new;
}
