/* X.509: self-signed certificates, CSRs, issuing from a CSR, PEM/DER. */
#include "internal.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* "CN=name,O=org" into an X509_NAME. */
static kt_status parse_subject(const char *subject, X509_NAME **out)
{
    if (!subject || !*subject)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "certificate subject is empty");
    char buf[512];
    if (strlen(subject) >= sizeof buf)
        return kt_fail(KT_ERR_TOO_LARGE, "certificate subject longer than %zu", sizeof buf - 1);
    strcpy(buf, subject);
    X509_NAME *name = X509_NAME_new();
    if (!name) return kt_ossl_fail("X509_NAME");
    char *save = NULL;
    for (char *part = strtok_r(buf, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
        while (*part == ' ')
            part++;
        char *eq = strchr(part, '=');
        if (!eq || eq == part || !eq[1]) {
            X509_NAME_free(name);
            return kt_fail(KT_ERR_MALFORMED, "certificate subject part '%s' is not KEY=value",
                           part);
        }
        *eq = '\0';
        if (!X509_NAME_add_entry_by_txt(name, part, MBSTRING_UTF8, (unsigned char *)eq + 1, -1, -1,
                                        0)) {
            X509_NAME_free(name);
            ERR_clear_error();
            return kt_fail(KT_ERR_MALFORMED, "certificate subject key '%s' is unknown", part);
        }
    }
    *out = name;
    return KT_OK;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    int ok = ext && X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

/* Fills in everything but the subject and public key, then signs. */
static int add_extra(X509 *cert, const kt_cert_extension *extra)
{
    if (!extra) return 1;
    ASN1_OBJECT *obj = OBJ_txt2obj(extra->oid, 1);
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *e = NULL;
    int ok = obj && os && extra->len <= INT32_MAX &&
             ASN1_OCTET_STRING_set(os, extra->der, (int)extra->len) &&
             (e = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) && X509_add_ext(cert, e, -1);
    X509_EXTENSION_free(e);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(obj);
    return ok;
}

static kt_status finish(X509 *cert, X509 *issuer, EVP_PKEY *issuer_key, uint64_t serial, int64_t now,
                        int days, bool is_ca, const kt_cert_extension *extra, kt_cert **out)
{
    if (days <= 0 || days > 36500) {
        X509_free(cert);
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "certificate validity of %d days is out of range",
                       days);
    }
    int ok =
        X509_set_version(cert, 2) && ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert), serial) &&
        ASN1_TIME_adj(X509_getm_notBefore(cert), (time_t)now, 0, -60) &&
        ASN1_TIME_adj(X509_getm_notAfter(cert), (time_t)now, days, 0) &&
        X509_set_issuer_name(cert, X509_get_subject_name(issuer)) &&
        add_ext(cert, issuer, NID_basic_constraints,
                is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE") &&
        add_ext(cert, issuer, NID_key_usage,
                is_ca ? "critical,keyCertSign,cRLSign"
                      : "critical,digitalSignature,keyAgreement") &&
        add_ext(cert, issuer, NID_subject_key_identifier, "hash") &&
        (cert == issuer || add_ext(cert, issuer, NID_authority_key_identifier, "keyid:always")) &&
        add_extra(cert, extra);
    const char *md = EVP_PKEY_is_a(issuer_key, "SM2") ? "SM3" : "SHA256";
    ok = ok && X509_sign(cert, issuer_key, EVP_get_digestbyname(md)) > 0;
    if (!ok) {
        X509_free(cert);
        return kt_ossl_fail("certificate signing");
    }
    kt_cert *c = calloc(1, sizeof *c);
    if (!c) {
        X509_free(cert);
        return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    }
    c->x509 = cert;
    *out = c;
    return KT_OK;
}

#ifndef KT_TRUSTED
kt_status kt_cert_self_signed(const kt_key *key, const char *subject, int days, bool is_ca,
                              kt_cert **out)
{
    return kt_cert_self_signed_at(key, subject, (int64_t)time(NULL), days, is_ca, out);
}
#endif

kt_status kt_cert_self_signed_at(const kt_key *key, const char *subject, int64_t now, int days,
                                 bool is_ca, kt_cert **out)
{
    if (!key || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "self-signed: NULL argument");
    uint64_t serial;
    kt_status st = kt_random(&serial, sizeof serial);
    if (st) return st;
    return kt_cert_make_at(NULL, NULL, key, subject, NULL, (serial >> 1) | 1, now, days, is_ca, out);
}

kt_status kt_cert_make_at(const kt_cert *issuer, const kt_key *issuer_key, const kt_key *subject_key,
                          const char *subject, const char *san, uint64_t serial, int64_t now, int days,
                          bool is_ca, kt_cert **out)
{
    if (!subject_key || !out || (issuer && !issuer_key))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "certificate: NULL argument");
    if (serial == 0 || serial >> 63) return kt_fail(KT_ERR_INVALID_ARGUMENT, "certificate serial out of range");
    char sans[KT_CERT_SAN_MAX + KT_CERT_SANS_MAX * 4 + 1];
    X509_NAME *name;
    kt_status st = kt_cert_san_normalize(san, sans, sizeof sans);
    if (st) return st;
    if ((st = parse_subject(subject, &name))) return st;
    X509 *cert = X509_new();
    X509 *by = issuer ? issuer->x509 : cert;
    int ok = cert && X509_set_subject_name(cert, name) && X509_set_pubkey(cert, subject_key->pkey) &&
             (!sans[0] || add_ext(cert, by, NID_subject_alt_name, sans));
    X509_NAME_free(name);
    if (!ok) {
        X509_free(cert);
        return kt_ossl_fail("certificate");
    }
    return finish(cert, by, issuer ? issuer_key->pkey : subject_key->pkey, serial, now, days, is_ca, NULL, out);
}

kt_status kt_csr_new(const kt_key *key, const char *subject, kt_buf *der)
{
    if (!key || !der) return kt_fail(KT_ERR_INVALID_ARGUMENT, "CSR: NULL argument");
    X509_NAME *name;
    kt_status st = parse_subject(subject, &name);
    if (st) return st;
    X509_REQ *req = X509_REQ_new();
    const char *md = key->type == KT_KEY_SM2 ? "SM3" : "SHA256";
    int ok = req && X509_REQ_set_subject_name(req, name) && X509_REQ_set_pubkey(req, key->pkey) &&
             X509_REQ_sign(req, key->pkey, EVP_get_digestbyname(md)) > 0;
    X509_NAME_free(name);
    unsigned char *p = NULL;
    int len = ok ? i2d_X509_REQ(req, &p) : -1;
    X509_REQ_free(req);
    if (len <= 0) return kt_ossl_fail("CSR");
    st = kt_buf_append(der, p, (size_t)len);
    OPENSSL_free(p);
    return st;
}

/* these read the clock: host builds only (an enclave has none; kt_cert_self_signed_at) */
#ifndef KT_TRUSTED
kt_status kt_cert_issue(const kt_cert *issuer, const kt_key *issuer_key, const uint8_t *csr_der,
                        size_t csr_len, uint64_t serial, int days, bool is_ca, kt_cert **out)
{
    return kt_cert_issue_ext(issuer, issuer_key, csr_der, csr_len, serial, days, is_ca, NULL, out);
}

kt_status kt_cert_issue_ext(const kt_cert *issuer, const kt_key *issuer_key, const uint8_t *csr_der,
                            size_t csr_len, uint64_t serial, int days, bool is_ca,
                            const kt_cert_extension *extra, kt_cert **out)
{
    if (!issuer || !issuer_key || !csr_der || !out)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "issue: NULL argument");
    if (csr_len > 65536) return kt_fail(KT_ERR_TOO_LARGE, "CSR of %zu bytes is too large", csr_len);
    const unsigned char *p = csr_der;
    X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)csr_len);
    if (!req || p != csr_der + csr_len) {
        X509_REQ_free(req);
        ERR_clear_error();
        return kt_fail(KT_ERR_MALFORMED, "CSR is not valid DER");
    }
    EVP_PKEY *pub = X509_REQ_get0_pubkey(req);
    if (!pub || X509_REQ_verify(req, pub) != 1) {
        X509_REQ_free(req);
        ERR_clear_error();
        return kt_fail(KT_ERR_VERIFY, "CSR signature does not verify");
    }
    X509 *cert = X509_new();
    int ok = cert && X509_set_subject_name(cert, X509_REQ_get_subject_name(req)) &&
             X509_set_pubkey(cert, pub);
    X509_REQ_free(req);
    if (!ok) {
        X509_free(cert);
        return kt_ossl_fail("issue");
    }
    return finish(cert, issuer->x509, issuer_key->pkey, serial, (int64_t)time(NULL), days, is_ca,
                  extra, out);
}

kt_status kt_crl_new(const kt_cert *issuer, const kt_key *issuer_key, int days, kt_buf *der)
{
    if (!issuer || !issuer_key || !der || days <= 0 || days > 36500)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "CRL: bad argument");
    X509_CRL *crl = X509_CRL_new();
    time_t now = time(NULL);
    ASN1_TIME *t1 = ASN1_TIME_adj(NULL, now, 0, -3600), *t2 = ASN1_TIME_adj(NULL, now, days, 0);
    const char *md = EVP_PKEY_is_a(issuer_key->pkey, "SM2") ? "SM3" : "SHA256";
    int ok = crl && t1 && t2 && X509_CRL_set_version(crl, 1) &&
             X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer->x509)) &&
             X509_CRL_set1_lastUpdate(crl, t1) && X509_CRL_set1_nextUpdate(crl, t2) &&
             X509_CRL_sign(crl, issuer_key->pkey, EVP_get_digestbyname(md)) > 0;
    unsigned char *p = NULL;
    int len = ok ? i2d_X509_CRL(crl, &p) : -1;
    ASN1_TIME_free(t1);
    ASN1_TIME_free(t2);
    X509_CRL_free(crl);
    if (len <= 0) return kt_ossl_fail("CRL");
    kt_status st = kt_buf_append(der, p, (size_t)len);
    OPENSSL_free(p);
    return st;
}

#endif

static kt_status wrap_x509(X509 *x, kt_cert **out)
{
    kt_cert *c = calloc(1, sizeof *c);
    if (!c) {
        X509_free(x);
        return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    }
    c->x509 = x;
    *out = c;
    return KT_OK;
}

kt_status kt_cert_from_pem(const char *pem, size_t n, kt_cert **out)
{
    if (!pem || !out || n > INT32_MAX)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "certificate from PEM: bad argument");
    BIO *bio = BIO_new_mem_buf(pem, (int)n);
    X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (!x) {
        ERR_clear_error();
        return kt_fail(KT_ERR_MALFORMED, "no PEM certificate found");
    }
    return wrap_x509(x, out);
}

kt_status kt_cert_from_der(const uint8_t *der, size_t n, kt_cert **out)
{
    if (!der || !out || n > INT32_MAX)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "certificate from DER: bad argument");
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)n);
    if (!x || p != der + n) {
        X509_free(x);
        ERR_clear_error();
        return kt_fail(KT_ERR_MALFORMED, "certificate is not valid DER");
    }
    return wrap_x509(x, out);
}

kt_status kt_cert_to_pem(const kt_cert *c, kt_buf *out)
{
    if (!c || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "certificate to PEM: NULL argument");
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio || !PEM_write_bio_X509(bio, c->x509)) {
        BIO_free(bio);
        return kt_ossl_fail("certificate to PEM");
    }
    char *p;
    long len = BIO_get_mem_data(bio, &p);
    kt_status st = kt_buf_append(out, p, (size_t)len);
    BIO_free(bio);
    return st;
}

kt_status kt_cert_to_der(const kt_cert *c, kt_buf *out)
{
    if (!c || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "certificate to DER: NULL argument");
    unsigned char *p = NULL;
    int len = i2d_X509(c->x509, &p);
    if (len <= 0) return kt_ossl_fail("certificate to DER");
    kt_status st = kt_buf_append(out, p, (size_t)len);
    OPENSSL_free(p);
    return st;
}

kt_status kt_cert_public_key(const kt_cert *c, kt_key **out)
{
    if (!c || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "certificate key: NULL argument");
    EVP_PKEY *pk = X509_get_pubkey(c->x509);
    if (!pk) return kt_ossl_fail("certificate public key");
    return kt_key_wrap(pk, out);
}

/* A name in one line; cut to cap unless exact, which refuses a name that does not fit. */
static kt_status name_line(const X509_NAME *name, const char *what, bool exact, char *out,
                           size_t cap)
{
    if (!out || cap == 0) return kt_fail(KT_ERR_INVALID_ARGUMENT, "%s: bad argument", what);
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio || X509_NAME_print_ex(bio, name, 0, XN_FLAG_ONELINE) < 0) {
        BIO_free(bio);
        return kt_ossl_fail(what);
    }
    char *p;
    long len = BIO_get_mem_data(bio, &p);
    if (exact && (size_t)len >= cap) {
        BIO_free(bio);
        out[0] = '\0';
        return kt_fail(KT_ERR_TOO_LARGE, "%s is over %zu bytes", what, cap - 1);
    }
    size_t n = (size_t)len < cap - 1 ? (size_t)len : cap - 1;
    memcpy(out, p, n);
    out[n] = '\0';
    BIO_free(bio);
    return KT_OK;
}

kt_status kt_cert_subject(const kt_cert *c, char *out, size_t cap)
{
    if (!c) return kt_fail(KT_ERR_INVALID_ARGUMENT, "certificate subject: bad argument");
    return name_line(X509_get_subject_name(c->x509), "certificate subject", false, out, cap);
}

kt_status kt_cert_issuer(const kt_cert *c, char *out, size_t cap)
{
    if (!c) return kt_fail(KT_ERR_INVALID_ARGUMENT, "certificate issuer: bad argument");
    return name_line(X509_get_issuer_name(c->x509), "certificate issuer", true, out, cap);
}

kt_status kt_cert_check_issued_by(const kt_cert *c, const kt_cert *issuer)
{
    if (!c || !issuer) return kt_fail(KT_ERR_INVALID_ARGUMENT, "certificate check: NULL argument");
    if (X509_check_issued(issuer->x509, c->x509) != X509_V_OK)
        return kt_fail(KT_ERR_VERIFY,
                       "certificate was not issued by that issuer (names or key usage)");
    EVP_PKEY *pk = X509_get0_pubkey(issuer->x509);
    int ok = pk && X509_verify(c->x509, pk) == 1;
    ERR_clear_error();
    return ok ? KT_OK
              : kt_fail(KT_ERR_VERIFY,
                        "certificate signature does not verify with the issuer's key");
}

void kt_cert_free(kt_cert *c)
{
    if (!c) return;
    X509_free(c->x509);
    free(c);
}
