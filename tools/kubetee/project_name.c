#include "project_name.h"

static bool lower(char c) { return c >= 'a' && c <= 'z'; }
static bool digit(char c) { return c >= '0' && c <= '9'; }

kt_status project_name_check(const char *name, size_t len, char *id, size_t id_cap)
{
    if (len == 0) return kt_fail(KT_ERR_INVALID_ARGUMENT, "project name: empty");
    if (len > PROJECT_NAME_MAX)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "project name: %zu bytes, at most %d", len,
                       PROJECT_NAME_MAX);
    if (id_cap < len + 1) return kt_fail(KT_ERR_INVALID_ARGUMENT, "project name: no room for its id");
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (lower(c) || digit(c) || c == '-') continue;
        char safe[8];
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "project name: byte %zu is '%s'; only a-z, 0-9 and '-' are allowed", i + 1,
                       kt_escape(&name[i], 1, safe, sizeof safe));
    }
    if (!lower(name[0]))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "project name: must start with a letter a-z");
    if (name[len - 1] == '-')
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "project name: must not end with '-'");
    for (size_t i = 1; i < len; i++)
        if (name[i] == '-' && name[i - 1] == '-')
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "project name: must not hold \"--\"");
    for (size_t i = 0; i < len; i++) id[i] = name[i] == '-' ? '_' : name[i];
    id[len] = '\0';
    return KT_OK;
}
