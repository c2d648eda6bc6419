/* One line per event: key=value or JSON. The host writes lines to stderr with a
 * timestamp; inside an enclave (KT_TRUSTED) a sink set by the runtime carries them
 * to the host, because trusted code has no files and no clock. */
#include <kubetee/base.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef KT_TRUSTED
#include <time.h>
#include <unistd.h>
#endif

static kt_log_format log_format = KT_LOG_KV;
static kt_log_level log_min = KT_LOG_INFO;
static kt_log_sink log_sink;

static const char *level_names[] = {"debug", "info", "warn", "error"};

void kt_log_set_format(kt_log_format f)
{
    log_format = f;
}

void kt_log_set_level(kt_log_level min)
{
    log_min = min;
}

void kt_log_set_sink(kt_log_sink sink)
{
    log_sink = sink;
}

/* A line grows (on the heap, past its first 2 KiB) to hold every pair; a value longer
 * than VALUE_MAX input bytes is cut, visibly: "...[cut: N bytes]" inside its quotes.
 * Room for what closes a line ("}" and the newline) and for a log_cut pair is kept, so
 * a line that cannot grow (no memory) says so and is still one line of valid JSON. */
#define VALUE_MAX 8192
#define LINE_TAIL 48

typedef struct {
    char *p;
    size_t len, cap;
    bool full; /* it could not grow */
    char first[2048];
} line_buf;

/* n more bytes fit (growing the line), keeping the tail's room. */
static bool room(line_buf *l, size_t n)
{
    if (l->full) return false;
    if (l->len + n + LINE_TAIL <= l->cap) return true;
    size_t cap = l->cap * 2 > l->len + n + LINE_TAIL ? l->cap * 2 : l->len + n + LINE_TAIL + 1024;
    char *p = l->p == l->first ? malloc(cap) : realloc(l->p, cap);
    if (!p) return !(l->full = true);
    if (l->p == l->first) memcpy(p, l->first, l->len + 1);
    l->p = p;
    l->cap = cap;
    return true;
}

/* Appends s whole (a line's own punctuation), into the tail's room when needed. */
static void put_raw(line_buf *l, const char *s)
{
    size_t n = strlen(s);
    if (!room(l, n) && l->len + n + 1 > l->cap) n = l->cap - l->len - 1;
    memcpy(l->p + l->len, s, n);
    l->len += n;
    l->p[l->len] = '\0';
}

/* Appends s, quoted for the current format. Every byte outside printable ASCII is
 * escaped (\u00NN in JSON, \xNN otherwise), so a value that came from input can neither
 * start a line nor make the JSON invalid. false: the line could not grow. */
static bool put_value(line_buf *l, const char *s, size_t max)
{
    bool json = log_format == KT_LOG_JSON;
    size_t n = strlen(s), shown = n > max ? max : n;
    bool quote = json || !n || shown < n;
    for (size_t i = 0; i < shown && !quote; i++) {
        unsigned char c = (unsigned char)s[i];
        quote = c <= 0x20 || c >= 0x7f || c == '"' || c == '=' || c == '\\';
    }
    if (quote) put_raw(l, "\"");
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!room(l, 8)) return false;
        if (c == '"' || c == '\\') {
            l->p[l->len++] = '\\';
            l->p[l->len++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            l->len += (size_t)snprintf(l->p + l->len, l->cap - l->len, json ? "\\u%04x" : "\\x%02x", c);
        } else {
            l->p[l->len++] = (char)c;
        }
    }
    if (shown < n) {
        char cut[48];
        snprintf(cut, sizeof cut, "...[cut: %zu bytes]", n);
        if (!room(l, strlen(cut))) return false;
        put_raw(l, cut);
    }
    if (quote) put_raw(l, "\"");
    return true;
}

/* Appends one key and value; a line that cannot grow ends with log_cut (the pair and
 * the ones after it are not written) instead. false: it ended. */
static bool put_pair(line_buf *l, const char *k, const char *v, bool first)
{
    bool json = log_format == KT_LOG_JSON;
    size_t at = l->len;
    put_raw(l, json ? (first ? "{" : ",") : (first ? "" : " "));
    bool ok = put_value(l, k, VALUE_MAX) && (put_raw(l, json ? ":" : "="), true) && put_value(l, v ? v : "", VALUE_MAX);
    if (ok && !l->full) return true;
    l->len = at;
    l->p[at] = '\0';
    put_raw(l, json ? (first ? "{\"log_cut\":\"out of memory\"" : ",\"log_cut\":\"out of memory\"")
                    : (first ? "log_cut=\"out of memory\"" : " log_cut=\"out of memory\""));
    return false;
}

/* The line's fields: va_list pairs ending in NULL, or n pairs of an array. */
typedef struct {
    va_list *va;
    const char *const *kv;
    size_t n;
} fields;

static void emit(kt_log_level level, const char *event, fields *f)
{
    if (level < log_min || level > KT_LOG_ERROR) return;
    line_buf l = {.cap = sizeof l.first};
    l.p = l.first;
    l.p[0] = '\0';
    bool first = true, more = true;
#ifndef KT_TRUSTED
    if (!log_sink) {
        char ts[96];
        struct timespec now;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &now);
        gmtime_r(&now.tv_sec, &tm);
        snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 now.tv_nsec / 1000000);
        more = put_pair(&l, "ts", ts, true);
        first = false;
    }
#endif
    more = more && put_pair(&l, "level", level_names[level], first);
    more = more && put_pair(&l, "event", event, false);
    for (size_t i = 0; more; i++) {
        const char *k = f->va ? va_arg(*f->va, const char *) : i < f->n ? f->kv[2 * i] : NULL;
        if (!k) break;
        const char *v = f->va ? va_arg(*f->va, const char *) : f->kv[2 * i + 1];
        more = put_pair(&l, k, v, false);
    }
    if (log_format == KT_LOG_JSON) put_raw(&l, "}");
    if (log_sink) {
        log_sink(level, l.p);
    } else {
#ifndef KT_TRUSTED
        put_raw(&l, "\n");
        /* one write per line so lines from several threads never interleave */
        ssize_t w = write(2, l.p, l.len);
        (void)w;
#endif
    }
    if (l.p != l.first) free(l.p);
}

void kt_logv(kt_log_level level, const char *event, va_list kv)
{
    va_list copy;
    va_copy(copy, kv);
    fields f = {.va = &copy};
    emit(level, event, &f);
    va_end(copy);
}

void kt_log_fields(kt_log_level level, const char *event, const char *const *kv, size_t n)
{
    fields f = {.kv = kv, .n = n};
    emit(level, event, &f);
}

void kt_log(kt_log_level level, const char *event, ...)
{
    va_list kv;
    va_start(kv, event);
    kt_logv(level, event, kv);
    va_end(kv);
}
