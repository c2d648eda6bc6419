/* The PCK certificate's SGX extensions (Intel "SGX PCK Certificate and CRL Profile"):
 *
 *   SEQUENCE {
 *     SEQUENCE { OID .1 ppid,  OCTET STRING (16) }
 *     SEQUENCE { OID .2 tcb,   SEQUENCE { SEQUENCE { OID .2.1 .. .2.16, INTEGER } x16,
 *                                        SEQUENCE { OID .2.17, INTEGER pcesvn },
 *                                        SEQUENCE { OID .2.18, OCTET STRING (16) cpusvn } } }
 *     SEQUENCE { OID .3 pceid, OCTET STRING (2) }
 *     SEQUENCE { OID .4 fmspc, OCTET STRING (6) }
 *     SEQUENCE { OID .5 sgx type, ENUMERATED } ... (more for platform CA certificates)
 *   }
 * under 1.2.840.113741.1.13.1. A small DER reader, bounds-checked at every step. */
#include "internal.h"

#include <string.h>

static const uint8_t sgx_oid[] = {0x2A, 0x86, 0x48, 0x86, 0xF8, 0x4D, 0x01, 0x0D, 0x01};

static const char what[] = "PCK extension";
/* The entries read, by their arc under the SGX extension OID; each at most once (a
 * second FMSPC or TCB would leave the reader to pick one). */
static const char *const names[] = {"", "PPID", "TCB", "PCE-ID", "FMSPC"};

/* The OID's arcs under the SGX extension OID, e.g. {2, 17}; returns how many. */
static int sub_arcs(const kt_der *oid, unsigned arcs[2])
{
    if (oid->n < sizeof sgx_oid + 1 || oid->n > sizeof sgx_oid + 2 ||
        memcmp(oid->p, sgx_oid, sizeof sgx_oid) != 0)
        return 0;
    int n = 0;
    for (size_t i = sizeof sgx_oid; i < oid->n; i++) {
        if (oid->p[i] & 0x80) return 0;
        arcs[n++] = oid->p[i];
    }
    return n;
}

static kt_status octets(const kt_der *v, size_t n, uint8_t *out, const char *field)
{
    if (v->n != n)
        return kt_fail(KT_ERR_MALFORMED, "PCK extension: %s is %zu bytes, expected %zu", field,
                       v->n, n);
    memcpy(out, v->p, n);
    return KT_OK;
}

/* An entry is its OID and one value: anything after the value is refused, as anything
 * after the extension's SEQUENCE is (bytes no reader agrees on). */
static kt_status nothing_after(const kt_der *rest, const char *where)
{
    if (rest->n)
        return kt_fail(KT_ERR_MALFORMED, "PCK extension: %zu bytes after %s", rest->n, where);
    return KT_OK;
}

static kt_status parse_tcb(kt_der seq, kt_pck_info *out, unsigned *seen)
{
    while (seq.n) {
        kt_der item, oid, val;
        unsigned arcs[2];
        kt_status st = kt_der_next(&seq, 0x30, what, &item);
        if (!st) st = kt_der_next(&item, 0x06, what, &oid);
        if (st) return st;
        if (sub_arcs(&oid, arcs) != 2 || arcs[0] != 2 || arcs[1] < 1 || arcs[1] > 18)
            continue; /* unknown entries are skipped, as Intel adds them */
        if (*seen & (1u << arcs[1]))
            return kt_fail(KT_ERR_MALFORMED, "PCK extension: TCB entry %u appears twice", arcs[1]);
        if (arcs[1] == 18) {
            if ((st = kt_der_next(&item, 0x04, what, &val)) ||
                (st = octets(&val, 16, out->cpusvn, "CPUSVN")) ||
                (st = nothing_after(&item, "CPUSVN")))
                return st;
        } else {
            uint32_t x = 0;
            if ((st = kt_der_next(&item, 0x02, what, &val)) ||
                (st = kt_der_uint(val, arcs[1] == 17 ? 0xffff : 0xff, what, &x)) ||
                (st = nothing_after(&item, arcs[1] == 17 ? "PCESVN" : "a TCB component")))
                return st;
            if (arcs[1] == 17)
                out->pcesvn = (uint16_t)x;
            else
                out->comp[arcs[1] - 1] = (uint8_t)x;
        }
        *seen |= 1u << arcs[1];
    }
    return KT_OK;
}

kt_status kt_pck_ext_parse(const uint8_t *data, size_t n, kt_pck_info *out)
{
    if (!data || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "PCK extension: NULL argument");
    memset(out, 0, sizeof *out);
    kt_der all = {data, n}, top;
    kt_status st = kt_der_next(&all, 0x30, what, &top);
    if (st || (st = nothing_after(&all, "its SEQUENCE"))) return st;
    unsigned seen = 0, tcb_seen = 0;
    while (top.n) {
        kt_der item, oid, val;
        unsigned arcs[2];
        if ((st = kt_der_next(&top, 0x30, what, &item)) ||
            (st = kt_der_next(&item, 0x06, what, &oid)))
            return st;
        if (sub_arcs(&oid, arcs) != 1) continue;
        if (arcs[0] >= 1 && arcs[0] <= 4 && (seen & (1u << arcs[0])))
            return kt_fail(KT_ERR_MALFORMED, "PCK extension: entry %u (%s) appears twice", arcs[0],
                           names[arcs[0]]);
        switch (arcs[0]) {
        case 1:
            st = kt_der_next(&item, 0x04, what, &val);
            if (!st) st = octets(&val, 16, out->ppid, "PPID");
            break;
        case 2:
            st = kt_der_next(&item, 0x30, what, &val);
            if (!st) st = parse_tcb(val, out, &tcb_seen);
            break;
        case 3:
            st = kt_der_next(&item, 0x04, what, &val);
            if (!st) st = octets(&val, 2, out->pceid, "PCE-ID");
            break;
        case 4:
            st = kt_der_next(&item, 0x04, what, &val);
            if (!st) st = octets(&val, 6, out->fmspc, "FMSPC");
            break;
        default:
            continue;
        }
        if (!st) st = nothing_after(&item, names[arcs[0]]);
        if (st) return st;
        seen |= 1u << arcs[0];
    }
    if ((seen & 0x1e) != 0x1e)
        return kt_fail(KT_ERR_MALFORMED, "PCK extension: missing PPID, TCB, PCE-ID or FMSPC");
    if ((tcb_seen & 0x7fffe) != 0x7fffe)
        return kt_fail(KT_ERR_MALFORMED, "PCK extension: TCB lacks some of its 18 entries");
    return KT_OK;
}

/* ---- encoding, for the sim platform's PCK certificates ---- */

static kt_status put_tlv(kt_buf *b, uint8_t tag, const uint8_t *v, size_t n)
{
    uint8_t hdr[4] = {tag};
    size_t h = 2;
    if (n < 128) {
        hdr[1] = (uint8_t)n;
    } else if (n < 256) {
        hdr[1] = 0x81, hdr[2] = (uint8_t)n, h = 3;
    } else {
        hdr[1] = 0x82, hdr[2] = (uint8_t)(n >> 8), hdr[3] = (uint8_t)n, h = 4;
    }
    kt_status st = kt_buf_append(b, hdr, h);
    return st ? st : kt_buf_append(b, v, n);
}

static kt_status put_entry(kt_buf *b, const uint8_t *arcs, size_t narcs, uint8_t tag,
                           const uint8_t *v, size_t n)
{
    uint8_t oid[16];
    memcpy(oid, sgx_oid, sizeof sgx_oid);
    memcpy(oid + sizeof sgx_oid, arcs, narcs);
    kt_buf inner = {0};
    kt_status st = put_tlv(&inner, 0x06, oid, sizeof sgx_oid + narcs);
    if (!st) st = put_tlv(&inner, tag, v, n);
    if (!st) st = put_tlv(b, 0x30, inner.data, inner.len);
    kt_buf_free(&inner);
    return st;
}

static size_t uint_bytes(uint32_t x, uint8_t out[3])
{
    if (x < 0x80) {
        out[0] = (uint8_t)x;
        return 1;
    }
    if (x < 0x8000) {
        out[0] = (uint8_t)(x >> 8), out[1] = (uint8_t)x;
        return 2;
    }
    out[0] = 0, out[1] = (uint8_t)(x >> 8), out[2] = (uint8_t)x;
    return 3;
}

kt_status kt_pck_ext_encode(const kt_pck_info *in, kt_buf *out)
{
    kt_buf tcb = {0}, body = {0};
    kt_status st = KT_OK;
    uint8_t v[3];
    for (uint8_t i = 1; i <= 16 && !st; i++) {
        uint8_t arcs[2] = {2, i};
        st = put_entry(&tcb, arcs, 2, 0x02, v, uint_bytes(in->comp[i - 1], v));
    }
    uint8_t a17[2] = {2, 17}, a18[2] = {2, 18}, a1 = 1, a2 = 2, a3 = 3, a4 = 4;
    if (!st) st = put_entry(&tcb, a17, 2, 0x02, v, uint_bytes(in->pcesvn, v));
    if (!st) st = put_entry(&tcb, a18, 2, 0x04, in->cpusvn, 16);
    if (!st) st = put_entry(&body, &a1, 1, 0x04, in->ppid, 16);
    if (!st) st = put_entry(&body, &a2, 1, 0x30, tcb.data, tcb.len);
    if (!st) st = put_entry(&body, &a3, 1, 0x04, in->pceid, 2);
    if (!st) st = put_entry(&body, &a4, 1, 0x04, in->fmspc, 6);
    if (!st) st = put_tlv(out, 0x30, body.data, body.len);
    kt_buf_free(&tcb);
    kt_buf_free(&body);
    return st;
}

kt_status kt_pck_info_from_cert(const kt_x509 *leaf, kt_pck_info *out)
{
    if (!leaf->sgx_ext.p) return kt_fail(KT_ERR_MALFORMED, "PCK certificate has no SGX extensions");
    return kt_pck_ext_parse(leaf->sgx_ext.p, leaf->sgx_ext.n, out);
}
