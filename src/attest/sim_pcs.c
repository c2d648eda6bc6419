/* The sim platform's PKI and collateral: what Intel's PCS would serve for it, issued
 * under a simulation root. Everything is P-256; keys are files of mode 0600. */
#include "internal.h"
#include "sim_qe.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const uint8_t sim_fmspc[6] = {0x00, 0x53, 0x49, 0x4D, 0x00, 0x00};
static const uint8_t sim_comp[16] = {2, 2, 2, 2, 2, 1, 0, 3};
#define SIM_PCESVN SIM_PCESVN_VALUE

static kt_status path_of(const char *dir, const char *name, char out[PATH_MAX])
{
    if ((size_t)snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "sim attest: path too long");
    return KT_OK;
}

static bool exists(const char *dir, const char *name)
{
    char p[PATH_MAX];
    struct stat sb;
    return path_of(dir, name, p) == KT_OK && stat(p, &sb) == 0;
}

static kt_status write_bio(const char *dir, const char *name, BIO *bio, unsigned mode)
{
    char p[PATH_MAX], *data;
    long len = BIO_get_mem_data(bio, &data);
    kt_status st = path_of(dir, name, p);
    return st ? st : kt_file_write_atomic(p, data, (size_t)len, mode);
}

static kt_status save_key(const char *dir, const char *name, EVP_PKEY *k)
{
    BIO *bio = BIO_new(BIO_s_secmem());
    kt_status st = bio && PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL)
                       ? write_bio(dir, name, bio, 0600)
                       : kt_fail(KT_ERR_CRYPTO, "sim attest: writing %s", name);
    BIO_free(bio);
    return st;
}

static kt_status save_cert(const char *dir, const char *name, X509 *x)
{
    BIO *bio = BIO_new(BIO_s_mem());
    kt_status st = bio && PEM_write_bio_X509(bio, x) ? write_bio(dir, name, bio, 0644)
                                                      : kt_fail(KT_ERR_CRYPTO, "sim attest: writing %s", name);
    BIO_free(bio);
    return st;
}

static kt_status open_pem(const char *dir, const char *name, FILE **f)
{
    char p[PATH_MAX];
    kt_status st = path_of(dir, name, p);
    if (!st && !(*f = fopen(p, "r")))
        st = kt_fail(KT_ERR_NOT_FOUND, "sim attest: %s: %s", p, strerror(errno));
    return st;
}

static kt_status load_key(const char *dir, const char *name, EVP_PKEY **out)
{
    FILE *f;
    kt_status st = open_pem(dir, name, &f);
    if (st)
        return st;
    *out = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    ERR_clear_error();
    return *out ? KT_OK : kt_fail(KT_ERR_MALFORMED, "sim attest: %s is not a PEM key", name);
}

static kt_status load_cert(const char *dir, const char *name, X509 **out)
{
    FILE *f;
    kt_status st = open_pem(dir, name, &f);
    if (st)
        return st;
    *out = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    ERR_clear_error();
    return *out ? KT_OK : kt_fail(KT_ERR_MALFORMED, "sim attest: %s is not a PEM certificate", name);
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    int ok = e && X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    return ok;
}

/* A certificate for key, issued by issuer (self-signed when NULL). */
static kt_status make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
                           bool ca, const kt_buf *sgx_ext, X509 **out)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    uint64_t serial;
    int ok = x && name && kt_random(&serial, sizeof serial) == KT_OK &&
             X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) &&
             X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"kubetee simulation", -1, -1, 0) &&
             X509_set_version(x, 2) && ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), serial >> 1) &&
             X509_set_subject_name(x, name) &&
             X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) &&
             X509_set_pubkey(x, key) && X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
             X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400) &&
             add_ext(x, issuer ? issuer : x, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE") &&
             add_ext(x, issuer ? issuer : x, NID_key_usage, ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature,nonRepudiation") &&
             add_ext(x, issuer ? issuer : x, NID_subject_key_identifier, "hash") &&
             (!issuer || add_ext(x, issuer, NID_authority_key_identifier, "keyid:always"));
    if (ok && sgx_ext) {
        ASN1_OBJECT *obj = OBJ_txt2obj(KT_SGX_EXT_OID, 1);
        ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
        X509_EXTENSION *e = NULL;
        ok = obj && os && ASN1_OCTET_STRING_set(os, sgx_ext->data, (int)sgx_ext->len) &&
             (e = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) && X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
        ASN1_OCTET_STRING_free(os);
        ASN1_OBJECT_free(obj);
    }
    ok = ok && X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0;
    X509_NAME_free(name);
    if (!ok) {
        X509_free(x);
        ERR_clear_error();
        return kt_fail(KT_ERR_CRYPTO, "sim attest: issuing '%s' failed", cn);
    }
    *out = x;
    return KT_OK;
}

static kt_status write_crl(const char *dir, const char *name, X509 *issuer, EVP_PKEY *key)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *t1 = ASN1_TIME_adj(NULL, time(NULL), 0, -3600), *t2 = ASN1_TIME_adj(NULL, time(NULL), 30, 0);
    int ok = crl && t1 && t2 && X509_CRL_set_version(crl, 1) &&
             X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) &&
             X509_CRL_set1_lastUpdate(crl, t1) && X509_CRL_set1_nextUpdate(crl, t2) &&
             X509_CRL_sign(crl, key, EVP_sha256()) > 0;
    unsigned char *der = NULL;
    int len = ok ? i2d_X509_CRL(crl, &der) : -1;
    kt_status st = len > 0 ? KT_OK : kt_fail(KT_ERR_CRYPTO, "sim attest: issuing %s failed", name);
    char p[PATH_MAX];
    if (!st && !(st = path_of(dir, name, p)))
        st = kt_file_write_atomic(p, der, (size_t)len, 0644);
    OPENSSL_free(der);
    ASN1_TIME_free(t1), ASN1_TIME_free(t2);
    X509_CRL_free(crl);
    return st;
}

static kt_status write_chain(const char *dir, const char *name, X509 *a, X509 *b)
{
    BIO *bio = BIO_new(BIO_s_mem());
    kt_status st = bio && PEM_write_bio_X509(bio, a) && (!b || PEM_write_bio_X509(bio, b))
                       ? write_bio(dir, name, bio, 0644)
                       : kt_fail(KT_ERR_CRYPTO, "sim attest: writing %s", name);
    BIO_free(bio);
    return st;
}

/* {"<key>":BODY,"signature":"<r||s hex>"} signed by key. */
static kt_status write_signed_json(const char *dir, const char *name, const char *key,
                                   const char *body, const char *signer_key_pem_path)
{
    kt_buf pem = {0}, sig = {0}, out = {0};
    kt_key *k = NULL;
    kt_status st = kt_file_read(signer_key_pem_path, 1 << 16, &pem);
    if (!st)
        st = kt_key_from_pem((const char *)pem.data, pem.len, &k);
    if (!st)
        st = kt_sign(k, body, strlen(body), &sig);
    char hex[129];
    if (!st)
        st = kt_hex_encode(sig.data, sig.len, hex, sizeof hex);
    char head[64];
    snprintf(head, sizeof head, "{\"%s\":", key);
    if (!st && !(st = kt_buf_append(&out, head, strlen(head))) &&
        !(st = kt_buf_append(&out, body, strlen(body))) &&
        !(st = kt_buf_append(&out, ",\"signature\":\"", 14)) && !(st = kt_buf_append(&out, hex, 128)) &&
        !(st = kt_buf_append(&out, "\"}", 2))) {
        char p[PATH_MAX];
        if (!(st = path_of(dir, name, p)))
            st = kt_file_write_atomic(p, out.data, out.len, 0644);
    }
    kt_key_free(k);
    kt_buf_free(&pem), kt_buf_free(&sig), kt_buf_free(&out);
    return st;
}

static void iso(time_t t, char out[24])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 24, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void kt_sim_qe_identity_fields(uint8_t mrenclave[32], uint8_t mrsigner[32])
{
    kt_sha256("kubetee simulated QE", 20, mrenclave);
    kt_sha256("kubetee simulated QE signer", 27, mrsigner);
}

void kt_sim_pck_cpusvn(uint8_t cpusvn[16])
{
    memcpy(cpusvn, sim_comp, 16);
}

/* Issues the collateral directory from the PKI in dir. */
static kt_status issue_collateral(const char *dir, X509 *root, EVP_PKEY *root_key, X509 *pck_ca,
                                  EVP_PKEY *pck_ca_key, X509 *tcb)
{
    char cdir[PATH_MAX], keyp[PATH_MAX];
    kt_status st = path_of(dir, "collateral", cdir);
    if (!st)
        st = kt_mkdirs(cdir, 0755);
    if (!st)
        st = write_chain(cdir, "intel_root_ca.pem", root, NULL); /* the name verifiers look for */
    if (!st)
        st = write_crl(cdir, "root_ca_crl.der", root, root_key);
    if (!st)
        st = write_crl(cdir, "pck_crl.der", pck_ca, pck_ca_key);
    if (!st)
        st = write_chain(cdir, "pck_crl_issuer_chain.pem", pck_ca, root);
    if (!st)
        st = write_chain(cdir, "tcb_info_issuer_chain.pem", tcb, root);
    if (!st)
        st = write_chain(cdir, "qe_identity_issuer_chain.pem", tcb, root);
    if (st || (st = path_of(dir, "tcb_signing.key", keyp)))
        return st;
    time_t now = time(NULL);
    char issue[24], next[24], fmspc[13], body[4096];
    iso(now - 3600, issue);
    iso(now + 30 * 86400, next);
    kt_hex_encode(sim_fmspc, 6, fmspc, sizeof fmspc);
    int at = snprintf(body, sizeof body,
                      "{\"id\":\"SGX\",\"version\":3,\"issueDate\":\"%s\",\"nextUpdate\":\"%s\","
                      "\"fmspc\":\"%s\",\"pceId\":\"0000\",\"tcbType\":0,\"tcbEvaluationDataNumber\":1,"
                      "\"tcbLevels\":[{\"tcb\":{\"sgxtcbcomponents\":[",
                      issue, next, fmspc);
    for (int i = 0; i < 16; i++)
        at += snprintf(body + at, sizeof body - (size_t)at, "%s{\"svn\":%u}", i ? "," : "", sim_comp[i]);
    snprintf(body + at, sizeof body - (size_t)at,
             "],\"pcesvn\":%d},\"tcbDate\":\"%s\",\"tcbStatus\":\"UpToDate\"}]}", SIM_PCESVN, issue);
    if ((st = write_signed_json(cdir, "tcb_info.json", "tcbInfo", body, keyp)))
        return st;
    uint8_t mre[32], mrs[32];
    char mrs_hex[65];
    kt_sim_qe_identity_fields(mre, mrs);
    kt_hex_encode(mrs, 32, mrs_hex, sizeof mrs_hex);
    snprintf(body, sizeof body,
             "{\"id\":\"QE\",\"version\":2,\"issueDate\":\"%s\",\"nextUpdate\":\"%s\","
             "\"tcbEvaluationDataNumber\":1,\"miscselect\":\"00000000\",\"miscselectMask\":\"FFFFFFFF\","
             "\"attributes\":\"11000000000000000000000000000000\","
             "\"attributesMask\":\"FBFFFFFFFFFFFFFF0000000000000000\",\"mrsigner\":\"%s\","
             "\"isvprodid\":1,\"tcbLevels\":[{\"tcb\":{\"isvsvn\":1},\"tcbDate\":\"%s\","
             "\"tcbStatus\":\"UpToDate\"}]}",
             issue, next, mrs_hex, issue);
    return write_signed_json(cdir, "qe_identity.json", "enclaveIdentity", body, keyp);
}

static void remove_files(const char *dir, const char *const *names)
{
    for (; *names; names++) {
        char p[PATH_MAX];
        if (path_of(dir, *names, p) == KT_OK)
            remove(p);
    }
}

/* Loads key and certificate `base`.key/.pem, issuing them first when the key is missing.
 * Whatever was issued under a re-issued certificate is removed, to be issued again. */
static kt_status ensure_pair(const char *dir, const char *base, const char *cn, X509 *issuer,
                             EVP_PKEY *issuer_key, bool ca, const kt_buf *ext,
                             const char *const *dependants, EVP_PKEY **key, X509 **cert)
{
    char kname[64], cname[64];
    snprintf(kname, sizeof kname, "%s.key", base);
    snprintf(cname, sizeof cname, "%s.pem", base);
    if (exists(dir, kname))
        return load_key(dir, kname, key) ? KT_ERR_MALFORMED : load_cert(dir, cname, cert);
    if (!(*key = EVP_EC_gen("P-256")))
        return kt_fail(KT_ERR_CRYPTO, "sim attest: key generation failed");
    kt_status st = make_cert(cn, *key, issuer, issuer_key, ca, ext, cert);
    if (!st)
        st = save_cert(dir, cname, *cert);
    if (!st)
        st = save_key(dir, kname, *key);
    if (!st) {
        remove_files(dir, dependants);
        kt_log(KT_LOG_INFO, "sim.certificate_issued", "subject", cn, NULL);
    }
    return st;
}

/* Makes whatever of the PKI is missing, then the collateral when it is missing or
 * expires within a day. A node that imported a cluster's root, PCK CA and TCB signing
 * certificate issues only its own PCK certificate and attestation key. */
kt_status kt_sim_pki_ensure(const char *dir)
{
    static const char *const under_root[] = {"pck_ca.key", "tcb_signing.key", "pck.key",
                                             "collateral/tcb_info.json", NULL};
    static const char *const under_pck_ca[] = {"pck.key", "collateral/tcb_info.json", NULL};
    static const char *const under_tcb[] = {"collateral/tcb_info.json", NULL};
    static const char *const nothing[] = {NULL};
    EVP_PKEY *root_key = NULL, *pck_ca_key = NULL, *pck_key = NULL, *tcb_key = NULL, *att = NULL;
    X509 *root = NULL, *pck_ca = NULL, *pck = NULL, *tcb = NULL;
    kt_buf ext = {0};
    kt_pck_info info;
    memset(&info, 0, sizeof info);
    memcpy(info.comp, sim_comp, 16);
    memcpy(info.cpusvn, sim_comp, 16);
    memcpy(info.fmspc, sim_fmspc, 6);
    info.pcesvn = SIM_PCESVN;
    kt_status st = kt_mkdirs(dir, 0700);
    if (!st)
        st = kt_random(info.ppid, 16);
    if (!st)
        st = kt_pck_ext_encode(&info, &ext);
    if (!st)
        st = ensure_pair(dir, "root_ca", "kubetee Simulation Root CA", NULL, NULL, true, NULL,
                         under_root, &root_key, &root);
    if (!st)
        st = ensure_pair(dir, "pck_ca", "kubetee Simulation PCK Platform CA", root, root_key, true,
                         NULL, under_pck_ca, &pck_ca_key, &pck_ca);
    if (!st)
        st = ensure_pair(dir, "tcb_signing", "kubetee Simulation TCB Signing", root, root_key, false,
                         NULL, under_tcb, &tcb_key, &tcb);
    if (!st)
        st = ensure_pair(dir, "pck", "kubetee Simulation PCK Certificate", pck_ca, pck_ca_key, false,
                         &ext, nothing, &pck_key, &pck);
    if (!st && !exists(dir, "attestation.key") &&
        (!(att = EVP_EC_gen("P-256")) || (st = save_key(dir, "attestation.key", att))))
        st = st ? st : kt_fail(KT_ERR_CRYPTO, "sim attest: key generation failed");
    if (st)
        goto out;
    /* collateral: renew when missing or near its nextUpdate */
    bool fresh = false;
    char p[PATH_MAX];
    kt_buf tj = {0};
    if (path_of(dir, "collateral/tcb_info.json", p) == KT_OK && kt_file_read(p, 1 << 20, &tj) == KT_OK) {
        kt_tcb_info t;
        if (kt_tcb_info_parse((const char *)tj.data, tj.len, &t) == KT_OK) {
            fresh = t.next_update > time(NULL) + 86400;
            kt_tcb_info_free(&t);
        }
    }
    kt_buf_free(&tj);
    if (!fresh) {
        if ((st = issue_collateral(dir, root, root_key, pck_ca, pck_ca_key, tcb)))
            goto out;
        kt_log(KT_LOG_INFO, "sim.collateral_issued", "dir", dir, NULL);
    }
out:
    ERR_clear_error();
    EVP_PKEY_free(root_key), EVP_PKEY_free(pck_ca_key), EVP_PKEY_free(pck_key), EVP_PKEY_free(tcb_key);
    EVP_PKEY_free(att);
    X509_free(root), X509_free(pck_ca), X509_free(pck), X509_free(tcb);
    kt_buf_free(&ext);
    return st;
}
