/* Subject alternative names: a strict list grammar, read here before any of it reaches
 * OpenSSL's extension syntax (which has sections, directory names and other forms that
 * no caller of ours means). */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static bool ipv4(const char *s, size_t n)
{
    unsigned parts = 0, value = 0, digits = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (!digits || value > 255 || (digits > 1 && s[i - digits] == '0')) return false;
            parts++, value = 0, digits = 0;
        } else if (s[i] >= '0' && s[i] <= '9' && digits < 3) {
            value = value * 10 + (unsigned)(s[i] - '0'), digits++;
        } else {
            return false;
        }
    }
    return parts == 4;
}

/* Hex groups of 1..4 and colons, one "::" at most, 2..7 colons (no embedded IPv4). */
static bool ipv6(const char *s, size_t n)
{
    unsigned colons = 0, group = 0, doubles = 0;
    if (n < 2 || n > 39) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == ':') {
            colons++, group = 0;
            if (i + 1 < n && s[i + 1] == ':') doubles++;
        } else if (((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) && group < 4) {
            group++;
        } else {
            return false;
        }
    }
    if (strstr(s, ":::")) return false; /* s is NUL-terminated at n */
    return colons >= 2 && colons <= 7 && doubles <= 1 && (doubles || colons == 7) &&
           (s[0] != ':' || s[1] == ':') && (s[n - 1] != ':' || s[n - 2] == ':');
}

static bool hostname(const char *s, size_t n)
{
    if (n == 0 || n > 253) return false;
    size_t label = 0;
    if (n > 2 && s[0] == '*' && s[1] == '.') s += 2, n -= 2; /* a wildcard, first only */
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (!label || label > 63 || s[i - 1] == '-' || s[i - label] == '-') return false;
            label = 0;
        } else if ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
                   s[i] == '-') {
            label++;
        } else {
            return false;
        }
    }
    return true;
}

/* Checks the list and, when out is given, writes it in OpenSSL's form ("DNS:a,IP:b"). */
kt_status kt_cert_san_normalize(const char *san, char *out, size_t cap)
{
    if (out && cap) out[0] = '\0';
    if (!san || !*san) return KT_OK;
    size_t total = strlen(san), at = 0, count = 0;
    char shown[96];
    if (total > KT_CERT_SAN_MAX)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "san is %zu bytes, at most %d", total, KT_CERT_SAN_MAX);
    for (const char *p = san; *p;) {
        const char *comma = strchr(p, ','), *end = comma ? comma : p + strlen(p);
        size_t n = (size_t)(end - p);
        if (++count > KT_CERT_SANS_MAX)
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "san has more than %d names", KT_CERT_SANS_MAX);
        const char *v = p, *kind;
        size_t vn = n;
        if (n > 4 && !strncmp(p, "DNS:", 4)) {
            v += 4, vn -= 4, kind = "DNS";
        } else if (n > 3 && !strncmp(p, "IP:", 3)) {
            v += 3, vn -= 3, kind = "IP";
        } else {
            char tmp[64];
            bool looks_ip = n < sizeof tmp && (memcpy(tmp, p, n), tmp[n] = '\0', ipv4(tmp, n) || ipv6(tmp, n));
            kind = looks_ip ? "IP" : "DNS";
        }
        char val[256];
        bool ok = vn < sizeof val;
        if (ok) memcpy(val, v, vn), val[vn] = '\0';
        ok = ok && (!strcmp(kind, "DNS") ? hostname(val, vn) : ipv4(val, vn) || ipv6(val, vn));
        if (!ok)
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "san name %zu '%s' is not %s", count,
                           kt_escape(p, n, shown, sizeof shown),
                           !strcmp(kind, "DNS") ? "a host name (labels of letters, digits and '-', an optional "
                                                  "leading '*.'), IP:a.b.c.d or IP:<IPv6>"
                                                : "an IPv4 or IPv6 address");
        if (out) {
            int w = snprintf(out + at, cap - at, "%s%s:%s", at ? "," : "", kind, val);
            if (w < 0 || (size_t)w >= cap - at) return kt_fail(KT_ERR_TOO_LARGE, "san does not fit");
            at += (size_t)w;
        }
        p = comma ? comma + 1 : end;
        if (comma && !*p) return kt_fail(KT_ERR_INVALID_ARGUMENT, "san ends with a comma");
    }
    return KT_OK;
}

kt_status kt_cert_san_check(const char *san)
{
    return kt_cert_san_normalize(san, NULL, 0);
}
