#include "cli.h"

#include <stdio.h>
#include <string.h>

bool cli_parse(int argc, char **argv, cli_opt *opts, size_t nopts)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "kubetee: unexpected argument '%s'\n", a);
            return false;
        }
        size_t k;
        for (k = 0; k < nopts && strcmp(opts[k].name, a + 2) != 0; k++)
            ;
        if (k == nopts) {
            fprintf(stderr, "kubetee: unknown option '%s'\n", a);
            return false;
        }
        if (opts[k].takes_value) {
            if (i + 1 >= argc) {
                fprintf(stderr, "kubetee: option '%s' needs a value\n", a);
                return false;
            }
            opts[k].value = argv[++i];
        } else {
            opts[k].value = "1";
        }
    }
    return true;
}

const char *cli_get(const cli_opt *opts, size_t nopts, const char *name)
{
    for (size_t k = 0; k < nopts; k++)
        if (strcmp(opts[k].name, name) == 0) return opts[k].value;
    return NULL;
}

int cli_die(const char *what, kt_status st)
{
    char safe[2048]; /* errors quote their input (names, keys, values): one printable line */
    const char *e = kt_last_error();
    fprintf(stderr, "kubetee: %s: %s (%s)\n", what, kt_escape_text(e, strlen(e), safe, sizeof safe),
            kt_status_name(st));
    return 1;
}

kt_status cli_load_config(const char *path, kt_enclave_config *c)
{
    kt_enclave_config_default(c);
    if (!path) return KT_OK;
    kt_buf b = {0};
    kt_status st = kt_file_read(path, 65536, &b);
    if (!st) st = kt_enclave_config_parse((const char *)b.data, b.len, c);
    kt_buf_free(&b);
    return st ? kt_fail_context(st, "%s", path) : KT_OK;
}

kt_status cli_load_key(const char *path, kt_key **k)
{
    kt_buf b = {0};
    kt_status st = kt_file_read(path, 65536, &b);
    if (!st) st = kt_key_from_pem((const char *)b.data, b.len, k);
    kt_buf_free(&b);
    return st ? kt_fail_context(st, "%s", path) : KT_OK;
}
