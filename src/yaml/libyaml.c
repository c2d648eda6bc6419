/* kt_yaml_parse in a plain process: libyaml events into the tree. Anchors and aliases
 * are refused (no billion laughs), as are keys given twice in a mapping and documents
 * deeper or larger than kubetee/yaml.h's bounds. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_DEPTH KT_YAML_MAX_DEPTH
#define MAX_NODES KT_YAML_MAX_NODES

typedef struct {
    yaml_parser_t parser;
    size_t nodes;
} builder;

static kt_status node(builder *b, yaml_event_t *ev, int depth, kt_y **out);

static kt_status children(builder *b, kt_y *y, yaml_event_type_t end, int depth)
{
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&b->parser, &ev))
            return kt_fail(KT_ERR_MALFORMED, "YAML: %s at line %zu",
                           b->parser.problem ? b->parser.problem : "error",
                           b->parser.problem_mark.line + 1);
        if (ev.type == end) {
            y->end = ev.end_mark.index;
            yaml_event_delete(&ev);
            break;
        }
        kt_y *child = NULL;
        kt_status st = node(b, &ev, depth + 1, &child);
        yaml_event_delete(&ev);
        if (!st && (st = ky_add(y, child))) kt_yaml_free(child);
        if (st) return st;
    }
    if (y->kind == KT_Y_MAP && y->count % 2)
        return kt_fail(KT_ERR_MALFORMED, "YAML: mapping at line %zu is incomplete", y->line);
    if (y->kind == KT_Y_MAP) {
        for (size_t i = 0; i < y->count; i += 2)
            if (y->items[i]->kind != KT_Y_SCALAR)
                return kt_fail(KT_ERR_MALFORMED, "YAML: key at line %zu is not a plain value",
                               y->items[i]->line);
        return ky_unique_keys(y, "YAML");
    }
    return KT_OK;
}

static kt_status node(builder *b, yaml_event_t *ev, int depth, kt_y **out)
{
    if (depth > MAX_DEPTH)
        return kt_fail(KT_ERR_MALFORMED, "YAML: nested deeper than %d", MAX_DEPTH);
    if (++b->nodes > MAX_NODES)
        return kt_fail(KT_ERR_TOO_LARGE, "YAML: more than %d nodes", MAX_NODES);
    if (ev->type == YAML_ALIAS_EVENT)
        return kt_fail(KT_ERR_MALFORMED, "YAML: aliases are not accepted (line %zu)",
                       ev->start_mark.line + 1);
    kt_y *y = calloc(1, sizeof *y);
    if (!y) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    y->line = ev->start_mark.line + 1;
    y->start = ev->start_mark.index;
    y->end = ev->end_mark.index;
    kt_status st = KT_OK;
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        if (ev->data.scalar.anchor) {
            st = kt_fail(KT_ERR_MALFORMED, "YAML: anchors are not accepted (line %zu)", y->line);
            break;
        }
        y->kind = KT_Y_SCALAR;
        y->quoted = ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                    ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
        y->text = malloc(ev->data.scalar.length + 1);
        if (!y->text) {
            st = kt_fail(KT_ERR_NO_MEMORY, "out of memory");
            break;
        }
        memcpy(y->text, ev->data.scalar.value, ev->data.scalar.length);
        y->text[ev->data.scalar.length] = '\0';
        if (strlen(y->text) != ev->data.scalar.length)
            st = kt_fail(KT_ERR_MALFORMED, "YAML: value at line %zu contains a NUL", y->line);
        break;
    case YAML_SEQUENCE_START_EVENT:
        y->kind = KT_Y_SEQ;
        st = ev->data.sequence_start.anchor
                 ? kt_fail(KT_ERR_MALFORMED, "YAML: anchors are not accepted (line %zu)", y->line)
                 : children(b, y, YAML_SEQUENCE_END_EVENT, depth);
        break;
    case YAML_MAPPING_START_EVENT:
        y->kind = KT_Y_MAP;
        st = ev->data.mapping_start.anchor
                 ? kt_fail(KT_ERR_MALFORMED, "YAML: anchors are not accepted (line %zu)", y->line)
                 : children(b, y, YAML_MAPPING_END_EVENT, depth);
        break;
    default:
        st = kt_fail(KT_ERR_MALFORMED, "YAML: unexpected event at line %zu", y->line);
    }
    if (st) {
        kt_yaml_free(y);
        return st;
    }
    *out = y;
    return KT_OK;
}

kt_status kt_yaml_parse(const char *text, size_t n, kt_y **out)
{
    if (!text || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "YAML: NULL argument");
    if (n > KT_YAML_MAX_BYTES) return kt_fail(KT_ERR_TOO_LARGE, "YAML: document over 1 MiB");
    builder b = {0};
    if (!yaml_parser_initialize(&b.parser)) return kt_fail(KT_ERR_NO_MEMORY, "YAML: out of memory");
    yaml_parser_set_input_string(&b.parser, (const unsigned char *)text, n);
    kt_status st = KT_OK;
    kt_y *root = NULL;
    bool in_doc = false;
    for (bool done = false; !done && !st;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&b.parser, &ev)) {
            st = kt_fail(KT_ERR_MALFORMED, "YAML: %s at line %zu",
                         b.parser.problem ? b.parser.problem : "error",
                         b.parser.problem_mark.line + 1);
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (root) st = kt_fail(KT_ERR_MALFORMED, "YAML: more than one document");
            in_doc = true;
            break;
        case YAML_DOCUMENT_END_EVENT:
        case YAML_STREAM_START_EVENT:
            break;
        default:
            if (!in_doc || root)
                st = kt_fail(KT_ERR_MALFORMED, "YAML: unexpected content");
            else
                st = node(&b, &ev, 0, &root);
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&b.parser);
    if (!st && !root) st = kt_fail(KT_ERR_MALFORMED, "YAML: empty document");
    if (st) {
        kt_yaml_free(root);
        return st;
    }
    *out = root;
    return KT_OK;
}
