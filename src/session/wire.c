/* Session messages in their fixed binary layouts (docs/formats.md): decoders that read
 * nothing past the bytes given and refuse anything not exactly of the layout, and the
 * encoders' shared pieces. */
#include "internal.h"

#include <string.h>

static kt_status bad(const char *what, const char *why)
{
    return kt_fail(KT_ERR_MALFORMED, "session %s: %s", what, why);
}

static kt_status magic(const uint8_t *m, size_t n, uint8_t type, const char *what)
{
    if (!m || n < 4) return bad(what, "shorter than its header");
    if (m[0] != 'K' || m[1] != 'S') return bad(what, "no \"KS\" magic");
    if (m[2] != type) return kt_fail(KT_ERR_MALFORMED, "session %s: type %u, not %u", what, m[2], type);
    return KT_OK;
}

bool ks_name_ok(const char *name, size_t n)
{
    if (!name || n == 0 || n > KT_SESSION_NAME_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] > 0x7e) return false;
    return true;
}

/* A proof at m[0..n): kind, evidence, signature, each length checked against its kind. */
static kt_status proof_decode(const uint8_t *m, size_t n, const char *what, ks_proof *p)
{
    if (n < 5) return bad(what, "proof shorter than its header");
    p->kind = m[0];
    uint32_t elen = kt_le32(m + 1);
    switch (p->kind) {
    case KT_SESSION_PROOF_QUOTE:
        if (elen == 0 || elen > KT_QUOTE_MAX) return bad(what, "quote length out of range");
        break;
    case KT_SESSION_PROOF_P256:
    case KT_SESSION_PROOF_SM2:
        if (elen != KS_PUB_LEN) return bad(what, "public key is not 64 bytes");
        break;
    default:
        return kt_fail(KT_ERR_MALFORMED, "session %s: unknown proof kind %u", what, p->kind);
    }
    if (n - 5 < (size_t)elen + 2) return bad(what, "proof evidence runs past the message");
    p->evidence = m + 5;
    p->evidence_len = elen;
    size_t at = 5 + (size_t)elen;
    uint16_t slen = kt_le16(m + at);
    at += 2;
    if ((p->kind == KT_SESSION_PROOF_QUOTE && slen != 0) ||
        (p->kind == KT_SESSION_PROOF_P256 && slen != KT_P256_SIG_LEN) ||
        (p->kind == KT_SESSION_PROOF_SM2 && (slen == 0 || slen > KS_SIG_MAX)))
        return bad(what, "signature length does not fit the proof kind");
    if (n - at < slen) return bad(what, "signature runs past the message");
    p->sig = slen ? m + at : NULL;
    p->sig_len = slen;
    p->len = at + slen;
    return KT_OK;
}

/* The proof at m[at..) and exactly a MAC after it: the end of a Reply or Finish. */
static kt_status proof_and_mac(const uint8_t *m, size_t n, size_t at, const char *what,
                               ks_proof *p, const uint8_t **mac, size_t *mac_at)
{
    kt_status st = proof_decode(m + at, n - at, what, p);
    if (st) return st;
    *mac_at = at + p->len;
    if (n - *mac_at != KS_MAC_LEN) return bad(what, "not exactly a MAC after the proof");
    *mac = m + *mac_at;
    return KT_OK;
}

kt_status ks_hello_decode(const uint8_t *m, size_t n, ks_hello *h)
{
    kt_status st = magic(m, n, KS_HELLO, "hello");
    if (st) return st;
    unsigned count = m[3];
    if (count == 0 || count > KS_OFFERS_MAX) return bad("hello", "offer count out of 1..16");
    size_t want = 4 + 2 * (size_t)count + KS_NONCE_LEN + KS_PUB_LEN;
    if (n != want)
        return kt_fail(KT_ERR_MALFORMED, "session hello: %zu bytes, its layout has %zu", n, want);
    h->offer_count = count;
    for (unsigned i = 0; i < count; i++) {
        h->offers[i] = kt_le16(m + 4 + 2 * i);
        for (unsigned j = 0; j < i; j++)
            if (h->offers[j] == h->offers[i])
                return kt_fail(KT_ERR_MALFORMED, "session hello: suite 0x%04x offered twice",
                               h->offers[i]);
    }
    h->nonce = m + 4 + 2 * count;
    h->pub = h->nonce + KS_NONCE_LEN;
    return KT_OK;
}

kt_status ks_reply_decode(const uint8_t *m, size_t n, ks_reply *r)
{
    kt_status st = magic(m, n, KS_REPLY, "reply");
    if (st) return st;
    if (n < KS_REPLY_PROOF_AT) return bad("reply", "shorter than its fixed part");
    if (m[3]) return bad("reply", "reserved byte is not 0");
    r->suite = kt_le16(m + 4);
    r->id = m + 6;
    r->nonce = m + 22;
    r->pub = m + 54;
    return proof_and_mac(m, n, KS_REPLY_PROOF_AT, "reply", &r->proof, &r->mac, &r->mac_at);
}

kt_status ks_finish_decode(const uint8_t *m, size_t n, ks_finish *f)
{
    kt_status st = magic(m, n, KS_FINISH, "finish");
    if (st) return st;
    if (n < KS_FINISH_PROOF_AT) return bad("finish", "shorter than its fixed part");
    if (m[3]) return bad("finish", "reserved byte is not 0");
    f->id = m + 4;
    return proof_and_mac(m, n, KS_FINISH_PROOF_AT, "finish", &f->proof, &f->mac, &f->mac_at);
}

kt_status ks_record_decode(const uint8_t *m, size_t n, ks_record *r)
{
    if (!m || n < KS_RECORD_MIN) return bad("record", "shorter than the smallest record");
    if (m[0] != 'K' || m[1] != 'S') return bad("record", "no \"KS\" magic");
    r->type = m[2];
    if (r->type != KS_DATA && r->type != KS_CLOSE)
        return kt_fail(KT_ERR_MALFORMED, "session record: type %u is not a record's", r->type);
    r->direction = m[3];
    if (r->direction != KS_DIR_I2R && r->direction != KS_DIR_R2I)
        return kt_fail(KT_ERR_MALFORMED, "session record: direction %u", r->direction);
    r->id = m + 4;
    r->epoch = kt_le32(m + 20);
    r->seq = kt_le64(m + 24);
    r->name_len = m[32];
    if (n - KS_RECORD_MIN < r->name_len) return bad("record", "name runs past the record");
    r->name = (const char *)m + KS_RECORD_NAME_AT;
    if (r->type == KS_DATA ? !ks_name_ok(r->name, r->name_len) : r->name_len != 0)
        return bad("record", r->type == KS_DATA ? "function name is not 1..255 printable bytes"
                                                : "a close record has a name");
    size_t at = KS_RECORD_NAME_AT + r->name_len;
    uint32_t plen = kt_le32(m + at);
    at += 4;
    r->aad_len = at;
    if (r->type == KS_CLOSE && plen) return bad("record", "a close record has a payload");
    if (n - at - KT_GCM_TAG_LEN != plen)
        return kt_fail(KT_ERR_MALFORMED, "session record: payload length %u, the record holds %zu",
                       plen, n - at - KT_GCM_TAG_LEN);
    r->cipher = m + at;
    r->cipher_len = plen;
    r->tag = m + at + plen;
    return KT_OK;
}

/* The session id of a Finish or a record, for routing. */
kt_status kt_session_message_id(const uint8_t *m, size_t n, uint8_t id[KT_SESSION_ID_LEN])
{
    if (!m || !id) return kt_fail(KT_ERR_INVALID_ARGUMENT, "session id: NULL argument");
    if (n < 20 || m[0] != 'K' || m[1] != 'S')
        return bad("message", "not a session message with an id");
    if (m[2] == KS_FINISH || m[2] == KS_DATA || m[2] == KS_CLOSE) {
        memcpy(id, m + 4, KT_SESSION_ID_LEN);
        return KT_OK;
    }
    if (m[2] == KS_REPLY && n >= 22) {
        memcpy(id, m + 6, KT_SESSION_ID_LEN);
        return KT_OK;
    }
    return kt_fail(KT_ERR_MALFORMED, "session message: type %u carries no session id", m[2]);
}

kt_status ks_proof_append(kt_buf *out, uint8_t kind, const uint8_t *evidence, size_t evidence_len,
                          const uint8_t *sig, size_t sig_len)
{
    if (evidence_len == 0 || evidence_len > KT_QUOTE_MAX || sig_len > KS_SIG_MAX)
        return kt_fail(KT_ERR_TOO_LARGE, "session proof: evidence %zu or signature %zu bytes",
                       evidence_len, sig_len);
    uint8_t h[5], l[2];
    h[0] = kind;
    kt_put_le32(h + 1, (uint32_t)evidence_len);
    kt_put_le16(l, (uint16_t)sig_len);
    kt_status st = kt_buf_append(out, h, 5);
    if (!st) st = kt_buf_append(out, evidence, evidence_len);
    if (!st) st = kt_buf_append(out, l, 2);
    if (!st && sig_len) st = kt_buf_append(out, sig, sig_len);
    return st;
}

size_t ks_record_header_put(uint8_t *out, uint8_t type, uint8_t direction, const uint8_t id[16],
                            uint32_t epoch, uint64_t seq, const char *name, size_t name_len,
                            uint32_t payload_len)
{
    out[0] = 'K', out[1] = 'S', out[2] = type, out[3] = direction;
    memcpy(out + 4, id, 16);
    kt_put_le32(out + 20, epoch);
    kt_put_le64(out + 24, seq);
    out[32] = (uint8_t)name_len;
    if (name_len) memcpy(out + KS_RECORD_NAME_AT, name, name_len);
    kt_put_le32(out + KS_RECORD_NAME_AT + name_len, payload_len);
    return KS_RECORD_NAME_AT + name_len + 4;
}
