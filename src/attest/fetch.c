/* Collateral from a PCCS or Intel PCS (API v4), with libcurl, cached on disk. The cache
 * only saves the fetch: what it holds is loaded and verified like any collateral
 * directory, signatures and all. */
#include "internal.h"

#include <curl/curl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_BODY (1u << 20)

typedef struct {
    kt_buf body;
    const char *want_header; /* e.g. "TCB-Info-Issuer-Chain" */
    kt_buf header;
    bool too_large;
} response;

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    response *r = arg;
    size_t len = size * n;
    if (r->body.len + len > MAX_BODY) {
        r->too_large = true;
        return 0;
    }
    return kt_buf_append(&r->body, p, len) ? 0 : len;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    response *r = arg;
    size_t len = size * n, k = r->want_header ? strlen(r->want_header) : 0;
    if (k && len > k + 1 && strncasecmp(p, r->want_header, k) == 0 && p[k] == ':') {
        const char *v = p + k + 1;
        size_t vl = len - k - 1;
        while (vl && (*v == ' ' || *v == '\t'))
            v++, vl--;
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
            vl--;
        r->header.len = 0;
        if (vl > 65536 || kt_buf_append(&r->header, v, vl)) return 0;
    }
    return len;
}

kt_status kt_pcs_get(const char *url, const char *api_key, const char *header, kt_buf *body,
                     kt_buf *header_value, long *code)
{
    return kt_pcs_post(url, api_key, NULL, header, body, header_value, code);
}

kt_status kt_pcs_post(const char *url, const char *api_key, const char *json, const char *header,
                      kt_buf *body, kt_buf *header_value, long *code)
{
    if (!url || !body || !code || (header && !header_value))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "fetch: NULL argument");
    response r = {.want_header = header};
    *code = 0;
    CURL *c = curl_easy_init();
    if (!c) return kt_fail(KT_ERR_NO_MEMORY, "fetch: curl init failed");
    struct curl_slist *hdrs = NULL;
    if (api_key) {
        char line[300];
        if ((size_t)snprintf(line, sizeof line, "Ocp-Apim-Subscription-Key: %s", api_key) >=
                sizeof line ||
            strpbrk(api_key, "\r\n")) {
            curl_easy_cleanup(c);
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "fetch: API key too long or not one line");
        }
        hdrs = curl_slist_append(NULL, line);
    }
    if (json) { /* copied by curl */
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, json);
    }
    if (hdrs) curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
    curl_slist_free_all(hdrs);
    kt_status st = KT_OK;
    if (r.too_large)
        st = kt_fail(KT_ERR_TOO_LARGE, "fetch %s: response over %u bytes", url, MAX_BODY);
    else if (rc != CURLE_OK)
        st = kt_fail(KT_ERR_IO, "fetch %s: %s", url, curl_easy_strerror(rc));
    if (!st && header && r.header.len) {
        /* issuer chains come URL-encoded */
        int outlen = 0;
        char *pem = curl_easy_unescape(c, (const char *)r.header.data, (int)r.header.len, &outlen);
        header_value->len = 0;
        st = pem ? kt_buf_append(header_value, pem, (size_t)outlen)
                 : kt_fail(KT_ERR_MALFORMED, "fetch %s: bad %s header", url, header);
        curl_free(pem);
    } else if (!st && header) {
        header_value->len = 0;
    }
    curl_easy_cleanup(c);
    kt_buf_free(&r.header);
    if (st) {
        kt_buf_free(&r.body);
        return st;
    }
    kt_buf_free(body);
    *body = r.body;
    return KT_OK;
}

kt_status kt_pcs_crl_der(kt_buf *body)
{
    if (!body) return kt_fail(KT_ERR_INVALID_ARGUMENT, "CRL: NULL argument");
    if (body->len && body->data[0] == 0x30) return KT_OK;
    kt_buf der = {0};
    size_t hex_len = body->len;
    /* the body is not NUL-terminated: append one, which makes room for it */
    if (hex_len % 2 || kt_buf_append(body, "", 1) || kt_buf_reserve(&der, hex_len / 2 + 1) ||
        kt_hex_decode((char *)body->data, der.data, hex_len / 2)) {
        kt_buf_free(&der);
        return kt_fail(KT_ERR_MALFORMED, "CRL is neither DER nor hex");
    }
    der.len = hex_len / 2;
    kt_buf_free(body);
    *body = der;
    return KT_OK;
}

/* Saves a fetched body, and its issuer chain (URL-encoded PEM) when asked. */
static kt_status fetch_to(const char *url, const char *header, const char *dir, const char *name,
                          const char *chain_name, bool der_or_hex)
{
    kt_buf body = {0}, chain = {0};
    long code;
    char path[PATH_MAX];
    kt_status st = kt_pcs_get(url, NULL, header, &body, &chain, &code);
    if (!st && code != 200) st = kt_fail(KT_ERR_IO, "fetch %s: HTTP %ld", url, code);
    if (!st && header && chain.len == 0)
        st = kt_fail(KT_ERR_MALFORMED, "fetch %s: no %s header", url, header);
    if (!st && der_or_hex && (st = kt_pcs_crl_der(&body)))
        st = kt_fail_context(st, "fetch %s", url);
    if (!st) {
        snprintf(path, sizeof path, "%s/%s", dir, name);
        st = kt_file_write_atomic(path, body.data, body.len, 0644);
    }
    if (!st && chain_name) {
        snprintf(path, sizeof path, "%s/%s", dir, chain_name);
        st = kt_file_write_atomic(path, chain.data, chain.len, 0644);
    }
    kt_buf_free(&body);
    kt_buf_free(&chain);
    return st;
}

/* The first http(s) CRL distribution point of a certificate (Intel's root names where
 * its CRL lives; Intel PCS, unlike a PCCS, has no rootcacrl endpoint). */
kt_status kt_crl_distribution_point(const char *cert_pem_path, char *url, size_t cap)
{
    kt_buf pem = {0};
    kt_chain chain;
    kt_status st = kt_file_read(cert_pem_path, 1 << 16, &pem);
    if (!st) st = kt_chain_from_pem((const char *)pem.data, pem.len, &chain);
    kt_buf_free(&pem);
    if (st) return st;
    st = kt_x509_crl_url(&chain.cert[0], url, cap);
    kt_chain_free(&chain);
    return st ? kt_fail_context(st, "%s", cert_pem_path) : KT_OK;
}

/* The cached directory holds, and vouches for itself at `at` as verification will judge
 * it (CRLs, issuer chains, TCB Info and QE Identity: signatures and windows). Anything
 * else is fetched again: a copy that does not verify (tampered, or a bad response once)
 * would otherwise fail every verification until its unsigned dates passed. */
static bool cache_fresh(const char *dir, time_t at)
{
    kt_collateral *c;
    if (kt_collateral_load_dir(dir, NULL, &c) != KT_OK) return false;
    bool fresh = kt_collateral_check(c, at) == KT_OK;
    kt_collateral_free(c);
    kt_clear_error();
    return fresh;
}

kt_status kt_collateral_fetch(const char *base_url, const uint8_t *quote, size_t n,
                              const char *root_pem, const char *cache_dir, time_t at, char *dir_out,
                              size_t cap)
{
    return kt_collateral_fetch_ex(base_url, NULL, quote, n, root_pem, cache_dir, at, dir_out, cap);
}

kt_status kt_collateral_fetch_ex(const char *base_url, const char *root_crl_url,
                                 const uint8_t *quote, size_t n, const char *root_pem,
                                 const char *cache_dir, time_t at, char *dir_out, size_t cap)
{
    if (!base_url || !quote || !root_pem || !cache_dir || !dir_out)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "fetch: NULL argument");
    if (strncmp(base_url, "http://", 7) && strncmp(base_url, "https://", 8))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "fetch: '%s' is not an http(s) URL", base_url);
    kt_quote q;
    kt_status st = kt_quote_parse(quote, n, &q);
    if (st) return st;
    kt_chain chain;
    kt_pck_info pck;
    char issuer[256] = "";
    if ((st = kt_chain_from_pem(q.pck_chain_pem, q.pck_chain_len, &chain))) return st;
    if (!(st = kt_x509_common_name(chain.cert[0].issuer, issuer, sizeof issuer)))
        st = kt_pck_info_from_cert(&chain.cert[0], &pck);
    kt_chain_free(&chain);
    if (st) return kt_fail_context(st, "quote's PCK certificate");
    const char *ca = strstr(issuer, "Processor") ? "processor" : "platform";
    const char *tee = q.tee == KT_TEE_TDX ? "tdx" : "sgx";
    char fmspc[13];
    kt_hex_encode(pck.fmspc, 6, fmspc, sizeof fmspc);
    if ((size_t)snprintf(dir_out, cap, "%s/%s-%s-%s", cache_dir, tee, fmspc, ca) >= cap)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "fetch: cache path too long");
    if ((st = kt_mkdirs(dir_out, 0755))) return st;
    /* the trust anchor is the operator's, never fetched */
    kt_buf root = {0};
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/intel_root_ca.pem", dir_out);
    if ((st = kt_file_read(root_pem, 1 << 16, &root)) ||
        (st = kt_file_write_atomic(path, root.data, root.len, 0644))) {
        kt_buf_free(&root);
        return st;
    }
    kt_buf_free(&root);
    if (cache_fresh(dir_out, at)) {
        kt_log(KT_LOG_DEBUG, "collateral.cache_hit", "dir", dir_out, NULL);
        return KT_OK;
    }
    char url[1024];
    const char *base = base_url;
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    snprintf(url, sizeof url, "%.*s/%s/certification/v4/tcb?fmspc=%s", (int)bl, base, tee, fmspc);
    st = fetch_to(url, "TCB-Info-Issuer-Chain", dir_out, "tcb_info.json",
                  "tcb_info_issuer_chain.pem", false);
    if (!st) {
        snprintf(url, sizeof url, "%.*s/%s/certification/v4/qe/identity", (int)bl, base, tee);
        st = fetch_to(url, "SGX-Enclave-Identity-Issuer-Chain", dir_out, "qe_identity.json",
                      "qe_identity_issuer_chain.pem", false);
    }
    if (!st) {
        snprintf(url, sizeof url, "%.*s/sgx/certification/v4/pckcrl?ca=%s&encoding=der", (int)bl,
                 base, ca);
        st = fetch_to(url, "SGX-PCK-CRL-Issuer-Chain", dir_out, "pck_crl.der",
                      "pck_crl_issuer_chain.pem", true);
    }
    if (!st) {
        /* a PCCS serves the root CA CRL itself; Intel PCS leaves it at the distribution
         * point in Intel's root certificate */
        char dp[1024];
        if (root_crl_url)
            snprintf(url, sizeof url, "%s", root_crl_url);
        else
            snprintf(url, sizeof url, "%.*s/sgx/certification/v4/rootcacrl", (int)bl, base);
        st = fetch_to(url, NULL, dir_out, "root_ca_crl.der", NULL, true);
        if (st && !root_crl_url && kt_crl_distribution_point(root_pem, dp, sizeof dp) == KT_OK) {
            kt_log(KT_LOG_INFO, "collateral.root_crl_from_distribution_point", "url", dp, NULL);
            st = fetch_to(dp, NULL, dir_out, "root_ca_crl.der", NULL, true);
        }
    }
    if (!st)
        kt_log(KT_LOG_INFO, "collateral.fetched", "from", base_url, "fmspc", fmspc, "dir", dir_out,
               NULL);
    return st;
}
