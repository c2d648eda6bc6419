/* Proofs: making this side's (a quote bound to the ephemeral key, the peer's nonce and
 * the transcript, or a signature by a registered key) and judging the peer's against
 * its rule. Cheap checks come first: the binding of a quote is a hash compare made
 * before the verifier's signatures. */
#include "internal.h"

#include <string.h>

kt_status ks_report_data(const uint8_t pub[KS_PUB_LEN], const uint8_t nonce[KS_NONCE_LEN],
                         const uint8_t th[32], uint8_t rd[64])
{
    uint8_t m[KS_PUB_LEN + KS_NONCE_LEN + 32];
    memcpy(m, pub, KS_PUB_LEN);
    memcpy(m + KS_PUB_LEN, nonce, KS_NONCE_LEN);
    memcpy(m + KS_PUB_LEN + KS_NONCE_LEN, th, 32);
    memset(rd, 0, 64);
    return kt_sha256(m, sizeof m, rd);
}

kt_status ks_signed_message(const char *label, const uint8_t th[32], uint8_t kind,
                            const uint8_t pub[KS_PUB_LEN], kt_buf *out)
{
    kt_status st = kt_buf_append(out, label, strlen(label));
    if (!st) st = kt_buf_append(out, th, 32);
    if (!st) st = kt_buf_append(out, &kind, 1);
    if (!st) st = kt_buf_append(out, pub, KS_PUB_LEN);
    return st;
}

static uint8_t key_kind(const kt_key *k)
{
    return kt_key_type_of(k) == KT_KEY_SM2 ? KT_SESSION_PROOF_SM2 : KT_SESSION_PROOF_P256;
}

kt_status ks_proof_make(kt_session *s, const char *label, const uint8_t th[32], kt_buf *out)
{
    kt_status st;
    if (s->quote) {
        uint8_t rd[64];
        kt_buf quote = {0};
        if ((st = ks_report_data(s->eph_pub, s->peer_nonce, th, rd))) return st;
        if ((st = s->quote(s->quote_ctx, rd, &quote)))
            return kt_fail_context(st, "session: making this side's quote");
        st = ks_proof_append(out, KT_SESSION_PROOF_QUOTE, quote.data, quote.len, NULL, 0);
        kt_buf_free(&quote);
        return st;
    }
    uint8_t pub[KS_PUB_LEN];
    size_t len;
    uint8_t kind = key_kind(s->key);
    kt_buf msg = {0}, sig = {0};
    if ((st = kt_key_public_raw(s->key, pub, sizeof pub, &len))) return st;
    if (!(st = ks_signed_message(label, th, kind, pub, &msg)) &&
        !(st = kt_sign(s->key, msg.data, msg.len, &sig)))
        st = ks_proof_append(out, kind, pub, KS_PUB_LEN, sig.data, sig.len);
    kt_buf_free(&msg);
    kt_buf_free(&sig);
    return st;
}

const kt_key *ks_registered(const kt_session_peer_rule *rule, uint8_t kind,
                            const uint8_t pub[KS_PUB_LEN])
{
    kt_key_type type = kind == KT_SESSION_PROOF_SM2 ? KT_KEY_SM2 : KT_KEY_P256;
    for (size_t i = 0; i < rule->key_count; i++) {
        uint8_t raw[KS_PUB_LEN];
        size_t len;
        if (rule->keys[i] && kt_key_type_of(rule->keys[i]) == type &&
            !kt_key_public_raw(rule->keys[i], raw, sizeof raw, &len) && len == KS_PUB_LEN &&
            !memcmp(raw, pub, KS_PUB_LEN))
            return rule->keys[i];
    }
    return NULL;
}

static kt_status key_check(kt_session *s, const kt_session_peer_rule *rule, const ks_proof *p,
                           const char *label, const uint8_t th[32])
{
    kt_key_type type = p->kind == KT_SESSION_PROOF_SM2 ? KT_KEY_SM2 : KT_KEY_P256;
    s->has_claim = false;
    const kt_key *found = ks_registered(rule, p->kind, p->evidence);
    kt_key *any = NULL;
    if (!found && rule->any_key) {
        /* any key that signs: not on the curve is no proof at all */
        if (kt_key_from_public_raw(type, p->evidence, KS_PUB_LEN, &any))
            return ks_refuse(s, KT_SESSION_FORGED, KT_ERR_VERIFY,
                             "session: the peer's %s key is not a valid public key",
                             type == KT_KEY_SM2 ? "SM2" : "P-256");
        found = any;
    }
    if (!found) {
        /* a refused peer's record names the key only when it signed the transcript */
        kt_buf msg = {0};
        if (!kt_key_from_public_raw(type, p->evidence, KS_PUB_LEN, &any) &&
            !ks_signed_message(label, th, p->kind, p->evidence, &msg) &&
            !kt_verify(any, msg.data, msg.len, p->sig, p->sig_len)) {
            memset(&s->claim, 0, sizeof s->claim);
            s->claim.proof = p->kind;
            memcpy(s->claim.public_key, p->evidence, KS_PUB_LEN);
            s->has_claim = true;
        }
        kt_buf_free(&msg);
        kt_key_free(any);
        char hex[17];
        kt_hex_encode(p->evidence, 8, hex, sizeof hex);
        return ks_refuse(s, KT_SESSION_PEER_REFUSED, KT_ERR_DENIED,
                         "session: the peer's %s key %s... is not a registered key",
                         type == KT_KEY_SM2 ? "SM2" : "P-256", hex);
    }
    kt_buf msg = {0};
    kt_status st = ks_signed_message(label, th, p->kind, p->evidence, &msg);
    if (!st && kt_verify(found, msg.data, msg.len, p->sig, p->sig_len))
        st = ks_refuse(s, KT_SESSION_FORGED, KT_ERR_VERIFY,
                       "session: the peer's signature over the transcript does not verify");
    kt_buf_free(&msg);
    kt_key_free(any);
    if (st) return st;
    memset(&s->peer_info, 0, sizeof s->peer_info);
    s->peer_info.proof = p->kind;
    memcpy(s->peer_info.public_key, p->evidence, KS_PUB_LEN);
    return KT_OK;
}

static kt_status quote_check(kt_session *s, const kt_session_peer_rule *rule, const ks_proof *p,
                             const uint8_t pub[KS_PUB_LEN], const uint8_t th[32])
{
    kt_quote q;
    kt_status st = kt_quote_parse(p->evidence, p->evidence_len, &q);
    s->has_claim = false; /* only what a verified quote proves is a refused peer's record */
    if (!rule->policy)
        return ks_refuse(s, KT_SESSION_PEER_REFUSED, KT_ERR_DENIED,
                         "session: the peer proved itself with a quote; this side accepts "
                         "registered keys only (no policy)");
    if (st) {
        s->refusal = KT_SESSION_MALFORMED;
        return kt_fail_context(st, "session: the peer's quote");
    }
    uint8_t want[64];
    if ((st = ks_report_data(pub, s->nonce, th, want))) return st;
    const uint8_t *rd = q.tee == KT_TEE_TDX ? q.td.report_data : q.sgx.report_data;
    if (!kt_equal(rd, want, 64))
        return ks_refuse(s, KT_SESSION_FORGED, KT_ERR_VERIFY,
                         "session: the peer's quote does not bind this handshake (report_data "
                         "is not SHA-256 of its ephemeral key, our nonce and the transcript)");
    kt_session_peer_info info = {0};
    if ((st = ks_quote_check(rule, p->evidence, p->evidence_len, s->now, &info))) {
        s->refusal = KT_SESSION_PEER_REFUSED;
        if (info.proof == KT_SESSION_PROOF_QUOTE) { /* it verified; the policy refused it */
            s->claim = info;
            s->has_claim = true;
        }
        return st;
    }
    s->peer_info = info;
    s->peer_quote.len = 0;
    return kt_buf_append(&s->peer_quote, p->evidence, p->evidence_len);
}

kt_status ks_peer_check(kt_session *s, const kt_session_peer_rule *rule, const ks_proof *p,
                        const char *label, const uint8_t pub[KS_PUB_LEN], const uint8_t th[32])
{
    if (p->kind == KT_SESSION_PROOF_QUOTE) return quote_check(s, rule, p, pub, th);
    if (!rule->key_count && !rule->any_key)
        return ks_refuse(s, KT_SESSION_PEER_REFUSED, KT_ERR_DENIED,
                         "session: the peer proved itself with a key; this side accepts "
                         "attested enclaves only (no registered keys)");
    return key_check(s, rule, p, label, th);
}
