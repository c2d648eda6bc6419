/* Secret material, made inside the enclave by type (docs/aecs.md "Operations"), the
 * public part of it for getpub, and the TA policy rules. */
#define _GNU_SOURCE /* memmem */
#include "aecs.h"

#include <kubetee/aecs.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

typedef Kubetee__Aecs__V1__SecretType stype;
#define T(x) KUBETEE__AECS__V1__SECRET_TYPE__SECRET_TYPE_##x

/* A BIO's bytes into out (the BIO is freed). */
static kt_status from_bio(BIO *b, int ok, kt_buf *out, const char *what)
{
    char *p = NULL;
    long n = ok ? BIO_get_mem_data(b, &p) : 0;
    kt_status st = ok && n > 0 ? kt_buf_append(out, p, (size_t)n) : kt_fail(KT_ERR_CRYPTO, "%s failed", what);
    BIO_free(b);
    return st;
}

static kt_status rsa_pair(const ae_spec *s, kt_buf *out)
{
    const char *bits = ae_param(s, "bit_length", "3072"), *pkcs = ae_param(s, "pkcs_type", "pkcs8");
    size_t n = !strcmp(bits, "2048") ? 2048 : !strcmp(bits, "3072") ? 3072 : !strcmp(bits, "4096") ? 4096 : 0;
    if (!n) return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: bit_length must be 2048, 3072 or 4096", s->name);
    bool p1 = !strcmp(pkcs, "pkcs1");
    if (!p1 && strcmp(pkcs, "pkcs8"))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: pkcs_type must be pkcs1 or pkcs8", s->name);
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", n);
    if (!k) return kt_fail(KT_ERR_CRYPTO, "secret %s: RSA key generation failed", s->name);
    BIO *b = BIO_new(BIO_s_secmem());
    int ok = b && (p1 ? PEM_write_bio_PrivateKey_traditional(b, k, NULL, NULL, 0, NULL, NULL)
                      : PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL));
    EVP_PKEY_free(k);
    return from_bio(b, ok, out, "RSA key PEM");
}

/* SM2 and P-256 pairs, PKCS#8 PEM */
static kt_status ec_pair(const ae_spec *s, kt_key_type type, kt_buf *out)
{
    if (type == KT_KEY_P256 && strcmp(ae_param(s, "pkcs_type", "pkcs8"), "pkcs8"))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: a P-256 key is PKCS#8 (pkcs_type pkcs8)", s->name);
    kt_key *k = NULL;
    kt_status st = kt_key_generate(type, &k);
    if (!st) st = kt_key_to_pem(k, true, out);
    kt_key_free(k);
    return st;
}

/* Key-value pairs from the params (the original's way) or from the data, kept as the
 * original's JSON. */
static kt_status configurations(const ae_spec *s, const uint8_t *data, size_t n, kt_buf *out)
{
    kt_aecs_config c = {0};
    kt_status st = KT_OK;
    if (n && s->n_params)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: configurations come from the params or from the data, "
                                                "not from both", s->name);
    if (n) st = kt_aecs_config_parse(data, n, &c);
    for (size_t i = 0; i < s->n_params && !st; i++)
        st = kt_aecs_config_add(&c, s->params[i]->key, strlen(s->params[i]->key), s->params[i]->value,
                                strlen(s->params[i]->value));
    if (!st) st = kt_aecs_config_to_json(&c, out);
    kt_aecs_config_free(&c);
    return st ? kt_fail_context(st, "secret %s", s->name) : KT_OK;
}

kt_status ae_generate(const ae_spec *s, const uint8_t *data, size_t n, kt_buf *out)
{
    switch ((stype)s->type) {
    case T(AES256_KEY):
        if (n) return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: an AES-256 key is made by AECS, not given", s->name);
        if (kt_buf_reserve(out, 32)) return KT_ERR_NO_MEMORY;
        out->len = 32;
        return kt_random(out->data, 32);
    case T(RSA_KEY_PAIR):
        if (n) return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: RSA keys are made by AECS, not given", s->name);
        return rsa_pair(s, out);
    case T(SM2_KEY_PAIR):
        if (n) return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: SM2 keys are made by AECS, not given", s->name);
        return ec_pair(s, KT_KEY_SM2, out);
    case T(EC_P256_KEY_PAIR):
        if (n) return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: P-256 keys are made by AECS, not given", s->name);
        return ec_pair(s, KT_KEY_P256, out);
    case T(IMPORT_DATA):
        if (!n) return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: IMPORT_DATA needs data", s->name);
        return kt_buf_append(out, data, n);
    case T(CERTIFICATE):
        if (n) { /* an imported certificate: it must be one */
            kt_cert *c = NULL;
            kt_status st = kt_cert_from_pem((const char *)data, n, &c);
            kt_cert_free(c);
            if (st) return kt_fail_context(st, "secret %s: imported certificate", s->name);
            return kt_buf_append(out, data, n);
        }
        return ae_certificate(s, NULL, 0, out);
    case T(CONFIGURATIONS): return configurations(s, data, n, out);
    default: return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: no such type", s->name);
    }
}

/* Every certificate of a secret's data, in order (the leaf, then its CA's), re-encoded:
 * never its key. */
static kt_status cert_chain(const ae_spec *s, const uint8_t *data, size_t n, kt_buf *pem)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----";
    const char *p = (const char *)data, *end = p + n;
    kt_status st = KT_OK;
    size_t count = 0;
    while (!st && (p = memmem(p, (size_t)(end - p), begin, sizeof begin - 1))) {
        kt_cert *c = NULL;
        st = kt_cert_from_pem(p, (size_t)(end - p), &c);
        if (!st) st = kt_cert_to_pem(c, pem);
        kt_cert_free(c);
        p += sizeof begin - 1;
        count++;
    }
    if (!st && !count) st = kt_fail(KT_ERR_VERIFY, "secret %s holds no certificate", s->name);
    return st;
}

kt_status ae_renew(const ae_spec *s, const uint8_t *prev, size_t n, kt_buf *out)
{
    if (s->type != T(CERTIFICATE))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: keep_key renews certificates; other types get a new key",
                       s->name);
    return ae_certificate(s, prev, n, out);
}

kt_status ae_public_part(const ae_spec *s, const uint8_t *data, size_t n, kt_buf *pem)
{
    if (s->type == T(CERTIFICATE)) return cert_chain(s, data, n, pem);
    if (s->type != T(RSA_KEY_PAIR) && s->type != T(SM2_KEY_PAIR) && s->type != T(EC_P256_KEY_PAIR))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s is of a type with no public part", s->name);
    BIO *in = BIO_new_mem_buf(data, (int)n);
    EVP_PKEY *k = in ? PEM_read_bio_PrivateKey(in, NULL, NULL, NULL) : NULL;
    BIO_free(in);
    if (!k) return kt_fail(KT_ERR_VERIFY, "secret %s: its key does not read back", s->name);
    BIO *b = BIO_new(BIO_s_mem());
    int ok = b && PEM_write_bio_PUBKEY(b, k);
    EVP_PKEY_free(k);
    return from_bio(b, ok, pem, "public key PEM");
}

kt_status ae_ta_refused(const char *service, const char *name, const kt_report_body *ta)
{
    char hex[17];
    kt_hex_encode(ta->mrenclave, 8, hex, sizeof hex);
    return kt_fail(KT_ERR_DENIED, "secret %s/%s: no such secret admits enclave %s... (prodid %u, svn %u%s)", service,
                   name, hex, ta->prodid, ta->svn, (ta->attr_flags & 2) ? ", debug" : "");
}

kt_status ae_policy_admits(const ae_spec *s, const kt_report_body *ta)
{
    for (size_t i = 0; i < s->n_policy; i++) {
        const Kubetee__Aecs__V1__Rule *r = s->policy[i];
        if (r->mrenclave.len == 32 && !kt_equal(r->mrenclave.data, ta->mrenclave, 32)) continue;
        if (r->mrsigner.len == 32 && !kt_equal(r->mrsigner.data, ta->mrsigner, 32)) continue;
        if (!r->mrenclave.len && !r->mrsigner.len && !r->any_enclave) continue;
        if (r->check_prod_id && r->prod_id != ta->prodid) continue;
        if (ta->svn < r->min_isv_svn) continue;
        if (r->debug_disabled && (ta->attr_flags & 2)) continue; /* SGX_FLAGS_DEBUG */
        if (r->user_data.len == 64 && !kt_equal(r->user_data.data, ta->report_data, 64)) continue;
        return KT_OK;
    }
    return ae_ta_refused(s->service, s->name, ta);
}
