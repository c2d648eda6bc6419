/* kubetee new: the project templates, embedded in the tool at build time from
 * tools/kubetee/templates/<layer>/<path> (embed_templates.cmake). */
#ifndef KT_TEMPLATES_H
#define KT_TEMPLATES_H

#include <stddef.h>

typedef struct {
    const char *path; /* "<layer>/<path in the project>" */
    const unsigned char *data;
    size_t len;
} template_file;

extern const template_file template_files[];
extern const size_t template_count;

#endif
