/* samples/aecs-ta, the TA: keeps nothing of its own. It proves itself to AECS with its
 * quote, accepts AECS only if AECS's quote passes the policy it compiles in (the AECS
 * enclave's signer and product, no debug enclave, the sample's simulation root: no host
 * chooses whom it trusts), gets its RSA key pair and decrypts a file made with the key's
 * public half. The key lives in this enclave's memory for the call and is wiped after.
 * Built twice: aecs_ta_other has one line changed (AECS_TA_OTHER), so another MRENCLAVE,
 * which the secret's rules do not admit. */
#include <kubetee/aecs.h>
#include <kubetee/trusted.h>
#include "aecs_pins.h"
#include "aecs_ta.pb-c.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <string.h>

#ifdef AECS_TA_OTHER
static const char build[] = "aecs_ta, another build";
#else
static const char build[] = "aecs_ta";
#endif

static const char aecs_policy[] = "{\"allow_simulation\":true,\"simulation_root\":\"" AECS_SIM_ROOT
                                  "\",\"rules\":[{\"mrsigner\":\"" AECS_MRSIGNER
                                  "\",\"isvprodid\":100,\"allow_debug\":false}]}";

/* The SHA-256 (hex) of the public half as PEM, as getpub gives it to the operator. */
static kt_status public_sha256(EVP_PKEY *k, char hex[65])
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p = NULL;
    long n = b && PEM_write_bio_PUBKEY(b, k) ? BIO_get_mem_data(b, &p) : 0;
    uint8_t h[32];
    kt_status st = n > 0 ? kt_sha256(p, (size_t)n, h) : kt_fail(KT_ERR_CRYPTO, "the key's public half");
    BIO_free(b);
    if (!st) kt_hex_encode(h, 32, hex, 65);
    return st;
}

/* RSA-OAEP with SHA-256 (openssl pkeyutl -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256) */
static kt_status decrypt(EVP_PKEY *k, const ProtobufCBinaryData *ct, ProtobufCBinaryData *pt)
{
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, "oaep", 0),
                           OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, "SHA256", 0),
                           OSSL_PARAM_construct_end()};
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
    size_t n = 0;
    kt_status st = c && EVP_PKEY_decrypt_init_ex(c, params) == 1 && EVP_PKEY_decrypt(c, NULL, &n, ct->data, ct->len) == 1
                       ? KT_OK
                       : kt_fail(KT_ERR_CRYPTO, "RSA-OAEP: not a key to decrypt with");
    if (!st && !(pt->data = kt_call_alloc(n))) st = kt_fail(KT_ERR_NO_MEMORY, "the plaintext");
    if (!st && EVP_PKEY_decrypt(c, pt->data, &n, ct->data, ct->len) != 1)
        st = kt_fail(KT_ERR_VERIFY, "the file does not decrypt with this key (RSA-OAEP, SHA-256)");
    if (!st) pt->len = n;
    EVP_PKEY_CTX_free(c);
    return st;
}

/* What the key does: its public half's hash, and the file decrypted. */
static kt_status use(const kt_aecs_secret *key, const AecsTa__RunRequest *req, AecsTa__RunReply *res)
{
    if (strcmp(key->type, "SECRET_TYPE_RSA_KEY_PAIR"))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s/%s is a %s, not an RSA key pair", req->service, req->name,
                       key->type);
    BIO *in = BIO_new_mem_buf(key->data, (int)key->len);
    EVP_PKEY *k = in ? PEM_read_bio_PrivateKey(in, NULL, NULL, NULL) : NULL;
    BIO_free(in);
    if (!k) return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s/%s is no RSA private key PEM", req->service, req->name);
    char hex[65];
    kt_status st = public_sha256(k, hex);
    if (!st && !(res->public_sha256 = kt_call_strdup(hex))) st = kt_fail(KT_ERR_NO_MEMORY, "the hash");
    if (!st) st = decrypt(k, &req->ciphertext, &res->plaintext);
    EVP_PKEY_free(k);
    return st;
}

static kt_status run(const AecsTa__RunRequest *req, AecsTa__RunReply *res)
{
    kt_policy *policy = NULL;
    kt_aecs_ta *ta = NULL;
    kt_aecs_secret *key = NULL;
    kt_report_body aecs;
    kt_status st = kt_policy_parse(aecs_policy, strlen(aecs_policy), &policy);
    if (st) return kt_fail_context(st, "%s: its policy for AECS", build);
    st = kt_aecs_ta_connect(req->aecs, policy, &ta);
    kt_policy_free(policy);
    if (!st) st = kt_aecs_ta_peer(ta, &aecs);
    if (!st) st = kt_call_bytes(&res->aecs_mrenclave, aecs.mrenclave, 32);
    if (!st) st = kt_aecs_ta_get(ta, req->service, req->name, 0, &key);
    if (!st) res->version = key->version;
    if (!st) st = use(key, req, res);
    kt_aecs_secret_free(key);
    if (!st) return kt_aecs_ta_close(ta) ? kt_fail_context(KT_ERR_STATE, "%s: closing", build) : KT_OK;
    char reason[512]; /* AECS's, kept over the close */
    snprintf(reason, sizeof reason, "%s", kt_last_error());
    kt_aecs_ta_close(ta);
    return kt_fail(st, "%s: %s", build, reason);
}
KT_TRUSTED_FUNCTION(run, "aecs_ta.Run", AecsTa__RunRequest, aecs_ta__run_request, AecsTa__RunReply, aecs_ta__run_reply)
