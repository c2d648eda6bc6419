/* Collateral: the trust anchor, CRLs, issuer chains, TCB Info and QE Identity, made
 * from the bytes of each item as Intel PCS serves them: one code for a process (from a
 * directory, collateral_dir.c) and an enclave (from a bundle the host hands it). */
#include "internal.h"

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

const kt_collateral_item_file kt_collateral_files[KT_COLLATERAL_ITEMS] = {
    {"intel_root_ca.pem", 1 << 16},        {"root_ca_crl.der", 1 << 20},
    {"pck_crl.der", 1 << 20},              {"pck_crl_issuer_chain.pem", 1 << 16},
    {"tcb_info.json", 1 << 20},            {"tcb_info_issuer_chain.pem", 1 << 16},
    {"qe_identity.json", 1 << 20},         {"qe_identity_issuer_chain.pem", 1 << 16},
};

static kt_status load_crl(const kt_bytes *item, const char *name, kt_buf *der, kt_crl *out)
{
    kt_status st = kt_buf_append(der, item->p, item->n);
    if (!st) st = kt_crl_parse(der->data, der->len, out);
    return st ? kt_fail_context(st, "collateral: %s", name) : KT_OK;
}

/* A PEM chain whose first certificate's key is made now, while the collateral is still
 * ours alone: verifying only reads it. A first certificate that is `same`'s first (the
 * QE Identity's signer is usually the TCB Info's) is verified with the key made for it. */
static kt_status load_chain(const kt_bytes *item, const char *name, const kt_chain *same,
                            kt_chain *out)
{
    const kt_key *key;
    kt_status st = kt_chain_from_pem((const char *)item->p, item->n, out);
    if (!st && !(same && kt_der_is(out->cert[0].der, same->cert[0].der.p, same->cert[0].der.n)))
        st = kt_chain_key(out, 0, &key);
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

static kt_status load_anchor(const kt_bytes *item, const char *anchor_name, kt_collateral *c)
{
    const kt_key *key;
    kt_status st = kt_chain_from_pem((const char *)item->p, item->n, &c->anchor);
    if (!st) st = kt_chain_key(&c->anchor, 0, &key);
    if (st) return kt_fail_context(st, "collateral: trust anchor %s", anchor_name);
    /* any anchor but Intel's production root is a simulation (or test) root: quotes
     * chaining to it pass only a policy that allows simulation (and, inside an enclave,
     * names this root's fingerprint) */
    const kt_der *der = &c->anchor.cert[0].der;
    uint8_t intel[32];
    kt_hex_decode(KT_INTEL_ROOT_SHA256, intel, 32);
    if ((st = kt_sha256(der->p, der->n, c->root_sha256))) return st;
    c->simulated = !kt_equal(c->root_sha256, intel, 32);
    return KT_OK;
}

kt_status kt_collateral_from_items(const kt_bytes items[KT_COLLATERAL_ITEMS], const char *anchor_name,
                                   kt_collateral **out)
{
    *out = NULL;
    kt_collateral *c = calloc(1, sizeof *c);
    if (c && !(c->cache = calloc(1, sizeof *c->cache))) {
        free(c);
        c = NULL;
    }
    if (!c) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    kt_mutex_init(&c->cache->lock);
    const kt_collateral_item_file *f = kt_collateral_files;
    for (unsigned i = 0; i < KT_COLLATERAL_ITEMS; i++)
        if (items[i].n > f[i].max) {
            kt_collateral_free(c);
            return kt_fail(KT_ERR_TOO_LARGE, "collateral: %s is %zu bytes, over %zu", f[i].name,
                           items[i].n, f[i].max);
        }
    kt_status st = load_anchor(&items[0], anchor_name ? anchor_name : f[0].name, c);
    if (!st) st = load_crl(&items[1], f[1].name, &c->root_crl_der, &c->root_crl);
    if (!st) st = load_crl(&items[2], f[2].name, &c->pck_crl_der, &c->pck_crl);
    if (!st) st = load_chain(&items[3], f[3].name, NULL, &c->pck_crl_chain);
    if (!st) st = load_chain(&items[5], f[5].name, NULL, &c->tcb_chain);
    if (!st) st = load_chain(&items[7], f[7].name, &c->tcb_chain, &c->qe_chain);
    if (!st) st = read_twice(c);
    if (!st && !(st = kt_buf_append(&c->tcb_json, items[4].p, items[4].n)))
        st = kt_tcb_info_parse((const char *)c->tcb_json.data, c->tcb_json.len, &c->tcb);
    if (!st && !(st = kt_buf_append(&c->qe_json, items[6].p, items[6].n)))
        st = kt_qe_identity_parse((const char *)c->qe_json.data, c->qe_json.len, &c->qe);
    if (st) {
        kt_collateral_free(c);
        return st;
    }
    *out = c;
    return KT_OK;
}

/* ---- the bundle: "KTCOLL1\n", then each item as a 32-bit little-endian length and its
 * bytes, in kt_collateral_files' order; nothing after ---- */
static const char magic[8] = "KTCOLL1\n";

kt_status kt_collateral_bundle_items(const kt_bytes items[KT_COLLATERAL_ITEMS], kt_buf *out)
{
    kt_status st = kt_buf_append(out, magic, sizeof magic);
    for (unsigned i = 0; !st && i < KT_COLLATERAL_ITEMS; i++) {
        uint8_t len[4] = {(uint8_t)items[i].n, (uint8_t)(items[i].n >> 8),
                          (uint8_t)(items[i].n >> 16), (uint8_t)(items[i].n >> 24)};
        if (items[i].n > kt_collateral_files[i].max)
            return kt_fail(KT_ERR_TOO_LARGE, "collateral: %s is over %zu bytes",
                           kt_collateral_files[i].name, kt_collateral_files[i].max);
        if (!(st = kt_buf_append(out, len, 4))) st = kt_buf_append(out, items[i].p, items[i].n);
    }
    return st;
}

kt_status kt_collateral_bundle_split(const uint8_t *b, size_t n, kt_bytes items[KT_COLLATERAL_ITEMS])
{
    if (!b || n < sizeof magic || memcmp(b, magic, sizeof magic))
        return kt_fail(KT_ERR_MALFORMED, "collateral bundle: does not start with KTCOLL1");
    size_t at = sizeof magic;
    for (unsigned i = 0; i < KT_COLLATERAL_ITEMS; i++) {
        const kt_collateral_item_file *f = &kt_collateral_files[i];
        if (n - at < 4)
            return kt_fail(KT_ERR_MALFORMED, "collateral bundle: ends before %s", f->name);
        size_t len = (size_t)b[at] | (size_t)b[at + 1] << 8 | (size_t)b[at + 2] << 16 |
                     (size_t)b[at + 3] << 24;
        at += 4;
        if (len > f->max)
            return kt_fail(KT_ERR_TOO_LARGE, "collateral bundle: %s of %zu bytes, over %zu",
                           f->name, len, f->max);
        if (len > n - at)
            return kt_fail(KT_ERR_MALFORMED, "collateral bundle: %s is cut short", f->name);
        items[i].p = b + at;
        items[i].n = len;
        at += len;
    }
    if (at != n)
        return kt_fail(KT_ERR_MALFORMED, "collateral bundle: %zu bytes after the last item",
                       n - at);
    return KT_OK;
}

kt_status kt_collateral_from_bundle(const uint8_t *bundle, size_t n, kt_collateral **out)
{
    if ((!bundle && n) || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "collateral: NULL argument");
    *out = NULL;
    kt_bytes items[KT_COLLATERAL_ITEMS];
    kt_status st = kt_collateral_bundle_split(bundle, n, items);
    return st ? st : kt_collateral_from_items(items, NULL, out);
}

kt_status kt_collateral_root_sha256(const kt_collateral *c, uint8_t out[32])
{
    if (!c || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "collateral: NULL argument");
    memcpy(out, c->root_sha256, 32);
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
    kt_mutex_destroy(&c->cache->lock);
    free(c->cache);
    free(c);
}
