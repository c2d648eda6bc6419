/* Sealing: AES-256-GCM under a key from EGETKEY(SEAL).
 *
 *   0 "KTSL"  4 version u16 = 1  6 policy u16  8 isvsvn u16  10 reserved u16
 *   12 keyid (32)  44 cpusvn (16)  60 iv (12)  72 aad_len u32  76 plain_len u32
 *   80 tag (16)  96 aad  96+aad_len ciphertext
 * The GCM AAD is bytes 0..79 followed by the caller's aad. */
#include "trts.h"

#include <string.h>

#define HDR 96
#define MAX_PART (1u << 30)

/* MRENCLAVE sealing asks for a key bound to MRENCLAVE and MRSIGNER both (SGX allows
 * both policy bits): the same code re-signed by someone else does not unseal either. */
static kt_status seal_key(uint16_t policy, uint16_t isvsvn, const uint8_t cpusvn[16],
                          const uint8_t keyid[32], uint8_t key[32])
{
    uint16_t keypolicy = policy == KT_SEAL_MRENCLAVE
                             ? (KT_KEYPOLICY_MRENCLAVE | KT_KEYPOLICY_MRSIGNER)
                             : KT_KEYPOLICY_MRSIGNER;
    kt_keyrequest kr = {.keyname = KT_KEYNAME_SEAL, .policy = keypolicy, .isvsvn = isvsvn};
    memcpy(kr.cpusvn, cpusvn, 16);
    memcpy(kr.keyid, keyid, 32);
    uint8_t k16[16];
    kt_status st = kt_trts_egetkey(&kr, k16);
    if (!st)
        st = kt_hkdf_sha256(k16, 16, keyid, 32, (const uint8_t *)"kubetee seal v1 aes-256-gcm", 27,
                            key, 32);
    kt_wipe(k16, sizeof k16);
    return st;
}

kt_status kt_seal(kt_seal_policy policy, const uint8_t *aad, size_t aad_len, const uint8_t *plain,
                  size_t n, kt_buf *blob)
{
    if (!blob || (aad_len && !aad) || (n && !plain))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "seal: NULL argument");
    if (policy != KT_SEAL_MRENCLAVE && policy != KT_SEAL_MRSIGNER)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "seal: unknown policy %d", (int)policy);
    if (aad_len > MAX_PART || n > MAX_PART) return kt_fail(KT_ERR_TOO_LARGE, "seal: over 1 GiB");
    kt_report_body self;
    kt_status st = kt_self(&self);
    if (st) return st;
    uint8_t hdr[HDR] = {'K', 'T', 'S', 'L'}, key[32];
    kt_put_le16(hdr + 4, 1);
    kt_put_le16(hdr + 6, (uint16_t)policy);
    kt_put_le16(hdr + 8, self.svn);
    memcpy(hdr + 44, self.cpusvn, 16);
    kt_put_le32(hdr + 72, (uint32_t)aad_len);
    kt_put_le32(hdr + 76, (uint32_t)n);
    if ((st = kt_random(hdr + 12, 32)) || (st = kt_random(hdr + 60, 12))) return st;
    if ((st = seal_key((uint16_t)policy, self.svn, self.cpusvn, hdr + 12, key))) return st;
    size_t start = blob->len;
    if (!(st = kt_buf_reserve(blob, HDR + aad_len + n))) {
        uint8_t *out = blob->data + start;
        memcpy(out, hdr, HDR);
        if (aad_len) memcpy(out + HDR, aad, aad_len);
        /* GCM AAD: header bytes 0..79, then the caller's aad */
        kt_buf a = {0};
        if (!(st = kt_buf_append(&a, out, 80)) && !(st = kt_buf_append(&a, aad, aad_len)))
            st =
                kt_aead_seal(key, hdr + 60, a.data, a.len, plain, n, out + HDR + aad_len, out + 80);
        kt_buf_free(&a);
        if (!st) blob->len = start + HDR + aad_len + n;
    }
    kt_wipe(key, sizeof key);
    return st;
}

kt_status kt_unseal(const uint8_t *blob, size_t n, kt_buf *plain, kt_buf *aad)
{
    if (!blob || !plain) return kt_fail(KT_ERR_INVALID_ARGUMENT, "unseal: NULL argument");
    if (!kt_trts_host) return kt_fail(KT_ERR_STATE, "unseal: enclave not initialised");
    if (n < HDR || memcmp(blob, "KTSL", 4) != 0)
        return kt_fail(KT_ERR_MALFORMED, "unseal: not a sealed blob");
    uint8_t hdr[HDR];
    memcpy(hdr, blob, HDR);
    uint16_t version = kt_le16(hdr + 4), policy = kt_le16(hdr + 6), svn = kt_le16(hdr + 8);
    uint32_t aad_len = kt_le32(hdr + 72), plain_len = kt_le32(hdr + 76);
    if (version != 1) return kt_fail(KT_ERR_MALFORMED, "unseal: version %u is not 1", version);
    if (policy != KT_SEAL_MRENCLAVE && policy != KT_SEAL_MRSIGNER)
        return kt_fail(KT_ERR_MALFORMED, "unseal: unknown policy %u", policy);
    if (kt_le16(hdr + 10) != 0)
        return kt_fail(KT_ERR_MALFORMED, "unseal: reserved field is not zero");
    if ((uint64_t)HDR + aad_len + plain_len != n)
        return kt_fail(KT_ERR_MALFORMED, "unseal: lengths say %llu bytes, blob has %zu",
                       (unsigned long long)HDR + aad_len + plain_len, n);
    kt_report_body self;
    kt_status st = kt_self(&self);
    if (st) return st;
    if (svn > self.svn)
        return kt_fail(KT_ERR_DENIED, "unseal: sealed by SVN %u, this enclave is SVN %u", svn,
                       self.svn);
    uint8_t key[32];
    if ((st = seal_key(policy, svn, hdr + 44, hdr + 12, key)))
        return kt_fail_context(KT_ERR_VERIFY, "unseal: no key for this blob");
    kt_buf a = {0};
    size_t start = plain->len;
    if (!(st = kt_buf_append(&a, hdr, 80)) && !(st = kt_buf_append(&a, blob + HDR, aad_len)) &&
        !(st = kt_buf_reserve(plain, plain_len ? plain_len : 1))) {
        st = kt_aead_open(key, hdr + 60, a.data, a.len, blob + HDR + aad_len, plain_len, hdr + 80,
                          plain->data + start);
        if (st == KT_ERR_VERIFY)
            st = kt_fail(KT_ERR_VERIFY, "unseal: sealed for another %s, or altered",
                         policy == KT_SEAL_MRSIGNER ? "signer or product" : "enclave or signer");
        else if (!st)
            plain->len = start + plain_len;
    }
    if (!st && aad) st = kt_buf_append(aad, blob + HDR, aad_len);
    kt_buf_free(&a);
    kt_wipe(key, sizeof key);
    return st;
}
