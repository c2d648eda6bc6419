/* Collateral: the trust anchor, CRLs, issuer chains, TCB Info and QE Identity, loaded
 * from a directory laid out as Intel PCS serves them (see docs/attestation.md). */
#define _GNU_SOURCE /* memmem */
#include "internal.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *status_names[] = {
    [KT_TCB_UNKNOWN] = "Unknown",
    [KT_TCB_UP_TO_DATE] = "UpToDate",
    [KT_TCB_SW_HARDENING_NEEDED] = "SWHardeningNeeded",
    [KT_TCB_CONFIGURATION_NEEDED] = "ConfigurationNeeded",
    [KT_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED] = "ConfigurationAndSWHardeningNeeded",
    [KT_TCB_OUT_OF_DATE] = "OutOfDate",
    [KT_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED] = "OutOfDateConfigurationNeeded",
    [KT_TCB_REVOKED] = "Revoked",
};

const char *kt_tcb_status_name(kt_tcb_status s)
{
    return (unsigned)s <= KT_TCB_REVOKED ? status_names[s] : "Unknown";
}

kt_status kt_tcb_status_parse(const char *name, kt_tcb_status *out)
{
    for (unsigned i = KT_TCB_UP_TO_DATE; i <= KT_TCB_REVOKED; i++)
        if (name && strcmp(name, status_names[i]) == 0) {
            *out = (kt_tcb_status)i;
            return KT_OK;
        }
    return kt_fail(KT_ERR_MALFORMED, "unknown TCB status \"%s\"", name ? name : "");
}

/* A certificate from DER, reusing an identical one already parsed: OpenSSL 3 spends
 * about 100 us decoding each certificate, and the same root and CA certificates recur
 * in every issuer chain and every quote. */
static X509 *cert_from_der(const uint8_t *der, size_t n, STACK_OF(X509) * pool)
{
    for (int i = 0; pool && i < sk_X509_num(pool); i++) {
        X509 *x = sk_X509_value(pool, i);
        const unsigned char *enc = NULL;
        long len = (long)i2d_X509(x, NULL); /* re-encoding a parsed certificate is cheap */
        if (len > 0 && (size_t)len == n) {
            unsigned char *buf = NULL;
            len = i2d_X509(x, &buf);
            enc = buf;
            bool same = len > 0 && memcmp(enc, der, n) == 0;
            OPENSSL_free(buf);
            if (same && X509_up_ref(x)) return x;
        }
    }
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)n);
    if (x && p != der + n) {
        X509_free(x);
        x = NULL;
    }
    ERR_clear_error();
    return x;
}

kt_status kt_pem_chain_pooled(const char *pem, size_t n, STACK_OF(X509) * pool,
                              STACK_OF(X509) * *out)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----", end[] = "-----END CERTIFICATE-----";
    STACK_OF(X509) *sk = sk_X509_new_null();
    kt_buf b64 = {0}, der = {0};
    kt_status st = sk ? KT_OK : kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    const char *at = pem, *stop = pem + n;
    while (!st && sk_X509_num(sk) < 8) {
        const char *b = memmem(at, (size_t)(stop - at), begin, sizeof begin - 1);
        if (!b) break;
        b += sizeof begin - 1;
        const char *e = memmem(b, (size_t)(stop - b), end, sizeof end - 1);
        if (!e) {
            st = kt_fail(KT_ERR_MALFORMED, "PEM certificate without its END line");
            break;
        }
        b64.len = der.len = 0;
        for (const char *c = b; c < e && !st; c++)
            if (*c != '\n' && *c != '\r' && *c != ' ' && *c != '\t') st = kt_buf_append(&b64, c, 1);
        if (!st) st = kt_base64_decode((const char *)b64.data, b64.len, &der);
        X509 *x = st ? NULL : cert_from_der(der.data, der.len, pool);
        if (!st && !x)
            st = kt_fail(KT_ERR_MALFORMED, "certificate %d of the chain is not valid DER",
                         sk_X509_num(sk) + 1);
        if (x) sk_X509_push(sk, x);
        at = e + sizeof end - 1;
    }
    kt_buf_free(&b64);
    kt_buf_free(&der);
    if (!st && sk_X509_num(sk) == 0)
        st = kt_fail(KT_ERR_MALFORMED, "no PEM certificates in the chain");
    if (st) {
        sk_X509_pop_free(sk, X509_free);
        return st;
    }
    *out = sk;
    return KT_OK;
}

kt_status kt_pem_chain(const char *pem, size_t n, STACK_OF(X509) * *out)
{
    return kt_pem_chain_pooled(pem, n, NULL, out);
}

static kt_status read_file(const char *dir, const char *name, size_t max, kt_buf *b)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    kt_status st = kt_file_read(path, max, b);
    return st ? kt_fail_context(st, "collateral") : KT_OK;
}

static kt_status load_crl(const char *dir, const char *name, X509_CRL **out)
{
    kt_buf b = {0};
    kt_status st = read_file(dir, name, 1 << 20, &b);
    if (st) return st;
    const unsigned char *p = b.data;
    *out = d2i_X509_CRL(NULL, &p, (long)b.len);
    kt_buf_free(&b);
    ERR_clear_error();
    return *out ? KT_OK : kt_fail(KT_ERR_MALFORMED, "collateral: %s is not a DER CRL", name);
}

static kt_status load_chain(const char *dir, const char *name, STACK_OF(X509) * pool,
                            STACK_OF(X509) * *out)
{
    kt_buf b = {0};
    kt_status st = read_file(dir, name, 1 << 16, &b);
    if (!st) st = kt_pem_chain_pooled((const char *)b.data, b.len, pool, out);
    for (int i = 0; !st && i < sk_X509_num(*out); i++)
        if (X509_up_ref(sk_X509_value(*out, i))) sk_X509_push(pool, sk_X509_value(*out, i));
    kt_buf_free(&b);
    return st ? kt_fail_context(st, "collateral: %s", name) : KT_OK;
}

kt_status kt_collateral_load_dir(const char *dir, const char *root_pem_path, kt_collateral **out)
{
    if (!dir || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "collateral: NULL argument");
    kt_collateral *c = calloc(1, sizeof *c);
    if (c && !(c->cache = calloc(1, sizeof *c->cache))) {
        free(c);
        c = NULL;
    }
    if (!c) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    pthread_mutex_init(&c->cache->lock, NULL);
    kt_buf root = {0};
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/intel_root_ca.pem", dir);
    kt_status st = kt_file_read(root_pem_path ? root_pem_path : path, 1 << 16, &root);
    STACK_OF(X509) *roots = NULL;
    if (!st && !(st = kt_pem_chain((const char *)root.data, root.len, &roots))) {
        c->root = sk_X509_shift(roots);
        sk_X509_pop_free(roots, X509_free);
    }
    kt_buf_free(&root);
    if (!st && !c->root) st = kt_fail(KT_ERR_MALFORMED, "collateral: no trust anchor");
    if (!st && (!(c->pool = sk_X509_new_null()) || !X509_up_ref(c->root) ||
                !sk_X509_push(c->pool, c->root)))
        st = kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    if (!st) {
        /* any anchor but Intel's production root is a simulation (or test) root: quotes
         * chaining to it pass only a policy that allows simulation */
        unsigned char *der = NULL;
        int len = i2d_X509(c->root, &der);
        uint8_t fp[32], intel[32];
        kt_hex_decode(KT_INTEL_ROOT_SHA256, intel, 32);
        c->simulated = len <= 0 || kt_sha256(der, (size_t)len, fp) || !kt_equal(fp, intel, 32);
        OPENSSL_free(der);
    }
    if (!st) st = load_crl(dir, "root_ca_crl.der", &c->root_crl);
    if (!st) st = load_crl(dir, "pck_crl.der", &c->pck_crl);
    if (!st) st = load_chain(dir, "pck_crl_issuer_chain.pem", c->pool, &c->pck_crl_chain);
    if (!st) st = load_chain(dir, "tcb_info_issuer_chain.pem", c->pool, &c->tcb_chain);
    if (!st) st = load_chain(dir, "qe_identity_issuer_chain.pem", c->pool, &c->qe_chain);
    if (!st && !(st = read_file(dir, "tcb_info.json", 1 << 20, &c->tcb_json)))
        st = kt_tcb_info_parse((const char *)c->tcb_json.data, c->tcb_json.len, &c->tcb);
    if (!st && !(st = read_file(dir, "qe_identity.json", 1 << 20, &c->qe_json)))
        st = kt_qe_identity_parse((const char *)c->qe_json.data, c->qe_json.len, &c->qe);
    if (st) {
        kt_collateral_free(c);
        return kt_fail_context(st, "%s", dir);
    }
    *out = c;
    return KT_OK;
}

bool kt_collateral_is_simulated(const kt_collateral *c)
{
    return c && c->simulated;
}

void kt_collateral_free(kt_collateral *c)
{
    if (!c) return;
    X509_free(c->root);
    X509_CRL_free(c->root_crl);
    X509_CRL_free(c->pck_crl);
    sk_X509_pop_free(c->pck_crl_chain, X509_free);
    sk_X509_pop_free(c->tcb_chain, X509_free);
    sk_X509_pop_free(c->qe_chain, X509_free);
    sk_X509_pop_free(c->pool, X509_free);
    kt_tcb_info_free(&c->tcb);
    kt_qe_identity_free(&c->qe);
    kt_buf_free(&c->tcb_json);
    kt_buf_free(&c->qe_json);
    for (unsigned i = 0; i < KT_PCK_CACHE; i++)
        kt_key_free(c->cache->pck[i].key);
    pthread_mutex_destroy(&c->cache->lock);
    free(c->cache);
    free(c);
}
