/* Intel PCS v4 collateral bodies: TCB Info and QE Identity. The signature covers the
 * exact bytes of the "tcbInfo" / "enclaveIdentity" value, so those bytes are found in
 * the text first; jansson then parses the value. Every field is checked for type and
 * range; a bad one is named. */
#include "internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* "YYYY-MM-DDThh:mm:ssZ", optionally with a fraction of a second (one digit or more)
 * before the Z; a real date and time, as DER times must be (no 30 February, no second 60:
 * timegm would read them as another time). */
kt_status kt_time_parse(const char *s, time_t *out)
{
    if (!s || strlen(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':')
        return kt_fail(KT_ERR_MALFORMED, "time '%s' is not YYYY-MM-DDThh:mm:ssZ", s ? s : "");
    const char *z = s + 19;
    if (*z == '.' && z[1] >= '0' && z[1] <= '9')
        for (z++; *z >= '0' && *z <= '9'; z++)
            ;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = kt_decimal(s, 4);
    tm.tm_mon = kt_decimal(s + 5, 2);
    tm.tm_mday = kt_decimal(s + 8, 2);
    tm.tm_hour = kt_decimal(s + 11, 2);
    tm.tm_min = kt_decimal(s + 14, 2);
    tm.tm_sec = kt_decimal(s + 17, 2);
    if (z[0] != 'Z' || z[1] || tm.tm_year < 1970 || tm.tm_mon < 1 || tm.tm_mon > 12 ||
        tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 ||
        tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 59)
        return kt_fail(KT_ERR_MALFORMED, "time '%s' is not a UTC time", s);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    int mday = tm.tm_mday;
    *out = timegm(&tm); /* normalises 30 February into March: such a date is refused */
    if (tm.tm_mday != mday) return kt_fail(KT_ERR_MALFORMED, "time '%s': no such day", s);
    return KT_OK;
}

kt_status kt_json_raw_value(const char *json, size_t n, const char *key, const char **value,
                            size_t *len)
{
    size_t klen = strlen(key);
    int depth = 0;
    for (size_t i = 0; i < n; i++) {
        char c = json[i];
        if (c == '"') {
            size_t start = ++i;
            while (i < n && json[i] != '"')
                i += json[i] == '\\' ? 2 : 1;
            if (i >= n) break;
            size_t j = i + 1;
            while (j < n &&
                   (json[j] == ' ' || json[j] == '\n' || json[j] == '\r' || json[j] == '\t'))
                j++;
            if (depth == 1 && j < n && json[j] == ':' && i - start == klen &&
                memcmp(json + start, key, klen) == 0) {
                j++;
                while (j < n &&
                       (json[j] == ' ' || json[j] == '\n' || json[j] == '\r' || json[j] == '\t'))
                    j++;
                if (j >= n || json[j] != '{')
                    return kt_fail(KT_ERR_MALFORMED, "JSON: \"%s\" is not an object", key);
                int d = 0;
                for (size_t k = j; k < n; k++) {
                    if (json[k] == '"') {
                        k++;
                        while (k < n && json[k] != '"')
                            k += json[k] == '\\' ? 2 : 1;
                    } else if (json[k] == '{') {
                        d++;
                    } else if (json[k] == '}' && --d == 0) {
                        *value = json + j;
                        *len = k - j + 1;
                        return KT_OK;
                    }
                }
                return kt_fail(KT_ERR_MALFORMED, "JSON: \"%s\" value is not closed", key);
            }
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return kt_fail(KT_ERR_MALFORMED, "JSON: no top-level \"%s\"", key);
}

/* ---- typed field access, each failure naming the field ---- */

static json_t *field(json_t *obj, const char *name, json_type type, const char *ctx)
{
    json_t *v = json_object_get(obj, name);
    if (!v || json_typeof(v) != type) {
        kt_fail(KT_ERR_MALFORMED, "%s: \"%s\" missing or of the wrong type", ctx, name);
        return NULL;
    }
    return v;
}

static kt_status get_int(json_t *o, const char *name, long long min, long long max, long long *out,
                         const char *ctx)
{
    json_t *v = field(o, name, JSON_INTEGER, ctx);
    if (!v) return KT_ERR_MALFORMED;
    long long x = json_integer_value(v);
    if (x < min || x > max)
        return kt_fail(KT_ERR_MALFORMED, "%s: \"%s\" = %lld out of range", ctx, name, x);
    *out = x;
    return KT_OK;
}

static kt_status get_hex(json_t *o, const char *name, uint8_t *out, size_t len, const char *ctx)
{
    json_t *v = field(o, name, JSON_STRING, ctx);
    if (!v) return KT_ERR_MALFORMED;
    if (kt_hex_decode(json_string_value(v), out, len))
        return kt_fail(KT_ERR_MALFORMED, "%s: \"%s\" is not %zu bytes of hex", ctx, name, len);
    return KT_OK;
}

static kt_status get_time(json_t *o, const char *name, time_t *out, const char *ctx)
{
    json_t *v = field(o, name, JSON_STRING, ctx);
    if (!v) return KT_ERR_MALFORMED;
    kt_status st = kt_time_parse(json_string_value(v), out);
    return st ? kt_fail_context(st, "%s: \"%s\"", ctx, name) : KT_OK;
}

static kt_status get_status(json_t *o, kt_tcb_status *out, const char *ctx)
{
    json_t *v = field(o, "tcbStatus", JSON_STRING, ctx);
    if (!v) return KT_ERR_MALFORMED;
    kt_status st = kt_tcb_status_parse(json_string_value(v), out);
    return st ? kt_fail_context(st, "%s", ctx) : KT_OK;
}

static kt_status get_advisories(json_t *o, char (**out)[24], unsigned *count, const char *ctx)
{
    *out = NULL;
    *count = 0;
    json_t *a = json_object_get(o, "advisoryIDs");
    if (!a) return KT_OK;
    if (!json_is_array(a) || json_array_size(a) > KT_LEVEL_MAX_ADVISORIES)
        return kt_fail(KT_ERR_MALFORMED, "%s: \"advisoryIDs\" is not a list of at most %d", ctx,
                       KT_LEVEL_MAX_ADVISORIES);
    if (json_array_size(a) == 0) return KT_OK;
    *out = calloc(json_array_size(a), 24);
    if (!*out) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < json_array_size(a); i++) {
        const char *s = json_string_value(json_array_get(a, i));
        /* an allow-list: the IDs reach verdicts, plain output and JSON as they are */
        if (!s || !*s || strlen(s) >= 24 ||
            strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._") !=
                strlen(s))
            return kt_fail(KT_ERR_MALFORMED,
                           "%s: advisory ID %zu is not a short string of letters, digits and "
                           "'-', '.' or '_'",
                           ctx, i);
        strcpy((*out)[i], s);
        (*count)++;
    }
    return KT_OK;
}

/* Levels judged by one ISVSVN (QE Identity, TDX module identities). *levels and
 * *count grow together, so the owner's free releases a half-parsed array. */
static kt_status get_svn_levels(json_t *arr, long long max_svn, const char *ctx,
                                kt_svn_level **levels, unsigned *count)
{
    *levels = calloc(json_array_size(arr) + 1, sizeof **levels);
    if (!*levels) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *l = json_array_get(arr, i),
               *tcb = json_is_object(l) ? json_object_get(l, "tcb") : NULL;
        long long svn = 0;
        kt_status st;
        if (!json_is_object(tcb))
            return kt_fail(KT_ERR_MALFORMED, "%s: level %zu has no tcb", ctx, i);
        if ((st = get_int(tcb, "isvsvn", 0, max_svn, &svn, ctx))) return st;
        kt_svn_level *lv = &(*levels)[(*count)++];
        lv->isvsvn = (uint16_t)svn;
        if ((st = get_status(l, &lv->status, ctx)) ||
            (st = get_advisories(l, &lv->advisories, &lv->advisory_count, ctx)))
            return st;
    }
    return KT_OK;
}

/* Loads the signed value and the hex signature of a PCS body. */
static kt_status split_body(const char *json, size_t n, const char *key, const uint8_t **body,
                            size_t *body_len, uint8_t sig[64], json_t **parsed)
{
    const char *raw;
    kt_status st = kt_json_raw_value(json, n, key, &raw, body_len);
    if (st) return st;
    *body = (const uint8_t *)raw;
    json_error_t err;
    json_t *root = json_loadb(json, n, JSON_REJECT_DUPLICATES, &err);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return kt_fail(KT_ERR_MALFORMED, "%s: not JSON (%s at line %d)", key, err.text, err.line);
    }
    json_t *sig_v = json_object_get(root, "signature");
    if (!json_is_string(sig_v) || kt_hex_decode(json_string_value(sig_v), sig, 64)) {
        json_decref(root);
        return kt_fail(KT_ERR_MALFORMED, "%s: \"signature\" is not 64 bytes of hex", key);
    }
    *parsed = json_incref(json_object_get(root, key));
    json_decref(root);
    return KT_OK;
}

static kt_status parse_components(json_t *tcb, const char *array_key, const char *v2_prefix,
                                  uint8_t comp[16], int version, const char *ctx)
{
    long long x = 0;
    kt_status st;
    if (version >= 3) {
        json_t *a = field(tcb, array_key, JSON_ARRAY, ctx);
        if (!a) return KT_ERR_MALFORMED;
        if (json_array_size(a) != 16)
            return kt_fail(KT_ERR_MALFORMED, "%s: \"%s\" has %zu entries, not 16", ctx, array_key,
                           json_array_size(a));
        for (size_t i = 0; i < 16; i++) {
            json_t *c = json_array_get(a, i);
            if (!json_is_object(c) || (st = get_int(c, "svn", 0, 255, &x, ctx)))
                return json_is_object(c) ? st
                                         : kt_fail(KT_ERR_MALFORMED, "%s: component %zu", ctx, i);
            comp[i] = (uint8_t)x;
        }
        return KT_OK;
    }
    for (int i = 0; i < 16; i++) {
        char name[32];
        snprintf(name, sizeof name, "%s%02dsvn", v2_prefix, i + 1);
        if ((st = get_int(tcb, name, 0, 255, &x, ctx))) return st;
        comp[i] = (uint8_t)x;
    }
    return KT_OK;
}

kt_status kt_tcb_info_parse(const char *json, size_t n, kt_tcb_info *t)
{
    memset(t, 0, sizeof *t);
    json_t *o = NULL;
    kt_status st =
        split_body(json, n, "tcbInfo", &t->signed_body, &t->signed_len, t->signature, &o);
    if (st) return st;
    const char *ctx = "tcbInfo";
    long long x = 0;
    if ((st = get_int(o, "version", 2, 3, &x, ctx))) goto out;
    t->version = (int)x;
    /* version 3 names its TEE; version 2 is SGX's and names none */
    json_t *id = json_object_get(o, "id");
    if ((id || t->version == 3) && !json_is_string(id)) {
        st = kt_fail(KT_ERR_MALFORMED, "tcbInfo: \"id\" missing or not a string");
        goto out;
    }
    snprintf(t->id, sizeof t->id, "%s", id ? json_string_value(id) : "SGX");
    if ((st = get_time(o, "issueDate", &t->issue_date, ctx)) ||
        (st = get_time(o, "nextUpdate", &t->next_update, ctx)) ||
        (st = get_hex(o, "fmspc", t->fmspc, 6, ctx)) ||
        (st = get_hex(o, "pceId", t->pceid, 2, ctx)))
        goto out;
    if (json_object_get(o, "tcbType") && (st = get_int(o, "tcbType", 0, 255, &x, ctx))) goto out;
    t->tcb_type = json_object_get(o, "tcbType") ? (int)x : 0;
    t->eval_number = -1;
    if (json_object_get(o, "tcbEvaluationDataNumber") &&
        !(st = get_int(o, "tcbEvaluationDataNumber", 0, (1ll << 31) - 1, &x, ctx)))
        t->eval_number = x;
    if (st) goto out;
    if (id && strcmp(json_string_value(id), "SGX") && strcmp(json_string_value(id), "TDX")) {
        st = kt_fail(KT_ERR_MALFORMED, "tcbInfo: id \"%s\" is neither SGX nor TDX", t->id);
        goto out;
    }
    bool tdx = strcmp(t->id, "TDX") == 0;
    json_t *levels = field(o, "tcbLevels", JSON_ARRAY, ctx);
    if (!levels || json_array_size(levels) == 0 || json_array_size(levels) > 1024) {
        st = kt_fail(KT_ERR_MALFORMED, "tcbInfo: \"tcbLevels\" missing, empty or too long");
        goto out;
    }
    t->levels = calloc(json_array_size(levels), sizeof *t->levels);
    if (!t->levels) {
        st = kt_fail(KT_ERR_NO_MEMORY, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < json_array_size(levels); i++) {
        json_t *l = json_array_get(levels, i),
               *tcb = json_is_object(l) ? json_object_get(l, "tcb") : NULL;
        kt_tcb_level *lv = &t->levels[t->level_count++];
        if (!json_is_object(tcb)) {
            st = kt_fail(KT_ERR_MALFORMED, "tcbInfo: level %zu has no \"tcb\" object", i);
            goto out;
        }
        if ((st = parse_components(tcb, "sgxtcbcomponents", "sgxtcbcomp", lv->comp, t->version,
                                   ctx)) ||
            (st = get_int(tcb, "pcesvn", 0, 65535, &x, ctx)))
            goto out;
        lv->pcesvn = (uint16_t)x;
        if (tdx) {
            if ((st = parse_components(tcb, "tdxtcbcomponents", "", lv->tdx_comp, 3, ctx)))
                goto out;
            lv->has_tdx = true;
        }
        if ((st = get_status(l, &lv->status, ctx)) ||
            (st = get_advisories(l, &lv->advisories, &lv->advisory_count, ctx)))
            goto out;
    }
    /* TDX: the module's identity is required, its versions' identities optional; neither
     * is skipped for being of the wrong shape */
    json_t *module = json_object_get(o, "tdxModule");
    json_t *ids = json_object_get(o, "tdxModuleIdentities");
    if (tdx && !json_is_object(module)) {
        st = kt_fail(KT_ERR_MALFORMED, "tcbInfo: a TDX TCB Info without a \"tdxModule\" object");
        goto out;
    }
    if (tdx && ids && (!json_is_array(ids) || json_array_size(ids) > 64)) {
        st = kt_fail(KT_ERR_MALFORMED,
                     "tcbInfo: \"tdxModuleIdentities\" is not a list of at most 64");
        goto out;
    }
    if (tdx) {
        t->has_tdx_module = true;
        uint8_t a[8], m[8];
        if ((st = get_hex(module, "mrsigner", t->module_mrsigner, 48, "tdxModule")) ||
            (st = get_hex(module, "attributes", a, 8, "tdxModule")) ||
            (st = get_hex(module, "attributesMask", m, 8, "tdxModule")))
            goto out;
        t->module_attributes = kt_le64(a);
        t->module_attributes_mask = kt_le64(m);
    }
    if (tdx && ids) {
        t->modules = calloc(json_array_size(ids) + 1, sizeof *t->modules);
        if (!t->modules) {
            st = kt_fail(KT_ERR_NO_MEMORY, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < json_array_size(ids); i++) {
            json_t *mi = json_array_get(ids, i);
            kt_tdx_module_identity *md = &t->modules[t->module_count++];
            json_t *mid = json_is_object(mi) ? json_object_get(mi, "id") : NULL;
            json_t *ml = json_is_object(mi) ? json_object_get(mi, "tcbLevels") : NULL;
            uint8_t a[8], m[8];
            if (!json_is_string(mid) || strlen(json_string_value(mid)) >= sizeof md->id ||
                !json_is_array(ml) || json_array_size(ml) > 256) {
                st = kt_fail(KT_ERR_MALFORMED, "tdxModuleIdentities[%zu]: bad id or tcbLevels", i);
                goto out;
            }
            strcpy(md->id, json_string_value(mid));
            if ((st = get_hex(mi, "mrsigner", md->mrsigner, 48, md->id)) ||
                (st = get_hex(mi, "attributes", a, 8, md->id)) ||
                (st = get_hex(mi, "attributesMask", m, 8, md->id)))
                goto out;
            md->attributes = kt_le64(a);
            md->attributes_mask = kt_le64(m);
            if ((st = get_svn_levels(ml, 255, md->id, &md->levels, &md->level_count))) goto out;
        }
    }
out:
    json_decref(o);
    if (st) kt_tcb_info_free(t);
    return st;
}

static void free_svn_levels(kt_svn_level *levels, unsigned count)
{
    for (unsigned k = 0; k < count; k++)
        free(levels[k].advisories);
    free(levels);
}

void kt_tcb_info_free(kt_tcb_info *t)
{
    if (!t) return;
    for (unsigned i = 0; i < t->level_count; i++)
        free(t->levels[i].advisories);
    free(t->levels);
    for (unsigned i = 0; i < t->module_count; i++)
        free_svn_levels(t->modules[i].levels, t->modules[i].level_count);
    free(t->modules);
    memset(t, 0, sizeof *t);
}

kt_status kt_qe_identity_parse(const char *json, size_t n, kt_qe_identity *q)
{
    memset(q, 0, sizeof *q);
    json_t *o = NULL;
    kt_status st =
        split_body(json, n, "enclaveIdentity", &q->signed_body, &q->signed_len, q->signature, &o);
    if (st) return st;
    const char *ctx = "enclaveIdentity";
    long long x = 0;
    uint8_t b4[4];
    json_t *id = field(o, "id", JSON_STRING, ctx);
    if (!id || strlen(json_string_value(id)) >= sizeof q->id ||
        (strcmp(json_string_value(id), "QE") && strcmp(json_string_value(id), "TD_QE") &&
         strcmp(json_string_value(id), "QVE"))) {
        /* QVE: the proxy serves the QvE's identity too; verification wants QE or TD_QE */
        st = kt_fail(KT_ERR_MALFORMED, "enclaveIdentity: id is not QE, TD_QE or QVE");
        goto out;
    }
    strcpy(q->id, json_string_value(id));
    if ((st = get_int(o, "version", 2, 2, &x, ctx))) goto out;
    q->version = (int)x;
    if ((st = get_time(o, "issueDate", &q->issue_date, ctx)) ||
        (st = get_time(o, "nextUpdate", &q->next_update, ctx)) ||
        (st = get_hex(o, "miscselect", b4, 4, ctx)))
        goto out;
    q->miscselect = (uint32_t)b4[0] << 24 | (uint32_t)b4[1] << 16 | (uint32_t)b4[2] << 8 | b4[3];
    if ((st = get_hex(o, "miscselectMask", b4, 4, ctx))) goto out;
    q->miscselect_mask =
        (uint32_t)b4[0] << 24 | (uint32_t)b4[1] << 16 | (uint32_t)b4[2] << 8 | b4[3];
    if ((st = get_hex(o, "attributes", q->attributes, 16, ctx)) ||
        (st = get_hex(o, "attributesMask", q->attributes_mask, 16, ctx)) ||
        (st = get_hex(o, "mrsigner", q->mrsigner, 32, ctx)) ||
        (st = get_int(o, "isvprodid", 0, 65535, &x, ctx)))
        goto out;
    q->isvprodid = (uint16_t)x;
    q->eval_number = -1;
    if (json_object_get(o, "tcbEvaluationDataNumber") &&
        !(st = get_int(o, "tcbEvaluationDataNumber", 0, (1ll << 31) - 1, &x, ctx)))
        q->eval_number = x;
    if (st) goto out;
    json_t *levels = field(o, "tcbLevels", JSON_ARRAY, ctx);
    if (!levels || json_array_size(levels) == 0 || json_array_size(levels) > 256) {
        st = kt_fail(KT_ERR_MALFORMED, "enclaveIdentity: \"tcbLevels\" missing, empty or too long");
        goto out;
    }
    st = get_svn_levels(levels, 65535, ctx, &q->levels, &q->level_count);
out:
    json_decref(o);
    if (st) kt_qe_identity_free(q);
    return st;
}

void kt_qe_identity_free(kt_qe_identity *q)
{
    if (!q) return;
    free_svn_levels(q->levels, q->level_count);
    memset(q, 0, sizeof *q);
}

kt_status kt_tcb_eval_parse(const char *json, size_t n, kt_tcb_eval *t)
{
    memset(t, 0, sizeof *t);
    json_t *o = NULL;
    const char *ctx = "tcbEvaluationDataNumbers";
    kt_status st = split_body(json, n, ctx, &t->signed_body, &t->signed_len, t->signature, &o);
    if (st) return st;
    long long x = 0;
    json_t *id = field(o, "id", JSON_STRING, ctx);
    if (!id || (strcmp(json_string_value(id), "SGX") && strcmp(json_string_value(id), "TDX"))) {
        st = kt_fail(KT_ERR_MALFORMED, "%s: id is not SGX or TDX", ctx);
        goto out;
    }
    snprintf(t->id, sizeof t->id, "%s", json_string_value(id));
    if ((st = get_int(o, "version", 1, 1, &x, ctx)) ||
        (st = get_time(o, "issueDate", &t->issue_date, ctx)) ||
        (st = get_time(o, "nextUpdate", &t->next_update, ctx)))
        goto out;
    json_t *list = field(o, "tcbEvalNumbers", JSON_ARRAY, ctx);
    if (!list || json_array_size(list) == 0 || json_array_size(list) > 1024) {
        st = kt_fail(KT_ERR_MALFORMED, "%s: \"tcbEvalNumbers\" missing, empty or too long", ctx);
        goto out;
    }
    t->highest = -1;
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *e = json_array_get(list, i);
        time_t when;
        if (!json_is_object(e)) {
            st = kt_fail(KT_ERR_MALFORMED, "%s: entry %zu is not an object", ctx, i);
            goto out;
        }
        if ((st = get_int(e, "tcbEvaluationDataNumber", 0, (1ll << 31) - 1, &x, ctx)) ||
            (st = get_time(e, "tcbRecoveryEventDate", &when, ctx)) ||
            (st = get_time(e, "tcbDate", &when, ctx)))
            goto out;
        if (x > t->highest) t->highest = x;
        t->count++;
    }
out:
    json_decref(o);
    return st;
}
