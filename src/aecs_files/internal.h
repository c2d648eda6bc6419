/* Helpers shared by the AECS file readers: strict keys and scalars on a kt_y tree. */
#ifndef KT_AECS_FILES_INTERNAL_H
#define KT_AECS_FILES_INTERNAL_H

#include <kubetee/aecs_files.h>

#include <kubetee/yaml.h>

#define AF_MAX_FILE (1u << 20)

/* Every key of map must be in allowed (NULL-terminated); else "<where>: unknown key 'k'
 * (line n)" with the key escaped. A non-mapping is refused as "<where> must be a mapping". */
kt_status af_keys(const kt_y *map, const char *where, const char *const *allowed);
/* A scalar's text, escaped for a message. */
const char *af_esc(const char *s, char *buf, size_t cap);
/* v must be a scalar: "<where>: <key> must be a single value (line n)". */
kt_status af_scalar(const kt_y *v, const char *where, const char *key);
/* A scalar copied into out (at most cap - 1 bytes, else TOO_LARGE naming the limit). */
kt_status af_string(const kt_y *v, const char *where, const char *key, char *out, size_t cap);
/* true or false, quoted or not (nothing else: no yes/no/1/0). */
kt_status af_bool(const kt_y *v, const char *where, const char *key, bool *out);
/* The top level: a mapping of only the allowed keys, `apiVersion: v1` and `kind: <kind>`. */
kt_status af_envelope(const kt_y *doc, const char *kind, const char *const *allowed);
/* A note line "line <n>: <text>\n" appended to notes. */
kt_status af_note(kt_buf *notes, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
