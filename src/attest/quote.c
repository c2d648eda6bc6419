/* DCAP quotes: SGX v3, TDX v4 and v5 (TD report 1.0 and 1.5), per Intel's "SGX ECDSA
 * Quote Library API" and "TDX DCAP Quoting Library API" layouts.
 *
 *   header (48): version u16 | att_key_type u16 | tee_type u32 | reserved (4) |
 *                qe_vendor_id (16) | user_data (20)
 *   v3, v4:     body (SGX report 384 | TD report 1.0 584) | sig_data_len u32 | sig data
 *   v5:         body_type u16 | body_size u32 | body | sig_data_len u32 | sig data
 *   sig data:   signature (64) | attestation key (64) | certification data
 *   v3 certification data: QE report (384) | QE report sig (64) | auth_len u16 | auth |
 *                          cert_type u16 (5) | size u32 | PEM chain
 *   v4/v5:      cert_type u16 (6) | size u32 | [the v3 certification data] */
#include <kubetee/attest.h>

#include <string.h>

#define HEADER 48
#define SGX_BODY 384
#define TD10_BODY 584
#define TD15_BODY 648

typedef struct {
    const uint8_t *p;
    size_t left;
    const char *what;
} cursor;

static kt_status take(cursor *c, size_t n, const char *field, const uint8_t **out)
{
    *out = NULL;
    if (c->left < n)
        return kt_fail(KT_ERR_MALFORMED, "quote: %s needs %zu bytes, %zu left", field, n, c->left);
    *out = c->p;
    c->p += n;
    c->left -= n;
    return KT_OK;
}

/* A certification data block: type (2), size (4), then size bytes of the one type this
 * place in the quote accepts, returned as a cursor of their own. */
static kt_status cert_data(cursor *c, uint16_t want, const char *what, cursor *out)
{
    const uint8_t *p;
    kt_status st = take(c, 6, "certification data header", &p);
    if (st) return st;
    uint16_t type = kt_le16(p);
    uint32_t size = kt_le32(p + 2);
    if (type != want)
        return kt_fail(KT_ERR_UNSUPPORTED,
                       "quote: certification data type %u where type %u (%s) belongs", type, want,
                       what);
    if ((st = take(c, size, what, &p))) return st;
    *out = (cursor){p, size, NULL};
    return KT_OK;
}

static void parse_td_body(const uint8_t *b, bool td15, kt_td_report *t)
{
    memcpy(t->tee_tcb_svn, b, 16);
    memcpy(t->mrseam, b + 16, 48);
    memcpy(t->mrsignerseam, b + 64, 48);
    t->seam_attributes = kt_le64(b + 112);
    t->td_attributes = kt_le64(b + 120);
    t->xfam = kt_le64(b + 128);
    memcpy(t->mrtd, b + 136, 48);
    memcpy(t->mrconfigid, b + 184, 48);
    memcpy(t->mrowner, b + 232, 48);
    memcpy(t->mrownerconfig, b + 280, 48);
    for (int i = 0; i < 4; i++)
        memcpy(t->rtmr[i], b + 328 + 48 * i, 48);
    memcpy(t->report_data, b + 520, 64);
    t->td15 = td15;
    if (td15) {
        memcpy(t->tee_tcb_svn2, b + 584, 16);
        memcpy(t->mr_servicetd, b + 600, 48);
    }
}

/* QE report, its signature, QE auth data and the PCK chain (type 5). */
static kt_status parse_qe_cert_data(cursor *c, kt_quote *q)
{
    const uint8_t *p;
    kt_status st;
    if ((st = take(c, SGX_BODY, "QE report", &q->qe_report)) ||
        (st = take(c, 64, "QE report signature", &p)))
        return st;
    memcpy(q->qe_report_sig, p, 64);
    if ((st = take(c, 2, "QE auth data size", &p))) return st;
    q->qe_auth_len = kt_le16(p);
    cursor chain;
    if ((st = take(c, q->qe_auth_len, "QE auth data", &q->qe_auth)) ||
        (st = cert_data(c, 5, "PCK certificate chain", &chain)))
        return st;
    q->pck_chain_pem = (const char *)chain.p;
    q->pck_chain_len = chain.left;
    while (q->pck_chain_len && q->pck_chain_pem[q->pck_chain_len - 1] == '\0')
        q->pck_chain_len--; /* producers often add a NUL */
    if (memchr(q->pck_chain_pem, '\0', q->pck_chain_len))
        return kt_fail(KT_ERR_MALFORMED, "quote: PCK certificate chain contains a NUL byte");
    return KT_OK;
}

kt_status kt_quote_parse(const uint8_t *data, size_t n, kt_quote *q)
{
    if (!data || !q) return kt_fail(KT_ERR_INVALID_ARGUMENT, "quote: NULL argument");
    memset(q, 0, sizeof *q);
    if (n > KT_QUOTE_MAX)
        return kt_fail(KT_ERR_TOO_LARGE, "quote: %zu bytes is over %u", n, KT_QUOTE_MAX);
    cursor c = {data, n, NULL};
    const uint8_t *h, *p;
    kt_status st = take(&c, HEADER, "header", &h);
    if (st) return st;
    q->version = kt_le16(h);
    q->att_key_type = kt_le16(h + 2);
    uint32_t tee = kt_le32(h + 4);
    memcpy(q->qe_vendor_id, h + 12, 16);
    if (q->version < 3 || q->version > 5)
        return kt_fail(KT_ERR_UNSUPPORTED, "quote: version %u (3, 4 and 5 are supported)",
                       q->version);
    if (q->att_key_type != 2)
        return kt_fail(KT_ERR_UNSUPPORTED, "quote: attestation key type %u is not ECDSA P-256 (2)",
                       q->att_key_type);
    if (tee != KT_TEE_SGX && tee != KT_TEE_TDX)
        return kt_fail(KT_ERR_MALFORMED, "quote: TEE type 0x%x is neither SGX nor TDX", tee);
    if (q->version == 3 && tee != KT_TEE_SGX)
        return kt_fail(KT_ERR_MALFORMED, "quote: version 3 with TEE type 0x%x", tee);
    q->tee = (kt_tee_type)tee;

    size_t body_len;
    int body_kind; /* 1 SGX, 2 TD 1.0, 3 TD 1.5 */
    if (q->version == 5) {
        if ((st = take(&c, 6, "body descriptor", &p))) return st;
        body_kind = kt_le16(p);
        body_len = kt_le32(p + 2);
        size_t want = body_kind == 1   ? SGX_BODY
                      : body_kind == 2 ? TD10_BODY
                      : body_kind == 3 ? TD15_BODY
                                       : 0;
        if (!want) return kt_fail(KT_ERR_MALFORMED, "quote: body type %d is unknown", body_kind);
        if (body_len != want)
            return kt_fail(KT_ERR_MALFORMED, "quote: body type %d has size %zu, expected %zu",
                           body_kind, body_len, want);
        if ((body_kind == 1) != (tee == KT_TEE_SGX))
            return kt_fail(KT_ERR_MALFORMED, "quote: body type %d does not match TEE type 0x%x",
                           body_kind, tee);
    } else {
        body_kind = tee == KT_TEE_SGX ? 1 : 2;
        body_len = body_kind == 1 ? SGX_BODY : TD10_BODY;
    }
    const uint8_t *body;
    if ((st = take(&c, body_len, "report body", &body))) return st;
    if (body_kind == 1)
        kt_report_body_decode(body, &q->sgx);
    else
        parse_td_body(body, body_kind == 3, &q->td);
    q->signed_part = data;
    q->signed_len = (size_t)(c.p - data);

    if ((st = take(&c, 4, "signature data length", &p))) return st;
    uint32_t sig_len = kt_le32(p);
    if (sig_len > c.left)
        return kt_fail(KT_ERR_MALFORMED,
                       "quote: signature data length %u exceeds the %zu bytes left", sig_len,
                       c.left);
    cursor s = {c.p, sig_len, NULL}; /* bytes after the signature data are padding */
    if ((st = take(&s, 64, "quote signature", &p))) return st;
    memcpy(q->signature, p, 64);
    if ((st = take(&s, 64, "attestation key", &p))) return st;
    memcpy(q->attest_key, p, 64);
    if (q->version == 3) return parse_qe_cert_data(&s, q);
    cursor inner;
    if ((st = cert_data(&s, 6, "QE report certification data", &inner))) return st;
    return parse_qe_cert_data(&inner, q);
}
