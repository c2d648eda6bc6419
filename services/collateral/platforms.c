/* Platform registrations as PCCS takes them (the PCK ID retrieval tool's JSON: POST
 * /platforms, and the entries of PUT /platformcollateral), and as GET /platforms lists
 * them; and the parser of Intel PCS's pckcerts answer. */
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

/* A string of hex digits, at most max of them, an even number: empty allowed. */
static kt_status hex_text(json_t *o, const char *key, size_t max, kt_buf *out)
{
    json_t *v = json_object_get(o, key);
    const char *s = json_string_value(v);
    size_t n = s ? json_string_length(v) : 0;
    bool ok = s && n <= max && n % 2 == 0 && strlen(s) == n;
    for (size_t i = 0; ok && i < n; i++)
        ok = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
             (s[i] >= 'A' && s[i] <= 'F');
    if (!ok)
        return kt_fail(KT_ERR_MALFORMED, "'%s' must be a string of at most %zu hex digits", key,
                       max);
    return n ? kt_buf_append(out, s, n) : KT_OK;
}

void kt_coll_platform_clear(kt_coll_platform *pl)
{
    kt_buf_free(&pl->manifest);
    memset(pl, 0, sizeof *pl);
}

/* One registration object, as POST /platforms and platformcollateral's "platforms" and
 * "pck_certs" carry it; keys allowed: keys. Empty cpu_svn and pce_svn (both) when
 * tcb_optional; enc_ppid empty when a platform manifest is there. */
kt_status kt_coll_platform_of(json_t *o, const char *const *keys, bool tcb_optional,
                              kt_coll_platform *pl)
{
    memset(pl, 0, sizeof *pl);
    kt_status st = json_is_object(o) ? KT_OK : kt_fail(KT_ERR_MALFORMED, "not a JSON object");
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
    json_t *cpu = json_object_get(o, "cpu_svn"), *pce = json_object_get(o, "pce_svn");
    bool empty = tcb_optional && json_is_string(cpu) && json_is_string(pce) &&
                 !json_string_length(cpu) && !json_string_length(pce);
    if (!st && cpu && !empty) st = hex_field(o, "cpu_svn", pl->cpusvn, 16, NULL);
    if (!st && pce && !empty) st = hex_field(o, "pce_svn", pl->pcesvn, 2, NULL);
    if (!st && !empty && (!cpu || !pce) && !tcb_optional)
        st = kt_fail(KT_ERR_MALFORMED, "missing '%s'", cpu ? "pce_svn" : "cpu_svn");
    if (!st && !empty && !cpu != !pce)
        st = kt_fail(KT_ERR_MALFORMED, "cpu_svn and pce_svn go together");
    pl->has_tcb = !st && cpu && pce && !empty;
    if (!st && json_object_get(o, "platform_manifest"))
        st = hex_text(o, "platform_manifest", KT_COLL_MANIFEST_HEX, &pl->manifest);
    json_t *e = json_object_get(o, "enc_ppid");
    if (!st && e && !(json_is_string(e) && !json_string_length(e) && pl->manifest.len))
        st = hex_field(o, "enc_ppid", ppid, sizeof ppid, pl->ppid);
    if (!st && !pl->ppid[0] && !pl->manifest.len)
        st = kt_fail(KT_ERR_MALFORMED, "missing 'enc_ppid' (or a 'platform_manifest')");
    if (st) kt_coll_platform_clear(pl);
    return st;
}

kt_status kt_coll_json_body(const uint8_t *json, size_t n, json_t **out)
{
    json_error_t err;
    *out = json_loadb((const char *)json, n, JSON_REJECT_DUPLICATES, &err);
    if (*out) return KT_OK;
    char shown[sizeof err.text * 4];
    return kt_fail(KT_ERR_MALFORMED, "body is not JSON: %s",
                   kt_escape_text(err.text, strlen(err.text), shown, sizeof shown));
}

kt_status kt_coll_platform_parse(const uint8_t *json, size_t n, bool tcb_optional,
                                 kt_coll_platform *pl)
{
    static const char *const keys[] = {
        "qe_id", "pce_id", "cpu_svn", "pce_svn", "enc_ppid", "platform_manifest", NULL};
    memset(pl, 0, sizeof *pl);
    json_t *o;
    kt_status st = kt_coll_json_body(json, n, &o);
    if (!st && !json_is_object(o)) st = kt_fail(KT_ERR_MALFORMED, "body is not a JSON object");
    if (!st) st = kt_coll_platform_of(o, keys, tcb_optional, pl);
    json_decref(o);
    return st;
}

kt_status kt_coll_platform_json(const kt_coll_platform *pl, kt_buf *out)
{
    char qe[33], pce[5], cpu[33], svn[5];
    kt_hex_encode(pl->qeid, 16, qe, sizeof qe);
    kt_hex_encode(pl->pceid, 2, pce, sizeof pce);
    kt_hex_encode(pl->cpusvn, 16, cpu, sizeof cpu);
    kt_hex_encode(pl->pcesvn, 2, svn, sizeof svn);
    if (!pl->has_tcb) cpu[0] = svn[0] = '\0';
    char head[256];
    int n = snprintf(head, sizeof head,
                     "{\"qe_id\":\"%s\",\"pce_id\":\"%s\",\"cpu_svn\":\"%s\",\"pce_svn\":\"%s\","
                     "\"enc_ppid\":\"",
                     qe, pce, cpu, svn);
    kt_status st = kt_buf_append(out, head, (size_t)n);
    if (!st) st = kt_buf_append(out, pl->ppid, strlen(pl->ppid));
    if (!st) st = kt_buf_append(out, "\",\"platform_manifest\":\"", 23);
    if (!st) st = kt_buf_append(out, pl->manifest.data, pl->manifest.len);
    if (!st) st = kt_buf_append(out, "\"}", 2);
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

kt_status kt_coll_pckcerts_of(json_t *a, kt_coll_pckcert **out, size_t *count)
{
    *out = NULL;
    *count = 0;
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
    if (st) {
        kt_coll_pckcerts_free(c, *count);
        *count = 0;
        return st;
    }
    *out = c;
    return KT_OK;
}

kt_status kt_coll_pckcerts_parse(const uint8_t *json, size_t n, kt_coll_pckcert **out,
                                 size_t *count)
{
    json_error_t err;
    json_t *a = json_loadb((const char *)json, n, JSON_REJECT_DUPLICATES, &err);
    kt_status st = kt_coll_pckcerts_of(a, out, count);
    json_decref(a);
    return st;
}

kt_status kt_coll_url_decode(const char *s, size_t n, kt_buf *out)
{
    return url_decode(s, n, out);
}
