/* Strict keys and scalars for the AECS file readers. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *af_esc(const char *s, char *buf, size_t cap)
{
    return kt_escape(s, strlen(s), buf, cap);
}

kt_status af_keys(const kt_y *map, const char *where, const char *const *allowed)
{
    if (map->kind != KT_Y_MAP)
        return kt_fail(KT_ERR_MALFORMED, "%s must be a mapping (line %zu)", where, map->line);
    for (size_t i = 0; i < map->count; i += 2) {
        const char *k = map->items[i]->text;
        size_t j = 0;
        while (allowed[j] && strcmp(allowed[j], k))
            j++;
        if (!allowed[j]) {
            char e[80];
            return kt_fail(KT_ERR_MALFORMED, "%s: unknown key '%s' (line %zu)", where,
                           af_esc(k, e, sizeof e), map->items[i]->line);
        }
    }
    return KT_OK;
}

kt_status af_scalar(const kt_y *v, const char *where, const char *key)
{
    if (v->kind != KT_Y_SCALAR)
        return kt_fail(KT_ERR_MALFORMED, "%s: %s must be a single value (line %zu)", where, key,
                       v->line);
    return KT_OK;
}

kt_status af_string(const kt_y *v, const char *where, const char *key, char *out, size_t cap)
{
    kt_status st = af_scalar(v, where, key);
    if (st) return st;
    size_t n = strlen(v->text);
    if (n >= cap)
        return kt_fail(KT_ERR_TOO_LARGE, "%s: %s is %zu bytes, at most %zu (line %zu)", where, key,
                       n, cap - 1, v->line);
    memcpy(out, v->text, n + 1);
    return KT_OK;
}

kt_status af_bool(const kt_y *v, const char *where, const char *key, bool *out)
{
    kt_status st = af_scalar(v, where, key);
    if (st) return st;
    if (!strcmp(v->text, "true")) {
        *out = true;
    } else if (!strcmp(v->text, "false")) {
        *out = false;
    } else {
        char e[64];
        return kt_fail(KT_ERR_MALFORMED, "%s: %s '%s' is not true or false (line %zu)", where, key,
                       af_esc(v->text, e, sizeof e), v->line);
    }
    return KT_OK;
}

kt_status af_envelope(const kt_y *doc, const char *kind, const char *const *allowed)
{
    kt_status st = af_keys(doc, kind, allowed);
    if (st) return st;
    const kt_y *api = kt_yaml_get(doc, "apiVersion"), *k = kt_yaml_get(doc, "kind");
    char e[64];
    if (!api) return kt_fail(KT_ERR_MALFORMED, "%s: no apiVersion (v1)", kind);
    if ((st = af_scalar(api, kind, "apiVersion"))) return st;
    if (strcmp(api->text, "v1"))
        return kt_fail(KT_ERR_UNSUPPORTED, "%s: apiVersion '%s' is not v1 (line %zu)", kind,
                       af_esc(api->text, e, sizeof e), api->line);
    if (!k) return kt_fail(KT_ERR_MALFORMED, "%s: no kind (%s)", kind, kind);
    if ((st = af_scalar(k, kind, "kind"))) return st;
    if (strcmp(k->text, kind))
        return kt_fail(KT_ERR_MALFORMED, "%s: kind '%s' is not %s (line %zu)", kind,
                       af_esc(k->text, e, sizeof e), kind, k->line);
    return KT_OK;
}

kt_status af_note(kt_buf *notes, size_t line, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    return kt_buf_printf(notes, "line %zu: %s\n", line, text);
}
