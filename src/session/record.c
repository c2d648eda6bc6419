/* Records: AES-256-GCM per message, nonce = epoch || sequence, the header as AAD; strict
 * in-order receive with a reason for each refusal; rekeying; the authenticated close.
 * A refused record changes no state. */
#include "internal.h"

#include <string.h>

static const char L_REKEY[] = "kubetee session v1 rekey";

static void nonce_of(uint32_t epoch, uint64_t seq, uint8_t iv[KT_GCM_IV_LEN])
{
    kt_put_le32(iv, epoch);
    kt_put_le64(iv + 4, seq);
}

static kt_status next_key(const uint8_t key[32], uint8_t out[32])
{
    return kt_hkdf_sha256(key, 32, NULL, 0, (const uint8_t *)L_REKEY, strlen(L_REKEY), out, 32);
}

/* The direction's key ready for records (made once per key: a record then costs no
 * key schedule). */
static kt_status ready(ks_direction *d, bool seal)
{
    return d->aead ? KT_OK : kt_aead_new(d->key, seal, &d->aead);
}

void ks_direction_free(ks_direction *d)
{
    kt_aead_free(d->aead);
    d->aead = NULL;
}

static kt_status usable(kt_session *s, bool sending)
{
    if (s->state != KS_OPEN)
        return ks_refuse(s, KT_SESSION_STATE, KT_ERR_STATE, "session: %s",
                         s->state == KS_DEAD ? "ended" : "the handshake has not finished");
    if (s->expired)
        return ks_refuse(s, KT_SESSION_EXPIRED, KT_ERR_DENIED,
                         "session: the peer's attestation expired or no longer passes; "
                         "re-attest with a new handshake");
    if (sending ? s->closed : s->peer_closed)
        return ks_refuse(s, KT_SESSION_CLOSED, KT_ERR_STATE, "session: %s",
                         sending ? "this side closed the session" : "the peer closed the session");
    return KT_OK;
}

static uint8_t my_direction(const kt_session *s)
{
    return s->role == KT_SESSION_INITIATOR ? KS_DIR_I2R : KS_DIR_R2I;
}

/* A record at out, exactly record_len(name_len, n) bytes, its payload the parts one
 * after another. */
static size_t record_len(size_t name_len, size_t n)
{
    return KS_RECORD_NAME_AT + name_len + 4 + n + KT_GCM_TAG_LEN;
}

static kt_status seal(kt_session *s, uint8_t type, const char *name, size_t name_len,
                      const kt_bytes *parts, size_t k, size_t n, uint8_t *out)
{
    ks_direction *d = &s->send;
    /* the last sequence number is kept for the close, so a session can always end */
    uint64_t last = type == KS_CLOSE ? UINT64_MAX : UINT64_MAX - 1;
    if (d->seq >= last) {
        s->state = type == KS_CLOSE ? KS_DEAD : s->state;
        return ks_refuse(s, KT_SESSION_EXHAUSTED, KT_ERR_STATE,
                         "session: sequence numbers are used up; close and open a new session");
    }
    if (d->epoch_records >= s->rekey_messages || d->epoch_bytes >= s->rekey_bytes) {
        if (d->epoch == UINT32_MAX) {
            s->state = KS_DEAD;
            return ks_refuse(s, KT_SESSION_EXHAUSTED, KT_ERR_STATE,
                             "session: epochs are used up; open a new session");
        }
        uint8_t k32[32];
        kt_status st = next_key(d->key, k32);
        if (st) return st;
        memcpy(d->key, k32, 32);
        kt_wipe(k32, sizeof k32);
        ks_direction_free(d);
        d->epoch++;
        d->epoch_records = d->epoch_bytes = 0;
    }
    uint8_t iv[KT_GCM_IV_LEN];
    nonce_of(d->epoch, d->seq, iv);
    size_t h = ks_record_header_put(out, type, my_direction(s), s->id, d->epoch, d->seq, name,
                                    name_len, (uint32_t)n);
    kt_status st = ready(d, true);
    if (!st) st = kt_aead_seal_parts_with(d->aead, iv, out, h, parts, k, out + h, out + h + n);
    if (st) return st;
    d->seq++;
    d->epoch_records++;
    d->epoch_bytes += n;
    return KT_OK;
}

/* The checks of a data record to seal: the session usable, the name, the size. */
static kt_status data_ok(kt_session *s, const char *function, size_t n, size_t *name_len)
{
    kt_status st = usable(s, true);
    if (st) return st;
    *name_len = strnlen(function, KT_SESSION_NAME_MAX + 1);
    if (!ks_name_ok(function, *name_len))
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "session seal: a function name is 1..255 printable ASCII bytes");
    if (n > KT_SESSION_PAYLOAD_MAX)
        return kt_fail(KT_ERR_TOO_LARGE, "session seal: payload of %zu bytes is over %u", n,
                       KT_SESSION_PAYLOAD_MAX);
    return KT_OK;
}

size_t kt_session_record_len(const char *function, size_t n)
{
    size_t len = function ? strnlen(function, KT_SESSION_NAME_MAX + 1) : 0;
    return ks_name_ok(function, len) && n <= KT_SESSION_PAYLOAD_MAX ? record_len(len, n) : 0;
}

kt_status kt_session_seal_into(kt_session *s, const char *function, const kt_bytes *parts, size_t k,
                               uint8_t *out, size_t out_len)
{
    if (!s || !function || (k && !parts) || !out)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "session seal: NULL argument");
    size_t n = 0, name_len;
    for (size_t i = 0; i < k; i++) {
        if (parts[i].n > KT_SESSION_PAYLOAD_MAX - n)
            return kt_fail(KT_ERR_TOO_LARGE, "session seal: payload over %u bytes", KT_SESSION_PAYLOAD_MAX);
        n += parts[i].n;
    }
    kt_status st = data_ok(s, function, n, &name_len);
    if (st) return st;
    if (out_len != record_len(name_len, n))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "session seal: %zu bytes of room for a record of %zu", out_len,
                       record_len(name_len, n));
    return seal(s, KS_DATA, function, name_len, parts, k, n, out);
}

kt_status kt_session_seal(kt_session *s, const char *function, const void *payload, size_t n,
                          kt_buf *record)
{
    if (!s || !function || (!payload && n) || !record)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "session seal: NULL argument");
    size_t name_len;
    kt_status st = data_ok(s, function, n, &name_len);
    if (!st) st = kt_buf_reserve(record, record_len(name_len, n));
    kt_bytes one = {payload, n};
    if (!st) st = seal(s, KS_DATA, function, name_len, &one, 1, n, record->data + record->len);
    if (!st) record->len += record_len(name_len, n);
    return st;
}

kt_status kt_session_close(kt_session *s, kt_buf *record)
{
    if (!s || !record) return kt_fail(KT_ERR_INVALID_ARGUMENT, "session close: NULL argument");
    kt_status st = usable(s, true);
    if (!st) st = kt_buf_reserve(record, record_len(0, 0));
    if (!st) st = seal(s, KS_CLOSE, NULL, 0, NULL, 0, 0, record->data + record->len);
    if (!st) {
        record->len += record_len(0, 0);
        s->closed = true;
    }
    return st;
}

kt_status kt_session_open(kt_session *s, const uint8_t *record, size_t n,
                          char function[KT_SESSION_NAME_MAX + 1], kt_buf *payload)
{
    if (!s || !record || !function || !payload)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "session open: NULL argument");
    function[0] = '\0';
    s->refusal = KT_SESSION_OK;
    kt_status st = usable(s, false);
    if (st) return st;
    ks_record r;
    if ((st = ks_record_decode(record, n, &r))) return ks_mark(s, KT_SESSION_MALFORMED, st);
    if (r.cipher_len > s->max_payload)
        return ks_refuse(s, KT_SESSION_TOO_LARGE, KT_ERR_TOO_LARGE,
                         "session record: payload of %zu bytes is over this side's %zu",
                         r.cipher_len, s->max_payload);
    if (!kt_equal(r.id, s->id, KT_SESSION_ID_LEN))
        return ks_refuse(s, KT_SESSION_OTHER_SESSION, KT_ERR_DENIED,
                         "session record: for another session");
    if (r.direction == my_direction(s))
        return ks_refuse(s, KT_SESSION_REFLECTED, KT_ERR_DENIED,
                         "session record: reflected (it goes this side's own direction)");
    ks_direction *d = &s->recv;
    if (r.seq < d->seq)
        return ks_refuse(s, KT_SESSION_REPLAYED, KT_ERR_DENIED,
                         "session record: replayed (sequence %llu, next is %llu)",
                         (unsigned long long)r.seq, (unsigned long long)d->seq);
    if (r.seq > d->seq)
        return ks_refuse(s, KT_SESSION_REORDERED, KT_ERR_DENIED,
                         "session record: out of order (sequence %llu, next is %llu)",
                         (unsigned long long)r.seq, (unsigned long long)d->seq);
    uint8_t next[32];
    const uint8_t *key = d->key;
    bool rekeyed = false;
    if (r.epoch != d->epoch) {
        if (d->epoch == UINT32_MAX || r.epoch != d->epoch + 1)
            return ks_refuse(s, KT_SESSION_MALFORMED, KT_ERR_MALFORMED,
                             "session record: epoch %u (this side is at %u)", r.epoch, d->epoch);
        if ((st = next_key(d->key, next))) return st;
        key = next;
        rekeyed = true;
    }
    uint8_t iv[KT_GCM_IV_LEN];
    nonce_of(r.epoch, r.seq, iv);
    size_t start = payload->len;
    /* a record of the next epoch is opened with its key once (it becomes the key on success) */
    if (!(st = kt_buf_reserve(payload, r.cipher_len + 1)) && !rekeyed) st = ready(d, false);
    if (!st && (rekeyed ? kt_aead_open(key, iv, record, r.aad_len, r.cipher, r.cipher_len, r.tag,
                                       payload->data + start)
                        : kt_aead_open_with(d->aead, iv, record, r.aad_len, r.cipher, r.cipher_len,
                                            r.tag, payload->data + start)))
        st = ks_refuse(s, KT_SESSION_FORGED, KT_ERR_VERIFY,
                       "session record: authentication failed (altered, or not this session's)");
    if (st) {
        kt_wipe(next, sizeof next);
        return st;
    }
    payload->len += r.cipher_len;
    if (rekeyed) {
        ks_direction_free(d);
        memcpy(d->key, next, 32);
        d->epoch = r.epoch;
        d->epoch_records = d->epoch_bytes = 0;
    }
    kt_wipe(next, sizeof next);
    d->seq++;
    d->epoch_records++;
    d->epoch_bytes += r.cipher_len;
    if (r.type == KS_CLOSE) {
        s->peer_closed = true;
        return kt_fail(KT_ERR_CANCELLED, "session: the peer closed the session");
    }
    memcpy(function, r.name, r.name_len);
    function[r.name_len] = '\0';
    return KT_OK;
}

kt_status kt_session_end(kt_session *s)
{
    if (!s) return kt_fail(KT_ERR_INVALID_ARGUMENT, "session end: NULL argument");
    if (s->peer_closed) {
        s->refusal = KT_SESSION_OK;
        return KT_OK;
    }
    s->state = KS_DEAD;
    return ks_refuse(s, KT_SESSION_TRUNCATED, KT_ERR_VERIFY,
                     "session: the transport ended without the peer's authenticated close "
                     "(truncated)");
}

bool kt_session_peer_closed(const kt_session *s)
{
    return s && s->peer_closed;
}

void kt_session__test_set_seq(kt_session *s, uint64_t send, uint64_t recv)
{
    s->send.seq = send;
    s->recv.seq = recv;
}
