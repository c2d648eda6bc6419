/* One setting's value, as text from a file, a variable or a flag, checked by its type
 * and written to its field. Numbers are plain decimal (kt_decimal_parse): no sign, base
 * prefix, leading zero, space or trailing byte. */
#include "settings_internal.h"

#include <ctype.h>
#include <string.h>

bool kt_setting_is_text(const kt_setting *t)
{
    return t->type == KT_SET_STRING || t->type == KT_SET_PATH || t->type == KT_SET_ENUM ||
           t->type == KT_SET_LIST;
}

const char *kt_setting_unit(const kt_setting *t)
{
    return t->unit_ms == 1000 ? "s" : "ms";
}

void kt_setting_flag(const kt_setting *t, char out[KT_SET_NAME_MAX])
{
    snprintf(out, KT_SET_NAME_MAX, "%s", t->flag ? t->flag : t->name);
    for (char *p = out; !t->flag && *p; p++)
        if (*p == '.' || *p == '_') *p = '-';
}

void kt_setting_env(const kt_settings_spec *s, const kt_setting *t, char out[KT_SET_NAME_MAX])
{
    if (t->env) {
        snprintf(out, KT_SET_NAME_MAX, "%s", t->env);
        return;
    }
    snprintf(out, KT_SET_NAME_MAX, "%s%s", s->env_prefix, t->name);
    for (char *p = out + strlen(s->env_prefix); *p; p++)
        *p = *p == '.' || *p == '-' ? '_' : (char)toupper((unsigned char)*p);
}

/* The value as errors show it: escaped, or not at all for a secret. */
static const char *shown(const kt_setting *t, const char *v, char *buf, size_t cap)
{
    if (t->opts & KT_SET_SECRET) return "(secret, not shown)";
    size_t n = strlen(v);
    kt_escape(v, n, buf + 1, cap - 2);
    buf[0] = '\'';
    size_t k = strlen(buf);
    buf[k] = '\'';
    buf[k + 1] = '\0';
    return buf;
}

#define BAD(fmt, ...)                                                                              \
    kt_fail(KT_ERR_MALFORMED, "%s: %s " fmt ", not %s", from, t->name, __VA_ARGS__,                \
            shown(t, v, sv, sizeof sv))

static kt_status text(const kt_setting *t, void *obj, const char *v, const char *from)
{
    char sv[96];
    size_t n = strlen(v);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return BAD("must be one line of text%s", " (no control bytes)");
    if (n >= t->size)
        return kt_fail(KT_ERR_TOO_LARGE, "%s: %s is over %zu bytes", from, t->name, t->size - 1);
    if (t->type == KT_SET_PATH && n && (t->opts & KT_SET_ABSOLUTE) && v[0] != '/')
        return BAD("must be an absolute path%s", "");
    if (t->type == KT_SET_ENUM) {
        size_t i = 0;
        while (t->words[i] && strcmp(t->words[i], v))
            i++;
        if (!t->words[i]) {
            char list[256] = "";
            for (size_t j = 0; t->words[j]; j++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                         j == 0            ? ""
                         : t->words[j + 1] ? ", "
                                           : " or ",
                         t->words[j]);
            return BAD("must be %s", list);
        }
    }
    if (t->type == KT_SET_LIST) {
        uint64_t items = 0;
        for (const char *p = v; n && p <= v + n;) {
            size_t len = strcspn(p, ",");
            if (!len || p[0] == ' ' || p[len - 1] == ' ')
                return BAD("must be items separated by commas%s", " (none empty or padded)");
            for (const char *q = v; q < p; q += strcspn(q, ",") + 1)
                if (strcspn(q, ",") == len && !memcmp(q, p, len))
                    return BAD("must name each item once%s", "");
            items++;
            p += len + 1;
        }
        if (items < t->min || (t->max && items > t->max))
            return BAD("must be %llu to %llu items", (unsigned long long)t->min,
                       (unsigned long long)(t->max ? t->max : 1000000));
    }
    memcpy((char *)obj + t->off, v, n + 1);
    return KT_OK;
}

static void put(const kt_setting *t, void *obj, uint64_t x)
{
    if (t->size == sizeof(uint32_t)) {
        uint32_t y = (uint32_t)x;
        memcpy((char *)obj + t->off, &y, sizeof y);
    } else {
        memcpy((char *)obj + t->off, &x, sizeof x);
    }
}

kt_status kt_setting_set(const kt_setting *t, void *obj, const char *v, const char *from)
{
    char sv[96];
    if (kt_setting_is_text(t)) return text(t, obj, v, from);
    if (t->type == KT_SET_BOOL) {
        if (strcmp(v, "true") && strcmp(v, "false")) return BAD("must be true or false%s", "");
        bool b = v[0] == 't';
        memcpy((char *)obj + t->off, &b, sizeof b);
        return KT_OK;
    }
    /* x in ms per mult (a bare number: the field's unit), the field's value x * mult / unit */
    uint64_t x = 0, unit = t->unit_ms ? t->unit_ms : 1, mult = unit;
    size_t digits = strspn(v, "0123456789");
    char num[24];
    if (t->type == KT_SET_DURATION && v[digits]) {
        static const struct {
            const char *suffix;
            uint64_t ms;
        } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
        mult = 0;
        for (size_t u = 0; u < 4; u++)
            if (!strcmp(v + digits, units[u].suffix)) mult = units[u].ms;
    }
    bool ok = digits && digits < sizeof num && mult && (t->type == KT_SET_DURATION || !v[digits]);
    if (ok) {
        memcpy(num, v, digits);
        num[digits] = '\0';
    }
    unsigned long long lo = t->min, hi = t->max;
    const char *u = t->type == KT_SET_DURATION ? kt_setting_unit(t) : "";
    if (!ok || kt_decimal_parse(num, UINT64_MAX / mult, &x))
        return t->type == KT_SET_UINT ? BAD("must be a decimal number %llu..%llu", lo, hi)
                                      : BAD("must be a duration %llu..%llu %s (a decimal number, "
                                            "or with ms, s, m or h)",
                                            lo, hi, u);
    if (x * mult % unit) return BAD("must be a whole number of %s", u);
    if (x * mult / unit < t->min || x * mult / unit > t->max)
        return BAD("must be %llu..%llu%s%s", lo, hi, u[0] ? " " : "", u);
    put(t, obj, x * mult / unit);
    return KT_OK;
}
