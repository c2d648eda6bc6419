/* protobuf-c descriptors -> FileDescriptorProtos: every type the roots reach, one file per
 * package, nested types inside their parents, files after those they depend on. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ps_arena arena;
    const ProtobufCMessageDescriptor *msgs[KT_PBSCHEMA_MAX_TYPES];
    const ProtobufCEnumDescriptor *enums[KT_PBSCHEMA_MAX_TYPES];
    size_t n_msgs, n_enums;
    const char *packages[KT_PBSCHEMA_MAX_TYPES];
    size_t n_packages;
    size_t order[KT_PBSCHEMA_MAX_TYPES];
    bool placed[KT_PBSCHEMA_MAX_TYPES];
} builder;

static kt_status name_taken(builder *b, const char *name, const void *self)
{
    for (size_t i = 0; i < b->n_msgs; i++)
        if ((const void *)b->msgs[i] != self && !strcmp(b->msgs[i]->name, name))
            return kt_fail(KT_ERR_EXISTS, "pbschema: two types are named %s", name);
    for (size_t i = 0; i < b->n_enums; i++)
        if ((const void *)b->enums[i] != self && !strcmp(b->enums[i]->name, name))
            return kt_fail(KT_ERR_EXISTS, "pbschema: two types are named %s", name);
    return KT_OK;
}

static kt_status add_package(builder *b, const char *pkg)
{
    for (size_t i = 0; i < b->n_packages; i++)
        if (!strcmp(b->packages[i], pkg)) return KT_OK;
    b->packages[b->n_packages++] = pkg;
    return KT_OK;
}

static kt_status add_enum(builder *b, const ProtobufCEnumDescriptor *e)
{
    for (size_t i = 0; i < b->n_enums; i++)
        if (b->enums[i] == e) return KT_OK;
    if (e->magic != PROTOBUF_C__ENUM_DESCRIPTOR_MAGIC)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "pbschema: not an enum descriptor");
    kt_status st = name_taken(b, e->name, e);
    if (st) return st;
    if (b->n_enums + b->n_msgs >= KT_PBSCHEMA_MAX_TYPES)
        return kt_fail(KT_ERR_TOO_LARGE, "pbschema: more than %d types", KT_PBSCHEMA_MAX_TYPES);
    b->enums[b->n_enums++] = e;
    return add_package(b, e->package_name ? e->package_name : "");
}

static kt_status add_message(builder *b, const ProtobufCMessageDescriptor *d)
{
    for (size_t i = 0; i < b->n_msgs; i++)
        if (b->msgs[i] == d) return KT_OK;
    if (d->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "pbschema: not a message descriptor");
    kt_status st = name_taken(b, d->name, d);
    if (st) return st;
    if (b->n_enums + b->n_msgs >= KT_PBSCHEMA_MAX_TYPES)
        return kt_fail(KT_ERR_TOO_LARGE, "pbschema: more than %d types", KT_PBSCHEMA_MAX_TYPES);
    b->msgs[b->n_msgs++] = d;
    if ((st = add_package(b, d->package_name ? d->package_name : ""))) return st;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->label == PROTOBUF_C_LABEL_REQUIRED ||
            (f->label == PROTOBUF_C_LABEL_OPTIONAL && !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)))
            return kt_fail(KT_ERR_UNSUPPORTED, "pbschema: %s.%s is a proto2 field (proto3 only)", d->name, f->name);
        if (f->type == PROTOBUF_C_TYPE_MESSAGE) st = add_message(b, f->descriptor);
        if (f->type == PROTOBUF_C_TYPE_ENUM) st = add_enum(b, f->descriptor);
        if (st) return st;
    }
    return KT_OK;
}

static const char *pkg_of(const char *p)
{
    return p ? p : "";
}

/* The name of a type inside its package ("A.B" for pkg.A.B). */
static const char *local_name(const char *full, const char *pkg)
{
    size_t n = strlen(pkg);
    return n ? full + n + 1 : full;
}

/* The full name of the type a nested one sits in, as a prefix length of full; 0 for a
 * type at the top of its package. */
static size_t parent_len(const char *full, const char *pkg)
{
    const char *local = local_name(full, pkg);
    const char *dot = strrchr(local, '.');
    return dot ? (size_t)(dot - full) : 0;
}

static bool is_parent(const ProtobufCMessageDescriptor *parent, const char *full, const char *pkg)
{
    size_t n = parent_len(full, pkg);
    return n && strlen(parent->name) == n && !strncmp(parent->name, full, n);
}

static kt_status check_parents(builder *b)
{
    for (size_t k = 0; k < b->n_msgs + b->n_enums; k++) {
        const char *full = k < b->n_msgs ? b->msgs[k]->name : b->enums[k - b->n_msgs]->name;
        const char *pkg =
            pkg_of(k < b->n_msgs ? b->msgs[k]->package_name : b->enums[k - b->n_msgs]->package_name);
        if (!parent_len(full, pkg)) continue;
        bool found = false;
        for (size_t i = 0; i < b->n_msgs && !found; i++) found = is_parent(b->msgs[i], full, pkg);
        if (!found)
            return kt_fail(KT_ERR_UNSUPPORTED,
                           "pbschema: %s is nested in a message no described type uses (describe its parent too)",
                           full);
    }
    return KT_OK;
}

static char *type_ref(builder *b, const char *full)
{
    size_t n = strlen(full) + 2;
    char *s = ps_alloc(&b->arena, n);
    if (s) snprintf(s, n, ".%s", full);
    return s;
}

static bool packable(ProtobufCType t)
{
    return t != PROTOBUF_C_TYPE_STRING && t != PROTOBUF_C_TYPE_BYTES && t != PROTOBUF_C_TYPE_MESSAGE;
}

static kt_status nomem(void)
{
    return kt_fail(KT_ERR_NO_MEMORY, "pbschema: out of memory");
}

static kt_status build_enum(builder *b, const ProtobufCEnumDescriptor *e, Google__Protobuf__EnumDescriptorProto **out)
{
    Google__Protobuf__EnumDescriptorProto *p = ps_alloc(&b->arena, sizeof *p);
    if (!p) return nomem();
    google__protobuf__enum_descriptor_proto__init(p);
    p->name = (char *)e->short_name;
    p->value = ps_alloc(&b->arena, e->n_values * sizeof *p->value);
    if (!p->value) return nomem();
    /* protobuf-c keeps the values by number; proto3 wants the zero value first */
    unsigned zero = e->n_values;
    for (unsigned i = 0; i < e->n_values && zero == e->n_values; i++)
        if (e->values[i].value == 0) zero = i;
    if (zero == e->n_values)
        return kt_fail(KT_ERR_UNSUPPORTED, "pbschema: enum %s has no zero value (proto3 only)", e->name);
    for (unsigned k = 0; k < e->n_values; k++) {
        unsigned i = k == 0 ? zero : k <= zero ? k - 1 : k;
        Google__Protobuf__EnumValueDescriptorProto *v = ps_alloc(&b->arena, sizeof *v);
        if (!v) return nomem();
        google__protobuf__enum_value_descriptor_proto__init(v);
        v->name = (char *)e->values[i].name;
        v->has_number = true;
        v->number = e->values[i].value;
        p->value[p->n_value++] = v;
    }
    *out = p;
    return KT_OK;
}

static kt_status build_message(builder *b, const ProtobufCMessageDescriptor *d, bool map_entry,
                               Google__Protobuf__DescriptorProto **out);

/* Is d the entry type of a map field of parent? */
static bool used_as_map(const ProtobufCMessageDescriptor *parent, const ProtobufCMessageDescriptor *d)
{
    for (unsigned i = 0; i < parent->n_fields; i++)
        if (parent->fields[i].descriptor == d && kt_pbschema_map_entry(parent, &parent->fields[i])) return true;
    return false;
}

static kt_status build_fields(builder *b, const ProtobufCMessageDescriptor *d, Google__Protobuf__DescriptorProto *p)
{
    unsigned oneof_at[KT_PBSCHEMA_MAX_FIELDS]; /* quantifier offset of each oneof */
    p->field = ps_alloc(&b->arena, d->n_fields * sizeof *p->field);
    p->oneof_decl = ps_alloc(&b->arena, d->n_fields * sizeof *p->oneof_decl);
    if (!p->field || !p->oneof_decl) return nomem();
    if (d->n_fields > KT_PBSCHEMA_MAX_FIELDS)
        return kt_fail(KT_ERR_TOO_LARGE, "pbschema: %s has more than %d fields", d->name, KT_PBSCHEMA_MAX_FIELDS);
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        Google__Protobuf__FieldDescriptorProto *fp = ps_alloc(&b->arena, sizeof *fp);
        char json[256];
        if (!fp) return nomem();
        google__protobuf__field_descriptor_proto__init(fp);
        fp->name = (char *)f->name;
        fp->has_number = fp->has_label = fp->has_type = true;
        fp->number = (int32_t)f->id;
        fp->label = f->label == PROTOBUF_C_LABEL_REPEATED ? GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED
                                                          : GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_OPTIONAL;
        fp->type = ps_type_to_proto(f->type);
        if (!fp->type) return kt_fail(KT_ERR_UNSUPPORTED, "pbschema: %s.%s has type %d", d->name, f->name, f->type);
        if (f->type == PROTOBUF_C_TYPE_MESSAGE || f->type == PROTOBUF_C_TYPE_ENUM) {
            const char *ref = f->type == PROTOBUF_C_TYPE_MESSAGE ? ((const ProtobufCMessageDescriptor *)f->descriptor)->name
                                                                 : ((const ProtobufCEnumDescriptor *)f->descriptor)->name;
            if (!(fp->type_name = type_ref(b, ref))) return nomem();
        }
        kt_status st = kt_pbschema_json_name(f->name, json, sizeof json);
        if (st) return st;
        if (!(fp->json_name = ps_strdup(&b->arena, json))) return nomem();
        if (f->label == PROTOBUF_C_LABEL_REPEATED && packable(f->type) && !(f->flags & PROTOBUF_C_FIELD_FLAG_PACKED)) {
            Google__Protobuf__FieldOptions *o = ps_alloc(&b->arena, sizeof *o);
            if (!o) return nomem();
            google__protobuf__field_options__init(o);
            o->has_packed = true;
            o->packed = false;
            fp->options = o;
        }
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            size_t k = 0;
            while (k < p->n_oneof_decl && oneof_at[k] != f->quantifier_offset) k++;
            if (k == p->n_oneof_decl) {
                Google__Protobuf__OneofDescriptorProto *o = ps_alloc(&b->arena, sizeof *o);
                char name[32];
                if (!o) return nomem();
                google__protobuf__oneof_descriptor_proto__init(o);
                snprintf(name, sizeof name, "oneof_%zu", k);
                if (!(o->name = ps_strdup(&b->arena, name))) return nomem();
                oneof_at[k] = f->quantifier_offset;
                p->oneof_decl[p->n_oneof_decl++] = o;
            }
            fp->has_oneof_index = true;
            fp->oneof_index = (int32_t)k;
        }
        p->field[p->n_field++] = fp;
    }
    return KT_OK;
}

static kt_status build_message(builder *b, const ProtobufCMessageDescriptor *d, bool map_entry,
                               Google__Protobuf__DescriptorProto **out)
{
    Google__Protobuf__DescriptorProto *p = ps_alloc(&b->arena, sizeof *p);
    if (!p) return nomem();
    google__protobuf__descriptor_proto__init(p);
    p->name = (char *)d->short_name;
    kt_status st = build_fields(b, d, p);
    if (st) return st;
    if (map_entry) {
        Google__Protobuf__MessageOptions *o = ps_alloc(&b->arena, sizeof *o);
        if (!o) return nomem();
        google__protobuf__message_options__init(o);
        o->has_map_entry = true;
        o->map_entry = true;
        p->options = o;
    }
    const char *pkg = pkg_of(d->package_name);
    p->nested_type = ps_alloc(&b->arena, b->n_msgs * sizeof *p->nested_type);
    p->enum_type = ps_alloc(&b->arena, b->n_enums * sizeof *p->enum_type + 1);
    if (!p->nested_type || !p->enum_type) return nomem();
    for (size_t i = 0; i < b->n_msgs; i++)
        if (!strcmp(pkg_of(b->msgs[i]->package_name), pkg) && is_parent(d, b->msgs[i]->name, pkg) &&
            (st = build_message(b, b->msgs[i], used_as_map(d, b->msgs[i]), &p->nested_type[p->n_nested_type++])))
            return st;
    for (size_t i = 0; i < b->n_enums; i++)
        if (!strcmp(pkg_of(b->enums[i]->package_name), pkg) && is_parent(d, b->enums[i]->name, pkg) &&
            (st = build_enum(b, b->enums[i], &p->enum_type[p->n_enum_type++])))
            return st;
    *out = p;
    return KT_OK;
}

/* The packages the fields of package pkg's types refer to, other than pkg. */
static bool depends(builder *b, const char *pkg, const char *other)
{
    for (size_t i = 0; i < b->n_msgs; i++) {
        const ProtobufCMessageDescriptor *d = b->msgs[i];
        if (strcmp(pkg_of(d->package_name), pkg)) continue;
        for (unsigned j = 0; j < d->n_fields; j++) {
            const ProtobufCFieldDescriptor *f = &d->fields[j];
            const char *p = f->type == PROTOBUF_C_TYPE_MESSAGE ? ((const ProtobufCMessageDescriptor *)f->descriptor)->package_name
                            : f->type == PROTOBUF_C_TYPE_ENUM  ? ((const ProtobufCEnumDescriptor *)f->descriptor)->package_name
                                                               : NULL;
            if (p && !strcmp(pkg_of(p), other)) return true;
        }
    }
    return false;
}

static void file_name(const char *pkg, char *out, size_t cap)
{
    snprintf(out, cap, "%s.proto", *pkg ? pkg : "_");
}

static kt_status build_file(builder *b, const char *pkg, kt_buf *out)
{
    Google__Protobuf__FileDescriptorProto f = GOOGLE__PROTOBUF__FILE_DESCRIPTOR_PROTO__INIT;
    char name[300];
    file_name(pkg, name, sizeof name);
    f.name = name;
    f.package = *pkg ? (char *)pkg : NULL;
    f.syntax = "proto3";
    f.dependency = ps_alloc(&b->arena, b->n_packages * sizeof *f.dependency);
    f.message_type = ps_alloc(&b->arena, b->n_msgs * sizeof *f.message_type + 1);
    f.enum_type = ps_alloc(&b->arena, b->n_enums * sizeof *f.enum_type + 1);
    if (!f.dependency || !f.message_type || !f.enum_type) return nomem();
    for (size_t i = 0; i < b->n_packages; i++) {
        if (strcmp(b->packages[i], pkg) && depends(b, pkg, b->packages[i])) {
            char dep[300];
            file_name(b->packages[i], dep, sizeof dep);
            if (!(f.dependency[f.n_dependency++] = ps_strdup(&b->arena, dep))) return nomem();
        }
    }
    kt_status st;
    for (size_t i = 0; i < b->n_msgs; i++)
        if (!strcmp(pkg_of(b->msgs[i]->package_name), pkg) && !parent_len(b->msgs[i]->name, pkg) &&
            (st = build_message(b, b->msgs[i], false, &f.message_type[f.n_message_type++])))
            return st;
    for (size_t i = 0; i < b->n_enums; i++)
        if (!strcmp(pkg_of(b->enums[i]->package_name), pkg) && !parent_len(b->enums[i]->name, pkg) &&
            (st = build_enum(b, b->enums[i], &f.enum_type[f.n_enum_type++])))
            return st;
    size_t n = google__protobuf__file_descriptor_proto__get_packed_size(&f);
    if ((st = kt_buf_reserve(out, n))) return st;
    out->len = google__protobuf__file_descriptor_proto__pack(&f, out->data);
    return KT_OK;
}

/* Packages in an order where each comes after those it depends on. */
static kt_status order_packages(builder *b)
{
    bool *placed = b->placed;
    size_t *order = b->order;
    for (size_t k = 0; k < b->n_packages; k++) {
        size_t pick = SIZE_MAX;
        for (size_t i = 0; i < b->n_packages && pick == SIZE_MAX; i++) {
            if (placed[i]) continue;
            bool ready = true;
            for (size_t j = 0; j < b->n_packages && ready; j++)
                if (j != i && !placed[j] && depends(b, b->packages[i], b->packages[j])) ready = false;
            if (ready) pick = i;
        }
        if (pick == SIZE_MAX)
            return kt_fail(KT_ERR_UNSUPPORTED, "pbschema: the packages' types refer to each other in a cycle");
        placed[pick] = true;
        order[k] = pick;
    }
    return KT_OK;
}

kt_status kt_pbschema_build(const ProtobufCMessageDescriptor *const *roots, size_t n, kt_pbschema_files *out)
{
    if (!out || (n && !roots)) return kt_fail(KT_ERR_INVALID_ARGUMENT, "pbschema: NULL argument");
    memset(out, 0, sizeof *out);
    builder *b = calloc(1, sizeof *b);
    if (!b) return nomem();
    kt_status st = KT_OK;
    for (size_t i = 0; i < n && !st; i++) st = roots[i] ? add_message(b, roots[i]) : kt_fail(KT_ERR_INVALID_ARGUMENT, "pbschema: NULL root");
    if (!st) st = check_parents(b);
    if (!st) st = order_packages(b);
    if (!st && !(out->files = calloc(b->n_packages ? b->n_packages : 1, sizeof *out->files))) st = nomem();
    for (size_t k = 0; !st && k < b->n_packages; k++) {
        st = build_file(b, b->packages[b->order[k]], &out->files[k]);
        out->n = k + 1;
    }
    ps_arena_free(&b->arena);
    free(b);
    if (st) kt_pbschema_files_free(out);
    return st;
}

void kt_pbschema_files_free(kt_pbschema_files *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->n; i++) kt_buf_free(&f->files[i]);
    free(f->files);
    memset(f, 0, sizeof *f);
}
