/* The AECS instance key (docs/aecs.md "The instance"): a P-256 key made inside the
 * enclave at init and kept in aecs/state, so sealed with the storage key: it lives through
 * restarts and a restore onto another machine, and a new init (the host emptying the
 * store) makes another, which clients that pin the instance refuse. */
#include "aecs.h"

#include <kubetee/aecs.h>

#include <string.h>

static kt_status adopt(kt_key *k)
{
    size_t n;
    kt_status st = kt_key_public_raw(k, ae.instance_pub, sizeof ae.instance_pub, &n);
    if (!st && n != 64) st = kt_fail(KT_ERR_VERIFY, "the instance key is not P-256");
    if (st) {
        kt_key_free(k);
        return st;
    }
    kt_key_free(ae.instance);
    ae.instance = k;
    return KT_OK;
}

kt_status ae_instance_new(void)
{
    kt_key *k = NULL;
    kt_status st = kt_key_generate(KT_KEY_P256, &k);
    return st ? kt_fail_context(st, "the instance key") : adopt(k);
}

void ae_instance_clear(void)
{
    kt_key_free(ae.instance);
    ae.instance = NULL;
    kt_wipe(ae.instance_pub, sizeof ae.instance_pub);
}

kt_status ae_instance_load(const uint8_t *pem, size_t n)
{
    if (!n) {
        kt_log(KT_LOG_WARN, "aecs.instance_made", "reason", "aecs/state holds no instance key (made before them)", NULL);
        return ae_instance_new();
    }
    kt_key *k = NULL;
    if (kt_key_from_pem((const char *)pem, n, &k) || kt_key_type_of(k) != KT_KEY_P256 || !kt_key_has_private(k)) {
        kt_key_free(k);
        return kt_fail(KT_ERR_VERIFY, "aecs/state: the instance key is no P-256 private key");
    }
    return adopt(k);
}

kt_status ae_instance_pem(kt_buf *pem)
{
    if (!ae.instance) return kt_fail(KT_ERR_STATE, "AECS has no instance key");
    return kt_key_to_pem(ae.instance, true, pem);
}

kt_status ae_instance_prove(const uint8_t *nonce, size_t n, uint8_t sig[64])
{
    if (!ae.instance) return kt_fail(KT_ERR_STATE, "AECS has no instance key yet");
    uint8_t id[KT_SERVICE_ID_LEN];
    kt_session_peer_info peer;
    kt_buf m = {0}, s = {0};
    kt_status st = kt_service_caller(&peer, id);
    if (!st) st = kt_aecs_instance_message(id, nonce, n, ae.instance_pub, &m);
    if (!st) st = kt_sign(ae.instance, m.data, m.len, &s);
    if (!st && s.len != 64) st = kt_fail(KT_ERR_CRYPTO, "the instance signature is %zu bytes", s.len);
    if (!st) memcpy(sig, s.data, 64);
    kt_buf_free(&m);
    kt_buf_free(&s);
    return st;
}

/* freed with the enclave (it lives as long as AECS is ready) */
__attribute__((destructor)) static void free_instance(void)
{
    ae_instance_clear();
}
