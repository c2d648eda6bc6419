/* The enclave config: defaults, `key = value` text, range checks, binary encoding. */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_VERSION 1
#define MAX_TEXT 65536

void kt_enclave_config_default(kt_enclave_config *c)
{
    memset(c, 0, sizeof *c);
    c->heap_size = 1u << 20;
    c->stack_size = 64u << 10;
    c->max_message_size = 1u << 20;
    c->tcs_count = 4;
    c->debug = false;
    c->xfrm = KT_XFRM_DEFAULT;
}

kt_status kt_enclave_config_check(const kt_enclave_config *c)
{
    if (!c) return kt_fail(KT_ERR_INVALID_ARGUMENT, "config: NULL");
    if (c->heap_size == 0 || c->heap_size % KT_PAGE_SIZE || c->heap_size > (16ull << 30))
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "config: heap_size %llu must be a non-zero multiple of 4096 up to 16G",
                       (unsigned long long)c->heap_size);
    if (c->stack_size == 0 || c->stack_size % KT_PAGE_SIZE || c->stack_size > (256u << 20))
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "config: stack_size %llu must be a non-zero multiple of 4096 up to 256M",
                       (unsigned long long)c->stack_size);
    if (c->tcs_count == 0 || c->tcs_count > 256)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "config: tcs_count %u must be 1..256",
                       c->tcs_count);
    if (c->max_message_size < 64 || c->max_message_size > (256u << 20))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "config: max_message_size %llu must be 64..256M",
                       (unsigned long long)c->max_message_size);
    kt_status st = kt_xfrm_check(c->xfrm);
    return st ? kt_fail_context(st, "config: xfrm") : KT_OK;
}

/* How a value is written: decimal; decimal with an optional K, M or G; or hex, which
 * must say so with 0x. Never base 0: "010" is refused, not read as 8. */
typedef enum { NUM_DECIMAL, NUM_SIZE, NUM_HEX } num_kind;

static kt_status parse_u64(const char *key, const char *v, num_kind kind, uint64_t max,
                           uint64_t *out)
{
    static const char *what[] = {"a decimal number", "a size (decimal with optional K, M or G)",
                                 "a hex number written 0x..."};
    char digits[24];
    size_t n = strlen(v);
    uint64_t mul = 1, x = 0;
    if (kind == NUM_HEX) {
        if (n < 3 || n > 18 || v[0] != '0' || v[1] != 'x' ||
            strspn(v + 2, "0123456789abcdefABCDEF") != n - 2)
            return kt_fail(KT_ERR_MALFORMED, "config: %s: '%s' is not %s", key, v, what[kind]);
        for (const char *p = v + 2; *p; p++)
            x = x << 4 |
                (uint64_t)(isdigit((unsigned char)*p) ? *p - '0'
                                                      : (toupper((unsigned char)*p) - 'A' + 10));
    } else {
        if (kind == NUM_SIZE && n > 1) {
            const char *units = "KMG", *u = strchr(units, toupper((unsigned char)v[n - 1]));
            if (u && *u) {
                mul = 1ull << (10 * (u - units + 1));
                n--;
            }
        }
        if (n == 0 || n >= sizeof digits)
            return kt_fail(KT_ERR_MALFORMED, "config: %s: '%s' is not %s", key, v, what[kind]);
        memcpy(digits, v, n);
        digits[n] = '\0';
        if (kt_decimal_parse(digits, UINT64_MAX, &x))
            return kt_fail(KT_ERR_MALFORMED, "config: %s: '%s' is not %s", key, v, what[kind]);
    }
    if (x > max / mul) return kt_fail(KT_ERR_MALFORMED, "config: %s: %s is too large", key, v);
    *out = x * mul;
    return KT_OK;
}

static kt_status set_key(kt_enclave_config *c, const char *key, const char *v)
{
    uint64_t x = 0;
    kt_status st;
    if (!strcmp(key, "heap_size") || !strcmp(key, "stack_size") ||
        !strcmp(key, "max_message_size")) {
        if ((st = parse_u64(key, v, NUM_SIZE, 1ull << 40, &x))) return st;
        *(key[0] == 'h'   ? &c->heap_size
          : key[0] == 's' ? &c->stack_size
                          : &c->max_message_size) = x;
    } else if (!strcmp(key, "tcs_count")) {
        if ((st = parse_u64(key, v, NUM_DECIMAL, UINT32_MAX, &x))) return st;
        c->tcs_count = (uint32_t)x;
    } else if (!strcmp(key, "prodid") || !strcmp(key, "svn")) {
        if ((st = parse_u64(key, v, NUM_DECIMAL, UINT16_MAX, &x))) return st;
        *(key[0] == 'p' ? &c->prodid : &c->svn) = (uint16_t)x;
    } else if (!strcmp(key, "xfrm")) {
        if ((st = parse_u64(key, v, NUM_HEX, UINT64_MAX, &x))) return st;
        c->xfrm = x;
    } else if (!strcmp(key, "debug")) {
        if (!strcmp(v, "true"))
            c->debug = true;
        else if (!strcmp(v, "false"))
            c->debug = false;
        else
            return kt_fail(KT_ERR_MALFORMED, "config: debug: '%s' is not true or false", v);
    } else {
        return kt_fail(KT_ERR_MALFORMED, "config: unknown key '%s'", key);
    }
    return KT_OK;
}

static const char *const keys[] = {
    "heap_size", "stack_size", "max_message_size", "tcs_count", "prodid", "svn", "debug", "xfrm"};
#define NKEYS (sizeof keys / sizeof keys[0])

/* The key's index, NKEYS for an unknown key (set_key names it). */
static size_t key_index(const char *key)
{
    size_t i = 0;
    while (i < NKEYS && strcmp(keys[i], key) != 0)
        i++;
    return i;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

kt_status kt_enclave_config_parse(const char *text, size_t n, kt_enclave_config *c)
{
    if (!text || !c) return kt_fail(KT_ERR_INVALID_ARGUMENT, "config: NULL argument");
    if (n > MAX_TEXT) return kt_fail(KT_ERR_TOO_LARGE, "config: %zu bytes is over %d", n, MAX_TEXT);
    kt_enclave_config work = *c;
    size_t line_no = 0, first_line[NKEYS] = {0};
    for (size_t at = 0; at < n;) {
        size_t end = at;
        while (end < n && text[end] != '\n')
            end++;
        char line[512];
        size_t len = end - at;
        line_no++;
        if (len >= sizeof line)
            return kt_fail(KT_ERR_MALFORMED, "config: line %zu is too long", line_no);
        memcpy(line, text + at, len);
        line[len] = '\0';
        at = end + 1;
        if (strlen(line) != len)
            return kt_fail(KT_ERR_MALFORMED, "config: line %zu contains a NUL byte", line_no);
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        char *s = trim(line);
        if (!*s) continue;
        char *eq = strchr(s, '=');
        if (!eq)
            return kt_fail(KT_ERR_MALFORMED, "config: line %zu: expected key = value", line_no);
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        size_t k = key_index(key);
        if (k < NKEYS && first_line[k])
            return kt_fail(KT_ERR_MALFORMED, "config: line %zu: '%s' is already set on line %zu",
                           line_no, key, first_line[k]);
        if (k < NKEYS) first_line[k] = line_no;
        kt_status st = set_key(&work, key, val);
        if (st) return kt_fail_context(st, "line %zu", line_no);
    }
    kt_status st = kt_enclave_config_check(&work);
    if (st) return st;
    *c = work;
    return KT_OK;
}

void kt_config_encode(const kt_enclave_config *c, uint8_t out[KT_CONFIG_BLOB_LEN])
{
    memset(out, 0, KT_CONFIG_BLOB_LEN);
    kt_put_le32(out + 0, CONFIG_VERSION);
    kt_put_le32(out + 4, c->tcs_count);
    kt_put_le64(out + 8, c->heap_size);
    kt_put_le64(out + 16, c->stack_size);
    kt_put_le64(out + 24, c->max_message_size);
    kt_put_le16(out + 32, c->prodid);
    kt_put_le16(out + 34, c->svn);
    kt_put_le32(out + 36, c->debug ? 1u : 0u);
}

kt_status kt_config_decode(const uint8_t in[KT_CONFIG_BLOB_LEN], kt_enclave_config *c)
{
    if (kt_le32(in) != CONFIG_VERSION)
        return kt_fail(KT_ERR_MALFORMED, "config block version %u is not %d", kt_le32(in),
                       CONFIG_VERSION);
    uint32_t flags = kt_le32(in + 36);
    if (flags & ~1u) return kt_fail(KT_ERR_MALFORMED, "config block has unknown flags 0x%x", flags);
    for (int i = 40; i < KT_CONFIG_BLOB_LEN; i++)
        if (in[i]) return kt_fail(KT_ERR_MALFORMED, "config block reserved byte %d is not zero", i);
    c->tcs_count = kt_le32(in + 4);
    c->heap_size = kt_le64(in + 8);
    c->stack_size = kt_le64(in + 16);
    c->max_message_size = kt_le64(in + 24);
    c->prodid = kt_le16(in + 32);
    c->svn = kt_le16(in + 34);
    c->debug = flags & 1u;
    c->xfrm = KT_XFRM_DEFAULT; /* not in the block: the loader takes SIGSTRUCT's */
    return kt_enclave_config_check(c);
}
