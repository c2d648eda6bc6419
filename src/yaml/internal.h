/* Shared by the two readers of src/yaml. */
#ifndef KT_YAML_INTERNAL_H
#define KT_YAML_INTERNAL_H

#include <kubetee/yaml.h>

/* Appends child to parent's items (the child is the caller's on failure). */
kt_status ky_add(kt_y *parent, kt_y *child);
/* No key given twice in map; lang ("YAML", "JSON") starts the message. */
kt_status ky_unique_keys(const kt_y *map, const char *lang);

#endif
