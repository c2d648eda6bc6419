/* A service's settings from its table: defaults, the YAML file, the environment, the
 * flags, each later source over the earlier, every one checked whole (an unknown name
 * in any of them is an error naming it). */
#include "settings_internal.h"

#include <stdlib.h>
#include <string.h>

extern char **environ;

static kt_status table_check(const kt_settings_spec *s)
{
    for (size_t i = 0; i < s->count; i++) {
        const kt_setting *t = &s->table[i];
        bool num = t->type == KT_SET_UINT || t->type == KT_SET_DURATION;
        if ((kt_setting_is_text(t) && !t->size) || (t->type == KT_SET_ENUM && !t->words) ||
            (t->type == KT_SET_BOOL && t->size != sizeof(bool)) ||
            (num && t->size != 4 && t->size != 8) || (num && t->size == 4 && t->max > UINT32_MAX) ||
            (num && t->min > t->max) || (t->unit_ms > 1 && t->unit_ms != 1000) ||
            strlen(t->name) >= KT_SET_NAME_MAX - 32)
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "%s: settings table: row %s", s->prog, t->name);
    }
    return KT_OK;
}

static kt_status defaults(const kt_settings_spec *s, void *obj)
{
    kt_status st = table_check(s);
    for (size_t i = 0; i < s->count && !st; i++) {
        const kt_setting *t = &s->table[i];
        memset((char *)obj + t->off, 0, t->size);
        if (t->def) st = kt_setting_set(t, obj, t->def, "default");
    }
    return st;
}

static size_t row_named(const kt_settings_spec *s, const char *name)
{
    size_t i = 0;
    while (i < s->count && (strcmp(s->table[i].name, name) || (s->table[i].opts & KT_SET_NO_FILE)))
        i++;
    return i;
}

static bool is_mapping(const kt_settings_spec *s, const char *prefix)
{
    size_t n = strlen(prefix);
    for (size_t i = 0; i < s->count; i++)
        if (!strncmp(s->table[i].name, prefix, n) && s->table[i].name[n] == '.') return true;
    return false;
}

/* A list's YAML sequence as item,item (each a plain value without commas). */
static kt_status joined(const kt_y *seq, const char *from, const char *name, kt_buf *out)
{
    for (size_t i = 0; i < seq->count; i++) {
        const kt_y *v = seq->items[i];
        if (v->kind != KT_Y_SCALAR || strchr(v->text, ','))
            return kt_fail(KT_ERR_MALFORMED,
                           "%s:%zu: %s: each item must be a plain value "
                           "without commas",
                           from, v->line, name);
        if ((i && kt_buf_append(out, ",", 1)) || kt_buf_append(out, v->text, strlen(v->text)))
            return kt_fail(KT_ERR_NO_MEMORY, "settings: out of memory");
    }
    return kt_buf_append(out, "", 1) ? kt_fail(KT_ERR_NO_MEMORY, "settings: out of memory") : KT_OK;
}

static kt_status value(void *obj, const kt_setting *t, const kt_y *v, const char *file)
{
    char from[600];
    snprintf(from, sizeof from, "%s:%zu", file, v->line);
    if (v->kind == KT_Y_SEQ && t->type == KT_SET_LIST) {
        kt_buf b = {0};
        kt_status st = joined(v, file, t->name, &b);
        if (!st) st = kt_setting_set(t, obj, (const char *)b.data, from);
        kt_buf_free(&b);
        return st;
    }
    if (v->kind != KT_Y_SCALAR)
        return kt_fail(KT_ERR_MALFORMED, "%s: %s is not a plain value (a list or mapping)", from,
                       t->name);
    if (!v->quoted && (!strcmp(v->text, "~") || !strcmp(v->text, "null")))
        return kt_fail(KT_ERR_MALFORMED,
                       "%s: %s is null (give a value, or leave the key out "
                       "for the default)",
                       from, t->name);
    return kt_setting_set(t, obj, v->text, from);
}

/* The keys of mapping m, whose settings are named prefix + key. */
static kt_status mapping(const kt_settings_spec *s, void *obj, const kt_y *m, const char *prefix,
                         const char *file)
{
    if (m->kind != KT_Y_MAP)
        return kt_fail(KT_ERR_MALFORMED, "%s:%zu: %s must be a mapping", file, m->line,
                       prefix[0] ? prefix : "the document");
    for (size_t j = 0; j + 1 < m->count; j += 2) {
        const kt_y *k = m->items[j], *v = m->items[j + 1];
        char name[KT_SET_NAME_MAX], shown[96];
        bool fits = (size_t)snprintf(name, sizeof name, "%s%s%s", prefix, prefix[0] ? "." : "",
                                     k->text) < sizeof name &&
                    !strchr(k->text, '.');
        size_t i = fits ? row_named(s, name) : s->count;
        bool section = false;
        for (size_t q = 0; !prefix[0] && s->sections && s->sections[q]; q++)
            section |= !strcmp(s->sections[q], k->text);
        kt_status st;
        if (i < s->count)
            st = value(obj, &s->table[i], v, file);
        else if (fits && is_mapping(s, name))
            st = mapping(s, obj, v, name, file);
        else if (section)
            st = KT_OK;
        else
            st = kt_fail(KT_ERR_MALFORMED, "%s: unknown key '%s' in %s (line %zu)", file,
                         kt_escape(k->text, strlen(k->text), shown, sizeof shown),
                         prefix[0] ? prefix : "the document", k->line);
        if (st) return st;
    }
    return KT_OK;
}

static kt_status read_doc(const kt_settings_spec *s, void *obj, const char *text, size_t n,
                          const char *name, kt_y **doc)
{
    kt_y *root = NULL;
    kt_status st = kt_yaml_parse(text, n, &root);
    if (st) return kt_fail_context(st, "%s", name);
    if (!root) return kt_fail(KT_ERR_MALFORMED, "%s: empty document", name);
    st = mapping(s, obj, root, "", name);
    if (!st && doc)
        *doc = root;
    else
        kt_yaml_free(root);
    return st;
}

kt_status kt_settings_parse(const kt_settings_spec *s, void *obj, const char *text, size_t n,
                            const char *name, kt_y **doc)
{
    if (doc) *doc = NULL;
    kt_status st = defaults(s, obj);
    return st ? st : read_doc(s, obj, text, n, name, doc);
}

/* An environment variable with the service's prefix that no setting has: a typo (or a
 * setting of another version) that would otherwise pass unnoticed. */
static kt_status unknown_env(const kt_settings_spec *s, const void *obj)
{
    size_t pn = strlen(s->env_prefix);
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, s->env_prefix, pn)) continue;
        size_t n = strcspn(*e, "=");
        char env[KT_SET_NAME_MAX], shown[160];
        bool known = n == pn + 6 && !strncmp(*e + pn, "CONFIG", 6);
        for (size_t i = 0; i < s->count && !known; i++) {
            const kt_setting *t = &s->table[i];
            kt_setting_env(s, t, env);
            const char *named = (t->opts & KT_SET_ENV_NAME) ? (const char *)obj + t->off : "";
            known = strlen(env) == n && !strncmp(*e, env, n);
            known |= named[0] && strlen(named) == n && !strncmp(*e, named, n);
        }
        if (!known)
            return kt_fail(KT_ERR_MALFORMED,
                           "unknown environment variable %s (no setting of "
                           "%s has it; see --help)",
                           kt_escape(*e, n, shown, sizeof shown), s->prog);
    }
    return KT_OK;
}

static kt_status environment(const kt_settings_spec *s, void *obj)
{
    kt_status st = KT_OK;
    for (size_t i = 0; i < s->count && !st; i++) {
        char env[KT_SET_NAME_MAX];
        kt_setting_env(s, &s->table[i], env);
        const char *v = env[0] ? getenv(env) : NULL;
        if (v) st = kt_setting_set(&s->table[i], obj, v, env);
    }
    return st;
}

/* argv into given[] (one per row; given[count] is --config). */
static kt_status flags(const kt_settings_spec *s, int argc, char *const *argv, const char **given,
                       bool *help)
{
    for (int a = 0; a < argc; a++) {
        const char *arg = argv[a], *eq = strchr(arg, '=');
        char shown[96], flag[KT_SET_NAME_MAX];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            *help = true;
            continue;
        }
        kt_escape(arg, eq ? (size_t)(eq - arg) : strlen(arg), shown, sizeof shown);
        if (strncmp(arg, "--", 2))
            return kt_fail(KT_ERR_INVALID_ARGUMENT,
                           "unexpected argument '%s' (options are "
                           "--name VALUE)",
                           shown);
        size_t n = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2), i = 0;
        for (; i < s->count; i++) {
            kt_setting_flag(&s->table[i], flag);
            if (flag[0] && strlen(flag) == n && !strncmp(flag, arg + 2, n)) break;
        }
        if (i == s->count && !(n == 6 && !strncmp(arg + 2, "config", 6)))
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "unknown option '%s'", shown);
        const char *v = eq                                              ? eq + 1
                        : a + 1 < argc && strncmp(argv[a + 1], "--", 2) ? argv[++a]
                                                                        : NULL;
        if (!v) return kt_fail(KT_ERR_INVALID_ARGUMENT, "option '%s' needs a value", shown);
        if (given[i]) return kt_fail(KT_ERR_INVALID_ARGUMENT, "option '%s' given twice", shown);
        given[i] = v;
    }
    return KT_OK;
}

kt_status kt_settings_load(const kt_settings_spec *s, void *obj, int argc, char *const *argv,
                           bool *help, kt_y **doc)
{
    const char **given = calloc(s->count + 1, sizeof *given);
    char env[KT_SET_NAME_MAX], flag[KT_SET_NAME_MAX];
    kt_buf b = {0};
    *help = false;
    if (doc) *doc = NULL;
    kt_status st =
        given ? flags(s, argc, argv, given, help) : kt_fail(KT_ERR_NO_MEMORY, "settings");
    if (!st && *help) {
        kt_settings_usage(s, stdout);
        free(given);
        return KT_OK;
    }
    snprintf(env, sizeof env, "%sCONFIG", s->env_prefix);
    const char *file = !given ? NULL : given[s->count] ? given[s->count] : getenv(env);
    if (!st && s->config_required && (!file || !file[0]))
        st = kt_fail(KT_ERR_INVALID_ARGUMENT, "--config (or %s) is required", env);
    if (!st) st = defaults(s, obj);
    if (!st && file && file[0]) {
        st = kt_file_read(file, KT_YAML_MAX_BYTES, &b);
        if (st) st = kt_fail_context(st, "%s", file);
        if (!st) st = read_doc(s, obj, (const char *)b.data, b.len, file, doc);
        kt_buf_free(&b);
    }
    if (!st) st = environment(s, obj);
    for (size_t i = 0; i < s->count && !st; i++) {
        kt_setting_flag(&s->table[i], flag);
        memmove(flag + 2, flag, strlen(flag) + 1);
        memcpy(flag, "--", 2);
        if (given[i]) st = kt_setting_set(&s->table[i], obj, given[i], flag);
    }
    if (!st) st = unknown_env(s, obj); /* after the flags: a variable a setting names */
    for (size_t i = 0; i < s->count && !st; i++) {
        const kt_setting *t = &s->table[i];
        if ((t->opts & KT_SET_REQUIRED) && kt_setting_is_text(t) && !((char *)obj + t->off)[0]) {
            kt_setting_env(s, t, env);
            kt_setting_flag(t, flag);
            st = kt_fail(KT_ERR_MALFORMED, "%s is required (%s in the file, %s or --%s)", t->name,
                         t->name, env, flag);
        }
    }
    free(given);
    if (st && doc) {
        kt_yaml_free(*doc);
        *doc = NULL;
    }
    return st;
}
