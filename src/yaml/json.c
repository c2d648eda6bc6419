/* kubetee's own JSON reader: RFC 8259 exactly, into the document tree. No extensions:
 * no comments, trailing commas, single quotes, leading zeros, '+', NaN, bare control
 * characters, byte order mark, invalid UTF-8, unknown escapes or lone surrogates; a
 * key given twice is refused; depth, node count and size are bounded. Each error names
 * the line and column and what was wrong. Used in plain processes and in enclaves. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *s;
    size_t n, i;
    size_t line, line_start; /* 1-based line of s[i], offset its line starts at */
    size_t nodes;
} reader;

static kt_status bad_at(const reader *r, size_t at, kt_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static kt_status bad_at(const reader *r, size_t at, kt_status st, const char *fmt, ...)
{
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return kt_fail(st, "JSON: line %zu, column %zu: %s", r->line, at - r->line_start + 1, what);
}
#define BAD(r, ...) bad_at((r), (r)->i, KT_ERR_MALFORMED, __VA_ARGS__)

/* The byte at i for a message: 'x' when printable, else its code. */
static const char *shown(const reader *r, char out[16])
{
    if (r->i >= r->n) return "the end of the document";
    unsigned char c = (unsigned char)r->s[r->i];
    if (c >= 0x21 && c <= 0x7e)
        snprintf(out, 16, "'%c'", c);
    else
        snprintf(out, 16, "byte 0x%02x", c);
    return out;
}

static void skip_ws(reader *r)
{
    while (r->i < r->n) {
        char c = r->s[r->i];
        if (c == '\n') {
            r->line++;
            r->line_start = r->i + 1;
        } else if (c != ' ' && c != '\t' && c != '\r') {
            return;
        }
        r->i++;
    }
}

static kt_status new_node(reader *r, kt_y_kind kind, kt_y **out)
{
    if (++r->nodes > KT_YAML_MAX_NODES)
        return bad_at(r, r->i, KT_ERR_TOO_LARGE, "more than %d values", KT_YAML_MAX_NODES);
    kt_y *y = calloc(1, sizeof *y);
    if (!y) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    y->kind = kind;
    y->line = r->line;
    y->start = r->i;
    *out = y;
    return KT_OK;
}

static int hex4(const char *p)
{
    int v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p[k];
        int d = c >= '0' && c <= '9' ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return -1;
        v = v << 4 | d;
    }
    return v;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A string at r->i (the opening quote) into a quoted scalar. Escapes never grow what
 * they stand for, so the text fits in the bytes between the quotes. */
static kt_status string(reader *r, kt_y **out)
{
    kt_y *y = NULL;
    kt_status st = new_node(r, KT_Y_SCALAR, &y);
    if (st) return st;
    y->quoted = true;
    size_t from = ++r->i, end = from;
    while (end < r->n && r->s[end] != '"')
        end += r->s[end] == '\\' ? 2 : 1;
    if (end >= r->n) {
        kt_yaml_free(y);
        return bad_at(r, from - 1, KT_ERR_MALFORMED, "a string is not closed");
    }
    const char *utf8 = kt_utf8_problem(r->s + from, end - from);
    char *o = y->text = malloc(end - from + 1);
    if (!o) {
        kt_yaml_free(y);
        return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    }
    while (!st && r->i < end) {
        unsigned char c = (unsigned char)r->s[r->i];
        if (c < 0x20) {
            st = BAD(r, "a string holds control character 0x%02x (it must be escaped)", c);
        } else if (c >= 0x80 || c != '\\') {
            *o++ = (char)c;
            r->i++;
        } else {
            char e = r->s[r->i + 1];
            const char *simple = strchr("\"\\/bfnrt", e);
            if (e && simple) {
                *o++ = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
                r->i += 2;
                continue;
            }
            if (e != 'u') {
                char sh[16];
                r->i++;
                st = BAD(r, "unknown escape '\\' followed by %s", shown(r, sh));
                break;
            }
            int cp = end - r->i >= 6 ? hex4(r->s + r->i + 2) : -1;
            if (cp < 0) {
                st = BAD(r, "\\u is not followed by four hex digits");
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                st = BAD(r, "\\u%04X is a low surrogate with no high surrogate before it", cp);
            } else if (cp >= 0xd800 && cp <= 0xdbff) {
                int lo = end - r->i >= 12 && r->s[r->i + 6] == '\\' && r->s[r->i + 7] == 'u'
                             ? hex4(r->s + r->i + 8)
                             : -1;
                if (lo < 0xdc00 || lo > 0xdfff)
                    st = BAD(r, "\\u%04X is a high surrogate not followed by a low one", cp);
                else {
                    o += put_utf8(o, 0x10000 + (((unsigned)cp - 0xd800) << 10) +
                                         ((unsigned)lo - 0xdc00));
                    r->i += 12;
                }
            } else if (cp == 0) {
                st = BAD(r, "a string holds \\u0000 (NUL), which no reader here accepts");
            } else {
                o += put_utf8(o, (unsigned)cp);
                r->i += 6;
            }
        }
    }
    if (!st && utf8 && strcmp(utf8, "an embedded NUL")) st = BAD(r, "a string is not valid UTF-8");
    if (st) {
        kt_yaml_free(y);
        return st;
    }
    *o = '\0';
    r->i = end + 1;
    y->end = r->i;
    *out = y;
    return KT_OK;
}

static size_t digits(const reader *r, size_t i)
{
    size_t k = i;
    while (k < r->n && r->s[k] >= '0' && r->s[k] <= '9')
        k++;
    return k - i;
}

/* -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?, kept as written */
static kt_status number(reader *r, kt_y **out)
{
    size_t i = r->i;
    if (r->s[i] == '-') i++;
    size_t d = digits(r, i);
    if (!d) return bad_at(r, i, KT_ERR_MALFORMED, "a '-' not followed by a digit");
    if (r->s[i] == '0' && d > 1)
        return bad_at(r, i, KT_ERR_MALFORMED, "a number with a leading zero");
    i += d;
    if (i < r->n && r->s[i] == '.') {
        if (!(d = digits(r, ++i)))
            return bad_at(r, i, KT_ERR_MALFORMED, "a '.' not followed by a digit");
        i += d;
    }
    if (i < r->n && (r->s[i] == 'e' || r->s[i] == 'E')) {
        i++;
        if (i < r->n && (r->s[i] == '+' || r->s[i] == '-')) i++;
        if (!(d = digits(r, i)))
            return bad_at(r, i, KT_ERR_MALFORMED, "an exponent without digits");
        i += d;
    }
    kt_y *y = NULL;
    kt_status st = new_node(r, KT_Y_SCALAR, &y);
    if (st) return st;
    if (!(y->text = malloc(i - r->i + 1))) {
        kt_yaml_free(y);
        return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    }
    memcpy(y->text, r->s + r->i, i - r->i);
    y->text[i - r->i] = '\0';
    r->i = y->end = i;
    *out = y;
    return KT_OK;
}

static kt_status literal(reader *r, kt_y **out)
{
    static const char *const words[] = {"true", "false", "null"};
    for (int k = 0; k < 3; k++) {
        size_t len = strlen(words[k]);
        if (r->n - r->i >= len && !memcmp(r->s + r->i, words[k], len)) {
            kt_y *y = NULL;
            kt_status st = new_node(r, KT_Y_SCALAR, &y);
            if (st) return st;
            if (!(y->text = strdup(words[k]))) {
                kt_yaml_free(y);
                return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
            }
            r->i = y->end = r->i + len;
            *out = y;
            return KT_OK;
        }
    }
    char sh[16];
    return BAD(r, "unexpected %s where a value should be", shown(r, sh));
}

static kt_status value(reader *r, int depth, kt_y **out);

/* An object or array at r->i; close is '}' or ']'. */
static kt_status container(reader *r, int depth, kt_y **out)
{
    bool map = r->s[r->i] == '{';
    char close = map ? '}' : ']';
    if (depth >= KT_YAML_MAX_DEPTH) return BAD(r, "nested deeper than %d", KT_YAML_MAX_DEPTH);
    kt_y *y = NULL;
    kt_status st = new_node(r, map ? KT_Y_MAP : KT_Y_SEQ, &y);
    if (st) return st;
    r->i++;
    skip_ws(r);
    char sh[16];
    if (r->i < r->n && r->s[r->i] == close) {
        r->i++;
    } else {
        for (;;) {
            kt_y *item = NULL;
            skip_ws(r);
            if (map) {
                if (r->i >= r->n || r->s[r->i] != '"') {
                    st = BAD(r, "%s where a key (a string) should be", shown(r, sh));
                    break;
                }
                if ((st = string(r, &item))) break;
                if ((st = ky_add(y, item))) {
                    kt_yaml_free(item);
                    break;
                }
                skip_ws(r);
                if (r->i >= r->n || r->s[r->i] != ':') {
                    st = BAD(r, "%s where ':' should follow a key", shown(r, sh));
                    break;
                }
                r->i++;
            }
            if ((st = value(r, depth + 1, &item))) break;
            if ((st = ky_add(y, item))) {
                kt_yaml_free(item);
                break;
            }
            skip_ws(r);
            if (r->i < r->n && r->s[r->i] == ',') {
                r->i++;
                skip_ws(r);
                if (r->i < r->n && r->s[r->i] == close) {
                    st = BAD(r, "a ',' before '%c' (trailing commas are not JSON)", close);
                    break;
                }
                continue;
            }
            if (r->i < r->n && r->s[r->i] == close) {
                r->i++;
                break;
            }
            st = BAD(r, "%s where ',' or '%c' should be", shown(r, sh), close);
            break;
        }
    }
    if (!st && map) st = ky_unique_keys(y, "JSON");
    if (st) {
        kt_yaml_free(y);
        return st;
    }
    y->end = r->i;
    *out = y;
    return KT_OK;
}

static kt_status value(reader *r, int depth, kt_y **out)
{
    skip_ws(r);
    char sh[16];
    if (r->i >= r->n) return BAD(r, "the document ends where a value should be");
    char c = r->s[r->i];
    if (c == '{' || c == '[') return container(r, depth, out);
    if (c == '"') return string(r, out);
    if (c == '-' || (c >= '0' && c <= '9')) return number(r, out);
    if (c == 't' || c == 'f' || c == 'n') return literal(r, out);
    if (r->n - r->i >= 3 && !memcmp(r->s + r->i, "\xef\xbb\xbf", 3))
        return BAD(r, "a byte order mark (JSON text has none)");
    return BAD(r, "unexpected %s where a value should be", shown(r, sh));
}

kt_status kt_json_parse(const char *text, size_t n, kt_y **out)
{
    if (!text || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "JSON: NULL argument");
    *out = NULL;
    if (n > KT_YAML_MAX_BYTES)
        return kt_fail(KT_ERR_TOO_LARGE, "JSON: document of %zu bytes, over %u", n,
                       KT_YAML_MAX_BYTES);
    reader r = {.s = text, .n = n, .line = 1};
    skip_ws(&r);
    if (r.i >= n) return kt_fail(KT_ERR_MALFORMED, "JSON: empty document");
    kt_y *root = NULL;
    kt_status st = value(&r, 0, &root);
    if (st) return st;
    skip_ws(&r);
    if (r.i < n) {
        char sh[16];
        st = BAD(&r, "%s after the document's value", shown(&r, sh));
        kt_yaml_free(root);
        return st;
    }
    *out = root;
    return KT_OK;
}
