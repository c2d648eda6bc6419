/* The AECS name grammar: [A-Za-z0-9] then [A-Za-z0-9._-]*, with a length limit per kind.
 * An allow-list: '/', "..", spaces, control and non-ASCII bytes all fall outside it. */
#include <kubetee/aecs_files.h>

static bool alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

kt_status kt_aecs_name_check(kt_aecs_name_kind kind, const void *name, size_t n)
{
    const char *what = kind == KT_AECS_NAME_SERVICE ? "service name"
                       : kind == KT_AECS_NAME_ADMIN ? "admin name"
                                                    : "secret name";
    size_t max = kind == KT_AECS_NAME_SERVICE ? KT_AECS_SERVICE_MAX : KT_AECS_NAME_MAX;
    const unsigned char *p = name;
    if (!p || n == 0) return kt_fail(KT_ERR_MALFORMED, "%s is empty", what);
    if (n > max) return kt_fail(KT_ERR_MALFORMED, "%s is %zu bytes, at most %zu", what, n, max);
    if (!alnum(p[0]))
        return kt_fail(KT_ERR_MALFORMED,
                       "%s must begin with a letter or digit (byte 0x%02x at offset 0)", what,
                       p[0]);
    for (size_t i = 1; i < n; i++)
        if (!alnum(p[i]) && p[i] != '.' && p[i] != '_' && p[i] != '-')
            return kt_fail(KT_ERR_MALFORMED,
                           "%s may hold only letters, digits, '.', '_' and '-' (byte 0x%02x at "
                           "offset %zu)",
                           what, p[i], i);
    return KT_OK;
}
