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

char *kt_escape(const void *in, size_t n, char *out, size_t out_cap)
{
    const uint8_t *p = in;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        bool plain = p[i] >= 0x20 && p[i] <= 0x7E;
        if (at + (plain ? 1 : 4) >= out_cap) break;
        if (plain) {
            out[at++] = (char)p[i];
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
