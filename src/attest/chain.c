/* Who issued what: a certificate by its CA, a CRL by its issuer. The checks RFC 5280 path
 * validation makes for DCAP's fixed shapes (root -> CA -> PCK leaf, root -> TCB signer),
 * one ECDSA verification each (a keyUsage, where present, must allow the use); validity
 * windows and revocation are judged by the caller, which knows the time and which CRL
 * applies. */
#include "internal.h"

kt_status kt_x509_check_issuer(const kt_x509 *x, const kt_x509 *issuer, unsigned cas_below,
                               const char *what)
{
    char name[KT_X509_LABEL], by[KT_X509_LABEL]; /* named only when something fails */
    if (!kt_der_is(x->issuer, issuer->subject.p, issuer->subject.n))
        return kt_fail(KT_ERR_VERIFY, "%s: '%s' names another issuer than '%s'", what,
                       kt_x509_label(x, name), kt_x509_label(issuer, by));
    if (!issuer->is_ca || (issuer->has_key_usage && !(issuer->key_usage & KT_KU_KEY_CERT_SIGN)))
        return kt_fail(KT_ERR_VERIFY, "%s: issuer '%s' is not a CA that signs certificates", what,
                       kt_x509_label(issuer, by));
    if (issuer->path_len >= 0 && cas_below > (unsigned)issuer->path_len)
        return kt_fail(KT_ERR_VERIFY, "%s: '%s' allows %d CAs below it, the chain has %u", what,
                       kt_x509_label(issuer, by), issuer->path_len, cas_below);
    return KT_OK;
}

kt_status kt_x509_check_issued(const kt_x509 *x, const kt_x509 *issuer, const kt_key *issuer_key,
                               unsigned cas_below, const char *what)
{
    char name[KT_X509_LABEL], by[KT_X509_LABEL];
    kt_status st = kt_x509_check_issuer(x, issuer, cas_below, what);
    if (st) return st;
    if (kt_verify(issuer_key, x->tbs.p, x->tbs.n, x->sig, 64))
        return kt_fail(KT_ERR_VERIFY, "%s: signature of '%s' does not verify with the key of '%s'",
                       what, kt_x509_label(x, name), kt_x509_label(issuer, by));
    return KT_OK;
}

kt_status kt_x509_check_signer(const kt_x509 *x, const char *what)
{
    char name[KT_X509_LABEL];
    if (x->is_ca || (x->has_key_usage && !(x->key_usage & KT_KU_DIGITAL_SIGNATURE)))
        return kt_fail(KT_ERR_VERIFY, "%s: '%s' is not an end-entity signing certificate", what,
                       kt_x509_label(x, name));
    return KT_OK;
}

kt_status kt_crl_check_issued(const kt_crl *c, const kt_x509 *issuer, const kt_key *issuer_key,
                              const char *what)
{
    char by[KT_X509_LABEL];
    if (!kt_der_is(c->issuer, issuer->subject.p, issuer->subject.n))
        return kt_fail(KT_ERR_VERIFY, "%s is not issued by '%s'", what, kt_x509_label(issuer, by));
    if (issuer->has_key_usage && !(issuer->key_usage & KT_KU_CRL_SIGN))
        return kt_fail(KT_ERR_VERIFY, "%s: '%s' may not sign CRLs", what,
                       kt_x509_label(issuer, by));
    if (kt_verify(issuer_key, c->tbs.p, c->tbs.n, c->sig, 64))
        return kt_fail(KT_ERR_VERIFY, "%s: signature does not verify with the key of '%s'", what,
                       kt_x509_label(issuer, by));
    return KT_OK;
}
