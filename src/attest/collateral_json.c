/* Intel PCS v4 collateral bodies: TCB Info and QE Identity, read with kubetee's strict
 * JSON reader (src/yaml: duplicate keys refused), in plain processes and enclaves alike.
 * The signature covers the exact bytes of the "tcbInfo" / "enclaveIdentity" value: the
 * reader gives each value's bytes, so what is verified is exactly what is read. Every
 * field is checked for type and range; a bad one is named. */
#include "internal.h"

#include <kubetee/yaml.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "YYYY-MM-DDThh:mm:ssZ", optionally with a fraction of a second (one digit or more)
 * before the Z; a real date and time, as DER times must be (no 30 February, no second 60:
 * they would read as another time). */
kt_status kt_time_parse(const char *s, time_t *out)
{
    if (!s || strlen(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':')
        return kt_fail(KT_ERR_MALFORMED, "time '%s' is not YYYY-MM-DDThh:mm:ssZ", s ? s : "");
    const char *z = s + 19;
    if (*z == '.' && z[1] >= '0' && z[1] <= '9')
        for (z++; *z >= '0' && *z <= '9'; z++)
            ;
    int year = kt_decimal(s, 4), month = kt_decimal(s + 5, 2), day = kt_decimal(s + 8, 2);
    int hour = kt_decimal(s + 11, 2), min = kt_decimal(s + 14, 2), sec = kt_decimal(s + 17, 2);
    if (z[0] != 'Z' || z[1] || year < 1970 || month < 1 || month > 12 || day < 1 || day > 31 ||
        hour < 0 || hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 59)
        return kt_fail(KT_ERR_MALFORMED, "time '%s' is not a UTC time", s);
    if (kt_utc_time(year, month, day, hour, min, sec, out))
        return kt_fail(KT_ERR_MALFORMED, "time '%s': no such day", s);
    return KT_OK;
}

/* The value of a top-level key of a JSON object, the document read whole (strictly). */
static kt_status top_value(const kt_y *root, const char *key, const kt_y **v)
{
    if (root->kind != KT_Y_MAP) return kt_fail(KT_ERR_MALFORMED, "JSON: not an object");
    if (!(*v = kt_yaml_get(root, key)))
        return kt_fail(KT_ERR_MALFORMED, "JSON: no top-level \"%s\"", key);
    if ((*v)->kind != KT_Y_MAP) return kt_fail(KT_ERR_MALFORMED, "JSON: \"%s\" is not an object", key);
    return KT_OK;
}

kt_status kt_json_raw_value(const char *json, size_t n, const char *key, const char **value,
                            size_t *len)
{
    kt_y *root = NULL;
    const kt_y *v = NULL;
    kt_status st = kt_json_parse(json, n, &root);
    if (!st && !(st = top_value(root, key, &v))) {
        *value = json + v->start;
        *len = v->end - v->start;
    }
    kt_yaml_free(root);
    return st;
}

/* ---- typed field access, each failure naming the field ---- */

static const kt_y *field(const kt_y *obj, const char *name, kt_y_kind kind, const char *ctx)
{
    const kt_y *v = kt_yaml_get(obj, name);
    if (!v || v->kind != kind || (kind == KT_Y_SCALAR && !v->quoted)) {
        kt_fail(KT_ERR_MALFORMED, "%s: \"%s\" missing or of the wrong type", ctx, name);
        return NULL;
    }
    return v;
}

static const char *string_field(const kt_y *obj, const char *name, const char *ctx)
{
    const kt_y *v = field(obj, name, KT_Y_SCALAR, ctx);
    return v ? v->text : NULL;
}

static kt_status get_int(const kt_y *o, const char *name, long long min, long long max,
                         long long *out, const char *ctx)
{
    const kt_y *v = kt_yaml_get(o, name);
    if (!v || v->kind != KT_Y_SCALAR || v->quoted)
        return kt_fail(KT_ERR_MALFORMED, "%s: \"%s\" missing or of the wrong type", ctx, name);
    long long x = 0;
    kt_status st = kt_yaml_int(v, min < 0 ? LLONG_MIN : 0, LLONG_MAX, &x);
    if (st) return kt_fail_context(st, "%s: \"%s\"", ctx, name);
    if (x < min || x > max)
        return kt_fail(KT_ERR_MALFORMED, "%s: \"%s\" = %lld out of range", ctx, name, x);
    *out = x;
    return KT_OK;
}

static kt_status get_hex(const kt_y *o, const char *name, uint8_t *out, size_t len, const char *ctx)
{
    const char *s = string_field(o, name, ctx);
    if (!s) return KT_ERR_MALFORMED;
    if (kt_hex_decode(s, out, len))
        return kt_fail(KT_ERR_MALFORMED, "%s: \"%s\" is not %zu bytes of hex", ctx, name, len);
    return KT_OK;
}

static kt_status get_time(const kt_y *o, const char *name, time_t *out, const char *ctx)
{
    const char *s = string_field(o, name, ctx);
    if (!s) return KT_ERR_MALFORMED;
    kt_status st = kt_time_parse(s, out);
    return st ? kt_fail_context(st, "%s: \"%s\"", ctx, name) : KT_OK;
}

static kt_status get_status(const kt_y *o, kt_tcb_status *out, const char *ctx)
{
    const char *s = string_field(o, "tcbStatus", ctx);
    if (!s) return KT_ERR_MALFORMED;
    kt_status st = kt_tcb_status_parse(s, out);
    return st ? kt_fail_context(st, "%s", ctx) : KT_OK;
}

static kt_status get_advisories(const kt_y *o, char (**out)[24], unsigned *count, const char *ctx)
{
    *out = NULL;
    *count = 0;
    const kt_y *a = kt_yaml_get(o, "advisoryIDs");
    if (!a) return KT_OK;
    if (a->kind != KT_Y_SEQ || a->count > KT_LEVEL_MAX_ADVISORIES)
        return kt_fail(KT_ERR_MALFORMED, "%s: \"advisoryIDs\" is not a list of at most %d", ctx,
                       KT_LEVEL_MAX_ADVISORIES);
    if (a->count == 0) return KT_OK;
    *out = calloc(a->count, 24);
    if (!*out) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < a->count; i++) {
        const char *s = kt_yaml_string(a->items[i]);
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

static const kt_y *object(const kt_y *v)
{
    return v && v->kind == KT_Y_MAP ? v : NULL;
}

/* Levels judged by one ISVSVN (QE Identity, TDX module identities). *levels and
 * *count grow together, so the owner's free releases a half-parsed array. */
static kt_status get_svn_levels(const kt_y *arr, long long max_svn, const char *ctx,
                                kt_svn_level **levels, unsigned *count)
{
    *levels = calloc(arr->count + 1, sizeof **levels);
    if (!*levels) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < arr->count; i++) {
        const kt_y *l = object(arr->items[i]), *tcb = object(kt_yaml_get(l, "tcb"));
        long long svn = 0;
        kt_status st;
        if (!tcb) return kt_fail(KT_ERR_MALFORMED, "%s: level %zu has no tcb", ctx, i);
        if ((st = get_int(tcb, "isvsvn", 0, max_svn, &svn, ctx))) return st;
        kt_svn_level *lv = &(*levels)[(*count)++];
        lv->isvsvn = (uint16_t)svn;
        if ((st = get_status(l, &lv->status, ctx)) ||
            (st = get_advisories(l, &lv->advisories, &lv->advisory_count, ctx)))
            return st;
    }
    return KT_OK;
}

/* Reads a PCS body whole: the signed value (its exact bytes, and the tree the caller
 * reads) and the hex signature. */
static kt_status split_body(const char *json, size_t n, const char *key, const uint8_t **body,
                            size_t *body_len, uint8_t sig[64], kt_y **root, const kt_y **value)
{
    kt_status st = kt_json_parse(json, n, root);
    if (st) return kt_fail_context(st, "%s", key);
    if ((st = top_value(*root, key, value))) return st;
    *body = (const uint8_t *)json + (*value)->start;
    *body_len = (*value)->end - (*value)->start;
    const char *s = kt_yaml_string(kt_yaml_get(*root, "signature"));
    if (!s || kt_hex_decode(s, sig, 64))
        return kt_fail(KT_ERR_MALFORMED, "%s: \"signature\" is not 64 bytes of hex", key);
    return KT_OK;
}

static kt_status parse_components(const kt_y *tcb, const char *array_key, const char *v2_prefix,
                                  uint8_t comp[16], int version, const char *ctx)
{
    long long x = 0;
    kt_status st;
    if (version >= 3) {
        const kt_y *a = field(tcb, array_key, KT_Y_SEQ, ctx);
        if (!a) return KT_ERR_MALFORMED;
        if (a->count != 16)
            return kt_fail(KT_ERR_MALFORMED, "%s: \"%s\" has %zu entries, not 16", ctx, array_key,
                           a->count);
        for (size_t i = 0; i < 16; i++) {
            const kt_y *c = object(a->items[i]);
            if (!c) return kt_fail(KT_ERR_MALFORMED, "%s: component %zu", ctx, i);
            if ((st = get_int(c, "svn", 0, 255, &x, ctx))) return st;
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

static kt_status tdx_module(const kt_y *o, kt_tcb_info *t)
{
    /* the module's identity is required, its versions' identities optional; neither is
     * skipped for being of the wrong shape */
    const kt_y *module = object(kt_yaml_get(o, "tdxModule"));
    const kt_y *ids = kt_yaml_get(o, "tdxModuleIdentities");
    kt_status st;
    if (!module)
        return kt_fail(KT_ERR_MALFORMED, "tcbInfo: a TDX TCB Info without a \"tdxModule\" object");
    if (ids && (ids->kind != KT_Y_SEQ || ids->count > 64))
        return kt_fail(KT_ERR_MALFORMED,
                       "tcbInfo: \"tdxModuleIdentities\" is not a list of at most 64");
    t->has_tdx_module = true;
    uint8_t a[8], m[8];
    if ((st = get_hex(module, "mrsigner", t->module_mrsigner, 48, "tdxModule")) ||
        (st = get_hex(module, "attributes", a, 8, "tdxModule")) ||
        (st = get_hex(module, "attributesMask", m, 8, "tdxModule")))
        return st;
    t->module_attributes = kt_le64(a);
    t->module_attributes_mask = kt_le64(m);
    if (!ids) return KT_OK;
    t->modules = calloc(ids->count + 1, sizeof *t->modules);
    if (!t->modules) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < ids->count; i++) {
        const kt_y *mi = object(ids->items[i]);
        kt_tdx_module_identity *md = &t->modules[t->module_count++];
        const char *mid = kt_yaml_string(kt_yaml_get(mi, "id"));
        const kt_y *ml = kt_yaml_get(mi, "tcbLevels");
        if (!mid || strlen(mid) >= sizeof md->id || !ml || ml->kind != KT_Y_SEQ || ml->count > 256)
            return kt_fail(KT_ERR_MALFORMED, "tdxModuleIdentities[%zu]: bad id or tcbLevels", i);
        strcpy(md->id, mid);
        if ((st = get_hex(mi, "mrsigner", md->mrsigner, 48, md->id)) ||
            (st = get_hex(mi, "attributes", a, 8, md->id)) ||
            (st = get_hex(mi, "attributesMask", m, 8, md->id)))
            return st;
        md->attributes = kt_le64(a);
        md->attributes_mask = kt_le64(m);
        if ((st = get_svn_levels(ml, 255, md->id, &md->levels, &md->level_count))) return st;
    }
    return KT_OK;
}

static kt_status tcb_info(const kt_y *o, kt_tcb_info *t)
{
    const char *ctx = "tcbInfo";
    long long x = 0;
    kt_status st;
    if ((st = get_int(o, "version", 2, 3, &x, ctx))) return st;
    t->version = (int)x;
    /* version 3 names its TEE; version 2 is SGX's and names none */
    const kt_y *idv = kt_yaml_get(o, "id");
    const char *id = kt_yaml_string(idv);
    if ((idv || t->version == 3) && !id)
        return kt_fail(KT_ERR_MALFORMED, "tcbInfo: \"id\" missing or not a string");
    snprintf(t->id, sizeof t->id, "%s", id ? id : "SGX");
    if ((st = get_time(o, "issueDate", &t->issue_date, ctx)) ||
        (st = get_time(o, "nextUpdate", &t->next_update, ctx)) ||
        (st = get_hex(o, "fmspc", t->fmspc, 6, ctx)) ||
        (st = get_hex(o, "pceId", t->pceid, 2, ctx)))
        return st;
    if (kt_yaml_get(o, "tcbType") && (st = get_int(o, "tcbType", 0, 255, &x, ctx))) return st;
    t->tcb_type = kt_yaml_get(o, "tcbType") ? (int)x : 0;
    t->eval_number = -1;
    if (kt_yaml_get(o, "tcbEvaluationDataNumber") &&
        !(st = get_int(o, "tcbEvaluationDataNumber", 0, (1ll << 31) - 1, &x, ctx)))
        t->eval_number = x;
    if (st) return st;
    if (id && strcmp(id, "SGX") && strcmp(id, "TDX"))
        return kt_fail(KT_ERR_MALFORMED, "tcbInfo: id \"%s\" is neither SGX nor TDX", t->id);
    bool tdx = strcmp(t->id, "TDX") == 0;
    const kt_y *levels = kt_yaml_get(o, "tcbLevels");
    if (!levels || levels->kind != KT_Y_SEQ || levels->count == 0 || levels->count > 1024)
        return kt_fail(KT_ERR_MALFORMED, "tcbInfo: \"tcbLevels\" missing, empty or too long");
    t->levels = calloc(levels->count, sizeof *t->levels);
    if (!t->levels) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < levels->count; i++) {
        const kt_y *l = object(levels->items[i]), *tcb = object(kt_yaml_get(l, "tcb"));
        kt_tcb_level *lv = &t->levels[t->level_count++];
        if (!tcb) return kt_fail(KT_ERR_MALFORMED, "tcbInfo: level %zu has no \"tcb\" object", i);
        if ((st = parse_components(tcb, "sgxtcbcomponents", "sgxtcbcomp", lv->comp, t->version,
                                   ctx)) ||
            (st = get_int(tcb, "pcesvn", 0, 65535, &x, ctx)))
            return st;
        lv->pcesvn = (uint16_t)x;
        if (tdx) {
            if ((st = parse_components(tcb, "tdxtcbcomponents", "", lv->tdx_comp, 3, ctx)))
                return st;
            lv->has_tdx = true;
        }
        if ((st = get_status(l, &lv->status, ctx)) ||
            (st = get_advisories(l, &lv->advisories, &lv->advisory_count, ctx)))
            return st;
    }
    return tdx ? tdx_module(o, t) : KT_OK;
}

kt_status kt_tcb_info_parse(const char *json, size_t n, kt_tcb_info *t)
{
    memset(t, 0, sizeof *t);
    kt_y *root = NULL;
    const kt_y *o = NULL;
    kt_status st =
        split_body(json, n, "tcbInfo", &t->signed_body, &t->signed_len, t->signature, &root, &o);
    if (!st) st = tcb_info(o, t);
    kt_yaml_free(root);
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

static uint32_t be32(const uint8_t b[4])
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static kt_status qe_identity(const kt_y *o, kt_qe_identity *q)
{
    const char *ctx = "enclaveIdentity";
    long long x = 0;
    uint8_t b4[4];
    kt_status st;
    const char *id = kt_yaml_string(kt_yaml_get(o, "id"));
    /* QVE: the proxy serves the QvE's identity too; verification wants QE or TD_QE */
    if (!id || (strcmp(id, "QE") && strcmp(id, "TD_QE") && strcmp(id, "QVE")))
        return kt_fail(KT_ERR_MALFORMED, "enclaveIdentity: id is not QE, TD_QE or QVE");
    strcpy(q->id, id);
    if ((st = get_int(o, "version", 2, 2, &x, ctx))) return st;
    q->version = (int)x;
    if ((st = get_time(o, "issueDate", &q->issue_date, ctx)) ||
        (st = get_time(o, "nextUpdate", &q->next_update, ctx)) ||
        (st = get_hex(o, "miscselect", b4, 4, ctx)))
        return st;
    q->miscselect = be32(b4);
    if ((st = get_hex(o, "miscselectMask", b4, 4, ctx))) return st;
    q->miscselect_mask = be32(b4);
    if ((st = get_hex(o, "attributes", q->attributes, 16, ctx)) ||
        (st = get_hex(o, "attributesMask", q->attributes_mask, 16, ctx)) ||
        (st = get_hex(o, "mrsigner", q->mrsigner, 32, ctx)) ||
        (st = get_int(o, "isvprodid", 0, 65535, &x, ctx)))
        return st;
    q->isvprodid = (uint16_t)x;
    q->eval_number = -1;
    if (kt_yaml_get(o, "tcbEvaluationDataNumber") &&
        !(st = get_int(o, "tcbEvaluationDataNumber", 0, (1ll << 31) - 1, &x, ctx)))
        q->eval_number = x;
    if (st) return st;
    const kt_y *levels = kt_yaml_get(o, "tcbLevels");
    if (!levels || levels->kind != KT_Y_SEQ || levels->count == 0 || levels->count > 256)
        return kt_fail(KT_ERR_MALFORMED, "enclaveIdentity: \"tcbLevels\" missing, empty or too long");
    return get_svn_levels(levels, 65535, ctx, &q->levels, &q->level_count);
}

kt_status kt_qe_identity_parse(const char *json, size_t n, kt_qe_identity *q)
{
    memset(q, 0, sizeof *q);
    kt_y *root = NULL;
    const kt_y *o = NULL;
    kt_status st = split_body(json, n, "enclaveIdentity", &q->signed_body, &q->signed_len,
                              q->signature, &root, &o);
    if (!st) st = qe_identity(o, q);
    kt_yaml_free(root);
    if (st) kt_qe_identity_free(q);
    return st;
}

void kt_qe_identity_free(kt_qe_identity *q)
{
    if (!q) return;
    free_svn_levels(q->levels, q->level_count);
    memset(q, 0, sizeof *q);
}

static kt_status tcb_eval(const kt_y *o, kt_tcb_eval *t)
{
    const char *ctx = "tcbEvaluationDataNumbers";
    long long x = 0;
    kt_status st;
    const char *id = kt_yaml_string(kt_yaml_get(o, "id"));
    if (!id || (strcmp(id, "SGX") && strcmp(id, "TDX")))
        return kt_fail(KT_ERR_MALFORMED, "%s: id is not SGX or TDX", ctx);
    snprintf(t->id, sizeof t->id, "%s", id);
    if ((st = get_int(o, "version", 1, 1, &x, ctx)) ||
        (st = get_time(o, "issueDate", &t->issue_date, ctx)) ||
        (st = get_time(o, "nextUpdate", &t->next_update, ctx)))
        return st;
    const kt_y *list = kt_yaml_get(o, "tcbEvalNumbers");
    if (!list || list->kind != KT_Y_SEQ || list->count == 0 || list->count > 1024)
        return kt_fail(KT_ERR_MALFORMED, "%s: \"tcbEvalNumbers\" missing, empty or too long", ctx);
    t->highest = -1;
    for (size_t i = 0; i < list->count; i++) {
        const kt_y *e = object(list->items[i]);
        time_t when;
        if (!e) return kt_fail(KT_ERR_MALFORMED, "%s: entry %zu is not an object", ctx, i);
        if ((st = get_int(e, "tcbEvaluationDataNumber", 0, (1ll << 31) - 1, &x, ctx)) ||
            (st = get_time(e, "tcbRecoveryEventDate", &when, ctx)) ||
            (st = get_time(e, "tcbDate", &when, ctx)))
            return st;
        if (x > t->highest) t->highest = x;
        t->count++;
    }
    return KT_OK;
}

kt_status kt_tcb_eval_parse(const char *json, size_t n, kt_tcb_eval *t)
{
    memset(t, 0, sizeof *t);
    kt_y *root = NULL;
    const kt_y *o = NULL;
    kt_status st = split_body(json, n, "tcbEvaluationDataNumbers", &t->signed_body, &t->signed_len,
                              t->signature, &root, &o);
    if (!st) st = tcb_eval(o, t);
    kt_yaml_free(root);
    return st;
}
