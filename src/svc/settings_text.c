/* What a settings table says to people: --help from its rows, and the one log line of
 * the settings in effect (secrets only as set or not). */
#include "settings_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static void kind(const kt_setting *t, char *out, size_t cap)
{
    static const char *const plain[] = {[KT_SET_STRING] = "text",
                                        [KT_SET_PATH] = "path",
                                        [KT_SET_BOOL] = "true or false",
                                        [KT_SET_LIST] = "comma-separated list"};
    unsigned long long lo = t->min, hi = t->max;
    bool absolute = t->type == KT_SET_PATH && (t->opts & KT_SET_ABSOLUTE);
    snprintf(out, cap, "%s", absolute ? "absolute path" : plain[t->type] ? plain[t->type] : "");
    if (t->type == KT_SET_UINT) snprintf(out, cap, "%llu..%llu", lo, hi);
    if (t->type == KT_SET_DURATION)
        snprintf(out, cap, "%llu..%llu %s, or with ms, s, m, h", lo, hi, kt_setting_unit(t));
    for (size_t j = 0; t->type == KT_SET_ENUM && t->words[j]; j++)
        snprintf(out + strlen(out), cap - strlen(out), "%s%s", j ? "|" : "", t->words[j]);
    if (t->opts & KT_SET_SECRET) snprintf(out + strlen(out), cap - strlen(out), ", secret");
}

void kt_settings_usage(const kt_settings_spec *s, FILE *f)
{
    fprintf(f,
            "%s\nSettings: each is a key of the YAML file given by --config FILE (or %sCONFIG),\n"
            "an environment variable and a flag (--name VALUE or --name=VALUE). A flag wins over\n"
            "the environment, which wins over the file, which wins over the default. An unknown\n"
            "key, flag or %s* variable is an error.\n\n",
            s->usage, s->env_prefix, s->env_prefix);
    for (size_t i = 0; i < s->count; i++) {
        const kt_setting *t = &s->table[i];
        char flag[KT_SET_NAME_MAX], env[KT_SET_NAME_MAX], k[256];
        kt_setting_flag(t, flag);
        kt_setting_env(s, t, env);
        kind(t, k, sizeof k);
        char line[2048];
        snprintf(line, sizeof line, "%s (%s; %s%s)", t->help, k,
                 t->opts & KT_SET_REQUIRED ? "required"
                 : t->def && t->def[0]     ? "default "
                                           : "no default",
                 t->opts & KT_SET_REQUIRED || !t->def || (t->opts & KT_SET_SECRET) ? "" : t->def);
        fprintf(f, "  %s%s%s%s%s%s%s\n", flag[0] ? "--" : "", flag, env[0] && flag[0] ? ", " : "",
                env, t->opts & KT_SET_NO_FILE ? "" : ", ", t->opts & KT_SET_NO_FILE ? "" : t->name,
                t->opts & KT_SET_NO_FILE ? "" : ":");
        /* the help in lines of at most 88 columns, broken at spaces */
        for (const char *p = line; *p;) {
            size_t n = strlen(p), cut = n;
            if (n > 82)
                for (cut = 82; cut > 0 && p[cut] != ' '; cut--) {
                }
            if (!cut) cut = n;
            fprintf(f, "      %.*s\n", (int)cut, p);
            p += cut;
            while (*p == ' ')
                p++;
        }
    }
}

void kt_settings_log(const kt_settings_spec *s, const void *obj, const char *event)
{
    const char **kv = calloc(2 * s->count + 1, sizeof *kv);
    char(*num)[32] = calloc(s->count + 1, sizeof *num);
    if (!kv || !num) {
        free(kv);
        free(num);
        return;
    }
    for (size_t i = 0; i < s->count; i++) {
        const kt_setting *t = &s->table[i];
        const char *field = (const char *)obj + t->off;
        kv[2 * i] = t->name;
        uint64_t x = 0;
        if (t->opts & KT_SET_SECRET)
            kv[2 * i + 1] = field[0] ? "(set)" : "(none)";
        else if (kt_setting_is_text(t))
            kv[2 * i + 1] = field;
        else if (t->type == KT_SET_BOOL)
            kv[2 * i + 1] = *(const bool *)(const void *)field ? "true" : "false";
        else {
            if (t->size == 4) {
                uint32_t y;
                memcpy(&y, field, 4);
                x = y;
            } else {
                memcpy(&x, field, 8);
            }
            snprintf(num[i], sizeof num[i], "%" PRIu64 "%s", x,
                     t->type == KT_SET_DURATION ? kt_setting_unit(t) : "");
            kv[2 * i + 1] = num[i];
        }
    }
    kt_log_fields(KT_LOG_INFO, event, kv, s->count);
    free(kv);
    free(num);
}
