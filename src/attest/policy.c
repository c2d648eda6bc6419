/* Policies: which verified quotes are accepted. Any rule may match; within a rule every
 * field given must match exactly. Refused unless a rule says otherwise: debug enclaves
 * and TDs, TDs bound to a service TD, simulated quotes, TCB statuses other than
 * UpToDate. The original AECS enclaveMatchAnyRules keys are accepted, with "" meaning
 * "not set"; a rule that pins no identity is refused, as are two names of one setting
 * given together. Numbers are decimal only. */
#include "internal.h"
#include <kubetee/yaml.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef kt_policy_rule rule;

struct kt_policy {
    bool allow_simulation;
    bool has_sim_root;
    uint8_t sim_root[32]; /* simulation_root: SHA-256 of the simulation root's DER */
    uint32_t accepted; /* bit per kt_tcb_status */
    rule *rules;
    size_t rule_count;
    bool is_default; /* kt_policy_default's: one rule that pins no identity */
};

static bool unset(const kt_y *v)
{
    return v->kind == KT_Y_SCALAR && v->text[0] == '\0';
}

static kt_status scalar(const kt_y *v, const char *key, size_t idx)
{
    if (v->kind != KT_Y_SCALAR)
        return kt_fail(KT_ERR_MALFORMED, "policy: rule %zu: %s must be a single value (line %zu)",
                       idx, key, v->line);
    return KT_OK;
}

static kt_status hex_field(const kt_y *v, const char *key, size_t idx, uint8_t *out, size_t len,
                           size_t alt_len, bool *has)
{
    kt_status st = scalar(v, key, idx);
    if (st || unset(v)) return st;
    size_t n = strlen(v->text);
    if (alt_len && n == 2 * alt_len) {
        memset(out, 0, len); /* a 32-byte report_data binds the first half; the rest is zero */
        st = kt_hex_decode(v->text, out, alt_len);
    } else {
        st = kt_hex_decode(v->text, out, len);
    }
    if (st)
        return kt_fail(KT_ERR_MALFORMED,
                       "policy: rule %zu: %s must be %zu bytes of hex%s (line %zu)", idx, key, len,
                       alt_len ? " (or 32)" : "", v->line);
    *has = true;
    return KT_OK;
}

static kt_status uint_field(const kt_y *v, const char *key, size_t idx, uint64_t max, uint64_t *out,
                            bool *has)
{
    kt_status st = scalar(v, key, idx);
    if (st || unset(v)) return st;
    if (kt_decimal_parse(v->text, max, out)) {
        char e[96];
        return kt_fail_context(KT_ERR_MALFORMED, "policy: rule %zu: %s '%s' (line %zu)", idx, key,
                               kt_escape(v->text, strlen(v->text), e, sizeof e), v->line);
    }
    *has = true;
    return KT_OK;
}

/* Keys that set one setting under two names (the original AECS one and kubetee's):
 * giving both is refused whatever their values, rather than one silently winning. */
static const char *const same_setting[][2] = {
    {"rules", "enclaveMatchAnyRules"},
    {"isvprodid", "prodID"},
    {"min_isvsvn", "minIsvSvn"},
    {"report_data", "user_data"},
    {"allow_debug", "debug_disabled"},
    {"isvprodid", "prodid"},
    {"prodID", "prodid"},
    {"min_isvsvn", "min_svn"},
    {"minIsvSvn", "min_svn"},
};

static kt_status one_name(const kt_y *map, const kt_y *key, const char *where)
{
    for (size_t i = 0; i < sizeof same_setting / sizeof same_setting[0]; i++)
        for (int j = 0; j < 2; j++)
            if (!strcmp(key->text, same_setting[i][j]) && kt_yaml_get(map, same_setting[i][!j]))
                return kt_fail(KT_ERR_MALFORMED,
                               "policy: %s%s and %s are one setting; give only one (line %zu)",
                               where, same_setting[i][0], same_setting[i][1], key->line);
    return KT_OK;
}

static kt_status bool_field(const kt_y *v, const char *key, size_t idx, bool *out, bool *given)
{
    kt_status st = scalar(v, key, idx);
    if (st) return st;
    if (unset(v)) {
        *given = false;
        return KT_OK;
    }
    if (!strcmp(v->text, "true") || !strcmp(v->text, "yes") || !strcmp(v->text, "1"))
        *out = true;
    else if (!strcmp(v->text, "false") || !strcmp(v->text, "no") || !strcmp(v->text, "0"))
        *out = false;
    else {
        char e[96];
        return kt_fail(KT_ERR_MALFORMED,
                       "policy: rule %zu: %s '%s' is not true or false (line %zu)", idx, key,
                       kt_escape(v->text, strlen(v->text), e, sizeof e), v->line);
    }
    *given = true;
    return KT_OK;
}

static kt_status parse_rule(const kt_y *m, size_t idx, const kt_policy_options *o, rule *r)
{
    if (m->kind != KT_Y_MAP)
        return kt_fail(KT_ERR_MALFORMED, "policy: rule %zu is not a mapping (line %zu)", idx,
                       m->line);
    memset(r, 0, sizeof *r);
    char where[40];
    snprintf(where, sizeof where, "rule %zu: ", idx);
    for (size_t i = 0; i < m->count; i += 2) {
        const char *k = m->items[i]->text;
        const kt_y *v = m->items[i + 1];
        kt_status st = one_name(m, m->items[i], where);
        uint64_t x = 0;
        bool given = false, b = false;
        if (st) return st;
        if (!strcmp(k, "mrenclave")) {
            st = hex_field(v, k, idx, r->mrenclave, 32, 0, &r->has_mrenclave);
        } else if (!strcmp(k, "mrsigner")) {
            st = hex_field(v, k, idx, r->mrsigner, 32, 0, &r->has_mrsigner);
        } else if (!strcmp(k, "isvprodid") || !strcmp(k, "prodID") || !strcmp(k, "prodid")) {
            st = uint_field(v, k, idx, 0xffff, &x, &r->has_prodid);
            r->prodid = (uint16_t)x;
        } else if (!strcmp(k, "min_isvsvn") || !strcmp(k, "minIsvSvn") || !strcmp(k, "min_svn")) {
            st = uint_field(v, k, idx, 0xffff, &x, &r->has_min_svn);
            r->min_svn = (uint16_t)x;
        } else if (!strcmp(k, "report_data") || !strcmp(k, "user_data")) {
            st = hex_field(v, k, idx, r->report_data, 64, 32, &r->has_report_data);
        } else if (!strcmp(k, "allow_debug")) {
            st = bool_field(v, k, idx, &b, &given);
            r->allow_debug = given && b;
        } else if (!strcmp(k, "debug_disabled")) {
            st = bool_field(v, k, idx, &b, &given);
            r->allow_debug = given && !b;
        } else if (!strcmp(k, "mrtd")) {
            st = hex_field(v, k, idx, r->mrtd, 48, 0, &r->has_mrtd);
        } else if (!strncmp(k, "rtmr", 4) && k[4] >= '0' && k[4] <= '3' && !k[5]) {
            st = hex_field(v, k, idx, r->rtmr[k[4] - '0'], 48, 0, &r->has_rtmr[k[4] - '0']);
        } else if (!strcmp(k, "td_attributes")) {
            uint8_t a[8];
            st = hex_field(v, k, idx, a, 8, 0, &r->has_td_attributes);
            r->td_attributes = kt_le64(a);
        } else if (!strcmp(k, "allow_service_td")) {
            st = bool_field(v, k, idx, &b, &given);
            r->allow_service_td = given && b;
        } else if (!strcmp(k, "spid")) {
            st = scalar(v, k, idx);
            if (!st && !unset(v) && !o->ignore_spid)
                st = kt_fail(KT_ERR_UNSUPPORTED,
                             "policy: rule %zu: spid is for EPID attestation, "
                             "which kubetee does not do (line %zu)",
                             idx, v->line);
        } else {
            char e[96];
            st = kt_fail(KT_ERR_MALFORMED, "policy: rule %zu: unknown key '%s' (line %zu)", idx,
                         kt_escape(k, strlen(k), e, sizeof e), m->items[i]->line);
        }
        if (st) return st;
    }
    if (!r->has_mrenclave && !r->has_mrsigner && !r->has_mrtd && !o->allow_any_identity)
        return kt_fail(KT_ERR_MALFORMED,
                       "policy: rule %zu pins no identity: it constrains neither mrenclave nor "
                       "mrsigner (nor mrtd), so it would admit any enclave; give one%s%s%s "
                       "(line %zu)",
                       idx, o->any_identity_key ? ", or set " : "",
                       o->any_identity_key ? o->any_identity_key : "",
                       o->any_identity_key ? " to admit any enclave on purpose" : "", m->line);
    if ((r->has_mrenclave || r->has_mrsigner || r->has_prodid || r->has_min_svn) &&
        (r->has_mrtd || r->has_td_attributes || r->has_rtmr[0] || r->has_rtmr[1] ||
         r->has_rtmr[2] || r->has_rtmr[3]))
        return kt_fail(KT_ERR_MALFORMED, "policy: rule %zu mixes SGX and TDX fields (line %zu)",
                       idx, m->line);
    return KT_OK;
}

static const kt_policy_options no_options;

static bool own_key(const kt_policy_options *o, const char *k)
{
    for (size_t i = 0; o->own_keys && o->own_keys[i]; i++)
        if (!strcmp(o->own_keys[i], k)) return true;
    return false;
}

static kt_policy *policy_new(void)
{
    kt_policy *p = calloc(1, sizeof *p);
    if (p) p->accepted = 1u << KT_TCB_UP_TO_DATE;
    return p;
}

static kt_status parse_rules(const kt_y *rules, const kt_policy_options *o, kt_policy *p)
{
    const kt_y *one = rules->kind == KT_Y_MAP ? rules : NULL;
    size_t n = one ? 1 : rules->count;
    if (!(p->rules = calloc(n, sizeof *p->rules)))
        return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < n; i++) {
        kt_status st = parse_rule(one ? one : rules->items[i], i + 1, o, &p->rules[i]);
        if (st) return st;
        p->rule_count++;
    }
    return KT_OK;
}

kt_status kt_policy_from_tree(const kt_y *doc, const kt_policy_options *o, kt_policy **out)
{
    if (!doc || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "policy: NULL argument");
    if (!o) o = &no_options;
    kt_policy *p = policy_new();
    if (!p) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    kt_status st = KT_OK;
    const kt_y *rules = NULL;
    if (doc->kind != KT_Y_MAP)
        st = kt_fail(KT_ERR_MALFORMED, "policy: the top level must be a mapping");
    for (size_t i = 0; !st && i < doc->count; i += 2) {
        const char *k = doc->items[i]->text;
        const kt_y *v = doc->items[i + 1];
        bool given = false;
        if ((st = one_name(doc, doc->items[i], ""))) break;
        if (!strcmp(k, "enclaveMatchAnyRules") || !strcmp(k, "rules")) {
            if (v->kind != KT_Y_SEQ || v->count == 0)
                st = kt_fail(KT_ERR_MALFORMED, "policy: %s must be a non-empty list (line %zu)", k,
                             v->line);
            rules = v;
        } else if (!strcmp(k, "allow_simulation")) {
            st = bool_field(v, k, 0, &p->allow_simulation, &given);
        } else if (!strcmp(k, "simulation_root")) {
            st = v->kind != KT_Y_SCALAR || unset(v) || kt_hex_decode(v->text, p->sim_root, 32)
                     ? kt_fail(KT_ERR_MALFORMED,
                               "policy: simulation_root must be the SHA-256 (32 bytes of hex) of "
                               "the simulation root certificate's DER (line %zu)",
                               v->line)
                     : KT_OK;
            p->has_sim_root = !st;
        } else if (!strcmp(k, "accepted_tcb_status")) {
            if (v->kind != KT_Y_SEQ || v->count == 0)
                st = kt_fail(KT_ERR_MALFORMED,
                             "policy: accepted_tcb_status must be a non-empty list");
            p->accepted = 0;
            for (size_t j = 0; !st && j < v->count; j++) {
                kt_tcb_status s;
                char e[96] = "?";
                if (v->items[j]->kind == KT_Y_SCALAR)
                    kt_escape(v->items[j]->text, strlen(v->items[j]->text), e, sizeof e);
                if (v->items[j]->kind != KT_Y_SCALAR || kt_tcb_status_parse(v->items[j]->text, &s))
                    st = kt_fail(KT_ERR_MALFORMED,
                                 "policy: accepted_tcb_status: '%s' is not a TCB status (line %zu)",
                                 e, v->items[j]->line);
                else if (s == KT_TCB_REVOKED)
                    st = kt_fail(KT_ERR_MALFORMED,
                                 "policy: accepted_tcb_status: Revoked cannot be accepted: Intel "
                                 "revoked that TCB, its keys may be an attacker's (line %zu)",
                                 v->items[j]->line);
                else if (p->accepted & (1u << s))
                    st = kt_fail(KT_ERR_MALFORMED,
                                 "policy: accepted_tcb_status: %s is listed twice (line %zu)",
                                 v->items[j]->text, v->items[j]->line);
                else
                    p->accepted |= 1u << s;
            }
        } else if (!strcmp(k, "apiVersion") || !strcmp(k, "kind") || own_key(o, k)) {
            /* the AECS SecretPolicy envelope's own keys, or the caller's */
        } else {
            char e[96];
            st = kt_fail(KT_ERR_MALFORMED, "policy: unknown key '%s' (line %zu)",
                         kt_escape(k, strlen(k), e, sizeof e), doc->items[i]->line);
        }
    }
    if (!st && !rules) st = kt_fail(KT_ERR_MALFORMED, "policy: no enclaveMatchAnyRules (or rules)");
    if (!st && p->has_sim_root && !p->allow_simulation)
        st = kt_fail(KT_ERR_MALFORMED,
                     "policy: simulation_root is given but allow_simulation is not true");
    if (!st) st = parse_rules(rules, o, p);
    if (st) {
        kt_policy_free(p);
        return st;
    }
    *out = p;
    return KT_OK;
}

kt_status kt_policy_from_rules_tree(const kt_y *rules, const kt_policy_options *o, kt_policy **out)
{
    if (!rules || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "policy: NULL argument");
    if (rules->kind == KT_Y_SCALAR || (rules->kind == KT_Y_SEQ && rules->count == 0))
        return kt_fail(
            KT_ERR_MALFORMED,
            "policy: rules must be a rule mapping or a non-empty list of them (line %zu)",
            rules->line);
    kt_policy *p = policy_new();
    if (!p) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    kt_status st = parse_rules(rules, o ? o : &no_options, p);
    if (st) {
        kt_policy_free(p);
        return st;
    }
    *out = p;
    return KT_OK;
}

kt_status kt_policy_parse(const char *text, size_t n, kt_policy **out)
{
    if (!text || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "policy: NULL argument");
    kt_y *doc;
    kt_status st = kt_yaml_parse(text, n, &doc);
    if (st) return kt_fail_context(st, "policy");
    st = kt_policy_from_tree(doc, NULL, out);
    kt_yaml_free(doc);
    return st;
}

kt_status kt_policy_from_rules(const kt_policy_rule *rules, size_t n, bool allow_simulation,
                               kt_policy **out)
{
    if (!rules || !n || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "policy: no rules");
    kt_policy *p = policy_new();
    if (!p || !(p->rules = calloc(n, sizeof *p->rules))) {
        free(p);
        return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    }
    memcpy(p->rules, rules, n * sizeof *rules);
    p->rule_count = n;
    p->allow_simulation = allow_simulation;
    *out = p;
    return KT_OK;
}

const kt_policy_rule *kt_policy_rules(const kt_policy *p, size_t *n)
{
    if (n) *n = 0;
    if (!p || p->is_default) return NULL;
    if (n) *n = p->rule_count;
    return p->rules;
}

bool kt_policy_allows_simulation(const kt_policy *p)
{
    return p && p->allow_simulation;
}

kt_status kt_policy_set_simulation_root(kt_policy *p, const uint8_t root_sha256[32])
{
    if (!p || !root_sha256) return kt_fail(KT_ERR_INVALID_ARGUMENT, "policy: NULL argument");
    if (!p->allow_simulation)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "policy: a simulation root for a policy that does not "
                                                "allow simulation");
    memcpy(p->sim_root, root_sha256, 32);
    p->has_sim_root = true;
    return KT_OK;
}

kt_status kt_policy_default(bool allow_simulation, kt_policy **out)
{
    if (!out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "policy: NULL argument");
    kt_policy *p = calloc(1, sizeof *p);
    if (!p || !(p->rules = calloc(1, sizeof *p->rules))) {
        free(p);
        return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    }
    p->allow_simulation = allow_simulation;
    p->accepted = 1u << KT_TCB_UP_TO_DATE;
    p->rule_count = 1; /* what mismatch() refuses of any identity: debug, service TDs */
    p->is_default = true;
    *out = p;
    return KT_OK;
}

kt_status kt_policy_from_platform(const kt_platform_policy *pp, kt_policy **out)
{
    static const uint8_t zero[32];
    if (!pp || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "policy: NULL argument");
    uint32_t known = (1u << (KT_TCB_REVOKED + 1)) - 1;
    if (pp->tcb_statuses & ~known) return kt_fail(KT_ERR_INVALID_ARGUMENT, "platform policy: unknown TCB status bits");
    if (pp->tcb_statuses & (KT_TCB_BIT(KT_TCB_REVOKED) | KT_TCB_BIT(KT_TCB_UNKNOWN)))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "platform policy: a %s platform is never accepted",
                       kt_tcb_status_name(pp->tcb_statuses & KT_TCB_BIT(KT_TCB_REVOKED) ? KT_TCB_REVOKED : KT_TCB_UNKNOWN));
    bool pinned = !kt_equal(pp->simulation_root, zero, 32);
    if (pp->allow_simulation && !pinned)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "platform policy: allow_simulation names no simulation_root "
                                                "(the SHA-256 of the one simulation root accepted)");
    if (!pp->allow_simulation && pinned)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "platform policy: a simulation_root without allow_simulation");
    kt_status st = kt_policy_default(pp->allow_simulation, out);
    if (st) return st;
    kt_policy *p = *out;
    p->rules[0].allow_debug = pp->allow_debug;
    if (pp->tcb_statuses) p->accepted = pp->tcb_statuses;
    if (pinned) {
        memcpy(p->sim_root, pp->simulation_root, 32);
        p->has_sim_root = true;
    }
    return KT_OK;
}

#ifndef KT_TRUSTED /* an enclave's policies are compiled in, never read from the host */
kt_status kt_policy_load(const char *path, kt_policy **out)
{
    kt_buf b = {0};
    kt_status st = kt_file_read(path, 1 << 20, &b);
    if (!st) st = kt_policy_parse((const char *)b.data, b.len, out);
    kt_buf_free(&b);
    char e[256];
    return st ? kt_fail_context(st, "%s", kt_escape(path, strlen(path), e, sizeof e)) : KT_OK;
}
#endif

kt_status kt_policy_copy(const kt_policy *p, kt_policy **out)
{
    if (!p || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "policy: NULL argument");
    kt_policy *c = malloc(sizeof *c);
    if (c) *c = *p, c->rules = calloc(p->rule_count ? p->rule_count : 1, sizeof *c->rules);
    if (!c || !c->rules) {
        free(c);
        return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    }
    if (p->rule_count) memcpy(c->rules, p->rules, p->rule_count * sizeof *c->rules);
    *out = c;
    return KT_OK;
}

void kt_policy_free(kt_policy *p)
{
    if (!p) return;
    free(p->rules);
    free(p);
}

/* Why a rule does not match, or NULL when it does. */
static const char *mismatch(const rule *r, const kt_verdict *v)
{
    static const uint8_t zero48[48];
    const kt_quote *q = &v->quote;
    if (q->tee == KT_TEE_SGX) {
        const kt_report_body *s = &q->sgx;
        if (r->has_mrtd || r->has_td_attributes)
            return "rule is for a TD, the quote is from an SGX enclave";
        if (r->has_mrenclave && !kt_equal(r->mrenclave, s->mrenclave, 32))
            return "MRENCLAVE differs";
        if (r->has_mrsigner && !kt_equal(r->mrsigner, s->mrsigner, 32)) return "MRSIGNER differs";
        if (r->has_prodid && r->prodid != s->prodid) return "ISVPRODID differs";
        if (r->has_min_svn && s->svn < r->min_svn) return "ISVSVN below the minimum";
        if (r->has_report_data && !kt_equal(r->report_data, s->report_data, 64))
            return "report data differs";
        if ((s->attr_flags & 2) && !r->allow_debug)
            return "debug enclave, and the rule does not allow debug";
        return NULL;
    }
    const kt_td_report *t = &q->td;
    if (r->has_mrenclave || r->has_mrsigner)
        return "rule is for an SGX enclave, the quote is from a TD";
    if (r->has_mrtd && !kt_equal(r->mrtd, t->mrtd, 48)) return "MRTD differs";
    for (int i = 0; i < 4; i++)
        if (r->has_rtmr[i] && !kt_equal(r->rtmr[i], t->rtmr[i], 48)) return "an RTMR differs";
    if (r->has_td_attributes && r->td_attributes != t->td_attributes) return "TD attributes differ";
    if (r->has_report_data && !kt_equal(r->report_data, t->report_data, 64))
        return "report data differs";
    if ((t->td_attributes & 1) && !r->allow_debug)
        return "debug TD, and the rule does not allow debug";
    if (t->td15 && memcmp(t->mr_servicetd, zero48, 48) && !r->allow_service_td)
        return "TD is bound to a service TD (MR_SERVICETD), and the rule does not allow it";
    return NULL;
}

/* The trust anchor: Intel's root, or a simulation root the policy allows (and, when it
 * names one, that one). Inside an enclave the host hands over the collateral, anchor and
 * all, so a simulation root is accepted only when the policy, compiled into the enclave
 * and so measured, names it. */
static kt_status root_allowed(const kt_policy *p, bool simulated, const uint8_t root[32])
{
    if (!simulated) return KT_OK;
    char hex[65];
    kt_hex_encode(root, 32, hex, sizeof hex);
    if (!p->allow_simulation)
        return kt_fail(KT_ERR_DENIED, "quote chains to a simulation root, and the policy does not "
                                      "allow simulation");
    if (p->has_sim_root && !kt_equal(p->sim_root, root, 32))
        return kt_fail(KT_ERR_DENIED,
                       "quote chains to simulation root %s, which is not the policy's "
                       "simulation_root",
                       hex);
#ifdef KT_TRUSTED
    if (!p->has_sim_root)
        return kt_fail(KT_ERR_DENIED,
                       "quote chains to simulation root %s, which the host chose: inside an "
                       "enclave a simulated quote passes only a policy naming its "
                       "simulation_root",
                       hex);
#endif
    return KT_OK;
}

kt_status kt_policy_check_root(const kt_policy *p, const kt_collateral *c)
{
    if (!p || !c) return kt_fail(KT_ERR_INVALID_ARGUMENT, "policy check: NULL argument");
    uint8_t root[32];
    kt_status st = kt_collateral_root_sha256(c, root);
    return st ? st : root_allowed(p, kt_collateral_is_simulated(c), root);
}

kt_status kt_policy_check(const kt_policy *p, const kt_verdict *v)
{
    if (!p || !v) return kt_fail(KT_ERR_INVALID_ARGUMENT, "policy check: NULL argument");
    if (!v->ok) return kt_fail(KT_ERR_DENIED, "quote did not verify: %s", v->reason);
    kt_status st = root_allowed(p, v->simulated, v->root_sha256);
    if (st) return st;
    if (!(p->accepted & (1u << v->tcb_status)))
        return kt_fail(KT_ERR_DENIED, "TCB status %s is not accepted by the policy",
                       kt_tcb_status_name(v->tcb_status));
    char why[512] = "";
    size_t at = 0;
    for (size_t i = 0; i < p->rule_count; i++) {
        const char *m = mismatch(&p->rules[i], v);
        if (!m) return KT_OK;
        if (p->is_default) return kt_fail(KT_ERR_DENIED, "%s", m);
        if (at < sizeof why)
            at += (size_t)snprintf(why + at, sizeof why - at, "%srule %zu: %s", i ? "; " : "",
                                   i + 1, m);
    }
    return kt_fail(KT_ERR_DENIED, "no rule matches (%s)", why);
}
