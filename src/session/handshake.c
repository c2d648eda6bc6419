/* The handshake: Hello, Reply, Finish (docs/protocol.md). Each step checks the message
 * it received completely before it answers; any failure ends the handshake. */
#include "internal.h"

#include <string.h>

static const char L_REPLY[] = "kubetee session v1 reply";
static const char L_FINISH[] = "kubetee session v1 finish";
static const char L_RESPONDER[] = "kubetee session v1 responder";
static const char L_INITIATOR[] = "kubetee session v1 initiator";
static const char L_MAC_R[] = "kubetee session v1 mac responder";
static const char L_MAC_I[] = "kubetee session v1 mac initiator";
static const char L_TRAFFIC[] = "kubetee session v1 traffic";

/* H(label || a || b[0..bn)) */
static kt_status th(const char *label, const kt_buf *a, const uint8_t *b, size_t bn,
                    uint8_t out[32])
{
    kt_sha256_ctx *h = NULL;
    kt_status st = kt_sha256_new(&h);
    if (!st) st = kt_sha256_update(h, label, strlen(label));
    if (!st && a->len) st = kt_sha256_update(h, a->data, a->len);
    if (!st && bn) st = kt_sha256_update(h, b, bn);
    if (!st) st = kt_sha256_final(h, out);
    kt_sha256_free(h);
    return st;
}

static kt_status mac(const uint8_t z[32], const uint8_t th1[32], const char *label,
                     const uint8_t t[32], uint8_t out[KS_MAC_LEN])
{
    uint8_t km[32];
    kt_status st = kt_hkdf_sha256(z, 32, th1, 32, (const uint8_t *)label, strlen(label), km, 32);
    if (!st) st = kt_hmac_sha256(km, 32, t, 32, out);
    kt_wipe(km, sizeof km);
    return st;
}

static kt_status mac_check(kt_session *s, const char *label, const uint8_t t[32],
                           const uint8_t *got)
{
    uint8_t want[KS_MAC_LEN];
    kt_status st = mac(s->secret, s->th1, label, t, want);
    if (!st && !kt_equal(want, got, KS_MAC_LEN))
        st = ks_refuse(s, KT_SESSION_FORGED, KT_ERR_VERIFY,
                       "session: the peer's handshake MAC does not verify");
    kt_wipe(want, sizeof want);
    return st;
}

static kt_status shared_secret(kt_session *s, const uint8_t peer_pub[KS_PUB_LEN])
{
    kt_key *peer = NULL;
    kt_status st = kt_key_from_public_raw(KT_KEY_P256, peer_pub, KS_PUB_LEN, &peer);
    if (st) {
        s->refusal = KT_SESSION_MALFORMED;
        return kt_fail_context(st, "session: the peer's ephemeral key");
    }
    memcpy(s->peer_pub, peer_pub, KS_PUB_LEN);
    st = kt_ecdh(s->eph, peer, s->secret);
    kt_key_free(peer);
    return st;
}

kt_status ks_traffic_keys(kt_session *s, const uint8_t th4[32])
{
    uint8_t k[64];
    kt_status st = kt_hkdf_sha256(s->secret, 32, th4, 32, (const uint8_t *)L_TRAFFIC,
                                  strlen(L_TRAFFIC), k, sizeof k);
    if (!st) {
        bool init = s->role == KT_SESSION_INITIATOR;
        ks_direction_free(&s->send); /* keys of another handshake step, if any */
        ks_direction_free(&s->recv);
        memcpy(s->send.key, init ? k : k + 32, 32);
        memcpy(s->recv.key, init ? k + 32 : k, 32);
    }
    kt_wipe(k, sizeof k);
    /* forward secrecy: nothing the handshake used survives it */
    kt_wipe(s->secret, sizeof s->secret);
    kt_key_free(s->eph);
    s->eph = NULL;
    kt_buf_free(&s->transcript);
    return st;
}

static kt_status send_hello(kt_session *s, kt_buf *out)
{
    uint8_t m[4 + 2 + KS_NONCE_LEN + KS_PUB_LEN];
    m[0] = 'K', m[1] = 'S', m[2] = KS_HELLO, m[3] = 1;
    kt_put_le16(m + 4, KS_SUITE_V1);
    memcpy(m + 6, s->nonce, KS_NONCE_LEN);
    memcpy(m + 6 + KS_NONCE_LEN, s->eph_pub, KS_PUB_LEN);
    kt_status st = kt_buf_append(&s->transcript, m, sizeof m);
    if (!st) st = kt_buf_append(out, m, sizeof m);
    if (!st) s->state = KS_SENT_HELLO;
    return st;
}

static kt_status on_hello(kt_session *s, const uint8_t *in, size_t n, kt_buf *out)
{
    ks_hello h;
    kt_status st = ks_hello_decode(in, n, &h);
    if (st) return ks_mark(s, KT_SESSION_MALFORMED, st);
    bool common = false;
    for (unsigned i = 0; i < h.offer_count; i++) common |= h.offers[i] == KS_SUITE_V1;
    if (!common)
        return ks_refuse(s, KT_SESSION_MALFORMED, KT_ERR_UNSUPPORTED,
                         "session hello: no common suite (this side speaks 0x%04x)", KS_SUITE_V1);
    memcpy(s->peer_nonce, h.nonce, KS_NONCE_LEN);
    if ((st = shared_secret(s, h.pub))) return st;
    if ((st = kt_random(s->id, sizeof s->id))) return st;
    s->have_id = true;

    kt_buf r = {0};
    uint8_t head[KS_REPLY_PROOF_AT];
    head[0] = 'K', head[1] = 'S', head[2] = KS_REPLY, head[3] = 0;
    kt_put_le16(head + 4, KS_SUITE_V1);
    memcpy(head + 6, s->id, 16);
    memcpy(head + 22, s->nonce, KS_NONCE_LEN);
    memcpy(head + 54, s->eph_pub, KS_PUB_LEN);
    uint8_t th2[32], m[KS_MAC_LEN];
    if (!(st = kt_buf_append(&s->transcript, in, n)) && !(st = kt_buf_append(&r, head, sizeof head)) &&
        !(st = th(L_REPLY, &s->transcript, r.data, r.len, s->th1)) &&
        !(st = ks_proof_make(s, L_RESPONDER, s->th1, &r)) &&
        !(st = th(L_REPLY, &s->transcript, r.data, r.len, th2)) &&
        !(st = mac(s->secret, s->th1, L_MAC_R, th2, m)) && !(st = kt_buf_append(&r, m, sizeof m)) &&
        !(st = kt_buf_append(&s->transcript, r.data, r.len)))
        st = kt_buf_append(out, r.data, r.len);
    kt_buf_free(&r);
    if (!st) s->state = KS_SENT_REPLY;
    return st;
}

static kt_status on_reply(kt_session *s, const uint8_t *in, size_t n, kt_buf *out)
{
    ks_reply r;
    kt_status st = ks_reply_decode(in, n, &r);
    if (st) return ks_mark(s, KT_SESSION_MALFORMED, st);
    if (r.suite != KS_SUITE_V1)
        return ks_refuse(s, KT_SESSION_MALFORMED, KT_ERR_UNSUPPORTED,
                         "session reply: suite 0x%04x was not offered", r.suite);
    memcpy(s->peer_nonce, r.nonce, KS_NONCE_LEN);
    memcpy(s->id, r.id, 16);
    s->have_id = true;
    uint8_t th2[32];
    if ((st = shared_secret(s, r.pub)) ||
        (st = th(L_REPLY, &s->transcript, in, KS_REPLY_PROOF_AT, s->th1)) ||
        (st = th(L_REPLY, &s->transcript, in, r.mac_at, th2)) ||
        (st = mac_check(s, L_MAC_R, th2, r.mac)) ||
        (st = ks_peer_check(s, &s->peer, &r.proof, L_RESPONDER, r.pub, s->th1)))
        return st;

    /* Finish: our proof covers the whole reply */
    kt_buf f = {0};
    uint8_t head[KS_FINISH_PROOF_AT], th3[32], th4[32], m[KS_MAC_LEN];
    head[0] = 'K', head[1] = 'S', head[2] = KS_FINISH, head[3] = 0;
    memcpy(head + 4, s->id, 16);
    if (!(st = kt_buf_append(&s->transcript, in, n)) && !(st = kt_buf_append(&f, head, sizeof head)) &&
        !(st = th(L_FINISH, &s->transcript, f.data, f.len, th3)) &&
        !(st = ks_proof_make(s, L_INITIATOR, th3, &f)) &&
        !(st = th(L_FINISH, &s->transcript, f.data, f.len, th4)) &&
        !(st = mac(s->secret, s->th1, L_MAC_I, th4, m)) && !(st = kt_buf_append(&f, m, sizeof m)) &&
        !(st = kt_buf_append(out, f.data, f.len)))
        st = ks_traffic_keys(s, th4);
    kt_buf_free(&f);
    if (!st) s->state = KS_OPEN;
    return st;
}

static kt_status on_finish(kt_session *s, const uint8_t *in, size_t n)
{
    ks_finish f;
    kt_status st = ks_finish_decode(in, n, &f);
    if (st) return ks_mark(s, KT_SESSION_MALFORMED, st);
    if (!kt_equal(f.id, s->id, 16))
        return ks_refuse(s, KT_SESSION_OTHER_SESSION, KT_ERR_DENIED,
                         "session finish: for another session");
    uint8_t th3[32], th4[32];
    if ((st = th(L_FINISH, &s->transcript, in, KS_FINISH_PROOF_AT, th3)) ||
        (st = th(L_FINISH, &s->transcript, in, f.mac_at, th4)) ||
        (st = mac_check(s, L_MAC_I, th4, f.mac)) ||
        (st = ks_peer_check(s, &s->peer, &f.proof, L_INITIATOR, s->peer_pub, th3)) ||
        (st = ks_traffic_keys(s, th4)))
        return st;
    s->state = KS_OPEN;
    return KT_OK;
}

kt_status kt_session_handshake(kt_session *s, const uint8_t *in, size_t n, kt_buf *out)
{
    if (!s || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "session handshake: NULL argument");
    kt_status st;
    bool init = s->role == KT_SESSION_INITIATOR;
    s->refusal = KT_SESSION_OK;
    if (s->state == KS_START && init && !in)
        st = send_hello(s, out);
    else if (!in)
        return ks_refuse(s, KT_SESSION_STATE, KT_ERR_INVALID_ARGUMENT,
                         "session handshake: no message given");
    else if (s->state == KS_START && !init)
        st = on_hello(s, in, n, out);
    else if (s->state == KS_SENT_HELLO)
        st = on_reply(s, in, n, out);
    else if (s->state == KS_SENT_REPLY)
        st = on_finish(s, in, n);
    else
        return ks_refuse(s, KT_SESSION_STATE, KT_ERR_STATE, "session handshake: %s",
                         s->state == KS_OPEN ? "already established" : "it failed; start again");
    if (st) {
        s->state = KS_DEAD;
        kt_wipe(s->secret, sizeof s->secret);
    }
    return st;
}
