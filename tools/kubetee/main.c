/* kubetee: the developer's tool. */
#include "commands.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *help;
} commands[] = {
    {"keygen", cmd_keygen, "make an RSA-3072 e=3 enclave signing key"},
    {"sign", cmd_sign, "sign an enclave in one step with a key file"},
    {"gendata", cmd_gendata, "two-step signing: write the 256 bytes an external signer signs"},
    {"catsig", cmd_catsig, "two-step signing: put the external signature in"},
    {"dump", cmd_dump, "verify a signed enclave and print MRENCLAVE, MRSIGNER and its config"},
    {"attest", cmd_attest, "quote (sim) or verify a DCAP quote against collateral and a policy"},
    {"sim", cmd_sim, "the sim platform: share a simulation root, find its collateral"},
    {"signer", cmd_signer, "kubetee-signer's keys (sign with it: kubetee sign --signer)"},
    {"new", cmd_new, "make a project that builds, signs and runs against the installed SDK"},
    {"call", cmd_call, "call an enclave's remote function through an attested session, in JSON"},
};

static int usage(FILE *f)
{
    fprintf(f, "usage: kubetee <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\nrun 'kubetee <command>' without options for its usage\n");
    return f == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
    if (argc < 2) return usage(stderr);
    if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
        return usage(stdout);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 2, argv + 2);
    fprintf(stderr, "kubetee: unknown command '%s'\n", argv[1]);
    return usage(stderr);
}
