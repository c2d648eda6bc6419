/* Option parsing and small I/O helpers shared by the kubetee subcommands. */
#ifndef KT_CLI_H
#define KT_CLI_H

#include <kubetee/image.h>

typedef struct {
    const char *name; /* without the leading "--" */
    bool takes_value;
    const char *help;
    const char *value; /* filled in: the value, or "1" for a flag that was given */
} cli_opt;

/* Parses argv into opts; prints an error naming the bad option and returns false. */
bool cli_parse(int argc, char **argv, cli_opt *opts, size_t nopts);
const char *cli_get(const cli_opt *opts, size_t nopts, const char *name);
/* Prints a failure with kt_last_error() and returns exit status 1. */
int cli_die(const char *what, kt_status st);
/* Reads an enclave config file, or the defaults when path is NULL. */
kt_status cli_load_config(const char *path, kt_enclave_config *c);
kt_status cli_load_key(const char *path, kt_key **k);
/* Prints an EINIT-ready report: one line per rule, or JSON members (no braces). */
void cli_print_einit(const kt_einit_report *r, bool json);

#define CLI_NOPTS(a) (sizeof(a) / sizeof((a)[0]))

#endif
