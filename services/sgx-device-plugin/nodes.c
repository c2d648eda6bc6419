/* SGX device nodes: the in-kernel driver's /dev/sgx_enclave and /dev/sgx_provision (and
 * the /dev/sgx/ directory some distributions add), or the out-of-tree drivers' /dev/isgx
 * and /dev/sgx. The root is a flag so tests and machines without SGX can substitute it. */
#include "plugin.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* A node is there when something other than a directory has its name (a character
 * device on a real machine; tests stand in plain files). */
static bool find(const char *root, const char *name, char out[PATH_MAX])
{
    char p[PATH_MAX];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", root, name);
    if (stat(p, &sb) != 0 || S_ISDIR(sb.st_mode)) return false;
    snprintf(out, PATH_MAX, "%s", p);
    return true;
}

void kt_sgx_nodes_scan(const char *root, kt_sgx_nodes *n)
{
    memset(n, 0, sizeof *n);
    if (find(root, "sgx_enclave", n->enclave))
        find(root, "sgx/enclave", n->enclave_alt);
    else if (!find(root, "sgx/enclave", n->enclave))
        n->legacy = find(root, "isgx", n->enclave) || find(root, "sgx", n->enclave);
    if (find(root, "sgx_provision", n->provision))
        find(root, "sgx/provision", n->provision_alt);
    else
        find(root, "sgx/provision", n->provision);
}

bool kt_sgx_nodes_equal(const kt_sgx_nodes *a, const kt_sgx_nodes *b)
{
    return !strcmp(a->enclave, b->enclave) && !strcmp(a->enclave_alt, b->enclave_alt) &&
           !strcmp(a->provision, b->provision) && !strcmp(a->provision_alt, b->provision_alt);
}
