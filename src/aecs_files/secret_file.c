/* The SecretPolicy reader: `apiVersion: v1`, `kind: SecretPolicy`, `secrets: [{spec,
 * data}]`. Every refusal names the secret (its index and name), the key and the line. */
#include "internal.h"

#include <kubetee/aecs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    kt_aecs_secret_type type;
} types[] = {
    {"SECRET_TYPE_RSA_KEY_PAIR", KT_AECS_RSA_KEY_PAIR},
    {"SECRET_TYPE_AES256_KEY", KT_AECS_AES256_KEY},
    {"SECRET_TYPE_IMPORT_DATA", KT_AECS_IMPORT_DATA},
    {"SECRET_TYPE_CERTIFICATE", KT_AECS_CERTIFICATE},
    {"SECRET_TYPE_SM2_KEY_PAIR", KT_AECS_SM2_KEY_PAIR},
    {"SECRET_TYPE_CONFIGURATIONS", KT_AECS_CONFIGURATIONS},
    {"SECRET_TYPE_EC_P256_KEY_PAIR", KT_AECS_EC_P256_KEY_PAIR},
};

const char *kt_aecs_secret_type_name(kt_aecs_secret_type t)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (types[i].type == t) return types[i].name;
    return NULL;
}

static const char *const binding_names[] = {NULL, "bound", "never-export", "unbound"};

const char *kt_aecs_binding_name(kt_aecs_binding b)
{
    return b >= KT_AECS_BOUND && b <= KT_AECS_UNBOUND ? binding_names[b] : NULL;
}

static bool is_key_type(kt_aecs_secret_type t)
{
    return t == KT_AECS_RSA_KEY_PAIR || t == KT_AECS_AES256_KEY || t == KT_AECS_SM2_KEY_PAIR ||
           t == KT_AECS_CERTIFICATE || t == KT_AECS_EC_P256_KEY_PAIR;
}

static bool has_public_part(kt_aecs_secret_type t)
{
    return t == KT_AECS_RSA_KEY_PAIR || t == KT_AECS_SM2_KEY_PAIR || t == KT_AECS_CERTIFICATE ||
           t == KT_AECS_EC_P256_KEY_PAIR;
}

static bool takes_data(kt_aecs_secret_type t)
{
    return t == KT_AECS_IMPORT_DATA || t == KT_AECS_CONFIGURATIONS;
}

static kt_status parse_type(const kt_y *v, const char *where, kt_aecs_secret_type *out)
{
    kt_status st = af_scalar(v, where, "type");
    if (st) return st;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(types[i].name, v->text)) {
            *out = types[i].type;
            return KT_OK;
        }
    char e[64];
    return kt_fail(KT_ERR_MALFORMED,
                   "%s: type '%s' is not one of SECRET_TYPE_RSA_KEY_PAIR, SECRET_TYPE_AES256_KEY, "
                   "SECRET_TYPE_IMPORT_DATA, SECRET_TYPE_CERTIFICATE, SECRET_TYPE_SM2_KEY_PAIR, "
                   "SECRET_TYPE_CONFIGURATIONS, SECRET_TYPE_EC_P256_KEY_PAIR (line %zu)",
                   where, af_esc(v->text, e, sizeof e), v->line);
}

static kt_status parse_name(const kt_y *v, const char *where, const char *key,
                            kt_aecs_name_kind kind, char *out, size_t cap)
{
    kt_status st = af_scalar(v, where, key);
    if (st) return st;
    if (kt_aecs_name_check(kind, v->text, strlen(v->text))) {
        char e[80];
        return kt_fail_context(KT_ERR_MALFORMED, "%s: %s '%s' (line %zu)", where, key,
                               af_esc(v->text, e, sizeof e), v->line);
    }
    return af_string(v, where, key, out, cap);
}

/* A decimal parameter value out of an allowed set, or within [lo, hi]. */
static kt_status param_number(const kt_y *v, const char *where, const char *key, unsigned lo,
                              unsigned hi, const unsigned *set, size_t set_n, unsigned *out)
{
    uint64_t x;
    char e[64];
    if (kt_decimal_parse(v->text, 1000000, &x))
        return kt_fail_context(KT_ERR_MALFORMED, "%s: param %s '%s' (line %zu)", where, key,
                               af_esc(v->text, e, sizeof e), v->line);
    if (set_n) {
        for (size_t i = 0; i < set_n; i++)
            if (x == set[i]) {
                *out = (unsigned)x;
                return KT_OK;
            }
        char list[64] = "";
        for (size_t i = 0, at = 0; i < set_n && at < sizeof list; i++)
            at += (size_t)snprintf(list + at, sizeof list - at, "%s%u", i ? ", " : "", set[i]);
        return kt_fail(KT_ERR_MALFORMED, "%s: param %s %s is not one of %s (line %zu)", where, key,
                       v->text, list, v->line);
    }
    if (x < lo || x > hi)
        return kt_fail(KT_ERR_MALFORMED, "%s: param %s %s is outside %u..%u (line %zu)", where, key,
                       v->text, lo, hi, v->line);
    *out = (unsigned)x;
    return KT_OK;
}

static kt_status subject_check(const kt_y *v, const char *where)
{
    for (const char *c = v->text; *c; c++)
        if (*c < 0x20 || *c > 0x7e) {
            char e[80];
            return kt_fail(KT_ERR_MALFORMED,
                           "%s: param subject '%s' must be printable ASCII (line %zu)", where,
                           af_esc(v->text, e, sizeof e), v->line);
        }
    return KT_OK;
}

/* A param whose value is one of a list: *out points at the list's word. */
static kt_status param_word(const kt_y *v, const char *where, const char *key,
                            const char *const *words, const char **out)
{
    for (size_t i = 0; words[i]; i++)
        if (!strcmp(v->text, words[i])) {
            *out = words[i];
            return KT_OK;
        }
    char e[64];
    return kt_fail(KT_ERR_MALFORMED, "%s: param %s '%s' is not %s or %s (line %zu)", where, key,
                   af_esc(v->text, e, sizeof e), words[0], words[1], v->line);
}

static kt_status parse_param(const kt_y *key, const kt_y *v, const char *where,
                             kt_aecs_secret_spec *s, kt_aecs_config *cfg)
{
    static const unsigned rsa_bits[] = {2048, 3072, 4096}, aes_bits[] = {256};
    static const char *const pkcs[] = {"pkcs1", "pkcs8", NULL}, *const issuers[] = {"self-signed", "service-ca", NULL},
                             *const paddings[] = {"pss", "pkcs1", NULL}, *const wraps[] = {"kwp", "gcm", NULL};
    const char *k = key->text;
    const char *tn = kt_aecs_secret_type_name(s->type);
    bool rsa = s->type == KT_AECS_RSA_KEY_PAIR, aes = s->type == KT_AECS_AES256_KEY,
         cert = s->type == KT_AECS_CERTIFICATE, p256 = s->type == KT_AECS_EC_P256_KEY_PAIR;
    kt_status st = af_scalar(v, where, k);
    if (st) return st;
    if (s->type == KT_AECS_CONFIGURATIONS) { /* the original's configurations: every param is one */
        st = kt_aecs_config_add(cfg, k, strlen(k), v->text, strlen(v->text));
        return st ? kt_fail_context(KT_ERR_MALFORMED, "%s (line %zu)", where, key->line) : KT_OK;
    }
    if (!strcmp(k, "bit_length") && rsa)
        return param_number(v, where, k, 0, 0, rsa_bits, 3, &s->bit_length);
    if (!strcmp(k, "bit_length") && aes)
        return param_number(v, where, k, 0, 0, aes_bits, 1, &s->bit_length);
    if (!strcmp(k, "days") && cert) return param_number(v, where, k, 1, 3650, NULL, 0, &s->days);
    if (!strcmp(k, "pkcs_type") && (rsa || p256)) {
        const char *w = NULL;
        if ((st = param_word(v, where, k, pkcs, &w))) return st;
        if (p256 && !strcmp(w, "pkcs1"))
            return kt_fail(KT_ERR_MALFORMED, "%s: param pkcs_type: a P-256 key is pkcs8 (line %zu)",
                           where, v->line);
        s->pkcs = !strcmp(w, "pkcs1") ? KT_AECS_PKCS1 : KT_AECS_PKCS8;
        return KT_OK;
    }
    if (!strcmp(k, "subject") && cert) {
        if ((st = subject_check(v, where))) return st;
        return af_string(v, where, "param subject", s->subject, sizeof s->subject);
    }
    if (!strcmp(k, "san") && cert) {
        if ((st = kt_cert_san_check(v->text)))
            return kt_fail_context(KT_ERR_MALFORMED, "%s: param san (line %zu)", where, v->line);
        return af_string(v, where, "param san", s->san, sizeof s->san);
    }
    if (!strcmp(k, "issuer") && cert) return param_word(v, where, k, issuers, &s->issuer);
    /* padding and wrap: whether the secret is never-export is checked once its policy is read */
    if (!strcmp(k, "padding") && rsa) return param_word(v, where, k, paddings, &s->padding);
    if (!strcmp(k, "wrap") && aes) return param_word(v, where, k, wraps, &s->wrap);
    char e[64];
    static const char *const all[] = {"bit_length", "pkcs_type", "days",    "subject", "san",
                                      "issuer",     "padding",   "wrap",    NULL};
    for (size_t i = 0; all[i]; i++)
        if (!strcmp(k, all[i]))
            return kt_fail(KT_ERR_MALFORMED, "%s: param %s does not apply to %s (line %zu)", where,
                           k, tn, key->line);
    return kt_fail(KT_ERR_MALFORMED,
                   "%s: unknown param '%s' (params are bit_length, pkcs_type, days, subject, san, "
                   "issuer, padding, wrap) (line %zu)",
                   where, af_esc(k, e, sizeof e), key->line);
}

static kt_status parse_params(const kt_y *seq, const char *where, kt_aecs_secret_spec *s,
                              kt_aecs_config *cfg)
{
    static const char *const keys[] = {"key", "value", NULL};
    if (seq->kind != KT_Y_SEQ)
        return kt_fail(KT_ERR_MALFORMED, "%s: params must be a list of {key, value} (line %zu)",
                       where, seq->line);
    for (size_t i = 0; i < seq->count; i++) {
        const kt_y *p = seq->items[i];
        char pw[160];
        snprintf(pw, sizeof pw, "%s: param %zu", where, i + 1);
        kt_status st = af_keys(p, pw, keys);
        if (st) return st;
        const kt_y *k = kt_yaml_get(p, "key"), *v = kt_yaml_get(p, "value");
        if (!k || !v)
            return kt_fail(KT_ERR_MALFORMED, "%s: needs both key and value (line %zu)", pw,
                           p->line);
        if ((st = af_scalar(k, pw, "key"))) return st;
        for (size_t j = 0; j < i; j++) {
            const kt_y *other = kt_yaml_get(seq->items[j], "key");
            if (!strcmp(other->text, k->text)) {
                char e[64];
                return kt_fail(KT_ERR_MALFORMED,
                               "%s: param '%s' is given twice (lines %zu and %zu)", where,
                               af_esc(k->text, e, sizeof e), other->line, k->line);
            }
        }
        if ((st = parse_param(k, v, where, s, cfg))) return st;
    }
    return KT_OK;
}

/* Rules that name an spid: accepted (the original's files carry it) and reported. */
static kt_status note_spids(const kt_y *rules, const char *where, kt_buf *notes)
{
    for (size_t i = 0; i < rules->count; i++) {
        const kt_y *spid = kt_yaml_get(rules->items[i], "spid");
        if (spid && spid->kind == KT_Y_SCALAR && spid->text[0]) {
            kt_status st = af_note(notes, spid->line,
                                   "%s: rule %zu: spid is ignored: it is for EPID attestation, "
                                   "which is gone (DCAP quotes carry no SPID)",
                                   where, i + 1);
            if (st) return st;
        }
    }
    return KT_OK;
}

static kt_status parse_policy(const kt_y *pol, const char *where, kt_aecs_secret_spec *s,
                              kt_buf *notes)
{
    static const char *const own[] = {"type", "allowAnyEnclave", NULL};
    static const char *const keys[] = {"type",  "allowAnyEnclave",  "enclaveMatchAnyRules",
                                       "rules", "allow_simulation", "accepted_tcb_status",
                                       NULL};
    char pw[160];
    snprintf(pw, sizeof pw, "%s: policy", where);
    kt_status st = af_keys(pol, pw, keys);
    if (st) return st;
    const kt_y *t = kt_yaml_get(pol, "type"), *any = kt_yaml_get(pol, "allowAnyEnclave");
    const kt_y *rules = kt_yaml_get(pol, "enclaveMatchAnyRules");
    if (!rules) rules = kt_yaml_get(pol, "rules");
    s->binding = KT_AECS_BOUND;
    if (t) {
        if ((st = af_scalar(t, pw, "type"))) return st;
        size_t b = KT_AECS_BOUND;
        while (b <= KT_AECS_UNBOUND && strcmp(binding_names[b], t->text))
            b++;
        if (b > KT_AECS_UNBOUND) {
            char e[64];
            return kt_fail(KT_ERR_MALFORMED,
                           "%s: type '%s' is not bound, unbound or never-export (line %zu)", pw,
                           af_esc(t->text, e, sizeof e), t->line);
        }
        s->binding = (kt_aecs_binding)b;
    }
    if (any && (st = af_bool(any, pw, "allowAnyEnclave", &s->any_identity))) return st;
    if (s->binding == KT_AECS_NEVER_EXPORT && !is_key_type(s->type))
        return kt_fail(KT_ERR_MALFORMED,
                       "%s: type never-export is for keys; %s has nothing to use in place "
                       "(line %zu)",
                       pw, kt_aecs_secret_type_name(s->type), t->line);
    if (s->binding == KT_AECS_UNBOUND) {
        /* no enclave gets an unbound secret: rules there would only mislead */
        for (size_t i = 0; i < pol->count; i += 2)
            if (strcmp(pol->items[i]->text, "type") &&
                !(rules && pol->items[i + 1] == rules && rules->kind == KT_Y_SEQ && !rules->count))
                return kt_fail(KT_ERR_MALFORMED,
                               "%s: type unbound admits no enclave, so it takes no %s (line %zu)",
                               pw, pol->items[i]->text, pol->items[i]->line);
        s->no_one = true;
        return KT_OK;
    }
    if (rules && rules->kind == KT_Y_SEQ && rules->count == 0) {
        for (size_t i = 0; i < pol->count; i += 2)
            if (pol->items[i + 1] != rules && pol->items[i + 1] != t)
                return kt_fail(KT_ERR_MALFORMED,
                               "%s: enclaveMatchAnyRules is empty (no enclave is admitted), so "
                               "%s means nothing (line %zu)",
                               pw, pol->items[i]->text, pol->items[i]->line);
        s->no_one = true;
        return af_note(notes, rules->line,
                       "%s: enclaveMatchAnyRules is empty: no enclave may %s this secret", where,
                       s->binding == KT_AECS_NEVER_EXPORT ? "use" : "read");
    }
    if (rules && rules->kind == KT_Y_SEQ && (st = note_spids(rules, where, notes))) return st;
    kt_policy_options o = {.allow_any_identity = s->any_identity,
                           .any_identity_key = "policy.allowAnyEnclave: true",
                           .ignore_spid = true,
                           .own_keys = own};
    if ((st = kt_policy_from_tree(pol, &o, &s->policy))) return kt_fail_context(st, "%s", where);
    return KT_OK;
}

/* The pairs as the original's JSON, NUL-terminated (len counts only the JSON). */
static kt_status config_data(const kt_aecs_config *cfg, kt_buf *data)
{
    kt_status st = kt_aecs_config_to_json(cfg, data);
    if (!st) st = kt_buf_append(data, "", 1);
    if (!st) data->len--;
    return st;
}

static kt_status parse_data(const kt_y *d, const char *where, kt_aecs_secret_spec *s,
                           kt_aecs_config *cfg)
{
    const char *tn = kt_aecs_secret_type_name(s->type);
    bool config = s->type == KT_AECS_CONFIGURATIONS;
    if (!takes_data(s->type)) {
        if (!d) return KT_OK;
        return kt_fail(KT_ERR_MALFORMED,
                       "%s: data is for SECRET_TYPE_IMPORT_DATA and SECRET_TYPE_CONFIGURATIONS; "
                       "AECS generates a %s itself (line %zu)",
                       where, tn, d->line);
    }
    if (config && d && cfg->count)
        return kt_fail(KT_ERR_MALFORMED,
                       "%s: configurations come from params or from data, not both (line %zu)", where,
                       d->line);
    if (config && !d) {
        if (!cfg->count)
            return kt_fail(KT_ERR_MALFORMED,
                           "%s: %s needs its key-value pairs, as params or as data", where, tn);
        return config_data(cfg, &s->data);
    }
    if (!d) return kt_fail(KT_ERR_MALFORMED, "%s: %s needs data", where, tn);
    kt_status st = af_scalar(d, where, "data");
    if (st) return st;
    size_t n = strlen(d->text);
    if (n == 0) return kt_fail(KT_ERR_MALFORMED, "%s: data is empty (line %zu)", where, d->line);
    if (n > KT_AECS_DATA_MAX)
        return kt_fail(KT_ERR_TOO_LARGE, "%s: data is %zu bytes, at most %d (line %zu)", where, n,
                       KT_AECS_DATA_MAX, d->line);
    if (config) { /* the original's JSON or key=value lines, kept as the original's JSON */
        if ((st = kt_aecs_config_parse((const uint8_t *)d->text, n, cfg)))
            return kt_fail_context(KT_ERR_MALFORMED, "%s: data (line %zu)", where, d->line);
        return config_data(cfg, &s->data);
    }
    /* NUL-terminated for readers that want text; len counts only the data */
    if ((st = kt_buf_append(&s->data, d->text, n + 1))) return st;
    s->data.len = n;
    return KT_OK;
}

/* padding and wrap choose how a never-export key is used: elsewhere they would mislead */
static kt_status use_params_check(const kt_aecs_secret_spec *s, const char *where)
{
    if ((s->padding || s->wrap) && s->binding != KT_AECS_NEVER_EXPORT)
        return kt_fail(KT_ERR_MALFORMED,
                       "%s: param %s is for never-export keys (policy.type: never-export), which "
                       "AECS uses in place",
                       where, s->padding ? "padding" : "wrap");
    return KT_OK;
}

static kt_status parse_rest(const kt_y *item, const kt_y *spec, const char *where,
                            kt_aecs_secret_spec *s, kt_aecs_config *cfg, kt_buf *notes);

static kt_status parse_secret(const kt_y *item, size_t idx, kt_aecs_secret_spec *s, kt_buf *notes)
{
    static const char *const top[] = {"spec", "data", NULL};
    static const char *const spec_keys[] = {"name",  "type",   "service", "readonly",
                                            "share", "params", "policy",  NULL};
    char where[160];
    snprintf(where, sizeof where, "secret %zu (line %zu)", idx, item->line);
    s->line = item->line;
    kt_status st = af_keys(item, where, top);
    if (st) return st;
    const kt_y *spec = kt_yaml_get(item, "spec");
    if (!spec) return kt_fail(KT_ERR_MALFORMED, "%s: no spec", where);
    if ((st = af_keys(spec, where, spec_keys))) return st;
    const kt_y *name = kt_yaml_get(spec, "name"), *type = kt_yaml_get(spec, "type"),
               *svc = kt_yaml_get(spec, "service");
    if (!name) return kt_fail(KT_ERR_MALFORMED, "%s: spec has no name", where);
    if ((st = parse_name(name, where, "name", KT_AECS_NAME_SECRET, s->name, sizeof s->name)))
        return st;
    snprintf(where, sizeof where, "secret %zu '%s' (line %zu)", idx, s->name, item->line);
    if (!type) return kt_fail(KT_ERR_MALFORMED, "%s: spec has no type", where);
    if ((st = parse_type(type, where, &s->type))) return st;
    if (!svc) return kt_fail(KT_ERR_MALFORMED, "%s: spec has no service", where);
    if ((st = parse_name(svc, where, "service", KT_AECS_NAME_SERVICE, s->service,
                         sizeof s->service)))
        return st;
    const kt_y *ro = kt_yaml_get(spec, "readonly"), *share = kt_yaml_get(spec, "share");
    if (ro && (st = af_bool(ro, where, "readonly", &s->readonly))) return st;
    if (share) {
        if ((st = af_scalar(share, where, "share"))) return st;
        char e[64];
        if (!strcmp(share->text, "public"))
            s->share_public = true;
        else if (strcmp(share->text, "private"))
            return kt_fail(KT_ERR_MALFORMED, "%s: share '%s' is not public or private (line %zu)",
                           where, af_esc(share->text, e, sizeof e), share->line);
        if (s->share_public && !has_public_part(s->type))
            return kt_fail(KT_ERR_MALFORMED,
                           "%s: share: public is for key pairs and certificates; a %s has no "
                           "public part, so it would publish the secret itself (line %zu)",
                           where, kt_aecs_secret_type_name(s->type), share->line);
    }
    if (s->type == KT_AECS_RSA_KEY_PAIR) {
        s->bit_length = 3072;
        s->pkcs = KT_AECS_PKCS8;
    } else if (s->type == KT_AECS_AES256_KEY) {
        s->bit_length = 256;
    } else if (s->type == KT_AECS_CERTIFICATE) {
        s->days = 365;
        s->issuer = "self-signed";
    } else if (s->type == KT_AECS_EC_P256_KEY_PAIR) {
        s->pkcs = KT_AECS_PKCS8;
    }
    const kt_y *params = kt_yaml_get(spec, "params");
    kt_aecs_config cfg = {0};
    st = params ? parse_params(params, where, s, &cfg) : KT_OK;
    if (!st) st = parse_rest(item, spec, where, s, &cfg, notes);
    kt_aecs_config_free(&cfg);
    return st;
}

static kt_status parse_rest(const kt_y *item, const kt_y *spec, const char *where,
                            kt_aecs_secret_spec *s, kt_aecs_config *cfg, kt_buf *notes)
{
    kt_status st;
    const kt_y *pol = kt_yaml_get(spec, "policy");
    if (!pol)
        return kt_fail(KT_ERR_MALFORMED,
                       "%s: spec has no policy: say which enclaves may read it "
                       "(policy.enclaveMatchAnyRules), or that none may (policy.type: unbound)",
                       where);
    if ((st = parse_policy(pol, where, s, notes))) return st;
    if (s->binding == KT_AECS_NEVER_EXPORT && s->type == KT_AECS_RSA_KEY_PAIR && !s->padding)
        s->padding = "pss";
    if (s->binding == KT_AECS_NEVER_EXPORT && s->type == KT_AECS_AES256_KEY && !s->wrap)
        s->wrap = "kwp";
    if ((st = use_params_check(s, where))) return st;
    return parse_data(kt_yaml_get(item, "data"), where, s, cfg);
}

static kt_status check_envelope(const kt_y *doc)
{
    static const char *const top[] = {"apiVersion", "kind", "secrets", NULL};
    kt_status st = af_envelope(doc, "SecretPolicy", top);
    if (st) return st;
    const kt_y *secrets = kt_yaml_get(doc, "secrets");
    if (!secrets) return kt_fail(KT_ERR_MALFORMED, "SecretPolicy: no secrets");
    if (secrets->kind != KT_Y_SEQ || secrets->count == 0)
        return kt_fail(KT_ERR_MALFORMED,
                       "SecretPolicy: secrets must be a non-empty list (line %zu)", secrets->line);
    if (secrets->count > KT_AECS_SECRETS_MAX)
        return kt_fail(KT_ERR_TOO_LARGE, "SecretPolicy: %zu secrets, at most %d in one file",
                       secrets->count, KT_AECS_SECRETS_MAX);
    return KT_OK;
}

static kt_status parse_doc(const kt_y *doc, kt_aecs_secret_file *f)
{
    kt_status st = check_envelope(doc);
    if (st) return st;
    const kt_y *secrets = kt_yaml_get(doc, "secrets");
    if (!(f->secrets = calloc(secrets->count, sizeof *f->secrets)))
        return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < secrets->count; i++) {
        kt_aecs_secret_spec *s = &f->secrets[i];
        f->count++;
        if ((st = parse_secret(secrets->items[i], i + 1, s, &f->notes))) return st;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(f->secrets[j].name, s->name) && !strcmp(f->secrets[j].service, s->service))
                return kt_fail(KT_ERR_EXISTS,
                               "secret %zu '%s' (line %zu): service %s already has a secret of "
                               "that name (secret %zu, line %zu)",
                               i + 1, s->name, s->line, s->service, j + 1, f->secrets[j].line);
    }
    return KT_OK;
}

kt_status kt_aecs_secret_file_parse(const char *text, size_t n, kt_aecs_secret_file *out)
{
    if (!text || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "SecretPolicy: NULL argument");
    memset(out, 0, sizeof *out);
    if (n > AF_MAX_FILE) return kt_fail(KT_ERR_TOO_LARGE, "SecretPolicy: file over 1 MiB");
    kt_y *doc;
    kt_status st = kt_yaml_parse(text, n, &doc);
    if (st) return kt_fail_context(st, "SecretPolicy");
    st = parse_doc(doc, out);
    kt_yaml_free(doc);
    if (st) kt_aecs_secret_file_free(out);
    return st;
}

kt_status kt_aecs_secret_file_load(const char *path, kt_aecs_secret_file *out)
{
    if (!path || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "SecretPolicy: NULL argument");
    memset(out, 0, sizeof *out);
    kt_buf b = {0};
    kt_status st = kt_file_read(path, AF_MAX_FILE, &b);
    if (!st) st = kt_aecs_secret_file_parse((const char *)b.data, b.len, out);
    kt_buf_free(&b);
    return st ? kt_fail_context(st, "%s", path) : KT_OK;
}

void kt_aecs_secret_file_free(kt_aecs_secret_file *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->count; i++) {
        kt_policy_free(f->secrets[i].policy);
        kt_buf_free(&f->secrets[i].data);
    }
    free(f->secrets);
    kt_buf_free(&f->notes);
    memset(f, 0, sizeof *f);
}
