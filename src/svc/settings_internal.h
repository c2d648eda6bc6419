/* What the settings reader's files share: one value into its field, the names a row
 * goes by. */
#ifndef KT_SVC_SETTINGS_INTERNAL_H
#define KT_SVC_SETTINGS_INTERNAL_H

#include <kubetee/svc.h>

#define KT_SET_NAME_MAX 128

/* v (NUL-terminated) into row t's field of obj; from names the source in errors. */
kt_status kt_setting_set(const kt_setting *t, void *obj, const char *v, const char *from);
/* The row's flag without "--" and its variable ("" when it has none). */
void kt_setting_flag(const kt_setting *t, char out[KT_SET_NAME_MAX]);
void kt_setting_env(const kt_settings_spec *s, const kt_setting *t, char out[KT_SET_NAME_MAX]);
/* A text row (string, path, enum, list) keeps its value as char[size]. */
bool kt_setting_is_text(const kt_setting *t);
/* The duration unit's name for unit_ms ("ms", "s"). */
const char *kt_setting_unit(const kt_setting *t);

#endif
