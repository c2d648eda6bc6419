/* The admin paths, as PCCS has them, each needing the admin token (admin-token header,
 * compared in constant time, before any body is read or query parsed):
 *   POST /sgx/certification/v4/platforms           register a platform (REQ mode's trigger)
 *   GET  /sgx/certification/v4/platforms           the queued registrations, or the held
 *                                                  platforms of some FMSPCs (source=[...])
 *   PUT  /sgx/certification/v4/platformcollateral  collateral for platforms, verified first
 *   POST /sgx/certification/v4/refresh             fetch the collateral (or one kind of it,
 *   GET  /sgx/certification/v4/refresh             or type=certs the PCK certificates) again
 * and the same under /sgx/certification/v3. */
#include "collateral.h"

#include <string.h>

static void text(kt_http_reply *r, unsigned code, const char *msg)
{
    char shown[2048];
    r->code = code;
    r->content_type = "text/plain";
    kt_escape_text(msg, strlen(msg), shown, sizeof shown);
    kt_buf_append(&r->body, shown, strlen(shown));
    kt_buf_append(&r->body, "\n", 1);
}

/* Logs and answers a refusal: what, then the last error. */
static void refused(kt_http_reply *r, unsigned code, const char *reason, const char *item,
                    const char *what)
{
    char msg[1600], shown[4096];
    snprintf(msg, sizeof msg, "%s: %s", what, kt_last_error());
    kt_log(KT_LOG_WARN, "collateral.refused", "reason", reason, "item", item, "detail",
           kt_escape_text(msg, strlen(msg), shown, sizeof shown), NULL);
    text(r, code, msg);
}

static unsigned status_of(kt_status st)
{
    return st == KT_ERR_NOT_FOUND ? 404
           : st == KT_ERR_VERIFY  ? 502
           : st == KT_ERR_STATE   ? 409
                                  : 503;
}

bool kt_coll_admin_admit(void *ctx, kt_http_reply *r)
{
    const kt_coll_config *c = kt_coll_proxy_config(ctx);
    if (c->admin_token[0] &&
        kt_coll_token_holds(c->admin_token, kt_http_request_header(r, "admin-token")))
        return true;
    kt_log(KT_LOG_WARN, "collateral.refused", "reason", "unauthorized", "item", "admin", "detail",
           c->admin_token[0] ? "no admin-token header, or not the admin token"
                             : "no admin token is configured",
           NULL);
    text(r, 401, "Authentication failed.");
    return false;
}

/* Whether a target names path (given after ".../v4" or ".../v3"; *api says which), and
 * whether it has a query. */
static bool is_path(const char *raw, const char *path, unsigned *api, bool *query)
{
    static const char v3[] = "/sgx/certification/v3", v4[] = "/sgx/certification/v4";
    size_t pre = sizeof v4 - 1, n = strlen(path);
    if (!strncmp(raw, v3, pre))
        *api = 3;
    else if (!strncmp(raw, v4, pre))
        *api = 4;
    else
        return false;
    raw += pre;
    if (strncmp(raw, path, n) || (raw[n] != '\0' && raw[n] != '?')) return false;
    *query = raw[n] == '?';
    return true;
}

static void refresh(kt_coll_proxy *p, const kt_coll_query *q, kt_http_reply *r)
{
    char why[1200];
    kt_status st = kt_coll_proxy_refresh_now(p, q, why, sizeof why);
    if (st)
        return refused(r, st == KT_ERR_STATE ? 503 : status_of(st), "refresh", "refresh",
                       "refresh");
    text(r, 200, "Operation successful.");
}

void kt_coll_admin_get(kt_coll_proxy *p, const kt_coll_query *q, kt_http_reply *r)
{
    if (q->route == KT_COLL_REFRESH) return refresh(p, q, r); /* PCCS's deprecated GET */
    kt_buf list = {0};
    size_t count = 0;
    kt_status st = kt_coll_proxy_platforms(p, q, &list, &count);
    if (st) {
        kt_buf_free(&list);
        return refused(r, st == KT_ERR_MALFORMED ? 400 : 500, "bad_request", "platforms",
                       "Invalid request parameters");
    }
    char line[48];
    int n = snprintf(line, sizeof line, "platform-count: %zu\n", count);
    kt_buf_append(&r->headers, line, (size_t)n);
    r->body = list;
    r->code = 200;
    r->content_type = "application/json";
}

/* platform_count, when given, says how many platforms the body lists (PCCS's check). */
static kt_status platform_count(const char *raw, size_t listed)
{
    const char *q = strchr(raw, '?');
    if (!q) return KT_OK;
    static const char name[] = "platform_count=";
    char shown[160];
    uint64_t n = 0;
    if (strncmp(q + 1, name, sizeof name - 1) || q[sizeof name] == '0' ||
        kt_decimal_parse(q + sizeof name, 1000000, &n))
        return kt_fail(KT_ERR_MALFORMED,
                       "the only parameter is platform_count, a decimal number 1..1000000 "
                       "without leading zeros, not '%s'",
                       kt_escape(q + 1, strlen(q + 1), shown, sizeof shown));
    if (n != listed)
        return kt_fail(KT_ERR_MALFORMED, "platform_count is %llu but the body lists %zu platforms",
                       (unsigned long long)n, listed);
    return KT_OK;
}

void kt_coll_admin_body(void *ctx, const char *method, const char *raw, const uint8_t *body,
                        size_t n, kt_http_reply *r)
{
    kt_coll_proxy *p = ctx;
    bool query = false;
    unsigned api = 4;
    (void)method; /* each path takes one method (the routes say which) */
    if (is_path(raw, "/platforms", &api, &query)) {
        kt_coll_platform pl;
        if (query) {
            kt_fail(KT_ERR_MALFORMED, "POST /platforms takes no query");
            return refused(r, 400, "bad_request", "platforms", "Invalid request parameters");
        }
        if (kt_coll_platform_parse(body, n, false, &pl))
            return refused(r, 400, "bad_request", "platforms", "Invalid request parameters");
        kt_status st = kt_coll_proxy_register(p, &pl);
        kt_coll_platform_clear(&pl);
        if (st)
            return refused(r, status_of(st), "registration", "platforms", "platform registration");
        return text(r, 200, "Operation successful.");
    }
    if (is_path(raw, "/platformcollateral", &api, &query)) {
        kt_coll_put put;
        if (kt_coll_put_parse(body, n, api, &put))
            return refused(r, 400, "bad_request", "platformcollateral",
                           "Invalid request parameters");
        kt_status st = platform_count(raw, put.platform_count);
        if (st) {
            kt_coll_put_free(&put);
            return refused(r, 400, "bad_request", "platformcollateral",
                           "Invalid request parameters");
        }
        st = kt_coll_proxy_put(p, &put);
        kt_coll_put_free(&put);
        if (st)
            return refused(r, st == KT_ERR_NO_MEMORY ? 500 : 400, "unverified",
                           "platformcollateral", "platform collateral refused, nothing of it held");
        return text(r, 200, "Operation successful.");
    }
    kt_coll_query q;
    if (kt_coll_query_parse(raw, strlen(raw), &q) || q.route != KT_COLL_REFRESH)
        return refused(r, 400, "bad_request", "refresh", "Invalid request parameters");
    refresh(p, &q, r);
}
