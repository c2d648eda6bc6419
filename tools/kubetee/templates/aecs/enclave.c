@extends base/enclave.c@
@block header@
/* @NAME@, the trusted half: a TA whose key lives in AECS. It connects to AECS through its
 * host (every byte sealed in an attested session; AECS's quote is verified here against
 * the policy compiled in below, this enclave's quote by AECS), asks for its own key, bound
 * to its MRENCLAVE, and has AECS make it on the first run. The host never sees the key. */
#include <kubetee/aecs.h>
#include <kubetee/crypto.h>
#include <kubetee/trusted.h>
#include "aecs_pins.h"
#include "app.pb-c.h"

#include <string.h>

#define KEY_NAME "app-key"

/* what AECS must be: its signer and product, on the simulation root the build saw
 * (aecs_pins.h, made by aecs_pins.cmake). Measured into MRENCLAVE: no host can change it. */
static const char aecs_policy[] = "{\"allow_simulation\":true,\"simulation_root\":\"" AECS_SIM_ROOT
                                  "\",\"rules\":[{\"mrsigner\":\"" AECS_MRSIGNER
                                  "\",\"isvprodid\":" AECS_PRODID ",\"allow_debug\":false}]}";
@end@

@block functions@
/* this TA's key: handed back by AECS, or made there on the first run */
static kt_status own_key(kt_aecs_ta *ta, kt_aecs_secret **key, bool *created)
{
    *created = false;
    kt_status st = kt_aecs_ta_get_own(ta, KT_AECS_BIND_MRENCLAVE, KEY_NAME, 0, key);
    if (st != KT_ERR_NOT_FOUND) return st;
    kt_aecs_ta_spec spec = {.bind = KT_AECS_BIND_MRENCLAVE, .name = KEY_NAME, .type = "SECRET_TYPE_AES256_KEY"};
    *created = true;
    return kt_aecs_ta_create(ta, &spec, key);
}

static kt_status start(const App__StartRequest *req, App__StartReply *res)
{
    kt_policy *policy = NULL;
    kt_aecs_ta *ta = NULL;
    kt_aecs_secret *key = NULL;
    kt_report_body aecs;
    bool created;
    kt_status st = kt_policy_parse(aecs_policy, strlen(aecs_policy), &policy);
    if (!st) st = kt_aecs_ta_connect(req->aecs, policy, &ta);
    kt_policy_free(policy);
    if (!st) st = kt_aecs_ta_peer(ta, &aecs);
    if (!st) st = own_key(ta, &key, &created);
    kt_status closed = kt_aecs_ta_close(ta);
    if (!st) st = closed;
    if (!st && key->len != 32) st = kt_fail(KT_ERR_MALFORMED, "AECS handed over %zu key bytes, not 32", key->len);
    uint8_t digest[32];
    size_t n = strlen(req->message);
    uint8_t *sealed = NULL; /* nonce || ciphertext || tag, in call memory */
    if (!st && n > 4096) st = kt_fail(KT_ERR_TOO_LARGE, "message: %zu bytes, over 4096", n);
    if (!st && !(sealed = kt_call_alloc(KT_GCM_IV_LEN + n + KT_GCM_TAG_LEN))) st = KT_ERR_NO_MEMORY;
    if (!st) st = kt_random(sealed, KT_GCM_IV_LEN);
    if (!st)
        st = kt_aead_seal(key->data, sealed, NULL, 0, (const uint8_t *)req->message, n, sealed + KT_GCM_IV_LEN,
                          sealed + KT_GCM_IV_LEN + n);
    if (!st) st = kt_sha256(key->data, key->len, digest);
    if (!st) st = kt_call_bytes(&res->key_id, digest, 8);
    if (!st) st = kt_call_bytes(&res->aecs_mrenclave, aecs.mrenclave, 32);
    if (!st) {
        res->sealed.data = sealed;
        res->sealed.len = KT_GCM_IV_LEN + n + KT_GCM_TAG_LEN;
    }
    if (!st) {
        res->created = created;
        res->version = key->version;
        st = log_line(created ? "AECS made this TA's key" : "AECS handed back this TA's key");
    }
    kt_aecs_secret_free(key); /* wipes it */
    return st;
}
KT_TRUSTED_FUNCTION(start, "Start", App__StartRequest, app__start_request, App__StartReply, app__start_reply)
@end@
