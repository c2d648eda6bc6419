/* etcd store URLs: "etcd://host:port[,host:port...][/namespace]" (docs/operations.md
 * "Running AECS on etcd"). Each endpoint is a DNS name, a dotted IPv4 address or an
 * [IPv6] address and a decimal port; the list names each member once. The bytes come from
 * an operator's config, but the parser treats them as untrusted (fuzz/fuzz_store.c). */
#include "backend.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define NS_DEFAULT "kubetee"

static bool name_byte(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

/* A DNS name or dotted IPv4 address: labels of [A-Za-z0-9-], 1..63 bytes, neither
 * beginning nor ending with '-', joined by single dots. */
static bool dns_name(const char *h, size_t n)
{
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        if (h[i] == '.') {
            if (label == 0 || h[i - 1] == '-') return false;
            label = 0;
        } else if (!name_byte(h[i]) || (label == 0 && h[i] == '-') || ++label > 63) {
            return false;
        }
    }
    return label > 0 && h[n - 1] != '-';
}

/* "[...]" holding hex digits, ':' and (for a mapped IPv4 tail) '.'. */
static bool v6_literal(const char *h, size_t n)
{
    if (n < 4 || h[0] != '[' || h[n - 1] != ']') return false;
    for (size_t i = 1; i + 1 < n; i++)
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f') || (h[i] >= 'A' && h[i] <= 'F') ||
              h[i] == ':' || h[i] == '.'))
            return false;
    return true;
}

/* 127.x.y.z written as four decimal parts 0..255, [::1], or "localhost". */
static bool loopback(const char *h)
{
    if (!strcasecmp(h, "localhost") || !strcmp(h, "[::1]")) return true;
    unsigned a, b, c, d;
    char end;
    return sscanf(h, "%3u.%3u.%3u.%3u%c", &a, &b, &c, &d, &end) == 4 && a == 127 && b < 256 && c < 256 &&
           d < 256;
}

static kt_status one_endpoint(const char *p, size_t n, const char *esc, kt_etcd_endpoint *ep)
{
    size_t colon = n;
    while (colon > 0 && p[colon - 1] != ':') colon--;
    bool ok = colon > 1 && colon - 1 < sizeof ep->host;
    size_t hl = ok ? colon - 1 : 0;
    if (ok) ok = p[0] == '[' ? v6_literal(p, hl) : dns_name(p, hl);
    char port[8] = "";
    uint64_t pn = 0;
    size_t pl = n - colon;
    if (ok && (pl == 0 || pl >= sizeof port)) ok = false;
    if (ok) {
        memcpy(port, p + colon, pl);
        ok = !kt_decimal_parse(port, 65535, &pn) && pn > 0;
    }
    if (!ok)
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "store %s: etcd needs host:port (a DNS name, IPv4 or [IPv6] address and a "
                       "port 1..65535) for each endpoint, as etcd://10.0.0.1:2379,10.0.0.2:2379/namespace",
                       esc);
    memcpy(ep->host, p, hl);
    ep->host[hl] = '\0';
    ep->port = (uint16_t)pn;
    ep->loopback = loopback(ep->host);
    return KT_OK;
}

kt_status kt_store_etcd_url_parse(const char *url, kt_etcd_url *out)
{
    char esc[256];
    memset(out, 0, sizeof *out);
    kt_escape(url, strlen(url), esc, sizeof esc);
    if (strncmp(url, "etcd://", 7))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "store %s: etcd URLs begin etcd://", esc);
    const char *rest = url + 7, *slash = strchr(rest, '/');
    size_t hp = slash ? (size_t)(slash - rest) : strlen(rest);
    for (size_t i = 0, start = 0; i <= hp; i++) {
        if (i < hp && rest[i] != ',') continue;
        if (out->n == KT_ETCD_ENDPOINTS_MAX)
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "store %s: more than %d etcd endpoints", esc,
                           KT_ETCD_ENDPOINTS_MAX);
        kt_etcd_endpoint *ep = &out->ep[out->n];
        kt_status st = one_endpoint(rest + start, i - start, esc, ep);
        if (st) return st;
        for (size_t j = 0; j < out->n; j++)
            if (out->ep[j].port == ep->port && !strcasecmp(out->ep[j].host, ep->host))
                return kt_fail(KT_ERR_INVALID_ARGUMENT, "store %s: endpoint %s:%u is named twice", esc, ep->host,
                               ep->port);
        out->n++;
        start = i + 1;
    }
    const char *n = slash && slash[1] ? slash + 1 : NS_DEFAULT;
    if (kt_store_key_check(n, strlen(n)))
        return kt_fail_context(KT_ERR_INVALID_ARGUMENT, "store %s: namespace", esc);
    if (strlen(n) > KT_STORE_KEY_MAX - 1)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "store %s: namespace too long", esc);
    strcpy(out->ns, n);
    return KT_OK;
}

size_t kt_store_etcd_url_format(const kt_etcd_url *u, char *out, size_t cap)
{
    size_t len = (size_t)snprintf(out, cap, "etcd://");
    for (size_t i = 0; i < u->n; i++)
        len += (size_t)snprintf(out + (len < cap ? len : cap), len < cap ? cap - len : 0, "%s%s:%u", i ? "," : "",
                                u->ep[i].host, u->ep[i].port);
    len += (size_t)snprintf(out + (len < cap ? len : cap), len < cap ? cap - len : 0, "/%s", u->ns);
    return len;
}
