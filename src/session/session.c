/* A session's life: its config checked, its ephemeral key made, what the peer proved,
 * expiry and re-checks, and everything wiped at the end. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

kt_status ks_refuse(kt_session *s, kt_session_refusal r, kt_status st, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s->refusal = r;
    return kt_fail(st, "%s", msg);
}

kt_status ks_mark(kt_session *s, kt_session_refusal r, kt_status st)
{
    s->refusal = r;
    return st;
}

const char *kt_session_refusal_name(kt_session_refusal r)
{
    static const char *const names[] = {
        [KT_SESSION_OK] = "ok",
        [KT_SESSION_MALFORMED] = "malformed",
        [KT_SESSION_TOO_LARGE] = "too_large",
        [KT_SESSION_OTHER_SESSION] = "other_session",
        [KT_SESSION_REFLECTED] = "reflected",
        [KT_SESSION_REPLAYED] = "replayed",
        [KT_SESSION_REORDERED] = "reordered",
        [KT_SESSION_FORGED] = "forged",
        [KT_SESSION_CLOSED] = "closed",
        [KT_SESSION_EXPIRED] = "expired",
        [KT_SESSION_EXHAUSTED] = "exhausted",
        [KT_SESSION_TRUNCATED] = "truncated",
        [KT_SESSION_PEER_REFUSED] = "peer_refused",
        [KT_SESSION_STATE] = "state",
    };
    if ((unsigned)r >= sizeof names / sizeof names[0] || !names[r]) return "unknown";
    return names[r];
}

static kt_status check_config(const kt_session_config *c)
{
    if (c->role != KT_SESSION_INITIATOR && c->role != KT_SESSION_RESPONDER)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "session: role is neither initiator nor responder");
    if (!c->quote == !c->key)
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "session: give exactly one proof of this side (a quote function or a key)");
    if (c->key) {
        kt_key_type t = kt_key_type_of(c->key);
        if ((t != KT_KEY_P256 && t != KT_KEY_SM2) || !kt_key_has_private(c->key))
            return kt_fail(KT_ERR_INVALID_ARGUMENT,
                           "session: this side's key must be a P-256 or SM2 private key");
    }
    const kt_session_peer_rule *p = &c->peer;
    if (!p->policy && !p->key_count && !p->any_key)
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "session: the peer rule admits nobody (no policy and no registered keys)");
    if (p->key_count && !p->keys)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "session: key_count without keys");
    for (size_t i = 0; i < p->key_count; i++) {
        kt_key_type t = p->keys[i] ? kt_key_type_of(p->keys[i]) : 0;
        if (t != KT_KEY_P256 && t != KT_KEY_SM2)
            return kt_fail(KT_ERR_INVALID_ARGUMENT,
                           "session: registered peer key %zu is not a P-256 or SM2 key", i);
    }
    if (p->policy && !ks_quote_verifier_available())
        return kt_fail(KT_ERR_UNSUPPORTED,
                       "session: this build cannot verify quotes; accept registered keys only");
#ifndef KT_TRUSTED /* an enclave asks the host for collateral for each quote when none is given */
    if (p->policy && !p->collateral)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "session: a peer policy needs collateral");
#endif
    if (c->max_payload > KT_SESSION_PAYLOAD_MAX)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "session: max_payload %zu is over %u",
                       c->max_payload, KT_SESSION_PAYLOAD_MAX);
    return KT_OK;
}

kt_status kt_session_new(const kt_session_config *cfg, kt_session **out)
{
    if (!cfg || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "session: NULL argument");
    *out = NULL;
    kt_status st = check_config(cfg);
    if (st) return st;
    kt_session *s = calloc(1, sizeof *s);
    if (!s) return kt_fail(KT_ERR_NO_MEMORY, "session");
    s->role = cfg->role;
    s->quote = cfg->quote;
    s->quote_ctx = cfg->quote_ctx;
    s->key = cfg->key;
    s->peer = cfg->peer;
    s->now = cfg->now;
    s->rekey_messages = cfg->rekey_messages ? cfg->rekey_messages : KT_SESSION_REKEY_MESSAGES_DEFAULT;
    s->rekey_bytes = cfg->rekey_bytes ? cfg->rekey_bytes : KT_SESSION_REKEY_BYTES_DEFAULT;
    s->max_payload = cfg->max_payload ? cfg->max_payload : KT_SESSION_PAYLOAD_DEFAULT;
    size_t len;
    if ((st = kt_key_generate(KT_KEY_P256, &s->eph)) ||
        (st = kt_key_public_raw(s->eph, s->eph_pub, sizeof s->eph_pub, &len)) ||
        (st = kt_random(s->nonce, sizeof s->nonce))) {
        kt_session_free(s);
        return st;
    }
    *out = s;
    return KT_OK;
}

void kt_session_free(kt_session *s)
{
    if (!s) return;
    kt_key_free(s->eph);
    ks_direction_free(&s->send);
    ks_direction_free(&s->recv);
    kt_buf_free(&s->transcript);
    kt_buf_free(&s->peer_quote);
    kt_wipe(s, sizeof *s);
    free(s);
}

bool kt_session_established(const kt_session *s)
{
    return s && s->state == KS_OPEN && !s->expired;
}

kt_session_refusal kt_session_last_refusal(const kt_session *s)
{
    return s ? s->refusal : KT_SESSION_OK;
}

kt_status kt_session_id(const kt_session *s, uint8_t id[KT_SESSION_ID_LEN])
{
    if (!s || !id) return kt_fail(KT_ERR_INVALID_ARGUMENT, "session id: NULL argument");
    if (!s->have_id) return kt_fail(KT_ERR_STATE, "session id: not chosen yet (no reply)");
    memcpy(id, s->id, KT_SESSION_ID_LEN);
    return KT_OK;
}

kt_status kt_session_peer(const kt_session *s, kt_session_peer_info *info)
{
    if (!s || !info) return kt_fail(KT_ERR_INVALID_ARGUMENT, "session peer: NULL argument");
    if (s->state != KS_OPEN) return kt_fail(KT_ERR_STATE, "session peer: not established");
    *info = s->peer_info;
    return KT_OK;
}

kt_status kt_session_peer_claim(const kt_session *s, kt_session_peer_info *info)
{
    if (!s || !info) return kt_fail(KT_ERR_INVALID_ARGUMENT, "session peer claim: NULL argument");
    if (!s->has_claim) return kt_fail(KT_ERR_STATE, "session peer claim: no proof of the peer's was read");
    *info = s->claim;
    return KT_OK;
}

static kt_status expire(kt_session *s, kt_status st)
{
    s->expired = true;
    s->refusal = KT_SESSION_EXPIRED;
    return st;
}

kt_status kt_session_check_time(kt_session *s, time_t now)
{
    if (!s) return kt_fail(KT_ERR_INVALID_ARGUMENT, "session: NULL argument");
    if (s->state != KS_OPEN) return kt_fail(KT_ERR_STATE, "session: not established");
    if (s->expired)
        return kt_fail(KT_ERR_DENIED, "session: expired already; re-attest with a new handshake");
    if (s->peer_info.valid_until && now > s->peer_info.valid_until)
        return expire(s, kt_fail(KT_ERR_DENIED,
                                 "session: the peer's attestation held until %lld, now is %lld; "
                                 "re-attest with a new handshake",
                                 (long long)s->peer_info.valid_until, (long long)now));
    return KT_OK;
}

kt_status kt_session_recheck(kt_session *s, const kt_session_peer_rule *rule, time_t now)
{
    if (!s || !rule) return kt_fail(KT_ERR_INVALID_ARGUMENT, "session recheck: NULL argument");
    if (s->state != KS_OPEN) return kt_fail(KT_ERR_STATE, "session recheck: not established");
    if (s->expired) return kt_fail(KT_ERR_DENIED, "session recheck: expired already");
    kt_status st;
    if (s->peer_info.proof == KT_SESSION_PROOF_QUOTE) {
        if (!rule->policy)
            return expire(s, kt_fail(KT_ERR_DENIED, "session recheck: the rule admits no quote"));
        kt_session_peer_info info;
        if ((st = ks_quote_check(rule, s->peer_quote.data, s->peer_quote.len, now, &info)))
            return expire(s, kt_fail_context(st, "session recheck"));
        s->peer_info = info;
        return KT_OK;
    }
    if (rule->any_key || ks_registered(rule, (uint8_t)s->peer_info.proof, s->peer_info.public_key))
        return KT_OK;
    return expire(s, kt_fail(KT_ERR_DENIED, "session recheck: the peer's key is no longer registered"));
}
