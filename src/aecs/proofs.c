/* The messages AECS signs for a verifier outside the session's own keys (docs/aecs.md):
 * getpub's answer (by the enclave identity key) and the instance proof (by the instance
 * key made at init). Built into the AECS enclave, its TA library and its host clients, so
 * signer and verifiers build the same bytes. Every variable part is length-prefixed. */
#include <kubetee/aecs.h>

#include <string.h>

static kt_status put_part(kt_buf *m, const void *p, size_t n, size_t len_bytes)
{
    uint8_t len[4];
    kt_put_le32(len, (uint32_t)n);
    kt_status st = kt_buf_append(m, len, len_bytes);
    return st ? st : n ? kt_buf_append(m, p, n) : KT_OK;
}

kt_status kt_aecs_getpub_message(const char *service, const char *name, uint32_t type, uint64_t version,
                                 const uint8_t *nonce, size_t nonce_len, const uint8_t *pem, size_t pem_len,
                                 kt_buf *out)
{
    if (!service || !name || (!nonce && nonce_len) || (!pem && pem_len) || !out)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "aecs getpub message: NULL argument");
    if (nonce_len > 255 || strlen(service) > 255 || strlen(name) > 255)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "aecs getpub message: a part longer than 255 bytes");
    uint8_t t[4], v[8];
    kt_put_le32(t, type);
    kt_put_le64(v, version);
    kt_status st = kt_buf_append(out, KT_AECS_GETPUB_LABEL, sizeof KT_AECS_GETPUB_LABEL - 1);
    if (!st) st = put_part(out, nonce, nonce_len, 1);
    if (!st) st = put_part(out, service, strlen(service), 1);
    if (!st) st = put_part(out, name, strlen(name), 1);
    if (!st) st = kt_buf_append(out, t, 4);
    if (!st) st = kt_buf_append(out, v, 8);
    if (!st) st = put_part(out, pem, pem_len, 4);
    return st;
}

kt_status kt_aecs_instance_message(const uint8_t session_id[16], const uint8_t *nonce, size_t nonce_len,
                                   const uint8_t instance[64], kt_buf *out)
{
    if (!session_id || !nonce || !instance || !out)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "aecs instance message: NULL argument");
    if (nonce_len < 16 || nonce_len > 64) return kt_fail(KT_ERR_INVALID_ARGUMENT, "aecs instance message: the nonce is 16 to 64 bytes");
    kt_status st = kt_buf_append(out, KT_AECS_INSTANCE_LABEL, sizeof KT_AECS_INSTANCE_LABEL - 1);
    if (!st) st = kt_buf_append(out, session_id, 16);
    if (!st) st = put_part(out, nonce, nonce_len, 1);
    if (!st) st = kt_buf_append(out, instance, 64);
    return st;
}

kt_status kt_aecs_instance_check(const uint8_t pin[64], const uint8_t *got, size_t got_len,
                                 const uint8_t session_id[16], const uint8_t *nonce, size_t nonce_len,
                                 const uint8_t *sig, size_t sig_len)
{
    if (!pin || (!got && got_len)) return kt_fail(KT_ERR_INVALID_ARGUMENT, "aecs instance check: NULL argument");
    char want[17], had[17] = "none";
    kt_hex_encode(pin, 8, want, sizeof want);
    if (got_len == 64) kt_hex_encode(got, 8, had, sizeof had);
    if (got_len != 64 || !kt_equal(got, pin, 64))
        return kt_fail(KT_ERR_DENIED, "AECS is instance %s..., not the pinned %s...: another init (the store "
                                      "emptied or replaced) or another AECS", had, want);
    kt_key *k = NULL;
    kt_buf m = {0};
    kt_status st = kt_key_from_public_raw(KT_KEY_P256, pin, 64, &k);
    if (!st) st = kt_aecs_instance_message(session_id, nonce, nonce_len, pin, &m);
    if (!st && (sig_len != 64 || kt_verify(k, m.data, m.len, sig, sig_len)))
        st = kt_fail(KT_ERR_DENIED, "AECS did not prove the pinned instance key over this session");
    kt_buf_free(&m);
    kt_key_free(k);
    return st;
}
