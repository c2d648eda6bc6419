/* kubetee keygen | sign | gendata | catsig: enclave signing, one step or two. */
#include "cli.h"
#include "commands.h"
#include "signer_client.h"

#include <stdio.h>
#include <string.h>

static int write_out(const char *path, const void *data, size_t n, unsigned mode)
{
    kt_status st = kt_file_write_atomic(path, data, n, mode);
    return st ? cli_die("writing output", st) : 0;
}

static void print_identity(const kt_buf *signed_image)
{
    kt_signed_image img;
    kt_enclave_identity id;
    if (kt_image_verify(signed_image->data, signed_image->len, &img, &id) == KT_OK) {
        char mre[65], mrs[65];
        kt_hex_encode(id.mrenclave, 32, mre, sizeof mre);
        kt_hex_encode(id.mrsigner, 32, mrs, sizeof mrs);
        printf("mrenclave: %s\nmrsigner:  %s\n", mre, mrs);
        kt_einit_report r;
        if (kt_einit_check(img.elf, img.elf_len, &img.config, &r) == KT_OK)
            cli_print_einit(&r, false);
    }
}

int cmd_keygen(int argc, char **argv)
{
    cli_opt o[] = {{"out", true, "private key PEM to write (mode 0600)"}};
    if (!cli_parse(argc, argv, o, CLI_NOPTS(o)) || !o[0].value) {
        fprintf(stderr, "usage: kubetee keygen --out key.pem\n");
        return 2;
    }
    kt_key *k;
    kt_buf pem = {0};
    kt_status st = kt_key_generate(KT_KEY_RSA3072_E3, &k);
    if (st) return cli_die("generating RSA-3072 e=3 key", st);
    st = kt_key_to_pem(k, true, &pem);
    kt_key_free(k);
    int rc = st ? cli_die("encoding key", st) : write_out(o[0].value, pem.data, pem.len, 0600);
    kt_buf_free(&pem);
    return rc;
}

/* Loads --enclave and --config, common to sign, gendata and catsig. */
static int load_inputs(const cli_opt *o, size_t n, kt_buf *elf, kt_enclave_config *c)
{
    const char *enclave = cli_get(o, n, "enclave");
    kt_status st = kt_file_read(enclave, KT_IMAGE_MAX, elf);
    if (st) return cli_die("reading enclave", st);
    st = cli_load_config(cli_get(o, n, "config"), c);
    return st ? cli_die("reading config", st) : 0;
}

/* Two-step signing with kubetee-signer as the external signer. */
static kt_status sign_with_signer(const cli_opt *o, size_t n, const kt_buf *elf,
                                  const kt_enclave_config *c, kt_buf *out)
{
    signer_endpoint e = {cli_get(o, n, "signer"), cli_get(o, n, "tls-ca"),
                         cli_get(o, n, "tls-cert"), cli_get(o, n, "tls-key"),
                         cli_get(o, n, "server-name")};
    uint8_t sd[KT_SIGDATA_LEN];
    kt_key *pub = NULL;
    kt_buf sig = {0};
    kt_status st = kt_image_gendata(elf->data, elf->len, c, kt_sigstruct_today(), sd);
    const char *w = cli_get(o, n, "wait");
    uint64_t wait_s = 0;
    if (w && kt_decimal_parse(w, 86400, &wait_s))
        return kt_fail_context(KT_ERR_INVALID_ARGUMENT, "--wait '%s' (seconds)", w);
    kt_buf conf = {0};
    const char *cpath = cli_get(o, n, "config");
    if (!st && cpath && (st = kt_file_read(cpath, 64u << 10, &conf)))
        st = kt_fail_context(st, "reading the config to send");
    if (!st) st = kt_buf_append(&conf, "", 1);
    signer_request r = {cli_get(o, n, "key"), sd, elf->data, elf->len, (const char *)conf.data,
                        (int)wait_s};
    if (!st) st = signer_sign(&e, &r, &pub, &sig);
    kt_buf_free(&conf);
    if (!st) st = kt_image_catsig(elf->data, elf->len, c, sd, pub, sig.data, sig.len, out);
    kt_key_free(pub);
    kt_buf_free(&sig);
    return st;
}

int cmd_sign(int argc, char **argv)
{
    cli_opt o[] = {{"enclave", true, "unsigned enclave .so"},
                   {"config", true, "enclave config (key = value)"},
                   {"key", true, "RSA-3072 e=3 private key PEM; with --signer, the key's name"},
                   {"out", true, "signed enclave to write"},
                   {"quiet", false, "print nothing on success"},
                   {"signer", true, "kubetee-signer's address: it signs, with a key in its HSM"},
                   {"tls-ca", true, "with --signer: CA of the signer's certificate"},
                   {"tls-cert", true, "with --signer: this client's certificate"},
                   {"tls-key", true, "with --signer: this client's private key"},
                   {"server-name", true, "with --signer: name to check in its certificate"},
                   {"wait", true, "with --signer: seconds to wait for M-of-N approval (0)"}};
    size_t n = CLI_NOPTS(o);
    if (!cli_parse(argc, argv, o, n) || !o[0].value || !o[2].value || !o[3].value) {
        fprintf(stderr, "usage: kubetee sign --enclave e.so [--config e.conf] --key key.pem "
                        "--out e.signed.so [--quiet]\n"
                        "       kubetee sign --signer HOST:PORT --key NAME --tls-ca ca.pem "
                        "--tls-cert me.pem --tls-key me.key --enclave e.so [--config e.conf] "
                        "--out e.signed.so\n");
        return 2;
    }
    kt_buf elf = {0}, out = {0};
    kt_enclave_config c;
    kt_key *key = NULL;
    int rc = load_inputs(o, n, &elf, &c);
    kt_status st;
    if (!rc && cli_get(o, n, "signer")) {
        if ((st = sign_with_signer(o, n, &elf, &c, &out))) rc = cli_die("signing", st);
    } else if (!rc && (st = cli_load_key(o[2].value, &key))) {
        rc = cli_die("reading key", st);
    } else if (!rc && (st = kt_image_sign(elf.data, elf.len, &c, key, kt_sigstruct_today(), &out))) {
        rc = cli_die("signing", st);
    }
    if (!rc) rc = write_out(o[3].value, out.data, out.len, 0644);
    if (!rc && !o[4].value) print_identity(&out);
    kt_key_free(key);
    kt_buf_free(&elf);
    kt_buf_free(&out);
    return rc;
}

int cmd_gendata(int argc, char **argv)
{
    cli_opt o[] = {{"enclave", true, "unsigned enclave .so"},
                   {"config", true, "enclave config"},
                   {"out", true, "file for the 256 bytes to sign"}};
    size_t n = CLI_NOPTS(o);
    if (!cli_parse(argc, argv, o, n) || !o[0].value || !o[2].value) {
        fprintf(stderr,
                "usage: kubetee gendata --enclave e.so [--config e.conf] --out sigdata.bin\n"
                "then sign it, e.g.: openssl dgst -sha256 -sign key.pem -out sig.bin "
                "sigdata.bin\n");
        return 2;
    }
    kt_buf elf = {0};
    kt_enclave_config c;
    uint8_t sd[KT_SIGDATA_LEN];
    int rc = load_inputs(o, n, &elf, &c);
    kt_status st;
    if (!rc && (st = kt_image_gendata(elf.data, elf.len, &c, kt_sigstruct_today(), sd)))
        rc = cli_die("generating signing data", st);
    if (!rc) rc = write_out(o[2].value, sd, sizeof sd, 0644);
    kt_buf_free(&elf);
    return rc;
}

int cmd_catsig(int argc, char **argv)
{
    cli_opt o[] = {{"enclave", true, "unsigned enclave .so"},
                   {"config", true, "enclave config"},
                   {"sigdata", true, "what gendata wrote"},
                   {"key", true, "signer's public key PEM"},
                   {"sig", true, "signature over sigdata (PKCS#1 v1.5 SHA-256)"},
                   {"out", true, "signed enclave to write"}};
    size_t n = CLI_NOPTS(o);
    if (!cli_parse(argc, argv, o, n) || !o[0].value || !o[2].value || !o[3].value || !o[4].value ||
        !o[5].value) {
        fprintf(stderr, "usage: kubetee catsig --enclave e.so [--config e.conf] --sigdata sd.bin "
                        "--key pub.pem --sig sig.bin --out e.signed.so\n");
        return 2;
    }
    kt_buf elf = {0}, sd = {0}, sig = {0}, out = {0};
    kt_enclave_config c;
    kt_key *pub = NULL;
    int rc = load_inputs(o, n, &elf, &c);
    kt_status st;
    if (!rc && (st = kt_file_read(o[2].value, 4096, &sd))) rc = cli_die("reading sigdata", st);
    if (!rc && sd.len != KT_SIGDATA_LEN)
        rc = cli_die("reading sigdata", kt_fail(KT_ERR_MALFORMED, "%s is %zu bytes, not %d",
                                                o[2].value, sd.len, KT_SIGDATA_LEN));
    if (!rc && (st = cli_load_key(o[3].value, &pub))) rc = cli_die("reading key", st);
    if (!rc && (st = kt_file_read(o[4].value, 4096, &sig))) rc = cli_die("reading signature", st);
    if (!rc && (st = kt_image_catsig(elf.data, elf.len, &c, sd.data, pub, sig.data, sig.len, &out)))
        rc = cli_die("catsig", st);
    if (!rc) rc = write_out(o[5].value, out.data, out.len, 0644);
    if (!rc) print_identity(&out);
    kt_key_free(pub);
    kt_buf_free(&elf), kt_buf_free(&sd), kt_buf_free(&sig), kt_buf_free(&out);
    return rc;
}
