/* The highest ISVSVN signed per (MRSIGNER, ISVPRODID), so a release can't be followed by
 * a signature for an older one that would then pass as current. The file is rewritten
 * atomically (temporary file, fsync, rename) before the signature is handed out; a file
 * that does not parse stops the signer rather than starting from nothing.
 *
 *   kubetee-signer state 1
 *   <MRSIGNER, 64 hex digits> <ISVPRODID> <ISVSVN>      one line each, decimal */
#include "signer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define STATE_HEADER "kubetee-signer state 1\n"
#define STATE_MAX (SG_MAX_KEYS * SG_MAX_PRODIDS)

typedef struct {
    uint8_t mrsigner[32];
    uint16_t prodid, svn;
} entry;

struct sg_state {
    char path[SG_PATH_MAX];
    pthread_mutex_t lock;
    entry e[STATE_MAX];
    size_t n;
};

static kt_status field(char **p, char *end, char *out, size_t cap, size_t line)
{
    char *s = *p;
    while (*p < end && **p != ' ' && **p != '\n')
        (*p)++;
    size_t n = (size_t)(*p - s);
    if (n == 0 || n >= cap)
        return kt_fail(KT_ERR_MALFORMED, "signer state: line %zu has a missing or overlong field",
                       line);
    memcpy(out, s, n);
    out[n] = 0;
    return KT_OK;
}

kt_status sg_state_parse(sg_state *s, const char *text, size_t n)
{
    size_t hl = strlen(STATE_HEADER);
    if (n < hl || memcmp(text, STATE_HEADER, hl))
        return kt_fail(KT_ERR_MALFORMED, "signer state: the first line is not '%.*s'",
                       (int)hl - 1, STATE_HEADER);
    char *buf = malloc(n + 1);
    if (!buf) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    memcpy(buf, text, n);
    buf[n] = 0;
    char *p = buf + hl, *end = buf + n;
    size_t line = 1, count = 0;
    kt_status st = KT_OK;
    while (!st && p < end) {
        line++;
        char hex[80], prod[16], svn[16];
        uint64_t pv, sv;
        entry e;
        if ((st = field(&p, end, hex, sizeof hex, line))) break;
        if (p >= end || *p++ != ' ' || (st = field(&p, end, prod, sizeof prod, line))) {
            st = st ? st : kt_fail(KT_ERR_MALFORMED, "signer state: line %zu is cut short", line);
            break;
        }
        if (p >= end || *p++ != ' ' || (st = field(&p, end, svn, sizeof svn, line))) {
            st = st ? st : kt_fail(KT_ERR_MALFORMED, "signer state: line %zu is cut short", line);
            break;
        }
        if (p >= end || *p++ != '\n') {
            st = kt_fail(KT_ERR_MALFORMED, "signer state: line %zu does not end after 3 fields",
                         line);
            break;
        }
        if (strlen(hex) != 64 || kt_hex_decode(hex, e.mrsigner, 32) ||
            kt_decimal_parse(prod, 65535, &pv) || kt_decimal_parse(svn, 65535, &sv)) {
            st = kt_fail(KT_ERR_MALFORMED, "signer state: line %zu is not '<MRSIGNER hex> "
                                           "<prodid> <svn>' in decimal",
                         line);
            break;
        }
        e.prodid = (uint16_t)pv;
        e.svn = (uint16_t)sv;
        for (size_t i = 0; !st && i < count; i++)
            if (!memcmp(s->e[i].mrsigner, e.mrsigner, 32) && s->e[i].prodid == e.prodid)
                st = kt_fail(KT_ERR_MALFORMED, "signer state: line %zu repeats a MRSIGNER and "
                                               "prodid",
                             line);
        if (!st && count == STATE_MAX)
            st = kt_fail(KT_ERR_TOO_LARGE, "signer state: more than %d entries", STATE_MAX);
        if (!st) s->e[count++] = e;
    }
    free(buf);
    if (!st) s->n = count;
    return st;
}

kt_status sg_state_open(const char *path, sg_state **out)
{
    if (!path || !out || strlen(path) >= SG_PATH_MAX)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "signer state: bad path");
    sg_state *s = calloc(1, sizeof *s);
    if (!s) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    snprintf(s->path, sizeof s->path, "%s", path);
    pthread_mutex_init(&s->lock, NULL);
    char name[256];
    kt_escape(path, strlen(path), name, sizeof name);
    kt_buf b = {0};
    kt_status st = kt_file_read(path, 1 << 20, &b);
    if (!st) st = sg_state_parse(s, (const char *)b.data, b.len);
    else if (st == KT_ERR_NOT_FOUND) st = KT_OK; /* nothing signed yet */
    kt_buf_free(&b);
    if (st) st = kt_fail_context(st, "%s", name);
    if (st) {
        sg_state_free(s);
        return st;
    }
    *out = s;
    return KT_OK;
}

void sg_state_free(sg_state *s)
{
    if (!s) return;
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static kt_status save(const sg_state *s)
{
    kt_buf b = {0};
    kt_status st = kt_buf_append(&b, STATE_HEADER, strlen(STATE_HEADER));
    for (size_t i = 0; !st && i < s->n; i++) {
        char hex[65], line[96];
        kt_hex_encode(s->e[i].mrsigner, 32, hex, sizeof hex);
        int len = snprintf(line, sizeof line, "%s %u %u\n", hex, (unsigned)s->e[i].prodid,
                           (unsigned)s->e[i].svn);
        st = kt_buf_append(&b, line, (size_t)len);
    }
    if (!st) st = kt_file_write_atomic(s->path, b.data, b.len, 0600);
    kt_buf_free(&b);
    return st;
}

kt_status sg_state_advance(sg_state *s, const uint8_t mrsigner[32], uint16_t prodid, uint16_t svn)
{
    pthread_mutex_lock(&s->lock);
    size_t i = 0;
    while (i < s->n && (memcmp(s->e[i].mrsigner, mrsigner, 32) || s->e[i].prodid != prodid))
        i++;
    kt_status st = KT_OK;
    if (i < s->n && svn < s->e[i].svn) {
        st = kt_fail(KT_ERR_DENIED, "ISVSVN %u for ISVPRODID %u is below %u, already signed "
                                    "with this key (ISVSVN must not go backwards)",
                     (unsigned)svn, (unsigned)prodid, (unsigned)s->e[i].svn);
    } else if (i == s->n || svn > s->e[i].svn) {
        entry old = i < s->n ? s->e[i] : (entry){{0}, 0, 0};
        if (i == s->n && s->n == STATE_MAX) {
            st = kt_fail(KT_ERR_TOO_LARGE, "signer state: more than %d entries", STATE_MAX);
        } else {
            memcpy(s->e[i].mrsigner, mrsigner, 32);
            s->e[i].prodid = prodid;
            s->e[i].svn = svn;
            size_t was = s->n;
            if (i == s->n) s->n++;
            if ((st = save(s))) { /* not recorded: not signed */
                s->n = was;
                if (i < was) s->e[i] = old;
                st = kt_fail_context(st, "recording ISVSVN");
            }
        }
    }
    pthread_mutex_unlock(&s->lock);
    return st;
}
