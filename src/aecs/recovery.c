/* AECS recovery files (docs/formats.md "AECS recovery files"): share files, sealed and
 * open, the change proposal and a holder's consent to it; the recovery set's rules; the
 * ECIES that seals a share to its recovery key. Decoders take untrusted bytes (a share
 * file from a holder, a proposal to sign) and check every field. */
#include <kubetee/aecs_recovery.h>

#include <string.h>

#define SHARE_MAGIC "KTRS"
#define PROPOSAL_MAGIC "KTRP"
#define CONSENT_MAGIC "KTRC"
#define FORMAT 1
#define SEALED_LEN (KT_SHARE_HEADER_LEN + 64 + KT_GCM_IV_LEN + 96 + KT_GCM_TAG_LEN)
#define OPEN_LEN (KT_SHARE_HEADER_LEN + KT_RECOVERY_SECRET_LEN + 64)
#define PROPOSAL_FIXED (4 + 1 + 64 + 8 + 4 + 1 + 1)
#define CONSENT_LEN (4 + 1 + 64 + 32 + 64)

kt_status kt_recovery_set_check(const uint8_t (*keys)[64], size_t count, uint32_t threshold, bool single_holder)
{
    if (count < 1 || count > KT_RECOVERY_MAX_KEYS)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "the recovery set has %zu keys: 1 to %d", count, KT_RECOVERY_MAX_KEYS);
    if (threshold < 1 || threshold > count)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "the recovery threshold %u is not 1..%zu (the keys given)", threshold, count);
    if (threshold == 1 && !single_holder)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "a recovery threshold of 1 lets one key holder alone restore every "
                                                "secret: say so explicitly (single holder), or give a threshold of 2 or more");
    if (threshold > 1 && single_holder)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "single holder is for a threshold of 1, not %u", threshold);
    for (size_t i = 0; i < count; i++) {
        kt_key *k = NULL;
        if (kt_key_from_public_raw(KT_KEY_P256, keys[i], 64, &k))
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "recovery key %zu is not a P-256 public key", i + 1);
        kt_key_free(k);
        for (size_t j = 0; j < i; j++)
            if (kt_equal(keys[i], keys[j], 64))
                return kt_fail(KT_ERR_INVALID_ARGUMENT, "recovery keys %zu and %zu are the same key", j + 1, i + 1);
    }
    return KT_OK;
}

/* ---- share files ---- */
static void put_header(const kt_recovery_share *s, uint8_t h[KT_SHARE_HEADER_LEN])
{
    memcpy(h, SHARE_MAGIC, 4);
    h[4] = FORMAT;
    h[5] = s->kind;
    memcpy(h + 6, s->instance, 64);
    kt_put_le64(h + 70, s->version);
    memcpy(h + 78, s->backup_id, 16);
    h[94] = s->index;
    h[95] = s->threshold;
    h[96] = s->count;
    memcpy(h + 97, s->recovery, 64);
}

/* The header as the AAD and the signed message see it: the kind byte is 0 there, so a
 * share's seal and signature do not depend on whether it has been opened. */
static void bound_header(const kt_recovery_share *s, uint8_t h[KT_SHARE_HEADER_LEN])
{
    put_header(s, h);
    h[5] = 0;
}

kt_status kt_recovery_share_decode(const uint8_t *b, size_t n, kt_recovery_share *s)
{
    if (!b || !s) return kt_fail(KT_ERR_INVALID_ARGUMENT, "recovery share: NULL argument");
    memset(s, 0, sizeof *s);
    if (n < 6 || memcmp(b, SHARE_MAGIC, 4)) return kt_fail(KT_ERR_MALFORMED, "not an AECS recovery share (no KTRS magic)");
    if (b[4] != FORMAT) return kt_fail(KT_ERR_MALFORMED, "recovery share: format %u, this reads %u", b[4], FORMAT);
    if (b[5] != KT_SHARE_SEALED && b[5] != KT_SHARE_OPEN)
        return kt_fail(KT_ERR_MALFORMED, "recovery share: kind %u is neither sealed (1) nor open (2)", b[5]);
    size_t want = b[5] == KT_SHARE_SEALED ? SEALED_LEN : OPEN_LEN;
    if (n != want)
        return kt_fail(KT_ERR_MALFORMED, "recovery share: %zu bytes, %s share is %zu", n,
                       b[5] == KT_SHARE_SEALED ? "a sealed" : "an open", want);
    s->kind = b[5];
    memcpy(s->instance, b + 6, 64);
    s->version = kt_le64(b + 70);
    memcpy(s->backup_id, b + 78, 16);
    s->index = b[94];
    s->threshold = b[95];
    s->count = b[96];
    memcpy(s->recovery, b + 97, 64);
    if (s->count < 1 || s->count > KT_RECOVERY_MAX_KEYS || s->threshold < 1 || s->threshold > s->count)
        return kt_fail(KT_ERR_MALFORMED, "recovery share: threshold %u of %u (1 <= threshold <= count <= %d)",
                       s->threshold, s->count, KT_RECOVERY_MAX_KEYS);
    if (s->index < 1 || s->index > s->count)
        return kt_fail(KT_ERR_MALFORMED, "recovery share: index %u of %u", s->index, s->count);
    if (!s->version) return kt_fail(KT_ERR_MALFORMED, "recovery share: set version 0 (sets start at 1)");
    const uint8_t *p = b + KT_SHARE_HEADER_LEN;
    if (s->kind == KT_SHARE_SEALED) {
        memcpy(s->ephemeral, p, 64);
        memcpy(s->iv, p + 64, KT_GCM_IV_LEN);
        memcpy(s->sealed, p + 64 + KT_GCM_IV_LEN, sizeof s->sealed);
    } else {
        memcpy(s->value, p, KT_RECOVERY_SECRET_LEN);
        memcpy(s->signature, p + KT_RECOVERY_SECRET_LEN, 64);
    }
    return KT_OK;
}

kt_status kt_recovery_share_encode(const kt_recovery_share *s, kt_buf *out)
{
    if (!s || !out || (s->kind != KT_SHARE_SEALED && s->kind != KT_SHARE_OPEN))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "recovery share: nothing to encode");
    uint8_t h[KT_SHARE_HEADER_LEN];
    put_header(s, h);
    kt_status st = kt_buf_append(out, h, sizeof h);
    if (s->kind == KT_SHARE_SEALED) {
        if (!st) st = kt_buf_append(out, s->ephemeral, 64);
        if (!st) st = kt_buf_append(out, s->iv, KT_GCM_IV_LEN);
        if (!st) st = kt_buf_append(out, s->sealed, sizeof s->sealed);
    } else {
        if (!st) st = kt_buf_append(out, s->value, KT_RECOVERY_SECRET_LEN);
        if (!st) st = kt_buf_append(out, s->signature, 64);
    }
    return st;
}

kt_status kt_recovery_share_message(const kt_recovery_share *s, kt_buf *out)
{
    uint8_t h[KT_SHARE_HEADER_LEN];
    bound_header(s, h);
    kt_status st = kt_buf_append(out, KT_RECOVERY_SHARE_LABEL, sizeof KT_RECOVERY_SHARE_LABEL - 1);
    if (!st) st = kt_buf_append(out, h, sizeof h);
    if (!st) st = kt_buf_append(out, s->value, KT_RECOVERY_SECRET_LEN);
    return st;
}

/* The share's AES key: HKDF-SHA256 over the ECDH secret, salted with both public keys. */
static kt_status share_key(const kt_key *mine, const uint8_t peer_raw[64], const uint8_t eph[64],
                           const uint8_t recovery[64], uint8_t key[32])
{
    kt_key *peer = NULL;
    uint8_t z[32], salt[128];
    kt_status st = kt_key_from_public_raw(KT_KEY_P256, peer_raw, 64, &peer);
    if (!st) st = kt_ecdh(mine, peer, z);
    memcpy(salt, eph, 64);
    memcpy(salt + 64, recovery, 64);
    if (!st) st = kt_hkdf_sha256(z, 32, salt, sizeof salt, (const uint8_t *)KT_RECOVERY_SHARE_LABEL,
                                 sizeof KT_RECOVERY_SHARE_LABEL - 1, key, 32);
    kt_wipe(z, sizeof z);
    kt_key_free(peer);
    return st;
}

static void share_aad(const kt_recovery_share *s, uint8_t aad[sizeof KT_RECOVERY_SHARE_LABEL - 1 + KT_SHARE_HEADER_LEN])
{
    memcpy(aad, KT_RECOVERY_SHARE_LABEL, sizeof KT_RECOVERY_SHARE_LABEL - 1);
    bound_header(s, aad + sizeof KT_RECOVERY_SHARE_LABEL - 1);
}

kt_status kt_recovery_share_seal(kt_recovery_share *s)
{
    if (!s || s->kind != KT_SHARE_OPEN) return kt_fail(KT_ERR_INVALID_ARGUMENT, "recovery share: seal an open share");
    kt_key *eph = NULL;
    uint8_t key[32], plain[96], aad[sizeof KT_RECOVERY_SHARE_LABEL - 1 + KT_SHARE_HEADER_LEN];
    size_t n;
    kt_status st = kt_key_generate(KT_KEY_P256, &eph);
    if (!st) st = kt_key_public_raw(eph, s->ephemeral, 64, &n);
    if (!st) st = share_key(eph, s->recovery, s->ephemeral, s->recovery, key);
    if (!st) st = kt_random(s->iv, sizeof s->iv);
    memcpy(plain, s->value, 32);
    memcpy(plain + 32, s->signature, 64);
    share_aad(s, aad);
    if (!st) st = kt_aead_seal(key, s->iv, aad, sizeof aad, plain, sizeof plain, s->sealed, s->sealed + 96);
    if (!st) {
        s->kind = KT_SHARE_SEALED;
        kt_wipe(s->value, sizeof s->value);
        kt_wipe(s->signature, sizeof s->signature);
    }
    kt_wipe(plain, sizeof plain);
    kt_wipe(key, sizeof key);
    kt_key_free(eph);
    return st;
}

kt_status kt_recovery_share_open(kt_recovery_share *s, const kt_key *recovery)
{
    if (!s || !recovery || s->kind != KT_SHARE_SEALED)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "recovery share: open a sealed share with a key");
    uint8_t pub[64], key[32], plain[96], aad[sizeof KT_RECOVERY_SHARE_LABEL - 1 + KT_SHARE_HEADER_LEN];
    size_t n;
    if (kt_key_type_of(recovery) != KT_KEY_P256 || !kt_key_has_private(recovery) ||
        kt_key_public_raw(recovery, pub, sizeof pub, &n) || n != 64)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "a recovery key is a P-256 private key");
    char want[17], have[17];
    kt_hex_encode(s->recovery, 8, want, sizeof want);
    kt_hex_encode(pub, 8, have, sizeof have);
    if (!kt_equal(pub, s->recovery, 64))
        return kt_fail(KT_ERR_DENIED, "share %u is for recovery key %s..., this key is %s...", s->index, want, have);
    share_aad(s, aad);
    kt_status st = share_key(recovery, s->ephemeral, s->ephemeral, s->recovery, key);
    if (!st && kt_aead_open(key, s->iv, aad, sizeof aad, s->sealed, 96, s->sealed + 96, plain))
        st = kt_fail(KT_ERR_VERIFY, "share %u does not open with its recovery key: damaged or altered", s->index);
    if (!st) {
        memcpy(s->value, plain, 32);
        memcpy(s->signature, plain + 32, 64);
        s->kind = KT_SHARE_OPEN;
    }
    kt_wipe(plain, sizeof plain);
    kt_wipe(key, sizeof key);
    return st;
}

kt_status kt_recovery_share_verify(const kt_recovery_share *s)
{
    if (!s || s->kind != KT_SHARE_OPEN) return kt_fail(KT_ERR_INVALID_ARGUMENT, "recovery share: verify an open share");
    kt_key *k = NULL;
    kt_buf m = {0};
    char inst[17];
    kt_hex_encode(s->instance, 8, inst, sizeof inst);
    kt_status st = kt_key_from_public_raw(KT_KEY_P256, s->instance, 64, &k);
    if (st) st = kt_fail(KT_ERR_VERIFY, "share %u names instance %s..., which is no P-256 key", s->index, inst);
    if (!st) st = kt_recovery_share_message(s, &m);
    if (!st && kt_verify(k, m.data, m.len, s->signature, 64))
        st = kt_fail(KT_ERR_VERIFY, "share %u is not signed by the instance it names (%s...): forged or altered", s->index,
                     inst);
    kt_buf_free(&m);
    kt_key_free(k);
    return st;
}

/* ---- a change of the set ---- */
kt_status kt_recovery_proposal_encode(const kt_recovery_proposal *p, kt_buf *out)
{
    if (!p || !out || p->count > KT_RECOVERY_MAX_KEYS) return kt_fail(KT_ERR_INVALID_ARGUMENT, "recovery proposal: bad argument");
    uint8_t h[PROPOSAL_FIXED];
    memcpy(h, PROPOSAL_MAGIC, 4);
    h[4] = FORMAT;
    memcpy(h + 5, p->instance, 64);
    kt_put_le64(h + 69, p->version);
    kt_put_le32(h + 77, p->threshold);
    h[81] = p->single_holder;
    h[82] = (uint8_t)p->count;
    kt_status st = kt_buf_append(out, h, sizeof h);
    for (size_t i = 0; i < p->count && !st; i++) st = kt_buf_append(out, p->keys[i], 64);
    return st;
}

kt_status kt_recovery_proposal_decode(const uint8_t *b, size_t n, kt_recovery_proposal *p)
{
    if (!b || !p) return kt_fail(KT_ERR_INVALID_ARGUMENT, "recovery proposal: NULL argument");
    memset(p, 0, sizeof *p);
    if (n < 5 || memcmp(b, PROPOSAL_MAGIC, 4)) return kt_fail(KT_ERR_MALFORMED, "not an AECS recovery proposal (no KTRP magic)");
    if (b[4] != FORMAT) return kt_fail(KT_ERR_MALFORMED, "recovery proposal: format %u, this reads %u", b[4], FORMAT);
    if (n < PROPOSAL_FIXED) return kt_fail(KT_ERR_MALFORMED, "recovery proposal: %zu bytes, shorter than its header", n);
    if (b[81] > 1) return kt_fail(KT_ERR_MALFORMED, "recovery proposal: single-holder byte %u (0 or 1)", b[81]);
    if (b[82] < 1 || b[82] > KT_RECOVERY_MAX_KEYS)
        return kt_fail(KT_ERR_MALFORMED, "recovery proposal: %u keys (1 to %d)", b[82], KT_RECOVERY_MAX_KEYS);
    if (n != PROPOSAL_FIXED + (size_t)b[82] * 64)
        return kt_fail(KT_ERR_MALFORMED, "recovery proposal: %zu bytes, %u keys make %zu", n, b[82],
                       PROPOSAL_FIXED + (size_t)b[82] * 64);
    memcpy(p->instance, b + 5, 64);
    p->version = kt_le64(b + 69);
    p->threshold = kt_le32(b + 77);
    p->single_holder = b[81];
    p->count = b[82];
    for (size_t i = 0; i < p->count; i++) memcpy(p->keys[i], b + PROPOSAL_FIXED + i * 64, 64);
    kt_status st = kt_recovery_set_check((const uint8_t(*)[64])p->keys, p->count, p->threshold, p->single_holder);
    return st ? kt_fail_context(KT_ERR_MALFORMED, "recovery proposal") : KT_OK;
}

kt_status kt_recovery_change_message(const kt_recovery_proposal *p, kt_buf *out)
{
    kt_status st = kt_buf_append(out, KT_RECOVERY_CHANGE_LABEL, sizeof KT_RECOVERY_CHANGE_LABEL - 1);
    return st ? st : kt_recovery_proposal_encode(p, out);
}

kt_status kt_recovery_consent_encode(const kt_recovery_consent *c, kt_buf *out)
{
    uint8_t b[CONSENT_LEN];
    memcpy(b, CONSENT_MAGIC, 4);
    b[4] = FORMAT;
    memcpy(b + 5, c->signer, 64);
    memcpy(b + 69, c->digest, 32);
    memcpy(b + 101, c->signature, 64);
    return kt_buf_append(out, b, sizeof b);
}

kt_status kt_recovery_consent_decode(const uint8_t *b, size_t n, kt_recovery_consent *c)
{
    if (!b || !c) return kt_fail(KT_ERR_INVALID_ARGUMENT, "recovery consent: NULL argument");
    memset(c, 0, sizeof *c);
    if (n < 5 || memcmp(b, CONSENT_MAGIC, 4)) return kt_fail(KT_ERR_MALFORMED, "not an AECS recovery consent (no KTRC magic)");
    if (b[4] != FORMAT) return kt_fail(KT_ERR_MALFORMED, "recovery consent: format %u, this reads %u", b[4], FORMAT);
    if (n != CONSENT_LEN) return kt_fail(KT_ERR_MALFORMED, "recovery consent: %zu bytes, not %d", n, CONSENT_LEN);
    memcpy(c->signer, b + 5, 64);
    memcpy(c->digest, b + 69, 32);
    memcpy(c->signature, b + 101, 64);
    return KT_OK;
}
