/* A signing request's 256 bytes read back: what a signer is asked to sign must be a
 * SIGSTRUCT header and body exactly as kt_image_gendata writes them (docs/formats.md,
 * "Signing data"), never arbitrary bytes. Each field is checked in order, so a refusal
 * names the first one that is wrong; then the bytes are written again from what was read
 * and compared, so nothing that is not a field slips through. */
#include "internal.h"

#include <string.h>

static bool zeros(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

/* ATTRIBUTES.FLAGS: MODE64BIT, and DEBUG or not; every other bit is a key or a mode
 * (PROVISIONKEY, EINITTOKEN_KEY, KSS, ...) a signer must not grant by request. */
static kt_status attr_flags_check(uint64_t f)
{
    static const struct {
        uint64_t bit;
        const char *name;
    } named[] = {{KT_ATTR_INIT, "INIT (set by EINIT, never signed)"},
                 {1ull << 4, "PROVISIONKEY"},
                 {1ull << 5, "EINITTOKEN_KEY"},
                 {1ull << 6, "CET"},
                 {1ull << 7, "KSS"},
                 {1ull << 10, "AEXNOTIFY"}};
    if (!(f & KT_ATTR_MODE64BIT))
        return kt_fail(KT_ERR_DENIED, "signing data: ATTRIBUTES.MODE64BIT is not set");
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        if (f & named[i].bit)
            return kt_fail(KT_ERR_DENIED, "signing data: ATTRIBUTES.%s is set", named[i].name);
    uint64_t other = f & ~(KT_ATTR_MODE64BIT | KT_ATTR_DEBUG);
    if (other)
        return kt_fail(KT_ERR_DENIED, "signing data: ATTRIBUTES has bits 0x%llx set",
                       (unsigned long long)other);
    return KT_OK;
}

kt_status kt_sigdata_decode(const uint8_t *sd, size_t n, kt_sigdata_info *out)
{
    if (!out || (n && !sd)) return kt_fail(KT_ERR_INVALID_ARGUMENT, "signing data: NULL argument");
    memset(out, 0, sizeof *out);
    if (n != KT_SIGDATA_LEN)
        return kt_fail(KT_ERR_MALFORMED, "signing data is %zu bytes, not %d (SIGSTRUCT's "
                                         "header and body as kubetee gendata writes them)",
                       n, KT_SIGDATA_LEN);
    const uint8_t *b = sd + 128;
    if (memcmp(sd, kt_sigstruct_header1, 16))
        return kt_fail(KT_ERR_MALFORMED, "signing data: HEADER (bytes 0-15) is not SIGSTRUCT's");
    if (kt_le32(sd + 16))
        return kt_fail(KT_ERR_MALFORMED, "signing data: VENDOR is 0x%08x, not 0",
                       kt_le32(sd + 16));
    kt_status st = kt_sigstruct_date_check(kt_le32(sd + 20));
    if (st) return kt_fail_context(st, "signing data: DATE");
    if (memcmp(sd + 24, kt_sigstruct_header2, 16))
        return kt_fail(KT_ERR_MALFORMED,
                       "signing data: HEADER2 (bytes 24-39) is not SIGSTRUCT's");
    if (!zeros(sd + 40, 4))
        return kt_fail(KT_ERR_MALFORMED, "signing data: SWDEFINED is not zero");
    if (!zeros(sd + 44, 84))
        return kt_fail(KT_ERR_MALFORMED, "signing data: reserved bytes 44-127 are not zero");
    if (kt_le32(b))
        return kt_fail(KT_ERR_DENIED, "signing data: MISCSELECT is 0x%08x, not 0", kt_le32(b));
    if (kt_le32(b + 4) != 0xFFFFFFFFu)
        return kt_fail(KT_ERR_DENIED, "signing data: MISCMASK is 0x%08x, not 0xffffffff",
                       kt_le32(b + 4));
    if (!zeros(b + 8, 4))
        return kt_fail(KT_ERR_MALFORMED, "signing data: reserved bytes after MISCMASK are not "
                                         "zero");
    if (!zeros(b + 12, 16))
        return kt_fail(KT_ERR_DENIED, "signing data: ISVFAMILYID is not zero (kubetee enclaves "
                                      "do not use KSS)");
    uint64_t flags = kt_le64(b + 28), xfrm = kt_le64(b + 36);
    if ((st = attr_flags_check(flags))) return st;
    if ((st = kt_xfrm_check(xfrm))) return kt_fail_context(st, "signing data: ATTRIBUTES.XFRM");
    if (kt_le64(b + 44) != ~0ull)
        return kt_fail(KT_ERR_DENIED, "signing data: ATTRIBUTEMASK.FLAGS is 0x%016llx, not all "
                                      "ones (every attribute bit must be enforced)",
                       (unsigned long long)kt_le64(b + 44));
    if (kt_le64(b + 52))
        return kt_fail(KT_ERR_DENIED, "signing data: ATTRIBUTEMASK.XFRM is 0x%016llx, not 0",
                       (unsigned long long)kt_le64(b + 52));
    if (!zeros(b + 92, 16))
        return kt_fail(KT_ERR_MALFORMED, "signing data: reserved bytes after ENCLAVEHASH are "
                                         "not zero");
    if (!zeros(b + 108, 16))
        return kt_fail(KT_ERR_DENIED, "signing data: ISVEXTPRODID is not zero (kubetee "
                                      "enclaves do not use KSS)");
    memcpy(out->mrenclave, b + 60, KT_SHA256_LEN);
    out->date = kt_le32(sd + 20);
    out->debug = (flags & KT_ATTR_DEBUG) != 0;
    out->xfrm = xfrm;
    out->prodid = kt_le16(b + 124);
    out->svn = kt_le16(b + 126);

    /* written again from what was read: the same 256 bytes, or refused */
    kt_enclave_config c;
    kt_enclave_config_default(&c);
    c.prodid = out->prodid;
    c.svn = out->svn;
    c.debug = out->debug;
    c.xfrm = out->xfrm;
    uint8_t again[KT_SIGDATA_LEN];
    if ((st = kt_sigstruct_sigdata(out->mrenclave, &c, out->date, again))) return st;
    if (!kt_equal(again, sd, KT_SIGDATA_LEN)) {
        size_t i = 0;
        while (again[i] == sd[i])
            i++;
        memset(out, 0, sizeof *out);
        return kt_fail(KT_ERR_MALFORMED, "signing data: byte %zu differs from what kubetee "
                                         "gendata writes for these fields",
                       i);
    }
    return KT_OK;
}
