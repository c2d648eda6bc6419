/* What printing and parsing share: field paths, the type check, the depth limit. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static size_t append(pj_path *p, const char *s, size_t n)
{
    size_t before = p->len, room = sizeof p->text - 4 - p->len;
    if (p->len >= sizeof p->text - 4) return before;
    if (n > room) {
        memcpy(p->text + p->len, s, room);
        p->len += room;
        memcpy(p->text + p->len, "...", 4);
        p->len += 3;
        return before;
    }
    memcpy(p->text + p->len, s, n);
    p->len += n;
    p->text[p->len] = '\0';
    return before;
}

size_t pj_push_field(pj_path *p, const char *name)
{
    size_t before = p->len;
    if (p->len) append(p, ".", 1);
    append(p, name, strlen(name));
    return before;
}

size_t pj_push_index(pj_path *p, size_t i)
{
    char s[32];
    int n = snprintf(s, sizeof s, "[%zu]", i);
    return append(p, s, (size_t)n);
}

size_t pj_push_key(pj_path *p, const char *key, size_t n)
{
    char esc[96];
    kt_escape(key, n, esc, sizeof esc);
    size_t before = append(p, "[\"", 2);
    append(p, esc, strlen(esc));
    append(p, "\"]", 2);
    return before;
}

void pj_pop(pj_path *p, size_t len)
{
    p->len = len;
    p->text[len] = '\0';
}

const char *pj_where(const pj_path *p)
{
    return p->len ? p->text : "(top level)";
}

kt_status pj_check_type(const ProtobufCMessageDescriptor *d, const pj_path *p)
{
    if (d->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "pbjson: %s: not a message descriptor", pj_where(p));
    if (strncmp(d->name, "google.protobuf.", 16) == 0)
        return kt_fail(KT_ERR_UNSUPPORTED, "pbjson: %s: %s has a JSON form of its own, not supported",
                       pj_where(p), d->name);
    return KT_OK;
}

unsigned pj_max_depth(const kt_pbjson_options *opt)
{
    return opt && opt->max_depth ? opt->max_depth : KT_PBJSON_MAX_DEPTH;
}
