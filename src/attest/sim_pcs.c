/* The sim platform's PKI and collateral: what Intel's PCS would serve for it, issued
 * under a simulation root with the crypto module. Everything is P-256; keys are files of
 * mode 0600. */
#include "internal.h"
#include "sim_qe.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const uint8_t sim_fmspc[6] = {0x00, 0x53, 0x49, 0x4D, 0x00, 0x00};
static const uint8_t sim_comp[16] = {2, 2, 2, 2, 2, 1, 0, 3};
#define SIM_PCESVN SIM_PCESVN_VALUE
#define CERT_DAYS 3650

static kt_status path_of(const char *dir, const char *name, char out[PATH_MAX])
{
    if ((size_t)snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "sim attest: path too long");
    return KT_OK;
}

static bool exists(const char *dir, const char *name)
{
    char p[PATH_MAX];
    struct stat sb;
    return path_of(dir, name, p) == KT_OK && stat(p, &sb) == 0;
}

static kt_status write_file(const char *dir, const char *name, const kt_buf *b, unsigned mode)
{
    char p[PATH_MAX];
    kt_status st = path_of(dir, name, p);
    return st ? st : kt_file_write_atomic(p, b->data, b->len, mode);
}

static kt_status read_file(const char *dir, const char *name, kt_buf *b)
{
    char p[PATH_MAX];
    kt_status st = path_of(dir, name, p);
    return st ? st : kt_file_read(p, 1 << 16, b);
}

/* A PEM file of certificates, in the order given. */
static kt_status write_chain(const char *dir, const char *name, const kt_cert *a, const kt_cert *b)
{
    kt_buf pem = {0};
    kt_status st = kt_cert_to_pem(a, &pem);
    if (!st && b) st = kt_cert_to_pem(b, &pem);
    if (!st) st = write_file(dir, name, &pem, 0644);
    kt_buf_free(&pem);
    return st;
}

static kt_status write_crl(const char *dir, const char *name, const kt_cert *issuer,
                           const kt_key *key)
{
    kt_buf der = {0};
    kt_status st = kt_crl_new(issuer, key, 30, &der);
    if (!st) st = write_file(dir, name, &der, 0644);
    kt_buf_free(&der);
    return st;
}

/* {"<key>":BODY,"signature":"<r||s hex>"}, signed by key. */
static kt_status write_signed_json(const char *dir, const char *name, const char *key,
                                   const char *body, const kt_key *signer)
{
    kt_buf sig = {0}, out = {0};
    char hex[129], head[64];
    kt_status st = kt_sign(signer, body, strlen(body), &sig);
    if (!st) st = kt_hex_encode(sig.data, sig.len, hex, sizeof hex);
    snprintf(head, sizeof head, "{\"%s\":", key);
    if (!st && !(st = kt_buf_append(&out, head, strlen(head))) &&
        !(st = kt_buf_append(&out, body, strlen(body))) &&
        !(st = kt_buf_append(&out, ",\"signature\":\"", 14)) &&
        !(st = kt_buf_append(&out, hex, 128)) && !(st = kt_buf_append(&out, "\"}", 2)))
        st = write_file(dir, name, &out, 0644);
    kt_buf_free(&sig);
    kt_buf_free(&out);
    return st;
}

static void iso(time_t t, char out[24])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 24, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void kt_sim_qe_identity_fields(uint8_t mrenclave[32], uint8_t mrsigner[32])
{
    kt_sha256("kubetee simulated QE", 20, mrenclave);
    kt_sha256("kubetee simulated QE signer", 27, mrsigner);
}

void kt_sim_pck_cpusvn(uint8_t cpusvn[16])
{
    memcpy(cpusvn, sim_comp, 16);
}

/* Issues the collateral directory from the PKI in dir. */
static kt_status issue_collateral(const char *dir, const kt_cert *root, const kt_key *root_key,
                                  const kt_cert *pck_ca, const kt_key *pck_ca_key,
                                  const kt_cert *tcb, const kt_key *tcb_key)
{
    char cdir[PATH_MAX];
    kt_status st = path_of(dir, "collateral", cdir);
    if (!st) st = kt_mkdirs(cdir, 0755);
    if (!st)
        st = write_chain(cdir, "intel_root_ca.pem", root, NULL); /* the name verifiers look for */
    if (!st) st = write_crl(cdir, "root_ca_crl.der", root, root_key);
    if (!st) st = write_crl(cdir, "pck_crl.der", pck_ca, pck_ca_key);
    if (!st) st = write_chain(cdir, "pck_crl_issuer_chain.pem", pck_ca, root);
    if (!st) st = write_chain(cdir, "tcb_info_issuer_chain.pem", tcb, root);
    if (!st) st = write_chain(cdir, "qe_identity_issuer_chain.pem", tcb, root);
    if (st) return st;
    time_t now = time(NULL);
    char issue[24], next[24], fmspc[13], body[4096];
    iso(now - 3600, issue);
    iso(now + 30 * 86400, next);
    kt_hex_encode(sim_fmspc, 6, fmspc, sizeof fmspc);
    int at =
        snprintf(body, sizeof body,
                 "{\"id\":\"SGX\",\"version\":3,\"issueDate\":\"%s\",\"nextUpdate\":\"%s\","
                 "\"fmspc\":\"%s\",\"pceId\":\"0000\",\"tcbType\":0,\"tcbEvaluationDataNumber\":1,"
                 "\"tcbLevels\":[{\"tcb\":{\"sgxtcbcomponents\":[",
                 issue, next, fmspc);
    for (int i = 0; i < 16; i++)
        at += snprintf(body + at, sizeof body - (size_t)at, "%s{\"svn\":%u}", i ? "," : "",
                       sim_comp[i]);
    snprintf(body + at, sizeof body - (size_t)at,
             "],\"pcesvn\":%d},\"tcbDate\":\"%s\",\"tcbStatus\":\"UpToDate\"}]}", SIM_PCESVN,
             issue);
    if ((st = write_signed_json(cdir, "tcb_info.json", "tcbInfo", body, tcb_key))) return st;
    /* the TCB Evaluation Data Numbers (PCS v4): the one evaluation the sim TCB Info has */
    snprintf(body, sizeof body,
             "{\"id\":\"SGX\",\"version\":1,\"issueDate\":\"%s\",\"nextUpdate\":\"%s\","
             "\"tcbEvalNumbers\":[{\"tcbEvaluationDataNumber\":1,\"tcbRecoveryEventDate\":\"%s\","
             "\"tcbDate\":\"%s\"}]}",
             issue, next, issue, issue);
    if ((st = write_signed_json(cdir, "tcb_eval_numbers.json", "tcbEvaluationDataNumbers", body,
                                tcb_key)))
        return st;
    uint8_t mre[32], mrs[32];
    char mrs_hex[65];
    kt_sim_qe_identity_fields(mre, mrs);
    kt_hex_encode(mrs, 32, mrs_hex, sizeof mrs_hex);
    snprintf(
        body, sizeof body,
        "{\"id\":\"QE\",\"version\":2,\"issueDate\":\"%s\",\"nextUpdate\":\"%s\","
        "\"tcbEvaluationDataNumber\":1,\"miscselect\":\"00000000\",\"miscselectMask\":\"FFFFFFFF\","
        "\"attributes\":\"11000000000000000000000000000000\","
        "\"attributesMask\":\"FBFFFFFFFFFFFFFF0000000000000000\",\"mrsigner\":\"%s\","
        "\"isvprodid\":1,\"tcbLevels\":[{\"tcb\":{\"isvsvn\":1},\"tcbDate\":\"%s\","
        "\"tcbStatus\":\"UpToDate\"}]}",
        issue, next, mrs_hex, issue);
    return write_signed_json(cdir, "qe_identity.json", "enclaveIdentity", body, tcb_key);
}

static void remove_files(const char *dir, const char *const *names)
{
    for (; *names; names++) {
        char p[PATH_MAX];
        if (path_of(dir, *names, p) == KT_OK) remove(p);
    }
}

/* Loads key and certificate `base`.key/.pem, issuing them first when the key is missing
 * (self-signed when there is no issuer). Whatever was issued under a re-issued
 * certificate is removed, to be issued again. */
static kt_status ensure_pair(const char *dir, const char *base, const char *subject,
                             const kt_cert *issuer, const kt_key *issuer_key, bool ca,
                             const kt_cert_extension *ext, const char *const *dependants,
                             kt_key **key, kt_cert **cert)
{
    char kname[64], cname[64];
    kt_buf b = {0};
    snprintf(kname, sizeof kname, "%s.key", base);
    snprintf(cname, sizeof cname, "%s.pem", base);
    kt_status st;
    if (exists(dir, kname)) {
        if (!(st = read_file(dir, kname, &b)))
            st = kt_key_from_pem((const char *)b.data, b.len, key);
        kt_buf_free(&b);
        if (!st && !(st = read_file(dir, cname, &b)))
            st = kt_cert_from_pem((const char *)b.data, b.len, cert);
        kt_buf_free(&b);
        return st ? kt_fail_context(st, "sim attest: %s", base) : KT_OK;
    }
    uint64_t serial;
    if ((st = kt_key_generate(KT_KEY_P256, key)) || (st = kt_random(&serial, sizeof serial)))
        return st;
    if (!issuer) {
        st = kt_cert_self_signed(*key, subject, CERT_DAYS, ca, cert);
    } else if (!(st = kt_csr_new(*key, subject, &b))) {
        st = kt_cert_issue_ext(issuer, issuer_key, b.data, b.len, serial >> 1, CERT_DAYS, ca, ext,
                               cert);
    }
    kt_buf_free(&b);
    if (!st && !(st = kt_cert_to_pem(*cert, &b))) st = write_file(dir, cname, &b, 0644);
    kt_buf_free(&b);
    if (!st && !(st = kt_key_to_pem(*key, true, &b))) st = write_file(dir, kname, &b, 0600);
    kt_buf_free(&b);
    if (st) return st;
    remove_files(dir, dependants);
    kt_log(KT_LOG_INFO, "sim.certificate_issued", "subject", subject, NULL);
    return KT_OK;
}

/* Makes whatever of the PKI is missing, then the collateral when it is missing or
 * expires within a day. A node that imported a cluster's root, PCK CA and TCB signing
 * certificate issues only its own PCK certificate and attestation key. */
kt_status kt_sim_pki_ensure(const char *dir)
{
    static const char *const under_root[] = {"pck_ca.key", "tcb_signing.key", "pck.key",
                                             "collateral/tcb_info.json", NULL};
    static const char *const under_pck_ca[] = {"pck.key", "collateral/tcb_info.json", NULL};
    static const char *const under_tcb[] = {"collateral/tcb_info.json", NULL};
    static const char *const nothing[] = {NULL};
    kt_key *root_key = NULL, *pck_ca_key = NULL, *pck_key = NULL, *tcb_key = NULL, *att = NULL;
    kt_cert *root = NULL, *pck_ca = NULL, *pck = NULL, *tcb = NULL;
    kt_buf ext_der = {0}, pem = {0};
    kt_pck_info info;
    memset(&info, 0, sizeof info);
    memcpy(info.comp, sim_comp, 16);
    memcpy(info.cpusvn, sim_comp, 16);
    memcpy(info.fmspc, sim_fmspc, 6);
    info.pcesvn = SIM_PCESVN;
    kt_status st = kt_mkdirs(dir, 0700);
    if (!st) st = kt_random(info.ppid, 16);
    if (!st) st = kt_pck_ext_encode(&info, &ext_der);
    kt_cert_extension ext = {KT_SGX_EXT_OID, ext_der.data, ext_der.len};
    if (!st)
        st = ensure_pair(dir, "root_ca", "CN=kubetee Simulation Root CA,O=kubetee simulation", NULL,
                         NULL, true, NULL, under_root, &root_key, &root);
    if (!st)
        st =
            ensure_pair(dir, "pck_ca", "CN=kubetee Simulation PCK Platform CA,O=kubetee simulation",
                        root, root_key, true, NULL, under_pck_ca, &pck_ca_key, &pck_ca);
    if (!st)
        st = ensure_pair(dir, "tcb_signing", "CN=" KT_SIM_TCB_SIGNER_CN ",O=kubetee simulation",
                         root, root_key, false, NULL, under_tcb, &tcb_key, &tcb);
    if (!st)
        st = ensure_pair(dir, "pck", "CN=kubetee Simulation PCK Certificate,O=kubetee simulation",
                         pck_ca, pck_ca_key, false, &ext, nothing, &pck_key, &pck);
    if (!st && !exists(dir, "attestation.key") && !(st = kt_key_generate(KT_KEY_P256, &att)) &&
        !(st = kt_key_to_pem(att, true, &pem)))
        st = write_file(dir, "attestation.key", &pem, 0600);
    if (st) goto out;
    /* collateral: renew when missing or near its nextUpdate */
    bool fresh = false;
    kt_buf tj = {0};
    if (read_file(dir, "collateral/tcb_info.json", &tj) == KT_OK) {
        kt_tcb_info t;
        if (kt_tcb_info_parse((const char *)tj.data, tj.len, &t) == KT_OK) {
            fresh = t.next_update > time(NULL) + 86400;
            kt_tcb_info_free(&t);
        }
    }
    kt_buf_free(&tj);
    kt_clear_error();
    if (!fresh) {
        if ((st = issue_collateral(dir, root, root_key, pck_ca, pck_ca_key, tcb, tcb_key)))
            goto out;
        kt_log(KT_LOG_INFO, "sim.collateral_issued", "dir", dir, NULL);
    }
out:
    kt_key_free(root_key), kt_key_free(pck_ca_key), kt_key_free(pck_key), kt_key_free(tcb_key);
    kt_key_free(att);
    kt_cert_free(root), kt_cert_free(pck_ca), kt_cert_free(pck), kt_cert_free(tcb);
    kt_buf_free(&ext_der);
    kt_buf_free(&pem);
    return st;
}
