/* kubetee new's name check: any bytes are accepted or refused with a reason, never a
 * crash; an accepted name holds only what the allow-list allows and its id is the name
 * with '-' as '_'. */
#include "project_name.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    char id[PROJECT_NAME_MAX + 1];
    const char *name = (const char *)data;
    if (project_name_check(name, n, id, sizeof id) != KT_OK) {
        if (!*kt_last_error()) abort();
        return 0;
    }
    if (n < 1 || n > PROJECT_NAME_MAX || name[0] < 'a' || name[0] > 'z' || name[n - 1] == '-')
        abort();
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
        if (!ok || (c == '-' && name[i - 1] == '-')) abort();
        if (id[i] != (c == '-' ? '_' : c)) abort();
    }
    if (id[n] != '\0' || strlen(id) != n) abort();
    return 0;
}
