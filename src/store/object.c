/* The fs backend's records: object files and the revision file (docs/formats.md). The
 * SHA-256 finds a torn or edited file; anyone who can write the directory can also
 * recompute it, so it is no defence against the host (the AECS enclave's AEAD is). */
#include "backend.h"

#include <kubetee/crypto.h>

#include <string.h>

kt_status kt_store_obj_encode(const char *key, uint64_t version, uint64_t create_revision,
                              uint64_t mod_revision, const void *value, size_t n, kt_buf *out)
{
    size_t kl = strlen(key);
    if (kl > KT_STORE_KEY_MAX || n > KT_STORE_VALUE_MAX)
        return kt_fail(KT_ERR_TOO_LARGE, "store object: key or value over its limit");
    uint8_t fixed[KT_STORE_OBJ_FIXED];
    memcpy(fixed, KT_STORE_OBJ_MAGIC, 8);
    kt_put_le16(fixed + 8, (uint16_t)kl);
    kt_put_le64(fixed + 10, version);
    kt_put_le64(fixed + 18, create_revision);
    kt_put_le64(fixed + 26, mod_revision);
    kt_put_le64(fixed + 34, n);
    size_t start = out->len;
    kt_status st;
    if ((st = kt_buf_reserve(out, sizeof fixed + kl + n + KT_SHA256_LEN)) ||
        (st = kt_buf_append(out, fixed, sizeof fixed)) || (st = kt_buf_append(out, key, kl)) ||
        (st = kt_buf_append(out, value, n)))
        return st;
    uint8_t h[KT_SHA256_LEN];
    if ((st = kt_sha256(out->data + start, out->len - start, h))) return st;
    return kt_buf_append(out, h, sizeof h);
}

kt_status kt_store_obj_decode(const uint8_t *p, size_t n, kt_store_obj_view *out)
{
    if (n < KT_STORE_OBJ_FIXED + KT_SHA256_LEN)
        return kt_fail(KT_ERR_MALFORMED, "store object: %zu bytes is shorter than a header", n);
    if (memcmp(p, KT_STORE_OBJ_MAGIC, 8) != 0)
        return kt_fail(KT_ERR_MALFORMED, "store object: bad magic (not a %s file)",
                       KT_STORE_OBJ_MAGIC);
    size_t kl = kt_le16(p + 8);
    uint64_t version = kt_le64(p + 10), create = kt_le64(p + 18), mod = kt_le64(p + 26);
    uint64_t vl = kt_le64(p + 34);
    if (kl == 0 || kl > KT_STORE_KEY_MAX)
        return kt_fail(KT_ERR_MALFORMED, "store object: key length %zu is outside 1..%d", kl,
                       KT_STORE_KEY_MAX);
    if (vl > KT_STORE_VALUE_MAX)
        return kt_fail(KT_ERR_MALFORMED, "store object: value length %llu is over %d",
                       (unsigned long long)vl, KT_STORE_VALUE_MAX);
    size_t want = KT_STORE_OBJ_FIXED + kl + (size_t)vl + KT_SHA256_LEN;
    if (n != want)
        return kt_fail(KT_ERR_MALFORMED, "store object: %zu bytes where the header says %zu (%s)",
                       n, want, n < want ? "truncated" : "trailing bytes");
    uint8_t h[KT_SHA256_LEN];
    kt_status st = kt_sha256(p, n - KT_SHA256_LEN, h);
    if (st) return st;
    if (!kt_equal(h, p + n - KT_SHA256_LEN, KT_SHA256_LEN))
        return kt_fail(KT_ERR_VERIFY, "store object: SHA-256 does not match (the file changed)");
    const uint8_t *k = p + KT_STORE_OBJ_FIXED;
    if (kt_store_key_check(k, kl)) return kt_fail_context(KT_ERR_MALFORMED, "store object");
    /* etcd's counters: version counts the changes since create_revision, each of which
     * took a revision of its own, so version <= mod - create + 1 */
    if (version == 0 || create == 0 || mod < create || version - 1 > mod - create)
        return kt_fail(KT_ERR_MALFORMED,
                       "store object: inconsistent counters (version %llu, create_revision %llu, "
                       "mod_revision %llu)",
                       (unsigned long long)version, (unsigned long long)create,
                       (unsigned long long)mod);
    memcpy(out->key, k, kl);
    out->key[kl] = '\0';
    out->version = version;
    out->create_revision = create;
    out->mod_revision = mod;
    out->value = k + kl;
    out->value_len = (size_t)vl;
    return KT_OK;
}

void kt_store_rev_encode(uint64_t rev, uint8_t out[KT_STORE_REV_LEN])
{
    memcpy(out, KT_STORE_REV_MAGIC, 8);
    kt_put_le64(out + 8, rev);
    if (kt_sha256(out, 16, out + 16)) memset(out + 16, 0, 32); /* fails decode, never silent */
}

kt_status kt_store_rev_decode(const uint8_t *p, size_t n, uint64_t *rev)
{
    if (n != KT_STORE_REV_LEN)
        return kt_fail(KT_ERR_MALFORMED, "store revision file: %zu bytes, not %d", n,
                       KT_STORE_REV_LEN);
    if (memcmp(p, KT_STORE_REV_MAGIC, 8) != 0)
        return kt_fail(KT_ERR_MALFORMED, "store revision file: bad magic");
    uint8_t h[KT_SHA256_LEN];
    kt_status st = kt_sha256(p, 16, h);
    if (st) return st;
    if (!kt_equal(h, p + 16, KT_SHA256_LEN))
        return kt_fail(KT_ERR_VERIFY,
                       "store revision file: SHA-256 does not match (the file changed)");
    *rev = kt_le64(p + 8);
    return KT_OK;
}
