/* Hex, base64, and escaping bytes from input. */
#include <kubetee/base.h>

#include <string.h>

static const char hexdig[] = "0123456789abcdef";

kt_status kt_hex_encode(const uint8_t *in, size_t n, char *out, size_t out_cap)
{
    if (!out || (n && !in)) return kt_fail(KT_ERR_INVALID_ARGUMENT, "hex: NULL argument");
    if (n > (SIZE_MAX - 1) / 2 || out_cap < 2 * n + 1)
        return kt_fail(KT_ERR_BUFFER_TOO_SMALL, "hex: output needs %zu bytes", 2 * n + 1);
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdig[in[i] >> 4];
        out[2 * i + 1] = hexdig[in[i] & 15];
    }
    out[2 * n] = '\0';
    return KT_OK;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

kt_status kt_hex_decode(const char *hex, uint8_t *out, size_t out_len)
{
    if (!hex || (out_len && !out)) return kt_fail(KT_ERR_INVALID_ARGUMENT, "hex: NULL argument");
    size_t n = strlen(hex);
    if (n != 2 * out_len)
        return kt_fail(KT_ERR_MALFORMED, "hex: expected %zu digits, got %zu", 2 * out_len, n);
    for (size_t i = 0; i < out_len; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return kt_fail(KT_ERR_MALFORMED, "hex: bad digit at position %zu",
                           hi < 0 ? 2 * i : 2 * i + 1);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return KT_OK;
}

kt_status kt_decimal_parse(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "number: NULL argument");
    if (!s[0]) return kt_fail(KT_ERR_MALFORMED, "not a decimal number");
    if (s[0] == '0' && s[1]) return kt_fail(KT_ERR_MALFORMED, "a leading zero (decimal only)");
    uint64_t x = 0;
    for (const char *c = s; *c; c++) {
        if (*c < '0' || *c > '9') return kt_fail(KT_ERR_MALFORMED, "not a decimal number");
        unsigned d = (unsigned)(*c - '0');
        if (d > max || x > (max - d) / 10)
            return kt_fail(KT_ERR_MALFORMED, "over %llu", (unsigned long long)max);
        x = x * 10 + d;
    }
    *out = x;
    return KT_OK;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

kt_status kt_base64_encode(const uint8_t *in, size_t n, kt_buf *out)
{
    if (!out || (n && !in)) return kt_fail(KT_ERR_INVALID_ARGUMENT, "base64: NULL argument");
    size_t need = (n + 2) / 3 * 4 + 1;
    kt_status st = kt_buf_reserve(out, need);
    if (st) return st;
    char *o = (char *)out->data + out->len;
    size_t j = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n) v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n) v |= in[i + 2];
        o[j++] = b64[(v >> 18) & 63];
        o[j++] = b64[(v >> 12) & 63];
        o[j++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        o[j++] = i + 2 < n ? b64[v & 63] : '=';
    }
    o[j] = '\0';
    out->len += j;
    return KT_OK;
}

/* A character's value by range, not by searching the alphabet (PEM chains are decoded on
 * every cold verification). */
static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

kt_status kt_base64_decode(const char *in, size_t n, kt_buf *out)
{
    if (!out || (n && !in)) return kt_fail(KT_ERR_INVALID_ARGUMENT, "base64: NULL argument");
    if (n % 4) return kt_fail(KT_ERR_MALFORMED, "base64: length %zu is not a multiple of 4", n);
    kt_status st = kt_buf_reserve(out, n / 4 * 3);
    if (st) return st;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            char c = in[i + k];
            if (c == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad) return kt_fail(KT_ERR_MALFORMED, "base64: data after padding at %zu", i + k);
            v[k] = b64val(c);
            if (v[k] < 0) return kt_fail(KT_ERR_MALFORMED, "base64: bad character at %zu", i + k);
        }
        uint32_t w =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        uint8_t bytes[3] = {(uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w};
        memcpy(out->data + out->len, bytes, (size_t)(3 - pad));
        out->len += (size_t)(3 - pad);
    }
    return KT_OK;
}

kt_status kt_base64_decode_any(const char *in, size_t n, kt_buf *out)
{
    if (!out || (n && !in)) return kt_fail(KT_ERR_INVALID_ARGUMENT, "base64: NULL argument");
    size_t m = n;
    if (n % 4 == 0)
        for (int k = 0; k < 2 && m && in[m - 1] == '='; k++) m--;
    if (m % 4 == 1) return kt_fail(KT_ERR_MALFORMED, "base64: length %zu is not a base64 length", n);
    bool std_seen = false, url_seen = false;
    kt_buf t = {0};
    kt_status st = kt_buf_reserve(&t, m + 4);
    if (st) return st;
    for (size_t i = 0; i < m; i++) {
        char c = in[i];
        if (c == '+' || c == '/') std_seen = true;
        if (c == '-' || c == '_') {
            url_seen = true;
            c = c == '-' ? '+' : '/';
        }
        if (std_seen && url_seen) {
            kt_buf_free(&t);
            return kt_fail(KT_ERR_MALFORMED, "base64: standard and URL-safe alphabets mixed at %zu", i);
        }
        if (b64val(c) < 0) {
            kt_buf_free(&t);
            return kt_fail(KT_ERR_MALFORMED, "base64: bad character at %zu", i);
        }
        t.data[t.len++] = (uint8_t)c;
    }
    /* the last character's bits past the last whole byte */
    int spare = m % 4 == 2 ? 15 : m % 4 == 3 ? 3 : 0;
    if (spare && (b64val((char)t.data[m - 1]) & spare)) {
        kt_buf_free(&t);
        return kt_fail(KT_ERR_MALFORMED, "base64: bits after the last byte are not zero");
    }
    while (t.len % 4) t.data[t.len++] = '=';
    st = kt_base64_decode((const char *)t.data, t.len, out);
    kt_buf_free(&t);
    return st;
}

/* Well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF), no NUL. */
const char *kt_utf8_problem(const void *text, size_t n)
{
    const uint8_t *s = text;
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        if (c == 0) return "an embedded NUL";
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0)
            len = 2, cp = c & 0x1f, min = 0x80;
        else if ((c & 0xf0) == 0xe0)
            len = 3, cp = c & 0x0f, min = 0x800;
        else if ((c & 0xf8) == 0xf0)
            len = 4, cp = c & 0x07, min = 0x10000;
        else
            return "invalid UTF-8";
        if (n - i < len) return "invalid UTF-8";
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return "invalid UTF-8";
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return "invalid UTF-8";
        i += len;
    }
    return NULL;
}

/* input: ' " and \ too (\x27, \x22, \\), so a value between either quotes can neither
 * close them nor forge an escape; else (text already escaped) they pass, and escaped text
 * stays as it is. */
static char *escape(const void *in, size_t n, char *out, size_t out_cap, bool input)
{
    const uint8_t *p = in;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        bool quoting = input && (p[i] == '\'' || p[i] == '"' || p[i] == '\\');
        bool plain = p[i] >= 0x20 && p[i] <= 0x7E && !quoting;
        size_t w = plain ? 1 : p[i] == '\\' ? 2 : 4;
        if (at + w >= out_cap) break;
        if (plain) {
            out[at++] = (char)p[i];
        } else if (w == 2) {
            out[at++] = '\\';
            out[at++] = '\\';
        } else {
            out[at++] = '\\';
            out[at++] = 'x';
            out[at++] = hexdig[p[i] >> 4];
            out[at++] = hexdig[p[i] & 15];
        }
    }
    out[at] = '\0';
    return out;
}

char *kt_escape(const void *in, size_t n, char *out, size_t out_cap)
{
    return escape(in, n, out, out_cap, true);
}

char *kt_escape_text(const void *in, size_t n, char *out, size_t out_cap)
{
    return escape(in, n, out, out_cap, false);
}

bool kt_next_field(const char **p, const char *end, char *out, size_t cap)
{
    const char *s = *p;
    while (*p < end && **p != ' ')
        (*p)++;
    size_t n = (size_t)(*p - s);
    if (n == 0 || n >= cap) return false;
    memcpy(out, s, n);
    out[n] = 0;
    if (*p < end) (*p)++; /* the space */
    return true;
}
