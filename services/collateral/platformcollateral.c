/* PUT /sgx/certification/v4/platformcollateral: the body PCCS's admin tool makes on a
 * connected machine (pccsadmin fetch), parsed strictly into the items it carries, each
 * named by the cache key it will be verified and held under. Nothing here is trusted:
 * kt_coll_proxy_put verifies every item before any is held. */
#include "collateral.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PLATFORMS 4096
#define SHOWN 40

static kt_status unknown(const char *where, const char *key)
{
    char shown[SHOWN * 4 + 1];
    size_t n = strlen(key);
    kt_escape(key, n > SHOWN ? SHOWN : n, shown, sizeof shown);
    return kt_fail(KT_ERR_MALFORMED, "%s: unknown key '%s%s'", where, shown,
                   n > SHOWN ? "..." : "");
}

/* Every key of o is one of keys (a NUL inside a key is not). */
static kt_status known(json_t *o, const char *const *keys, const char *where)
{
    const char *key;
    json_t *v;
    if (!json_is_object(o)) return kt_fail(KT_ERR_MALFORMED, "%s is not a JSON object", where);
    json_object_foreach(o, key, v)
    {
        size_t k;
        for (k = 0; keys[k] && strcmp(keys[k], key); k++)
            ;
        if (!keys[k] || strlen(key) != strlen(keys[k])) return unknown(where, key);
    }
    return KT_OK;
}

/* A string member, or NULL when absent or empty (the admin tool writes "" for what it did
 * not fetch); not a string: refused. */
static kt_status text_of(json_t *o, const char *key, const char *where, json_t **out)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v) return KT_OK;
    if (!json_is_string(v))
        return kt_fail(KT_ERR_MALFORMED, "%s: '%s' must be a string", where, key);
    if (json_string_length(v)) *out = v;
    return KT_OK;
}

static kt_status add_item(kt_coll_put *put, const char *key, const kt_buf *chain, const void *body,
                          size_t n)
{
    kt_coll_put_item *grown = realloc(put->items, (put->item_count + 1) * sizeof *grown);
    if (!grown) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    put->items = grown;
    kt_coll_put_item *it = &grown[put->item_count];
    memset(it, 0, sizeof *it);
    kt_status st = kt_coll_key_parse(key, &it->q);
    if (!st && chain) st = kt_buf_append(&it->chain, chain->data, chain->len);
    if (!st) st = kt_buf_append(&it->body, body, n);
    put->item_count++; /* freed with the rest, whole or not */
    return st;
}

/* A hex string of a DER CRL (as the admin tool writes CRLs) as an item. */
static kt_status crl_item(kt_coll_put *put, json_t *o, const char *member, const char *key,
                          const kt_buf *chain, const char *where)
{
    json_t *v;
    kt_status st = text_of(o, member, where, &v);
    if (st || !v) return st;
    size_t n = json_string_length(v);
    uint8_t *der = n % 2 == 0 && n <= 2 * KT_COLL_ITEM_MAX ? malloc(n / 2 + 1) : NULL;
    if (!der || strlen(json_string_value(v)) != n ||
        kt_hex_decode(json_string_value(v), der, n / 2)) {
        free(der);
        return kt_fail(KT_ERR_MALFORMED, "%s: '%s' must be the CRL's DER in hex", where, member);
    }
    st = add_item(put, key, chain, der, n / 2);
    free(der);
    return st;
}

/* A chain as the admin tool keeps it: the response header's value, URL-encoded. */
static kt_status chain_of(json_t *o, const char *member, const char *where, kt_buf *out)
{
    json_t *v;
    kt_status st = text_of(o, member, where, &v);
    if (!st && v) st = kt_coll_url_decode(json_string_value(v), json_string_length(v), out);
    if (st) return kt_fail_context(st, "%s: '%s'", where, member);
    return KT_OK;
}

static kt_status tcbinfos(kt_coll_put *put, json_t *a, const kt_buf *chain, unsigned api)
{
    static const char *const keys[] = {"fmspc", "tcbinfo", "sgx_tcbinfo", "tdx_tcbinfo", NULL};
    if (!json_is_array(a))
        return kt_fail(KT_ERR_MALFORMED, "collaterals: 'tcbinfos' must be a list");
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *t = json_array_get(a, i);
        char where[64], fmspc[13];
        snprintf(where, sizeof where, "collaterals: tcbinfos entry %zu", i);
        kt_status st = known(t, keys, where);
        const char *f = st ? NULL : json_string_value(json_object_get(t, "fmspc"));
        uint8_t raw[6];
        if (!st && (!f || strlen(f) != 12 || kt_hex_decode(f, raw, 6)))
            st = kt_fail(KT_ERR_MALFORMED, "%s: 'fmspc' must be 12 hex digits", where);
        if (!st && json_object_get(t, "tcbinfo") && json_object_get(t, "sgx_tcbinfo"))
            st = kt_fail(KT_ERR_MALFORMED, "%s: 'tcbinfo' and 'sgx_tcbinfo' are both SGX's", where);
        if (!st && api == 3 &&
            (json_object_get(t, "sgx_tcbinfo") || json_object_get(t, "tdx_tcbinfo")))
            st = kt_fail(KT_ERR_MALFORMED, "%s: v3's body has 'tcbinfo' only", where);
        if (st) return st;
        kt_hex_encode(raw, 6, fmspc, sizeof fmspc);
        for (int k = 1; k < 4; k++) {
            json_t *doc = json_object_get(t, keys[k]);
            if (!doc) continue;
            if (!json_is_object(doc))
                return kt_fail(KT_ERR_MALFORMED, "%s: '%s' must be a JSON object", where, keys[k]);
            /* the signed bytes are the compact form PCS serves (JSON.stringify's, as PCCS
             * keeps it); whether these are they, the signature says */
            char *body = json_dumps(doc, JSON_COMPACT);
            char key[KT_COLL_KEY_MAX];
            snprintf(key, sizeof key, "%s-tcb-%s%s", k == 3 ? "tdx" : "sgx", fmspc,
                     api == 3 ? "-v3" : "");
            st = body ? add_item(put, key, chain, body, strlen(body))
                      : kt_fail(KT_ERR_NO_MEMORY, "out of memory");
            free(body);
            if (st) return kt_fail_context(st, "%s", where);
        }
    }
    return KT_OK;
}

static kt_status pck_certs(kt_coll_put *put, json_t *a)
{
    static const char *const keys[] = {"qe_id", "pce_id", "enc_ppid", "platform_manifest",
                                       "certs", NULL};
    if (!json_is_array(a) || json_array_size(a) > MAX_PLATFORMS)
        return kt_fail(KT_ERR_MALFORMED, "collaterals: 'pck_certs' must be a list of at most %d",
                       MAX_PLATFORMS);
    put->pck = calloc(json_array_size(a) ? json_array_size(a) : 1, sizeof *put->pck);
    if (!put->pck) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *e = json_array_get(a, i);
        struct kt_coll_put_certs *c = &put->pck[i];
        kt_status st = kt_coll_platform_of(e, keys, true, &c->platform);
        put->pck_count++;
        if (!st) st = kt_coll_pckcerts_of(json_object_get(e, "certs"), &c->certs, &c->count);
        if (st) return kt_fail_context(st, "collaterals: pck_certs entry %zu", i);
    }
    return KT_OK;
}

static kt_status collaterals(kt_coll_put *put, json_t *c, unsigned api)
{
    static const char *const keys[] =
        {"version",     "pck_certs",    "tcbinfos",      "pckcacrl",  "qeidentity", "tdqeidentity",
         "qveidentity", "certificates", "rootcacrl_cdp", "rootcacrl", NULL},
                             *const cert_keys[] = {"SGX-PCK-Certificate-Issuer-Chain",
                                                   "TCB-Info-Issuer-Chain",
                                                   "SGX-TCB-Info-Issuer-Chain",
                                                   "SGX-Enclave-Identity-Issuer-Chain", NULL},
                             *const ca_keys[] = {"PROCESSOR", "PLATFORM", NULL},
                             *const crl_keys[] = {"processorCrl", "platformCrl", NULL};
    kt_status st = known(c, keys, "collaterals");
    json_t *ver = st ? NULL : json_object_get(c, "version");
    long long want = api == 3 ? 3 : 4;
    char text[2] = {(char)('0' + want), 0};
    if (!st && ver && !(json_is_integer(ver) && json_integer_value(ver) == want) &&
        !(json_is_string(ver) && !strcmp(json_string_value(ver), text)))
        st = kt_fail(KT_ERR_MALFORMED,
                     "collaterals: 'version' must be %lld (this is the v%lld API)", want, want);
    json_t *certs = st ? NULL : json_object_get(c, "certificates");
    if (!st && !certs) st = kt_fail(KT_ERR_MALFORMED, "collaterals: missing 'certificates'");
    if (!st) st = known(certs, cert_keys, "collaterals: certificates");
    if (!st && json_object_get(certs, cert_keys[1]) && json_object_get(certs, cert_keys[2]))
        st = kt_fail(KT_ERR_MALFORMED, "collaterals: certificates: TCB-Info-Issuer-Chain and "
                                       "SGX-TCB-Info-Issuer-Chain are the same chain; give one");
    json_t *pck = st ? NULL : json_object_get(certs, cert_keys[0]);
    if (!st && pck)
        st = known(pck, ca_keys,
                   "collaterals: certificates: "
                   "SGX-PCK-Certificate-Issuer-Chain");
    for (int k = 0; !st && pck && k < 2; k++)
        st = chain_of(pck, ca_keys[k], "collaterals: certificates", &put->pck_chain[k]);
    kt_buf tcb_chain = {0}, id_chain = {0};
    if (!st)
        st = chain_of(certs, json_object_get(certs, cert_keys[1]) ? cert_keys[1] : cert_keys[2],
                      "collaterals: certificates", &tcb_chain);
    if (!st) st = chain_of(certs, cert_keys[3], "collaterals: certificates", &id_chain);
    /* the CRLs first: they judge the rest */
    if (!st) st = crl_item(put, c, "rootcacrl", "rootcacrl", NULL, "collaterals");
    json_t *crls = st ? NULL : json_object_get(c, "pckcacrl");
    if (!st && crls) st = known(crls, crl_keys, "collaterals: pckcacrl");
    if (!st && crls)
        st = crl_item(put, crls, "processorCrl", "pckcrl-processor", &put->pck_chain[0],
                      "collaterals: pckcacrl");
    if (!st && crls)
        st = crl_item(put, crls, "platformCrl", "pckcrl-platform", &put->pck_chain[1],
                      "collaterals: pckcacrl");
    json_t *t = st ? NULL : json_object_get(c, "tcbinfos");
    if (!st && t) st = tcbinfos(put, t, &tcb_chain, api);
    static const char *const ids[][2] = {
        {"qeidentity", "sgx-qe"}, {"tdqeidentity", "tdx-qe"}, {"qveidentity", "sgx-qve"}};
    for (size_t i = 0; !st && i < sizeof ids / sizeof ids[0]; i++) {
        json_t *v;
        st = text_of(c, ids[i][0], "collaterals", &v);
        if (!st && v)
            st = add_item(put, ids[i][1], &id_chain, json_string_value(v), json_string_length(v));
    }
    json_t *cdp;
    if (!st) st = text_of(c, "rootcacrl_cdp", "collaterals", &cdp); /* the root's own says */
    json_t *pc = st ? NULL : json_object_get(c, "pck_certs");
    if (!st && pc) st = pck_certs(put, pc);
    kt_buf_free(&tcb_chain);
    kt_buf_free(&id_chain);
    return st;
}

kt_status kt_coll_put_parse(const uint8_t *json, size_t n, unsigned api, kt_coll_put *put)
{
    static const char *const keys[] = {"platforms", "collaterals", NULL},
                             *const platform_keys[] = {"qe_id",   "pce_id",   "cpu_svn",
                                                       "pce_svn", "enc_ppid", "platform_manifest",
                                                       NULL};
    memset(put, 0, sizeof *put);
    json_t *o;
    kt_status st = kt_coll_json_body(json, n, &o);
    if (!st) st = known(o, keys, "body");
    json_t *pls = st ? NULL : json_object_get(o, "platforms"),
           *c = st ? NULL : json_object_get(o, "collaterals");
    if (!st && (!pls || !c))
        st = kt_fail(KT_ERR_MALFORMED, "body: missing '%s'", pls ? "collaterals" : "platforms");
    if (!st && (!json_is_array(pls) || json_array_size(pls) > MAX_PLATFORMS))
        st = kt_fail(KT_ERR_MALFORMED, "body: 'platforms' must be a list of at most %d",
                     MAX_PLATFORMS);
    if (!st) put->platforms = calloc(json_array_size(pls) + 1, sizeof *put->platforms);
    if (!st && !put->platforms) st = kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; !st && i < json_array_size(pls); i++) {
        st = kt_coll_platform_of(json_array_get(pls, i), platform_keys, true, &put->platforms[i]);
        if (st)
            st = kt_fail_context(st, "body: platforms entry %zu", i);
        else
            put->platform_count++;
    }
    if (!st) st = collaterals(put, c, api);
    json_decref(o);
    if (st) kt_coll_put_free(put);
    return st;
}

void kt_coll_put_free(kt_coll_put *put)
{
    for (size_t i = 0; put->platforms && i < put->platform_count; i++)
        kt_coll_platform_clear(&put->platforms[i]);
    free(put->platforms);
    for (size_t i = 0; put->pck && i < put->pck_count; i++) {
        kt_coll_platform_clear(&put->pck[i].platform);
        kt_coll_pckcerts_free(put->pck[i].certs, put->pck[i].count);
    }
    free(put->pck);
    for (size_t i = 0; i < put->item_count; i++) {
        kt_buf_free(&put->items[i].chain);
        kt_buf_free(&put->items[i].body);
    }
    free(put->items);
    kt_buf_free(&put->pck_chain[0]);
    kt_buf_free(&put->pck_chain[1]);
    memset(put, 0, sizeof *put);
}
