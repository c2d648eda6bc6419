/* Fuzz target: kubetee's JSON reader (src/yaml/json.c), checked against jansson on the
 * same bytes. Both must accept the same documents (except where only one's bounds
 * apply: jansson's number range, our depth and node count) and read the same values;
 * every node's bytes must lie in the input and read back as the same value. */
#include <kubetee/yaml.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void same(const kt_y *y, const json_t *j);

static void same_scalar(const kt_y *y, const json_t *j)
{
    if (y->quoted) {
        if (!json_is_string(j) || json_string_length(j) != strlen(y->text) ||
            memcmp(json_string_value(j), y->text, strlen(y->text)))
            abort();
    } else if (!strcmp(y->text, "true") || !strcmp(y->text, "false")) {
        if (!json_is_boolean(j) || json_is_true(j) != !strcmp(y->text, "true")) abort();
    } else if (!strcmp(y->text, "null")) {
        if (!json_is_null(j)) abort();
    } else if (json_is_integer(j)) {
        if (strtoll(y->text, NULL, 10) != json_integer_value(j)) abort();
    } else if (!json_is_real(j) || strtod(y->text, NULL) != json_real_value(j)) {
        abort();
    }
}

static void same(const kt_y *y, const json_t *j)
{
    switch (y->kind) {
    case KT_Y_SCALAR:
        same_scalar(y, j);
        break;
    case KT_Y_SEQ:
        if (!json_is_array(j) || json_array_size(j) != y->count) abort();
        for (size_t i = 0; i < y->count; i++)
            same(y->items[i], json_array_get(j, i));
        break;
    case KT_Y_MAP:
        if (!json_is_object(j) || json_object_size(j) != y->count / 2) abort();
        for (size_t i = 0; i < y->count; i += 2) {
            const json_t *v = json_object_get(j, y->items[i]->text);
            if (!v) abort();
            same(y->items[i + 1], v);
        }
        break;
    }
}

static void same_tree(const kt_y *a, const kt_y *b)
{
    if (a->kind != b->kind || a->count != b->count || a->quoted != b->quoted ||
        (a->kind == KT_Y_SCALAR && strcmp(a->text, b->text)))
        abort();
    for (size_t i = 0; i < a->count; i++)
        same_tree(a->items[i], b->items[i]);
}

/* Each value's bytes are in the input, and those bytes alone read as the same value. */
static void spans(const kt_y *y, const char *text, size_t n, int depth)
{
    if (y->start >= y->end || y->end > n) abort();
    if (depth < 2) {
        kt_y *again = NULL;
        if (kt_json_parse(text + y->start, y->end - y->start, &again)) abort();
        same_tree(y, again);
        kt_yaml_free(again);
    }
    for (size_t i = 0; i < y->count; i++)
        spans(y->items[i], text, n, depth + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    const char *text = (const char *)data;
    kt_y *y = NULL;
    kt_status st = kt_json_parse(text, n, &y);
    if (memchr(data, 0, n)) {
        /* no JSON text holds a NUL byte; jansson reads some (a number before one) */
        if (!st) abort();
        return 0;
    }
    json_error_t err;
    json_t *j = json_loadb(text, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (!st && !j && !strstr(err.text, "too big") && !strstr(err.text, "number overflow"))
        abort(); /* we accepted what jansson refuses */
    if (st && j && st != KT_ERR_TOO_LARGE && !strstr(kt_last_error(), "nested deeper"))
        abort(); /* we refused what jansson accepts, not for a bound */
    if (!st) {
        if (j) same(y, j);
        spans(y, text, n, 0);
    }
    kt_yaml_free(y);
    json_decref(j);
    return 0;
}
