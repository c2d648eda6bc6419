/* What the webhook does to a pod: every container (and init container) that asks for EPC
 * gets the enclave resource; the container the quote-provider annotation names gets the
 * provision resource (in-process quoting); with the annotation "aesmd" every such
 * container gets the AESM socket (out-of-process quoting). Nothing else gets provision or
 * AESM: a pod asking for provision the annotation does not give is refused. Every
 * operation is an "add" that only happens when its target is missing, so a pod mutated
 * once comes back unchanged (reinvocationPolicy: IfNeeded). */
#include "review.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define QUOTE_PROVIDER "sgx.intel.com/quote-provider"
#define AESMD "aesmd"
#define EPC_GRANT "kubetee.io/epc-grant-bytes"
#define AESM_VOLUME "aesmd-socket"
#define AESM_PATH "/var/run/aesmd"
#define AESM_ENV "SGX_AESM_ADDR"
#define MAX_CONTAINERS 256

static const char *const lists[] = {"containers", "initContainers"};

typedef struct {
    json_t *obj;
    const char *list, *name;
    size_t index;
    bool epc, provision;
} container;

kt_status wh_pointer_append(char *path, size_t cap, const char *token)
{
    size_t at = strlen(path);
    if (at + 1 >= cap) return kt_fail(KT_ERR_TOO_LARGE, "JSON pointer too long");
    path[at++] = '/';
    for (const char *p = token; *p; p++) {
        const char *rep = *p == '~' ? "~0" : *p == '/' ? "~1" : NULL;
        size_t k = rep ? 2 : 1;
        if (at + k >= cap) return kt_fail(KT_ERR_TOO_LARGE, "JSON pointer too long");
        memcpy(path + at, rep ? rep : p, k);
        at += k;
    }
    path[at] = '\0';
    return KT_OK;
}

static char *esc(const char *s, char *buf, size_t cap)
{
    return kt_escape(s, strlen(s), buf, cap);
}

/* A member that may be missing or null (both: absent) but, when there, is of one type. */
static kt_status member(json_t *obj, const char *key, json_type type, const char *where,
                        json_t **out)
{
    json_t *v = json_object_get(obj, key);
    *out = v && !json_is_null(v) ? v : NULL;
    if (*out && json_typeof(v) != type)
        return kt_fail(KT_ERR_MALFORMED, "%s.%s is not %s", where, key,
                       type == JSON_OBJECT  ? "an object"
                       : type == JSON_ARRAY ? "an array"
                                            : "a string");
    return KT_OK;
}

/* A Kubernetes quantity: [+]digits[.digits] then a binary or decimal suffix or an exponent.
 * 1 when over zero, 0 when zero, -1 when it is no quantity (or negative). */
static int quantity(json_t *v)
{
    if (json_is_integer(v)) return json_integer_value(v) < 0 ? -1 : json_integer_value(v) > 0;
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 64) return -1;
    const char *s = json_string_value(v);
    if (*s == '+') s++;
    bool nonzero = false;
    size_t digits = 0;
    for (bool dot = false; (*s >= '0' && *s <= '9') || (*s == '.' && !dot); s++) {
        dot |= *s == '.';
        digits += *s != '.';
        nonzero |= *s > '0';
    }
    if (!digits) return -1;
    static const char *const suffixes[] = {"",  "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u",
                                           "m", "k",  "M",  "G",  "T",  "P",  "E"};
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++)
        if (!strcmp(s, suffixes[i])) return nonzero;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-') s++;
        if (!*s) return -1;
        for (; *s; s++)
            if (*s < '0' || *s > '9') return -1;
        return nonzero;
    }
    return -1;
}

/* Whether one of names is over zero in resources.limits or resources.requests. */
static kt_status asks(json_t *c, const char *where, const char (*names)[WH_NAME], size_t n,
                      bool *out)
{
    *out = false;
    json_t *res;
    kt_status st = member(c, "resources", JSON_OBJECT, where, &res);
    for (int s = 0; !st && res && s < 2; s++) {
        const char *sect = s ? "requests" : "limits";
        json_t *m;
        char sub[400];
        snprintf(sub, sizeof sub, "%s.resources", where);
        if ((st = member(res, sect, JSON_OBJECT, sub, &m)) || !m) continue;
        for (size_t i = 0; i < n; i++) {
            json_t *q = json_object_get(m, names[i]);
            if (!q) continue;
            int k = quantity(q);
            if (k < 0) {
                char e[96];
                return kt_fail(KT_ERR_MALFORMED, "%s.resources.%s[%s] is not a Kubernetes quantity",
                               where, sect, esc(names[i], e, sizeof e));
            }
            *out |= k > 0;
        }
    }
    return st;
}

static kt_status add(json_t *ops, const char *path, json_t *value)
{
    json_t *op = value ? json_pack("{s:s,s:s,s:o}", "op", "add", "path", path, "value", value)
                       : NULL;
    if (!op || json_array_append_new(ops, op))
        return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    return KT_OK;
}

/* The resources to add, each "1", in limits and requests where missing. */
static kt_status add_resources(json_t *ops, container *k, const char *base, const char **names,
                               size_t n)
{
    json_t *res = json_object_get(k->obj, "resources");
    char path[1024];
    if (!res || json_is_null(res)) {
        json_t *l = json_object(), *r = json_object();
        for (size_t i = 0; i < n; i++) {
            json_object_set_new(l, names[i], json_string("1"));
            json_object_set_new(r, names[i], json_string("1"));
        }
        snprintf(path, sizeof path, "%s/resources", base);
        return add(ops, path, json_pack("{s:o,s:o}", "limits", l, "requests", r));
    }
    for (int s = 0; s < 2; s++) {
        const char *sect = s ? "requests" : "limits";
        json_t *m = json_object_get(res, sect);
        snprintf(path, sizeof path, "%s/resources/%s", base, sect);
        if (!m || json_is_null(m)) {
            json_t *o = json_object();
            for (size_t i = 0; i < n; i++) json_object_set_new(o, names[i], json_string("1"));
            kt_status st = add(ops, path, o);
            if (st) return st;
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            if (json_object_get(m, names[i])) continue; /* the pod's own value stays */
            char p[1024];
            snprintf(p, sizeof p, "%s", path);
            kt_status st = wh_pointer_append(p, sizeof p, names[i]);
            if (!st) st = add(ops, p, json_string("1"));
            if (st) return st;
        }
    }
    return KT_OK;
}

/* Appends item to the array at base/key (made when missing) unless one of its members
 * already has field == value. */
static kt_status add_unless(json_t *ops, json_t *obj, const char *base, const char *key,
                            const char *field, const char *value, json_t *item)
{
    json_t *arr = json_object_get(obj, key);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", base, key);
    if (!arr || json_is_null(arr)) return add(ops, path, json_pack("[o]", item));
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        const char *v = json_string_value(json_object_get(e, field));
        if (v && !strcmp(v, value)) {
            json_decref(item);
            return KT_OK;
        }
    }
    strcat(path, "/-");
    return add(ops, path, item);
}

static kt_status collect(const wh_config *c, json_t *spec, container *ks, size_t *nk)
{
    *nk = 0;
    for (int l = 0; l < 2; l++) {
        json_t *arr;
        kt_status st = member(spec, lists[l], JSON_ARRAY, "spec", &arr);
        if (st) return st;
        size_t i;
        json_t *obj;
        json_array_foreach(arr, i, obj)
        {
            char where[80];
            snprintf(where, sizeof where, "spec.%s[%zu]", lists[l], i);
            if (!json_is_object(obj)) return kt_fail(KT_ERR_MALFORMED, "%s is not an object", where);
            if (*nk == MAX_CONTAINERS)
                return kt_fail(KT_ERR_TOO_LARGE, "more than %d containers", MAX_CONTAINERS);
            json_t *name;
            if ((st = member(obj, "name", JSON_STRING, where, &name))) return st;
            container *k = &ks[(*nk)++];
            *k = (container){obj, lists[l], name ? json_string_value(name) : "", i, 0, 0};
            const char(*prov)[WH_NAME] = &c->provision;
            if ((st = asks(obj, where, c->epc, c->n_epc, &k->epc)) ||
                (c->provision[0] && (st = asks(obj, where, prov, 1, &k->provision))))
                return st;
        }
    }
    return KT_OK;
}

/* The annotation against the containers: who may have provision, whether AESM is asked. */
static kt_status check(const wh_config *c, const char *qp, container *ks, size_t nk,
                       wh_reason *reason)
{
    char e1[96], e2[96];
    size_t nepc = 0;
    bool named = false;
    for (size_t i = 0; i < nk; i++) {
        nepc += ks[i].epc;
        named |= qp && ks[i].epc && !strcmp(ks[i].name, qp);
    }
    for (size_t i = 0; i < nk; i++) {
        if (!ks[i].provision || (qp && !strcmp(ks[i].name, qp))) continue;
        *reason = WH_PROVISION;
        return kt_fail(KT_ERR_DENIED,
                       "container '%s' (spec.%s[%zu]) asks for %s, which only the container the "
                       "pod's " QUOTE_PROVIDER " annotation names gets (in-process quoting)%s",
                       esc(ks[i].name, e1, sizeof e1), ks[i].list, ks[i].index,
                       esc(c->provision, e2, sizeof e2),
                       qp ? "" : "; the pod has no such annotation");
    }
    if (!qp) return KT_OK;
    *reason = WH_QUOTE_PROVIDER;
    if (!nepc)
        return kt_fail(KT_ERR_DENIED,
                       "the pod's " QUOTE_PROVIDER " annotation is '%s' but no container asks for "
                       "EPC (%s%s)",
                       esc(qp, e1, sizeof e1), esc(c->epc[0], e2, sizeof e2),
                       c->n_epc > 1 ? " or another configured EPC resource" : "");
    if (strcmp(qp, AESMD) && !named)
        return kt_fail(KT_ERR_DENIED,
                       "the pod's " QUOTE_PROVIDER " annotation is '%s', which is neither '" AESMD
                       "' nor the name of a container asking for EPC",
                       esc(qp, e1, sizeof e1));
    return KT_OK;
}

kt_status wh_mutate(const wh_config *c, json_t *pod, json_t *ops, wh_reason *reason)
{
    *reason = WH_BAD_POD;
    if (!json_is_object(pod)) return kt_fail(KT_ERR_MALFORMED, "request.object is not an object");
    json_t *meta, *ann = NULL, *spec, *qpv = NULL;
    kt_status st = member(pod, "metadata", JSON_OBJECT, "object", &meta);
    if (!st && meta) st = member(meta, "annotations", JSON_OBJECT, "metadata", &ann);
    if (!st && ann) st = member(ann, QUOTE_PROVIDER, JSON_STRING, "metadata.annotations", &qpv);
    /* the device plugin's grant, which the EPC limit hook reads from the OCI config: a
     * pod that sets it itself could choose its own EPC limit */
    if (!st && ann && json_object_get(ann, EPC_GRANT)) {
        *reason = WH_RESERVED;
        return kt_fail(KT_ERR_DENIED, "the pod sets the annotation " EPC_GRANT ", which only "
                       "the device plugin may set (the EPC limit hook reads it)");
    }
    if (!st) st = member(pod, "spec", JSON_OBJECT, "object", &spec);
    if (!st && !spec) st = kt_fail(KT_ERR_MALFORMED, "the pod has no spec");
    if (st) return st;
    const char *qp = qpv ? json_string_value(qpv) : NULL;
    container ks[MAX_CONTAINERS];
    size_t nk;
    if ((st = collect(c, spec, ks, &nk)) || (st = check(c, qp, ks, nk, reason))) return st;
    bool aesm = qp && !strcmp(qp, AESMD), any = false, sidecar = false;
    size_t nepc = 0;
    for (size_t i = 0; i < nk; i++) {
        nepc += ks[i].epc;
        sidecar |= aesm && ks[i].epc && !strcmp(ks[i].name, AESMD);
    }
    /* Intel's sidecar: a container named aesmd beside others asking for EPC serves them
     * its socket through an in-memory emptyDir; it writes there, they only read */
    sidecar &= nepc >= 2;
    bool volume = aesm && (sidecar || !c->aesm_resource), resource = aesm && !volume;
    for (size_t i = 0; i < nk; i++) {
        container *k = &ks[i];
        if (!k->epc) continue;
        any = true;
        char base[128];
        snprintf(base, sizeof base, "/spec/%s/%zu", k->list, k->index);
        const char *names[3];
        size_t n = 0;
        if (c->enclave[0]) names[n++] = c->enclave;
        if (qp && !strcmp(k->name, qp)) names[n++] = c->provision;
        if (resource) names[n++] = c->aesm;
        if (n && (st = add_resources(ops, k, base, names, n))) return st;
        if (!volume) continue;
        bool writer = sidecar && !strcmp(k->name, AESMD);
        json_t *m, *e;
        if ((st = member(k->obj, "volumeMounts", JSON_ARRAY, base, &m)) ||
            (st = member(k->obj, "env", JSON_ARRAY, base, &e)))
            return st;
        if ((st = add_unless(ops, k->obj, base, "volumeMounts", "mountPath", AESM_PATH,
                             json_pack("{s:s,s:s,s:b}", "name", AESM_VOLUME, "mountPath",
                                       AESM_PATH, "readOnly", !writer))) ||
            (st = add_unless(ops, k->obj, base, "env", "name", AESM_ENV,
                             json_pack("{s:s,s:s}", "name", AESM_ENV, "value", "1"))))
            return st;
    }
    if (any && volume) {
        json_t *v;
        if ((st = member(spec, "volumes", JSON_ARRAY, "spec", &v))) return st;
        json_t *vol = sidecar ? json_pack("{s:s,s:{s:s}}", "name", AESM_VOLUME, "emptyDir",
                                          "medium", "Memory")
                              : json_pack("{s:s,s:{s:s,s:s}}", "name", AESM_VOLUME, "hostPath",
                                          "path", c->aesm_dir, "type", "Directory");
        st = add_unless(ops, spec, "/spec", "volumes", "name", AESM_VOLUME, vol);
    }
    *reason = WH_OK;
    return st;
}
