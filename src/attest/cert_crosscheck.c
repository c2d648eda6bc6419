/* A second reading of certificates and CRLs: OpenSSL decodes the same DER, and every field
 * the verifier takes from attest's own reader must read the same. Two readers that
 * disagree are a parser differential an attacker could aim at (one reader sees a CA, the
 * other an end entity), so the collateral is refused, naming the field. OpenSSL's decoder
 * is slow (~100 us a certificate), so a DER that agreed once is remembered (the last 128)
 * for the life of the process. */
#include "internal.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

/* The INTEGER as a number: its magnitude without leading zeros, as BN_bn2bin has it. */
static bool same_number(kt_der ours, const ASN1_INTEGER *theirs)
{
    if (!theirs || ASN1_STRING_type(theirs) == V_ASN1_NEG_INTEGER) return false;
    while (ours.n && ours.p[0] == 0)
        ours.p++, ours.n--;
    BIGNUM *bn = ASN1_INTEGER_to_BN(theirs, NULL);
    uint8_t buf[64];
    int n = bn && BN_num_bytes(bn) <= (int)sizeof buf ? BN_bn2bin(bn, buf) : -1;
    BN_free(bn);
    return n >= 0 && kt_der_is(ours, buf, (size_t)n);
}

static bool same_name(kt_der ours, const X509_NAME *theirs)
{
    const unsigned char *der = NULL;
    size_t n = 0;
    return theirs && X509_NAME_get0_der(theirs, &der, &n) && kt_der_is(ours, der, n);
}

static bool same_time(time_t ours, const ASN1_TIME *theirs)
{
    /* compared by OpenSSL (not ASN1_TIME_to_tm, which reads the clock when given no time:
     * enclaves may not import it) */
    return theirs && ASN1_TIME_cmp_time_t(theirs, ours) == 0;
}

/* ecdsa-with-SHA256 without parameters. */
static bool ecdsa_sha256(const X509_ALGOR *alg)
{
    const ASN1_OBJECT *obj = NULL;
    int ptype = 0;
    if (alg) X509_ALGOR_get0(&obj, &ptype, NULL, alg);
    return obj && OBJ_obj2nid(obj) == NID_ecdsa_with_SHA256 && ptype == V_ASN1_UNDEF;
}

/* The signature BIT STRING (no unused bits) holds exactly ECDSA-Sig-Value r || s. */
static bool same_signature(const uint8_t ours[64], const ASN1_BIT_STRING *sig)
{
    if (!sig || ((sig->flags & ASN1_STRING_FLAG_BITS_LEFT) && (sig->flags & 7))) return false;
    const unsigned char *p = sig->data;
    ECDSA_SIG *e = d2i_ECDSA_SIG(NULL, &p, sig->length);
    uint8_t rs[64];
    const BIGNUM *r = NULL, *s = NULL;
    if (e) ECDSA_SIG_get0(e, &r, &s);
    bool ok = e && p == sig->data + sig->length && BN_bn2binpad(r, rs, 32) == 32 &&
              BN_bn2binpad(s, rs + 32, 32) == 32 && memcmp(rs, ours, 64) == 0;
    ECDSA_SIG_free(e);
    return ok;
}

/* The bytes the signature covers, as OpenSSL encodes what it read. */
static bool same_tbs(kt_der ours, int n, unsigned char *theirs)
{
    bool ok = n > 0 && kt_der_is(ours, theirs, (size_t)n);
    OPENSSL_free(theirs);
    return ok;
}

static bool same_extension(kt_der ours, const X509 *o, int nid, const ASN1_OBJECT *obj)
{
    int at = obj ? X509_get_ext_by_OBJ(o, obj, -1) : X509_get_ext_by_NID(o, nid, -1);
    if (at < 0) return ours.p == NULL;
    int again = obj ? X509_get_ext_by_OBJ(o, obj, at) : X509_get_ext_by_NID(o, nid, at);
    const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(X509_get_ext(o, at));
    return again < 0 && ours.p && v &&
           kt_der_is(ours, ASN1_STRING_get0_data(v), (size_t)ASN1_STRING_length(v));
}

static bool same_key(const kt_x509 *x, X509 *o)
{
    ASN1_OBJECT *alg = NULL;
    const unsigned char *pub = NULL;
    int n = 0, ptype = 0;
    const void *curve = NULL;
    X509_ALGOR *params = NULL;
    if (!X509_PUBKEY_get0_param(&alg, &pub, &n, &params, X509_get_X509_PUBKEY(o))) return false;
    X509_ALGOR_get0(NULL, &ptype, &curve, params);
    return OBJ_obj2nid(alg) == NID_X9_62_id_ecPublicKey && ptype == V_ASN1_OBJECT &&
           OBJ_obj2nid(curve) == NID_X9_62_prime256v1 && n == 65 && pub[0] == 0x04 &&
           memcmp(pub + 1, x->pub, 64) == 0;
}

static ASN1_OBJECT *sgx; /* made once; OBJ_txt2obj is thread-safe, a race only leaks */

/* The first field the two readings of a certificate disagree on, or NULL. */
static const char *cert_differs(const kt_x509 *x, X509 *o)
{
    if (!sgx) sgx = OBJ_txt2obj(KT_SGX_EXT_OID, 1);
    const ASN1_BIT_STRING *sig = NULL;
    const X509_ALGOR *alg = NULL;
    X509_get0_signature(&sig, &alg, o);
    unsigned char *tbs = NULL;
    int tbs_n = i2d_re_X509_tbs(o, &tbs);
    if (!same_tbs(x->tbs, tbs_n, tbs)) return "signed bytes";
    if (X509_get_version(o) != 2) return "version";
    if (!same_number(x->serial, X509_get0_serialNumber(o))) return "serial number";
    if (!ecdsa_sha256(alg) || !ecdsa_sha256(X509_get0_tbs_sigalg(o))) return "signature algorithm";
    if (!same_signature(x->sig, sig)) return "signature";
    if (!same_name(x->issuer, X509_get_issuer_name(o))) return "issuer";
    if (!same_name(x->subject, X509_get_subject_name(o))) return "subject";
    if (!same_time(x->not_before, X509_get0_notBefore(o))) return "notBefore";
    if (!same_time(x->not_after, X509_get0_notAfter(o))) return "notAfter";
    if (!same_key(x, o)) return "public key";
    uint32_t flags = X509_get_extension_flags(o);
    if (flags & EXFLAG_INVALID) return "extensions (OpenSSL finds them invalid)";
    if (flags & EXFLAG_CRITICAL) return "critical extensions";
    if (x->is_ca != !!(flags & EXFLAG_CA)) return "basicConstraints cA";
    if (x->path_len != X509_get_pathlen(o)) return "pathLenConstraint";
    if (x->has_key_usage != !!(flags & EXFLAG_KUSAGE)) return "keyUsage";
    uint32_t ku = X509_get_key_usage(o); /* first octet in bits 0-7, second in 8-15 */
    if (x->has_key_usage && x->key_usage != (uint16_t)((ku & 0xFF) << 8 | (ku >> 8 & 0xFF)))
        return "keyUsage";
    if (!sgx || !same_extension(x->sgx_ext, o, NID_undef, sgx)) return "SGX extensions";
    if (!same_extension(x->crl_dp, o, NID_crl_distribution_points, NULL))
        return "CRL distribution points";
    return NULL;
}

/* The first field the two readings of a CRL disagree on, or NULL. */
static const char *crl_differs(const kt_crl *c, X509_CRL *o)
{
    const ASN1_BIT_STRING *sig = NULL;
    const X509_ALGOR *alg = NULL;
    X509_CRL_get0_signature(o, &sig, &alg);
    unsigned char *tbs = NULL;
    int tbs_n = i2d_re_X509_CRL_tbs(o, &tbs);
    if (!same_tbs(c->tbs, tbs_n, tbs)) return "signed bytes";
    if (X509_CRL_get_version(o) != 1) return "version";
    /* the inner algorithm is in the signed bytes, compared above */
    if (!ecdsa_sha256(alg)) return "signature algorithm";
    if (!same_signature(c->sig, sig)) return "signature";
    if (!same_name(c->issuer, X509_CRL_get_issuer(o))) return "issuer";
    if (!same_time(c->this_update, X509_CRL_get0_lastUpdate(o))) return "thisUpdate";
    if (!same_time(c->next_update, X509_CRL_get0_nextUpdate(o))) return "nextUpdate";
    STACK_OF(X509_REVOKED) *revoked = X509_CRL_get_REVOKED(o);
    int count = 0, listed = revoked ? sk_X509_REVOKED_num(revoked) : 0;
    for (kt_der list = c->revoked; list.n; count++) {
        kt_der entry, serial;
        if (kt_der_next(&list, 0x30, "CRL entry", &entry) ||
            kt_der_next(&entry, 0x02, "CRL entry", &serial) || count >= listed ||
            !same_number(serial,
                         X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, count))))
            return "revoked serial numbers";
    }
    return count == listed ? NULL : "revoked serial numbers";
}

static _Atomic unsigned long decoded;

unsigned long kt_x509_crosscheck_count(void)
{
    return decoded;
}

kt_status kt_x509_crosscheck(const kt_x509 *x, const char *what)
{
    decoded++;
    const unsigned char *p = x->der.p;
    X509 *o = d2i_X509(NULL, &p, (long)x->der.n);
    const char *field = !o || p != x->der.p + x->der.n ? "it does not decode" : cert_differs(x, o);
    X509_free(o);
    ERR_clear_error();
    char label[KT_X509_LABEL];
    return field ? kt_fail(KT_ERR_MALFORMED,
                           "%s: OpenSSL reads certificate '%s' otherwise than kubetee (%s)", what,
                           kt_x509_label(x, label), field)
                 : KT_OK;
}

kt_status kt_crl_crosscheck(const kt_crl *c, const char *what)
{
    const unsigned char *p = c->der.p;
    X509_CRL *o = d2i_X509_CRL(NULL, &p, (long)c->der.n);
    const char *field = !o || p != c->der.p + c->der.n ? "it does not decode" : crl_differs(c, o);
    X509_CRL_free(o);
    ERR_clear_error();
    return field ? kt_fail(KT_ERR_MALFORMED,
                           "%s: OpenSSL reads the CRL otherwise than kubetee (%s)", what, field)
                 : KT_OK;
}

/* ---- once per distinct DER ---- */

/* What agreed, kept as exact copies of the DER: looking one up is a length compare and a
 * memcmp, no SHA-256 (bench/verify cold 0.0733 against 0.0727 with a hash per lookup,
 * three alternating runs each), and two different DERs can never be taken for one. */
#define AGREED 128
static struct {
    kt_mutex lock;
    struct {
        uint8_t kind; /* 'C'ertificate or 'L'ist */
        size_t n;
        uint8_t *der;
    } item[AGREED];
    unsigned next;
} agreed = {.lock = KT_MUTEX_INIT};

static bool agreed_before(uint8_t kind, kt_der der)
{
    kt_mutex_lock(&agreed.lock);
    bool found = false;
    for (unsigned i = 0; i < AGREED && !found; i++)
        found = agreed.item[i].der && agreed.item[i].kind == kind && agreed.item[i].n == der.n &&
                memcmp(agreed.item[i].der, der.p, der.n) == 0;
    kt_mutex_unlock(&agreed.lock);
    return found;
}

/* Remembered when there is memory for it; forgetting only costs a second reading. */
static void remember(uint8_t kind, kt_der der)
{
    uint8_t *copy = malloc(der.n ? der.n : 1);
    if (!copy) return;
    memcpy(copy, der.p, der.n);
    kt_mutex_lock(&agreed.lock);
    unsigned i = agreed.next;
    agreed.next = (i + 1) % AGREED;
    free(agreed.item[i].der);
    agreed.item[i].kind = kind;
    agreed.item[i].n = der.n;
    agreed.item[i].der = copy;
    kt_mutex_unlock(&agreed.lock);
}

#ifdef KT_TRUSTED
/* An enclave is unloaded with its memory on sim: what it remembered goes with it. */
__attribute__((destructor)) static void forget_all(void)
{
    ASN1_OBJECT_free(sgx);
    sgx = NULL;
    for (unsigned i = 0; i < AGREED; i++) {
        free(agreed.item[i].der);
        agreed.item[i].der = NULL;
    }
}
#endif

static kt_status once(uint8_t kind, kt_der der, const void *item, const char *what)
{
    if (agreed_before(kind, der)) return KT_OK;
    kt_status st = kind == 'C' ? kt_x509_crosscheck(item, what) : kt_crl_crosscheck(item, what);
    if (!st) remember(kind, der);
    return st;
}

kt_status kt_chain_crosscheck_once(const kt_chain *c, const char *what)
{
    kt_status st = KT_OK;
    for (unsigned i = 0; !st && i < c->count; i++)
        st = once('C', c->cert[i].der, &c->cert[i], what);
    return st;
}

kt_status kt_crl_crosscheck_once(const kt_crl *c, const char *what)
{
    return once('L', c->der, c, what);
}
