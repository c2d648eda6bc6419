/* Shared between the pbjson sources only. */
#ifndef KT_PBJSON_INTERNAL_H
#define KT_PBJSON_INTERNAL_H

#include <kubetee/pbjson.h>
#include <kubetee/pbschema.h>

/* Where in the message an error is: "items[2].name". Cut short (with "...") when long. */
typedef struct {
    char text[256];
    size_t len;
} pj_path;

/* Each returns the length before the push, for pj_pop. */
size_t pj_push_field(pj_path *p, const char *name);
size_t pj_push_index(pj_path *p, size_t i);
size_t pj_push_key(pj_path *p, const char *key, size_t n);
void pj_pop(pj_path *p, size_t len);
/* The path for a message: "" at the top becomes "(top level)". */
const char *pj_where(const pj_path *p);

/* KT_ERR_UNSUPPORTED for message types whose JSON form is their own (google.protobuf.*). */
kt_status pj_check_type(const ProtobufCMessageDescriptor *d, const pj_path *p);
unsigned pj_max_depth(const kt_pbjson_options *opt);

#endif
