/* One line per event: key=value or JSON. The host writes lines to stderr with a
 * timestamp; inside an enclave (KT_TRUSTED) a sink set by the runtime carries them
 * to the host, because trusted code has no files and no clock. */
#include <kubetee/base.h>

#include <stdio.h>
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

/* Room kept at the end of a line for what closes it ("}" and the newline), so a line
 * cut short by long values is still one line of valid JSON. */
#define LINE_TAIL 4

/* Appends s to line, quoting for the current format. Every byte outside printable
 * ASCII is escaped (\u00NN in JSON, \xNN otherwise), so a value that came from input
 * can neither start a line nor make the JSON invalid. */
static void put_value(char *line, size_t cap, size_t *at, const char *s)
{
    bool json = log_format == KT_LOG_JSON;
    bool quote = json || !*s;
    for (const unsigned char *p = (const unsigned char *)s; *p && !quote; p++)
        quote = *p <= 0x20 || *p >= 0x7f || *p == '"' || *p == '=' || *p == '\\';
    cap -= LINE_TAIL;
    if (*at + 1 >= cap) return;
    if (quote) line[(*at)++] = '"';
    for (; *s && *at + 8 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            line[(*at)++] = '\\';
            line[(*at)++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            *at += (size_t)snprintf(line + *at, cap - *at, json ? "\\u%04x" : "\\x%02x", c);
        } else {
            line[(*at)++] = (char)c;
        }
    }
    if (quote) line[(*at)++] = '"';
    line[*at] = '\0';
}

static void put_raw(char *line, size_t cap, size_t *at, const char *s)
{
    size_t n = strlen(s);
    if (*at + n >= cap) n = cap - *at - 1;
    memcpy(line + *at, s, n);
    *at += n;
    line[*at] = '\0';
}

/* Appends one key and value; a pair with no room left for its key is dropped whole, a
 * long value is cut short but still closed. */
static void put_pair(char *line, size_t cap, size_t *at, const char *k, const char *v, bool first)
{
    if (*at + 6 * strlen(k) + 16 >= cap - LINE_TAIL) return;
    if (log_format == KT_LOG_JSON) {
        put_raw(line, cap, at, first ? "{" : ",");
        put_value(line, cap, at, k);
        put_raw(line, cap, at, ":");
    } else {
        if (!first) put_raw(line, cap, at, " ");
        put_raw(line, cap, at, k);
        put_raw(line, cap, at, "=");
    }
    put_value(line, cap, at, v ? v : "");
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
    char line[2048];
    size_t at = 0;
    line[0] = '\0';
    bool first = true;
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
        put_pair(line, sizeof line, &at, "ts", ts, true);
        first = false;
    }
#endif
    put_pair(line, sizeof line, &at, "level", level_names[level], first);
    put_pair(line, sizeof line, &at, "event", event, false);
    for (size_t i = 0;; i++) {
        const char *k = f->va ? va_arg(*f->va, const char *) : i < f->n ? f->kv[2 * i] : NULL;
        if (!k) break;
        const char *v = f->va ? va_arg(*f->va, const char *) : f->kv[2 * i + 1];
        put_pair(line, sizeof line, &at, k, v, false);
    }
    if (log_format == KT_LOG_JSON) put_raw(line, sizeof line, &at, "}");
    if (log_sink) {
        log_sink(level, line);
        return;
    }
#ifndef KT_TRUSTED
    put_raw(line, sizeof line, &at, "\n");
    /* one write per line so lines from several threads never interleave */
    ssize_t w = write(2, line, at);
    (void)w;
#endif
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
