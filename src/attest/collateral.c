/* Collateral: the trust anchor, CRLs, issuer chains, TCB Info and QE Identity, loaded
 * from a directory laid out as Intel PCS serves them (see docs/attestation.md). */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* name in the collateral directory, open as dir */
static kt_status read_file(int dir, const char *name, size_t max, kt_buf *b)
{
    kt_status st = kt_file_read_at(dir, name, max, b);
    return st ? kt_fail_context(st, "collateral") : KT_OK;
}

static kt_status load_crl(int dir, const char *name, kt_buf *der, kt_crl *out)
{
    kt_status st = read_file(dir, name, 1 << 20, der);
    if (!st) st = kt_crl_parse(der->data, der->len, out);
    return st ? kt_fail_context(st, "collateral: %s", name) : KT_OK;
}

/* A PEM chain whose first certificate's key is made now, while the collateral is still
 * ours alone: verifying only reads it. A first certificate that is `same`'s first (the
 * QE Identity's signer is usually the TCB Info's) is verified with the key made for it. */
static kt_status load_chain(int dir, const char *name, const kt_chain *same, kt_chain *out)
{
    kt_buf b = {0};
    const kt_key *key;
    kt_status st = read_file(dir, name, 1 << 16, &b);
    if (!st) st = kt_chain_from_pem((const char *)b.data, b.len, out);
    if (!st && !(same && kt_der_is(out->cert[0].der, same->cert[0].der.p, same->cert[0].der.n)))
        st = kt_chain_key(out, 0, &key);
    kt_buf_free(&b);
    return st ? kt_fail_context(st, "collateral: %s", name) : KT_OK;
}

/* Every certificate and CRL read by OpenSSL as well, which must agree (once per distinct
 * DER in the process, so loading the same collateral again costs only hashes). */
static kt_status read_twice(const kt_collateral *c)
{
    kt_status st = kt_chain_crosscheck_once(&c->anchor, "collateral: trust anchor");
    if (!st) st = kt_crl_crosscheck_once(&c->root_crl, "collateral: root_ca_crl.der");
    if (!st) st = kt_crl_crosscheck_once(&c->pck_crl, "collateral: pck_crl.der");
    if (!st)
        st = kt_chain_crosscheck_once(&c->pck_crl_chain, "collateral: pck_crl_issuer_chain.pem");
    if (!st) st = kt_chain_crosscheck_once(&c->tcb_chain, "collateral: tcb_info_issuer_chain.pem");
    if (!st)
        st = kt_chain_crosscheck_once(&c->qe_chain, "collateral: qe_identity_issuer_chain.pem");
    return st;
}

kt_status kt_collateral_load_dir(const char *dir, const char *root_pem_path, kt_collateral **out)
{
    if (!dir || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "collateral: NULL argument");
    *out = NULL;
    kt_collateral *c = calloc(1, sizeof *c);
    if (c && !(c->cache = calloc(1, sizeof *c->cache))) {
        free(c);
        c = NULL;
    }
    if (!c) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    pthread_mutex_init(&c->cache->lock, NULL);
    /* the directory is opened once and its files read by name in it */
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        kt_status st = kt_fail(errno == ENOENT ? KT_ERR_NOT_FOUND : KT_ERR_IO, "collateral: %s: %s",
                               dir, strerror(errno));
        kt_collateral_free(c);
        return st;
    }
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/intel_root_ca.pem", dir);
    const char *anchor = root_pem_path ? root_pem_path : path;
    kt_buf root = {0};
    const kt_key *key;
    kt_status st = root_pem_path ? kt_file_read(root_pem_path, 1 << 16, &root)
                                 : kt_file_read_at(fd, "intel_root_ca.pem", 1 << 16, &root);
    if (!st) st = kt_chain_from_pem((const char *)root.data, root.len, &c->anchor);
    if (!st) st = kt_chain_key(&c->anchor, 0, &key);
    kt_buf_free(&root);
    if (st) st = kt_fail_context(st, "collateral: trust anchor %s", anchor);
    if (!st) {
        /* any anchor but Intel's production root is a simulation (or test) root: quotes
         * chaining to it pass only a policy that allows simulation */
        const kt_der *der = &c->anchor.cert[0].der;
        uint8_t fp[32], intel[32];
        kt_hex_decode(KT_INTEL_ROOT_SHA256, intel, 32);
        c->simulated = kt_sha256(der->p, der->n, fp) || !kt_equal(fp, intel, 32);
    }
    if (!st) st = load_crl(fd, "root_ca_crl.der", &c->root_crl_der, &c->root_crl);
    if (!st) st = load_crl(fd, "pck_crl.der", &c->pck_crl_der, &c->pck_crl);
    if (!st) st = load_chain(fd, "pck_crl_issuer_chain.pem", NULL, &c->pck_crl_chain);
    if (!st) st = load_chain(fd, "tcb_info_issuer_chain.pem", NULL, &c->tcb_chain);
    if (!st) st = load_chain(fd, "qe_identity_issuer_chain.pem", &c->tcb_chain, &c->qe_chain);
    if (!st) st = read_twice(c);
    if (!st && !(st = read_file(fd, "tcb_info.json", 1 << 20, &c->tcb_json)))
        st = kt_tcb_info_parse((const char *)c->tcb_json.data, c->tcb_json.len, &c->tcb);
    if (!st && !(st = read_file(fd, "qe_identity.json", 1 << 20, &c->qe_json)))
        st = kt_qe_identity_parse((const char *)c->qe_json.data, c->qe_json.len, &c->qe);
    close(fd);
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
    kt_chain_free(&c->anchor);
    kt_buf_free(&c->root_crl_der);
    kt_buf_free(&c->pck_crl_der);
    kt_chain_free(&c->pck_crl_chain);
    kt_chain_free(&c->tcb_chain);
    kt_chain_free(&c->qe_chain);
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
