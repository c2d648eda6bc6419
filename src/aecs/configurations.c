/* Configurations (SECRET_TYPE_CONFIGURATIONS): key-value pairs, read from the original
 * AECS's JSON form or from key=value lines, and written in the original's form, which
 * AECS keeps and a TA gets (docs/formats.md "AECS configurations"). Built into the AECS
 * enclave too: it reads what a service admin sends. */
#include <kubetee/aecs.h>
#include <kubetee/yaml.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

kt_status kt_aecs_config_key_check(const char *key, size_t n)
{
    char shown[80];
    if (n == 0) return kt_fail(KT_ERR_INVALID_ARGUMENT, "a configuration key is empty");
    if (n > KT_AECS_CONFIG_KEY_MAX)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "configuration key '%s' is over %d bytes",
                       kt_escape(key, n, shown, sizeof shown), KT_AECS_CONFIG_KEY_MAX);
    for (size_t i = 0; i < n; i++) {
        char c = key[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-' || c == ':' || c == '/'))
            return kt_fail(KT_ERR_INVALID_ARGUMENT,
                           "configuration key '%s': byte %zu is not allowed (keys are [A-Za-z0-9._:/-])",
                           kt_escape(key, n, shown, sizeof shown), i);
    }
    return KT_OK;
}

static kt_status value_check(const char *key, const char *v, size_t n)
{
    const char *bad = kt_utf8_problem(v, n);
    if (n > KT_AECS_CONFIG_VALUE_MAX)
        return kt_fail(KT_ERR_TOO_LARGE, "configuration %s: the value is %zu bytes, at most %d", key, n,
                       KT_AECS_CONFIG_VALUE_MAX);
    if (bad) return kt_fail(KT_ERR_INVALID_ARGUMENT, "configuration %s: the value has %s", key, bad);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "configuration %s: the value has control byte 0x%02x at %zu",
                           key, c, i);
    }
    return KT_OK;
}

kt_status kt_aecs_config_add(kt_aecs_config *c, const char *key, size_t key_len, const char *value, size_t n)
{
    kt_status st = kt_aecs_config_key_check(key, key_len);
    if (st) return st;
    char k[KT_AECS_CONFIG_KEY_MAX + 1];
    memcpy(k, key, key_len);
    k[key_len] = '\0';
    if ((st = value_check(k, value, n))) return st;
    if (c->count >= KT_AECS_CONFIG_ITEMS_MAX)
        return kt_fail(KT_ERR_TOO_LARGE, "more than %d configuration items", KT_AECS_CONFIG_ITEMS_MAX);
    for (size_t i = 0; i < c->count; i++)
        if (!strcmp(c->items[i].key, k))
            return kt_fail(KT_ERR_EXISTS, "configuration key %s is given twice", k);
    kt_aecs_config_item *items = realloc(c->items, (c->count + 1) * sizeof *items);
    if (!items) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    c->items = items;
    char *kv = malloc(key_len + 1 + n + 1);
    if (!kv) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    memcpy(kv, k, key_len + 1);
    memcpy(kv + key_len + 1, value, n);
    kv[key_len + 1 + n] = '\0';
    items[c->count].key = kv;
    items[c->count].value = kv + key_len + 1;
    c->count++;
    return KT_OK;
}

/* {"items":[{"key":"k","value":"v"},...]}: exactly these names, strings only. */
static kt_status from_json(const char *text, size_t n, kt_aecs_config *c)
{
    static const char *const top[] = {"items", NULL}, *const item[] = {"key", "value", NULL};
    kt_y *doc = NULL;
    kt_status st = kt_json_parse(text, n, &doc);
    if (st) return kt_fail_context(st, "configurations (the original's JSON)");
    const kt_y *items = doc->kind == KT_Y_MAP ? kt_yaml_get(doc, "items") : NULL;
    if (doc->kind != KT_Y_MAP) st = kt_fail(KT_ERR_MALFORMED, "configurations: the JSON is not an object");
    if (!st) st = kt_yaml_known_keys(doc, top, "configurations");
    if (!st && items && items->kind != KT_Y_SEQ)
        st = kt_fail(KT_ERR_MALFORMED, "configurations: items is not a list (line %zu)", items->line);
    for (size_t i = 0; !st && items && i < items->count; i++) {
        const kt_y *it = items->items[i];
        char what[48];
        snprintf(what, sizeof what, "configurations: item %zu", i + 1);
        if (it->kind != KT_Y_MAP) {
            st = kt_fail(KT_ERR_MALFORMED, "%s is not an object (line %zu)", what, it->line);
            break;
        }
        if ((st = kt_yaml_known_keys(it, item, what))) break;
        const kt_y *k = kt_yaml_get(it, "key"), *v = kt_yaml_get(it, "value");
        const char *ks = k ? kt_yaml_string(k) : NULL, *vs = v ? kt_yaml_string(v) : "";
        if (!ks || !vs) {
            st = kt_fail(KT_ERR_MALFORMED, "%s: %s (line %zu)", what,
                         !ks ? "key must be a string" : "value must be a string", it->line);
            break;
        }
        st = kt_aecs_config_add(c, ks, strlen(ks), vs, strlen(vs));
        if (st) st = kt_fail_context(st, "%s (line %zu)", what, it->line);
    }
    kt_yaml_free(doc);
    return st;
}

/* key=value, one a line; blank lines and lines starting with '#' are skipped. */
static kt_status from_lines(const char *text, size_t n, kt_aecs_config *c)
{
    size_t line = 0;
    for (size_t at = 0; at < n;) {
        const char *l = text + at, *nl = memchr(l, '\n', n - at);
        size_t len = nl ? (size_t)(nl - l) : n - at;
        at += len + 1;
        line++;
        if (len == 0 || l[0] == '#') continue;
        const char *eq = memchr(l, '=', len);
        if (!eq) return kt_fail(KT_ERR_MALFORMED, "configurations: line %zu is not key=value", line);
        size_t kl = (size_t)(eq - l);
        kt_status st = kt_aecs_config_add(c, l, kl, eq + 1, len - kl - 1);
        if (st) return kt_fail_context(st, "configurations: line %zu", line);
    }
    return KT_OK;
}

kt_status kt_aecs_config_parse(const uint8_t *data, size_t n, kt_aecs_config *out)
{
    if (!out || (!data && n)) return kt_fail(KT_ERR_INVALID_ARGUMENT, "configurations: NULL argument");
    memset(out, 0, sizeof *out);
    const char *bad = kt_utf8_problem(data, n);
    if (bad) return kt_fail(KT_ERR_MALFORMED, "configurations: the data has %s", bad);
    size_t i = 0;
    while (i < n && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r'))
        i++;
    kt_status st = i < n && data[i] == '{' ? from_json((const char *)data, n, out)
                                           : from_lines((const char *)data, n, out);
    if (st) kt_aecs_config_free(out);
    return st;
}

static kt_status json_string(kt_buf *out, const char *s)
{
    kt_status st = kt_buf_append(out, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p && !st; p++) {
        if (*p == '"' || *p == '\\') st = kt_buf_printf(out, "\\%c", *p);
        else if (*p == '\n') st = kt_buf_append(out, "\\n", 2);
        else if (*p == '\t') st = kt_buf_append(out, "\\t", 2);
        else if (*p < 0x20 || *p == 0x7f) st = kt_buf_printf(out, "\\u%04x", *p);
        else st = kt_buf_append(out, p, 1);
    }
    return st ? st : kt_buf_append(out, "\"", 1);
}

kt_status kt_aecs_config_to_json(const kt_aecs_config *c, kt_buf *out)
{
    if (!c || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "configurations: NULL argument");
    if (!c->count) return kt_buf_append(out, "{}", 2);
    kt_status st = kt_buf_append(out, "{\"items\":[", 10);
    for (size_t i = 0; i < c->count && !st; i++) {
        st = kt_buf_append(out, i ? ",{\"key\":" : "{\"key\":", i ? 8 : 7);
        if (!st) st = json_string(out, c->items[i].key);
        if (!st) st = kt_buf_append(out, ",\"value\":", 9);
        if (!st) st = json_string(out, c->items[i].value);
        if (!st) st = kt_buf_append(out, "}", 1);
    }
    return st ? st : kt_buf_append(out, "]}", 2);
}

void kt_aecs_config_free(kt_aecs_config *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->count; i++) {
        size_t n = strlen(c->items[i].key) + 1 + strlen(c->items[i].value);
        kt_wipe(c->items[i].key, n);
        free(c->items[i].key);
    }
    free(c->items);
    memset(c, 0, sizeof *c);
}
