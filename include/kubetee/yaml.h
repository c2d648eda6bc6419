/* kubetee yaml: YAML and JSON documents as one small tree of mappings, sequences and
 * scalars, which configuration and policy readers walk.
 *
 * Two readers build the tree. kt_json_parse is kubetee's own strict RFC 8259 reader (no
 * library), which serves plain processes and enclaves alike. kt_yaml_parse reads YAML
 * with libyaml in a plain process; inside an enclave (KT_TRUSTED) it reads the JSON form
 * of YAML only, with kt_json_parse, and says so when given block YAML.
 *
 * Both refuse keys given twice in a mapping, documents deeper than KT_YAML_MAX_DEPTH or
 * with more than KT_YAML_MAX_NODES nodes, documents over KT_YAML_MAX_BYTES and NUL in
 * values; YAML anchors and aliases are refused. Every error names the line. */
#ifndef KUBETEE_YAML_H
#define KUBETEE_YAML_H

#include <kubetee/base.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KT_YAML_MAX_DEPTH 16
#define KT_YAML_MAX_NODES 100000
#define KT_YAML_MAX_BYTES (1u << 20)

typedef enum { KT_Y_SCALAR, KT_Y_MAP, KT_Y_SEQ } kt_y_kind;

typedef struct kt_y {
    kt_y_kind kind;
    /* scalar: NUL-terminated. JSON strings are quoted scalars; numbers, true, false and
     * null are unquoted scalars with their text as written ("1e3", "-0", "null") */
    char *text;
    bool quoted;         /* scalar was quoted ("" is then an empty string, not null) */
    struct kt_y **items; /* map: key, value, key, value...; seq: values */
    size_t count;
    size_t line;       /* 1-based line where the node starts */
    size_t start, end; /* its bytes in the document: text[start, end) (JSON: exactly the
                          value as written, so a signature over it can be checked) */
} kt_y;

kt_status kt_yaml_parse(const char *text, size_t n, kt_y **out);
/* Exactly one JSON value (RFC 8259), with only whitespace around it. */
kt_status kt_json_parse(const char *text, size_t n, kt_y **out);
void kt_yaml_free(kt_y *y);
/* A mapping's value for key, or NULL. */
kt_y *kt_yaml_get(const kt_y *map, const char *key);
/* A mapping whose keys are all in the NULL-terminated list keys; else the first other
 * key is named, with what (e.g. "policy: rule 2") and its line. */
kt_status kt_yaml_known_keys(const kt_y *map, const char *const *keys, const char *what);
/* A scalar written as a plain decimal integer (JSON: unquoted, no fraction or exponent;
 * "-" only when min < 0) within [min, max]. */
kt_status kt_yaml_int(const kt_y *v, long long min, long long max, long long *out);
/* A quoted scalar (a JSON string), or NULL. */
const char *kt_yaml_string(const kt_y *v);

#ifdef __cplusplus
}
#endif
#endif
