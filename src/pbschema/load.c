/* FileDescriptorProtos -> protobuf-c descriptors made at run time. Each message gets a
 * layout of its own (protobuf-c needs only that offsets, quantifiers and sizeof agree):
 * the ProtobufCMessage header, then per field a count and a pointer (repeated), or the
 * value; a oneof's members share one case word. message_init stays NULL, which protobuf-c
 * answers with its generic initialisation. */
#define _GNU_SOURCE /* qsort_r */
#include "internal.h"

#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILES 256
#define MAX_NESTING 32

typedef struct {
    const char *name; /* full, no leading dot */
    bool is_enum, map_entry;
    const char *package;
    const Google__Protobuf__DescriptorProto *msg;
    const Google__Protobuf__EnumDescriptorProto *en;
    ProtobufCMessageDescriptor *md;
    ProtobufCEnumDescriptor *ed;
} entry;

struct kt_pbschema {
    ps_arena arena;
    entry *types;
    size_t n;
    Google__Protobuf__FileDescriptorProto *files[MAX_FILES];
    size_t n_files;
};

static kt_status nomem(void)
{
    return kt_fail(KT_ERR_NO_MEMORY, "pbschema: out of memory");
}

static bool ident(const char *s)
{
    if (!s || !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_')) return false;
    for (s++; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

static bool dotted(const char *s)
{
    char part[256];
    while (*s) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        if (n == 0 || n >= sizeof part) return false;
        memcpy(part, s, n);
        part[n] = '\0';
        if (!ident(part)) return false;
        s += n + (dot ? 1 : 0);
        if (dot && !*s) return false;
    }
    return true;
}

static const char *esc(const char *s, char *buf, size_t cap)
{
    return kt_escape(s ? s : "(none)", s ? strlen(s) : 6, buf, cap);
}

static kt_status add_type(kt_pbschema *s, const char *prefix, const char *name, const char *pkg,
                          const Google__Protobuf__DescriptorProto *m, const Google__Protobuf__EnumDescriptorProto *e)
{
    char b[96];
    if (!ident(name)) return kt_fail(KT_ERR_MALFORMED, "pbschema: type name \"%s\" is not an identifier", esc(name, b, sizeof b));
    if (s->n >= KT_PBSCHEMA_MAX_TYPES) return kt_fail(KT_ERR_TOO_LARGE, "pbschema: more than %d types", KT_PBSCHEMA_MAX_TYPES);
    size_t n = strlen(prefix) + strlen(name) + 2;
    char *full = ps_alloc(&s->arena, n);
    if (!full) return nomem();
    snprintf(full, n, "%s%s%s", prefix, *prefix ? "." : "", name);
    entry *t = &s->types[s->n++];
    t->name = full;
    t->package = pkg;
    t->msg = m;
    t->en = e;
    t->is_enum = e != NULL;
    t->map_entry = m && m->options && m->options->has_map_entry && m->options->map_entry;
    return KT_OK;
}

static kt_status add_message_types(kt_pbschema *s, const char *prefix, const char *pkg,
                                   const Google__Protobuf__DescriptorProto *m, int depth)
{
    if (depth > MAX_NESTING) return kt_fail(KT_ERR_TOO_LARGE, "pbschema: types nest deeper than %d", MAX_NESTING);
    kt_status st = add_type(s, prefix, m->name, pkg, m, NULL);
    if (st) return st;
    const char *full = s->types[s->n - 1].name;
    if (m->n_extension || m->n_extension_range)
        return kt_fail(KT_ERR_UNSUPPORTED, "pbschema: %s has extensions (proto3 has none)", full);
    for (size_t i = 0; i < m->n_nested_type; i++)
        if ((st = add_message_types(s, full, pkg, m->nested_type[i], depth + 1))) return st;
    for (size_t i = 0; i < m->n_enum_type; i++)
        if ((st = add_type(s, full, m->enum_type[i]->name, pkg, NULL, m->enum_type[i]))) return st;
    return KT_OK;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

static entry *lookup(const kt_pbschema *s, const char *name)
{
    entry key = {.name = name};
    return bsearch(&key, s->types, s->n, sizeof *s->types, by_name);
}

/* ---- enums ---- */

static int by_value(const void *a, const void *b)
{
    int x = ((const ProtobufCEnumValue *)a)->value, y = ((const ProtobufCEnumValue *)b)->value;
    return (x > y) - (x < y);
}

static int by_value_name(const void *a, const void *b)
{
    return strcmp(((const ProtobufCEnumValueIndex *)a)->name, ((const ProtobufCEnumValueIndex *)b)->name);
}

static kt_status build_enum(kt_pbschema *s, entry *t)
{
    const Google__Protobuf__EnumDescriptorProto *e = t->en;
    ProtobufCEnumDescriptor *ed = t->ed;
    size_t n = e->n_value;
    char b[96];
    if (n == 0 || n > KT_PBSCHEMA_MAX_FIELDS)
        return kt_fail(KT_ERR_MALFORMED, "pbschema: enum %s has %zu values (1 to %d)", t->name, n, KT_PBSCHEMA_MAX_FIELDS);
    if (e->options && e->options->has_allow_alias && e->options->allow_alias)
        return kt_fail(KT_ERR_UNSUPPORTED, "pbschema: enum %s allows aliases", t->name);
    ProtobufCEnumValue *v = ps_alloc(&s->arena, n * sizeof *v);
    ProtobufCEnumValueIndex *names = ps_alloc(&s->arena, n * sizeof *names);
    ProtobufCIntRange *ranges = ps_alloc(&s->arena, (n + 1) * sizeof *ranges);
    if (!v || !names || !ranges) return nomem();
    for (size_t i = 0; i < n; i++) {
        const Google__Protobuf__EnumValueDescriptorProto *p = e->value[i];
        if (!ident(p->name))
            return kt_fail(KT_ERR_MALFORMED, "pbschema: enum %s: value name \"%s\" is not an identifier", t->name,
                           esc(p->name, b, sizeof b));
        if (!p->has_number) return kt_fail(KT_ERR_MALFORMED, "pbschema: enum %s: %s has no number", t->name, p->name);
        if (i == 0 && p->number != 0)
            return kt_fail(KT_ERR_MALFORMED, "pbschema: enum %s: the first value must be 0 (proto3)", t->name);
        v[i].name = v[i].c_name = p->name;
        v[i].value = p->number;
    }
    qsort(v, n, sizeof *v, by_value);
    size_t nr = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && v[i].value == v[i - 1].value)
            return kt_fail(KT_ERR_MALFORMED, "pbschema: enum %s: %s and %s both have the number %d", t->name,
                           v[i - 1].name, v[i].name, v[i].value);
        if (!i || v[i].value != v[i - 1].value + 1) ranges[nr++] = (ProtobufCIntRange){v[i].value, (unsigned)i};
        names[i] = (ProtobufCEnumValueIndex){v[i].name, (unsigned)i};
    }
    ranges[nr] = (ProtobufCIntRange){0, (unsigned)n};
    qsort(names, n, sizeof *names, by_value_name);
    for (size_t i = 1; i < n; i++)
        if (!strcmp(names[i].name, names[i - 1].name))
            return kt_fail(KT_ERR_MALFORMED, "pbschema: enum %s: two values are named %s", t->name, names[i].name);
    ed->magic = PROTOBUF_C__ENUM_DESCRIPTOR_MAGIC;
    ed->name = ed->c_name = t->name;
    ed->short_name = e->name;
    ed->package_name = t->package;
    ed->n_values = ed->n_value_names = (unsigned)n;
    ed->values = v;
    ed->values_by_name = names;
    ed->n_value_ranges = (unsigned)nr;
    ed->value_ranges = ranges;
    return KT_OK;
}

/* ---- messages ---- */

static size_t align_up(size_t x, size_t a)
{
    return (x + a - 1) / a * a;
}

static int by_number(const void *a, const void *b)
{
    int32_t x = (*(Google__Protobuf__FieldDescriptorProto *const *)a)->number;
    int32_t y = (*(Google__Protobuf__FieldDescriptorProto *const *)b)->number;
    return (x > y) - (x < y);
}

static int by_field_name(const void *a, const void *b, void *fields)
{
    const ProtobufCFieldDescriptor *f = fields;
    return strcmp(f[*(const unsigned *)a].name, f[*(const unsigned *)b].name);
}

static bool packable(ProtobufCType t)
{
    return t != PROTOBUF_C_TYPE_STRING && t != PROTOBUF_C_TYPE_BYTES && t != PROTOBUF_C_TYPE_MESSAGE;
}

static kt_status build_field(kt_pbschema *s, entry *t, const Google__Protobuf__FieldDescriptorProto *p,
                             ProtobufCFieldDescriptor *f, size_t *off, size_t *oneof_case)
{
    const Google__Protobuf__DescriptorProto *m = t->msg;
    char b[96];
    if (!ident(p->name))
        return kt_fail(KT_ERR_MALFORMED, "pbschema: %s: field name \"%s\" is not an identifier", t->name,
                       esc(p->name, b, sizeof b));
    if (!p->has_number || p->number < 1 || p->number > 536870911 || (p->number >= 19000 && p->number <= 19999))
        return kt_fail(KT_ERR_MALFORMED, "pbschema: %s.%s: field number %d is not a usable one", t->name, p->name,
                       p->number);
    if (!p->has_label || (p->label != GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_OPTIONAL &&
                          p->label != GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED))
        return kt_fail(KT_ERR_UNSUPPORTED, "pbschema: %s.%s: label %d (proto3 has optional and repeated)", t->name,
                       p->name, p->label);
    if (p->has_proto3_optional && p->proto3_optional)
        return kt_fail(KT_ERR_UNSUPPORTED, "pbschema: %s.%s: proto3 optional is not supported", t->name, p->name);
    if (p->default_value || p->extendee)
        return kt_fail(KT_ERR_UNSUPPORTED, "pbschema: %s.%s: defaults and extensions are proto2", t->name, p->name);
    ProtobufCType type;
    if (!p->has_type || !ps_type_from_proto(p->type, &type))
        return kt_fail(KT_ERR_UNSUPPORTED, "pbschema: %s.%s: field type %d", t->name, p->name, p->type);
    char json[256];
    kt_status st = kt_pbschema_json_name(p->name, json, sizeof json);
    if (st) return st;
    if (p->json_name && strcmp(p->json_name, json))
        return kt_fail(KT_ERR_UNSUPPORTED, "pbschema: %s.%s: a custom json_name (\"%s\") is not supported", t->name,
                       p->name, esc(p->json_name, b, sizeof b));
    f->name = p->name;
    f->id = (uint32_t)p->number;
    f->type = type;
    bool repeated = p->label == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED;
    f->label = repeated ? PROTOBUF_C_LABEL_REPEATED : PROTOBUF_C_LABEL_NONE;
    if (type == PROTOBUF_C_TYPE_MESSAGE || type == PROTOBUF_C_TYPE_ENUM) {
        entry *ref = p->type_name && p->type_name[0] == '.' ? lookup(s, p->type_name + 1) : NULL;
        if (!ref || ref->is_enum != (type == PROTOBUF_C_TYPE_ENUM))
            return kt_fail(KT_ERR_MALFORMED, "pbschema: %s.%s: type \"%s\" is not a known %s", t->name, p->name,
                           esc(p->type_name, b, sizeof b), type == PROTOBUF_C_TYPE_ENUM ? "enum" : "message");
        f->descriptor = ref->is_enum ? (const void *)ref->ed : (const void *)ref->md;
        if (ref->map_entry && !repeated)
            return kt_fail(KT_ERR_MALFORMED, "pbschema: %s.%s: a map entry type in a singular field", t->name, p->name);
    } else if (p->type_name) {
        return kt_fail(KT_ERR_MALFORMED, "pbschema: %s.%s: a type name on a scalar field", t->name, p->name);
    }
    if (repeated && packable(type) && !(p->options && p->options->has_packed && !p->options->packed))
        f->flags |= PROTOBUF_C_FIELD_FLAG_PACKED;
    size_t vsize = kt_pbschema_value_size(type);
    if (p->has_oneof_index) {
        if (p->oneof_index < 0 || (size_t)p->oneof_index >= m->n_oneof_decl || repeated)
            return kt_fail(KT_ERR_MALFORMED, "pbschema: %s.%s: oneof index %d", t->name, p->name, p->oneof_index);
        size_t *c = &oneof_case[p->oneof_index];
        if (!*c) {
            *off = align_up(*off, alignof(uint32_t));
            *c = *off;
            *off += sizeof(uint32_t);
        }
        f->quantifier_offset = (unsigned)*c;
        f->flags |= PROTOBUF_C_FIELD_FLAG_ONEOF;
    } else if (repeated) {
        *off = align_up(*off, alignof(size_t));
        f->quantifier_offset = (unsigned)*off;
        *off += sizeof(size_t);
        vsize = sizeof(void *);
    }
    *off = align_up(*off, 8);
    f->offset = (unsigned)*off;
    *off += vsize;
    return KT_OK;
}

static kt_status build_message(kt_pbschema *s, entry *t)
{
    const Google__Protobuf__DescriptorProto *m = t->msg;
    ProtobufCMessageDescriptor *md = t->md;
    size_t n = m->n_field;
    char b[96];
    if (n > KT_PBSCHEMA_MAX_FIELDS)
        return kt_fail(KT_ERR_TOO_LARGE, "pbschema: %s has more than %d fields", t->name, KT_PBSCHEMA_MAX_FIELDS);
    for (size_t i = 0; i < m->n_oneof_decl; i++)
        if (!ident(m->oneof_decl[i]->name))
            return kt_fail(KT_ERR_MALFORMED, "pbschema: %s: oneof name \"%s\" is not an identifier", t->name,
                           esc(m->oneof_decl[i]->name, b, sizeof b));
    Google__Protobuf__FieldDescriptorProto **sorted = ps_alloc(&s->arena, (n + 1) * sizeof *sorted);
    ProtobufCFieldDescriptor *fields = ps_alloc(&s->arena, (n + 1) * sizeof *fields);
    unsigned *by_name_idx = ps_alloc(&s->arena, (n + 1) * sizeof *by_name_idx);
    ProtobufCIntRange *ranges = ps_alloc(&s->arena, (n + 1) * sizeof *ranges);
    size_t *oneof_case = ps_alloc(&s->arena, (m->n_oneof_decl + 1) * sizeof *oneof_case);
    if (!sorted || !fields || !by_name_idx || !ranges || !oneof_case) return nomem();
    if (n) memcpy(sorted, m->field, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, by_number);
    size_t off = sizeof(ProtobufCMessage), nr = 0;
    for (size_t i = 0; i < n; i++) {
        kt_status st = build_field(s, t, sorted[i], &fields[i], &off, oneof_case);
        if (st) return st;
        if (i && fields[i].id == fields[i - 1].id)
            return kt_fail(KT_ERR_MALFORMED, "pbschema: %s: %s and %s both have the number %u", t->name,
                           fields[i - 1].name, fields[i].name, fields[i].id);
        if (!i || fields[i].id != fields[i - 1].id + 1) ranges[nr++] = (ProtobufCIntRange){(int)fields[i].id, (unsigned)i};
        by_name_idx[i] = (unsigned)i;
    }
    ranges[nr] = (ProtobufCIntRange){0, (unsigned)n};
    qsort_r(by_name_idx, n, sizeof *by_name_idx, by_field_name, fields);
    for (size_t i = 1; i < n; i++) {
        const char *x = fields[by_name_idx[i - 1]].name, *y = fields[by_name_idx[i]].name;
        if (!strcmp(x, y)) return kt_fail(KT_ERR_MALFORMED, "pbschema: %s: two fields are named %s", t->name, x);
    }
    /* JSON names must be unique too (foo_bar and fooBar would be one JSON key) */
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            char a[256], c[256];
            if (!kt_pbschema_json_name(fields[i].name, a, sizeof a) && !kt_pbschema_json_name(fields[j].name, c, sizeof c) &&
                !strcmp(a, c))
                return kt_fail(KT_ERR_MALFORMED, "pbschema: %s: %s and %s have one JSON name", t->name, fields[i].name,
                               fields[j].name);
        }
    md->magic = PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC;
    md->name = md->c_name = t->name;
    md->short_name = m->name;
    md->package_name = t->package;
    md->sizeof_message = align_up(off, 8);
    md->n_fields = (unsigned)n;
    md->fields = fields;
    md->fields_sorted_by_name = by_name_idx;
    md->n_field_ranges = (unsigned)nr;
    md->field_ranges = ranges;
    md->message_init = NULL;
    return KT_OK;
}

/* A map entry type is used as a map, and only map fields have the map shape: otherwise
 * pbjson would map one as the other. */
static kt_status check_maps(const kt_pbschema *s, const entry *t)
{
    const ProtobufCMessageDescriptor *md = t->md;
    for (unsigned i = 0; i < md->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &md->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE) continue;
        const entry *ref = lookup(s, ((const ProtobufCMessageDescriptor *)f->descriptor)->name);
        bool shaped = kt_pbschema_map_entry(md, f) != NULL;
        if (ref->map_entry != shaped)
            return kt_fail(KT_ERR_UNSUPPORTED, "pbschema: %s.%s: %s", t->name, f->name,
                           ref->map_entry ? "a map whose entry type is not <Field>Entry {key = 1; value = 2}"
                                          : "a repeated <Field>Entry {key, value} that is not a map is ambiguous");
    }
    return KT_OK;
}

kt_status kt_pbschema_load(const kt_buf *files, size_t n, kt_pbschema **out)
{
    if (!out || (n && !files)) return kt_fail(KT_ERR_INVALID_ARGUMENT, "pbschema: NULL argument");
    *out = NULL;
    if (n > MAX_FILES) return kt_fail(KT_ERR_TOO_LARGE, "pbschema: more than %d files", MAX_FILES);
    kt_pbschema *s = calloc(1, sizeof *s);
    if (!s) return nomem();
    kt_status st = KT_OK;
    char b[96];
    if (!(s->types = calloc(KT_PBSCHEMA_MAX_TYPES, sizeof *s->types))) st = nomem();
    for (size_t i = 0; !st && i < n; i++) {
        Google__Protobuf__FileDescriptorProto *f =
            google__protobuf__file_descriptor_proto__unpack(NULL, files[i].len, files[i].data);
        if (!f) {
            st = kt_fail(KT_ERR_MALFORMED, "pbschema: file %zu is not a FileDescriptorProto", i);
            break;
        }
        s->files[s->n_files++] = f;
        const char *pkg = f->package ? f->package : "";
        if (!f->syntax || strcmp(f->syntax, "proto3"))
            st = kt_fail(KT_ERR_UNSUPPORTED, "pbschema: %s is not proto3", esc(f->name, b, sizeof b));
        else if (*pkg && !dotted(pkg))
            st = kt_fail(KT_ERR_MALFORMED, "pbschema: package \"%s\" is not a dotted name", esc(pkg, b, sizeof b));
        else if (f->n_extension)
            st = kt_fail(KT_ERR_UNSUPPORTED, "pbschema: %s has extensions", esc(f->name, b, sizeof b));
        for (size_t k = 0; !st && k < f->n_message_type; k++) st = add_message_types(s, pkg, pkg, f->message_type[k], 1);
        for (size_t k = 0; !st && k < f->n_enum_type; k++) st = add_type(s, pkg, f->enum_type[k]->name, pkg, NULL, f->enum_type[k]);
    }
    if (!st) {
        qsort(s->types, s->n, sizeof *s->types, by_name);
        for (size_t i = 1; i < s->n && !st; i++)
            if (!strcmp(s->types[i].name, s->types[i - 1].name))
                st = kt_fail(KT_ERR_MALFORMED, "pbschema: two types are named %s", s->types[i].name);
    }
    for (size_t i = 0; !st && i < s->n; i++) {
        entry *t = &s->types[i];
        if (t->is_enum ? !(t->ed = ps_alloc(&s->arena, sizeof *t->ed)) : !(t->md = ps_alloc(&s->arena, sizeof *t->md)))
            st = nomem();
    }
    for (size_t i = 0; !st && i < s->n; i++) st = s->types[i].is_enum ? build_enum(s, &s->types[i]) : build_message(s, &s->types[i]);
    for (size_t i = 0; !st && i < s->n; i++)
        if (!s->types[i].is_enum) st = check_maps(s, &s->types[i]);
    if (st) {
        kt_pbschema_free(s);
        return st;
    }
    *out = s;
    return KT_OK;
}

void kt_pbschema_free(kt_pbschema *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n_files; i++) google__protobuf__file_descriptor_proto__free_unpacked(s->files[i], NULL);
    ps_arena_free(&s->arena);
    free(s->types);
    free(s);
}

const ProtobufCMessageDescriptor *kt_pbschema_message(const kt_pbschema *s, const char *name)
{
    char b[96];
    const entry *t = s && name ? lookup(s, name) : NULL;
    if (!t || t->is_enum) {
        kt_fail(KT_ERR_NOT_FOUND, "pbschema: no message type named %s", esc(name, b, sizeof b));
        return NULL;
    }
    return t->md;
}

size_t kt_pbschema_count(const kt_pbschema *s)
{
    return s ? s->n : 0;
}

const ProtobufCMessageDescriptor *kt_pbschema_message_at(const kt_pbschema *s, size_t i)
{
    return s && i < s->n && !s->types[i].is_enum ? s->types[i].md : NULL;
}
