/* The sim platform's quoting enclave: checks a REPORT made for it, then writes a v3
 * ECDSA quote in Intel's layout, signed by its attestation key, with a QE report signed
 * by the PCK key and the PCK chain (certification data type 5). */
#include "internal.h"
#include "sim_qe.h"

#include <kubetee/platform.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kt_sim_qe {
    char dir[PATH_MAX], collateral[PATH_MAX];
    kt_sim_state *state;
    kt_key *attestation, *pck;
    uint8_t attest_pub[64];
    kt_buf chain; /* PCK leaf, PCK CA, root: PEM */
    uint8_t mrenclave[32], mrsigner[32];
};

static kt_status load_pem_key(const char *dir, const char *name, kt_key **out)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    kt_buf b = {0};
    kt_status st = kt_file_read(p, 1 << 16, &b);
    if (!st) st = kt_key_from_pem((const char *)b.data, b.len, out);
    kt_buf_free(&b);
    return st;
}

static kt_status append_file(const char *dir, const char *name, kt_buf *out)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    kt_buf b = {0};
    kt_status st = kt_file_read(p, 1 << 16, &b);
    if (!st) st = kt_buf_append(out, b.data, b.len);
    kt_buf_free(&b);
    return st;
}

kt_status kt_sim_qe_open(const char *sim_dir, kt_sim_qe **out)
{
    if (!out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "sim QE: NULL argument");
    kt_sim_qe *qe = calloc(1, sizeof *qe);
    if (!qe) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    kt_status st = kt_sim_state_open(sim_dir, &qe->state);
    if (!st) {
        snprintf(qe->dir, sizeof qe->dir, "%s/attest", kt_sim_state_dir(qe->state));
        snprintf(qe->collateral, sizeof qe->collateral, "%s/collateral", qe->dir);
        st = kt_sim_pki_ensure(qe->dir);
    }
    size_t len;
    if (!st && !(st = load_pem_key(qe->dir, "attestation.key", &qe->attestation)) &&
        !(st = load_pem_key(qe->dir, "pck.key", &qe->pck)) &&
        !(st = kt_key_public_raw(qe->attestation, qe->attest_pub, 64, &len)) &&
        !(st = append_file(qe->dir, "pck.pem", &qe->chain)) &&
        !(st = append_file(qe->dir, "pck_ca.pem", &qe->chain)) &&
        !(st = append_file(qe->dir, "root_ca.pem", &qe->chain)))
        st = kt_buf_append(&qe->chain, "", 1); /* as Intel's QE does, NUL-terminated */
    if (st) {
        kt_sim_qe_free(qe);
        return kt_fail_context(st, "sim QE");
    }
    kt_sim_qe_identity_fields(qe->mrenclave, qe->mrsigner);
    *out = qe;
    return KT_OK;
}

void kt_sim_qe_free(kt_sim_qe *qe)
{
    if (!qe) return;
    kt_key_free(qe->attestation);
    kt_key_free(qe->pck);
    kt_buf_free(&qe->chain);
    kt_sim_state_free(qe->state);
    free(qe);
}

const char *kt_sim_qe_collateral_dir(const kt_sim_qe *qe)
{
    return qe ? qe->collateral : NULL;
}

#define QE_FLAGS 0x15ull /* INIT | MODE64BIT | PROVISIONKEY */
#define QE_XFRM 0x3ull

kt_status kt_sim_qe_target_info(const kt_sim_qe *qe, uint8_t ti[512])
{
    if (!qe || !ti) return kt_fail(KT_ERR_INVALID_ARGUMENT, "sim QE: NULL argument");
    memset(ti, 0, 512);
    memcpy(ti, qe->mrenclave, 32);
    kt_put_le64(ti + 32, QE_FLAGS);
    kt_put_le64(ti + 40, QE_XFRM);
    return KT_OK;
}

static kt_status sign_raw(const kt_key *k, const void *msg, size_t n, uint8_t sig[64])
{
    kt_buf b = {0};
    kt_status st = kt_sign(k, msg, n, &b);
    if (!st) memcpy(sig, b.data, 64);
    kt_buf_free(&b);
    return st;
}

kt_status kt_sim_qe_quote_body(const kt_sim_qe *qe, const uint8_t body[384], kt_buf *quote)
{
    if (!qe || !body || !quote) return kt_fail(KT_ERR_INVALID_ARGUMENT, "sim QE: NULL argument");
    static const uint8_t auth[32] = "kubetee sim QE authentication..";
    uint8_t head[48] = {0}, qe_report[384] = {0}, both[96];
    kt_put_le16(head, 3);
    kt_put_le16(head + 2, 2);
    kt_put_le16(head + 8, 1); /* QE SVN */
    kt_put_le16(head + 10, SIM_PCESVN_VALUE);
    memcpy(head + 12, KT_SIM_QE_VENDOR_ID, 16); /* accepted under a simulation root only */

    /* the QE's own report: it binds the attestation key */
    kt_report_body qb = {.attr_flags = QE_FLAGS, .attr_xfrm = QE_XFRM, .prodid = 1, .svn = 1};
    kt_sim_pck_cpusvn(qb.cpusvn);
    memcpy(qb.mrenclave, qe->mrenclave, 32);
    memcpy(qb.mrsigner, qe->mrsigner, 32);
    memcpy(both, qe->attest_pub, 64);
    memcpy(both + 64, auth, 32);
    kt_status st = kt_sha256(both, sizeof both, qb.report_data); /* then 32 zero bytes */
    kt_report_body_encode(&qb, qe_report);

    uint8_t signed_part[48 + 384], sig[64], qe_sig[64];
    memcpy(signed_part, head, 48);
    memcpy(signed_part + 48, body, 384);
    if (!st) st = sign_raw(qe->attestation, signed_part, sizeof signed_part, sig);
    if (!st) st = sign_raw(qe->pck, qe_report, sizeof qe_report, qe_sig);
    if (st) return st;
    uint8_t len4[4], len2[2], type[2];
    uint32_t sig_len = 64 + 64 + 384 + 64 + 2 + 32 + 2 + 4 + (uint32_t)qe->chain.len;
    kt_put_le32(len4, sig_len);
    if ((st = kt_buf_append(quote, signed_part, sizeof signed_part)) ||
        (st = kt_buf_append(quote, len4, 4)) || (st = kt_buf_append(quote, sig, 64)) ||
        (st = kt_buf_append(quote, qe->attest_pub, 64)) ||
        (st = kt_buf_append(quote, qe_report, 384)) || (st = kt_buf_append(quote, qe_sig, 64)))
        return st;
    kt_put_le16(len2, 32);
    kt_put_le16(type, 5);
    kt_put_le32(len4, (uint32_t)qe->chain.len);
    if ((st = kt_buf_append(quote, len2, 2)) || (st = kt_buf_append(quote, auth, 32)) ||
        (st = kt_buf_append(quote, type, 2)) || (st = kt_buf_append(quote, len4, 4)))
        return st;
    return kt_buf_append(quote, qe->chain.data, qe->chain.len);
}

kt_status kt_sim_qe_quote(const kt_sim_qe *qe, const uint8_t report[432], kt_buf *quote)
{
    if (!qe || !report || !quote) return kt_fail(KT_ERR_INVALID_ARGUMENT, "sim QE: NULL argument");
    uint8_t key[16], mac[16];
    kt_status st =
        kt_sim_report_key(qe->state, qe->mrenclave, QE_FLAGS, QE_XFRM, report + 384, key);
    if (!st) st = kt_aes_cmac(key, report, 384, mac);
    kt_wipe(key, sizeof key);
    if (st) return st;
    if (!kt_equal(mac, report + 416, 16))
        return kt_fail(KT_ERR_VERIFY,
                       "sim QE: the report was not made for the QE on this platform");
    return kt_sim_qe_quote_body(qe, report, quote);
}

static kt_status copy_file(const char *from_dir, const char *to_dir, const char *name,
                           unsigned mode)
{
    char a[PATH_MAX], b[PATH_MAX];
    snprintf(a, sizeof a, "%s/%s", from_dir, name);
    snprintf(b, sizeof b, "%s/%s", to_dir, name);
    kt_buf buf = {0};
    kt_status st = kt_file_read(a, 1 << 16, &buf);
    if (!st) st = kt_file_write_atomic(b, buf.data, buf.len, mode);
    kt_buf_free(&buf);
    return st;
}

/* What a cluster shares: the root, and the "PCS side" (PCK CA, TCB signing). */
static const char *const shared[] = {"root_ca.pem", "root_ca.key",     "pck_ca.pem",
                                     "pck_ca.key",  "tcb_signing.pem", "tcb_signing.key",
                                     NULL};

kt_status kt_sim_root_export(const char *sim_dir, const char *out_dir)
{
    kt_sim_qe *qe;
    kt_status st = kt_sim_qe_open(sim_dir, &qe);
    if (st) return st;
    st = kt_mkdirs(out_dir, 0700);
    for (const char *const *f = shared; !st && *f; f++)
        st = copy_file(qe->dir, out_dir, *f, strstr(*f, ".key") ? 0600 : 0644);
    kt_sim_qe_free(qe);
    return st;
}

kt_status kt_sim_root_import(const char *sim_dir, const char *from_dir)
{
    kt_sim_state *state;
    kt_status st = kt_sim_state_open(sim_dir, &state);
    if (st) return st;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/attest", kt_sim_state_dir(state));
    kt_sim_state_free(state);
    st = kt_mkdirs(dir, 0700);
    for (const char *const *f = shared; !st && *f; f++)
        st = copy_file(from_dir, dir, *f, strstr(*f, ".key") ? 0600 : 0644);
    if (st) return st;
    /* this node's own PCK certificate and collateral are issued again under the import */
    static const char *const own[] = {"pck.key", "pck.pem", "collateral/tcb_info.json"};
    for (size_t i = 0; i < 3; i++) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", dir, own[i]);
        remove(p);
    }
    kt_log(KT_LOG_INFO, "sim.root_imported", "from", from_dir, NULL);
    return kt_sim_pki_ensure(dir);
}
