/* The signed image file: the ELF as built, then a trailer the ELF loader never reads.
 *
 *   ELF bytes (elf_len)
 *   "KTENCLV\0" | version u32 = 1 | config length u32 = 64 | config (64) | SIGSTRUCT (1808)
 *   elf_len u64 | "KTSIGNED"
 *
 * Signing, verification and two-step signing all meet here. */
#include "internal.h"

#include <string.h>

#define META_MAGIC "KTENCLV\0"
#define FOOT_MAGIC "KTSIGNED"
#define META_LEN (8 + 4 + 4 + KT_CONFIG_BLOB_LEN + KT_SIGSTRUCT_LEN)
#define FOOT_LEN 16
#define TRAILER_LEN (META_LEN + FOOT_LEN)

kt_status kt_signed_image_parse(const uint8_t *data, size_t n, kt_signed_image *out)
{
    if (!data || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "signed image: NULL argument");
    if (n < TRAILER_LEN || memcmp(data + n - 8, FOOT_MAGIC, 8) != 0)
        return kt_fail(KT_ERR_MALFORMED, "not a signed enclave (no kubetee signature trailer; "
                                         "sign it with `kubetee sign`)");
    uint64_t elf_len = kt_le64(data + n - FOOT_LEN);
    if (elf_len != n - TRAILER_LEN)
        return kt_fail(KT_ERR_MALFORMED,
                       "signed image: trailer says %llu ELF bytes, file holds %zu",
                       (unsigned long long)elf_len, n - TRAILER_LEN);
    const uint8_t *meta = data + elf_len;
    if (memcmp(meta, META_MAGIC, 8) || kt_le32(meta + 8) != 1 ||
        kt_le32(meta + 12) != KT_CONFIG_BLOB_LEN)
        return kt_fail(KT_ERR_MALFORMED, "signed image: unknown trailer version");
    kt_status st = kt_config_decode(meta + 16, &out->config);
    if (st) return kt_fail_context(st, "signed image");
    out->elf = data;
    out->elf_len = (size_t)elf_len;
    memcpy(out->sigstruct, meta + 16 + KT_CONFIG_BLOB_LEN, KT_SIGSTRUCT_LEN);
    return KT_OK;
}

static kt_status write_image(const uint8_t *elf, size_t n, const kt_enclave_config *c,
                             const uint8_t sigstruct[KT_SIGSTRUCT_LEN], kt_buf *out)
{
    uint8_t meta[META_LEN + FOOT_LEN];
    memcpy(meta, META_MAGIC, 8);
    kt_put_le32(meta + 8, 1);
    kt_put_le32(meta + 12, KT_CONFIG_BLOB_LEN);
    kt_config_encode(c, meta + 16);
    memcpy(meta + 16 + KT_CONFIG_BLOB_LEN, sigstruct, KT_SIGSTRUCT_LEN);
    kt_put_le64(meta + META_LEN, n);
    memcpy(meta + META_LEN + 8, FOOT_MAGIC, 8);
    kt_status st = kt_buf_reserve(out, n + sizeof meta);
    if (!st) st = kt_buf_append(out, elf, n);
    if (!st) st = kt_buf_append(out, meta, sizeof meta);
    return st;
}

/* Checks an unsigned ELF is signable (imports, an EINIT-ready layout) and measures it. */
static kt_status prepare(const uint8_t *elf, size_t n, const kt_enclave_config *c,
                         uint8_t mrenclave[KT_SHA256_LEN])
{
    if (!elf || !c) return kt_fail(KT_ERR_INVALID_ARGUMENT, "sign: NULL argument");
    if (n >= 8 && memcmp(elf + n - 8, FOOT_MAGIC, 8) == 0)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "sign: the enclave is already signed");
    kt_elf parsed;
    kt_status st = kt_elf_parse(elf, n, &parsed);
    if (st || (st = kt_elf_check_imports(&parsed)) || (st = kt_einit_require(elf, n, c))) return st;
    return kt_measure(elf, n, c, mrenclave);
}

kt_status kt_image_gendata(const uint8_t *elf, size_t n, const kt_enclave_config *c, uint32_t date,
                           uint8_t sigdata[KT_SIGDATA_LEN])
{
    uint8_t mr[KT_SHA256_LEN];
    kt_status st = prepare(elf, n, c, mr);
    return st ? st : kt_sigstruct_sigdata(mr, c, date, sigdata);
}

kt_status kt_image_catsig(const uint8_t *elf, size_t n, const kt_enclave_config *c,
                          const uint8_t sigdata[KT_SIGDATA_LEN], const kt_key *pub,
                          const uint8_t *sig, size_t sig_len, kt_buf *out)
{
    if (!sigdata || !pub || !sig || !out)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "catsig: NULL argument");
    uint8_t want[KT_SIGDATA_LEN];
    /* regenerate with the date gendata recorded, so only the enclave and config can differ */
    kt_status st = kt_image_gendata(elf, n, c, kt_le32(sigdata + 20), want);
    if (st) return st;
    if (memcmp(want, sigdata, KT_SIGDATA_LEN) != 0)
        return kt_fail(KT_ERR_VERIFY, "catsig: the signing data was not made from this enclave "
                                      "and config (run gendata again)");
    uint8_t sigstruct[KT_SIGSTRUCT_LEN];
    if ((st = kt_sigstruct_assemble(sigdata, pub, sig, sig_len, sigstruct))) return st;
    return write_image(elf, n, c, sigstruct, out);
}

kt_status kt_image_sign(const uint8_t *elf, size_t n, const kt_enclave_config *c, const kt_key *key,
                        uint32_t date, kt_buf *out)
{
    if (!key || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "sign: NULL argument");
    if (kt_key_type_of(key) != KT_KEY_RSA3072_E3 || !kt_key_has_private(key))
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "sign: the key must be an RSA-3072 private key with exponent 3");
    uint8_t sd[KT_SIGDATA_LEN];
    kt_status st = kt_image_gendata(elf, n, c, date, sd);
    if (st) return st;
    kt_buf sig = {0};
    if (!(st = kt_sign(key, sd, sizeof sd, &sig)))
        st = kt_image_catsig(elf, n, c, sd, key, sig.data, sig.len, out);
    kt_buf_free(&sig);
    return st;
}

/* SIGSTRUCT's prodid, svn and attributes against the config the trailer carries. */
static kt_status check_fields(const kt_sigstruct_info *info, const kt_enclave_config *c)
{
    uint64_t want_flags = KT_ATTR_MODE64BIT | (c->debug ? KT_ATTR_DEBUG : 0);
    if (info->prodid != c->prodid || info->svn != c->svn || info->attr_flags != want_flags)
        return kt_fail(KT_ERR_VERIFY,
                       "SIGSTRUCT prodid/svn/attributes differ from the image config");
    return KT_OK;
}

/* Cheap checks first: trailer, SIGSTRUCT signature and fields, config against SIGSTRUCT,
 * ELF bounds and imports, the enclave size against the limit, the EINIT rules (one walk
 * of the layout, no hashing); only then the measurement,
 * whose cost grows with the enclave's size. */
kt_status kt_image_verify_within(const uint8_t *data, size_t n, uint64_t max_enclave_size,
                                 kt_signed_image *img, kt_enclave_identity *id)
{
    if (!data || !img || !id)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "verify image: NULL argument");
    if (max_enclave_size == 0) max_enclave_size = KT_ENCLAVE_SIZE_MAX_DEFAULT;
    kt_status st = kt_signed_image_parse(data, n, img);
    if (st) return st;
    kt_sigstruct_info info;
    if ((st = kt_sigstruct_verify(img->sigstruct, &info)) ||
        (st = check_fields(&info, &img->config)))
        return st;
    img->config.xfrm = info.attr_xfrm; /* SIGSTRUCT carries XFRM; the SSA frame follows it */
    kt_elf elf;
    if ((st = kt_elf_parse(img->elf, img->elf_len, &elf)) || (st = kt_elf_check_imports(&elf)))
        return st;
    kt_layout l;
    if ((st = kt_layout_plan(&elf, &img->config, &l))) return st;
    if (l.size > max_enclave_size)
        return kt_fail(KT_ERR_TOO_LARGE,
                       "enclave size %llu MiB (an image span of %llu MiB, then the config's "
                       "heap, stacks and TCS) is over the maximum enclave size of %llu MiB; "
                       "not measured",
                       (unsigned long long)(l.size >> 20),
                       (unsigned long long)(elf.image_size >> 20),
                       (unsigned long long)(max_enclave_size >> 20));
    /* what EINIT would refuse on hardware is refused here too, before measuring: a signed
     * image whose layout breaks a rule (signed by a tool other than ours) is not loaded */
    kt_einit_report er;
    if ((st = kt_layout_einit_check(&l, &elf, img->elf, &er)) ||
        (st = kt_einit_report_require(&er)))
        return st;
    uint8_t mr[KT_SHA256_LEN];
    if ((st = kt_layout_measure(&l, &elf, img->elf, mr))) return st;
    if (!kt_equal(mr, info.mrenclave, KT_SHA256_LEN)) {
        char got[65], want[65];
        kt_hex_encode(mr, 32, got, sizeof got);
        kt_hex_encode(info.mrenclave, 32, want, sizeof want);
        return kt_fail(KT_ERR_VERIFY,
                       "measurement mismatch: the image measures %s but SIGSTRUCT "
                       "was signed for %s (image or config changed after signing)",
                       got, want);
    }
    memset(id, 0, sizeof *id);
    memcpy(id->mrenclave, mr, 32);
    memcpy(id->mrsigner, info.mrsigner, 32);
    id->config = img->config;
    id->attr_flags = info.attr_flags | KT_ATTR_INIT;
    id->attr_xfrm = info.attr_xfrm;
    id->misc_select = info.misc_select;
    id->date = info.date;
    id->entry = elf.entry;
    return KT_OK;
}

kt_status kt_image_verify(const uint8_t *data, size_t n, kt_signed_image *img,
                          kt_enclave_identity *id)
{
    return kt_image_verify_within(data, n, KT_ENCLAVE_SIZE_MAX_DEFAULT, img, id);
}
