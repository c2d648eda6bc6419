/* kubetee new: what a project may be called. */
#ifndef KT_PROJECT_NAME_H
#define KT_PROJECT_NAME_H

#include <kubetee/base.h>

/* A name is the project's directory, CMake project, program and Kubernetes object
 * name, so it is what all of them accept: 1 to PROJECT_NAME_MAX bytes of a-z, 0-9 and
 * '-', starting with a letter, not ending with '-', no "--" (a DNS-1123 label, short).
 * On success id (id_cap >= PROJECT_NAME_MAX + 1) gets the C and CMake identifier: the
 * name with '-' as '_'. On failure the reason names the byte and where it is. */
#define PROJECT_NAME_MAX 40
kt_status project_name_check(const char *name, size_t len, char *id, size_t id_cap);

#endif
