/* Secret material, made inside the enclave by type (docs/aecs.md "Operations"), the
 * public part of it for getpub, and the TA policy rules. */
#include "aecs.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

typedef Kubetee__Aecs__V1__SecretType stype;
#define T(x) KUBETEE__AECS__V1__SECRET_TYPE__SECRET_TYPE_##x

static const char *param(const ae_spec *s, const char *key, const char *def)
{
    for (size_t i = 0; i < s->n_params; i++)
        if (!strcmp(s->params[i]->key, key)) return s->params[i]->value;
    return def;
}

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
    const char *bits = param(s, "bit_length", "3072"), *pkcs = param(s, "pkcs_type", "pkcs8");
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

static kt_status sm2_pair(kt_buf *out)
{
    kt_key *k = NULL;
    kt_status st = kt_key_generate(KT_KEY_SM2, &k);
    if (!st) st = kt_key_to_pem(k, true, out);
    kt_key_free(k);
    return st;
}

/* A self-signed P-256 certificate and its key, PEM, the certificate first. */
static kt_status certificate(const ae_spec *s, kt_buf *out)
{
    char subject[300];
    const char *days_s = param(s, "days", "365");
    uint64_t days;
    if (kt_decimal_parse(days_s, 3650, &days) || days == 0)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: days must be 1..3650", s->name);
    snprintf(subject, sizeof subject, "%s", param(s, "subject", ""));
    if (!subject[0]) snprintf(subject, sizeof subject, "CN=%s", s->name);
    kt_key *k = NULL;
    kt_cert *c = NULL;
    kt_status st = kt_key_generate(KT_KEY_P256, &k);
    if (!st) st = kt_cert_self_signed_at(k, subject, ae_now(), (int)days, false, &c);
    if (st) st = kt_fail_context(st, "secret %s", s->name);
    if (!st) st = kt_cert_to_pem(c, out);
    if (!st) st = kt_key_to_pem(k, true, out);
    kt_cert_free(c);
    kt_key_free(k);
    return st;
}

static kt_status configurations(const ae_spec *s, const uint8_t *data, size_t n, kt_buf *out)
{
    if (n) {
        const char *bad = kt_utf8_problem(data, n);
        if (bad) return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: configuration data: %s", s->name, bad);
        return kt_buf_append(out, data, n);
    }
    kt_status st = KT_OK;
    for (size_t i = 0; i < s->n_params && !st; i++)
        st = kt_buf_printf(out, "%s=%s\n", s->params[i]->key, s->params[i]->value);
    return st;
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
        return sm2_pair(out);
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
        return certificate(s, out);
    case T(CONFIGURATIONS): return configurations(s, data, n, out);
    default: return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: no such type", s->name);
    }
}

kt_status ae_public_part(const ae_spec *s, const uint8_t *data, size_t n, kt_buf *pem)
{
    if (s->type == T(CERTIFICATE)) {
        kt_cert *c = NULL;
        kt_status st = kt_cert_from_pem((const char *)data, n, &c);
        if (!st) st = kt_cert_to_pem(c, pem);
        kt_cert_free(c);
        return st;
    }
    if (s->type != T(RSA_KEY_PAIR) && s->type != T(SM2_KEY_PAIR))
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
