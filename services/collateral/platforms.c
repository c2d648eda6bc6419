/* Platform registration over HTTP, as PCCS takes it: POST /sgx/certification/v4/platforms
 * with the PCK ID retrieval tool's JSON, allowed only with the admin token (admin-token
 * header, compared in constant time). Also the parser of Intel PCS's pckcerts answer. */
#include "collateral.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define SHOWN 40

static kt_status bad_key(const char *what, const char *key)
{
    char shown[SHOWN * 4 + 1];
    size_t n = strlen(key);
    kt_escape(key, n > SHOWN ? SHOWN : n, shown, sizeof shown);
    return kt_fail(KT_ERR_MALFORMED, "%s '%s%s'", what, shown, n > SHOWN ? "..." : "");
}

/* A string of exactly 2 * bytes hex digits, either case. */
static kt_status hex_field(json_t *o, const char *key, uint8_t *out, size_t bytes, char *text)
{
    json_t *v = json_object_get(o, key);
    if (!v) return kt_fail(KT_ERR_MALFORMED, "missing '%s'", key);
    const char *s = json_string_value(v);
    if (!s || strlen(s) != 2 * bytes || kt_hex_decode(s, out, bytes))
        return kt_fail(KT_ERR_MALFORMED, "'%s' must be a string of %zu hex digits", key, 2 * bytes);
    if (text) memcpy(text, s, 2 * bytes + 1);
    return KT_OK;
}

kt_status kt_coll_platform_parse(const uint8_t *json, size_t n, kt_coll_platform *pl)
{
    static const char *const keys[] = {
        "qe_id", "pce_id", "cpu_svn", "pce_svn", "enc_ppid", "platform_manifest", NULL};
    memset(pl, 0, sizeof *pl);
    json_error_t err;
    json_t *o = json_loadb((const char *)json, n, JSON_REJECT_DUPLICATES, &err);
    kt_status st = KT_OK;
    if (!o) {
        char shown[sizeof err.text * 4];
        st = kt_fail(KT_ERR_MALFORMED, "body is not JSON: %s",
                     kt_escape(err.text, strlen(err.text), shown, sizeof shown));
    } else if (!json_is_object(o)) {
        st = kt_fail(KT_ERR_MALFORMED, "body is not a JSON object");
    }
    const char *key;
    json_t *v;
    if (!st) json_object_foreach(o, key, v)
        {
            size_t k;
            for (k = 0; keys[k] && strcmp(keys[k], key); k++)
                ;
            if (!keys[k] || strlen(key) != strlen(keys[k])) { /* a NUL inside a key */
                st = bad_key("unknown key", key);
                break;
            }
        }
    uint8_t ppid[KT_COLL_PPID_HEX / 2];
    if (!st) st = hex_field(o, "qe_id", pl->qeid, 16, NULL);
    if (!st) st = hex_field(o, "pce_id", pl->pceid, 2, NULL);
    if (!st) st = hex_field(o, "cpu_svn", pl->cpusvn, 16, NULL);
    if (!st) st = hex_field(o, "pce_svn", pl->pcesvn, 2, NULL);
    if (!st) st = hex_field(o, "enc_ppid", ppid, sizeof ppid, pl->ppid);
    json_t *pm = o ? json_object_get(o, "platform_manifest") : NULL;
    if (!st && pm && (!json_is_string(pm) || json_string_length(pm)))
        st = kt_fail(KT_ERR_MALFORMED, "'platform_manifest': multi-package platforms (a platform "
                                       "manifest) are not supported; send it empty or not at all");
    json_decref(o);
    return st;
}

/* encodeURIComponent's output back: %XX escapes (hex, either case), other bytes as they
 * are; a bad escape is refused. */
static kt_status url_decode(const char *s, size_t n, kt_buf *out)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        if (c == '%') {
            if (i + 2 >= n) return kt_fail(KT_ERR_MALFORMED, "a %%-escape cut short");
            char two[3] = {s[i + 1], s[i + 2], 0};
            if (kt_hex_decode(two, &c, 1)) return kt_fail(KT_ERR_MALFORMED, "a bad %%-escape");
            i += 2;
        }
        kt_status st = kt_buf_append(out, &c, 1);
        if (st) return st;
    }
    return KT_OK;
}

void kt_coll_pckcerts_free(kt_coll_pckcert *certs, size_t count)
{
    for (size_t i = 0; certs && i < count; i++)
        kt_buf_free(&certs[i].pem);
    free(certs);
}

kt_status kt_coll_pckcerts_parse(const uint8_t *json, size_t n, kt_coll_pckcert **out,
                                 size_t *count)
{
    *out = NULL;
    *count = 0;
    json_error_t err;
    json_t *a = json_loadb((const char *)json, n, JSON_REJECT_DUPLICATES, &err);
    kt_status st = KT_OK;
    if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > 256)
        st = kt_fail(KT_ERR_MALFORMED, "pckcerts: not a JSON array of 1 to 256 entries");
    kt_coll_pckcert *c = st ? NULL : calloc(json_array_size(a), sizeof *c);
    if (!st && !c) st = kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; !st && i < json_array_size(a); i++) {
        json_t *e = json_array_get(a, i);
        json_t *cert = json_object_get(e, "cert");
        (*count)++;
        if (!json_is_object(e) || !json_is_object(json_object_get(e, "tcb")) ||
            !json_is_string(cert) || json_object_size(e) != 3)
            st = kt_fail(KT_ERR_MALFORMED, "pckcerts entry %zu: not {tcb, tcbm, cert}", i);
        if (!st) st = hex_field(e, "tcbm", c[i].tcbm, 18, NULL);
        if (!st && strcmp(json_string_value(cert), "Not available"))
            st = url_decode(json_string_value(cert), json_string_length(cert), &c[i].pem);
        if (st) st = kt_fail_context(st, "pckcerts entry %zu", i);
    }
    json_decref(a);
    if (st) {
        kt_coll_pckcerts_free(c, *count);
        *count = 0;
        return st;
    }
    *out = c;
    return KT_OK;
}

static void text(kt_http_reply *r, unsigned code, const char *msg)
{
    char shown[2048];
    r->code = code;
    r->content_type = "text/plain";
    kt_escape(msg, strlen(msg), shown, sizeof shown);
    kt_buf_append(&r->body, shown, strlen(shown));
    kt_buf_append(&r->body, "\n", 1);
}

/* Logs and answers a refusal: what, then the last error. */
static void refused(kt_http_reply *r, unsigned code, const char *reason, const char *what)
{
    char msg[800], shown[2048];
    snprintf(msg, sizeof msg, "%s: %s", what, kt_last_error());
    kt_log(KT_LOG_WARN, "collateral.refused", "reason", reason, "item", "platforms", "detail",
           kt_escape(msg, strlen(msg), shown, sizeof shown), NULL);
    text(r, code, msg);
}

void kt_coll_proxy_post(void *ctx, const uint8_t *body, size_t n, kt_http_reply *r)
{
    kt_coll_proxy *p = ctx;
    const kt_coll_config *c = kt_coll_proxy_config(p);
    /* cheap checks first: no token, no parsing and no upstream work */
    if (!c->admin_token[0] ||
        !kt_coll_token_holds(c->admin_token, kt_http_request_header(r, "admin-token"))) {
        kt_log(KT_LOG_WARN, "collateral.refused", "reason", "unauthorized", "item", "platforms",
               "detail",
               c->admin_token[0] ? "no admin-token header, or not the admin token"
                                 : "no admin token is configured",
               NULL);
        return text(r, 401, "Authentication failed.");
    }
    kt_coll_platform pl;
    kt_status st = kt_coll_platform_parse(body, n, &pl);
    if (st) return refused(r, 400, "bad_request", "Invalid request parameters");
    st = kt_coll_proxy_register(p, &pl);
    if (st)
        return refused(r,
                       st == KT_ERR_NOT_FOUND ? 404
                       : st == KT_ERR_VERIFY  ? 502
                       : st == KT_ERR_STATE   ? 409
                                              : 503,
                       "registration", "platform registration");
    text(r, 200, "Operation successful.");
}
