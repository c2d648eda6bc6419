/* kubetee attest quote | verify, and kubetee sim export | import | collateral. */
#include "cli.h"
#include "commands.h"

#include <kubetee/attest.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int quote_cmd(int argc, char **argv)
{
    cli_opt o[] = {
        {"enclave", true, "signed enclave whose identity the report carries"},
        {"report-data", true, "64 (or 32) bytes of hex"},
        {"sim-dir", true, "sim platform state (default $KUBETEE_SIM_DIR or ~/.kubetee/sim)"},
        {"out", true, "quote file to write"}};
    size_t n = CLI_NOPTS(o);
    if (!cli_parse(argc, argv, o, n) || !o[0].value || !o[1].value || !o[3].value) {
        fprintf(stderr, "usage: kubetee attest quote --enclave e.signed.so --report-data HEX "
                        "[--sim-dir DIR] --out quote.dat\n"
                        "(sim platform: the quote chains to the simulation root)\n");
        return 2;
    }
    uint8_t rd[64] = {0};
    size_t hl = strlen(o[1].value);
    if ((hl != 128 && hl != 64) || kt_hex_decode(o[1].value, rd, hl / 2))
        return cli_die("--report-data",
                       kt_fail(KT_ERR_MALFORMED, "expected 64 or 32 bytes of hex"));
    kt_buf file = {0}, quote = {0};
    kt_signed_image img;
    kt_enclave_identity id;
    kt_sim_qe *qe = NULL;
    kt_status st = kt_file_read(o[0].value, KT_IMAGE_MAX, &file);
    if (!st) st = kt_image_verify(file.data, file.len, &img, &id);
    kt_buf_free(&file);
    if (st) return cli_die("reading enclave", st);
    if ((st = kt_sim_qe_open(o[2].value, &qe))) return cli_die("opening the sim QE", st);
    /* the report body the enclave would have made: its verified identity */
    kt_report_body b = {.attr_flags = id.attr_flags,
                        .attr_xfrm = id.attr_xfrm,
                        .prodid = id.config.prodid,
                        .svn = id.config.svn};
    memcpy(b.mrenclave, id.mrenclave, 32);
    memcpy(b.mrsigner, id.mrsigner, 32);
    memcpy(b.report_data, rd, 64);
    uint8_t body[KT_REPORT_BODY_LEN];
    kt_report_body_encode(&b, body);
    st = kt_sim_qe_quote_body(qe, body, &quote);
    if (!st) st = kt_file_write_atomic(o[3].value, quote.data, quote.len, 0644);
    if (!st) printf("quote: %zu bytes, collateral: %s\n", quote.len, kt_sim_qe_collateral_dir(qe));
    kt_sim_qe_free(qe);
    kt_buf_free(&quote);
    return st ? cli_die("quoting", st) : 0;
}

/* Unix seconds (decimal digits only) or an ISO time, up to 9999-12-31T23:59:59Z. */
static kt_status parse_at(const char *s, time_t *at)
{
    if (!s) {
        *at = time(NULL);
        return KT_OK;
    }
    uint64_t x;
    if (s[0] >= '0' && s[0] <= '9' && !strchr(s, '-')) {
        if (kt_decimal_parse(s, 253402300799ull, &x))
            return kt_fail_context(KT_ERR_MALFORMED, "'%s' is not Unix seconds up to year 9999", s);
        *at = (time_t)x;
        return KT_OK;
    }
    return kt_time_parse(s, at);
}

static int verify_cmd(int argc, char **argv)
{
    cli_opt o[] = {
        {"quote", true, "quote file"},
        {"collateral", true, "collateral directory"},
        {"policy", true, "policy (YAML or JSON)"},
        {"at", true, "verification time: unix seconds or YYYY-MM-DDThh:mm:ssZ"},
        {"root", true, "trust anchor PEM (default: <collateral>/intel_root_ca.pem)"},
        {"json", false, "print the verdict as JSON"},
        {"allow-simulation", false, "without --policy: accept simulated quotes"},
        {"pccs", true, "fetch collateral from this PCCS / PCS base URL (with --root)"},
        {"cache", true, "collateral cache directory for --pccs (default ~/.kubetee/collateral)"},
        {"root-crl-url", true,
         "with --pccs: where the root CA CRL is (default: the PCCS, else the root's CRL "
         "distribution point)"}};
    size_t n = CLI_NOPTS(o);
    if (!cli_parse(argc, argv, o, n) || !o[0].value || (!o[1].value == !o[7].value) ||
        (o[7].value && !o[4].value) || (o[6].value && o[2].value)) {
        fprintf(stderr,
                "usage: kubetee attest verify --quote Q (--collateral DIR | --pccs URL --root PEM "
                "[--cache DIR] [--root-crl-url URL]) [--policy P] [--at TIME] [--json]\n"
                "       [--allow-simulation (without --policy; a policy says allow_simulation)]\n"
                "exit status: 0 pass, 1 fail, 2 usage\n");
        return 2;
    }
    time_t at;
    kt_status st = parse_at(o[3].value, &at);
    if (st) return cli_die("--at", st) + 1;
    kt_buf quote = {0};
    kt_collateral *c = NULL;
    kt_policy *p = NULL;
    if ((st = kt_file_read(o[0].value, KT_QUOTE_MAX, &quote))) return cli_die("reading quote", st);
    char fetched[4096];
    const char *dir = o[1].value;
    if (o[7].value) {
        char def[4096];
        const char *cache = o[8].value;
        if (!cache) {
            snprintf(def, sizeof def, "%s/.kubetee/collateral",
                     getenv("HOME") ? getenv("HOME") : "/tmp");
            cache = def;
        }
        if ((st = kt_collateral_fetch_ex(o[7].value, o[9].value, quote.data, quote.len, o[4].value,
                                         cache, at, fetched, sizeof fetched))) {
            kt_buf_free(&quote);
            return cli_die("fetching collateral", st);
        }
        dir = fetched;
    }
    if ((st = kt_collateral_load_dir(dir, o[7].value ? NULL : o[4].value, &c))) {
        kt_buf_free(&quote);
        return cli_die("loading collateral", st);
    }
    /* without --policy, the default policy: what any policy refuses unless it says so */
    bool own = !o[2].value;
    if ((st = own ? kt_policy_default(o[6].value != NULL, &p) : kt_policy_load(o[2].value, &p))) {
        kt_buf_free(&quote);
        kt_collateral_free(c);
        return cli_die("loading policy", st);
    }
    kt_verdict v;
    kt_quote_verify(quote.data, quote.len, c, at, &v);
    bool pass = v.ok;
    char reason[1024] = "", safe[2048];
    if (!pass) {
        snprintf(reason, sizeof reason, "%s", v.reason);
    } else if (kt_policy_check(p, &v)) {
        pass = false;
        snprintf(reason, sizeof reason, "%s: %s",
                 own ? "default policy (no --policy: UpToDate only, no debug, no service TD, "
                       "no simulation without --allow-simulation)"
                     : "policy",
                 kt_last_error());
    }
    kt_escape_text(reason, strlen(reason), safe, sizeof safe); /* it names what came in */
    if (o[5].value) {
        kt_buf js = {0};
        kt_verdict_json(&v, &js);
        printf("{\"pass\":%s,\"why\":\"", pass ? "true" : "false");
        for (const char *r = safe; *r; r++) /* printable ASCII: only " and \ need escapes */
            printf(*r == '"' || *r == '\\' ? "\\%c" : "%c", *r);
        printf("\",\"verdict\":%s}\n", (const char *)js.data);
        kt_buf_free(&js);
    } else {
        printf("%s", pass ? "PASS" : "FAIL");
        if (v.ok)
            printf("  tcb=%s%s", kt_tcb_status_name(v.tcb_status),
                   v.simulated ? "  (simulated)" : "");
        for (unsigned i = 0; i < v.advisory_count; i++)
            printf("%s%s", i ? "," : "  advisories=", v.advisories[i]);
        printf("\n");
        if (!pass) printf("reason: %s\n", safe);
    }
    kt_policy_free(p);
    kt_collateral_free(c);
    kt_buf_free(&quote);
    return pass ? 0 : 1;
}

int cmd_attest(int argc, char **argv)
{
    if (argc >= 1 && !strcmp(argv[0], "quote")) return quote_cmd(argc - 1, argv + 1);
    if (argc >= 1 && !strcmp(argv[0], "verify")) return verify_cmd(argc - 1, argv + 1);
    fprintf(stderr, "usage: kubetee attest quote|verify [options]\n");
    return 2;
}

int cmd_sim(int argc, char **argv)
{
    cli_opt o[] = {{"sim-dir", true, "sim platform state"},
                   {"out", true, "export directory"},
                   {"from", true, "import directory"}};
    const char *verb = argc >= 1 ? argv[0] : "";
    if (argc < 1 || !cli_parse(argc - 1, argv + 1, o, CLI_NOPTS(o)) ||
        (strcmp(verb, "export") && strcmp(verb, "import") && strcmp(verb, "collateral")) ||
        (!strcmp(verb, "export") && !o[1].value) || (!strcmp(verb, "import") && !o[2].value)) {
        fprintf(stderr, "usage: kubetee sim export --out DIR | import --from DIR | collateral "
                        "[--sim-dir DIR]\n"
                        "a cluster shares one simulation root: export it on one node, import it "
                        "on the others\n");
        return 2;
    }
    kt_status st;
    if (!strcmp(verb, "export"))
        st = kt_sim_root_export(o[0].value, o[1].value);
    else if (!strcmp(verb, "import"))
        st = kt_sim_root_import(o[0].value, o[2].value);
    else {
        kt_sim_qe *qe;
        if (!(st = kt_sim_qe_open(o[0].value, &qe))) {
            printf("%s\n", kt_sim_qe_collateral_dir(qe));
            kt_sim_qe_free(qe);
        }
    }
    return st ? cli_die(verb, st) : 0;
}
