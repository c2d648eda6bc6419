/* Names and specs from callers, checked before anything is looked up: an allow-list
 * grammar, so a name is exactly one store-key segment and never a path, a prefix of
 * another name's namespace, or bytes a log would misread. */
#include "aecs.h"

#include <kubetee/aecs.h>
#include <string.h>

static bool name_byte(char c, bool first)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return !first && (c == '.' || c == '_' || c == '-');
}

kt_status ae_name_check(const char *name, size_t max, const char *what)
{
    size_t n = name ? strlen(name) : 0;
    char shown[80];
    if (n == 0) return kt_fail(KT_ERR_INVALID_ARGUMENT, "%s is empty", what);
    if (n > max)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "%s '%s' is over %zu bytes", what,
                       kt_escape(name, n, shown, sizeof shown), max);
    for (size_t i = 0; i < n; i++)
        if (!name_byte(name[i], i == 0))
            return kt_fail(KT_ERR_INVALID_ARGUMENT,
                           "%s '%s': byte %zu is not allowed (names are [A-Za-z0-9] then [A-Za-z0-9._-]; "
                           "no '/', no leading '.' or '-', no control bytes)",
                           what, kt_escape(name, n, shown, sizeof shown), i);
    return KT_OK;
}

/* Names AECS uses for itself, never a service's: "ta" is the service of every TA-bound
 * secret (ta_secrets.c), "aecs" the prefix of AECS's own objects. Compared without case,
 * so that no service reads as one of them in a list or a log. */
static const char *const reserved_services[] = {"ta", "aecs", NULL};

static bool same_letters(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if ((*a | 0x20) != *b) return false; /* b is lower case; a holds name bytes only */
    return !*a && !*b;
}

kt_status ae_service_name_new(const char *name)
{
    kt_status st = ae_name_check(name, AE_SERVICE_NAME_MAX, "service name");
    for (size_t i = 0; !st && reserved_services[i]; i++)
        if (same_letters(name, reserved_services[i]))
            st = kt_fail(KT_ERR_INVALID_ARGUMENT,
                         "service name '%s' is reserved: AECS uses '%s' itself (%s); choose another name", name,
                         reserved_services[i],
                         i == 0 ? "the service of TA-bound secrets" : "the prefix of its own objects");
    return st;
}

static const char *const param_keys[] = {"bit_length", "pkcs_type", "days", "subject", "san", "issuer",
                                         "padding", "wrap", NULL};

#define TYPE(x) KUBETEE__AECS__V1__SECRET_TYPE__SECRET_TYPE_##x

static bool known_param(const char *k)
{
    for (size_t i = 0; param_keys[i]; i++)
        if (!strcmp(param_keys[i], k)) return true;
    return false;
}

const char *ae_param(const ae_spec *s, const char *key, const char *def)
{
    for (size_t i = 0; i < s->n_params; i++)
        if (!strcmp(s->params[i]->key, key)) return s->params[i]->value;
    return def;
}

/* never-export is for keys; a use param (padding, wrap) for the key it applies to */
static bool is_key_type(int t)
{
    return t == TYPE(AES256_KEY) || t == TYPE(RSA_KEY_PAIR) || t == TYPE(SM2_KEY_PAIR) ||
           t == TYPE(EC_P256_KEY_PAIR) || t == TYPE(CERTIFICATE);
}

kt_status ae_use_spec_check(const ae_spec *s)
{
    const char *padding = ae_param(s, "padding", NULL), *wrap = ae_param(s, "wrap", NULL);
    if (s->never_export && !is_key_type(s->type))
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "secret %s: never-export is for keys (AES-256, RSA, SM2, P-256, "
                       "certificates); this type has "
                       "nothing to use in place",
                       s->name);
    if (padding && (!s->never_export || s->type != TYPE(RSA_KEY_PAIR)))
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "secret %s: param padding is for never-export RSA keys", s->name);
    if (padding && strcmp(padding, "pss") && strcmp(padding, "pkcs1"))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: padding must be pss or pkcs1", s->name);
    if (wrap && (!s->never_export || s->type != TYPE(AES256_KEY)))
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "secret %s: param wrap is for never-export AES-256 keys", s->name);
    if (wrap && strcmp(wrap, "kwp") && strcmp(wrap, "gcm"))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: wrap must be kwp or gcm", s->name);
    return KT_OK;
}

kt_status ae_spec_check(const ae_spec *s, size_t max_data, size_t data_len)
{
    kt_status st;
    if (!s) return kt_fail(KT_ERR_INVALID_ARGUMENT, "the request has no spec");
    if ((st = ae_name_check(s->service, AE_SERVICE_NAME_MAX, "service name")) ||
        (st = ae_name_check(s->name, AE_SECRET_NAME_MAX, "secret name")))
        return st;
    if (s->type < KUBETEE__AECS__V1__SECRET_TYPE__SECRET_TYPE_RSA_KEY_PAIR ||
        s->type > TYPE(EC_P256_KEY_PAIR))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: type %d is not a SECRET_TYPE_*", s->name, (int)s->type);
    if (strcmp(s->share, "") && strcmp(s->share, "public") && strcmp(s->share, "private"))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: share must be public or private", s->name);
    bool has_public = s->type == TYPE(RSA_KEY_PAIR) || s->type == TYPE(SM2_KEY_PAIR) ||
                      s->type == TYPE(EC_P256_KEY_PAIR) || s->type == TYPE(CERTIFICATE);
    if (!strcmp(s->share, "public") && !has_public)
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "secret %s: share public is for key pairs and certificates; this type has no public part, "
                       "so it would publish the secret itself",
                       s->name);
    if ((st = ae_use_spec_check(s))) return st;
    bool config = s->type == TYPE(CONFIGURATIONS);
    size_t max_params = config ? KT_AECS_CONFIG_ITEMS_MAX : AE_PARAMS_MAX;
    if (s->n_params > max_params)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: more than %zu params", s->name, max_params);
    for (size_t i = 0; i < s->n_params; i++) {
        const char *k = s->params[i]->key, *v = s->params[i]->value;
        char shown[80];
        if (config ? kt_aecs_config_key_check(k, strlen(k)) != KT_OK : !known_param(k))
            return config ? kt_fail_context(KT_ERR_INVALID_ARGUMENT, "secret %s", s->name)
                          : kt_fail(KT_ERR_INVALID_ARGUMENT,
                                    "secret %s: unknown param '%s' (bit_length, pkcs_type, days, subject, san, issuer, "
                                    "padding, wrap)", s->name,
                                    kt_escape(k, strlen(k), shown, sizeof shown));
        for (size_t j = 0; j < i; j++)
            if (!strcmp(s->params[j]->key, k))
                return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: param %s given twice", s->name, k);
        /* a configuration's values are checked as configurations (material.c) */
        if (!config && (strlen(v) > 1024 || kt_utf8_problem(v, strlen(v)) || strchr(v, '\n')))
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: param %s: at most 1024 bytes on one line", s->name, k);
    }
    if (data_len > max_data)
        return kt_fail(KT_ERR_TOO_LARGE, "secret %s: %zu bytes of data is over the limit of %zu", s->name, data_len,
                       max_data);
    for (size_t i = 0; i < s->n_policy; i++) {
        const Kubetee__Aecs__V1__Rule *r = s->policy[i];
        if ((r->mrenclave.len && r->mrenclave.len != 32) || (r->mrsigner.len && r->mrsigner.len != 32) ||
            (r->user_data.len && r->user_data.len != 64))
            return kt_fail(KT_ERR_INVALID_ARGUMENT,
                           "secret %s: rule %zu: mrenclave and mrsigner are 32 bytes, user_data 64", s->name, i);
        if (r->user_data.len)
            return kt_fail(KT_ERR_INVALID_ARGUMENT,
                           "secret %s: rule %zu sets user_data, which no TA can match: a TA's report data in its AECS "
                           "session is the session's own binding",
                           s->name, i);
        if (!r->mrenclave.len && !r->mrsigner.len && !r->any_enclave)
            return kt_fail(KT_ERR_INVALID_ARGUMENT,
                           "secret %s: rule %zu constrains neither mrenclave nor mrsigner, so it admits every "
                           "enclave on any platform; say any_enclave: true if that is meant",
                           s->name, i);
        if (r->prod_id && !r->check_prod_id)
            return kt_fail(KT_ERR_INVALID_ARGUMENT,
                           "secret %s: rule %zu gives prod_id %u but not check_prod_id, so it would admit every product; "
                           "set check_prod_id (prod_id 0 is a product id too)",
                           s->name, i, (unsigned)r->prod_id);
        if (r->prod_id > 65535 || r->min_isv_svn > 65535)
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: rule %zu: prod_id and min_isv_svn are 0..65535",
                           s->name, i);
    }
    if (s->n_policy > 64) return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: more than 64 rules", s->name);
    return KT_OK;
}
