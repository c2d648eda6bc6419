/* The document tree both readers build, and what its users ask of it. */
#include "internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

void kt_yaml_free(kt_y *y)
{
    if (!y) return;
    for (size_t i = 0; i < y->count; i++)
        kt_yaml_free(y->items[i]);
    free(y->items);
    free(y->text);
    free(y);
}

/* items has room for the next power of two at or above count: it doubles when count
 * reaches one, so n items cost O(n) copies */
kt_status ky_add(kt_y *parent, kt_y *child)
{
    size_t n = parent->count;
    if ((n & (n - 1)) == 0) {
        kt_y **items = realloc(parent->items, (n ? 2 * n : 1) * sizeof *items);
        if (!items) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
        parent->items = items;
    }
    parent->items[parent->count++] = child;
    return KT_OK;
}

static int by_key(const void *a, const void *b)
{
    const kt_y *x = *(const kt_y *const *)a, *y = *(const kt_y *const *)b;
    int c = strcmp(x->text, y->text);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* A key given twice would leave the reader to pick one of two values: refused, in YAML
 * and in JSON alike. Sorted, so a mapping of many keys costs n log n. */
kt_status ky_unique_keys(const kt_y *map, const char *lang)
{
    size_t n = map->count / 2;
    if (n < 2) return KT_OK;
    const kt_y **keys = malloc(n * sizeof *keys);
    if (!keys) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < n; i++)
        keys[i] = map->items[2 * i];
    qsort(keys, n, sizeof *keys, by_key);
    kt_status st = KT_OK;
    for (size_t i = 1; !st && i < n; i++)
        if (!strcmp(keys[i - 1]->text, keys[i]->text)) {
            char esc[96];
            st = kt_fail(KT_ERR_MALFORMED,
                         "%s: key '%s' appears twice in a mapping (lines %zu and %zu)", lang,
                         kt_escape(keys[i]->text, strlen(keys[i]->text), esc, sizeof esc),
                         keys[i - 1]->line, keys[i]->line);
        }
    free(keys);
    return st;
}

kt_y *kt_yaml_get(const kt_y *map, const char *key)
{
    if (!map || map->kind != KT_Y_MAP || !key) return NULL;
    for (size_t i = 0; i + 1 < map->count; i += 2)
        if (strcmp(map->items[i]->text, key) == 0) return map->items[i + 1];
    return NULL;
}

kt_status kt_yaml_known_keys(const kt_y *map, const char *const *keys, const char *what)
{
    if (!map || !keys) return kt_fail(KT_ERR_INVALID_ARGUMENT, "yaml: NULL argument");
    if (map->kind != KT_Y_MAP)
        return kt_fail(KT_ERR_MALFORMED, "%s: not a mapping (line %zu)", what, map->line);
    for (size_t i = 0; i + 1 < map->count; i += 2) {
        const char *k = map->items[i]->text;
        size_t j = 0;
        while (keys[j] && strcmp(keys[j], k))
            j++;
        if (!keys[j]) {
            char esc[96];
            return kt_fail(KT_ERR_MALFORMED, "%s: unknown key '%s' (line %zu)", what,
                           kt_escape(k, strlen(k), esc, sizeof esc), map->items[i]->line);
        }
    }
    return KT_OK;
}

static kt_status not_int(const kt_y *v, const char *why)
{
    char esc[48];
    return kt_fail(KT_ERR_MALFORMED, "'%s' is %s (line %zu)",
                   kt_escape(v->text, strlen(v->text), esc, sizeof esc), why, v->line);
}

kt_status kt_yaml_int(const kt_y *v, long long min, long long max, long long *out)
{
    if (!v || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "yaml: NULL argument");
    if (v->kind != KT_Y_SCALAR || v->quoted)
        return kt_fail(KT_ERR_MALFORMED, "not a number (line %zu)", v->line);
    const char *s = v->text;
    bool neg = *s == '-';
    if (neg) s++;
    /* decimal digits only, no leading zero (JSON's grammar; YAML's "010" is refused too) */
    size_t len = strspn(s, "0123456789");
    if (!len || s[len] || (len > 1 && s[0] == '0') || (neg && min >= 0))
        return not_int(v, "not a decimal integer");
    unsigned long long x = 0, limit = neg ? 1ull << 63 : (1ull << 63) - 1;
    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (x > (limit - d) / 10) return not_int(v, "out of range");
        x = x * 10 + d;
    }
    long long r = neg ? (x == 1ull << 63 ? LLONG_MIN : -(long long)x) : (long long)x;
    if (r < min || r > max)
        return kt_fail(KT_ERR_MALFORMED, "%lld is out of range %lld..%lld (line %zu)", r, min, max,
                       v->line);
    *out = r;
    return KT_OK;
}

const char *kt_yaml_string(const kt_y *v)
{
    return v && v->kind == KT_Y_SCALAR && v->quoted ? v->text : NULL;
}
