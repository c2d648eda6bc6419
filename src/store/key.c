/* Store keys: the allow-list, namespace prefixes and the fs file-name mapping. */
#include "backend.h"

#include <string.h>

static bool allowed(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

kt_status kt_store_key_check(const void *key, size_t n)
{
    const uint8_t *k = key;
    if (!k || n == 0) return kt_fail(KT_ERR_INVALID_ARGUMENT, "store key: empty");
    if (n > KT_STORE_KEY_MAX)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "store key: %zu bytes is over the limit of %d", n,
                       KT_STORE_KEY_MAX);
    size_t seg = 0; /* start of the current segment */
    for (size_t i = 0; i <= n; i++) {
        if (i == n || k[i] == '/') {
            size_t len = i - seg;
            if (len == 0)
                return kt_fail(KT_ERR_INVALID_ARGUMENT, "store key: empty segment at byte %zu", i);
            if ((len == 1 && k[seg] == '.') || (len == 2 && k[seg] == '.' && k[seg + 1] == '.'))
                return kt_fail(KT_ERR_INVALID_ARGUMENT, "store key: segment '%.*s' at byte %zu",
                               (int)len, (const char *)k + seg, seg);
            seg = i + 1;
            continue;
        }
        if (!allowed(k[i])) {
            const char *what = k[i] < 0x20 || k[i] == 0x7f ? "control byte"
                               : k[i] >= 0x80              ? "non-ASCII byte"
                                                           : "byte";
            return kt_fail(KT_ERR_INVALID_ARGUMENT,
                           "store key: %s 0x%02x at byte %zu (allowed: A-Z a-z 0-9 . _ - and '/' "
                           "between segments)",
                           what, k[i], i);
        }
    }
    return KT_OK;
}

kt_status kt_store_prefix_check(const char *prefix)
{
    if (!prefix) return kt_fail(KT_ERR_INVALID_ARGUMENT, "store prefix: NULL");
    size_t n = strlen(prefix);
    if (n == 0) return KT_OK;
    if (prefix[n - 1] != '/')
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "store prefix: a namespace ends in '/' (a prefix never matches part of a "
                       "name)");
    if (kt_store_key_check(prefix, n - 1))
        return kt_fail_context(KT_ERR_INVALID_ARGUMENT, "prefix");
    return KT_OK;
}

kt_status kt_store_version_check(const char *key, bool exists, uint64_t cur, uint64_t expected,
                                 bool any)
{
    if (any && exists) return KT_OK;
    if (!exists && (any || expected > 0))
        return kt_fail(KT_ERR_NOT_FOUND, "store: %s does not exist (expected version %llu)", key,
                       (unsigned long long)expected);
    if (exists && expected == 0)
        return kt_fail(KT_ERR_EXISTS, "store: %s exists (version %llu)", key,
                       (unsigned long long)cur);
    if (cur != expected)
        return kt_fail(KT_ERR_STATE, "store: %s is at version %llu, not the expected %llu", key,
                       (unsigned long long)cur, (unsigned long long)expected);
    return KT_OK;
}

bool kt_store_in_prefix(const char *key, const char *prefix)
{
    return strncmp(key, prefix, strlen(prefix)) == 0;
}

kt_status kt_store_fs_name(const char *key, char out[KT_STORE_FS_NAME_MAX + 1])
{
    kt_status st = kt_store_key_check(key, key ? strlen(key) : 0);
    if (st) return st;
    size_t o = 0;
    out[o++] = 'o';
    out[o++] = '.';
    for (const char *p = key; *p; p++) {
        if (*p == '_' || *p == '/') {
            out[o++] = '_';
            out[o++] = *p == '_' ? '_' : 's';
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
    return KT_OK;
}

kt_status kt_store_fs_key(const char *name, char out[KT_STORE_KEY_MAX + 1])
{
    if (strncmp(name, "o.", 2) != 0)
        return kt_fail(KT_ERR_MALFORMED, "not an object file name (no \"o.\")");
    size_t o = 0;
    for (const char *p = name + 2; *p; p++) {
        char c = *p;
        if (c == '_') {
            p++;
            if (*p == '_')
                c = '_';
            else if (*p == 's')
                c = '/';
            else
                return kt_fail(KT_ERR_MALFORMED,
                               "object file name: '_' not followed by '_' or 's'");
        } else if (c == '/') {
            return kt_fail(KT_ERR_MALFORMED, "object file name: a raw '/' (written \"_s\")");
        }
        if (o == KT_STORE_KEY_MAX)
            return kt_fail(KT_ERR_MALFORMED, "object file name: key over %d bytes",
                           KT_STORE_KEY_MAX);
        out[o++] = c;
    }
    out[o] = '\0';
    if (kt_store_key_check(out, o)) return kt_fail_context(KT_ERR_MALFORMED, "object file name");
    return KT_OK;
}
