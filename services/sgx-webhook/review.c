/* AdmissionReview v1: the request read strictly (duplicate keys refused, the version and
 * kind named when they are not ours), the answer always an AdmissionReview v1 once the
 * request's uid is known, with allowed=false and a message rather than an HTTP error. */
#include "review.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

const char *const wh_reason_names[WH_REASONS] = {
    "none",    "malformed", "too_large",           "api_version",
    "not_pod", "bad_pod",   "provision_unannotated", "quote_provider",
    "reserved_annotation"};

#define API_VERSION "admission.k8s.io/v1"

void wh_config_defaults(wh_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->epc[0], WH_NAME, "sgx.intel.com/epc");
    snprintf(c->epc[1], WH_NAME, "alibabacloud.com/sgx_epc_MiB");
    c->n_epc = 2;
    snprintf(c->enclave, WH_NAME, "sgx.intel.com/enclave");
    snprintf(c->provision, WH_NAME, "sgx.intel.com/provision");
    snprintf(c->aesm, WH_NAME, "kubetee.io/aesm");
    snprintf(c->aesm_dir, sizeof c->aesm_dir, "/var/run/aesmd");
    c->max_body = 4u << 20;
}

static const char *str(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static void copy(char *dst, size_t cap, const char *s)
{
    kt_escape(s ? s : "", s ? strlen(s) : 0, dst, cap);
}

static unsigned plain(kt_buf *out, wh_result *r, wh_reason why, unsigned code)
{
    r->outcome = WH_INVALID;
    r->reason = why;
    kt_escape_text(kt_last_error(), strlen(kt_last_error()), r->message,
                   sizeof r->message); /* a message */
    kt_buf_append(out, r->message, strlen(r->message));
    kt_buf_append(out, "\n", 1);
    return code;
}

/* The AdmissionReview answer; ops is NULL or the patch (taken). */
static unsigned answer(kt_buf *out, wh_result *r, json_t *ops)
{
    json_t *resp = json_pack("{s:s,s:b}", "uid", r->uid, "allowed", r->outcome != WH_REFUSED);
    if (resp && r->outcome == WH_REFUSED) {
        unsigned code = r->reason == WH_PROVISION || r->reason == WH_QUOTE_PROVIDER ||
                                r->reason == WH_RESERVED
                            ? 403
                            : 400;
        json_object_set_new(resp, "status",
                            json_pack("{s:i,s:s,s:s,s:s}", "code", code, "status", "Failure",
                                      "reason", code == 403 ? "Forbidden" : "BadRequest",
                                      "message", r->message));
    }
    if (resp && ops && json_array_size(ops)) {
        char *patch = json_dumps(ops, JSON_COMPACT);
        kt_buf b64 = {0};
        if (!patch || kt_base64_encode((uint8_t *)patch, strlen(patch), &b64)) {
            json_decref(resp);
            resp = NULL;
        } else {
            json_object_set_new(resp, "patchType", json_string("JSONPatch"));
            json_object_set_new(resp, "patch", json_string((char *)b64.data));
        }
        free(patch);
        kt_buf_free(&b64);
    }
    json_decref(ops);
    json_t *review = resp ? json_pack("{s:s,s:s,s:o}", "apiVersion", API_VERSION, "kind",
                                      "AdmissionReview", "response", resp)
                          : NULL;
    char *text = review ? json_dumps(review, JSON_COMPACT) : NULL;
    json_decref(review);
    if (!text) {
        kt_fail(KT_ERR_NO_MEMORY, "out of memory");
        return plain(out, r, WH_MALFORMED, 500);
    }
    kt_buf_append(out, text, strlen(text));
    free(text);
    return 200;
}

static unsigned refuse(kt_buf *out, wh_result *r, wh_reason why)
{
    r->outcome = WH_REFUSED;
    r->reason = why;
    kt_escape_text(kt_last_error(), strlen(kt_last_error()), r->message,
                   sizeof r->message); /* a message */
    return answer(out, r, NULL);
}

/* kind {group, version, kind} or resource {group, version, resource} is exactly this. */
static bool gvk(json_t *v, const char *field, const char *want)
{
    const char *g = str(v, "group"), *ver = str(v, "version"), *k = str(v, field);
    return json_is_object(v) && g && !*g && ver && !strcmp(ver, "v1") && k && !strcmp(k, want);
}

static kt_status request_is_pod_create(json_t *req)
{
    json_t *kind = json_object_get(req, "kind"), *res = json_object_get(req, "resource");
    const char *sub = str(req, "subResource"), *op = str(req, "operation");
    char a[64], b[64];
    if (!gvk(kind, "kind", "Pod")) {
        copy(a, sizeof a, str(kind, "kind"));
        copy(b, sizeof b, str(kind, "version"));
        return kt_fail(KT_ERR_DENIED, "request.kind is '%s' version '%s'; this webhook takes core "
                       "v1 Pods only", a, b);
    }
    if (!gvk(res, "resource", "pods"))
        return kt_fail(KT_ERR_DENIED, "request.resource is not core v1 pods");
    if (json_object_get(req, "subResource") && (!sub || *sub)) {
        copy(a, sizeof a, sub);
        return kt_fail(KT_ERR_DENIED, "request.subResource '%s': this webhook takes pods "
                       "themselves only", a);
    }
    if (!op || strcmp(op, "CREATE")) {
        copy(a, sizeof a, op);
        return kt_fail(KT_ERR_DENIED, "request.operation '%s': this webhook takes CREATE only", a);
    }
    return KT_OK;
}

static unsigned review(const wh_config *c, json_t *root, kt_buf *out, wh_result *r)
{
    json_t *req = json_object_get(root, "request");
    const char *uid = str(req, "uid");
    size_t uid_len = uid ? strlen(uid) : 0;
    if (!json_is_object(root) || !json_is_object(req) || !uid_len || uid_len > 128) {
        kt_fail(KT_ERR_MALFORMED, "not an AdmissionReview: request.uid (a string of 1 to 128 "
                "bytes) is missing");
        return plain(out, r, WH_MALFORMED, 400);
    }
    copy(r->uid, sizeof r->uid, uid);
    if (strcmp(r->uid, uid)) {
        kt_fail(KT_ERR_MALFORMED, "request.uid has bytes outside printable ASCII, or ' \" or \\");
        return plain(out, r, WH_MALFORMED, 400);
    }
    /* the log escapes these itself */
    snprintf(r->namespace_, sizeof r->namespace_, "%s", str(req, "namespace") ? str(req, "namespace") : "");
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "apiVersion") && strcmp(key, "kind") && strcmp(key, "request")) {
            char k[64];
            copy(k, sizeof k, key);
            kt_fail(KT_ERR_MALFORMED, "AdmissionReview has an unexpected member '%s'", k);
            return refuse(out, r, WH_MALFORMED);
        }
    }
    const char *av = str(root, "apiVersion"), *kind = str(root, "kind");
    if (!av || strcmp(av, API_VERSION) || !kind || strcmp(kind, "AdmissionReview")) {
        char a[64], b[64];
        copy(a, sizeof a, av);
        copy(b, sizeof b, kind);
        kt_fail(KT_ERR_UNSUPPORTED, "apiVersion '%s' kind '%s': this webhook reads " API_VERSION
                " AdmissionReview only (admissionReviewVersions: [v1])", a, b);
        return refuse(out, r, WH_API_VERSION);
    }
    if (request_is_pod_create(req)) return refuse(out, r, WH_NOT_POD);
    json_t *pod = json_object_get(req, "object"), *meta = json_object_get(pod, "metadata");
    const char *name = str(meta, "name");
    const char *pn = name && *name ? name : str(meta, "generateName");
    snprintf(r->pod, sizeof r->pod, "%s", pn ? pn : "");
    json_t *ops = json_array();
    wh_reason why;
    if (!ops) {
        kt_fail(KT_ERR_NO_MEMORY, "out of memory");
        return plain(out, r, WH_MALFORMED, 500);
    }
    if (wh_mutate(c, pod, ops, &why)) {
        json_decref(ops);
        return refuse(out, r, why);
    }
    r->ops = json_array_size(ops);
    r->outcome = r->ops ? WH_MUTATED : WH_UNCHANGED;
    return answer(out, r, ops);
}

unsigned wh_review(const wh_config *c, const uint8_t *body, size_t n, kt_buf *out, wh_result *r)
{
    memset(r, 0, sizeof *r);
    if (n > c->max_body) {
        kt_fail(KT_ERR_TOO_LARGE, "request body of %zu bytes is over the limit of %zu", n,
                c->max_body);
        return plain(out, r, WH_TOO_LARGE, 413);
    }
    json_error_t err;
    json_t *root = json_loadb((const char *)body, n, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        char e[160];
        copy(e, sizeof e, err.text);
        kt_fail(KT_ERR_MALFORMED, "request is not JSON: %s (line %d, column %d)", e, err.line,
                err.column);
        return plain(out, r, WH_MALFORMED, 400);
    }
    unsigned code = review(c, root, out, r);
    json_decref(root);
    return code;
}
