/* SIGSTRUCT in SGX's 1808-byte layout (Intel SDM, "SIGSTRUCT"):
 *   0 header (16)  16 vendor  20 date  24 header2 (16)  40 swdefined  44 reserved (84)
 *   128 modulus (384, LE)  512 exponent  516 signature (384, LE)
 *   900 miscselect  904 miscmask  908 reserved (4)  912 isvfamilyid (16)
 *   928 attributes (16)  944 mask (16)  960 enclavehash (32)  992 reserved (16)
 *   1008 isvextprodid (16)  1024 isvprodid  1026 isvsvn
 *   1028 reserved (12)  1040 q1 (384, LE)  1424 q2 (384, LE)
 * The signature is RSA-3072 PKCS#1 v1.5 SHA-256 over bytes 0..127 and 900..1027. */
#include "internal.h"

#include <string.h>
#include <time.h>

const uint8_t kt_sigstruct_header1[16] = {6, 0, 0, 0, 0xE1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0};
const uint8_t kt_sigstruct_header2[16] = {1, 1, 0, 0, 0x60, 0, 0, 0, 0x60, 0, 0, 0, 1, 0, 0, 0};

#define OFF_MODULUS 128
#define OFF_EXPONENT 512
#define OFF_SIGNATURE 516
#define OFF_BODY 900
#define OFF_Q1 1040
#define OFF_Q2 1424

static void reverse(uint8_t *dst, const uint8_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = src[n - 1 - i];
}

static bool zeros(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

uint32_t kt_sigstruct_today(void)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    unsigned y = (unsigned)tm.tm_year + 1900, mo = (unsigned)tm.tm_mon + 1,
             d = (unsigned)tm.tm_mday;
    unsigned digits[8] = {y / 1000, y / 100 % 10, y / 10 % 10, y % 10,
                          mo / 10,  mo % 10,      d / 10,      d % 10};
    uint32_t bcd = 0;
    for (int i = 0; i < 8; i++)
        bcd = bcd << 4 | digits[i];
    return bcd;
}

static bool bcd(uint32_t v, unsigned digits, unsigned *out)
{
    *out = 0;
    for (unsigned i = digits; i-- > 0;) {
        unsigned d = v >> (4 * i) & 0xF;
        if (d > 9) return false;
        *out = *out * 10 + d;
    }
    return true;
}

kt_status kt_sigstruct_date_check(uint32_t date)
{
    static const unsigned days[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned y, m, d;
    if (!bcd(date >> 16, 4, &y) || !bcd(date >> 8 & 0xFF, 2, &m) || !bcd(date & 0xFF, 2, &d) ||
        m < 1 || m > 12 || d < 1 || d > days[m - 1] ||
        (m == 2 && d == 29 && (y % 4 || (y % 100 == 0 && y % 400))))
        return kt_fail(KT_ERR_MALFORMED, "date 0x%08x is not a date as BCD YYYYMMDD", date);
    return KT_OK;
}

kt_status kt_sigstruct_sigdata(const uint8_t mrenclave[KT_SHA256_LEN], const kt_enclave_config *c,
                               uint32_t date, uint8_t sd[KT_SIGDATA_LEN])
{
    if (!mrenclave || !c || !sd) return kt_fail(KT_ERR_INVALID_ARGUMENT, "sigdata: NULL argument");
    kt_status st = kt_sigstruct_date_check(date);
    if (st || (st = kt_xfrm_check(c->xfrm))) return kt_fail_context(st, "signing");
    memset(sd, 0, KT_SIGDATA_LEN);
    memcpy(sd, kt_sigstruct_header1, 16);
    kt_put_le32(sd + 20, date);
    memcpy(sd + 24, kt_sigstruct_header2, 16);
    uint8_t *body = sd + 128;
    kt_put_le32(body + 0, 0);           /* miscselect */
    kt_put_le32(body + 4, 0xFFFFFFFFu); /* miscmask */
    kt_put_le64(body + 28, KT_ATTR_MODE64BIT | (c->debug ? KT_ATTR_DEBUG : 0));
    kt_put_le64(body + 36, c->xfrm);
    kt_put_le64(body + 44, ~0ull);
    kt_put_le64(body + 52, 0);
    memcpy(body + 60, mrenclave, 32);
    kt_put_le16(body + 124, c->prodid);
    kt_put_le16(body + 126, c->svn);
    return KT_OK;
}

kt_status kt_sigstruct_assemble(const uint8_t sd[KT_SIGDATA_LEN], const kt_key *pub,
                                const uint8_t *sig, size_t sig_len, uint8_t out[KT_SIGSTRUCT_LEN])
{
    if (!sd || !pub || !sig || !out)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "sigstruct: NULL argument");
    if (kt_key_type_of(pub) != KT_KEY_RSA3072_E3)
        return kt_fail(KT_ERR_UNSUPPORTED, "sigstruct: the signing key must be RSA-3072 with e=3");
    kt_status st = kt_verify(pub, sd, KT_SIGDATA_LEN, sig, sig_len);
    if (st)
        return kt_fail(st,
                       "sigstruct: the signature does not match the signing data and public key");
    uint8_t mod[KT_RSA3072_LEN], q1[KT_RSA3072_LEN], q2[KT_RSA3072_LEN];
    size_t mlen;
    if ((st = kt_key_public_raw(pub, mod, sizeof mod, &mlen)) ||
        (st = kt_rsa_sigstruct_q(mod, sig, q1, q2)))
        return st;
    memset(out, 0, KT_SIGSTRUCT_LEN);
    memcpy(out, sd, 128);
    reverse(out + OFF_MODULUS, mod, KT_RSA3072_LEN);
    kt_put_le32(out + OFF_EXPONENT, 3);
    reverse(out + OFF_SIGNATURE, sig, KT_RSA3072_LEN);
    memcpy(out + OFF_BODY, sd + 128, 128);
    reverse(out + OFF_Q1, q1, KT_RSA3072_LEN);
    reverse(out + OFF_Q2, q2, KT_RSA3072_LEN);
    return KT_OK;
}

kt_status kt_sigstruct_verify(const uint8_t s[KT_SIGSTRUCT_LEN], kt_sigstruct_info *info)
{
    if (!s || !info) return kt_fail(KT_ERR_INVALID_ARGUMENT, "sigstruct: NULL argument");
    if (memcmp(s, kt_sigstruct_header1, 16) || memcmp(s + 24, kt_sigstruct_header2, 16))
        return kt_fail(KT_ERR_MALFORMED, "SIGSTRUCT: header constants are wrong");
    if (kt_le32(s + OFF_EXPONENT) != 3)
        return kt_fail(KT_ERR_MALFORMED, "SIGSTRUCT: exponent %u is not 3",
                       kt_le32(s + OFF_EXPONENT));
    if (!zeros(s + 44, 84) || !zeros(s + 908, 4) || !zeros(s + 992, 16) || !zeros(s + 1028, 12))
        return kt_fail(KT_ERR_MALFORMED, "SIGSTRUCT: reserved bytes are not zero");
    if (!zeros(s + 912, 16) || !zeros(s + 1008, 16))
        return kt_fail(KT_ERR_MALFORMED, "SIGSTRUCT: ISVFAMILYID and ISVEXTPRODID must be zero "
                                         "(kubetee enclaves do not use KSS)");
    kt_status st = kt_sigstruct_date_check(kt_le32(s + 20));
    if (st || (st = kt_xfrm_check(kt_le64(s + OFF_BODY + 36))))
        return kt_fail_context(st, "SIGSTRUCT");
    memset(info, 0, sizeof *info);
    reverse(info->modulus, s + OFF_MODULUS, KT_RSA3072_LEN);
    if (!(info->modulus[0] & 0x80))
        return kt_fail(KT_ERR_MALFORMED, "SIGSTRUCT: modulus is not 3072 bits");

    uint8_t sd[KT_SIGDATA_LEN], sig[KT_RSA3072_LEN];
    memcpy(sd, s, 128);
    memcpy(sd + 128, s + OFF_BODY, 128);
    reverse(sig, s + OFF_SIGNATURE, KT_RSA3072_LEN);
    kt_key *pub;
    st = kt_key_from_public_raw(KT_KEY_RSA3072_E3, info->modulus, KT_RSA3072_LEN, &pub);
    if (st) return kt_fail_context(st, "SIGSTRUCT modulus");
    st = kt_verify(pub, sd, sizeof sd, sig, sizeof sig);
    kt_key_free(pub);
    if (st) return kt_fail(KT_ERR_VERIFY, "SIGSTRUCT: signature does not verify with its modulus");
    uint8_t q1[KT_RSA3072_LEN], q2[KT_RSA3072_LEN], want[KT_RSA3072_LEN];
    if ((st = kt_rsa_sigstruct_q(info->modulus, sig, q1, q2))) return st;
    reverse(want, q1, sizeof want);
    if (memcmp(want, s + OFF_Q1, sizeof want))
        return kt_fail(KT_ERR_VERIFY, "SIGSTRUCT: q1 does not match the signature");
    reverse(want, q2, sizeof want);
    if (memcmp(want, s + OFF_Q2, sizeof want))
        return kt_fail(KT_ERR_VERIFY, "SIGSTRUCT: q2 does not match the signature");

    const uint8_t *b = s + OFF_BODY;
    info->vendor = kt_le32(s + 16);
    info->date = kt_le32(s + 20);
    info->misc_select = kt_le32(b);
    info->misc_mask = kt_le32(b + 4);
    info->attr_flags = kt_le64(b + 28);
    info->attr_xfrm = kt_le64(b + 36);
    info->attr_flags_mask = kt_le64(b + 44);
    info->attr_xfrm_mask = kt_le64(b + 52);
    memcpy(info->mrenclave, b + 60, 32);
    info->prodid = kt_le16(b + 124);
    info->svn = kt_le16(b + 126);
    return kt_sha256(s + OFF_MODULUS, KT_RSA3072_LEN, info->mrsigner);
}
