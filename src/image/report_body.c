/* The SGX REPORT body: one decoder and one encoder for the enclave runtime, the sim CPU,
 * the simulated QE and the quote parser. */
#include <kubetee/image.h>

#include <string.h>

void kt_report_body_decode(const uint8_t b[KT_REPORT_BODY_LEN], kt_report_body *r)
{
    memset(r, 0, sizeof *r);
    memcpy(r->cpusvn, b, 16);
    r->misc_select = kt_le32(b + 16);
    r->attr_flags = kt_le64(b + 48);
    r->attr_xfrm = kt_le64(b + 56);
    memcpy(r->mrenclave, b + 64, 32);
    memcpy(r->mrsigner, b + 128, 32);
    r->prodid = kt_le16(b + 256);
    r->svn = kt_le16(b + 258);
    memcpy(r->report_data, b + 320, 64);
}

void kt_report_body_encode(const kt_report_body *r, uint8_t b[KT_REPORT_BODY_LEN])
{
    memset(b, 0, KT_REPORT_BODY_LEN);
    memcpy(b, r->cpusvn, 16);
    kt_put_le32(b + 16, r->misc_select);
    kt_put_le64(b + 48, r->attr_flags);
    kt_put_le64(b + 56, r->attr_xfrm);
    memcpy(b + 64, r->mrenclave, 32);
    memcpy(b + 128, r->mrsigner, 32);
    kt_put_le16(b + 256, r->prodid);
    kt_put_le16(b + 258, r->svn);
    memcpy(b + 320, r->report_data, 64);
}
