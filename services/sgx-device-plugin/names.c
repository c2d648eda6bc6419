/* Names and sizes kubelet holds the plugin to: extended resource names (kubelet refuses a
 * registration whose name fails v1helper.IsExtendedResourceName) and the size of a
 * ListAndWatch response (kubelet's client reads at most KT_DP_KUBELET_MAX_MESSAGE). */
#include "plugin.h"

#include <string.h>

static bool alnum_lower(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool alnum(char c)
{
    return alnum_lower(c) || (c >= 'A' && c <= 'Z');
}

/* RFC 1123 subdomain: labels of [a-z0-9-], each starting and ending alphanumeric. */
static bool dns_subdomain(const char *s, size_t n)
{
    if (n == 0 || n > 253) return false;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.') {
            if (!alnum_lower(s[i]) && s[i] != '-') return false;
            continue;
        }
        if (i == start || !alnum_lower(s[start]) || !alnum_lower(s[i - 1])) return false;
        start = i + 1;
    }
    return true;
}

const char *kt_dp_resource_name_invalid(const char *name)
{
    const char *slash = strchr(name, '/');
    if (!slash) return "has no domain prefix ('<domain>/<name>')";
    if (strchr(slash + 1, '/')) return "has more than one '/'";
    if (strstr(name, "kubernetes.io/")) return "is in a kubernetes.io domain (native resources)";
    if (!strncmp(name, "requests.", 9)) return "starts with 'requests.'";
    size_t plen = (size_t)(slash - name), nlen = strlen(slash + 1);
    /* kubelet checks "requests." + name as a qualified name */
    if (plen + 9 > 253 || !dns_subdomain(name, plen))
        return "has a prefix that is not a DNS subdomain of at most 244 characters";
    const char *n = slash + 1;
    if (nlen == 0 || nlen > 63) return "has a name part that is empty or over 63 characters";
    if (!alnum(n[0]) || !alnum(n[nlen - 1]))
        return "has a name part not starting and ending alphanumeric";
    for (size_t i = 0; i < nlen; i++)
        if (!alnum(n[i]) && n[i] != '-' && n[i] != '_' && n[i] != '.')
            return "has a name part with a character other than [A-Za-z0-9-_.]";
    return NULL;
}

static size_t varint_len(size_t v)
{
    size_t n = 1;
    while (v >= 0x80)
        v >>= 7, n++;
    return n;
}

size_t kt_dp_list_bytes(const char *prefix, unsigned count)
{
    size_t total = 0, plen = strlen(prefix) + 1; /* "<prefix>-" */
    size_t digits = 1;
    unsigned long next = 10;
    for (unsigned long i = 0; i < count; i++) {
        if (i == next) digits++, next *= 10;
        size_t id = plen + digits;
        size_t dev = 1 + varint_len(id) + id + 1 + 1 + strlen("Unhealthy");
        total += 1 + varint_len(dev) + dev; /* repeated Device devices = 1 */
    }
    return total;
}

unsigned kt_dp_epc_unit_auto(uint64_t epc_mib)
{
    unsigned unit = 1;
    while (unit < (1u << 30) && epc_mib / unit > 0 &&
           kt_dp_list_bytes("epc",
                            (unsigned)(epc_mib / unit > UINT32_MAX ? UINT32_MAX : epc_mib / unit)) >
               KT_DP_LIST_BUDGET)
        unit *= 2;
    return unit;
}
