/* libyaml events into a tree. Anchors and aliases are refused (no billion laughs), as
 * are keys given twice in a mapping and documents deeper than 16 levels or with more
 * than 100000 nodes. */
#include "yaml_tree.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_DEPTH 16
#define MAX_NODES 100000

typedef struct {
    yaml_parser_t parser;
    size_t nodes;
} builder;

void kt_yaml_free(kt_y *y)
{
    if (!y) return;
    for (size_t i = 0; i < y->count; i++)
        kt_yaml_free(y->items[i]);
    free(y->items);
    free(y->text);
    free(y);
}

static kt_status add_item(kt_y *parent, kt_y *child)
{
    kt_y **items = realloc(parent->items, (parent->count + 1) * sizeof *items);
    if (!items) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    parent->items = items;
    parent->items[parent->count++] = child;
    return KT_OK;
}

static int by_key(const void *a, const void *b)
{
    const kt_y *x = *(const kt_y *const *)a, *y = *(const kt_y *const *)b;
    int c = strcmp(x->text, y->text);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* A key given twice would leave the reader to pick one of two values: refused, in YAML
 * and in JSON alike. Sorted, so a mapping of many keys costs n log n. */
static kt_status unique_keys(const kt_y *map)
{
    size_t n = map->count / 2;
    if (n < 2) return KT_OK;
    const kt_y **keys = malloc(n * sizeof *keys);
    if (!keys) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < n; i++)
        keys[i] = map->items[2 * i];
    qsort(keys, n, sizeof *keys, by_key);
    kt_status st = KT_OK;
    for (size_t i = 1; !st && i < n; i++)
        if (!strcmp(keys[i - 1]->text, keys[i]->text))
            st = kt_fail(KT_ERR_MALFORMED,
                         "YAML: key '%s' appears twice in a mapping (lines %zu "
                         "and %zu)",
                         keys[i]->text, keys[i - 1]->line, keys[i]->line);
    free(keys);
    return st;
}

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
            yaml_event_delete(&ev);
            break;
        }
        kt_y *child = NULL;
        kt_status st = node(b, &ev, depth + 1, &child);
        yaml_event_delete(&ev);
        if (!st && (st = add_item(y, child))) kt_yaml_free(child);
        if (st) return st;
    }
    if (y->kind == KT_Y_MAP && y->count % 2)
        return kt_fail(KT_ERR_MALFORMED, "YAML: mapping at line %zu is incomplete", y->line);
    if (y->kind == KT_Y_MAP) {
        for (size_t i = 0; i < y->count; i += 2)
            if (y->items[i]->kind != KT_Y_SCALAR)
                return kt_fail(KT_ERR_MALFORMED, "YAML: key at line %zu is not a plain value",
                               y->items[i]->line);
        return unique_keys(y);
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
    if (n > (1u << 20)) return kt_fail(KT_ERR_TOO_LARGE, "YAML: document over 1 MiB");
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

kt_y *kt_yaml_get(const kt_y *map, const char *key)
{
    if (!map || map->kind != KT_Y_MAP) return NULL;
    for (size_t i = 0; i + 1 < map->count; i += 2)
        if (strcmp(map->items[i]->text, key) == 0) return map->items[i + 1];
    return NULL;
}
