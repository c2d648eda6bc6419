/* A small document tree built from libyaml events: mappings, sequences and scalars.
 * Bounded in depth and size; the policy parser walks it. Internal to attest. */
#ifndef KT_YAML_TREE_H
#define KT_YAML_TREE_H

#include <kubetee/base.h>

typedef enum { KT_Y_SCALAR, KT_Y_MAP, KT_Y_SEQ } kt_y_kind;

typedef struct kt_y {
    kt_y_kind kind;
    char *text;          /* scalar */
    bool quoted;         /* scalar was quoted ("" is then an empty string, not null) */
    struct kt_y **items; /* map: key, value, key, value...; seq: values */
    size_t count;
    size_t line;
} kt_y;

kt_status kt_yaml_parse(const char *text, size_t n, kt_y **out);
void kt_yaml_free(kt_y *y);
/* A mapping's value for key, or NULL. */
kt_y *kt_yaml_get(const kt_y *map, const char *key);

#endif
