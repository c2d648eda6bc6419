/* Build step for the session test enclave: what its compiled-in policies pin, made before
 * it is compiled. A simulation root (made in state_dir, exported to export_dir for the
 * tests to import) and the MRSIGNER of the key that signs the enclave are written to a
 * header as hex. Usage: pins STATE_DIR EXPORT_DIR KEY.pem OUT.h */
#include <kubetee/attest.h>
#include <kubetee/crypto.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

static int die(const char *what)
{
    fprintf(stderr, "pins: %s: %s\n", what, kt_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: pins STATE_DIR EXPORT_DIR KEY.pem OUT.h\n");
        return 2;
    }
    kt_sim_qe *qe = NULL;
    if (kt_sim_qe_open(argv[1], &qe) || kt_sim_root_export(argv[1], argv[2])) return die("sim root");
    kt_sim_qe_free(qe);
    char path[4096];
    snprintf(path, sizeof path, "%s/root_ca.pem", argv[2]);
    FILE *f = fopen(path, "r");
    X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (f) fclose(f);
    unsigned char *der = NULL;
    int dn = x ? i2d_X509(x, &der) : -1;
    uint8_t root[32], mrsigner[32], modulus[384], le[384];
    if (dn <= 0 || kt_sha256(der, (size_t)dn, root)) return die("root certificate");
    OPENSSL_free(der);
    X509_free(x);
    kt_buf pem = {0};
    kt_key *key = NULL;
    size_t len = 0;
    if (kt_file_read(argv[3], 1 << 16, &pem) ||
        kt_key_from_pem((const char *)pem.data, pem.len, &key) ||
        kt_key_public_raw(key, modulus, sizeof modulus, &len) || len != sizeof modulus)
        return die("signing key");
    for (size_t i = 0; i < len; i++) /* SIGSTRUCT keeps the modulus little-endian */
        le[i] = modulus[len - 1 - i];
    if (kt_sha256(le, len, mrsigner)) return die("mrsigner");
    char r[65], m[65];
    kt_hex_encode(root, 32, r, sizeof r);
    kt_hex_encode(mrsigner, 32, m, sizeof m);
    FILE *out = fopen(argv[4], "w");
    if (!out) return die("header");
    fprintf(out, "/* made by tests/enclaves/pins.c */\n#define SIM_ROOT_SHA256 \"%s\"\n"
                 "#define SIGNER_MRSIGNER \"%s\"\n", r, m);
    kt_key_free(key);
    kt_buf_free(&pem);
    return fclose(out) ? 1 : 0;
}
